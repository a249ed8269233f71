//! The operator runtime: drives a [`Pipeline`] over Kafka, exactly once.
//!
//! One instance = one consumer (group = pipeline name) + one transactional producer
//! (`transactional.id = <pipeline>-<instance id>`), on a dedicated thread. The loop:
//!
//! 1. poll a record; open a transaction if none is open;
//! 2. decode it (unknown schema ids are fetched from the registry once; poison records go
//!    to the dead-letter topic inside the same transaction);
//! 3. run the operator on the key's state, then stream-time punctuation when the
//!    partition's stream time crosses a multiple of the schedule (every key with state, in
//!    key order, skipping keys whose `punctuation_due` is false), and produce the outputs;
//! 4. every `commit_interval` or `max_batch` records: write the touched keys' state to
//!    the changelog, add the input offsets to the transaction (with the consumer's group
//!    metadata, so a zombie from an older generation is fenced), and commit.
//!
//! Invariants:
//! - Outputs, changelog records and input offsets of a batch commit atomically or not at
//!   all (EOS v2, KIP-447). Downstream consumers read `read_committed`.
//! - On abort (error, or revoke with a transaction open) every store is rolled back to the
//!   last commit and the consumer is rewound to the batch's first offsets.
//! - On assignment, state comes only from the changelog; no local state survives a restart.
//!   Stream time comes from the committed offsets' metadata (`st=<ns>`, written in the same
//!   transaction), so a restarted instance punctuates at the same records as one that never
//!   stopped; on abort it rolls back with the batch.
//! - Fatal errors (fenced producer, corrupt changelog) stop the instance with an error; the
//!   supervisor restarts it and it resumes from the last commit.

mod context;
pub mod restore;

use crate::config::{Guarantee, RuntimeConfig};
use crate::dlq;
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::spec::{DecodeFailure, OutRecord, Pipeline};
use crate::store::PartitionStore;
use context::DriverContext;
use operators::{Operator, PunctuationKind, Timestamp};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use schemas::records::ErrorKind;
use schemas::{Codec, CodecError, RegistryError};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type State<P> = <<P as Pipeline>::Op as Operator>::State;
type Output<P> = <<P as Pipeline>::Op as Operator>::Output;

/// Why an instance stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("restoring state: {0}")]
    Restore(#[from] restore::RestoreError),
    #[error("fatal transaction error: {0}")]
    Fatal(String),
    #[error("encoding an output: {0}")]
    Encode(#[from] CodecError),
}

/// Counts of a finished run (graceful shutdown).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RunSummary {
    pub records_in: u64,
    pub commits: u64,
    pub aborts: u64,
}

/// Everything a running instance shares with its caller.
#[derive(Clone)]
pub struct Handles {
    pub metrics: Metrics,
    /// Set to stop gracefully: the open batch is committed, then the consumer leaves.
    pub shutdown: Arc<AtomicBool>,
    /// Test-only: pause this long after an assignment before restoring (kill-during-restore test).
    pub debug_restore_pause: Duration,
    /// Test-only: abort every Nth batch instead of committing it (0 = never), to exercise
    /// rollback and rewind.
    pub debug_abort_every: u64,
}

