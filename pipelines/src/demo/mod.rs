//! `tradeflow demo`: the whole platform in one process, trading by itself.
//!
//! 1. A broker: librdkafka's in-process mock cluster (default; NOT durable and it does not
//!    filter aborted transactions: the demo says so and claims no guarantee) with every
//!    catalog topic, or a real Kafka / Redpanda (`--brokers`; topics created as
//!    `tradeflow topics create` does, 3 partitions).
//! 2. The `accounts`, `matching` and `portfolio` pipelines on the exactly-once runtime,
//!    each on its own thread with its own group and transactional id (instance `demo`).
//!    The demo's accounts pipeline allows [`ORDERS_PER_MINUTE`] orders per account per
//!    minute (default 30) so the market makers can requote every second.
//! 3. The Kafka-backed Trading API, the same code as `tradeflow api`
//!    ([`crate::api_cmd::KafkaApi`]), on `--http`, with fixed demo API keys
//!    ([`seed::participants`]).
//! 4. Seeds ([`seed`]): three instruments, market-maker accounts (may short, well funded)
//!    and trader accounts; it waits until the API's views show them.
//! 5. Order flow ([`bots`]) through the API's order path until `--duration-secs` or
//!    Ctrl-C / SIGTERM, with a progress line every `--progress-secs` ([`tape`]).
//!
//! Stopping: the bots cancel their open orders, the pipelines commit and leave their
//! groups, the API closes its streams and stops its views.

mod bots;
mod market;
mod seed;
mod tape;

use crate::api_cmd::KafkaApi;
use anyhow::{bail, Context};
use api::ports::{AccountView, AssetView};
use operators::accounts::{AccountsConfig, AccountsOperator};
use pipelines::api_kafka::KafkaApiConfig;
use pipelines::catalog::{accounts::Accounts, matching::Matching, portfolio::Portfolio};
use pipelines::config::RuntimeConfig;
use pipelines::metrics::Metrics;
use pipelines::registry::Registry;
use pipelines::runtime::{self, Handles, RunSummary, RuntimeError};
use pipelines::spec::Pipeline;
use rdkafka::mocking::MockCluster;
use schemas::Codec;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// Order placements per account per minute the demo's accounts pipeline accepts.
pub const ORDERS_PER_MINUTE: u32 = 1_000;
/// Market-maker accounts.
const MAKERS: u32 = 2;
/// Instance id of the demo's pipelines (transactional ids `<pipeline>-demo`).
const INSTANCE: &str = "demo";
/// How long the seeds may take to show in the API's views.
const SEED_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Use a real Kafka / Redpanda instead of the in-process mock cluster.
    #[arg(long, env = "KAFKA_BROKERS")]
    brokers: Option<String>,
    /// HTTP address of the Trading API (port 0 = any free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:8080")]
    http: String,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    duration_secs: Option<u64>,
    /// Seed of the random walks and the generated orders.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Trader accounts (trader 1's credentials are printed).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=100))]
    traders: u32,
    /// Trader orders per second (all traders together).
    #[arg(long, default_value_t = 4)]
    orders_per_sec: u32,
    /// Seconds between progress lines.
    #[arg(long, default_value_t = 5)]
    progress_secs: u64,
    /// Trading-calendar file for matching's day orders and `/v2/clock` (as `tradeflow run
    /// matching --calendar`); default US equities. Generated orders are GTC or IOC.
    #[arg(long)]
    calendar: Option<std::path::PathBuf>,
    #[command(flatten)]
    limits: crate::api_cmd::RateLimitArgs,
}

/// One running pipeline and its thread's result.
struct Running {
    name: &'static str,
    task: JoinHandle<Result<RunSummary, RuntimeError>>,
}

fn start_pipeline<P: Pipeline>(pipeline: P, brokers: &str, codec: &Arc<Codec>, registry: &Registry, stop: &Arc<AtomicBool>) -> Running {
    let name = pipeline.name();
    let metrics = Metrics::new(name);
    let handles = Handles { metrics, shutdown: stop.clone(), debug_restore_pause: Duration::ZERO, debug_abort_every: 0 };
    let mut cfg = RuntimeConfig::new(brokers, INSTANCE);
    cfg.transaction_timeout = Duration::from_secs(10);
    cfg.commit_interval = Duration::from_millis(50);
    let (codec, registry, rt) = (codec.clone(), registry.clone(), tokio::runtime::Handle::current());
    let task = tokio::task::spawn_blocking(move || runtime::run(Arc::new(pipeline), cfg, codec, registry, handles, rt));
    Running { name, task }
}

