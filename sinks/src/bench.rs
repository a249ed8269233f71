//! `tradeflow bench clickhouse`: the sink against a raw insert, and end-to-end freshness.
//!
//! **Throughput.** `records` execution reports (one row each) are produced once to a fresh
//! topic (`partitions` partitions). Each round then runs, one after the other in alternating
//! order, on fresh identical databases (both migrated):
//! - **sink**: [`crate::sink::run`] under a fresh consumer group, `batch_records` per batch
//!   (the interval is set high so only size closes a batch): Kafka fetch, Avro decode, row
//!   mapping, RowBinary INSERT, synchronous offset commit. Timed from the first record
//!   received to the last commit.
//! - **raw**: the same rows (same values, same Kafka origin columns), already in memory,
//!   INSERTed as RowBinary over HTTP with the same client and batch size. Timed from the
//!   first INSERT to the end of the last. By default ([`RawOrder::Delivery`]) the rows are
//!   batched in the order a consumer of the topic received them (recorded by the
//!   consume-only diagnostic), as the sink's batches are: a batch then holds runs of each
//!   partition, like the sink's, rather than consecutive production indexes, which
//!   ClickHouse compresses ~13% smaller and inserts with less CPU (measured with
//!   `system.query_log`). [`RawOrder::Produced`] keeps production order.
//!
//! Before each phase the benchmark waits until ClickHouse runs no background merge, so a
//! phase does not pay for the merges of the one before it.
//!
//! The ratio sink / raw is reported per round and as the median of the rounds.
//!
//! **Freshness.** A sink with the given batch interval runs on another fresh topic while
//! `freshness_rate` records/s are produced for `freshness_secs`; each record's partition
//! is chosen explicitly, so its offset is known. ClickHouse is polled every 10 ms for the
//! row count per partition; a record is visible once its partition's count exceeds its
//! offset (the sink inserts each partition's records in offset order). Freshness = first
//! poll that sees it - the moment it was handed to the producer; resolution ~10 ms plus
//! the poll's own time. Benchmarks print figures; nothing asserts a speed.

use crate::metrics::SinkMetrics;
use crate::rows::{ExecutionRow, Origin};
use crate::sink::{SchemaLookup, SinkConfig};
use clickhouse::Client;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rust_decimal::Decimal;
use schemas::records::{ExecutionReport, Liquidity, Side};
use schemas::Codec;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Settings of one benchmark run.
#[derive(Clone, Debug)]
pub struct BenchConfig {
    pub brokers: String,
    pub clickhouse_url: String,
    /// Records per throughput round (rounded up to a multiple of `batch_records`).
    pub records: usize,
    pub batch_records: usize,
    pub rounds: usize,
    pub partitions: i32,
    pub freshness_rate: u64,
    pub freshness_secs: u64,
    /// The sink's batch interval in the freshness phase.
    pub freshness_interval: Duration,
    /// The ClickHouse server's process id, to report its CPU time per phase (Linux only).
    pub clickhouse_pid: Option<u32>,
    /// The Kafka broker's process id, to report its CPU time while it serves the sink.
    pub kafka_pid: Option<u32>,
    /// How the raw peer's rows are batched.
    pub raw_order: RawOrder,
}

/// The order in which the raw peer batches the rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RawOrder {
    /// As a consumer of the topic received them (partition runs, like the sink's batches).
    Delivery,
    /// As they were produced (round-robin over partitions: consecutive indexes).
    Produced,
}

/// Why the benchmark failed.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("Kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("ClickHouse at {url}: {source}")]
    ClickHouse { url: String, source: clickhouse::error::Error },
    #[error("migrating {db}: {source}")]
    Migrate { db: String, source: crate::migrate::MigrateError },
    #[error("sink: {0}")]
    Sink(#[from] crate::sink::SinkError),
    #[error("{0}")]
    Other(String),
}

