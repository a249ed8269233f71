//! The ClickHouse sink: one consumer group over the event topics, `read_committed`, batched
//! INSERTs (RowBinary over HTTP), Kafka offsets committed only after ClickHouse acknowledged
//! the batch.
//!
//! Topics (each under `topic_prefix`): `orders.events` -> `order_events_raw`, `executions` ->
//! `executions_raw`, `trades` -> `trades_raw`, `ledger` -> `ledger_postings_raw` (one row per
//! posting), `funding.events` -> `funding_events_raw`; and the dead-letter topic
//! (`dlq_topic`, not prefixed, like the pipelines' shared `dlq`) -> `dead_letters_raw`.
//!
//! Loop:
//! 1. Poll records into an in-memory batch until it holds `batch_records` records or
//!    `batch_interval` has passed since its first record. Each record is decoded, mapped
//!    to its table's row(s) and encoded as RowBinary at once ([`crate::rowbinary`]): the
//!    batch holds one ready request body per table, not rows.
//! 2. Hand the batch to a flush task and keep filling the next batch meanwhile. At most one
//!    flush is in flight: the next one starts only after the previous one finished, so
//!    offsets are committed in batch order, and a batch is never sent after one that could
//!    not be inserted. A rebalance or shutdown first waits for the in-flight flush.
//!    The flush INSERTs each table's rows (one INSERT per non-empty table, its body sent
//!    whole, so ClickHouse never waits for a serializer that shares a CPU with the poll).
//!    A failed INSERT (ClickHouse down, timeout, HTTP error) is retried with exponential
//!    backoff (`retry_initial` up to `retry_max`) until it succeeds or shutdown is
//!    requested; Kafka is not committed meanwhile. Partially applied INSERTs are harmless (rows are idempotent, see the crate
//!    docs).
//! 3. Commit the batch's next offsets, asynchronously (librdkafka sends commits in order;
//!    the loop does not wait for the coordinator). A failed commit is logged; a later commit
//!    covers its offsets, or the records are delivered again and collapse in ClickHouse. A
//!    clean shutdown ends with a synchronous commit of every offset written.
//!
//! Decoding uses [`schemas::Codec`]; a writer schema id the codec does not know is looked up
//! with the caller's [`SchemaLookup`] (registry). An unknown id (registry says not found),
//! a bad frame or an undecodable body makes a `sink_rejects_raw` row; a registry outage
//! blocks and retries like a ClickHouse outage.
//!
//! Rebalances: after any assignment change the open batch is discarded and every assigned
//! partition is rewound to its committed offset, so no record is skipped and none is
//! committed by a member that no longer owns its partition. Static membership
//! (`group.instance.id = <group>-<instance id>`) gives a restarted instance its partitions
//! back without waiting for the session timeout.
//!
//! Limits: a ClickHouse outage longer than `max.poll.interval.ms` (librdkafka default 300 s;
//! pass `--kafka-config max.poll.interval.ms=...`) makes the member leave the group; it
//! rejoins when it polls again and resumes from the committed offsets.
//!
//! Metrics ([`SinkMetrics`]): rows written per table, batches, INSERT retries, batch
//! latency, rejects, and consumer lag from librdkafka's statistics callback
//! (`statistics.interval.ms` = 1 s: per assigned partition, end minus position). Counts of
//! a run are also returned in [`SinkSummary`].

use crate::metrics::SinkMetrics;
use crate::rowbinary::{EncodeError, Encoded};
use crate::rows::{
    DeadLetterRow, ExecutionRow, FundingEventRow, LedgerPostingRow, OrderEventRow, Origin, RowError, SinkRejectRow,
    TradeRow,
};
use clickhouse::Client;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use prometheus_client::metrics::gauge::Gauge;
use rdkafka::statistics::Statistics;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use schemas::records::{DeadLetter, ExecutionReport, FundingEvent, LedgerEntry, OrderEvent, Trade};
use schemas::{AvroRecord, Codec, CodecError};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use futures_util::{FutureExt, StreamExt};
use tokio::task::JoinHandle;

