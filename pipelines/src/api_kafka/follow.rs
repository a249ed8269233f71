//! Following topics from the beginning into an in-memory view, with lag and readiness.
//!
//! One `read_committed` [`BaseConsumer`] per topic (so a partition EOF names its topic),
//! partitions assigned explicitly from the beginning: no consumer group membership, no
//! offset commits (the group id is unique per process and never committed). One thread
//! per view polls its consumers in turn and hands every record to the view's [`Fold`].
//!
//! Readiness: at start the follower records each partition's high watermark. A partition
//! is caught up once the consumer's position reached that watermark or it reported EOF
//! (with `read_committed` the reachable end is the last stable offset; a transaction
//! still open at start is not waited for). The view is ready when every partition of
//! every topic is caught up; it never becomes unready again (lag says how far behind it is).
//!
//! Lag = end - position per partition, with the end refreshed every [`REFRESH`]; a
//! partition at EOF counts as at the end last observed (transaction markers after the last
//! record would otherwise show as a lag of 1 forever).
//!
//! Undecodable records are logged and skipped (a view has no dead-letter topic; the
//! pipelines that own the topics dead-letter bad input before it gets here). An unknown
//! schema id is fetched from the registry, retried while the registry is unavailable.

use crate::registry::Registry;
use rdkafka::client::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use schemas::{AvroRecord, Codec, CodecError};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often the partitions' end offsets are refreshed for the lag figure.
pub const REFRESH: Duration = Duration::from_secs(1);
const POLL: Duration = Duration::from_millis(20);
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);

/// Decodes Confluent-framed values, learning unknown writer schemas from the registry.
#[derive(Clone)]
pub struct Decoder {
    pub codec: Arc<Codec>,
    pub registry: Registry,
    pub rt: tokio::runtime::Handle,
}

impl Decoder {
    /// Decodes `bytes`; on an unknown schema id asks the registry (retrying while it is
    /// unavailable, until `stop`), learns the schema and decodes again.
    pub fn decode<T: AvroRecord>(&self, bytes: &[u8], stop: &AtomicBool) -> Result<T, CodecError> {
        match self.codec.decode::<T>(bytes) {
            Err(CodecError::UnknownSchemaId(id)) => loop {
                match self.rt.block_on(self.registry.schema_by_id(id)) {
                    Ok(schema) => {
                        self.codec.learn(id, schema);
                        return self.codec.decode::<T>(bytes);
                    }
                    Err(e) if e.is_retryable() && !stop.load(Ordering::SeqCst) => {
                        tracing::warn!(schema_id = id, error = %e, "registry unavailable: retrying");
                        std::thread::sleep(Duration::from_secs(1));
                    }
                    Err(_) => return Err(CodecError::UnknownSchemaId(id)),
                }
            },
            other => other,
        }
    }
}

/// What a view does with the records of its topics.
pub trait Fold: Send + Sync {
    /// Applies one record of `topics[topic]` (`value` `None` = tombstone).
    fn apply(&self, topic: usize, key: Option<&[u8]>, value: Option<&[u8]>, decoder: &Decoder, stop: &AtomicBool);
    /// Called once, when the view has first caught up with the ends observed at start.
    fn caught_up(&self) {}
}

/// One partition's progress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PartitionHealth {
    pub topic: String,
    pub partition: i32,
    /// High watermark observed at start: the view is ready once every partition reached it.
    pub start_end: i64,
    /// Latest observed end.
    pub end: i64,
    /// Next offset the view will read.
    pub position: i64,
    pub caught_up: bool,
}

/// A view's health, as `/readyz` and `/metrics` report it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ViewHealth {
    pub view: &'static str,
    pub topics: Vec<String>,
    /// Every partition caught up with the end observed at start.
    pub ready: bool,
    /// Records behind the latest observed ends (all partitions).
    pub lag: i64,
    /// Records applied since start.
    pub records: u64,
    /// Why the view is not following (a missing topic, a broker error), if it is not.
    pub error: Option<String>,
    pub partitions: Vec<PartitionHealth>,
}

