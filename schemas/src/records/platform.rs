//! Platform records: users, API keys and the audit log. Secrets never appear here: users
//! and keys carry only argon2id PHC hashes; audit records carry no credentials.

use serde::{Deserialize, Serialize};

/// What a user (or a key created by that user) may do. The API maps it to its own role type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserRole {
    Trader,
    Analyst,
    Admin,
}

/// A platform user (compacted topic `users`, key `user_id`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub user_id: String,
    /// Lower-cased; unique across users.
    pub email: String,
    /// argon2id PHC string.
    pub password_hash: String,
    pub role: UserRole,
    pub account_id: String,
    pub disabled: bool,
    pub created_at_ns: i64,
    pub updated_at_ns: i64,
}

/// An API key (compacted topic `api.keys`, key `key_id`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    pub key_id: String,
    /// argon2id PHC string of the secret.
    pub secret_hash: String,
    pub user_id: String,
    pub account_id: String,
    pub role: UserRole,
    pub label: String,
    pub created_at_ns: i64,
    /// `Some` once revoked; a revoked key never authenticates.
    pub revoked_at_ns: Option<i64>,
}

/// How an audited action ended. Readers that do not know a newer symbol read `Failure`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuditOutcome {
    Success,
    /// Refused: not authenticated or not allowed.
    Denied,
    /// Anything else that did not succeed (invalid input, backend failure).
    Failure,
}

/// One audited action (topic `audit.log`, key = actor). Records of one partition form a
/// hash chain (`prev_hash` -> `hash`); `api::audit` seals and verifies it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub audit_id: String,
    pub request_id: String,
    pub at_ns: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub outcome: AuditOutcome,
    /// HTTP status answered.
    pub status: i32,
    pub detail: Option<String>,
    pub partition: i32,
    pub seq: i64,
    pub prev_hash: String,
    pub hash: String,
}

/// A refresh-token family: one login session (compacted topic `sessions`, key
/// `family_id`). Token ids only (the JWT `jti`), never tokens.
///
/// Invariants (kept by the API, the only writer): `current_jti` is never in
/// `retired_jtis`; once `revoked`, a family never becomes active again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub family_id: String,
    pub user_id: String,
    /// The only refresh token id a refresh may present.
    pub current_jti: String,
    /// Earlier refresh token ids, oldest first: presenting one is reuse.
    pub retired_jtis: Vec<String>,
    /// Expiry of the current refresh token.
    pub expires_at_ns: i64,
    pub revoked: bool,
}
