//! `tradeflow`: the platform's one binary.

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use pipelines::catalog::{passthrough::PassThrough, totals::Totals};
use pipelines::config::{Guarantee, RuntimeConfig};
use pipelines::metrics::Metrics;
use pipelines::registry::Registry;
use pipelines::runtime::{self, Handles};
use pipelines::spec::Pipeline;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

mod api_cmd;
mod bench;
mod demo;
mod replay;
mod report_cmd;
mod sink_cmd;

#[derive(Parser)]
#[command(name = "tradeflow", version, about = "Tradeflow: a streaming trading platform on Kafka")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the platform locally with no setup (in-process, non-durable broker unless --brokers).
    Demo(demo::DemoArgs),
    /// Run one pipeline instance until SIGTERM / Ctrl-C.
    Run(RunArgs),
    /// Topic administration.
    #[command(subcommand)]
    Topics(TopicsCmd),
    /// Order book tools.
    #[command(subcommand)]
    Book(BookCmd),
    /// Benchmarks (print figures; never assertions).
    #[command(subcommand)]
    Bench(BenchCmd),
    /// Sinks: copy event topics to external stores.
    #[command(subcommand)]
    Sink(sink_cmd::SinkCmd),
    /// ClickHouse schema administration.
    #[command(subcommand)]
    Clickhouse(sink_cmd::ClickhouseCmd),
    /// Reports from ClickHouse: statements, capital gains, admin (JSON or CSV).
    #[command(subcommand)]
    Report(report_cmd::ReportCmd),
    /// Serve the Alpaca-compatible Trading API from Kafka until SIGTERM / Ctrl-C.
    Api(api_cmd::ApiArgs),
}

#[derive(Subcommand)]
enum TopicsCmd {
    /// Create every topic (idempotent) and register every schema.
    Create {
        #[arg(long, env = "KAFKA_BROKERS", default_value = "127.0.0.1:19092")]
        brokers: String,
        #[arg(long, default_value_t = 6)]
        partitions: i32,
        #[arg(long, default_value_t = 1)]
        replication: i32,
        /// `embedded` or the URL of a Confluent-compatible schema registry.
        #[arg(long, env = "SCHEMA_REGISTRY_URL", default_value = "embedded")]
        registry: String,
    },
}

#[derive(Subcommand)]
enum BookCmd {
    /// Replay a CSV command file through the pure order book and print one JSON line.
    Replay(replay::ReplayArgs),
}

#[derive(Subcommand)]
enum BenchCmd {
    /// Runtime overhead: pass-through pipeline vs raw rdkafka loops on the same broker.
    Runtime(bench::RuntimeBenchArgs),
    /// ClickHouse sink vs raw RowBinary inserts, and end-to-end freshness.
    Clickhouse(sink_cmd::ClickhouseBenchArgs),
}

/// Which pipeline to run.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum PipelineName {
    /// Reference stateful pipeline: per-key running total.
    Totals,
    /// Stateless pass-through (benchmarks).
    Passthrough,
    /// Accounts: ledger, buying-power holds and pre-trade risk, keyed by account.
    Accounts,
    /// Matching: the order books, keyed by symbol (orders.routed + instruments.commands).
    Matching,
    /// Portfolio: tax lots and realized P&L from executions, keyed by account.
    Portfolio,
}

#[derive(Args, Clone)]
struct RunArgs {
    pipeline: PipelineName,
    #[arg(long, env = "KAFKA_BROKERS", default_value = "127.0.0.1:19092")]
    brokers: String,
    /// Stable instance id: a restarted instance with the same id fences its predecessor.
    #[arg(long, default_value = "0")]
    instance_id: String,
    #[arg(long, env = "SCHEMA_REGISTRY_URL", default_value = "embedded")]
    registry: String,
    #[arg(long, value_enum, default_value_t = Guarantee::ExactlyOnce)]
    guarantee: Guarantee,
    #[arg(long, default_value_t = 20)]
    commit_interval_ms: u64,
    #[arg(long, default_value_t = 5000)]
    max_batch: usize,
    #[arg(long, default_value_t = 60_000)]
    transaction_timeout_ms: u64,
    #[arg(long, default_value_t = 10_000)]
    session_timeout_ms: u64,
    #[arg(long, default_value_t = 1 << 20)]
    max_record_bytes: usize,
    /// Serve /metrics and /healthz here (port 0 = any free port, printed at start).
    #[arg(long)]
    metrics_addr: Option<String>,
    /// Prefix of the pipeline's topics and group (`totals` and `accounts`).
    #[arg(long, default_value = "")]
    topic_prefix: String,
    /// `matching` and `accounts`: trading-calendar file (JSON; see `pipelines/src/calendar.rs`)
    /// whose session closes day orders expire at (matching) and cash and shares are marked
    /// at for the previous close's equity (accounts; give both the same file). Default: US
    /// equities (weekdays, 16:00 New York).
    #[arg(long)]
    calendar: Option<std::path::PathBuf>,
    /// Test only: pause during state restore (after the changelog is assigned).
    #[arg(long, default_value_t = 0, hide = true)]
    debug_restore_pause_ms: u64,
    /// Test only: abort every Nth batch instead of committing it.
    #[arg(long, default_value_t = 0, hide = true)]
    debug_abort_every: u64,
    /// Extra librdkafka settings, `key=value` (repeatable).
    #[arg(long = "kafka-config", value_parser = parse_kv)]
    kafka_config: Vec<(String, String)>,
}