/// Sink settings (`tradeflow sink clickhouse` flags).
#[derive(Clone, Debug)]
pub struct SinkConfig {
    pub brokers: String,
    /// ClickHouse HTTP URL, e.g. `http://127.0.0.1:8123`.
    pub clickhouse_url: String,
    pub database: String,
    /// Prepended to every event topic and to the group id.
    pub topic_prefix: String,
    /// Dead-letter topic, used as is (not prefixed).
    pub dlq_topic: String,
    /// Static member id suffix.
    pub instance_id: String,
    /// Flush when the batch holds this many Kafka records.
    pub batch_records: usize,
    /// Flush when the batch's first record is this old.
    pub batch_interval: Duration,
    pub retry_initial: Duration,
    pub retry_max: Duration,
    /// Timeout of one INSERT (sending plus the server's answer).
    pub insert_timeout: Duration,
    pub session_timeout: Duration,
    /// Extra librdkafka settings.
    pub extra: Vec<(String, String)>,
    /// Consumer group instead of `<prefix>sink-clickhouse` (benchmarks re-read one topic).
    pub group: Option<String>,
}

impl SinkConfig {
    pub fn new(brokers: &str, clickhouse_url: &str) -> Self {
        Self {
            brokers: brokers.to_string(),
            clickhouse_url: clickhouse_url.to_string(),
            database: "tradeflow".into(),
            topic_prefix: String::new(),
            dlq_topic: schemas::topics::DLQ.into(),
            instance_id: "0".into(),
            batch_records: 10_000,
            batch_interval: Duration::from_secs(1),
            retry_initial: Duration::from_millis(200),
            retry_max: Duration::from_secs(10),
            insert_timeout: Duration::from_secs(60),
            session_timeout: Duration::from_secs(10),
            extra: Vec::new(),
            group: None,
        }
    }

    /// The consumer group: `group` if set, else `<prefix>sink-clickhouse`.
    pub fn group_id(&self) -> String {
        if let Some(g) = &self.group {
            return g.clone();
        }
        format!("{}sink-clickhouse", self.topic_prefix)
    }

    /// Every topic the sink reads, with its table.
    pub fn topics(&self) -> Vec<(String, Table)> {
        let p = &self.topic_prefix;
        vec![
            (format!("{p}orders.events"), Table::OrderEvents),
            (format!("{p}executions"), Table::Executions),
            (format!("{p}trades"), Table::Trades),
            (format!("{p}ledger"), Table::LedgerPostings),
            (format!("{p}funding.events"), Table::FundingEvents),
            (self.dlq_topic.clone(), Table::DeadLetters),
        ]
    }
}

/// The raw table a topic goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    OrderEvents,
    Executions,
    Trades,
    LedgerPostings,
    FundingEvents,
    DeadLetters,
}

/// What a schema lookup by id can say.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LookupError {
    /// The registry does not know the id: the record is rejected.
    #[error("schema id not found in the registry")]
    NotFound,
    /// The registry could not be asked: retried.
    #[error("schema registry unavailable: {0}")]
    Unavailable(String),
}

/// Looks a writer schema up by id (the registry behind the codec).
pub type SchemaLookup =
    Arc<dyn Fn(u32) -> Pin<Box<dyn Future<Output = Result<apache_avro::Schema, LookupError>> + Send>> + Send + Sync>;

/// Why the sink stopped.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("Kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A reject row could not be encoded (a bug: its columns are strings and integers). The
    /// sink stops before committing the record, so it is delivered again after a fix.
    #[error("sink_rejects_raw row for {topic}/{partition}@{offset}: {error}")]
    RejectRow { topic: String, partition: i32, offset: i64, error: EncodeError },
}

