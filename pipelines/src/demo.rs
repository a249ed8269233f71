//! `tradeflow demo`: the platform with no setup.
//!
//! Without `--brokers` it runs on librdkafka's in-process mock cluster, which is NOT durable
//! and does not filter aborted transactions: the demo says so and claims no guarantee.
//! Today it runs what exists: the reference `totals` pipeline on the exactly-once runtime,
//! a generator of inputs, a materialized view of the outputs served over HTTP, and metrics.

use anyhow::Context;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use pipelines::catalog::totals::{self, Totals};
use pipelines::config::RuntimeConfig;
use pipelines::metrics::Metrics;
use pipelines::registry::Registry;
use pipelines::runtime::{self, Handles};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use schemas::records::{AmountEvent, TotalUpdated};
use schemas::Codec;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Use a real Kafka / Redpanda instead of the in-process mock cluster.
    #[arg(long, env = "KAFKA_BROKERS")]
    brokers: Option<String>,
    /// HTTP address of the demo API.
    #[arg(long, default_value = "127.0.0.1:8080")]
    http: String,
    /// Input records per second from the generator.
    #[arg(long, default_value_t = 200)]
    rate: u64,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    duration_secs: Option<u64>,
}

type View = Arc<RwLock<BTreeMap<String, serde_json::Value>>>;

pub async fn run(a: DemoArgs) -> anyhow::Result<()> {
    let mock;
    let brokers = match &a.brokers {
        Some(b) => {
            println!("broker: {b} (real Kafka: exactly-once and durability hold as documented)");
            b.clone()
        }
        None => {
            mock = MockCluster::new(1).context("starting the in-process mock cluster")?;
            println!("broker: IN-PROCESS MOCK CLUSTER at {} -- NON-DURABLE, does not filter aborted", mock.bootstrap_servers());
            println!("        transactions: nothing here demonstrates a guarantee. Use --brokers for a real broker.");
            for t in schemas::topics::TOPICS {
                mock.create_topic(t.name, 3, 1).with_context(|| format!("creating {}", t.name))?;
            }
            mock.bootstrap_servers()
        }
    };
    if a.brokers.is_some() {
        let settings = pipelines::admin::TopicSettings { partitions: 3, ..Default::default() };
        pipelines::admin::create_topics(&brokers, &settings).await.context("creating topics")?;
    }
    let registry = Registry::embedded();
    let codec = Arc::new(registry.codec().await?);

    let metrics = Metrics::new("totals");
    let shutdown = Arc::new(AtomicBool::new(false));
    crate::shutdown_on_signal(shutdown.clone());
    let handles = Handles { metrics: metrics.clone(), shutdown: shutdown.clone(), debug_restore_pause: Duration::ZERO, debug_abort_every: 0 };
    let mut cfg = RuntimeConfig::new(&brokers, "demo-0");
    cfg.transaction_timeout = Duration::from_secs(10);
    let rt = tokio::runtime::Handle::current();
    let (c, r) = (codec.clone(), registry.clone());
    let pipeline = tokio::task::spawn_blocking(move || runtime::run(Arc::new(Totals::default()), cfg, c, r, handles, rt));

    let produced = Arc::new(AtomicU64::new(0));
    let gen = {
        let (brokers, codec, shutdown, produced) = (brokers.clone(), codec.clone(), shutdown.clone(), produced.clone());
        std::thread::spawn(move || generate(&brokers, &codec, a.rate, &shutdown, &produced))
    };
    let view: View = Arc::default();
    let viewer = {
        let (brokers, codec, shutdown, view) = (brokers.clone(), codec.clone(), shutdown.clone(), view.clone());
        std::thread::spawn(move || follow_view(&brokers, &codec, &shutdown, &view))
    };

    let m = metrics.clone();
    let app = Router::new()
        .route("/api/v1/totals", get(|State(v): State<View>| async move { Json(serde_json::Value::Object(v.read().expect("view").clone().into_iter().collect())) }))
        .with_state(view)
        .merge(api::ops::router(Arc::new(move || m.render())));
    let listener = tokio::net::TcpListener::bind(&a.http).await.with_context(|| format!("binding {}", a.http))?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    println!("api:    {url}/api/v1/totals   (materialized view of totals.output, read_committed)");
    println!("        {url}/metrics          (Prometheus text)");
    println!("try:    curl -s {url}/api/v1/totals");
    println!("running the reference pipeline `totals` at {} inputs/s; Ctrl-C to stop", a.rate);

    let started = std::time::Instant::now();
    while !shutdown.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_secs(2)).await;
        println!(
            "[{:>4}s] produced {:>7}  processed {:>7}  outputs {:>7}  commits {:>5}  aborts {}  dlq {}",
            started.elapsed().as_secs(),
            produced.load(Ordering::Relaxed),
            metrics.records_in.get(),
            metrics.records_out.get(),
            metrics.commits.get(),
            metrics.aborts.get(),
            metrics.dlq.get()
        );
        if a.duration_secs.is_some_and(|d| started.elapsed() >= Duration::from_secs(d)) {
            shutdown.store(true, Ordering::SeqCst);
        }
    }
    let summary = pipeline.await?.context("pipeline")?;
    let _ = gen.join();
    let _ = viewer.join();
    println!("stopped: {} records processed in {} transactions", summary.records_in, summary.commits);
    Ok(())
}

fn generate(brokers: &str, codec: &Codec, rate: u64, stop: &AtomicBool, produced: &AtomicU64) -> anyhow::Result<()> {
    let p: ThreadedProducer<DefaultProducerContext> =
        ClientConfig::new().set("bootstrap.servers", brokers).set("partitioner", "murmur2_random").create()?;
    let mut seq = 0i64;
    let tick = Duration::from_millis(50);
    let per_tick = (rate / 20).max(1);
    while !stop.load(Ordering::SeqCst) {
        for _ in 0..per_tick {
            let key = format!("acct-{}", seq % 5 + 1);
            let cents = (seq * 7919) % 20_001 - 10_000;
            let v = codec.encode(&AmountEvent { seq, amount: rust_decimal::Decimal::new(cents, 2), at_ns: 0 })?;
            let _ = p.send(BaseRecord::to(totals::INPUT).key(&key).payload(&v));
            seq += 1;
        }
        produced.store(seq as u64, Ordering::Relaxed);
        std::thread::sleep(tick);
    }
    p.flush(Duration::from_secs(5))?;
    Ok(())
}

fn follow_view(brokers: &str, codec: &Codec, stop: &AtomicBool, view: &View) -> anyhow::Result<()> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "demo-view")
        .set("isolation.level", "read_committed")
        .set("auto.offset.reset", "earliest")
        .create()?;
    c.subscribe(&[totals::OUTPUT])?;
    while !stop.load(Ordering::SeqCst) {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(200)) {
            if let Some(Ok(t)) = m.payload().map(|p| codec.decode::<TotalUpdated>(p)) {
                view.write().expect("view").insert(
                    t.key.clone(),
                    serde_json::json!({ "total": t.total.normalize().to_string(), "count": t.count, "last_input_seq": t.input_seq }),
                );
            }
        }
    }
    Ok(())
}