struct Batch {
    open: bool,
    started: Instant,
    records: usize,
    /// Next offset to commit per input topic-partition.
    next: BTreeMap<(&'static str, i32), i64>,
    /// First offset of the batch per input topic-partition (rewind target on abort).
    first: BTreeMap<(&'static str, i32), i64>,
    stream_time_at_start: BTreeMap<i32, i64>,
}

impl Batch {
    fn new() -> Self {
        Batch { open: false, started: Instant::now(), records: 0, next: BTreeMap::new(), first: BTreeMap::new(), stream_time_at_start: BTreeMap::new() }
    }
}

/// Runs `pipeline` until `handles.shutdown` is set or a fatal error occurs. Blocking: call
/// it on a dedicated thread (e.g. `tokio::task::spawn_blocking`). `rt` runs registry calls.
pub fn run<P: Pipeline>(
    pipeline: Arc<P>,
    cfg: RuntimeConfig,
    codec: Arc<Codec>,
    registry: Registry,
    handles: Handles,
    rt: tokio::runtime::Handle,
) -> Result<RunSummary, RuntimeError> {
    Driver::new(pipeline, cfg, codec, registry, handles, rt)?.run()
}

struct Driver<P: Pipeline> {
    pipeline: Arc<P>,
    cfg: RuntimeConfig,
    codec: Arc<Codec>,
    registry: Registry,
    handles: Handles,
    rt: tokio::runtime::Handle,
    base: ClientConfig,
    producer: Arc<ThreadedProducer<DefaultProducerContext>>,
    consumer: BaseConsumer<DriverContext>,
    txn_open: Arc<AtomicBool>,
    stores: BTreeMap<i32, PartitionStore<State<P>>>,
    /// Stream time per input partition (largest event time seen). Committed as the offset
    /// metadata (`st=<ns>`) of the partition's input offsets, and restored from it on
    /// assignment, so punctuation fires at the same records after a restart.
    stream_time: BTreeMap<i32, i64>,
    batch: Batch,
    outs: Vec<Output<P>>,
    summary: RunSummary,
    last_wall_punctuation: Instant,
    batches_attempted: u64,
}

fn base_config(cfg: &RuntimeConfig) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &cfg.brokers);
    for (k, v) in &cfg.extra {
        c.set(k, v);
    }
    c
}

impl<P: Pipeline> Driver<P> {
    fn new(
        pipeline: Arc<P>,
        cfg: RuntimeConfig,
        codec: Arc<Codec>,
        registry: Registry,
        handles: Handles,
        rt: tokio::runtime::Handle,
    ) -> Result<Self, RuntimeError> {
        let base = base_config(&cfg);
        let eos = cfg.guarantee == Guarantee::ExactlyOnce;
        let mut pc = base.clone();
        pc.set("partitioner", "murmur2_random")
            .set("linger.ms", "5")
            .set("enable.idempotence", "true")
            .set("message.timeout.ms", cfg.transaction_timeout.as_millis().to_string());
        if eos {
            pc.set("transactional.id", format!("{}-{}", pipeline.name(), cfg.instance_id))
                .set("transaction.timeout.ms", cfg.transaction_timeout.as_millis().to_string());
        }
        let producer: Arc<ThreadedProducer<DefaultProducerContext>> = Arc::new(pc.create()?);
        if eos {
            // Fences any earlier producer with the same transactional id and aborts its open
            // transaction.
            producer.init_transactions(Duration::from_secs(60))?;
        }
        let txn_open = Arc::new(AtomicBool::new(false));
        let ctx = DriverContext {
            producer: producer.clone(),
            txn_open: txn_open.clone(),
            events: Mutex::new(Default::default()),
            transactional: eos,
            lag: handles.metrics.lag.clone(),
        };
        let mut cc = base.clone();
        cc.set("group.id", pipeline.name())
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("isolation.level", "read_committed")
            .set("partition.assignment.strategy", "range")
            // Static membership: a restarted instance gets its partitions back without a
            // group-wide rebalance.
            .set("group.instance.id", format!("{}-{}", pipeline.name(), cfg.instance_id))
            .set("session.timeout.ms", cfg.session_timeout.as_millis().to_string())
            .set("heartbeat.interval.ms", (cfg.session_timeout.as_millis() / 5).max(100).to_string())
            // Feeds the consumer-lag gauge (DriverContext::stats).
            .set("statistics.interval.ms", "5000");
        let consumer: BaseConsumer<DriverContext> = cc.create_with_context(ctx)?;
        consumer.subscribe(pipeline.inputs())?;
        Ok(Driver {
            pipeline,
            cfg,
            codec,
            registry,
            handles,
            rt,
            base,
            producer,
            consumer,
            txn_open,
            stores: BTreeMap::new(),
            stream_time: BTreeMap::new(),
            batch: Batch::new(),
            outs: Vec::new(),
            summary: RunSummary::default(),
            last_wall_punctuation: Instant::now(),
            batches_attempted: 0,
        })
    }

