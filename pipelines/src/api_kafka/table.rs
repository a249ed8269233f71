//! [`Table`]: a compacted topic materialized in memory, written through an idempotent
//! producer, with read-your-writes. The shared core of the watchlist store and of the
//! platform's users, API-key and session stores.
//!
//! Invariants:
//! - One key lives in one partition and is read in offset order, so the latest record read
//!   for a key is its latest value; a tombstone removes the key.
//! - A write is registered as *pending* for its key before it is sent and applied to the
//!   map once the broker acknowledged it (`acks=all`, idempotent producer), before the
//!   write returns. The follower skips a key's records until it reads the latest pending
//!   one, so reading an older record never rolls an acknowledged write back.
//! - A failed write is unregistered and answered `Unavailable`; if it was written after
//!   all (ambiguous timeout), the follower applies it when it reads it.
//! - This process's writes are serialized by [`Table::serial`]: a store checks its rules
//!   against the map and sends under that one lock (single writer per process). Across
//!   processes nothing is checked: the last write wins.
//! - Reads and writes answer `Unavailable` until the follower has caught up with the
//!   topic's end observed at start.

use crate::api_kafka::follow::{Decoder, Fold};
use api::ports::PortError;
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, FutureRecord};
use schemas::{AvroRecord, Codec};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

/// Longest wait for the broker's acknowledgement of one write.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// The idempotent producer every platform writer uses: `acks=all`, murmur2 partitioner
/// (the platform's key placement), bounded delivery time.
pub fn idempotent_producer(brokers: &str, extra: &[(String, String)]) -> Result<FutureProducer, KafkaError> {
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
    c.create()
}

/// The materialized topic plus this process's writes in flight. Pure (no I/O).
#[derive(Debug)]
pub struct Rows<V> {
    rows: BTreeMap<String, V>,
    /// Per key, sent-but-not-yet-read values, oldest first (`None` = tombstone).
    pending: HashMap<String, VecDeque<Option<V>>>,
}

impl<V> Default for Rows<V> {
    fn default() -> Self {
        Rows { rows: BTreeMap::new(), pending: HashMap::new() }
    }
}

impl<V: Clone + PartialEq> Rows<V> {
    /// Registers a write about to be sent.
    pub fn begin(&mut self, key: &str, value: Option<V>) {
        self.pending.entry(key.to_string()).or_default().push_back(value);
    }

    /// The broker acknowledged the write: apply it.
    pub fn acknowledged(&mut self, key: &str, value: Option<V>) {
        self.set(key, value);
    }

    /// The write was not acknowledged: forget it.
    pub fn failed(&mut self, key: &str, value: &Option<V>) {
        if let Some(q) = self.pending.get_mut(key) {
            if let Some(pos) = q.iter().rposition(|p| p == value) {
                q.remove(pos);
            }
            if q.is_empty() {
                self.pending.remove(key);
            }
        }
    }

    /// A record read from the topic.
    pub fn read(&mut self, key: &str, value: Option<V>) {
        if let Some(q) = self.pending.get_mut(key) {
            match q.iter().position(|p| p == &value) {
                // One of ours: what was pending before it is older; apply only the latest.
                Some(pos) => {
                    q.drain(..=pos);
                    if !q.is_empty() {
                        return;
                    }
                    self.pending.remove(key);
                }
                // Older than our pending write: the map already holds something newer.
                None => return,
            }
        }
        self.set(key, value);
    }

    fn set(&mut self, key: &str, value: Option<V>) {
        match value {
            Some(v) => {
                self.rows.insert(key.to_string(), v);
            }
            None => {
                self.rows.remove(key);
            }
        }
    }

    pub fn get(&self, key: &str) -> Option<&V> {
        self.rows.get(key)
    }

    /// Every row, ordered by key.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.rows.values()
    }

    /// Writes not yet read back (0 once the follower caught up with this process).
    pub fn pending(&self) -> usize {
        self.pending.values().map(VecDeque::len).sum()
    }
}

/// A compacted topic of `V` keyed by `key_of(value)`: producer, map, readiness, write lock.
pub struct Table<V> {
    /// For messages (`users`, `api keys`, `sessions`).
    what: &'static str,
    producer: FutureProducer,
    codec: Arc<Codec>,
    topic: String,
    key_of: fn(&V) -> &str,
    rows: RwLock<Rows<V>>,
    ready: AtomicBool,
    /// Serializes this process's writes (check, send, apply).
    serial: tokio::sync::Mutex<()>,
}

