//! [`KafkaApiKeys`]: the `ApiKeyRegistry` port on the compacted topic `api.keys` (key
//! `key_id`, value `ApiKeyRecord`: argon2id hashes only), and the `ApiKeyStore` the APCA
//! headers authenticate against (pass it as `api::Ports::keys`).
//!
//! Invariants:
//! - A key created here authenticates at once and a revoked key stops at once (both are
//!   applied to the map before the write returns; `api::v1::ports::ApiKeyRegistry`).
//! - Static keys (`tradeflow api --keys FILE`) are an optional read-only overlay consulted
//!   first: they authenticate, but they are not registry records (`record` / `keys_of`
//!   do not list them, `revoke` answers `false`), exactly as before the registry existed.
//!   A registry key whose id equals a static key's never authenticates (the static one
//!   wins); key ids are random, so this only matters for hand-made ids.
//! - Revocation is checked and written under the table's write lock (one writer per
//!   process); semantics match `api::platform_memory::MemoryPlatform`.

use super::table::Table;
use crate::api_kafka::follow::{Decoder, Fold};
use api::platform_memory::role_of;
use api::ports::{ApiKeyStore, BoxFuture, PortError, StoredKey};
use api::v1::ports::ApiKeyRegistry;
use schemas::records::ApiKeyRecord;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// The topic (unprefixed).
pub const TOPIC: &str = "api.keys";

pub struct KafkaApiKeys {
    table: Table<ApiKeyRecord>,
    static_keys: Option<Arc<dyn ApiKeyStore>>,
}

impl KafkaApiKeys {
    pub fn new(table: Table<ApiKeyRecord>, static_keys: Option<Arc<dyn ApiKeyStore>>) -> Self {
        KafkaApiKeys { table, static_keys }
    }

    pub fn key_of(k: &ApiKeyRecord) -> &str {
        &k.key_id
    }

    pub fn is_ready(&self) -> bool {
        self.table.is_ready()
    }
}

impl ApiKeyRegistry for KafkaApiKeys {
    fn create(&self, key: ApiKeyRecord) -> BoxFuture<'_, Result<(), PortError>> {
        Box::pin(async move {
            let _serial = self.table.serial().await?;
            self.table.put(key).await
        })
    }

    fn revoke(&self, key_id: &str, at_ns: i64) -> BoxFuture<'_, Result<bool, PortError>> {
        let key_id = key_id.to_string();
        Box::pin(async move {
            let _serial = self.table.serial().await?;
            let current = self.table.read()?.get(&key_id).cloned();
            match current {
                Some(mut k) if k.revoked_at_ns.is_none() => {
                    k.revoked_at_ns = Some(at_ns);
                    self.table.put(k).await?;
                    Ok(true)
                }
                _ => Ok(false),
            }
        })
    }

    fn record(&self, key_id: &str) -> Result<Option<ApiKeyRecord>, PortError> {
        Ok(self.table.read()?.get(key_id).cloned())
    }

    fn keys_of(&self, user_id: &str) -> Result<Vec<ApiKeyRecord>, PortError> {
        let mut keys: Vec<ApiKeyRecord> = self.table.read()?.values().filter(|k| k.user_id == user_id).cloned().collect();
        keys.sort_by(|a, b| (a.created_at_ns, &a.key_id).cmp(&(b.created_at_ns, &b.key_id)));
        Ok(keys)
    }
}

impl ApiKeyStore for KafkaApiKeys {
    /// Static keys first, then live (unrevoked) registry keys.
    fn key(&self, key_id: &str) -> Result<Option<StoredKey>, PortError> {
        if let Some(k) = self.static_keys.as_ref().map(|s| s.key(key_id)).transpose()?.flatten() {
            return Ok(Some(k));
        }
        Ok(self.table.read()?.get(key_id).filter(|k| k.revoked_at_ns.is_none()).map(|k| StoredKey {
            key_id: k.key_id.clone(),
            secret_hash: k.secret_hash.clone(),
            user_id: k.user_id.clone(),
            account_id: k.account_id.clone(),
            role: role_of(k.role),
        }))
    }
}

impl Fold for KafkaApiKeys {
    fn apply(&self, topic: usize, key: Option<&[u8]>, value: Option<&[u8]>, decoder: &Decoder, stop: &AtomicBool) {
        self.table.apply(topic, key, value, decoder, stop);
    }

    fn caught_up(&self) {
        self.table.caught_up();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;
    use api::ports::Role;

    struct Static;
    impl ApiKeyStore for Static {
        fn key(&self, key_id: &str) -> Result<Option<StoredKey>, PortError> {
            Ok((key_id == "S1").then(|| StoredKey { key_id: "S1".into(), secret_hash: "h".into(), user_id: "ops".into(), account_id: "a".into(), role: Role::Admin }))
        }
    }

    fn rec(id: &str, at: i64, revoked: Option<i64>) -> ApiKeyRecord {
        ApiKeyRecord { key_id: id.into(), secret_hash: "h".into(), user_id: "u".into(), account_id: "a".into(), role: schemas::records::UserRole::Trader, label: String::new(), created_at_ns: at, revoked_at_ns: revoked }
    }

    /// No broker: the producer connects lazily and nothing here sends.
    #[test]
    fn registry_keys_authenticate_after_catch_up_static_keys_at_once() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let registry = Registry::embedded();
        let codec = Arc::new(rt.block_on(registry.codec()).unwrap());
        let dec = Decoder { codec: codec.clone(), registry, rt: rt.handle().clone() };
        let producer = crate::api_kafka::table::idempotent_producer("127.0.0.1:1", &[]).unwrap();
        let keys = KafkaApiKeys::new(Table::new("api keys", producer, codec.clone(), "p.api.keys".into(), KafkaApiKeys::key_of), Some(Arc::new(Static)));
        let stop = AtomicBool::new(false);
        for r in [rec("K2", 2, None), rec("K1", 1, None), rec("K3", 3, Some(4))] {
            keys.apply(0, Some(r.key_id.as_bytes()), Some(&codec.encode(&r).unwrap()), &dec, &stop);
        }
        keys.apply(0, Some(b"K9"), Some(b"garbage"), &dec, &stop);
        assert_eq!(keys.key("S1").unwrap().map(|k| k.role), Some(Role::Admin), "static keys need no catch-up");
        assert!(matches!(keys.key("K1"), Err(PortError::Unavailable(_))));
        keys.caught_up();
        assert_eq!(keys.key("K1").unwrap().map(|k| k.user_id), Some("u".to_string()));
        assert_eq!(keys.key("K3").unwrap(), None, "revoked");
        assert_eq!(keys.keys_of("u").unwrap().iter().map(|k| k.key_id.as_str()).collect::<Vec<_>>(), ["K1", "K2", "K3"]);
        assert_eq!(keys.record("S1").unwrap(), None, "static keys are not registry records");
        assert_eq!(rt.block_on(keys.revoke("K3", 9)), Ok(false), "already revoked: nothing sent");
        assert_eq!(rt.block_on(keys.revoke("S1", 9)), Ok(false));
    }
}