    fn eos(&self) -> bool {
        self.cfg.guarantee == Guarantee::ExactlyOnce
    }

    fn run(mut self) -> Result<RunSummary, RuntimeError> {
        tracing::info!(pipeline = self.pipeline.name(), instance = %self.cfg.instance_id, guarantee = ?self.cfg.guarantee, "starting");
        loop {
            if self.handles.shutdown.load(Ordering::SeqCst) {
                if self.batch.open {
                    self.commit()?;
                }
                break;
            }
            let wait = if self.batch.open {
                self.cfg.commit_interval.saturating_sub(self.batch.started.elapsed()).max(Duration::from_millis(1))
            } else {
                Duration::from_millis(100)
            };
            let inputs = self.pipeline.inputs();
            let polled = self.consumer.poll(wait).map(|r| r.map(|m| detach(m, inputs)));
            self.handle_rebalance()?;
            match polled {
                Some(Ok(m)) => self.process(m)?,
                Some(Err(KafkaError::PartitionEOF(_))) | None => {}
                // Fatal consumer errors (e.g. this static member was fenced by a newer
                // instance with the same id) end the instance; nothing more is committed.
                Some(Err(KafkaError::MessageConsumptionFatal(code))) => {
                    return Err(RuntimeError::Fatal(format!("consumer failed fatally: {code}")));
                }
                Some(Err(e)) => tracing::warn!(error = %e, "consumer error"),
            }
            self.wall_clock_punctuation()?;
            if self.batch.open && (self.batch.records >= self.cfg.max_batch || self.batch.started.elapsed() >= self.cfg.commit_interval) {
                self.commit()?;
            }
        }
        tracing::info!(records_in = self.summary.records_in, commits = self.summary.commits, aborts = self.summary.aborts, "stopped");
        Ok(self.summary.clone())
    }

    fn handle_rebalance(&mut self) -> Result<(), RuntimeError> {
        let ev = self.consumer.context().take();
        if let Some(f) = ev.fatal {
            return Err(RuntimeError::Fatal(f));
        }
        if ev.revoked {
            if self.batch.open {
                // The context aborted the transaction before the revoke completed.
                self.summary.aborts += ev.aborted as u64;
                if ev.aborted {
                    self.handles.metrics.aborts.inc();
                }
                self.batch = Batch::new();
            }
            self.stores.clear();
            self.stream_time.clear();
            self.handles.metrics.assigned_partitions.set(0);
        }
        if !ev.assigned.is_empty() {
            self.handles.metrics.assigned_partitions.set(ev.assigned.len() as i64);
            self.restore(&ev.assigned)?;
        }
        Ok(())
    }

    fn restore(&mut self, assigned: &[(String, i32)]) -> Result<(), RuntimeError> {
        // Waits for a previous owner's pending transaction on these partitions to finish
        // (require_stable offset fetch under read_committed).
        let mut tpl = TopicPartitionList::new();
        for (t, p) in assigned {
            tpl.add_partition(t, *p);
        }
        let committed = self.consumer.committed_offsets(tpl, self.cfg.transaction_timeout * 2)?;
        for e in committed.elements() {
            if let Some(st) = parse_stream_time(e.metadata()) {
                let slot = self.stream_time.entry(e.partition()).or_insert(st);
                *slot = (*slot).max(st);
            }
        }
        let Some(changelog) = self.pipeline.changelog() else {
            return Ok(());
        };
        // Co-partitioned inputs share partition numbers: one store per number.
        let parts: BTreeSet<i32> = assigned.iter().map(|(_, p)| *p).collect();
        let started = Instant::now();
        tracing::info!(partitions = ?parts, "restore started");
        let metrics = self.handles.metrics.clone();
        let pause = self.handles.debug_restore_pause;
        let stores = restore::restore(&*self.pipeline, &self.codec, &self.base, changelog, &parts, self.cfg.transaction_timeout * 4, pause, || {
            metrics.restored.inc();
        })?;
        let keys: usize = stores.values().map(|s| s.len()).sum();
        self.stores.extend(stores);
        tracing::info!(partitions = ?parts, keys, elapsed_ms = started.elapsed().as_millis() as u64,
            committed = ?committed.elements().iter().map(|e| (e.partition(), e.offset())).collect::<Vec<_>>(), "restore finished");
        Ok(())
    }

