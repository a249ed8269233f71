//! Authentication and authorization.
//!
//! - Clients send Alpaca's headers `APCA-API-KEY-ID` and `APCA-API-SECRET-KEY`.
//! - The [`ApiKeyStore`] holds only argon2id PHC hashes of secrets. A hash weaker than
//!   OWASP's minimum (m = 19456 KiB, t = 2, p = 1), or not argon2id, never verifies.
//! - Verification compares hash outputs in constant time (`password-hash`'s `Output`
//!   equality) and runs on the blocking pool. An unknown key id is verified against a dummy
//!   hash so that it costs the same time as a wrong secret.
//! - A successful verification is remembered per process (see [`VerifiedKeys`]): the
//!   key's next requests cost one SHA-256 and a constant-time comparison instead of an
//!   argon2id run (tens of milliseconds of CPU), which is what lets one core serve
//!   thousands of authenticated requests per second. A revoked or re-keyed key misses
//!   the cache (entries are bound to the stored hash), so it is refused at once.
//! - Every failure is the same 401 in Alpaca's shape; the reason is only logged.
//! - Authorization: a key acts on its own account. Traders and admins trade, analysts only
//!   read. Orders of other accounts are invisible (404, not 403) except to admins, who may
//!   read and cancel any order by id.

use crate::error::ApiError;
use crate::ports::{ApiKeyStore, OrderRecord, Role, StoredKey};
use crate::AppState;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use std::sync::{Arc, OnceLock};

pub const KEY_ID_HEADER: &str = "APCA-API-KEY-ID";
pub const SECRET_HEADER: &str = "APCA-API-SECRET-KEY";

/// OWASP's minimum argon2id parameters (memory in KiB, iterations, parallelism).
pub const MIN_M_COST: u32 = 19_456;
pub const MIN_T_COST: u32 = 2;
pub const MIN_P_COST: u32 = 1;

/// The authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub key_id: String,
    pub user_id: String,
    pub account_id: String,
    pub role: Role,
}

impl Principal {
    /// Placing and cancelling orders.
    pub fn require_trading(&self) -> Result<(), ApiError> {
        match self.role {
            Role::Trader | Role::Admin => Ok(()),
            Role::Analyst => Err(ApiError::Forbidden("this API key is not allowed to trade".into())),
        }
    }

    /// Whether this caller may see `order` at all (otherwise: 404).
    pub fn can_see(&self, order: &OrderRecord) -> bool {
        self.role == Role::Admin || order.account_id == self.account_id
    }
}

fn hasher() -> Argon2<'static> {
    let params = Params::new(MIN_M_COST, MIN_T_COST, MIN_P_COST, None).expect("valid argon2 params");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes an API secret for storage (argon2id, OWASP parameters, random 16-byte salt).
pub fn hash_secret(secret: &str) -> String {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes).expect("16-byte salt encodes");
    hasher().hash_password(secret.as_bytes(), &salt).expect("argon2id hashing cannot fail with valid params").to_string()
}

/// Whether `phc` is an argon2id hash at least as strong as OWASP's minimum.
fn strong_enough(hash: &PasswordHash<'_>) -> bool {
    let Ok(params) = Params::try_from(hash) else { return false };
    hash.algorithm == Algorithm::Argon2id.ident()
        && params.m_cost() >= MIN_M_COST
        && params.t_cost() >= MIN_T_COST
        && params.p_cost() >= MIN_P_COST
}

/// Verifies `secret` against a stored PHC hash (constant-time output comparison).
pub fn verify_secret(secret: &str, phc: &str) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else { return false };
    strong_enough(&hash) && Argon2::default().verify_password(secret.as_bytes(), &hash).is_ok()
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_secret("tradeflow-dummy-secret-for-unknown-keys"))
}

/// Keys verified by this process: key id -> (the PHC hash it verified against,
/// SHA-256(pepper || secret)).
///
/// Invariants: an entry is used only while the store returns the key with the same PHC
/// string, so revocation and re-keying take effect on the next request; digests are
/// compared in constant time; the pepper is random per process and never leaves memory
/// (the digests are useless elsewhere); at most [`VerifiedKeys::CAP`] entries (the map is
/// cleared when full, costing one argon2id run per key afterwards). Only successes are
/// cached, so wrong secrets always pay the full argon2id cost.
pub struct VerifiedKeys {
    pepper: [u8; 32],
    map: std::sync::Mutex<std::collections::HashMap<String, (String, [u8; 32])>>,
}

impl VerifiedKeys {
    pub const CAP: usize = 100_000;