pub async fn run(a: DemoArgs) -> anyhow::Result<()> {
    let run_ns = api::ports::Clock::now_ns(&api::ports::SystemClock);
    let mock;
    let brokers = match &a.brokers {
        Some(b) => {
            println!("broker:   {b} (real Kafka: exactly-once and durability hold as documented)");
            let settings = pipelines::admin::TopicSettings { partitions: 3, ..Default::default() };
            pipelines::admin::create_topics(b, &settings).await.context("creating topics")?;
            b.clone()
        }
        None => {
            mock = MockCluster::new(1).context("starting the in-process mock cluster")?;
            println!("broker:   IN-PROCESS MOCK CLUSTER at {} -- NON-DURABLE, does not filter aborted", mock.bootstrap_servers());
            println!("          transactions: nothing here demonstrates a guarantee. Use --brokers for a real broker.");
            for t in schemas::topics::TOPICS {
                mock.create_topic(t.name, 3, 1).with_context(|| format!("creating {}", t.name))?;
            }
            mock.bootstrap_servers()
        }
    };
    let registry = Registry::embedded();
    let codec = Arc::new(registry.codec().await.context("registering schemas")?);
    let rules = pipelines::calendar::load(a.calendar.as_deref())?;
    let book = pipelines::calendar::book_config(&rules)?;
    let listener = tokio::net::TcpListener::bind(&a.http).await.with_context(|| format!("binding {}", a.http))?;
    let local = listener.local_addr()?;

    // The Trading API.
    let people = seed::participants(MAKERS, a.traders);
    let keys = Arc::new(seed::key_store(&people));
    let cfg = KafkaApiConfig { brokers: brokers.clone(), topic_prefix: String::new(), extra: Vec::new() };
    let api = KafkaApi::start(&cfg, codec.clone(), registry.clone(), keys, &rules, a.limits.config(Duration::from_secs(5)), None, None)?;
    let backend = api.backend.clone();
    let ports = bots::Ports {
        commands: backend.commands.clone(),
        assets: backend.assets.clone(),
        accounts: backend.accounts.clone(),
        orders: backend.orders.clone(),
    };
    let (accounts_view, assets_view) = (backend.accounts.clone(), backend.assets.clone());
    drop(backend);
    let stop_api = Arc::new(AtomicBool::new(false));
    let _stop_api_on_error = SetOnDrop(stop_api.clone());
    let api_task = tokio::spawn(api.serve(listener, flag_set(stop_api.clone())));
    print_banner(&local.to_string(), &people);

    // Pipelines. On an early error return the guard stops them (the runtime waits for
    // their threads before the process exits).
    let stop_pipelines = Arc::new(AtomicBool::new(false));
    let _stop_on_error = SetOnDrop(stop_pipelines.clone());
    // The venue's calendar, so account snapshots carry the previous close's cash and shares.
    let sessions = book.calendar.clone();
    let accounts = AccountsOperator::new(AccountsConfig { max_orders_per_window: ORDERS_PER_MINUTE, sessions, ..AccountsConfig::default() });
    let running = vec![
        start_pipeline(Accounts::with_config("", accounts), &brokers, &codec, &registry, &stop_pipelines),
        start_pipeline(Matching::with_config("", book), &brokers, &codec, &registry, &stop_pipelines),
        start_pipeline(Portfolio::with_prefix(""), &brokers, &codec, &registry, &stop_pipelines),
    ];
    println!("pipelines: accounts, matching, portfolio on the exactly-once runtime (instance {INSTANCE:?}, one thread each)");

    // Ctrl-C / SIGTERM or --duration-secs stop the order flow first.
    let stop = Arc::new(AtomicBool::new(false));
    crate::shutdown_on_signal(stop.clone());
    let started = Instant::now();
    let deadline = a.duration_secs.map(|d| started + Duration::from_secs(d));
    let past_deadline = || deadline.is_some_and(|d| Instant::now() >= d);

    // Seeds.
    let listed: Vec<String> = market::LISTINGS.iter().map(|l| format!("{} {} (tick {})", l.symbol, l.reference(), l.tick())).collect();
    println!("seeding:  {}; {} market makers, {} traders", listed.join(", "), MAKERS, a.traders);
    let seeded = async {
        let mut seeder = seed::Seeder::new(&brokers, "", run_ns)?;
        seeder.open(&codec, &people)?;
        if !wait_for_seeds(Stage::Open, &people, accounts_view.as_ref(), assets_view.as_ref(), &running, &stop, &past_deadline).await? {
            return Ok(false);
        }
        seeder.fund(&codec, &people)?;
        wait_for_seeds(Stage::Funded, &people, accounts_view.as_ref(), assets_view.as_ref(), &running, &stop, &past_deadline).await
    }
    .await;

    let tape = Arc::new(Mutex::new(tape::Tape::default()));
    let stop_tape = Arc::new(AtomicBool::new(false));
    let tape_thread = {
        let (brokers, codec, tape, stop_tape) = (brokers.clone(), codec.clone(), tape.clone(), stop_tape.clone());
        std::thread::spawn(move || tape::follow(&brokers, "", &codec, run_ns, &tape, &stop_tape))
    };
    let counters = Arc::new(bots::Counters::default());
    let (mut failure, seeded) = match seeded {
        Ok(done) => (None, done),
        Err(e) => (Some(e), false),
    };
    let bots_task = if seeded {
        println!(
            "trading:  {MAKERS} market makers requote every second; {} traders place {} orders/s (seed {}); Ctrl-C to stop",
            a.traders, a.orders_per_sec, a.seed
        );
        Some(tokio::spawn(bots::run(ports, people.clone(), a.seed, a.orders_per_sec, stop.clone(), counters.clone())))
    } else {
        None
    };

    let mut next_progress = Instant::now() + Duration::from_secs(a.progress_secs.max(1));
    while bots_task.is_some() && !stop.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if let Some(r) = running.iter().find(|r| r.task.is_finished()) {
            failure = Some(anyhow::anyhow!("pipeline {} stopped unexpectedly", r.name));
            break;
        }
        if Instant::now() >= next_progress {
            next_progress += Duration::from_secs(a.progress_secs.max(1));
            print_progress(started, &counters, &tape.lock().unwrap_or_else(|p| p.into_inner()));
        }
        if past_deadline() {
            break;
        }
    }

    // Shutdown: order flow (canceling what is open), then pipelines, API and tape.
    stop.store(true, Ordering::SeqCst);
    if let Some(t) = bots_task {
        println!("stopping: canceling open orders");
        t.await.context("order flow")?;
        // Let the pipelines apply the cancels before they stop.
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    stop_pipelines.store(true, Ordering::SeqCst);
    stop_api.store(true, Ordering::SeqCst);
    let mut summaries = Vec::new();
    for r in running {
        match r.task.await? {
            Ok(s) => summaries.push(format!("{} {} records in / {} commits", r.name, s.records_in, s.commits)),
            Err(e) => {
                summaries.push(format!("{} FAILED", r.name));
                failure.get_or_insert_with(|| anyhow::anyhow!("pipeline {} failed: {e}", r.name));
            }
        }
    }
    api_task.await?.context("serving the API")?;
    stop_tape.store(true, Ordering::SeqCst);
    let _ = tape_thread.join();
    let t = tape.lock().unwrap_or_else(|p| p.into_inner()).clone();
    if !t.rejected.is_empty() {
        let reasons: Vec<String> = t.rejected.iter().map(|(r, n)| format!("{r}: {n}")).collect();
        println!("rejections: {}", reasons.join("; "));
    }
    println!(
        "stopped:  {} orders placed, {} trades; {}",
        counters.placed.load(Ordering::Relaxed),
        t.trades,
        summaries.join(", ")
    );
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Sets its flag when dropped.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Resolves once `flag` is set.
async fn flag_set(flag: Arc<AtomicBool>) {
    while !flag.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn print_banner(local: &str, people: &[seed::Participant]) {
    let url = format!("http://{local}");
    println!("api:      {url}/v2  (the Kafka-backed Trading API, as `tradeflow api`; also /readyz /healthz /metrics)");
    println!("demo credentials (fixed, for this demo only):");
    for p in people {
        let kind = match p.kind {
            seed::Kind::MarketMaker => "market maker",
            seed::Kind::Trader => "trader",
        };
        println!("  {kind:<12} {:<16} account {}  key {}  secret {}", p.user_id, p.account_id, p.key_id, p.secret);
    }
    let t = people.iter().find(|p| p.kind == seed::Kind::Trader).expect("at least one trader");
    println!("try:      curl -H 'APCA-API-KEY-ID: {}' -H 'APCA-API-SECRET-KEY: {}' {url}/v2/account", t.key_id, t.secret);
    println!("          (also /v2/positions, /v2/orders?status=all, /v2/assets, /v2/clock; POST /v2/orders to trade)");
    println!(
        "stream:   ws://{local}/stream  (Alpaca trade_updates: send {{\"action\":\"auth\",\"key\":\"{}\",\"secret\":\"{}\"}} then {{\"action\":\"listen\",\"data\":{{\"streams\":[\"trade_updates\"]}}}})",
        t.key_id, t.secret
    );
    println!("          SSE: curl -N -H 'APCA-API-KEY-ID: {}' -H 'APCA-API-SECRET-KEY: {}' {url}/v2/events/trades", t.key_id, t.secret);
}

fn print_progress(started: Instant, c: &bots::Counters, t: &tape::Tape) {
    let prices: Vec<String> = market::LISTINGS
        .iter()
        .map(|l| {
            let last = t.last.get(l.symbol).map_or("-".to_string(), |p| {
                let mut p = *p;
                p.rescale(l.tick().scale());
                p.to_string()
            });
            format!("{} {last}", l.symbol)
        })
        .collect();
    println!(
        "[{:>4}s] orders {:>6}  cancels {:>6}  fills {:>5} ({} shares)  rejected {:>4}  last: {}",
        started.elapsed().as_secs(),
        c.placed.load(Ordering::Relaxed),
        c.cancels.load(Ordering::Relaxed),
        t.trades,
        t.volume.normalize(),
        t.rejections() + c.refused.load(Ordering::Relaxed),
        prices.join("  ")
    );
}

/// What [`wait_for_seeds`] waits for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Every account open, every instrument listed.
    Open,
    /// Every account with cash.
    Funded,
}

/// Waits until the API's views show the seeds of `stage`; `Ok(false)` if stopped first.
async fn wait_for_seeds(
    stage: Stage,
    people: &[seed::Participant],
    accounts: &dyn AccountView,
    assets: &dyn AssetView,
    running: &[Running],
    stop: &AtomicBool,
    past_deadline: &dyn Fn() -> bool,
) -> anyhow::Result<bool> {
    let started = Instant::now();
    let mut next_note = started + Duration::from_secs(5);
    let what = match stage {
        Stage::Open => "accounts open",
        Stage::Funded => "accounts funded",
    };
    loop {
        let done = people
            .iter()
            .filter(|p| match accounts.account(&p.account_id) {
                Ok(Some(s)) => stage == Stage::Open || s.cash > rust_decimal::Decimal::ZERO,
                _ => false,
            })
            .count();
        let listed = market::LISTINGS.iter().filter(|l| matches!(assets.asset(l.symbol), Ok(Some(_)))).count();
        if done == people.len() && listed == market::LISTINGS.len() {
            if stage == Stage::Funded {
                println!("seeded:   accounts open and funded, instruments listed");
            }
            return Ok(true);
        }
        if let Some(r) = running.iter().find(|r| r.task.is_finished()) {
            bail!("pipeline {} stopped while seeding", r.name);
        }
        if stop.load(Ordering::SeqCst) || past_deadline() {
            return Ok(false);
        }
        if started.elapsed() > SEED_TIMEOUT {
            bail!("seeds not visible after {SEED_TIMEOUT:?}: {done}/{} {what}, {listed}/{} instruments listed", people.len(), market::LISTINGS.len());
        }
        if Instant::now() >= next_note {
            next_note += Duration::from_secs(5);
            println!("seeding:  waiting for the pipelines: {done}/{} {what}, {listed}/{} instruments listed", people.len(), market::LISTINGS.len());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