    fn begin(&mut self) -> Result<(), RuntimeError> {
        if !self.batch.open {
            if self.eos() {
                self.producer.begin_transaction()?;
                self.txn_open.store(true, Ordering::SeqCst);
            }
            self.batch = Batch::new();
            self.batch.open = true;
            self.batch.stream_time_at_start = self.stream_time.clone();
        }
        Ok(())
    }

    fn process(&mut self, m: Detached) -> Result<(), RuntimeError> {
        self.begin()?;
        let tp = (m.topic, m.partition);
        self.batch.first.entry(tp).or_insert(m.offset);
        self.batch.next.insert(tp, m.offset + 1);
        self.batch.records += 1;
        self.summary.records_in += 1;
        self.handles.metrics.records_in.inc();

        let key = match m.key.as_deref().map(std::str::from_utf8) {
            Some(Ok(k)) => k.to_string(),
            Some(Err(_)) => return self.dead_letter(&m, ErrorKind::Invalid, "key is not UTF-8"),
            None => return self.dead_letter(&m, ErrorKind::Invalid, "record has no key"),
        };
        let value = m.payload.as_deref().unwrap_or(&[]);
        if value.len() > self.cfg.max_record_bytes {
            let msg = format!("value of {} bytes exceeds the limit of {}", value.len(), self.cfg.max_record_bytes);
            return self.dead_letter(&m, ErrorKind::TooLarge, &msg);
        }
        let input = match self.decode(m.topic, value) {
            Ok(i) => i,
            Err(Decoded::Poison(f)) => return self.dead_letter(&m, f.kind(), &f.to_string()),
            Err(Decoded::Retry(e)) => return self.abort(&format!("schema registry unavailable: {e}")),
        };
        let time = self.pipeline.event_time(&input, m.timestamp_ms);
        let p = m.partition;
        let op = self.pipeline.operator();
        let outs = &mut self.outs;
        if self.pipeline.changelog().is_some() {
            let store = self.stores.entry(p).or_default();
            store.update(&key, |slot| op.process(&key, slot, input, time, outs));
        } else {
            // Stateless: nothing to keep, restore or roll back.
            op.process(&key, &mut None, input, time, outs);
        }
        self.flush_outputs(time)?;
        self.stream_time_punctuation(p, time)
    }

    fn decode(&self, topic: &str, value: &[u8]) -> Result<<P::Op as Operator>::Input, Decoded> {
        match self.pipeline.decode(&self.codec, topic, value) {
            Err(DecodeFailure::Codec(CodecError::UnknownSchemaId(id))) => {
                match self.rt.block_on(self.registry.schema_by_id(id)) {
                    Ok(schema) => {
                        self.codec.learn(id, schema);
                        self.pipeline.decode(&self.codec, topic, value).map_err(Decoded::Poison)
                    }
                    Err(e) if e.is_retryable() => Err(Decoded::Retry(e)),
                    Err(_) => Err(Decoded::Poison(DecodeFailure::Codec(CodecError::UnknownSchemaId(id)))),
                }
            }
            other => other.map_err(Decoded::Poison),
        }
    }