fn parse_kv(s: &str) -> Result<(String, String), String> {
    s.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())).ok_or_else(|| format!("expected key=value, got {s}"))
}

impl RunArgs {
    fn runtime_config(&self) -> RuntimeConfig {
        let mut c = RuntimeConfig::new(&self.brokers, &self.instance_id);
        c.guarantee = self.guarantee;
        c.commit_interval = Duration::from_millis(self.commit_interval_ms);
        c.max_batch = self.max_batch;
        c.transaction_timeout = Duration::from_millis(self.transaction_timeout_ms);
        c.session_timeout = Duration::from_millis(self.session_timeout_ms);
        c.max_record_bytes = self.max_record_bytes;
        c.extra = self.kafka_config.clone();
        c
    }
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    if std::env::var("TRADEFLOW_LOG_FORMAT").as_deref() == Ok("json") {
        tracing_subscriber::fmt().with_env_filter(filter).json().with_writer(std::io::stderr).init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    }
}

/// mimalloc instead of glibc malloc: the pipelines, the sink and the API allocate many small,
/// short-lived strings and buffers per record (Avro decode, rows, JSON); glibc spent a
/// visible share of the sink's CPU in `_int_free` / `malloc_consolidate` (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_logging();
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Demo(a) => demo::run(a).await,
        Cmd::Run(a) => match a.pipeline {
            PipelineName::Totals => run_pipeline(Totals::with_prefix(&a.topic_prefix), a).await,
            PipelineName::Passthrough => run_pipeline(PassThrough::default(), a).await,
            PipelineName::Accounts => {
                let sessions = pipelines::calendar::load(a.calendar.as_deref())?.compile()?;
                run_pipeline(pipelines::catalog::accounts::Accounts::with_sessions(&a.topic_prefix, sessions), a).await
            }
            PipelineName::Matching => {
                let rules = pipelines::calendar::load(a.calendar.as_deref())?;
                let book = pipelines::calendar::book_config(&rules)?;
                run_pipeline(pipelines::catalog::matching::Matching::with_config(&a.topic_prefix, book), a).await
            }
            PipelineName::Portfolio => run_pipeline(pipelines::catalog::portfolio::Portfolio::with_prefix(&a.topic_prefix), a).await,
        },
        Cmd::Topics(TopicsCmd::Create { brokers, partitions, replication, registry }) => {
            let settings = pipelines::admin::TopicSettings { partitions, replication, ..Default::default() };
            for (name, outcome) in pipelines::admin::create_topics(&brokers, &settings).await? {
                println!("{name:<24} {outcome:?}");
            }
            Registry::from_arg(&registry).codec().await.context("registering schemas")?;
            println!("schemas registered ({} topics) in {registry}", schemas::topics::TOPICS.len());
            Ok(())
        }
        Cmd::Book(BookCmd::Replay(a)) => replay::run(a),
        Cmd::Bench(BenchCmd::Runtime(a)) => bench::run(a).await,
        Cmd::Sink(c) => sink_cmd::run(c).await,
        Cmd::Clickhouse(c) => sink_cmd::migrate(c).await,
        Cmd::Report(c) => report_cmd::run(c).await,
        Cmd::Bench(BenchCmd::Clickhouse(a)) => sink_cmd::bench(a).await,
        Cmd::Api(a) => api_cmd::run(a).await,
    }
}

/// Serves `/metrics` and `/healthz` for `metrics`, returning the bound address.
pub(crate) async fn serve_metrics(addr: &str, metrics: Metrics) -> anyhow::Result<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
    let local = listener.local_addr()?;
    let router = api::ops::router(Arc::new(move || metrics.render()));
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "metrics server stopped");
        }
    });
    Ok(local)
}

/// Sets `flag` on SIGTERM or Ctrl-C.
pub(crate) fn shutdown_on_signal(flag: Arc<AtomicBool>) {
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = term.recv() => {},
            _ = tokio::signal::ctrl_c() => {},
        }
        tracing::info!("shutdown requested: committing the open batch and leaving the group");
        flag.store(true, Ordering::SeqCst);
    });
}

async fn run_pipeline<P: Pipeline>(pipeline: P, args: RunArgs) -> anyhow::Result<()> {
    let registry = Registry::from_arg(&args.registry);
    let codec = Arc::new(registry.codec().await.context("registering schemas")?);
    let metrics = Metrics::new(pipeline.name());
    if let Some(addr) = &args.metrics_addr {
        let local = serve_metrics(addr, metrics.clone()).await?;
        println!("metrics: http://{local}/metrics");
    }
    let shutdown = Arc::new(AtomicBool::new(false));
    shutdown_on_signal(shutdown.clone());
    let handles = Handles { metrics, shutdown, debug_restore_pause: Duration::from_millis(args.debug_restore_pause_ms),
        debug_abort_every: args.debug_abort_every,
    };
    let cfg = args.runtime_config();
    let rt = tokio::runtime::Handle::current();
    let pipeline = Arc::new(pipeline);
    let summary = tokio::task::spawn_blocking(move || runtime::run(pipeline, cfg, codec, registry, handles, rt)).await?;
    match summary {
        Ok(s) => {
            println!("stopped: {} records in, {} commits, {} aborts", s.records_in, s.commits, s.aborts);
            Ok(())
        }
        Err(e) => bail!("pipeline failed: {e}"),
    }
}
