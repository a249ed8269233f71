//! [`KafkaWatchlists`]: the `WatchlistStore` port on Kafka. Writes go to the compacted
//! topic `watchlists` (key = watchlist id, value `WatchlistRecord`, tombstone = delete)
//! through an idempotent producer; reads come from the materialized map a follower fills
//! from the same topic ([`Fold`], started by `follow::spawn` like every view).
//!
//! Read-your-writes: a write is applied to the map as soon as the broker acknowledged it,
//! before `put` / `delete` return. The follower reads the same record later; to keep it
//! from rolling the map back meanwhile, every write is registered as *pending* for its key
//! before it is sent, and the follower skips a key's records until it reads the latest
//! pending one (earlier records of that key are older than it: one key lives in one
//! partition, read in offset order). A write whose delivery failed is unregistered (if it
//! was written after all, the follower applies it when it reads it).
//!
//! Invariants: this process's writes are serialized (one async lock) and checked against
//! the map under it ([`api::watchlists::memory::admit`]: `previous` must match, names
//! unique per account), so within a process no update is lost and no name is duplicated.
//! Across processes the last write wins (the port's documented limitation). Reads and
//! writes answer `Unavailable` until the follower has caught up with the topic's end
//! observed at start; a failed or timed-out delivery is `Unavailable` too.

use super::follow::{Decoder, Fold};
use api::ports::{BoxFuture, PortError, WatchlistStore, WatchlistWrite};
use api::watchlists::memory::{admit, of_account};
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, FutureRecord};
use schemas::records::WatchlistRecord;
use schemas::Codec;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

/// The topic (unprefixed).
pub const TOPIC: &str = "watchlists";
/// Longest wait for the broker's acknowledgement of one write.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// [`TOPIC`] with the `--topic-prefix`.
pub fn topic(prefix: &str) -> String {
    crate::catalog::prefixed(prefix, TOPIC).to_string()
}

/// The materialized topic plus this process's writes in flight. Pure (no I/O), so the
/// ordering rules are unit-tested without a broker.
#[derive(Default, Debug)]
pub struct Materialized {
    lists: BTreeMap<String, WatchlistRecord>,
    /// Per key, this process's sent-but-not-yet-read values, oldest first (`None` = delete).
    pending: HashMap<String, VecDeque<Option<WatchlistRecord>>>,
}

impl Materialized {
    /// Registers a write about to be sent.
    pub fn begin(&mut self, id: &str, value: Option<WatchlistRecord>) {
        self.pending.entry(id.to_string()).or_default().push_back(value);
    }

    /// The broker acknowledged the write: apply it locally.
    pub fn acknowledged(&mut self, id: &str, value: Option<WatchlistRecord>) {
        self.set(id, value);
    }

    /// The write was not acknowledged: forget it (the follower applies it if it exists).
    pub fn failed(&mut self, id: &str, value: &Option<WatchlistRecord>) {
        if let Some(q) = self.pending.get_mut(id) {
            if let Some(pos) = q.iter().rposition(|p| p == value) {
                q.remove(pos);
            }
            if q.is_empty() {
                self.pending.remove(id);
            }
        }
    }

    /// A record read from the topic.
    pub fn read(&mut self, id: &str, value: Option<WatchlistRecord>) {
        if let Some(q) = self.pending.get_mut(id) {
            match q.iter().position(|p| p == &value) {
                // One of our writes: everything pending before it is older (already
                // applied or overwritten); apply it only if it is the latest.
                Some(pos) => {
                    q.drain(..=pos);
                    if !q.is_empty() {
                        return;
                    }
                    self.pending.remove(id);
                }
                // Older than our pending write: the map already holds something newer.
                None => return,
            }
        }
        self.set(id, value);
    }

    fn set(&mut self, id: &str, value: Option<WatchlistRecord>) {
        match value {
            Some(v) => {
                self.lists.insert(id.to_string(), v);
            }
            None => {
                self.lists.remove(id);
            }
        }
    }