/// Counts of one run.
#[derive(Debug, Default, Clone, Copy)]
pub struct SinkSummary {
    pub records: u64,
    pub rows: u64,
    pub rejects: u64,
    pub batches: u64,
    pub insert_retries: u64,
    pub discarded_on_rebalance: u64,
    /// When the first record of a committed batch was received (benchmarks).
    pub first_record_at: Option<Instant>,
    /// When the last batch was committed.
    pub last_commit_at: Option<Instant>,
}

/// Counts rebalances so the loop can tell a batch spans one; publishes consumer lag.
struct Ctx {
    generation: AtomicU64,
    lag: Gauge,
}

impl ClientContext for Ctx {
    /// Consumer lag: per assigned partition, its end (last stable offset for this
    /// `read_committed` reader, else the high watermark) minus the position (next offset
    /// to hand out, else the committed offset, else the low watermark), as the runtime does.
    fn stats(&self, stats: Statistics) {
        let mut lag = 0i64;
        for p in stats.topics.values().flat_map(|t| t.partitions.values()).filter(|p| p.partition >= 0 && p.desired) {
            let end = if p.ls_offset >= 0 { p.ls_offset } else { p.hi_offset };
            let position = [p.app_offset, p.committed_offset, p.lo_offset].into_iter().find(|o| *o >= 0);
            if let (true, Some(position)) = (end >= 0, position) {
                lag += (end - position).max(0);
            }
        }
        self.lag.set(lag);
    }
}

impl ConsumerContext for Ctx {
    /// Outcome of an asynchronous offset commit. A failure loses nothing: the records are
    /// in ClickHouse, a later commit covers their offsets, and if none does they are read
    /// again and collapse.
    fn commit_callback(&self, result: rdkafka::error::KafkaResult<()>, offsets: &TopicPartitionList) {
        if let Err(e) = result {
            tracing::warn!(error = %e, partitions = offsets.count(), "sink: offset commit failed; the records may be delivered again");
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => {
                tracing::info!(partitions = tpl.count(), "sink: partitions assigned");
            }
            Rebalance::Revoke(tpl) => tracing::info!(partitions = tpl.count(), "sink: partitions revoked"),
            Rebalance::Error(e) => tracing::warn!(error = %e, "sink: rebalance error"),
        }
        self.generation.fetch_add(1, Ordering::SeqCst);
    }
}

/// The rows of the records polled since the last flush, per table, already encoded
/// ([`Encoded`]), with the offsets to commit once they are in ClickHouse.
#[derive(Default)]
struct Batch {
    orders: Encoded<OrderEventRow>,
    executions: Encoded<ExecutionRow>,
    trades: Encoded<TradeRow>,
    postings: Encoded<LedgerPostingRow>,
    funding: Encoded<FundingEventRow>,
    dead_letters: Encoded<DeadLetterRow>,
    rejects: Encoded<SinkRejectRow>,
    records: usize,
    /// Next offset to commit per (topic, partition).
    next: BTreeMap<String, BTreeMap<i32, i64>>,
    started: Option<Instant>,
    /// When its first record was received.
    first_at: Option<Instant>,
}

impl Batch {
    /// Records `offset` as the next offset to commit for `topic`/`partition` (allocates the
    /// topic name only the first time).
    fn set_next(&mut self, topic: &str, partition: i32, offset: i64) {
        match self.next.get_mut(topic) {
            Some(parts) => {
                parts.insert(partition, offset);
            }
            None => {
                self.next.insert(topic.to_string(), BTreeMap::from([(partition, offset)]));
            }
        }
    }

    /// An empty batch with room for as many bytes per table as `prev` held: batches of one
    /// stream tend to look alike, and growing a buffer of megabytes by doubling copies it
    /// several times.
    fn sized_like(prev: &Batch) -> Batch {
        Batch {
            orders: Encoded::with_capacity(prev.orders.bytes().len()),
            executions: Encoded::with_capacity(prev.executions.bytes().len()),
            trades: Encoded::with_capacity(prev.trades.bytes().len()),
            postings: Encoded::with_capacity(prev.postings.bytes().len()),
            funding: Encoded::with_capacity(prev.funding.bytes().len()),
            dead_letters: Encoded::with_capacity(prev.dead_letters.bytes().len()),
            rejects: Encoded::default(),
            ..Batch::default()
        }
    }

