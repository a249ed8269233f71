//! [`KafkaAuditSink`]: the `AuditSink` port on `audit.log` (key = actor), and
//! [`verify_audit_topic`], which checks every partition's hash chain.
//!
//! The sink owns the chains (`api::audit`): it places an entry on partition
//! `murmur2(actor) % partitions` ([`partition_for`], the Java client's and librdkafka's
//! `murmur2_random` placement, so readers agree on where an actor's records are), seals it
//! with that partition's [`ChainHead`] and writes it to that partition explicitly.
//!
//! Single writer per partition, by construction:
//! - The sink writes through a transactional producer whose `transactional.id` is fixed
//!   for the whole deployment ([`AuditSinkConfig::transactional_id`], default
//!   [`DEFAULT_TRANSACTIONAL_ID`] with the topic prefix). Opening the sink calls
//!   `init_transactions`, which fences every earlier producer with that id and completes
//!   (aborts) its open transaction; only then does the sink read each partition's last
//!   committed record (`read_committed`) and take the head after it.
//! - Each append is one transaction (begin, send, commit). The head advances only after
//!   the commit succeeded, so an aborted or failed append leaves the chain untouched.
//! - If another API instance opens a sink with the same id, it fences this one: this
//!   sink's next commit fails. Any failure drops the producer and the heads; the next
//!   append opens again (fencing the other instance in turn) and re-reads the heads, which
//!   include everything the other instance committed. A record is therefore only ever
//!   committed on top of the partition's true last committed record: the chain never
//!   forks, whatever the number of instances (they just take turns, each turn costing an
//!   open). One process serializes its appends under one lock.
//! - Using a *different* transactional id for the same topic breaks this guarantee (two
//!   writers would fork a chain, which [`verify_audit_topic`] then reports).
//!
//! Cost: one transaction per audited request (a few milliseconds against a local broker).
//! Failures answer `Unavailable`; the audit layer logs them (the request itself is not
//! failed, see `api::v1::audit_layer`). Audited requests wait for their append, so it is
//! bounded: at most [`APPEND_TIMEOUT`] for the lock and again for the transaction, and
//! after a failed open appends fail at once for [`REOPEN_BACKOFF`]. An append that timed
//! out may still commit; the next open re-reads the heads, so the chain stays linear.
//!
//! Retention: [`verify_audit_topic`] needs every partition from its first record (seq 0),
//! so `audit.log` must be created with `retention.ms=-1` (the catalog creates it as an
//! event topic, with the broker's default retention). If retention emptied a partition,
//! the sink would start that partition's chain again at seq 0 on top of the deleted ones.

use crate::api_kafka::follow::{Decoder, Source};
use crate::registry::Registry;
use api::audit::{verify, AuditEntry, ChainError, ChainHead};
use api::ports::{BoxFuture, PortError};
use api::v1::ports::AuditSink;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use schemas::records::AuditRecord;
use schemas::{Codec, CodecError};
use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The topic (unprefixed).
pub const TOPIC: &str = "audit.log";
/// `transactional.id` of every API instance's audit sink (prefixed like the topics).
pub const DEFAULT_TRANSACTIONAL_ID: &str = "tradeflow-api-audit";
/// Bound of opening the sink (fencing, reading the heads) and of the verifier's reads.
pub const TIMEOUT: Duration = Duration::from_secs(30);
/// Bound of one append's transaction (send and commit), and of waiting for the sink's
/// lock: audited requests wait for their record, so a slow broker must not queue them up.
pub const APPEND_TIMEOUT: Duration = Duration::from_secs(10);
/// After a failed open, appends fail at once for this long instead of each trying again.
pub const REOPEN_BACKOFF: Duration = Duration::from_secs(5);