    pub fn get(&self, id: &str) -> Option<&WatchlistRecord> {
        self.lists.get(id)
    }

    pub fn values(&self) -> impl Iterator<Item = &WatchlistRecord> {
        self.lists.values()
    }
}

pub struct KafkaWatchlists {
    producer: FutureProducer,
    codec: Arc<Codec>,
    topic: String,
    map: RwLock<Materialized>,
    ready: AtomicBool,
    /// Serializes this process's writes (check, send, apply).
    writes: tokio::sync::Mutex<()>,
}

impl KafkaWatchlists {
    /// An idempotent producer on `topic` (already prefixed, see [`topic`]). No broker
    /// round trip here: the follower thread reports connectivity in its health.
    pub fn new(brokers: &str, extra: &[(String, String)], codec: Arc<Codec>, topic: String) -> Result<Self, KafkaError> {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", brokers)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("partitioner", "murmur2_random")
            .set("linger.ms", "1")
            .set("message.timeout.ms", DELIVERY_TIMEOUT.as_millis().to_string());
        for (k, v) in extra {
            c.set(k, v);
        }
        Ok(KafkaWatchlists {
            producer: c.create()?,
            codec,
            topic,
            map: RwLock::default(),
            ready: AtomicBool::new(false),
            writes: tokio::sync::Mutex::new(()),
        })
    }

    fn check_ready(&self) -> Result<(), PortError> {
        if self.ready.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err(PortError::Unavailable("watchlists view is catching up".into()))
        }
    }

    fn read_map(&self) -> Result<RwLockReadGuard<'_, Materialized>, PortError> {
        self.check_ready()?;
        Ok(self.map.read().unwrap_or_else(|p| p.into_inner()))
    }

    fn write_map(&self) -> RwLockWriteGuard<'_, Materialized> {
        self.map.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends `value` (`None`: a tombstone) for `id` and applies it once acknowledged.
    /// The caller holds `self.writes`.
    async fn send(&self, id: &str, value: Option<WatchlistRecord>) -> Result<(), PortError> {
        let payload = value
            .as_ref()
            .map(|v| self.codec.encode(v))
            .transpose()
            .map_err(|e| PortError::Internal(format!("encoding a watchlist: {e}")))?;
        self.write_map().begin(id, value.clone());
        let mut record = FutureRecord::<str, [u8]>::to(&self.topic).key(id);
        if let Some(p) = &payload {
            record = record.payload(p.as_slice());
        }
        match self.producer.send(record, DELIVERY_TIMEOUT).await {
            Ok(_) => {
                self.write_map().acknowledged(id, value);
                Ok(())
            }
            Err((e, _)) => {
                self.write_map().failed(id, &value);
                tracing::warn!(watchlist_id = id, error = %e, "watchlist write not delivered");
                Err(PortError::Unavailable(format!("{}: {e}", self.topic)))
            }
        }
    }
}

impl WatchlistStore for KafkaWatchlists {
    fn put(&self, list: WatchlistRecord, previous: Option<WatchlistRecord>) -> BoxFuture<'_, Result<WatchlistWrite, PortError>> {
        Box::pin(async move {
            self.check_ready()?;
            let _serial = self.writes.lock().await;
            let verdict = {
                let m = self.read_map()?;
                admit(m.get(&list.watchlist_id), previous.as_ref(), &list, m.values())
            };
            if verdict == WatchlistWrite::Written {
                let id = list.watchlist_id.clone();
                self.send(&id, Some(list)).await?;
            }
            Ok(verdict)
        })
    }

    fn delete(&self, watchlist_id: &str) -> BoxFuture<'_, Result<bool, PortError>> {
        let id = watchlist_id.to_string();
        Box::pin(async move {
            self.check_ready()?;
            let _serial = self.writes.lock().await;
            if self.read_map()?.get(&id).is_none() {
                return Ok(false);
            }
            self.send(&id, None).await?;
            Ok(true)
        })
    }

    fn watchlist(&self, watchlist_id: &str) -> Result<Option<WatchlistRecord>, PortError> {
        Ok(self.read_map()?.get(watchlist_id).cloned())
    }

    fn watchlists_of(&self, account_id: &str) -> Result<Vec<WatchlistRecord>, PortError> {
        Ok(of_account(self.read_map()?.values(), account_id))
    }
}