    fn rows(&self) -> usize {
        self.orders.rows()
            + self.executions.rows()
            + self.trades.rows()
            + self.postings.rows()
            + self.funding.rows()
            + self.dead_letters.rows()
            + self.rejects.rows()
    }
}

/// Runs the sink until `shutdown` is set (then flushes and commits the open batch, unless
/// ClickHouse is down, in which case the batch is left uncommitted for the next run).
/// `metrics` is updated as it goes (serve it with `SinkMetrics::render`).
pub async fn run(
    cfg: SinkConfig,
    codec: Arc<Codec>,
    lookup: SchemaLookup,
    shutdown: Arc<AtomicBool>,
    metrics: SinkMetrics,
) -> Result<SinkSummary, SinkError> {
    if cfg.batch_records == 0 {
        return Err(SinkError::Config("batch_records must be at least 1".into()));
    }
    // Topic names shared with every row (`Origin::topic`), so no row copies its name.
    let topics: Vec<(Arc<str>, Table)> = cfg.topics().into_iter().map(|(t, table)| (Arc::from(t), table)).collect();
    let group = cfg.group_id();
    let mut cc = ClientConfig::new();
    cc.set("bootstrap.servers", &cfg.brokers)
        .set("group.id", &group)
        .set("group.instance.id", format!("{group}-{}", cfg.instance_id))
        .set("isolation.level", "read_committed")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("partition.assignment.strategy", "range")
        .set("session.timeout.ms", cfg.session_timeout.as_millis().to_string())
        .set("statistics.interval.ms", "1000")
        // When the prefetch queue is full, librdkafka pauses fetching for this long (default
        // 1000 ms); the sink drains 10,000 records at a time, so a long pause leaves it idle
        // with an empty queue (seen in `tradeflow bench clickhouse`: ~0.65 s stalls).
        .set("fetch.queue.backoff.ms", "20");
    for (k, v) in &cfg.extra {
        cc.set(k, v);
    }
    let consumer: Arc<StreamConsumer<Ctx>> =
        Arc::new(cc.create_with_context(Ctx { generation: AtomicU64::new(0), lag: metrics.consumer_lag.clone() })?);
    let names: Vec<&str> = topics.iter().map(|(t, _)| &**t).collect();
    consumer.subscribe(&names)?;
    let client = Client::default()
        .with_url(&cfg.clickhouse_url)
        .with_database(&cfg.database)
        // RowBinary, no schema fetch: ClickHouse 18.16 has no RowBinaryWithNamesAndTypes.
        .with_validation(false);
    tracing::info!(group, topics = ?names, url = cfg.clickhouse_url, database = cfg.database, "clickhouse sink started");
    let shared = Arc::new(Shared {
        cfg: cfg.clone(),
        client,
        consumer: consumer.clone(),
        shutdown: shutdown.clone(),
        metrics: metrics.clone(),
    });

    let mut summary = SinkSummary::default();
    let mut batch = Batch::default();
    // The batch being inserted and committed while the next one fills (at most one).
    let mut inflight: Option<JoinHandle<Flushed>> = None;
    // Next offsets of everything written and committed asynchronously since the last
    // rebalance; committed synchronously at shutdown.
    let mut written: BTreeMap<String, BTreeMap<i32, i64>> = BTreeMap::new();
    let mut generation = consumer.context().generation.load(Ordering::SeqCst);
    // One stream for the whole run: `recv()` would register and drop a waker per record.
    let mut stream = consumer.stream();
    loop {
        if shutdown.load(Ordering::SeqCst) {
            if settle(&mut inflight, &mut summary, &mut written).await && batch.records > 0 {
                let f = flush(shared.clone(), std::mem::take(&mut batch)).await;
                merge(&mut summary, f.summary);
                for (topic, parts) in f.next {
                    written.entry(topic).or_default().extend(parts);
                }
            }
            break;
        }
        let wait = match batch.started {
            Some(t) => cfg.batch_interval.saturating_sub(t.elapsed()).max(Duration::from_millis(1)),
            None => Duration::from_millis(200),
        };
        // Wait for one record, then take whatever is already fetched without waiting (no
        // timer or waker registration per record), up to the batch size.
        let mut next = match tokio::time::timeout(wait.min(Duration::from_millis(200)), stream.next()).await {
            Ok(Some(r)) => Some(r),
            _ => None,
        };
        while let Some(r) = next.take() {
            match r {
                Ok(m) => {
                    let g = consumer.context().generation.load(Ordering::SeqCst);
                    if g != generation {
                        // Handled below: the open batch is discarded and partitions
                        // rewound; this record is fetched again after the seek.
                        break;
                    }
                    let topic = m.topic();
                    if let Some((name, table)) = topics.iter().find(|(t, _)| &**t == topic) {
                        let origin = Origin { topic: name.clone(), partition: m.partition(), offset: m.offset() };
                        let added = match m.payload() {
                            Some(value) => add_rows(&mut batch, *table, value, &origin, &codec),
                            None => Err(AddError::Rejected("record has no value".into())),
                        };
                        if let Err(failure) = added {
                            add_failed(failure, &mut batch, *table, &m, origin, &codec, &lookup, &cfg, &shutdown, &mut summary, &metrics).await?;
                        }
                        batch.set_next(m.topic(), m.partition(), m.offset() + 1);
                        batch.records += 1;
                        batch.started.get_or_insert_with(Instant::now);
                        batch.first_at.get_or_insert_with(Instant::now);
                        metrics.records_in.inc();
                    }
                }
                Err(e) => tracing::warn!(error = %e, "sink: consumer error"),
            }
            if batch.records >= cfg.batch_records {
                break;
            }
            // Give the runtime back every 128 records (tokio's coop budget): the flush task
            // this loop spawned sits in this worker's LIFO slot, which the other worker
            // cannot steal, so a loop that never yields would run the INSERT only after it
            // filled the whole next batch (fill and insert in series, seen in the benchmark).
            tokio::task::consume_budget().await;
            next = stream.next().now_or_never().flatten();
        }
        let g = consumer.context().generation.load(Ordering::SeqCst);
        if g != generation {
            generation = g;
            settle(&mut inflight, &mut summary, &mut written).await;
            written.clear();
            if batch.records > 0 {
                summary.discarded_on_rebalance += batch.records as u64;
                metrics.discarded_batches.inc();
                batch = Batch::default();
            }
            // Always rewind: a record received after the change was not added.
            rewind(&consumer)?;
            continue;
        }
        let due = batch.started.is_some_and(|t| t.elapsed() >= cfg.batch_interval);
        if batch.records >= cfg.batch_records || (batch.records > 0 && due) {
            // Keep commits in order: the previous batch must be in ClickHouse (and its
            // offsets committed or failed) before this one is sent; if it could not be
            // inserted (shutdown), nothing after it may be committed.
            if !settle(&mut inflight, &mut summary, &mut written).await {
                batch = Batch::default();
                continue;
            }
            let next = Batch::sized_like(&batch);
            inflight = Some(tokio::spawn(flush(shared.clone(), std::mem::replace(&mut batch, next))));
        }
    }
    settle(&mut inflight, &mut summary, &mut written).await;
    let mut tpl = TopicPartitionList::new();
    for (topic, parts) in &written {
        for (partition, next) in parts {
            let _ = tpl.add_partition_offset(topic, *partition, Offset::Offset(*next));
        }
    }
    if tpl.count() > 0 {
        if let Err(e) = consumer.commit(&tpl, CommitMode::Sync) {
            tracing::warn!(error = %e, "sink: final offset commit failed; the last records may be delivered again");
        }
    }
    tracing::info!(?summary, "clickhouse sink stopped");
    Ok(summary)
}