/// One throughput round.
#[derive(Clone, Debug, Serialize)]
pub struct Round {
    pub order: &'static str,
    pub sink_rows_per_s: f64,
    pub raw_rows_per_s: f64,
    pub ratio: f64,
    /// CPU time per row of this process (the sink's fetch, decode, mapping and INSERT
    /// client; or the raw INSERT client), in microseconds.
    pub sink_cpu_us_per_row: Option<f64>,
    pub raw_cpu_us_per_row: Option<f64>,
    /// CPU time per row of the ClickHouse server during each phase (with `clickhouse_pid`;
    /// includes background merges that ran meanwhile).
    pub sink_clickhouse_cpu_us_per_row: Option<f64>,
    pub raw_clickhouse_cpu_us_per_row: Option<f64>,
    /// CPU time per row of the Kafka broker during the sink phase (with `kafka_pid`; the
    /// raw insert does not use Kafka).
    pub sink_kafka_cpu_us_per_row: Option<f64>,
}

/// User + system CPU seconds of a process so far, from `/proc/<pid>/stat` (Linux; the
/// kernel reports clock ticks of 1/100 s, `USER_HZ` on every Linux architecture we run).
fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// CPU seconds of this process, of the ClickHouse server and of the Kafka broker (if known).
fn cpu_now(cfg: &BenchConfig) -> [Option<f64>; 3] {
    [cpu_seconds(None), cfg.clickhouse_pid.and_then(|p| cpu_seconds(Some(p))), cfg.kafka_pid.and_then(|p| cpu_seconds(Some(p)))]
}

/// Microseconds of CPU per row between two readings.
fn per_row(before: Option<f64>, after: Option<f64>, rows: usize) -> Option<f64> {
    Some((after? - before?) * 1e6 / rows as f64)
}

/// Waits (at most 60 s) until ClickHouse runs no background merge.
async fn quiet_merges(client: &Client) -> Result<(), clickhouse::error::Error> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let running: u64 = client.query("SELECT count() FROM system.merges").fetch_one().await?;
        if running == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// The figures of a run (rates and ratios are measurements, not money).
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    pub records: usize,
    pub batch_records: usize,
    pub partitions: i32,
    pub raw_order: RawOrder,
    pub rounds: Vec<Round>,
    pub median_sink_rows_per_s: f64,
    pub median_raw_rows_per_s: f64,
    pub median_ratio: f64,
    /// Diagnostics: the same records read from Kafka with the sink's consumer settings and
    /// nothing else; decoded and mapped to rows in memory and nothing else.
    pub consume_only_records_per_s: f64,
    pub decode_only_records_per_s: f64,
    pub freshness_records: usize,
    pub freshness_interval_ms: u64,
    pub freshness_p50_ms: f64,
    pub freshness_p99_ms: f64,
    pub freshness_max_ms: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return 0.0;
    }
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Nearest-rank percentile of sorted `v`.
fn percentile(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let rank = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

fn execution(i: usize, at_ns: i64) -> ExecutionReport {
    let sym = ["AAPL", "MSFT", "NVDA", "TSLA", "AMZN"][i % 5];
    ExecutionReport {
        exec_id: format!("{sym}.e{i}"),
        trade_id: format!("{sym}.t{}", i / 2),
        account_id: format!("acct{}", i % 500),
        order_id: format!("ord{}", i / 3),
        client_order_id: None,
        symbol: sym.into(),
        side: if i.is_multiple_of(2) { Side::Buy } else { Side::Sell },
        last_qty: Decimal::new((i % 1000 + 1) as i64, 0),
        last_price: Decimal::new(1_000_000 + (i % 99_999) as i64, 4),
        cum_qty: Decimal::new(10, 0),
        leaves_qty: Decimal::ZERO,
        avg_price: Decimal::new(12_345, 2),
        fee: Decimal::new(3, 3),
        liquidity: if i.is_multiple_of(2) { Liquidity::Maker } else { Liquidity::Taker },
        at_ns,
    }
}

const SINK_TOPICS: &[&str] = &["orders.events", "executions", "trades", "ledger", "funding.events", "dlq"];

/// The peer: the `clickhouse` crate's own typed INSERT (it serializes the rows to
/// RowBinary as it sends them), from rows already in memory.
async fn raw_insert(client: &Client, table: &str, rows: &[ExecutionRow]) -> Result<(), clickhouse::error::Error> {
    let timeout = Some(Duration::from_secs(60));
    let mut ins = client.insert::<ExecutionRow>(table).await?.with_timeouts(timeout, timeout);
    for r in rows {
        ins.write(r).await?;
    }
    ins.end().await
}

async fn create_topics(brokers: &str, prefix: &str, partitions: i32) -> Result<(), BenchError> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new().set("bootstrap.servers", brokers).create()?;
    let names: Vec<String> = SINK_TOPICS.iter().map(|t| format!("{prefix}{t}")).collect();
    let topics: Vec<NewTopic<'_>> = names
        .iter()
        .map(|n| NewTopic::new(n, if n.ends_with("executions") { partitions } else { 1 }, TopicReplication::Fixed(1)))
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    for r in admin.create_topics(topics.iter(), &opts).await? {
        if let Err((t, e)) = r {
            return Err(BenchError::Other(format!("creating {t}: {e}")));
        }
    }
    Ok(())
}

