//! Shared helpers of the integration tests: a real Kafka broker (from `KAFKA_BROKERS`,
//! started by `scripts/kafka.sh`), the `tradeflow` binary run as separate OS processes, and
//! readers that see topics the way a downstream `read_committed` consumer does.

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The broker under test. Fails loudly when missing: these tests never pass vacuously.
pub fn brokers() -> String {
    std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| {
        panic!("KAFKA_BROKERS is not set: start a broker with `scripts/kafka.sh start` (scripts/test.sh does it)")
    })
}

/// A topic prefix unique to this test run.
pub fn unique_prefix(test: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() % 1_000_000_000;
    format!("it-{}-{test}-{nanos}.", std::process::id())
}

/// The `tradeflow` binary next to the test executable's target directory.
pub fn tradeflow_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target/<profile>");
    let bin = dir.join("tradeflow");
    assert!(bin.exists(), "{} not found: build it first with `cargo build -p pipelines` (scripts/test.sh does)", bin.display());
    bin
}

/// Creates the reference pipeline's topics under `prefix` (input, output, compacted changelog).
pub async fn create_totals_topics(prefix: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", brokers()).create().expect("admin client");
    let input = format!("{prefix}totals.input");
    let output = format!("{prefix}totals.output");
    let changelog = format!("{prefix}totals.changelog");
    let topics = [
        NewTopic::new(&input, partitions, TopicReplication::Fixed(1)),
        NewTopic::new(&output, partitions, TopicReplication::Fixed(1)),
        NewTopic::new(&changelog, partitions, TopicReplication::Fixed(1))
            .set("cleanup.policy", "compact")
            .set("segment.ms", "2000")
            .set("min.cleanable.dirty.ratio", "0.01"),
        NewTopic::new("dlq", 1, TopicReplication::Fixed(1)),
    ];
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    for r in admin.create_topics(topics.iter(), &opts).await.expect("create topics") {
        match r {
            Ok(_) | Err((_, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((t, e)) => panic!("creating {t}: {e}"),
        }
    }
}

/// The codec the binary uses with `--registry embedded` (same registration order, same ids).
pub async fn codec() -> schemas::Codec {
    pipelines::registry::Registry::embedded().codec().await.expect("embedded registry")
}

/// A plain idempotent producer (murmur2 partitioner, as the platform's).
pub fn producer() -> ThreadedProducer<DefaultProducerContext> {
    ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("partitioner", "murmur2_random")
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .create()
        .expect("producer")
}

/// Sends one record, retrying while the local queue is full.
pub fn send(p: &ThreadedProducer<DefaultProducerContext>, topic: &str, key: &str, value: &[u8]) {
    let mut rec = BaseRecord::to(topic).key(key).payload(value);
    loop {
        match p.send(rec) {
            Ok(()) => return,
            Err((KafkaError::MessageProduction(rdkafka::types::RDKafkaErrorCode::QueueFull), r)) => {
                rec = r;
                std::thread::sleep(Duration::from_millis(2));
            }
            Err((e, _)) => panic!("produce to {topic}: {e}"),
        }
    }
}

/// A record as read back.
#[derive(Debug, Clone)]
pub struct Read {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: BTreeMap<String, String>,
}

/// Every record of `topic` as a `read_committed` consumer sees it, per partition in offset order.
pub fn read_all(topic: &str) -> Vec<Read> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", "it-reader")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("isolation.level", "read_committed")
        .create()
        .expect("reader");
    let md = c.fetch_metadata(Some(topic), Duration::from_secs(10)).expect("metadata");
    let parts: Vec<i32> = md.topics()[0].partitions().iter().map(|p| p.id()).collect();
    let mut tpl = TopicPartitionList::new();
    for p in &parts {
        tpl.add_partition_offset(topic, *p, Offset::Beginning).unwrap();
    }
    c.assign(&tpl).unwrap();
    let mut pending: BTreeSet<i32> = parts.into_iter().collect();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !pending.is_empty() {
        assert!(Instant::now() < deadline, "reading {topic} did not reach the end");
        match c.poll(Duration::from_millis(500)) {
            Some(Ok(m)) => {
                let mut headers = BTreeMap::new();
                if let Some(h) = m.headers() {
                    for x in h.iter() {
                        headers.insert(x.key.to_string(), String::from_utf8_lossy(x.value.unwrap_or_default()).into_owned());
                    }
                }
                out.push(Read {
                    partition: m.partition(),
                    offset: m.offset(),
                    key: m.key().map(<[u8]>::to_vec),
                    value: m.payload().map(<[u8]>::to_vec),
                    headers,
                });
            }
            Some(Err(KafkaError::PartitionEOF(p))) => {
                pending.remove(&p);
            }
            Some(Err(e)) => panic!("reading {topic}: {e}"),
            None => {}
        }
    }
    out
}

/// Sum of the committed offsets of `group` on `topic` and the topic's end offsets.
pub fn committed_and_end(group: &str, topic: &str) -> (i64, i64) {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", group)
        .set("isolation.level", "read_committed")
        .create()
        .expect("consumer");
    let md = c.fetch_metadata(Some(topic), Duration::from_secs(10)).expect("metadata");
    let mut tpl = TopicPartitionList::new();
    let mut end = 0;
    for p in md.topics()[0].partitions() {
        tpl.add_partition(topic, p.id());
        end += c.fetch_watermarks(topic, p.id(), Duration::from_secs(10)).expect("watermarks").1;
    }
    let committed = c
        .committed_offsets(tpl, Duration::from_secs(30))
        .map(|t| t.elements().iter().map(|e| if let Offset::Offset(o) = e.offset() { o } else { 0 }).sum())
        .unwrap_or(0);
    (committed, end)
}

/// A `tradeflow run ...` child process with its log in a file.
pub struct Processor {
    child: Child,
    pub log: PathBuf,
    pub name: String,
}

impl Processor {
    /// Starts `tradeflow run totals` for `prefix` as instance `instance`.
    pub fn totals(prefix: &str, instance: &str, extra: &[&str]) -> Processor {
        let log = std::env::temp_dir().join(format!("{prefix}{instance}.{}.log", rand::random::<u64>()));
        let file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(tradeflow_bin())
            .args(["run", "totals", "--registry", "embedded", "--topic-prefix", prefix, "--instance-id", instance])
            .args(["--brokers", &brokers(), "--transaction-timeout-ms", "10000", "--session-timeout-ms", "6000"])
            .args(extra)
            .args(std::env::var("TRADEFLOW_IT_EXTRA_ARGS").map(|s| s.split_whitespace().map(String::from).collect::<Vec<_>>()).unwrap_or_default())
            .env("RUST_LOG", "info,librdkafka=warn,rdkafka=warn")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("spawn tradeflow");
        Processor { child, log, name: format!("{prefix}{instance}") }
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log contains `needle` `times` times.
    pub fn wait_for(&mut self, needle: &str, times: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if self.log_text().matches(needle).count() >= times {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited ({status}) before logging {needle:?}; log:\n{}", self.name, self.log_text());
            }
            assert!(Instant::now() < deadline, "{} did not log {needle:?} within {timeout:?}; log:\n{}", self.name, self.log_text());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL: no chance to commit, abort or leave the group.
    pub fn kill9(mut self) {
        self.child.kill().expect("kill -9");
        let _ = self.child.wait();
    }

    /// Sends a signal (`STOP`, `CONT`, ...) to the process.
    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill").args([&format!("-{sig}"), &self.child.id().to_string()]).status().expect("kill");
        assert!(status.success(), "kill -{sig} failed");
    }

    /// Waits for the process to exit on its own.
    pub fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(Instant::now() < deadline, "{} still running after {timeout:?}; log:\n{}", self.name, self.log_text());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(status.success(), "{} exited with {status}; log:\n{}", self.name, self.log_text());
                return;
            }
            assert!(Instant::now() < deadline, "{} did not stop on SIGTERM", self.name);
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Processor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port (bound then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `GET path` over plain HTTP/1.0 on loopback; returns the body.
pub fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("HTTP response");
    assert!(head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_string()
}

/// Waits until `group` has committed every input record of `topic`.
pub fn wait_caught_up(group: &str, topic: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let (committed, end) = committed_and_end(group, topic);
        if committed == end && end > 0 {
            return;
        }
        assert!(Instant::now() < deadline, "{group} committed {committed} of {end} records of {topic} within {timeout:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Creates `<prefix><name>` for every `(name, compacted)` with `partitions` partitions
/// (compacted ones with fast compaction settings), plus the shared `dlq`. Idempotent.
pub async fn create_prefixed_topics(prefix: &str, partitions: i32, topics: &[(&str, bool)]) {
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", brokers()).create().expect("admin client");
    let names: Vec<String> = topics.iter().map(|(n, _)| format!("{prefix}{n}")).collect();
    let mut new: Vec<NewTopic<'_>> = names
        .iter()
        .zip(topics)
        .map(|(name, (_, compacted))| {
            let t = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
            if *compacted {
                t.set("cleanup.policy", "compact").set("segment.ms", "2000").set("min.cleanable.dirty.ratio", "0.01")
            } else {
                t
            }
        })
        .collect();
    new.push(NewTopic::new("dlq", 1, TopicReplication::Fixed(1)));
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    for r in admin.create_topics(new.iter(), &opts).await.expect("create topics") {
        match r {
            Ok(_) | Err((_, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((t, e)) => panic!("creating {t}: {e}"),
        }
    }
}

impl Processor {
    /// Starts `tradeflow run <pipeline>` for `prefix` as instance `instance` (same settings
    /// as [`Processor::totals`]).
    pub fn pipeline(pipeline: &str, prefix: &str, instance: &str, extra: &[&str]) -> Processor {
        let log = std::env::temp_dir().join(format!("{prefix}{pipeline}.{instance}.{}.log", rand::random::<u64>()));
        let file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(tradeflow_bin())
            .args(["run", pipeline, "--registry", "embedded", "--topic-prefix", prefix, "--instance-id", instance])
            .args(["--brokers", &brokers(), "--transaction-timeout-ms", "10000", "--session-timeout-ms", "6000"])
            .args(extra)
            .env("RUST_LOG", "info,librdkafka=warn,rdkafka=warn")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("spawn tradeflow");
        Processor { child, log, name: format!("{prefix}{pipeline}.{instance}") }
    }
}

/// Committed offsets of `group` (read the way a restarted member would), per topic-partition.
pub struct GroupOffsets {
    consumer: BaseConsumer,
}

impl GroupOffsets {
    pub fn new(group: &str) -> Self {
        let consumer = ClientConfig::new()
            .set("bootstrap.servers", brokers())
            .set("group.id", group)
            .set("isolation.level", "read_committed")
            .create()
            .expect("consumer");
        GroupOffsets { consumer }
    }

    /// Waits until the committed offset of every `(topic, partition)` is above `offsets[tp]`,
    /// i.e. the group has processed and committed those records.
    pub fn wait_past(&self, offsets: &BTreeMap<(String, i32), i64>, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let mut tpl = TopicPartitionList::new();
            for (t, p) in offsets.keys() {
                tpl.add_partition(t, *p);
            }
            let committed = self.consumer.committed_offsets(tpl, Duration::from_secs(30)).ok();
            let behind: Vec<_> = offsets
                .iter()
                .filter(|((t, p), off)| {
                    let c = committed
                        .as_ref()
                        .and_then(|c| c.find_partition(t, *p))
                        .map(|e| if let Offset::Offset(o) = e.offset() { o } else { -1 })
                        .unwrap_or(-1);
                    c <= **off
                })
                .collect();
            if behind.is_empty() {
                return;
            }
            assert!(Instant::now() < deadline, "group did not commit past {behind:?} within {timeout:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Creates the `matching` pipeline's topics under `prefix`: the two co-partitioned inputs,
/// the four outputs (`book.depth` compacted), the compacted changelog, and `dlq`.
pub async fn create_matching_topics(prefix: &str, partitions: i32) {
    let topics = [
        ("orders.routed", false),
        ("instruments.commands", false),
        ("executions", false),
        ("orders.events", false),
        ("trades", false),
        ("book.depth", true),
        ("matching.changelog", true),
    ];
    create_prefixed_topics(prefix, partitions, &topics).await
}

impl Processor {
    /// Starts `tradeflow <args>` as a child process named `name`, its stderr in a log file.
    pub fn spawn(name: &str, args: &[String]) -> Processor {
        let log = std::env::temp_dir().join(format!("{name}.{}.log", rand::random::<u64>()));
        let file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(tradeflow_bin())
            .args(args)
            .env("RUST_LOG", "info,librdkafka=warn,rdkafka=warn")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("spawn tradeflow");
        Processor { child, log, name: name.to_string() }
    }
}