/// What a flush task needs.
struct Shared {
    cfg: SinkConfig,
    client: Client,
    consumer: Arc<StreamConsumer<Ctx>>,
    shutdown: Arc<AtomicBool>,
    metrics: SinkMetrics,
}

/// The outcome of one flush: whether ClickHouse acknowledged every INSERT, and its counts.
struct Flushed {
    inserted: bool,
    summary: SinkSummary,
    /// The offsets it committed (asynchronously), per topic and partition.
    next: BTreeMap<String, BTreeMap<i32, i64>>,
}

/// Waits for the in-flight flush, if any, and adds its counts. `false` if it could not
/// insert its batch (shutdown interrupted the retries) or panicked.
async fn settle(inflight: &mut Option<JoinHandle<Flushed>>, summary: &mut SinkSummary, written: &mut BTreeMap<String, BTreeMap<i32, i64>>) -> bool {
    let Some(h) = inflight.take() else { return true };
    match h.await {
        Ok(f) => {
            merge(summary, f.summary);
            for (topic, parts) in f.next {
                written.entry(topic).or_default().extend(parts);
            }
            f.inserted
        }
        Err(e) => {
            tracing::error!(error = %e, "sink: flush task failed; its batch is left uncommitted");
            false
        }
    }
}

fn merge(total: &mut SinkSummary, s: SinkSummary) {
    total.records += s.records;
    total.rows += s.rows;
    total.rejects += s.rejects;
    total.batches += s.batches;
    total.insert_retries += s.insert_retries;
    total.discarded_on_rebalance += s.discarded_on_rebalance;
    if total.first_record_at.is_none() {
        total.first_record_at = s.first_record_at;
    }
    if s.last_commit_at.is_some() {
        total.last_commit_at = s.last_commit_at;
    }
}