impl<V: AvroRecord + Clone + PartialEq + Send + Sync> Table<V> {
    /// No broker round trip here: the follower reports connectivity in its health.
    pub fn new(what: &'static str, producer: FutureProducer, codec: Arc<Codec>, topic: String, key_of: fn(&V) -> &str) -> Self {
        Table { what, producer, codec, topic, key_of, rows: RwLock::default(), ready: AtomicBool::new(false), serial: tokio::sync::Mutex::new(()) }
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    fn check_ready(&self) -> Result<(), PortError> {
        if self.is_ready() {
            Ok(())
        } else {
            Err(PortError::Unavailable(format!("{} view is catching up", self.what)))
        }
    }

    /// The map, once caught up.
    pub fn read(&self) -> Result<RwLockReadGuard<'_, Rows<V>>, PortError> {
        self.check_ready()?;
        Ok(self.rows.read().unwrap_or_else(|p| p.into_inner()))
    }

    fn write_rows(&self) -> RwLockWriteGuard<'_, Rows<V>> {
        self.rows.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes this process's write lock (once caught up). Check rules against
    /// [`Table::read`] and [`Table::put`] while holding it.
    pub async fn serial(&self) -> Result<tokio::sync::MutexGuard<'_, ()>, PortError> {
        self.check_ready()?;
        Ok(self.serial.lock().await)
    }

    /// Writes `value` and applies it once acknowledged. The caller holds [`Table::serial`].
    pub async fn put(&self, value: V) -> Result<(), PortError> {
        let key = (self.key_of)(&value).to_string();
        self.send(key, Some(value)).await
    }

    /// Writes a tombstone for `key` and applies it once acknowledged. The caller holds
    /// [`Table::serial`].
    pub async fn remove(&self, key: &str) -> Result<(), PortError> {
        self.send(key.to_string(), None).await
    }

    async fn send(&self, key: String, value: Option<V>) -> Result<(), PortError> {
        let payload = value
            .as_ref()
            .map(|v| self.codec.encode(v))
            .transpose()
            .map_err(|e| PortError::Internal(format!("encoding {}: {e}", V::NAME)))?;
        self.write_rows().begin(&key, value.clone());
        let mut record = FutureRecord::<str, [u8]>::to(&self.topic).key(&key);
        if let Some(p) = &payload {
            record = record.payload(p.as_slice());
        }
        match self.producer.send(record, DELIVERY_TIMEOUT).await {
            Ok(_) => {
                self.write_rows().acknowledged(&key, value);
                Ok(())
            }
            Err((e, _)) => {
                self.write_rows().failed(&key, &value);
                tracing::warn!(key, topic = %self.topic, error = %e, "{} write not delivered", self.what);
                Err(PortError::Unavailable(format!("{}: {e}", self.topic)))
            }
        }
    }
}

impl<V: AvroRecord + Clone + PartialEq + Send + Sync> Fold for Table<V> {
    fn apply(&self, _topic: usize, key: Option<&[u8]>, value: Option<&[u8]>, decoder: &Decoder, stop: &AtomicBool) {
        let key = key.and_then(|k| std::str::from_utf8(k).ok()).map(str::to_owned);
        let record = match value {
            None => None,
            Some(v) => match decoder.decode::<V>(v, stop) {
                Ok(r) => Some(r),
                Err(e) => {
                    tracing::warn!(key = ?key, error = %e, "{} view: undecodable record skipped", self.what);
                    return;
                }
            },
        };
        // A keyless value names itself; a keyless tombstone names nothing.
        let Some(key) = key.or_else(|| record.as_ref().map(|r| (self.key_of)(r).to_string())) else {
            tracing::warn!("{} view: tombstone without a key skipped", self.what);
            return;
        };
        self.write_rows().read(&key, record);
    }

    fn caught_up(&self) {
        self.ready.store(true, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_writes_win_over_older_reads_and_failed_ones_are_forgotten() {
        let mut m: Rows<i32> = Rows::default();
        m.read("k", Some(1));
        m.begin("k", Some(2));
        m.acknowledged("k", Some(2));
        m.begin("k", Some(3));
        m.acknowledged("k", Some(3));
        m.read("k", Some(1));
        assert_eq!(m.get("k"), Some(&3));
        m.read("k", Some(2));
        assert_eq!(m.get("k"), Some(&3), "our first write read back: not the latest");
        m.read("k", Some(3));
        assert_eq!(m.pending(), 0);
        m.read("k", Some(4));
        assert_eq!(m.get("k"), Some(&4), "another process's later write applies");
        m.begin("k", None);
        m.acknowledged("k", None);
        m.read("k", Some(4));
        assert_eq!(m.get("k"), None);
        m.read("k", None);
        m.begin("j", Some(9));
        m.failed("j", &Some(9));
        assert_eq!((m.pending(), m.get("j")), (0, None));
        m.read("j", Some(9));
        assert_eq!(m.get("j"), Some(&9), "ambiguous failure written after all");
    }
}