    fn global() -> &'static VerifiedKeys {
        static KEYS: OnceLock<VerifiedKeys> = OnceLock::new();
        KEYS.get_or_init(|| VerifiedKeys { pepper: rand::random(), map: Default::default() })
    }

    fn digest(&self, secret: &str) -> [u8; 32] {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(self.pepper);
        h.update(secret.as_bytes());
        h.finalize().into()
    }

    fn hit(&self, key: &StoredKey, secret: &str) -> bool {
        use subtle::ConstantTimeEq;
        let digest = self.digest(secret);
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&key.key_id).is_some_and(|(phc, d)| *phc == key.secret_hash && bool::from(d.ct_eq(&digest)))
    }

    fn remember(&self, key: &StoredKey, secret: &str) {
        let digest = self.digest(secret);
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= Self::CAP {
            map.clear();
        }
        map.insert(key.key_id.clone(), (key.secret_hash.clone(), digest));
    }
}

/// Authenticates a key id and secret against the store.
pub async fn authenticate(store: Arc<dyn ApiKeyStore>, key_id: String, secret: String) -> Result<Principal, ApiError> {
    let stored = store.key(&key_id)?;
    if let Some(k) = stored.as_ref().filter(|k| VerifiedKeys::global().hit(k, &secret)) {
        return Ok(Principal { key_id: k.key_id.clone(), user_id: k.user_id.clone(), account_id: k.account_id.clone(), role: k.role });
    }
    let verified = tokio::task::spawn_blocking(move || match stored {
        Some(k) => verify_secret(&secret, &k.secret_hash).then(|| {
            VerifiedKeys::global().remember(&k, &secret);
            k
        }),
        None => {
            let _ = verify_secret(&secret, dummy_hash());
            None
        }
    })
    .await
    .map_err(|e| ApiError::Internal(format!("verification task: {e}")))?;
    match verified {
        Some(StoredKey { key_id, user_id, account_id, role, .. }) => Ok(Principal { key_id, user_id, account_id, role }),
        None => {
            tracing::info!(%key_id, "authentication failed");
            Err(ApiError::Unauthorized)
        }
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let (Some(key_id), Some(secret)) = (header(KEY_ID_HEADER), header(SECRET_HEADER)) else {
            return Err(ApiError::Unauthorized);
        };
        if key_id.is_empty() || key_id.len() > 256 || secret.len() > 1024 {
            return Err(ApiError::Unauthorized);
        }
        authenticate(state.ports.keys.clone(), key_id, secret).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let phc = hash_secret("s3cret");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(!phc.contains("s3cret"));
        assert!(verify_secret("s3cret", &phc));
        assert!(!verify_secret("s3cret ", &phc));
        assert!(!verify_secret("", &phc));
        assert_ne!(phc, hash_secret("s3cret"), "salted");
    }

    /// A key store whose one key can be swapped or removed between calls.
    struct OneKey(std::sync::Mutex<Option<StoredKey>>);

    impl ApiKeyStore for OneKey {
        fn key(&self, key_id: &str) -> Result<Option<StoredKey>, crate::ports::PortError> {
            Ok(self.0.lock().unwrap().clone().filter(|k| k.key_id == key_id))
        }
    }

    #[tokio::test]
    async fn cached_verifications_never_outlive_the_stored_key_or_accept_another_secret() {
        let stored = |secret: &str| StoredKey {
            key_id: "PKCACHE".into(),
            secret_hash: hash_secret(secret),
            user_id: "u".into(),
            account_id: "a".into(),
            role: Role::Trader,
        };
        let store = Arc::new(OneKey(std::sync::Mutex::new(Some(stored("first")))));
        let auth = |secret: &str| authenticate(store.clone(), "PKCACHE".into(), secret.into());
        assert!(auth("first").await.is_ok());
        assert!(auth("first").await.is_ok(), "cached");
        assert!(auth("First").await.is_err(), "another secret never matches the cached digest");
        // Re-keyed: the old secret is refused at once, the new one verifies.
        *store.0.lock().unwrap() = Some(stored("second"));
        assert!(auth("first").await.is_err());
        assert!(auth("second").await.is_ok());
        // Revoked: refused although just verified.
        *store.0.lock().unwrap() = None;
        assert!(auth("second").await.is_err());
    }

    #[test]
    fn weak_or_foreign_hashes_never_verify() {
        let salt = SaltString::encode_b64(&[7u8; 16]).unwrap();
        let weak = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(1024, 1, 1, None).unwrap())
            .hash_password(b"pw", &salt)
            .unwrap()
            .to_string();
        assert!(Argon2::default().verify_password(b"pw", &PasswordHash::new(&weak).unwrap()).is_ok());
        assert!(!verify_secret("pw", &weak), "below OWASP minimum");
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, Params::new(MIN_M_COST, 3, 1, None).unwrap())
            .hash_password(b"pw", &salt)
            .unwrap()
            .to_string();
        assert!(!verify_secret("pw", &argon2i), "argon2i is not argon2id");
        assert!(!verify_secret("pw", "pw"), "plain text is not a hash");
    }
}