    /// Advances the partition's stream time; punctuates when it crosses a multiple of the
    /// schedule (never on the first record a partition ever sees: there is nothing to cross).
    fn stream_time_punctuation(&mut self, p: i32, time: Timestamp) -> Result<(), RuntimeError> {
        let prev = self.stream_time.get(&p).copied();
        let st = prev.map_or(time.0, |s| s.max(time.0));
        self.stream_time.insert(p, st);
        let (Some(every), Some(prev)) = (self.pipeline.operator().punctuation().stream_time_every_ns, prev) else {
            return Ok(());
        };
        if every <= 0 || st.div_euclid(every) == prev.div_euclid(every) {
            return Ok(());
        }
        self.punctuate_partition(p, Timestamp(st), PunctuationKind::StreamTime)
    }

    fn wall_clock_punctuation(&mut self) -> Result<(), RuntimeError> {
        let Some(every) = self.pipeline.operator().punctuation().wall_clock_every_ns else {
            return Ok(());
        };
        if self.last_wall_punctuation.elapsed() < Duration::from_nanos(every.max(0) as u64) {
            return Ok(());
        }
        self.last_wall_punctuation = Instant::now();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0);
        let parts: Vec<i32> = self.stores.keys().copied().collect();
        if parts.is_empty() {
            return Ok(());
        }
        self.begin()?;
        for p in parts {
            self.punctuate_partition(p, Timestamp(now), PunctuationKind::WallClock)?;
        }
        Ok(())
    }

    fn punctuate_partition(&mut self, p: i32, time: Timestamp, kind: PunctuationKind) -> Result<(), RuntimeError> {
        let op = self.pipeline.operator();
        if let Some(store) = self.stores.get_mut(&p) {
            for key in store.keys() {
                // Keys with nothing due are neither copied nor written to the changelog.
                if !op.punctuation_due(&key, store.get(&key), time, kind) {
                    continue;
                }
                let outs = &mut self.outs;
                store.update(&key, |slot| op.punctuate(&key, slot, time, kind, outs));
            }
        }
        self.flush_outputs(time)
    }

    fn flush_outputs(&mut self, time: Timestamp) -> Result<(), RuntimeError> {
        let outs = std::mem::take(&mut self.outs);
        for o in &outs {
            let rec = self.pipeline.encode(&self.codec, o)?;
            self.send(&rec, None, time.0 / 1_000_000)?;
            self.handles.metrics.records_out.inc();
        }
        self.outs = outs;
        self.outs.clear();
        Ok(())
    }

    fn send(&self, rec: &OutRecord, headers: Option<OwnedHeaders>, ts_ms: i64) -> Result<(), RuntimeError> {
        send_record(&self.producer, rec.topic, &rec.key, Some(&rec.value), rec.partition, headers, ts_ms)
    }

    fn dead_letter(&mut self, m: &Detached, kind: ErrorKind, error: &str) -> Result<(), RuntimeError> {
        let src = dlq::Source {
            pipeline: self.pipeline.name(),
            topic: m.topic,
            partition: m.partition,
            offset: m.offset,
            key: m.key.as_deref(),
            value: m.payload.as_deref(),
            timestamp_ms: m.timestamp_ms,
        };
        tracing::warn!(topic = %m.topic, partition = m.partition, offset = m.offset, kind = kind.as_str(), error, "dead-lettered");
        let value = self.codec.encode(&dlq::dead_letter(&src, kind, error))?;
        let mut headers = OwnedHeaders::new();
        for (k, v) in dlq::headers(&src, kind, error) {
            headers = headers.insert(Header { key: k, value: Some(v.as_bytes()) });
        }
        let key = String::from_utf8_lossy(m.key.as_deref().unwrap_or_default()).into_owned();
        let rec = OutRecord { topic: schemas::topics::DLQ, key, value, partition: None };
        self.send(&rec, Some(headers), m.timestamp_ms.unwrap_or(0))?;
        self.handles.metrics.dlq.inc();
        Ok(())
    }

    fn commit(&mut self) -> Result<(), RuntimeError> {
        let started = Instant::now();
        self.batches_attempted += 1;
        let n = self.handles.debug_abort_every;
        if n > 0 && self.batches_attempted.is_multiple_of(n) {
            return self.abort("debug: injected abort");
        }
        if let Some(changelog) = self.pipeline.changelog() {
            for (p, store) in &self.stores {
                for (key, value) in store.pending() {
                    let bytes = value.map(|v| self.pipeline.encode_state(&self.codec, &v)).transpose()?;
                    send_record(&self.producer, changelog, &key, bytes.as_deref(), Some(*p), None, 0)?;
                }
            }
        }
        let mut offsets = TopicPartitionList::new();
        for ((t, p), off) in &self.batch.next {
            offsets.add_partition_offset(t, *p, Offset::Offset(*off))?;
            if let (Some(st), Some(mut e)) = (self.stream_time.get(p), offsets.find_partition(t, *p)) {
                e.set_metadata(format_stream_time(*st));
            }
        }
        let result = if self.eos() {
            self.commit_transaction(&offsets)
        } else {
            self.producer
                .flush(self.cfg.transaction_timeout)
                .and_then(|_| if offsets.count() > 0 { self.consumer.commit(&offsets, CommitMode::Sync) } else { Ok(()) })
                .map_err(|e| TxnFailure::Abortable(e.to_string()))
        };
        match result {
            Ok(()) => {
                for s in self.stores.values_mut() {
                    s.mark_committed();
                }
                self.txn_open.store(false, Ordering::SeqCst);
                self.batch = Batch::new();
                self.summary.commits += 1;
                self.handles.metrics.commits.inc();
                self.handles.metrics.commit_latency.observe(started.elapsed().as_secs_f64());
                Ok(())
            }
            Err(TxnFailure::Fatal(e)) => Err(RuntimeError::Fatal(e)),
            Err(TxnFailure::Abortable(e)) => self.abort(&e),
        }
    }

    fn commit_transaction(&self, offsets: &TopicPartitionList) -> Result<(), TxnFailure> {
        let timeout = self.cfg.transaction_timeout;
        if offsets.count() > 0 {
            let meta = self.consumer.group_metadata().ok_or_else(|| TxnFailure::Fatal("no consumer group metadata".into()))?;
            retry_txn(|| self.producer.send_offsets_to_transaction(offsets, &meta, timeout))?;
        }
        retry_txn(|| self.producer.commit_transaction(timeout))
    }

    /// Aborts the open batch: transaction, state, positions.
    fn abort(&mut self, why: &str) -> Result<(), RuntimeError> {
        tracing::warn!(reason = why, records = self.batch.records, "aborting batch");
        if self.eos() && self.txn_open.swap(false, Ordering::SeqCst) {
            abort_transaction(&self.producer, self.cfg.transaction_timeout).map_err(|e| RuntimeError::Fatal(format!("abort failed: {e}")))?;
        }
        for s in self.stores.values_mut() {
            s.rollback();
        }
        self.stream_time = std::mem::take(&mut self.batch.stream_time_at_start);
        for ((t, p), off) in std::mem::take(&mut self.batch.first) {
            self.consumer.seek(t, p, Offset::Offset(off), Duration::from_secs(10))?;
        }
        self.batch = Batch::new();
        self.summary.aborts += 1;
        self.handles.metrics.aborts.inc();
        std::thread::sleep(Duration::from_millis(100));
        Ok(())
    }
}

