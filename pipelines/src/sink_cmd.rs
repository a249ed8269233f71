//! `tradeflow sink clickhouse`, `tradeflow clickhouse migrate` and `tradeflow bench
//! clickhouse` (the `sinks` crate).

use anyhow::Context;
use clap::{Args, Subcommand};
use pipelines::registry::Registry;
use schemas::registry::RegistryError;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

#[derive(Subcommand)]
pub enum SinkCmd {
    /// Copy the event topics into ClickHouse (run `tradeflow clickhouse migrate` first).
    Clickhouse(ClickhouseSinkArgs),
}

#[derive(Subcommand)]
pub enum ClickhouseCmd {
    /// Apply the schema migrations in order (idempotent).
    Migrate {
        /// ClickHouse HTTP URL.
        #[arg(long, env = "CLICKHOUSE_URL")]
        url: String,
        #[arg(long, default_value = "tradeflow")]
        database: String,
    },
    /// Print, as one JSON document, every SQL statement Tradeflow sends to ClickHouse for
    /// `--database`: a migration run (database, bookkeeping, each file's statements) and
    /// every report query with sample arguments bound. For checking other ClickHouse
    /// versions with the same SQL (tests/clients/clickhouse_current_check.py); connects to
    /// nothing.
    PrintSql {
        #[arg(long, default_value = "tradeflow")]
        database: String,
        /// Account bound into the account-scoped report queries.
        #[arg(long, default_value = "acc-sample")]
        account: String,
        /// First UTC day (YYYY-MM-DD) of the date-range report queries; the nanosecond
        /// range queries use [from 00:00, to + 1 day 00:00) UTC.
        #[arg(long, default_value = "2026-10-01")]
        from: String,
        /// Last UTC day, inclusive.
        #[arg(long, default_value = "2026-10-31")]
        to: String,
    },
}

#[derive(Args)]
pub struct ClickhouseSinkArgs {
    #[arg(long, env = "KAFKA_BROKERS", default_value = "127.0.0.1:19092")]
    brokers: String,
    /// ClickHouse HTTP URL.
    #[arg(long, env = "CLICKHOUSE_URL")]
    url: String,
    #[arg(long, default_value = "tradeflow")]
    database: String,
    /// `embedded` or the URL of a Confluent-compatible schema registry.
    #[arg(long, env = "SCHEMA_REGISTRY_URL", default_value = "embedded")]
    registry: String,
    /// Prefix of the event topics and of the group (`<prefix>sink-clickhouse`).
    #[arg(long, default_value = "")]
    topic_prefix: String,
    /// Dead-letter topic (not prefixed).
    #[arg(long, default_value = schemas::topics::DLQ)]
    dlq_topic: String,
    /// Stable instance id (static group membership).
    #[arg(long, default_value = "0")]
    instance_id: String,
    /// Flush a batch at this many Kafka records ...
    #[arg(long, default_value_t = 10_000)]
    batch_records: usize,
    /// ... or when its first record is this old.
    #[arg(long, default_value_t = 1000)]
    batch_interval_ms: u64,
    /// First retry delay after a failed INSERT (doubles up to --retry-max-ms).
    #[arg(long, default_value_t = 200)]
    retry_initial_ms: u64,
    #[arg(long, default_value_t = 10_000)]
    retry_max_ms: u64,
    #[arg(long, default_value_t = 60_000)]
    insert_timeout_ms: u64,
    #[arg(long, default_value_t = 10_000)]
    session_timeout_ms: u64,
    /// Extra librdkafka settings, `key=value` (repeatable).
    #[arg(long = "kafka-config", value_parser = crate::parse_kv)]
    kafka_config: Vec<(String, String)>,
    /// Serve /metrics and /healthz here (port 0 = any free port, printed at start).
    #[arg(long, alias = "metrics")]
    metrics_addr: Option<String>,
}