/// Shared, updated by the follower thread, read by HTTP handlers.
pub struct HealthCell {
    view: &'static str,
    topics: Vec<String>,
    ready: AtomicBool,
    records: AtomicU64,
    state: Mutex<(Option<String>, Partitions)>,
}

/// Progress per (topic index, partition).
type Partitions = BTreeMap<(usize, i32), PartitionHealth>;

impl HealthCell {
    pub fn new(view: &'static str, topics: Vec<String>) -> Arc<Self> {
        Arc::new(HealthCell { view, topics, ready: AtomicBool::new(false), records: AtomicU64::new(0), state: Mutex::default() })
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    pub fn snapshot(&self) -> ViewHealth {
        let g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let partitions: Vec<PartitionHealth> = g.1.values().cloned().collect();
        ViewHealth {
            view: self.view,
            topics: self.topics.clone(),
            ready: self.is_ready(),
            lag: partitions.iter().map(|p| (p.end - p.position).max(0)).sum(),
            records: self.records.load(Ordering::Relaxed),
            error: g.0.clone(),
            partitions,
        }
    }

    fn set_error(&self, e: Option<String>) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).0 = e;
    }

    fn update(&self, parts: &Partitions) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).1 = parts.clone();
    }
}

/// Errors setting a follower up (retried by the follower thread; reported in health).
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("topic {0} does not exist")]
    MissingTopic(String),
}

/// Where and what a follower reads.
#[derive(Clone)]
pub struct Source {
    pub brokers: String,
    /// Extra librdkafka settings (`--kafka-config`).
    pub extra: Vec<(String, String)>,
}

/// Logs client errors except partition EOFs (expected: readiness is built on them).
pub struct ViewContext;

impl ClientContext for ViewContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        use RDKafkaLogLevel as L;
        if matches!(level, L::Emerg | L::Alert | L::Critical | L::Error | L::Warning) {
            tracing::warn!(fac, "librdkafka: {log_message}");
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        match error {
            KafkaError::PartitionEOF(_) | KafkaError::Global(RDKafkaErrorCode::PartitionEOF) => {}
            e => tracing::warn!(error = %e, reason, "view consumer error"),
        }
    }
}

impl ConsumerContext for ViewContext {}

type ViewConsumer = BaseConsumer<ViewContext>;

fn consumer(source: &Source, view: &str) -> Result<ViewConsumer, KafkaError> {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &source.brokers)
        // Required by librdkafka even for manual assignment; never joined nor committed.
        .set("group.id", format!("tradeflow-api-{view}-{}-{}", std::process::id(), rand::random::<u32>()))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true")
        .set("isolation.level", "read_committed")
        .set("auto.offset.reset", "earliest");
    for (k, v) in &source.extra {
        c.set(k, v);
    }
    c.create_with_context(ViewContext)
}

struct Followed {
    consumers: Vec<ViewConsumer>,
    parts: Partitions,
}

fn set_up(source: &Source, view: &str, topics: &[String]) -> Result<Followed, FollowError> {
    let mut consumers = Vec::new();
    let mut parts = BTreeMap::new();
    for (i, topic) in topics.iter().enumerate() {
        let c = consumer(source, view)?;
        let md = c.fetch_metadata(Some(topic), METADATA_TIMEOUT)?;
        let ids: Vec<i32> = md.topics().iter().filter(|t| t.name() == topic && t.error().is_none()).flat_map(|t| t.partitions().iter().map(|p| p.id())).collect();
        if ids.is_empty() {
            return Err(FollowError::MissingTopic(topic.clone()));
        }
        let mut tpl = TopicPartitionList::new();
        for p in ids {
            let (low, high) = c.fetch_watermarks(topic, p, METADATA_TIMEOUT)?;
            tpl.add_partition_offset(topic, p, Offset::Beginning)?;
            parts.insert((i, p), PartitionHealth { topic: topic.clone(), partition: p, start_end: high, end: high, position: low, caught_up: low >= high });
        }
        c.assign(&tpl)?;
        consumers.push(c);
    }
    Ok(Followed { consumers, parts })
}