async fn delete_topics(brokers: &str, prefixes: &[String]) {
    let Ok(admin) = ClientConfig::new().set("bootstrap.servers", brokers).create::<AdminClient<DefaultClientContext>>() else { return };
    let names: Vec<String> = prefixes.iter().flat_map(|p| SINK_TOPICS.iter().map(move |t| format!("{p}{t}"))).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let _ = admin.delete_topics(&refs, &AdminOptions::new()).await;
}

fn producer(brokers: &str) -> Result<ThreadedProducer<DefaultProducerContext>, BenchError> {
    Ok(ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .create()?)
}

fn send(p: &ThreadedProducer<DefaultProducerContext>, topic: &str, partition: i32, key: &str, value: &[u8]) -> Result<(), BenchError> {
    let mut rec = BaseRecord::to(topic).partition(partition).key(key).payload(value);
    loop {
        match p.send(rec) {
            Ok(()) => return Ok(()),
            Err((rdkafka::error::KafkaError::MessageProduction(rdkafka::types::RDKafkaErrorCode::QueueFull), r)) => {
                rec = r;
                std::thread::sleep(Duration::from_millis(1));
            }
            Err((e, _)) => return Err(e.into()),
        }
    }
}

/// Runs the benchmark; prints progress to stderr.
pub async fn run(cfg: BenchConfig, codec: Arc<Codec>, lookup: SchemaLookup) -> Result<BenchReport, BenchError> {
    if cfg.batch_records == 0 || cfg.partitions <= 0 || cfg.rounds == 0 {
        return Err(BenchError::Other("batch_records, partitions and rounds must be positive".into()));
    }
    let n = cfg.records.div_ceil(cfg.batch_records).max(1) * cfg.batch_records;
    let tag = format!("{}_{}", std::process::id(), std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() % 1_000_000).unwrap_or(0));
    let prefix = format!("bench-ch-{tag}.");
    let topic = format!("{prefix}executions");
    let topic_arc: std::sync::Arc<str> = topic.as_str().into();
    create_topics(&cfg.brokers, &prefix, cfg.partitions).await?;

    // The records, and the very rows the sink will make of them.
    eprintln!("producing {n} execution reports to {topic} ({} partitions)", cfg.partitions);
    let p = producer(&cfg.brokers)?;
    let base_ns: i64 = 1_790_827_200_000_000_000;
    let mut rows = Vec::with_capacity(n);
    let mut values = Vec::with_capacity(n);
    let parts = cfg.partitions as usize;
    for i in 0..n {
        let x = execution(i, base_ns + i as i64 * 1_000_000);
        let value = codec.encode(&x).map_err(|e| BenchError::Other(e.to_string()))?;
        let partition = (i % parts) as i32;
        send(&p, &topic, partition, &x.account_id, &value)?;
        values.push(value.clone());
        let origin = Origin { topic: topic_arc.clone(), partition, offset: (i / parts) as i64 };
        rows.push(ExecutionRow::new(x, &origin).map_err(|e| BenchError::Other(e.to_string()))?);
    }
    p.flush(Duration::from_secs(120))?;
    // Its poll thread would otherwise keep running (and taking CPU) during the rounds.
    drop(p);

    let ch = |db: &str| Client::default().with_url(&cfg.clickhouse_url).with_database(db).with_validation(false);
    let ch_err = |source| BenchError::ClickHouse { url: cfg.clickhouse_url.clone(), source };
    let url = cfg.clickhouse_url.as_str();

    // Diagnostics (not part of the ratio): what the sink's two halves cost alone.
    let (consume_rps, delivered) = consume_only(&cfg.brokers, &topic, &format!("{prefix}consume-only"), n).await?;
    if cfg.raw_order == RawOrder::Delivery {
        rows = in_delivery_order(rows, &delivered, parts)?;
    }
    let t0 = Instant::now();
    for (i, v) in values.iter().enumerate() {
        let x: ExecutionReport = codec.decode(v).map_err(|e| BenchError::Other(e.to_string()))?;
        let origin = Origin { topic: topic_arc.clone(), partition: (i % parts) as i32, offset: (i / parts) as i64 };
        std::hint::black_box(ExecutionRow::new(x, &origin).map_err(|e| BenchError::Other(e.to_string()))?);
    }
    let decode_rps = n as f64 / t0.elapsed().as_secs_f64();
    eprintln!("diagnostics: Kafka consume only {consume_rps:.0} records/s; Avro decode + row mapping only {decode_rps:.0} records/s");

    let mut rounds = Vec::new();
    for r in 0..cfg.rounds {
        let sink_db = format!("bench_{tag}_{r}_sink");
        let raw_db = format!("bench_{tag}_{r}_raw");
        for db in [&sink_db, &raw_db] {
            crate::migrate::migrate(url, db).await.map_err(|source| BenchError::Migrate { db: db.clone(), source })?;
        }
        let sink_first = r % 2 == 0;
        let mut sink_rps = 0.0;
        let mut raw_rps = 0.0;
        let (mut sink_cpu, mut raw_cpu) = ([None; 3], [None; 3]);
        for step in 0..2 {
            // Each phase starts on an idle server: merges left by the previous phase would
            // otherwise take CPU from this one's INSERTs (and be counted in its CPU time).
            quiet_merges(&ch("system")).await.map_err(ch_err)?;
            let before = cpu_now(&cfg);
            if (step == 0) == sink_first {
                let mut sc = SinkConfig::new(&cfg.brokers, &cfg.clickhouse_url);
                sc.database = sink_db.clone();
                sc.topic_prefix = prefix.clone();
                sc.dlq_topic = format!("{prefix}dlq");
                sc.batch_records = cfg.batch_records;
                sc.batch_interval = Duration::from_secs(600);
                sc.group = Some(format!("{prefix}bench-{r}"));
                let (summary, _) = run_sink_until(sc, codec.clone(), lookup.clone(), |m| m.batches.get() as usize * cfg.batch_records >= n).await?;
                let elapsed = match (summary.first_record_at, summary.last_commit_at) {
                    (Some(a), Some(b)) => b.duration_since(a),
                    _ => return Err(BenchError::Other("the sink committed nothing".into())),
                };
                sink_rps = summary.rows as f64 / elapsed.as_secs_f64();
                let after = cpu_now(&cfg);
                sink_cpu = std::array::from_fn(|i| per_row(before[i], after[i], n));
            } else {
                let client = ch(&raw_db);
                let t0 = Instant::now();
                for chunk in rows.chunks(cfg.batch_records) {
                    raw_insert(&client, "executions_raw", chunk).await.map_err(ch_err)?;
                }
                raw_rps = n as f64 / t0.elapsed().as_secs_f64();
                let after = cpu_now(&cfg);
                raw_cpu = std::array::from_fn(|i| per_row(before[i], after[i], n));
            }
        }
        for db in [&sink_db, &raw_db] {
            let count: u64 = ch(db).query("SELECT count() FROM executions_raw").fetch_one().await.map_err(ch_err)?;
            if count as usize != n {
                return Err(BenchError::Other(format!("{db}.executions_raw holds {count} rows, expected {n}")));
            }
        }
        for db in [&sink_db, &raw_db] {
            let _ = Client::default().with_url(url).query_raw(&format!("DROP DATABASE IF EXISTS {db}")).execute().await;
        }
        let round = Round {
            order: if sink_first { "sink,raw" } else { "raw,sink" },
            sink_rows_per_s: sink_rps,
            raw_rows_per_s: raw_rps,
            ratio: sink_rps / raw_rps,
            sink_cpu_us_per_row: sink_cpu[0],
            raw_cpu_us_per_row: raw_cpu[0],
            sink_clickhouse_cpu_us_per_row: sink_cpu[1],
            raw_clickhouse_cpu_us_per_row: raw_cpu[1],
            sink_kafka_cpu_us_per_row: sink_cpu[2],
        };
        let us = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
        eprintln!(
            "round {}: sink {:.0} rows/s, raw {:.0} rows/s, ratio {:.3} ({}); CPU us/row: sink {} + ClickHouse {} + Kafka {}, raw {} + ClickHouse {}",
            r + 1,
            round.sink_rows_per_s,
            round.raw_rows_per_s,
            round.ratio,
            round.order,
            us(round.sink_cpu_us_per_row),
            us(round.sink_clickhouse_cpu_us_per_row),
            us(round.sink_kafka_cpu_us_per_row),
            us(round.raw_cpu_us_per_row),
            us(round.raw_clickhouse_cpu_us_per_row),
        );
        rounds.push(round);
    }

    let fresh = freshness(&cfg, &tag, codec, lookup).await;
    delete_topics(&cfg.brokers, &[prefix, format!("bench-ch-{tag}-fresh.")]).await;
    let mut fresh = fresh?;
    fresh.sort_by(|a, b| a.total_cmp(b));
    Ok(BenchReport {
        records: n,
        batch_records: cfg.batch_records,
        partitions: cfg.partitions,
        raw_order: cfg.raw_order,
        median_sink_rows_per_s: median(rounds.iter().map(|r| r.sink_rows_per_s).collect()),
        median_raw_rows_per_s: median(rounds.iter().map(|r| r.raw_rows_per_s).collect()),
        median_ratio: median(rounds.iter().map(|r| r.ratio).collect()),
        rounds,
        consume_only_records_per_s: consume_rps,
        decode_only_records_per_s: decode_rps,
        freshness_records: fresh.len(),
        freshness_interval_ms: cfg.freshness_interval.as_millis() as u64,
        freshness_p50_ms: percentile(&fresh, 0.50),
        freshness_p99_ms: percentile(&fresh, 0.99),
        freshness_max_ms: fresh.last().copied().unwrap_or(0.0),
    })
}

