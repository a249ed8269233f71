//! `tradeflow bench runtime`: the runtime's overhead against raw rdkafka loops.
//!
//! One input topic is filled once with N records (48-byte key, 40-byte Avro value). Then,
//! interleaved for `--rounds` rounds, three consumers each copy all N records to an output
//! topic with a fresh consumer group:
//! - `raw-alo`: poll -> produce -> every interval flush + commit offsets (at-least-once);
//! - `raw-eos`: poll -> produce in a transaction -> every interval send offsets + commit;
//! - `runtime`: the `passthrough` pipeline (decode, operator, encode, same transaction
//!   cadence) driven by `pipelines::runtime`.
//!
//! Each figure is records per second from the first record consumed to the last commit.
//! Prints figures and ratios; asserts nothing about speed.

use anyhow::Context;
use pipelines::catalog::passthrough::PassThrough;
use pipelines::config::RuntimeConfig;
use pipelines::metrics::Metrics;
use pipelines::registry::Registry;
use pipelines::runtime::{self, Handles};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use schemas::records::AmountEvent;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct RuntimeBenchArgs {
    #[arg(long, env = "KAFKA_BROKERS", default_value = "127.0.0.1:19092")]
    brokers: String,
    #[arg(long, default_value_t = 1_000_000)]
    records: usize,
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    #[arg(long, default_value_t = 6)]
    partitions: i32,
    /// Commit interval of all three loops.
    #[arg(long, default_value_t = 100)]
    commit_interval_ms: u64,
}

