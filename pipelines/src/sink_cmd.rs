//! `tradeflow sink clickhouse` and `tradeflow clickhouse migrate` (the `sinks` crate).

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
}

pub async fn migrate(cmd: ClickhouseCmd) -> anyhow::Result<()> {
    let ClickhouseCmd::Migrate { url, database } = cmd;
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

pub async fn run(cmd: SinkCmd) -> anyhow::Result<()> {
    let SinkCmd::Clickhouse(a) = cmd;
    let registry = Registry::from_arg(&a.registry);
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
    let s = sinks::run(cfg, codec, lookup, shutdown).await.context("clickhouse sink")?;
    println!(
        "stopped: {} records, {} rows, {} rejects in {} batches ({} INSERT retries)",
        s.records, s.rows, s.rejects, s.batches, s.insert_retries
    );
    Ok(())
}