/// Seeks every assigned partition back to its committed offset (or the beginning).
fn rewind(consumer: &StreamConsumer<Ctx>) -> Result<(), SinkError> {
    let assignment = consumer.assignment()?;
    if assignment.count() == 0 {
        return Ok(());
    }
    let committed = consumer.committed_offsets(assignment, Duration::from_secs(30))?;
    let mut tpl = TopicPartitionList::new();
    for e in committed.elements() {
        let to = match e.offset() {
            Offset::Offset(o) => Offset::Offset(o),
            _ => Offset::Beginning,
        };
        tpl.add_partition_offset(e.topic(), e.partition(), to)?;
    }
    consumer.seek_partitions(tpl, Duration::from_secs(30))?;
    tracing::info!("sink: batch discarded after a rebalance; rewound to the committed offsets");
    Ok(())
}

/// Learns writer schema `id` from the registry (retrying while it is down). `Err` says why
/// the record must be rejected.
async fn learn(codec: &Codec, lookup: &SchemaLookup, id: u32, cfg: &SinkConfig, shutdown: &AtomicBool) -> Result<(), String> {
    let mut backoff = cfg.retry_initial;
    loop {
        match lookup(id).await {
            Ok(schema) => {
                codec.learn(id, schema);
                return Ok(());
            }
            Err(LookupError::NotFound) => return Err(format!("unknown schema id {id}")),
            Err(LookupError::Unavailable(e)) => {
                if shutdown.load(Ordering::SeqCst) {
                    return Err(format!("schema id {id}: registry unavailable at shutdown: {e}"));
                }
                tracing::warn!(id, error = e, retry_in = ?backoff, "sink: schema registry unavailable");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(cfg.retry_max);
            }
        }
    }
}