/// Kafka's murmur2 (the Java client's `Utils.murmur2`, seed `0x9747b28c`).
pub fn murmur2(data: &[u8]) -> i32 {
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let len = data.len();
    let mut h: u32 = 0x9747_b28c ^ (len as u32);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if !rest.is_empty() {
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition a keyed record goes to under `murmur2_random` (non-empty key) and the
/// Java default partitioner: `(murmur2(key) & 0x7fffffff) % partitions`.
pub fn partition_for(key: &str, partitions: i32) -> i32 {
    (murmur2(key.as_bytes()) & 0x7fff_ffff) % partitions.max(1)
}

/// Where the sink writes.
#[derive(Clone, Debug)]
pub struct AuditSinkConfig {
    pub brokers: String,
    pub extra: Vec<(String, String)>,
    /// Already prefixed.
    pub topic: String,
    /// The same for every API instance writing `topic` (see the module doc).
    pub transactional_id: String,
}

/// Why the sink could not open or append (answered as `Unavailable`).
#[derive(Debug, thiserror::Error)]
pub enum AuditSinkError {
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("topic {0} does not exist")]
    MissingTopic(String),
    #[error("{topic}/{partition}: the last record does not decode: {error}")]
    Undecodable { topic: String, partition: i32, error: CodecError },
    #[error("{topic}/{partition}: the last record claims partition {claimed}")]
    Misplaced { topic: String, partition: i32, claimed: i32 },
    #[error("timed out reading {0}")]
    Timeout(String),
    #[error("encoding an audit record: {0}")]
    Encode(CodecError),
    #[error("the audit writer task failed: {0}")]
    Task(String),
    #[error("the audit sink is busy (another append holds it)")]
    Busy,
    #[error("the audit sink failed to open recently: not retrying yet")]
    BackingOff,
}

/// An open transactional producer and the chain heads it continues.
struct Writer {
    producer: ThreadedProducer<DefaultProducerContext>,
    partitions: i32,
    heads: BTreeMap<i32, ChainHead>,
}

/// The sink's mutable state, under one lock.
#[derive(Default)]
struct State {
    /// `None`: not open (yet, or again after a failure).
    writer: Option<Writer>,
    /// Set by a failed open: no new attempt before then.
    retry_at: Option<Instant>,
}

pub struct KafkaAuditSink {
    cfg: AuditSinkConfig,
    decoder: Decoder,
    state: tokio::sync::Mutex<State>,
}

impl KafkaAuditSink {
    /// Connects lazily: the first append (or [`KafkaAuditSink::open`]) opens.
    pub fn new(cfg: AuditSinkConfig, decoder: Decoder) -> Self {
        KafkaAuditSink { cfg, decoder, state: tokio::sync::Mutex::default() }
    }

    pub fn topic(&self) -> &str {
        &self.cfg.topic
    }

    /// Opens now (fencing earlier writers, restoring the heads) unless open already.
    /// Ignores [`REOPEN_BACKOFF`] (an explicit open, e.g. at start).
    pub async fn open(&self) -> Result<(), AuditSinkError> {
        let mut g = self.state.lock().await;
        if g.writer.is_none() {
            g.writer = Some(self.open_blocking().await?);
            g.retry_at = None;
        }
        Ok(())
    }

    /// The chain heads this sink continues (`None` while not open). For tests and health.
    pub async fn heads(&self) -> Option<BTreeMap<i32, ChainHead>> {
        self.state.lock().await.writer.as_ref().map(|w| w.heads.clone())
    }

    async fn open_blocking(&self) -> Result<Writer, AuditSinkError> {
        let (cfg, decoder) = (self.cfg.clone(), self.decoder.clone());
        tokio::task::spawn_blocking(move || open(&cfg, &decoder)).await.map_err(|e| AuditSinkError::Task(e.to_string()))?
    }

    async fn append_entry(&self, entry: AuditEntry) -> Result<AuditRecord, AuditSinkError> {
        let mut g = tokio::time::timeout(APPEND_TIMEOUT, self.state.lock()).await.map_err(|_| AuditSinkError::Busy)?;
        let writer = match g.writer.take() {
            Some(w) => w,
            None => {
                if g.retry_at.is_some_and(|t| Instant::now() < t) {
                    return Err(AuditSinkError::BackingOff);
                }
                match self.open_blocking().await {
                    Ok(w) => {
                        g.retry_at = None;
                        w
                    }
                    Err(e) => {
                        g.retry_at = Some(Instant::now() + REOPEN_BACKOFF);
                        return Err(e);
                    }
                }
            }
        };
        let (codec, topic) = (self.decoder.codec.clone(), self.cfg.topic.clone());
        let (writer, result) = tokio::task::spawn_blocking(move || {
            let mut writer = writer;
            match writer.append(entry, &codec, &topic) {
                Ok(r) => (Some(writer), Ok(r)),
                // Encoding failed before anything was sent: the writer is intact.
                Err(e @ AuditSinkError::Encode(_)) => (Some(writer), Err(e)),
                // Dropped here (off the async runtime): the next append opens afresh.
                Err(e) => (None, Err(e)),
            }
        })
        .await
        .map_err(|e| AuditSinkError::Task(e.to_string()))?;
        g.writer = writer;
        result
    }
}

impl AuditSink for KafkaAuditSink {
    fn append(&self, entry: AuditEntry) -> BoxFuture<'_, Result<AuditRecord, PortError>> {
        Box::pin(async move {
            self.append_entry(entry).await.map_err(|e| match e {
                AuditSinkError::Encode(_) => PortError::Internal(e.to_string()),
                e => PortError::Unavailable(format!("{}: {e}", self.cfg.topic)),
            })
        })
    }
}

