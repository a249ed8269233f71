//! Ports of the platform API (`/api/v1`): what the Kafka side must provide, as traits.
//! [`crate::platform_memory::MemoryPlatform`] implements all of them in memory.
//!
//! Conventions (as in [`crate::ports`]): writes are async ([`BoxFuture`]) and `Ok` means
//! durably accepted; reads are synchronous over materialized state; errors are
//! [`PortError`] (503 / 500, text never sent to clients). Read-your-writes: a write that
//! returned `Ok` is visible to the same process's reads at once (a Kafka implementation
//! applies its own writes to its view before returning).

use crate::audit::AuditEntry;
use crate::ports::{BoxFuture, PortError};
use schemas::records::{AccountCommand, ApiKeyRecord, AuditRecord, FundingCommand, FundingEvent, InstrumentCommand, UserRecord};

/// Result of [`UserStore::insert`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inserted {
    Created,
    /// Another user already has this (lower-cased) email; nothing was written.
    EmailTaken,
}

/// Users (Kafka: compacted `users`, key `user_id`, value `UserRecord`).
///
/// Known limitation of a log-backed implementation: email uniqueness across API instances
/// needs a single writer (or a conditional write); two instances registering the same
/// email at the same moment could both succeed.
pub trait UserStore: Send + Sync {
    /// Creates a user unless its email is taken.
    fn insert(&self, user: UserRecord) -> BoxFuture<'_, Result<Inserted, PortError>>;
    /// Replaces an existing user (role, disabled flag, password hash).
    fn update(&self, user: UserRecord) -> BoxFuture<'_, Result<(), PortError>>;
    fn user(&self, user_id: &str) -> Result<Option<UserRecord>, PortError>;
    /// By lower-cased email.
    fn by_email(&self, email: &str) -> Result<Option<UserRecord>, PortError>;
    /// Every user, ordered by user id.
    fn users(&self) -> Result<Vec<UserRecord>, PortError>;
}

/// Writes API keys (Kafka: compacted `api.keys`, key `key_id`, value `ApiKeyRecord`).
///
/// Invariant: a key created here authenticates through the same backend's
/// [`ApiKeyStore`](crate::ports::ApiKeyStore) (the APCA headers) at once, and a revoked
/// key stops authenticating at once.
pub trait ApiKeyRegistry: Send + Sync {
    fn create(&self, key: ApiKeyRecord) -> BoxFuture<'_, Result<(), PortError>>;
    /// Marks the key revoked at `at_ns`; `false` if it is unknown or already revoked.
    fn revoke(&self, key_id: &str, at_ns: i64) -> BoxFuture<'_, Result<bool, PortError>>;
    fn record(&self, key_id: &str) -> Result<Option<ApiKeyRecord>, PortError>;
    /// A user's keys (revoked ones included), ordered by creation time.
    fn keys_of(&self, user_id: &str) -> Result<Vec<ApiKeyRecord>, PortError>;
}

/// What [`SessionStore::rotate`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rotation {
    /// The presented token was the family's current one; the next one is now current.
    Rotated,
    /// The presented token was an older one of the family: reuse. The store has revoked
    /// the whole family.
    Reused,
    /// Unknown, revoked or expired family.
    Inactive,
}

/// Refresh-token families (sessions). One family per login; each refresh replaces the
/// family's current token id. Kafka: a compacted `sessions` topic keyed by family, or a
/// database; memory is fine for a single instance.
pub trait SessionStore: Send + Sync {
    /// Starts a family whose current refresh token is `jti`, valid until `expires_at_ns`.
    fn start(&self, family: &str, user_id: &str, jti: &str, expires_at_ns: i64) -> BoxFuture<'_, Result<(), PortError>>;
    /// Atomically: if `presented` is the current token of an active family, makes `next`
    /// current (valid until `expires_at_ns`); if it is an earlier token, revokes the family.
    fn rotate(&self, family: &str, presented: &str, next: &str, now_ns: i64, expires_at_ns: i64) -> BoxFuture<'_, Result<Rotation, PortError>>;
    /// Revokes one family (logout).
    fn revoke(&self, family: &str) -> BoxFuture<'_, Result<(), PortError>>;
    /// Revokes every family of a user (disabled user).
    fn revoke_user(&self, user_id: &str) -> BoxFuture<'_, Result<(), PortError>>;
    /// Whether access tokens of this family are still honoured.
    fn is_active(&self, family: &str, now_ns: i64) -> Result<bool, PortError>;
}

/// Producers of platform commands (Kafka: `funding.commands` and `accounts.commands` keyed
/// by account id, `instruments.commands` keyed by symbol).
pub trait PlatformCommands: Send + Sync {
    fn funding(&self, command: FundingCommand) -> BoxFuture<'_, Result<(), PortError>>;
    fn account(&self, command: AccountCommand) -> BoxFuture<'_, Result<(), PortError>>;
    fn instrument(&self, command: InstrumentCommand) -> BoxFuture<'_, Result<(), PortError>>;
}

/// Funding history (Kafka: `funding.events`, by account).
pub trait FundingHistory: Send + Sync {
    /// An account's funding events, oldest first (ties by event id).
    fn funding_events(&self, account_id: &str) -> Result<Vec<FundingEvent>, PortError>;
}

/// Kinds of user notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    Funding,
    Order,
    Account,
    System,
}

/// A message for the owner of an account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    pub notification_id: String,
    pub account_id: String,
    pub at_ns: i64,
    pub kind: NotificationKind,
    pub message: String,
}

/// Notifications per account (not on Kafka yet; the memory implementation is fed by tests).
pub trait NotificationFeed: Send + Sync {
    /// Newest first.
    fn notifications(&self, account_id: &str) -> Result<Vec<Notification>, PortError>;
}

/// The audit log (Kafka: `audit.log`, key = `entry.actor`).
///
/// The sink owns the chains: it picks the entry's partition (Kafka: murmur2 of the key),
/// seals it with that partition's [`ChainHead`](crate::audit::ChainHead) and writes it.
/// It must be the only writer of its partitions (a transactional producer restores each
/// head from the partition's last record on start).
pub trait AuditSink: Send + Sync {
    fn append(&self, entry: AuditEntry) -> BoxFuture<'_, Result<AuditRecord, PortError>>;
}