/// Why a record did not become rows.
enum AddError {
    /// Written with a schema id the codec does not know yet: learn it, then try again.
    UnknownSchema(u32),
    /// Bad frame, undecodable body or unmappable value: the record becomes a reject row.
    Rejected(String),
}

/// Decodes `value` with the schemas the codec knows and appends its rows to the batch
/// (synchronous: the per-record hot path has no future to build).
fn add_rows(batch: &mut Batch, table: Table, value: &[u8], origin: &Origin, codec: &Codec) -> Result<(), AddError> {
    fn decoded<T: AvroRecord>(codec: &Codec, value: &[u8]) -> Result<T, AddError> {
        codec.decode::<T>(value).map_err(|e| match e {
            CodecError::UnknownSchemaId(id) => AddError::UnknownSchema(id),
            other => AddError::Rejected(other.to_string()),
        })
    }
    fn rowed<T>(r: Result<T, RowError>) -> Result<T, AddError> {
        r.map_err(|e| AddError::Rejected(e.to_string()))
    }
    match table {
        Table::OrderEvents => batch.orders.push(&rowed(OrderEventRow::new(decoded::<OrderEvent>(codec, value)?, origin))?),
        Table::Executions => batch.executions.push(&rowed(ExecutionRow::new(decoded::<ExecutionReport>(codec, value)?, origin))?),
        Table::Trades => batch.trades.push(&rowed(TradeRow::new(decoded::<Trade>(codec, value)?, origin))?),
        Table::LedgerPostings => batch.postings.extend(&rowed(LedgerPostingRow::rows(decoded::<LedgerEntry>(codec, value)?, origin))?),
        Table::FundingEvents => batch.funding.push(&rowed(FundingEventRow::new(decoded::<FundingEvent>(codec, value)?, origin))?),
        Table::DeadLetters => batch.dead_letters.push(&DeadLetterRow::new(decoded::<DeadLetter>(codec, value)?, origin)),
    }
    .map_err(|e| AddError::Rejected(e.to_string()))
}

/// The slow path of a record that [`add_rows`] could not add: learns an unknown writer
/// schema from the registry and tries again (the only await), else appends a reject row.
#[allow(clippy::too_many_arguments)]
async fn add_failed(
    failure: AddError,
    batch: &mut Batch,
    table: Table,
    m: &BorrowedMessage<'_>,
    origin: Origin,
    codec: &Codec,
    lookup: &SchemaLookup,
    cfg: &SinkConfig,
    shutdown: &AtomicBool,
    summary: &mut SinkSummary,
    metrics: &SinkMetrics,
) -> Result<(), SinkError> {
    let error = match failure {
        AddError::Rejected(e) => e,
        AddError::UnknownSchema(id) => match learn(codec, lookup, id, cfg, shutdown).await {
            Ok(()) => match m.payload().map(|v| add_rows(batch, table, v, &origin, codec)) {
                Some(Ok(())) => return Ok(()),
                Some(Err(AddError::Rejected(e))) => e,
                Some(Err(AddError::UnknownSchema(id))) => format!("schema id {id} still unknown after learning it"),
                None => "record has no value".to_string(),
            },
            Err(e) => e,
        },
    };
    tracing::warn!(topic = &*origin.topic, partition = origin.partition, offset = origin.offset, error, "sink: record rejected");
    batch.rejects.push(&SinkRejectRow::new(&origin, error, m.key(), m.payload())).map_err(|error| SinkError::RejectRow {
        topic: origin.topic.to_string(),
        partition: origin.partition,
        offset: origin.offset,
        error,
    })?;
    summary.rejects += 1;
    metrics.rejects.inc();
    Ok(())
}