impl Writer {
    /// One transaction holding the sealed record; the head advances only on commit.
    fn append(&mut self, entry: AuditEntry, codec: &Codec, topic: &str) -> Result<AuditRecord, AuditSinkError> {
        let partition = partition_for(&entry.actor, self.partitions);
        let mut head = self.heads.get(&partition).cloned().unwrap_or_else(|| ChainHead::genesis(partition));
        let record = head.seal(entry);
        let value = codec.encode(&record).map_err(AuditSinkError::Encode)?;
        self.producer.begin_transaction()?;
        let sent = self.send_and_commit(topic, partition, &record, &value);
        if let Err(e) = sent {
            if let Err(abort) = self.producer.abort_transaction(APPEND_TIMEOUT) {
                tracing::warn!(error = %abort, "aborting the audit transaction failed");
            }
            return Err(e);
        }
        self.heads.insert(partition, head);
        Ok(record)
    }

    fn send_and_commit(&self, topic: &str, partition: i32, record: &AuditRecord, value: &[u8]) -> Result<(), AuditSinkError> {
        let mut rec = BaseRecord::<str, [u8]>::to(topic).partition(partition).key(&record.actor).payload(value);
        let deadline = Instant::now() + APPEND_TIMEOUT;
        loop {
            match self.producer.send(rec) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) if Instant::now() < deadline => {
                    rec = r;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((e, _)) => return Err(e.into()),
            }
        }
        // Flushes, and fails if the record was not delivered.
        self.producer.commit_transaction(APPEND_TIMEOUT)?;
        Ok(())
    }
}

fn open(cfg: &AuditSinkConfig, decoder: &Decoder) -> Result<Writer, AuditSinkError> {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &cfg.brokers)
        .set("transactional.id", &cfg.transactional_id)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "0")
        .set("transaction.timeout.ms", "60000")
        .set("message.timeout.ms", APPEND_TIMEOUT.as_millis().to_string());
    for (k, v) in &cfg.extra {
        c.set(k, v);
    }
    let producer: ThreadedProducer<DefaultProducerContext> = c.create()?;
    // Fences earlier writers with this id and completes their open transaction.
    producer.init_transactions(TIMEOUT)?;
    let source = Source { brokers: cfg.brokers.clone(), extra: cfg.extra.clone() };
    let consumer = reader(&source)?;
    let partitions = partition_ids(&consumer, &cfg.topic)?;
    let mut heads = BTreeMap::new();
    for &p in &partitions {
        if let Some(last) = last_record(&source, &consumer, &cfg.topic, p, decoder)? {
            heads.insert(p, ChainHead::after(&last));
        }
    }
    tracing::info!(topic = %cfg.topic, transactional_id = %cfg.transactional_id, partitions = partitions.len(), "audit sink open");
    Ok(Writer { producer, partitions: partitions.len() as i32, heads })
}