enum Decoded {
    Poison(DecodeFailure),
    Retry(RegistryError),
}

enum TxnFailure {
    Fatal(String),
    Abortable(String),
}

/// The offset metadata that carries a partition's stream time.
pub fn format_stream_time(st: i64) -> String {
    format!("st={st}")
}

/// The stream time in offset metadata written by [`format_stream_time`] (else `None`).
pub fn parse_stream_time(metadata: &str) -> Option<i64> {
    metadata.strip_prefix("st=")?.parse().ok()
}

/// Aborts the open transaction after letting in-flight records complete.
///
/// The flush's result is ignored: the records are being aborted anyway (a delivery failure
/// is often why we abort). Flushing does not prevent a known librdkafka failure against
/// Kafka's transaction protocol v2 (KIP-890, the 4.x default): the abort intermittently
/// fails with INVALID_TXN_STATE (confluentinc/librdkafka#4849), fatal for the producer; the
/// caller then stops the instance and its restart fences and resumes (see ARCHITECTURE.md).
pub(crate) fn abort_transaction(producer: &ThreadedProducer<DefaultProducerContext>, timeout: Duration) -> Result<(), KafkaError> {
    let _ = producer.flush(timeout);
    producer.abort_transaction(timeout)
}

/// Retries retriable transaction calls; classifies the rest.
fn retry_txn(mut f: impl FnMut() -> Result<(), KafkaError>) -> Result<(), TxnFailure> {
    for _ in 0..5 {
        match f() {
            Ok(()) => return Ok(()),
            Err(KafkaError::Transaction(e)) if e.is_fatal() => return Err(TxnFailure::Fatal(e.to_string())),
            Err(KafkaError::Transaction(e)) if e.is_retriable() && !e.txn_requires_abort() => {
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => return Err(TxnFailure::Abortable(e.to_string())),
        }
    }
    Err(TxnFailure::Abortable("transaction call still retriable after 5 attempts".into()))
}

/// Produces one record, waiting while the local queue is full.
pub(crate) fn send_record(
    producer: &ThreadedProducer<DefaultProducerContext>,
    topic: &str,
    key: &str,
    value: Option<&[u8]>,
    partition: Option<i32>,
    headers: Option<OwnedHeaders>,
    ts_ms: i64,
) -> Result<(), RuntimeError> {
    let mut rec: BaseRecord<'_, str, [u8]> = BaseRecord::to(topic).key(key);
    if let Some(v) = value {
        rec = rec.payload(v);
    }
    if let Some(p) = partition {
        rec = rec.partition(p);
    }
    if let Some(h) = headers {
        rec = rec.headers(h);
    }
    if ts_ms > 0 {
        rec = rec.timestamp(ts_ms);
    }
    loop {
        match producer.send(rec) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                rec = r;
                std::thread::sleep(Duration::from_millis(1));
            }
            Err((e, _)) => return Err(e.into()),
        }
    }
}