/// INSERTs the encoded `rows` into `table`, retrying with backoff. `false` if shutdown
/// interrupted it.
async fn insert_retrying<T: clickhouse::Row + serde::Serialize>(
    cfg: &SinkConfig,
    client: &Client,
    table: &str,
    rows: Encoded<T>,
    shutdown: &AtomicBool,
    summary: &mut SinkSummary,
    metrics: &SinkMetrics,
) -> bool {
    if rows.is_empty() {
        return true;
    }
    let n = rows.rows();
    let body = rows.into_body(table);
    let mut backoff = cfg.retry_initial;
    loop {
        match body.insert(client, cfg.insert_timeout).await {
            Ok(()) => {
                metrics.rows(table, n);
                return true;
            }
            Err(e) => {
                summary.insert_retries += 1;
                metrics.insert_retries.inc();
                if shutdown.load(Ordering::SeqCst) {
                    tracing::warn!(table, error = %e, "sink: INSERT failed at shutdown; batch left uncommitted");
                    return false;
                }
                tracing::warn!(table, rows = n, error = %e, retry_in = ?backoff, "sink: INSERT failed, retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(cfg.retry_max);
            }
        }
    }
}

/// Writes the batch to ClickHouse, then commits its offsets (uncommitted records are
/// delivered again after a restart or rebalance). Runs as its own task while the loop
/// fills the next batch.
async fn flush(shared: Arc<Shared>, mut b: Batch) -> Flushed {
    let Shared { cfg, client, consumer, shutdown, metrics } = &*shared;
    let mut local = SinkSummary::default();
    let summary = &mut local;
    let t0 = Instant::now();
    let rows = b.rows();
    let ok = insert_retrying(cfg, client, "order_events_raw", std::mem::take(&mut b.orders), shutdown, summary, metrics).await
        && insert_retrying(cfg, client, "executions_raw", std::mem::take(&mut b.executions), shutdown, summary, metrics).await
        && insert_retrying(cfg, client, "trades_raw", std::mem::take(&mut b.trades), shutdown, summary, metrics).await
        && insert_retrying(cfg, client, "ledger_postings_raw", std::mem::take(&mut b.postings), shutdown, summary, metrics).await
        && insert_retrying(cfg, client, "funding_events_raw", std::mem::take(&mut b.funding), shutdown, summary, metrics).await
        && insert_retrying(cfg, client, "dead_letters_raw", std::mem::take(&mut b.dead_letters), shutdown, summary, metrics).await
        && insert_retrying(cfg, client, "sink_rejects_raw", std::mem::take(&mut b.rejects), shutdown, summary, metrics).await;
    if !ok {
        return Flushed { inserted: false, summary: local, next: BTreeMap::new() };
    }
    let mut tpl = TopicPartitionList::new();
    for (topic, parts) in &b.next {
        for (partition, next) in parts {
            if let Err(e) = tpl.add_partition_offset(topic, *partition, Offset::Offset(*next)) {
                tracing::warn!(error = %e, "sink: bad offset");
            }
        }
    }
    let inserted_ms = t0.elapsed().as_millis();
    // Asynchronous: librdkafka sends commits in order, and the loop does not wait for the
    // coordinator's answer before the next batch (the answer is logged by the context).
    // A clean shutdown ends with a synchronous commit of everything written.
    match consumer.commit(&tpl, CommitMode::Async) {
        Ok(()) => {
            summary.batches += 1;
            summary.records += b.records as u64;
            summary.rows += rows as u64;
            let now = Instant::now();
            if summary.first_record_at.is_none() {
                summary.first_record_at = b.first_at;
            }
            summary.last_commit_at = Some(now);
            metrics.batches.inc();
            metrics.batch_latency.observe(now.duration_since(t0).as_secs_f64());
            let committed_ms = now.duration_since(t0).as_millis() - inserted_ms;
            tracing::info!(records = b.records, rows, inserted_ms, committed_ms, "sink: batch committed");
        }
        Err(e) => tracing::warn!(error = %e, records = b.records, "sink: offset commit failed; the batch will be delivered again"),
    }
    Flushed { inserted: true, summary: local, next: b.next }
}