pub async fn run(a: RuntimeBenchArgs) -> anyhow::Result<()> {
    let registry = Registry::embedded();
    let codec = Arc::new(registry.codec().await?);
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new().set("bootstrap.servers", &a.brokers).create()?;
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let run_id = std::process::id();
    let input = format!("bench.{run_id}.in");
    let mut topics = vec![NewTopic::new(&input, a.partitions, TopicReplication::Fixed(1))];
    let outs: Vec<String> = ["raw-alo", "raw-eos", "runtime"].iter().map(|k| format!("bench.{run_id}.{k}")).collect();
    for o in &outs {
        topics.push(NewTopic::new(o, a.partitions, TopicReplication::Fixed(1)));
    }
    for r in admin.create_topics(topics.iter(), &opts).await? {
        match r {
            Ok(_) | Err((_, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((t, e)) => anyhow::bail!("creating {t}: {e}"),
        }
    }
    eprintln!("filling {input} with {} records ...", a.records);
    let key_pad = "x".repeat(34);
    let fill = |topic: &str| -> anyhow::Result<()> {
        let p: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
            .set("bootstrap.servers", &a.brokers)
            .set("linger.ms", "20")
            .set("partitioner", "murmur2_random")
            .set("queue.buffering.max.messages", "1000000")
            .create()?;
        for i in 0..a.records {
            let key = format!("acct-{:08}-{key_pad}", i % 10_000);
            let value = codec.encode(&AmountEvent { seq: i as i64, amount: rust_decimal::Decimal::new(i as i64, 2), at_ns: 1 })?;
            let mut rec = BaseRecord::to(topic).key(&key).payload(&value);
            loop {
                match p.send(rec) {
                    Ok(()) => break,
                    Err((_, r)) => {
                        rec = r;
                        std::thread::sleep(Duration::from_millis(2));
                    }
                }
            }
            if i % 200_000 == 0 {
                eprintln!("  {topic}: {i}");
            }
        }
        p.flush(Duration::from_secs(120))?;
        let n = count_topic(&a.brokers, topic)?;
        anyhow::ensure!(n == a.records as i64, "{topic} holds {n} records after filling, expected {}", a.records);
        Ok(())
    };
    fill(&input)?;
    let interval = Duration::from_millis(a.commit_interval_ms);
    let mut results: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for round in 0..a.rounds {
        let alo = raw_loop(&a.brokers, &input, &outs[0], a.records, interval, false, &format!("bench-alo-{run_id}-{round}"))?;
        let eos = raw_loop(&a.brokers, &input, &outs[1], a.records, interval, true, &format!("bench-eos-{run_id}-{round}"))?;
        let pipeline = PassThrough::custom(&format!("bench-rt-{run_id}-{round}"), &input, &outs[2]);
        let rt = runtime_loop(&a.brokers, a.records, interval, pipeline, codec.clone(), registry.clone()).await?;
        eprintln!("round {}: raw-alo {alo:.0}/s, raw-eos {eos:.0}/s, runtime {rt:.0}/s", round + 1);
        results.entry("raw-alo").or_default().push(alo);
        results.entry("raw-eos").or_default().push(eos);
        results.entry("runtime").or_default().push(rt);
    }
    let median = |v: &Vec<f64>| {
        let mut v = v.clone();
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let (alo, eos, rt) = (median(&results["raw-alo"]), median(&results["raw-eos"]), median(&results["runtime"]));
    println!(
        "{}",
        serde_json::json!({
            "records": a.records, "rounds": a.rounds, "partitions": a.partitions, "commit_interval_ms": a.commit_interval_ms,
            "raw_alo_rps": alo.round(), "raw_eos_rps": eos.round(), "runtime_eos_rps": rt.round(),
            "runtime_vs_raw_eos": (rt / eos * 1000.0).round() / 1000.0,
            "raw_eos_vs_raw_alo": (eos / alo * 1000.0).round() / 1000.0,
        })
    );
    Ok(())
}

fn count_topic(brokers: &str, topic: &str) -> anyhow::Result<i64> {
    let c: BaseConsumer = ClientConfig::new().set("bootstrap.servers", brokers).set("group.id", "bench-count").create()?;
    let md = c.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    let mut n = 0;
    for t in md.topics() {
        for p in t.partitions() {
            let (lo, hi) = c.fetch_watermarks(topic, p.id(), Duration::from_secs(10))?;
            n += hi - lo;
        }
    }
    Ok(n)
}

fn raw_loop(brokers: &str, input: &str, output: &str, n: usize, interval: Duration, eos: bool, group: &str) -> anyhow::Result<f64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", "read_committed")
        .create()?;
    let mut pc = ClientConfig::new();
    pc.set("bootstrap.servers", brokers).set("linger.ms", "5").set("enable.idempotence", "true").set("partitioner", "murmur2_random");
    if eos {
        pc.set("transactional.id", group);
    }
    let producer: ThreadedProducer<DefaultProducerContext> = pc.create()?;
    if eos {
        producer.init_transactions(Duration::from_secs(30))?;
    }
    consumer.subscribe(&[input])?;
    let mut seen = 0usize;
    let mut first: Option<Instant> = None;
    let mut offsets: BTreeMap<i32, i64> = BTreeMap::new();
    let mut open = false;
    let mut batch_start = Instant::now();
    let commit = |offsets: &mut BTreeMap<i32, i64>, open: &mut bool| -> anyhow::Result<()> {
        let mut tpl = TopicPartitionList::new();
        for (p, o) in offsets.iter() {
            tpl.add_partition_offset(input, *p, Offset::Offset(*o))?;
        }
        if eos {
            producer.send_offsets_to_transaction(&tpl, &consumer.group_metadata().context("group metadata")?, Duration::from_secs(30))?;
            producer.commit_transaction(Duration::from_secs(30))?;
        } else {
            producer.flush(Duration::from_secs(30))?;
            consumer.commit(&tpl, CommitMode::Sync)?;
        }
        offsets.clear();
        *open = false;
        Ok(())
    };
    while seen < n {
        if let Some(m) = consumer.poll(Duration::from_millis(5)) {
            let m = m?;
            first.get_or_insert_with(Instant::now);
            if !open {
                if eos {
                    producer.begin_transaction()?;
                }
                open = true;
                batch_start = Instant::now();
            }
            let mut rec: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(output);
            if let Some(k) = m.key() {
                rec = rec.key(k);
            }
            if let Some(v) = m.payload() {
                rec = rec.payload(v);
            }
            loop {
                match producer.send(rec) {
                    Ok(()) => break,
                    Err((_, r)) => {
                        rec = r;
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
            }
            offsets.insert(m.partition(), m.offset() + 1);
            seen += 1;
        }
        if open && batch_start.elapsed() >= interval {
            commit(&mut offsets, &mut open)?;
        }
    }
    if open {
        commit(&mut offsets, &mut open)?;
    }
    Ok(n as f64 / first.map_or(1e-9, |f| f.elapsed().as_secs_f64()))
}

async fn runtime_loop(
    brokers: &str,
    n: usize,
    interval: Duration,
    pipeline: PassThrough,
    codec: Arc<schemas::Codec>,
    registry: Registry,
) -> anyhow::Result<f64> {
    let metrics = Metrics::new(pipelines::spec::Pipeline::name(&pipeline));
    let shutdown = Arc::new(AtomicBool::new(false));
    let handles = Handles { metrics: metrics.clone(), shutdown: shutdown.clone(), debug_restore_pause: Duration::ZERO, debug_abort_every: 0 };
    let mut cfg = RuntimeConfig::new(brokers, "0");
    cfg.commit_interval = interval;
    cfg.max_batch = usize::MAX;
    let rt = tokio::runtime::Handle::current();
    let task = tokio::task::spawn_blocking(move || runtime::run(Arc::new(pipeline), cfg, codec, registry, handles, rt));
    let mut first: Option<Instant> = None;
    let mut commits_at_last_record: Option<u64> = None;
    // Ends at the first commit that completes after the last record was consumed.
    let end = loop {
        let got = metrics.records_in.get() as usize;
        if got > 0 && first.is_none() {
            first = Some(Instant::now());
        }
        match commits_at_last_record {
            None if got >= n => commits_at_last_record = Some(metrics.commits.get()),
            Some(c) if metrics.commits.get() > c => break Instant::now(),
            _ => {}
        }
        anyhow::ensure!(!task.is_finished(), "runtime stopped early");
        tokio::time::sleep(Duration::from_micros(500)).await;
    };
    shutdown.store(true, Ordering::SeqCst);
    task.await??;
    Ok(n as f64 / (end - first.expect("records seen")).as_secs_f64())
}