fn reader(source: &Source) -> Result<BaseConsumer, KafkaError> {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &source.brokers)
        // Required by librdkafka for manual assignment; never joined nor committed.
        .set("group.id", format!("tradeflow-audit-reader-{}-{}", std::process::id(), rand::random::<u32>()))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true")
        .set("isolation.level", "read_committed")
        .set("auto.offset.reset", "earliest");
    for (k, v) in &source.extra {
        c.set(k, v);
    }
    c.create()
}

/// The topic's partition ids, ascending (Kafka numbers them `0..n`).
fn partition_ids(c: &BaseConsumer, topic: &str) -> Result<Vec<i32>, AuditSinkError> {
    let md = c.fetch_metadata(Some(topic), TIMEOUT)?;
    let mut ids: Vec<i32> = md.topics().iter().filter(|t| t.name() == topic && t.error().is_none()).flat_map(|t| t.partitions().iter().map(|p| p.id())).collect();
    ids.sort_unstable();
    if ids.is_empty() {
        return Err(AuditSinkError::MissingTopic(topic.to_string()));
    }
    Ok(ids)
}

/// One record as read: offset and value (`None` = tombstone).
type Raw = (i64, Option<Vec<u8>>);

/// Every committed record of `topic`/`partition` from `from` to the end, in offset order
/// (a fresh consumer each time, so nothing buffered from an earlier read leaks in).
fn read_from(source: &Source, topic: &str, partition: i32, from: i64) -> Result<Vec<Raw>, AuditSinkError> {
    let c = reader(source)?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Offset(from))?;
    c.assign(&tpl)?;
    let deadline = Instant::now() + TIMEOUT;
    let mut out = Vec::new();
    loop {
        if Instant::now() > deadline {
            return Err(AuditSinkError::Timeout(format!("{topic}/{partition}")));
        }
        match c.poll(Duration::from_millis(100)) {
            None => {}
            Some(Ok(m)) if m.partition() == partition => out.push((m.offset(), m.payload().map(<[u8]>::to_vec))),
            Some(Ok(_)) => {}
            Some(Err(KafkaError::PartitionEOF(p))) if p == partition => return Ok(out),
            Some(Err(KafkaError::PartitionEOF(_))) => {}
            Some(Err(e)) => return Err(e.into()),
        }
    }
}

/// The partition's last committed record, reading backwards in growing windows (the
/// offsets after the last record may all be transaction markers or aborted records).
fn last_record(source: &Source, c: &BaseConsumer, topic: &str, partition: i32, decoder: &Decoder) -> Result<Option<AuditRecord>, AuditSinkError> {
    let (low, high) = c.fetch_watermarks(topic, partition, TIMEOUT)?;
    let mut window = 16i64;
    loop {
        let from = (high - window).max(low);
        if from >= high {
            return Ok(None);
        }
        let records = read_from(source, topic, partition, from)?;
        if let Some((_, value)) = records.iter().rev().find(|(_, v)| v.is_some()) {
            let bytes = value.as_deref().unwrap_or_default();
            let r: AuditRecord = decoder
                .decode(bytes, &AtomicBool::new(false))
                .map_err(|error| AuditSinkError::Undecodable { topic: topic.to_string(), partition, error })?;
            if r.partition != partition {
                return Err(AuditSinkError::Misplaced { topic: topic.to_string(), partition, claimed: r.partition });
            }
            return Ok(Some(r));
        }
        if from == low {
            return Ok(None);
        }
        window = window.saturating_mul(8);
    }
}

// ---------------------------------------------------------------------------------------
// Verification

/// One partition's verified chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionChain {
    pub records: u64,
    /// After the last record ([`ChainHead::genesis`] for an empty partition).
    pub head: ChainHead,
}

/// Every partition of a verified audit topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    pub topic: String,
    pub partitions: BTreeMap<i32, PartitionChain>,
}

impl VerifyReport {
    pub fn records(&self) -> u64 {
        self.partitions.values().map(|p| p.records).sum()
    }
}