/// Runs a sink until `done(metrics)`, then stops it and returns its summary.
async fn run_sink_until(
    sc: SinkConfig,
    codec: Arc<Codec>,
    lookup: SchemaLookup,
    done: impl Fn(&SinkMetrics) -> bool,
) -> Result<(crate::sink::SinkSummary, SinkMetrics), BenchError> {
    let metrics = SinkMetrics::new();
    let shutdown = Arc::new(AtomicBool::new(false));
    let task = tokio::spawn(crate::sink::run(sc, codec, lookup, shutdown.clone(), metrics.clone()));
    let deadline = Instant::now() + Duration::from_secs(600);
    while !done(&metrics) {
        if task.is_finished() || Instant::now() > deadline {
            shutdown.store(true, Ordering::SeqCst);
            return Err(BenchError::Other("the sink stopped or did not finish within 600 s".into()));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    shutdown.store(true, Ordering::SeqCst);
    let summary = task.await.map_err(|e| BenchError::Other(e.to_string()))??;
    Ok((summary, metrics))
}

/// `rows` (row `i` = record `i`, on partition `i % parts` at offset `i / parts`) in the
/// order of `delivered` ((partition, offset) as a consumer received them); an error unless
/// `delivered` names every record exactly once.
fn in_delivery_order(rows: Vec<ExecutionRow>, delivered: &[(i32, i64)], parts: usize) -> Result<Vec<ExecutionRow>, BenchError> {
    let mut slots: Vec<Option<ExecutionRow>> = rows.into_iter().map(Some).collect();
    let n = slots.len();
    let out: Option<Vec<ExecutionRow>> = delivered
        .iter()
        .map(|&(p, o)| {
            let i = usize::try_from(o).ok()?.checked_mul(parts)?.checked_add(usize::try_from(p).ok()?)?;
            slots.get_mut(i)?.take()
        })
        .collect();
    match out {
        Some(v) if v.len() == n => Ok(v),
        _ => Err(BenchError::Other(format!(
            "the consume-only pass did not deliver each of the {n} records exactly once ({} deliveries)",
            delivered.len()
        ))),
    }
}

/// Reads `n` records of `topic` with the sink's consumer settings, doing nothing with them
/// but note their (partition, offset); records/s from the first record to the n-th, and
/// the delivery order.
async fn consume_only(brokers: &str, topic: &str, group: &str, n: usize) -> Result<(f64, Vec<(i32, i64)>), BenchError> {
    use futures_util::StreamExt;
    use rdkafka::consumer::{Consumer, StreamConsumer};
    let c: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("isolation.level", "read_committed")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("partition.assignment.strategy", "range")
        .set("fetch.queue.backoff.ms", "20")
        .create()?;
    c.subscribe(&[topic])?;
    let mut stream = c.stream();
    let mut first = None;
    let mut order = Vec::with_capacity(n);
    let deadline = Instant::now() + Duration::from_secs(300);
    // The sink's read pattern: wait for one record, then drain what is already fetched.
    while order.len() < n && Instant::now() < deadline {
        let mut next = tokio::time::timeout(Duration::from_secs(1), stream.next()).await.ok().flatten();
        while let Some(r) = next.take() {
            if let Ok(m) = r {
                first.get_or_insert_with(Instant::now);
                std::hint::black_box(rdkafka::Message::payload(&m).map(<[u8]>::len));
                order.push((rdkafka::Message::partition(&m), rdkafka::Message::offset(&m)));
            }
            if order.len() >= n {
                break;
            }
            tokio::task::consume_budget().await;
            next = futures_util::FutureExt::now_or_never(stream.next()).flatten();
        }
    }
    let Some(first) = first else { return Err(BenchError::Other("consume-only read nothing".into())) };
    Ok((order.len() as f64 / first.elapsed().as_secs_f64(), order))
}

#[derive(clickhouse::Row, Deserialize)]
struct PartCount {
    partition: i32,
    rows: u64,
}

/// Freshness samples in milliseconds (see the module docs).
async fn freshness(cfg: &BenchConfig, tag: &str, codec: Arc<Codec>, lookup: SchemaLookup) -> Result<Vec<f64>, BenchError> {
    let prefix = format!("bench-ch-{tag}-fresh.");
    let topic = format!("{prefix}executions");
    let db = format!("bench_{tag}_fresh");
    create_topics(&cfg.brokers, &prefix, cfg.partitions).await?;
    crate::migrate::migrate(&cfg.clickhouse_url, &db).await.map_err(|source| BenchError::Migrate { db: db.clone(), source })?;
    let client = Client::default().with_url(&cfg.clickhouse_url).with_database(&db).with_validation(false);
    let ch_err = |source| BenchError::ClickHouse { url: cfg.clickhouse_url.clone(), source };

    let mut sc = SinkConfig::new(&cfg.brokers, &cfg.clickhouse_url);
    sc.database = db.clone();
    sc.topic_prefix = prefix.clone();
    sc.dlq_topic = format!("{prefix}dlq");
    sc.batch_records = cfg.batch_records;
    sc.batch_interval = cfg.freshness_interval;
    let shutdown = Arc::new(AtomicBool::new(false));
    let sink = tokio::spawn(crate::sink::run(sc, codec.clone(), lookup, shutdown.clone(), SinkMetrics::new()));

    // Warm-up: one record on partition 0, visible once the sink has joined and inserted.
    let p = producer(&cfg.brokers)?;
    let warm = execution(0, 0);
    send(&p, &topic, 0, &warm.account_id, &codec.encode(&warm).map_err(|e| BenchError::Other(e.to_string()))?)?;
    p.flush(Duration::from_secs(30))?;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let c: u64 = client.query("SELECT count() FROM executions_raw").fetch_one().await.map_err(ch_err)?;
        if c >= 1 {
            break;
        }
        if Instant::now() > deadline || sink.is_finished() {
            shutdown.store(true, Ordering::SeqCst);
            return Err(BenchError::Other("freshness: the sink did not write the warm-up record within 120 s".into()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let total = (cfg.freshness_rate * cfg.freshness_secs) as usize;
    let parts = cfg.partitions as usize;
    eprintln!("freshness: {total} records at {}/s, sink batch interval {:?}", cfg.freshness_rate, cfg.freshness_interval);
    // Producer thread: records the instant each record is handed to the producer.
    let (brokers, topic2, codec2, rate) = (cfg.brokers.clone(), topic.clone(), codec.clone(), cfg.freshness_rate);
    let produced = tokio::task::spawn_blocking(move || -> Result<Vec<Instant>, BenchError> {
        let p = producer(&brokers)?;
        let start = Instant::now();
        let mut at = Vec::with_capacity(total);
        for i in 0..total {
            let due = start + Duration::from_secs_f64(i as f64 / rate as f64);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let x = execution(1_000_000_000 + i, 1_790_827_200_000_000_000 + i as i64);
            let value = codec2.encode(&x).map_err(|e| BenchError::Other(e.to_string()))?;
            at.push(Instant::now());
            send(&p, &topic2, (i % parts) as i32, &x.account_id, &value)?;
        }
        p.flush(Duration::from_secs(60))?;
        Ok(at)
    });
    // Poller: visible[i] = first poll instant whose count for i's partition exceeds its offset.
    let mut seen: Vec<Option<Instant>> = vec![None; total];
    let mut visible_per_part = vec![0usize; parts];
    let deadline = Instant::now() + Duration::from_secs(cfg.freshness_secs + 120);
    while visible_per_part.iter().sum::<usize>() < total && Instant::now() < deadline {
        let counts: Vec<PartCount> = client
            .query("SELECT kafka_partition, count() FROM executions_raw GROUP BY kafka_partition")
            .fetch_all()
            .await
            .map_err(ch_err)?;
        let now = Instant::now();
        for c in counts {
            let part = c.partition as usize;
            if part >= parts {
                continue;
            }
            let measured = c.rows as usize - usize::from(part == 0); // minus the warm-up record
            while visible_per_part[part] < measured {
                let i = visible_per_part[part] * parts + part;
                if i < total {
                    seen[i] = Some(now);
                }
                visible_per_part[part] += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let produced = produced.await.map_err(|e| BenchError::Other(e.to_string()))??;
    shutdown.store(true, Ordering::SeqCst);
    let _ = sink.await;
    let _ = Client::default().with_url(&cfg.clickhouse_url).query_raw(&format!("DROP DATABASE IF EXISTS {db}")).execute().await;
    let mut out = Vec::with_capacity(total);
    for (i, s) in seen.iter().enumerate() {
        match s {
            Some(v) => out.push(v.saturating_duration_since(produced[i]).as_secs_f64() * 1000.0),
            None => return Err(BenchError::Other(format!("freshness: record {i} never became visible"))),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_rows_follow_the_delivery_order_and_every_record_once() {
        let topic: std::sync::Arc<str> = "t".into();
        let rows: Vec<ExecutionRow> = (0..6)
            .map(|i| ExecutionRow::new(execution(i, 0), &Origin { topic: topic.clone(), partition: (i % 2) as i32, offset: (i / 2) as i64 }).unwrap())
            .collect();
        let delivered = [(1, 0), (1, 1), (1, 2), (0, 0), (0, 1), (0, 2)];
        let got = in_delivery_order(rows.clone(), &delivered, 2).unwrap();
        let idx: Vec<(i32, i64)> = got.iter().map(|r| (r.kafka_partition, r.kafka_offset)).collect();
        assert_eq!(idx, delivered);
        assert_eq!(got[0], rows[1]);
        assert!(in_delivery_order(rows.clone(), &delivered[..5], 2).is_err(), "a record missing");
        assert!(in_delivery_order(rows.clone(), &[(1, 0), (1, 0), (1, 2), (0, 0), (0, 1), (0, 2)], 2).is_err(), "a duplicate");
        assert!(in_delivery_order(rows, &[(1, 0), (1, 1), (1, 2), (0, 0), (0, 1), (0, 3)], 2).is_err(), "out of range");
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), 50.0);
        assert_eq!(percentile(&v, 0.99), 99.0);
        assert_eq!(percentile(&[7.0], 0.99), 7.0);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