#[derive(Args)]
pub struct ClickhouseBenchArgs {
    #[arg(long, env = "KAFKA_BROKERS", default_value = "127.0.0.1:19092")]
    brokers: String,
    /// ClickHouse HTTP URL.
    #[arg(long, env = "CLICKHOUSE_URL")]
    url: String,
    /// Records per throughput round (rounded up to a multiple of --batch-records).
    #[arg(long, default_value_t = 200_000)]
    records: usize,
    /// Batch size of both the sink and the raw insert (the sink's default).
    #[arg(long, default_value_t = 10_000)]
    batch_records: usize,
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    #[arg(long, default_value_t = 6)]
    partitions: i32,
    /// Freshness phase: records per second ...
    #[arg(long, default_value_t = 2000)]
    freshness_rate: u64,
    /// ... for this many seconds ...
    #[arg(long, default_value_t = 15)]
    freshness_secs: u64,
    /// ... with this sink batch interval (the sink's default: 1000 ms).
    #[arg(long, default_value_t = 1000)]
    freshness_interval_ms: u64,
    /// Process id of the ClickHouse server, to report its CPU time per phase (diagnostics;
    /// e.g. `$(cat /tmp/tradeflow-clickhouse/clickhouse.pid)`).
    #[arg(long)]
    clickhouse_pid: Option<u32>,
    /// Process id of the Kafka broker, to report its CPU time while it serves the sink
    /// (diagnostics; e.g. `$(cat /tmp/tradeflow-kafka/kafka.pid)`).
    #[arg(long)]
    kafka_pid: Option<u32>,
    /// How the raw peer batches the rows: `delivery` (as a consumer of the topic received
    /// them, like the sink's batches) or `produced` (production order).
    #[arg(long, value_enum, default_value_t = RawOrderArg::Delivery)]
    raw_order: RawOrderArg,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum RawOrderArg {
    Delivery,
    Produced,
}

/// The embedded-or-HTTP registry as the sink's codec and schema lookup.
async fn codec_and_lookup(registry: &str) -> anyhow::Result<(Arc<schemas::Codec>, sinks::SchemaLookup)> {
    let registry = Registry::from_arg(registry);
    let codec = Arc::new(registry.codec().await.context("registering schemas")?);
    let lookup: sinks::SchemaLookup = Arc::new(move |id| {
        let registry = registry.clone();
        Box::pin(async move {
            registry.schema_by_id(id).await.map_err(|e| match e {
                RegistryError::SchemaNotFound(_) => sinks::LookupError::NotFound,
                other => sinks::LookupError::Unavailable(other.to_string()),
            })
        })
    });
    Ok((codec, lookup))
}

/// `tradeflow bench clickhouse`: prints progress on stderr, one JSON line on stdout.
pub async fn bench(a: ClickhouseBenchArgs) -> anyhow::Result<()> {
    let (codec, lookup) = codec_and_lookup("embedded").await?;
    let cfg = sinks::bench::BenchConfig {
        brokers: a.brokers,
        clickhouse_url: a.url,
        records: a.records,
        batch_records: a.batch_records,
        rounds: a.rounds,
        partitions: a.partitions,
        freshness_rate: a.freshness_rate,
        freshness_secs: a.freshness_secs,
        freshness_interval: Duration::from_millis(a.freshness_interval_ms),
        clickhouse_pid: a.clickhouse_pid,
        kafka_pid: a.kafka_pid,
        raw_order: match a.raw_order {
            RawOrderArg::Delivery => sinks::bench::RawOrder::Delivery,
            RawOrderArg::Produced => sinks::bench::RawOrder::Produced,
        },
    };
    let report = sinks::bench::run(cfg, codec, lookup).await.context("clickhouse benchmark")?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

pub async fn migrate(cmd: ClickhouseCmd) -> anyhow::Result<()> {
    let (url, database) = match cmd {
        ClickhouseCmd::Migrate { url, database } => (url, database),
        ClickhouseCmd::PrintSql { database, account, from, to } => return print_sql(&database, &account, &from, &to),
    };
    let applied = sinks::migrate(&url, &database).await.context("clickhouse migrate")?;
    if applied.is_empty() {
        println!("{database}: up to date ({} migrations)", sinks::MIGRATIONS.len());
    } else {
        for f in &applied {
            println!("{database}: applied {f}");
        }
    }
    Ok(())
}

/// `tradeflow clickhouse print-sql`.
fn print_sql(database: &str, account: &str, from: &str, to: &str) -> anyhow::Result<()> {
    use sinks::migrate;
    use sinks::reports::time::parse_date;
    const DAY_NS: i64 = 86_400 * 1_000_000_000;
    let (from, to) = (parse_date(from)?, parse_date(to)?);
    // Validates the database name as every report does; connects to nothing.
    let source = sinks::reports::ReportSource::new("http://127.0.0.1:8123", database)?;
    let reports = source.queries(account, from.epoch_days() * DAY_NS, (to.epoch_days() + 1) * DAY_NS, from, to);
    let files: Vec<serde_json::Value> = sinks::MIGRATIONS
        .iter()
        .map(|m| {
            serde_json::json!({
                "name": m.name,
                "checksum": migrate::checksum(m.sql),
                "statements": migrate::statements(m.sql, database),
                "record": migrate::record_sql(database, m.name, &migrate::checksum(m.sql)),
            })
        })
        .collect();
    let doc = serde_json::json!({
        "database": database,
        "migrate": {
            "create_database": migrate::create_database_sql(database),
            "schema_migrations": migrate::schema_migrations_ddl(database),
            "applied": migrate::applied_sql(database),
            "files": files,
        },
        "reports": reports,
    });
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(())
}

pub async fn run(cmd: SinkCmd) -> anyhow::Result<()> {
    let SinkCmd::Clickhouse(a) = cmd;
    let (codec, lookup) = codec_and_lookup(&a.registry).await?;
    let metrics = sinks::SinkMetrics::new();
    if let Some(addr) = &a.metrics_addr {
        let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
        let local = listener.local_addr()?;
        let m = metrics.clone();
        let router = api::ops::router(Arc::new(move || m.render()));
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::error!(error = %e, "metrics server stopped");
            }
        });
        println!("metrics: http://{local}/metrics");
        tracing::info!(%local, "sink metrics served");
    }
    let mut cfg = sinks::SinkConfig::new(&a.brokers, &a.url);
    cfg.database = a.database;
    cfg.topic_prefix = a.topic_prefix;
    cfg.dlq_topic = a.dlq_topic;
    cfg.instance_id = a.instance_id;
    cfg.batch_records = a.batch_records;
    cfg.batch_interval = Duration::from_millis(a.batch_interval_ms);
    cfg.retry_initial = Duration::from_millis(a.retry_initial_ms);
    cfg.retry_max = Duration::from_millis(a.retry_max_ms);
    cfg.insert_timeout = Duration::from_millis(a.insert_timeout_ms);
    cfg.session_timeout = Duration::from_millis(a.session_timeout_ms);
    cfg.extra = a.kafka_config;
    let shutdown = Arc::new(AtomicBool::new(false));
    crate::shutdown_on_signal(shutdown.clone());
    let s = sinks::run(cfg, codec, lookup, shutdown, metrics).await.context("clickhouse sink")?;
    println!(
        "stopped: {} records, {} rows, {} rejects in {} batches ({} INSERT retries)",
        s.records, s.rows, s.rejects, s.batches, s.insert_retries
    );
    Ok(())
}