impl Fold for KafkaWatchlists {
    fn apply(&self, _topic: usize, key: Option<&[u8]>, value: Option<&[u8]>, decoder: &Decoder, stop: &AtomicBool) {
        let key = key.and_then(|k| std::str::from_utf8(k).ok()).map(str::to_owned);
        let record = match value {
            None => None,
            Some(v) => match decoder.decode::<WatchlistRecord>(v, stop) {
                Ok(r) => Some(r),
                Err(e) => {
                    tracing::warn!(key = ?key, error = %e, "watchlists view: undecodable record skipped");
                    return;
                }
            },
        };
        // The key is the id; a keyless value names itself, a keyless tombstone nothing.
        let Some(id) = key.or_else(|| record.as_ref().map(|r| r.watchlist_id.clone())) else {
            tracing::warn!("watchlists view: tombstone without a key skipped");
            return;
        };
        self.write_map().read(&id, record);
    }

    fn caught_up(&self) {
        self.ready.store(true, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(id: &str, name: &str, at: i64) -> WatchlistRecord {
        WatchlistRecord { watchlist_id: id.into(), account_id: "acc-1".into(), name: name.into(), symbols: vec![], created_at_ns: 1, updated_at_ns: at }
    }

    #[test]
    fn own_writes_are_visible_at_once_and_never_rolled_back() {
        let mut m = Materialized::default();
        m.read("w1", Some(w("w1", "a", 1)));
        // Two own writes in flight; the follower is still behind.
        m.begin("w1", Some(w("w1", "b", 2)));
        m.acknowledged("w1", Some(w("w1", "b", 2)));
        m.begin("w1", Some(w("w1", "c", 3)));
        m.acknowledged("w1", Some(w("w1", "c", 3)));
        assert_eq!(m.get("w1").unwrap().name, "c");
        // An older record of the key (written before ours) does not roll back.
        m.read("w1", Some(w("w1", "a", 1)));
        assert_eq!(m.get("w1").unwrap().name, "c");
        // Our first write read back: still not the latest.
        m.read("w1", Some(w("w1", "b", 2)));
        assert_eq!(m.get("w1").unwrap().name, "c");
        m.read("w1", Some(w("w1", "c", 3)));
        assert!(m.pending.is_empty());
        // Another process's later write applies.
        m.read("w1", Some(w("w1", "d", 4)));
        assert_eq!(m.get("w1").unwrap().name, "d");
        // Deletes are tombstones, with the same rules.
        m.begin("w1", None);
        m.acknowledged("w1", None);
        m.read("w1", Some(w("w1", "d", 4)));
        assert!(m.get("w1").is_none());
        m.read("w1", None);
        assert!(m.get("w1").is_none() && m.pending.is_empty());
    }

    #[test]
    fn failed_writes_are_forgotten() {
        let mut m = Materialized::default();
        m.begin("w2", Some(w("w2", "x", 1)));
        m.failed("w2", &Some(w("w2", "x", 1)));
        assert!(m.pending.is_empty() && m.get("w2").is_none());
        // It was written after all (ambiguous timeout): the follower applies it.
        m.read("w2", Some(w("w2", "x", 1)));
        assert_eq!(m.get("w2").unwrap().name, "x");
    }

    #[test]
    fn store_folds_the_topic_and_waits_for_catch_up() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let registry = crate::registry::Registry::embedded();
        let codec = Arc::new(rt.block_on(registry.codec()).unwrap());
        let dec = Decoder { codec: codec.clone(), registry, rt: rt.handle().clone() };
        // No broker needed: the producer connects lazily.
        let store = KafkaWatchlists::new("127.0.0.1:1", &[], codec.clone(), topic("p.")).unwrap();
        assert_eq!(store.topic, "p.watchlists");
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
