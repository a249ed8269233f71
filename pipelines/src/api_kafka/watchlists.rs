//! [`KafkaWatchlists`]: the `WatchlistStore` port on Kafka. Writes go to the compacted
//! topic `watchlists` (key = watchlist id, value `WatchlistRecord`, tombstone = delete)
//! through an idempotent producer; reads come from the materialized map a follower fills
//! from the same topic ([`Fold`], started by `follow::spawn` like every view). Both are a
//! [`Table`] (`table.rs`: read-your-writes, pending writes never rolled back by the
//! follower, `Unavailable` until caught up).
//!
//! Invariants: this process's writes are serialized ([`Table::serial`]) and checked against
//! the map under it ([`api::watchlists::memory::admit`]: `previous` must match, names
//! unique per account), so within a process no update is lost and no name is duplicated.
//! Across processes the last write wins (the port's documented limitation).

use super::follow::{Decoder, Fold};
use super::table::{idempotent_producer, Table};
use api::ports::{BoxFuture, PortError, WatchlistStore, WatchlistWrite};
use api::watchlists::memory::{admit, of_account};
use rdkafka::error::KafkaError;
use schemas::records::WatchlistRecord;
use schemas::Codec;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// The topic (unprefixed).
pub const TOPIC: &str = "watchlists";

/// [`TOPIC`] with the `--topic-prefix`.
pub fn topic(prefix: &str) -> String {
    crate::catalog::prefixed(prefix, TOPIC).to_string()
}

/// The watchlist store: a [`Table`] of watchlists keyed by id.
pub struct KafkaWatchlists {
    table: Table<WatchlistRecord>,
}

impl KafkaWatchlists {
    /// An idempotent producer on `topic` (already prefixed, see [`topic`]). No broker
    /// round trip here: the follower thread reports connectivity in its health.
    pub fn new(brokers: &str, extra: &[(String, String)], codec: Arc<Codec>, topic: String) -> Result<Self, KafkaError> {
        let producer = idempotent_producer(brokers, extra)?;
        Ok(KafkaWatchlists { table: Table::new("watchlists", producer, codec, topic, |w| w.watchlist_id.as_str()) })
    }
}

impl WatchlistStore for KafkaWatchlists {
    fn put(&self, list: WatchlistRecord, previous: Option<WatchlistRecord>) -> BoxFuture<'_, Result<WatchlistWrite, PortError>> {
        Box::pin(async move {
            let _serial = self.table.serial().await?;
            let verdict = {
                let rows = self.table.read()?;
                admit(rows.get(&list.watchlist_id), previous.as_ref(), &list, rows.values())
            };
            if verdict == WatchlistWrite::Written {
                self.table.put(list).await?;
            }
            Ok(verdict)
        })
    }

    fn delete(&self, watchlist_id: &str) -> BoxFuture<'_, Result<bool, PortError>> {
        let id = watchlist_id.to_string();
        Box::pin(async move {
            let _serial = self.table.serial().await?;
            if self.table.read()?.get(&id).is_none() {
                return Ok(false);
            }
            self.table.remove(&id).await?;
            Ok(true)
        })
    }

    fn watchlist(&self, watchlist_id: &str) -> Result<Option<WatchlistRecord>, PortError> {
        Ok(self.table.read()?.get(watchlist_id).cloned())
    }

    fn watchlists_of(&self, account_id: &str) -> Result<Vec<WatchlistRecord>, PortError> {
        Ok(of_account(self.table.read()?.values(), account_id))
    }
}

impl Fold for KafkaWatchlists {
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

    fn w(id: &str, name: &str, at: i64) -> WatchlistRecord {
        WatchlistRecord { watchlist_id: id.into(), account_id: "acc-1".into(), name: name.into(), symbols: vec![], created_at_ns: 1, updated_at_ns: at }
    }

    #[test]
    fn store_folds_the_topic_and_waits_for_catch_up() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let registry = crate::registry::Registry::embedded();
        let codec = Arc::new(rt.block_on(registry.codec()).unwrap());
        let dec = Decoder { codec: codec.clone(), registry, rt: rt.handle().clone() };
        // No broker needed: the producer connects lazily.
        let store = KafkaWatchlists::new("127.0.0.1:1", &[], codec.clone(), topic("p.")).unwrap();
        assert_eq!(store.table.topic(), "p.watchlists");
        let stop = AtomicBool::new(false);
        store.apply(0, Some(b"w1"), Some(&codec.encode(&w("w1", "a", 1)).unwrap()), &dec, &stop);
        store.apply(0, Some(b"w2"), Some(&codec.encode(&w("w2", "b", 1)).unwrap()), &dec, &stop);
        store.apply(0, Some(b"w2"), None, &dec, &stop);
        store.apply(0, Some(b"w3"), Some(b"garbage"), &dec, &stop);
        assert!(matches!(store.watchlist("w1"), Err(PortError::Unavailable(_))));
        assert!(matches!(rt.block_on(store.put(w("w9", "z", 1), None)), Err(PortError::Unavailable(_))));
        store.caught_up();
        assert_eq!(store.watchlist("w1").unwrap().map(|l| l.name), Some("a".to_string()));
        assert_eq!(store.watchlist("w2").unwrap(), None);
        assert_eq!(store.watchlists_of("acc-1").unwrap().len(), 1);
        // Rules are checked before anything is sent (no broker: nothing could be).
        assert_eq!(rt.block_on(store.put(w("w4", "a", 2), None)), Ok(WatchlistWrite::NameTaken));
        assert_eq!(rt.block_on(store.put(w("w1", "b", 2), None)), Ok(WatchlistWrite::Stale));
        assert_eq!(rt.block_on(store.delete("nope")), Ok(false));
    }
}