/// Starts the follower thread of one view.
pub fn spawn(
    view: &'static str,
    source: Source,
    topics: Vec<String>,
    fold: Arc<dyn Fold>,
    decoder: Decoder,
    health: Arc<HealthCell>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name(format!("view-{view}"))
        .spawn(move || {
            let mut followed = loop {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                match set_up(&source, view, &topics) {
                    Ok(f) => {
                        health.set_error(None);
                        break f;
                    }
                    Err(e) => {
                        tracing::warn!(view, error = %e, "view cannot follow its topics yet: retrying");
                        health.set_error(Some(e.to_string()));
                        std::thread::sleep(Duration::from_secs(2));
                    }
                }
            };
            run(view, &mut followed, fold.as_ref(), &decoder, &health, &stop);
        })
        .expect("spawning a view thread")
}

fn run(view: &'static str, f: &mut Followed, fold: &dyn Fold, decoder: &Decoder, health: &HealthCell, stop: &AtomicBool) {
    let mut refreshed = Instant::now();
    let mut announced = false;
    while !stop.load(Ordering::SeqCst) {
        let mut idle = true;
        for (i, c) in f.consumers.iter().enumerate() {
            // Drain what is buffered, bounded so one busy topic cannot starve the others.
            for _ in 0..500 {
                match c.poll(if idle { POLL } else { Duration::ZERO }) {
                    None => break,
                    Some(Ok(m)) => {
                        idle = false;
                        fold.apply(i, m.key(), m.payload(), decoder, stop);
                        health.records.fetch_add(1, Ordering::Relaxed);
                        if let Some(p) = f.parts.get_mut(&(i, m.partition())) {
                            p.position = p.position.max(m.offset() + 1);
                            p.end = p.end.max(p.position);
                            p.caught_up |= p.position >= p.start_end;
                        }
                    }
                    Some(Err(KafkaError::PartitionEOF(partition))) => {
                        if let Some(p) = f.parts.get_mut(&(i, partition)) {
                            p.position = p.position.max(p.end);
                            p.caught_up = true;
                        }
                    }
                    Some(Err(e)) => {
                        tracing::warn!(view, error = %e, "consumer error");
                        break;
                    }
                }
            }
        }
        if refreshed.elapsed() >= REFRESH {
            refreshed = Instant::now();
            for ((i, partition), p) in f.parts.iter_mut() {
                if let Ok((_, high)) = f.consumers[*i].fetch_watermarks(&p.topic, *partition, Duration::from_secs(2)) {
                    p.end = p.end.max(high);
                }
            }
        }
        if !announced && f.parts.values().all(|p| p.caught_up) {
            announced = true;
            fold.caught_up();
            health.ready.store(true, Ordering::SeqCst);
            tracing::info!(view, records = health.records.load(Ordering::Relaxed), "view caught up");
        }
        health.update(&f.parts);
    }
}

/// A group of follower threads started together with one stop flag: their health (in
/// start order), readiness and shutdown. Shared by the trading views and the platform's.
pub struct Followers {
    health: Vec<Arc<HealthCell>>,
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Followers {
    /// Starts one follower thread per `(name, topics, fold)`; topic order is the index the
    /// fold receives.
    pub fn start(source: &Source, decoder: &Decoder, views: impl IntoIterator<Item = (&'static str, Vec<String>, Arc<dyn Fold>)>) -> Followers {
        let stop = Arc::new(AtomicBool::new(false));
        let (mut health, mut threads) = (Vec::new(), Vec::new());
        for (name, topics, fold) in views {
            let cell = HealthCell::new(name, topics.clone());
            threads.push(spawn(name, source.clone(), topics, fold, decoder.clone(), cell.clone(), stop.clone()));
            health.push(cell);
        }
        Followers { health, stop, threads }
    }

    /// Every view's health, in start order.
    pub fn health(&self) -> Vec<ViewHealth> {
        self.health.iter().map(|h| h.snapshot()).collect()
    }

    /// Whether every view has caught up since start.
    pub fn ready(&self) -> bool {
        self.health.iter().all(|h| h.is_ready())
    }

    /// Stops the follower threads and waits for them.
    pub fn shutdown(self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads {
            let _ = t.join();
        }
    }
}