/// Why an audit topic does not verify (or could not be read).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("reading the audit topic: {0}")]
    Read(#[from] AuditSinkError),
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("registry: {0}")]
    Registry(String),
    #[error("{topic}/{partition}@{offset}: not an audit record: {error}")]
    Undecodable { topic: String, partition: i32, offset: i64, error: CodecError },
    #[error("{topic}/{partition}@{offset}: a tombstone in the audit log")]
    Tombstone { topic: String, partition: i32, offset: i64 },
    #[error("{topic}/{partition}@{offset}: the record claims partition {claimed}")]
    Misplaced { topic: String, partition: i32, offset: i64, claimed: i32 },
    /// Tampered, deleted, inserted or reordered records (`api::audit::verify`).
    #[error("{0}")]
    Chain(#[from] ChainError),
    #[error("the verification task failed: {0}")]
    Task(String),
}

/// Reads the whole of `topic` (`read_committed`, every partition from the beginning to its
/// end) and verifies every partition's chain with `api::audit::verify`. Records are decoded
/// with the embedded registry's schema ids (those `tradeflow api --registry embedded`
/// writes); see [`verify_audit_topic_with`] for another registry.
pub async fn verify_audit_topic(brokers: &str, topic: &str) -> Result<VerifyReport, VerifyError> {
    let registry = Registry::embedded();
    let codec = Arc::new(registry.codec().await.map_err(|e| VerifyError::Registry(e.to_string()))?);
    let decoder = Decoder { codec, registry, rt: tokio::runtime::Handle::current() };
    let source = Source { brokers: brokers.to_string(), extra: vec![] };
    let topic = topic.to_string();
    tokio::task::spawn_blocking(move || verify_audit_topic_with(&source, &topic, &decoder)).await.map_err(|e| VerifyError::Task(e.to_string()))?
}

/// [`verify_audit_topic`] with a given source and decoder. Blocking (call it off the async
/// runtime: the decoder may block on the registry).
pub fn verify_audit_topic_with(source: &Source, topic: &str, decoder: &Decoder) -> Result<VerifyReport, VerifyError> {
    let c = reader(source)?;
    let ids = partition_ids(&c, topic)?;
    let mut all = Vec::new();
    let mut partitions = BTreeMap::new();
    for p in ids {
        let (low, high) = c.fetch_watermarks(topic, p, TIMEOUT)?;
        let read = if low < high { read_from(source, topic, p, low)? } else { vec![] };
        let mut count = 0u64;
        for (offset, value) in read {
            let at = |t: &str| (t.to_string(), p, offset);
            let Some(bytes) = value else {
                let (topic, partition, offset) = at(topic);
                return Err(VerifyError::Tombstone { topic, partition, offset });
            };
            let r: AuditRecord = decoder.decode(&bytes, &AtomicBool::new(false)).map_err(|error| {
                let (topic, partition, offset) = at(topic);
                VerifyError::Undecodable { topic, partition, offset, error }
            })?;
            if r.partition != p {
                let (topic, partition, offset) = at(topic);
                return Err(VerifyError::Misplaced { topic, partition, offset, claimed: r.partition });
            }
            count += 1;
            all.push(r);
        }
        partitions.insert(p, PartitionChain { records: count, head: ChainHead::genesis(p) });
    }
    for (p, head) in verify(&all)? {
        if let Some(chain) = partitions.get_mut(&p) {
            chain.head = head;
        }
    }
    Ok(VerifyReport { topic: topic.to_string(), partitions })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kafka's own vectors (`UtilsTest.testMurmur2`).
    #[test]
    fn murmur2_matches_the_java_client() {
        let cases: [(&[u8], i32); 6] = [
            (b"21", -973_932_308),
            (b"foobar", -790_332_482),
            (b"a-little-bit-long-string", -985_981_536),
            (b"a-little-bit-longer-string", -1_486_304_829),
            (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971),
            (b"abc", 479_470_107),
        ];
        for (input, expected) in cases {
            assert_eq!(murmur2(input), expected, "{}", String::from_utf8_lossy(input));
        }
        for n in 1..8 {
            assert!((0..n).contains(&partition_for("user:u-1", n)));
        }
    }
}