/// An owned copy of the parts of a consumed record the driver needs.
struct Detached {
    /// One of the pipeline's input topic names.
    topic: &'static str,
    partition: i32,
    offset: i64,
    key: Option<Vec<u8>>,
    payload: Option<Vec<u8>>,
    timestamp_ms: Option<i64>,
}

fn detach(m: BorrowedMessage<'_>, inputs: &'static [&'static str]) -> Detached {
    // Subscribed topics are exactly the inputs, so the lookup succeeds; a name outside them
    // (never expected) is leaked once rather than mislabelled.
    let topic = inputs.iter().copied().find(|t| *t == m.topic()).unwrap_or_else(|| Box::leak(m.topic().to_string().into_boxed_str()));
    Detached {
        topic,
        partition: m.partition(),
        offset: m.offset(),
        key: m.key().map(<[u8]>::to_vec),
        payload: m.payload().map(<[u8]>::to_vec),
        timestamp_ms: m.timestamp().to_millis(),
    }
}

#[cfg(test)]
mod tests {
    use super::{format_stream_time, parse_stream_time};

    #[test]
    fn stream_time_metadata_round_trips_and_ignores_foreign_metadata() {
        for st in [i64::MIN, -1, 0, 1_772_737_200_000_000_000, i64::MAX] {
            assert_eq!(parse_stream_time(&format_stream_time(st)), Some(st));
        }
        for other in ["", "st=", "st=x", "ts=5", "5"] {
            assert_eq!(parse_stream_time(other), None, "{other:?}");
        }
    }
}
