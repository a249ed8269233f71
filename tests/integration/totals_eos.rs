//! Exactly-once under kill -9, on a real broker, with separate processor processes.

use crate::verify::{self, Input};
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use schemas::records::AmountEvent;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tests::{create_totals_topics, producer, send, wait_caught_up, Processor};

/// Produces `n` inputs over about `spread`, keys `k0..k96`, seeded amounts.
fn spawn_inputs(prefix: String, codec: Arc<schemas::Codec>, n: i64, spread: Duration, seed: u64) -> (std::thread::JoinHandle<Vec<Input>>, Arc<AtomicBool>) {
    let done = Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    let h = std::thread::spawn(move || {
        let p = producer();
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let topic = format!("{prefix}totals.input");
        let mut inputs = Vec::with_capacity(n as usize);
        let start = Instant::now();
        for seq in 0..n {
            let key = format!("k{}", rng.random_range(0..97));
            let amount = Decimal::new(rng.random_range(-100_000i64..100_000), 2);
            send(&p, &topic, &key, &codec.encode(&AmountEvent { seq, amount, at_ns: 0 }).unwrap());
            inputs.push(Input { key, seq, amount });
            // Pace the run so kills land throughout it.
            let due = spread.mul_f64(seq as f64 / n as f64);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        rdkafka::producer::Producer::flush(&p, Duration::from_secs(60)).unwrap();
        flag.store(true, Ordering::SeqCst);
        inputs
    });
    (h, done)
}

/// 100,000 inputs; the processor is killed with SIGKILL at random points at least 10 times
/// (once while it restores state) and restarted with the same instance id.
#[test]
fn kill_minus_nine_during_a_run_changes_nothing() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let prefix = tests::unique_prefix("eos");
    rt.block_on(create_totals_topics(&prefix, 4));
    let codec = Arc::new(rt.block_on(tests::codec()));
    let (producer, done) = spawn_inputs(prefix.clone(), codec.clone(), 100_000, Duration::from_secs(45), 7);
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut kills = 0;
    let mut restore_kills = 0;
    while kills < 12 || !done.load(Ordering::SeqCst) {
        if kills == 5 {
            // Kill while restoring: the restore consumer is assigned and paused mid-restore.
            let mut p = Processor::totals(&prefix, "a", &["--debug-restore-pause-ms", "4000"]);
            p.wait_for("debug: restore consumer assigned, pausing", 1, Duration::from_secs(90));
            p.kill9();
            restore_kills += 1;
            kills += 1;
            continue;
        }
        let mut p = Processor::totals(&prefix, "a", &[]);
        p.wait_for("restore finished", 1, Duration::from_secs(90));
        std::thread::sleep(Duration::from_millis(rng.random_range(200..2500)));
        p.kill9();
        kills += 1;
    }
    let inputs = producer.join().unwrap();
    let mut last = Processor::totals(&prefix, "a", &[]);
    last.wait_for("restore finished", 1, Duration::from_secs(90));
    wait_caught_up(&format!("{prefix}totals"), &format!("{prefix}totals.input"), Duration::from_secs(180));
    last.stop();
    eprintln!("{kills} kills ({restore_kills} during restore)");
    assert!(kills >= 10 && restore_kills >= 1);
    verify::totals(&prefix, &codec, &inputs);
}

/// Two instances share the work; one is killed and never restarted: the other takes over
/// its partitions (after the session and transaction timeouts) with the same result.
#[test]
fn survivor_takes_over_a_killed_instance() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let prefix = tests::unique_prefix("takeover");
    rt.block_on(create_totals_topics(&prefix, 4));
    let codec = Arc::new(rt.block_on(tests::codec()));
    let (producer, _) = spawn_inputs(prefix.clone(), codec.clone(), 30_000, Duration::from_secs(20), 3);
    let mut a = Processor::totals(&prefix, "a", &[]);
    let mut b = Processor::totals(&prefix, "b", &[]);
    a.wait_for("restore finished", 1, Duration::from_secs(90));
    b.wait_for("restore finished", 1, Duration::from_secs(90));
    std::thread::sleep(Duration::from_secs(4));
    let assigned_before = b.log_text().matches("partitions assigned").count();
    a.kill9();
    // B is revoked and gets all four partitions in the next generation.
    b.wait_for("partitions assigned", assigned_before + 1, Duration::from_secs(60));
    let inputs = producer.join().unwrap();
    wait_caught_up(&format!("{prefix}totals"), &format!("{prefix}totals.input"), Duration::from_secs(180));
    assert!(b.log_text().contains("partitions=4"), "b should own all 4 partitions; log:\n{}", b.log_text());
    b.stop();
    verify::totals(&prefix, &codec, &inputs);
}

/// Every third batch is aborted instead of committed (a test-only knob): state must roll back
/// and the consumer rewind, so the result is still exactly once.
#[test]
fn aborted_batches_roll_back_state_and_rewind() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let prefix = tests::unique_prefix("abort");
    rt.block_on(create_totals_topics(&prefix, 3));
    let codec = Arc::new(rt.block_on(tests::codec()));
    let (producer, _) = spawn_inputs(prefix.clone(), codec.clone(), 20_000, Duration::from_secs(8), 5);
    let port = tests::free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut p = Processor::totals(&prefix, "a", &["--debug-abort-every", "3", "--metrics-addr", &addr]);
    p.wait_for("restore finished", 1, Duration::from_secs(90));
    let inputs = producer.join().unwrap();
    wait_caught_up(&format!("{prefix}totals"), &format!("{prefix}totals.input"), Duration::from_secs(120));
    let metrics = tests::http_get(port, "/metrics");
    let aborts: u64 = metrics
        .lines()
        .find(|l| l.starts_with("tradeflow_transaction_aborts_total"))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .expect("aborts metric");
    assert!(aborts >= 3, "expected injected aborts, got {aborts}");
    p.stop();
    verify::totals(&prefix, &codec, &inputs);
}

/// A frozen instance (SIGSTOP) is replaced by a new process with the same instance id. When
/// the old one wakes up (SIGCONT) it is a zombie: its producer epoch and group membership
/// are fenced, so it must stop without committing anything, and the result stays exactly once.
#[test]
fn a_zombie_is_fenced_when_it_wakes_up() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let prefix = tests::unique_prefix("zombie");
    rt.block_on(create_totals_topics(&prefix, 2));
    let codec = Arc::new(rt.block_on(tests::codec()));
    let (producer, _) = spawn_inputs(prefix.clone(), codec.clone(), 20_000, Duration::from_secs(12), 9);
    let mut old = Processor::totals(&prefix, "a", &[]);
    old.wait_for("restore finished", 1, Duration::from_secs(90));
    std::thread::sleep(Duration::from_secs(2));
    old.signal("STOP");
    let mut new = Processor::totals(&prefix, "a", &[]);
    new.wait_for("restore finished", 1, Duration::from_secs(90));
    std::thread::sleep(Duration::from_secs(2));
    old.signal("CONT");
    let status = old.wait_exit(Duration::from_secs(60));
    assert!(!status.success(), "the zombie must stop with an error; log:\n{}", old.log_text());
    let log = old.log_text().to_lowercase();
    // librdkafka's words for the two fences: the static member ("fenced by other consumer
    // with same group.instance.id") and the producer ("fenced by a newer instance" /
    // "old epoch").
    assert!(log.contains("fenced") || log.contains("old epoch"), "the zombie's log should name the fence:\n{}", old.log_text());
    let inputs = producer.join().unwrap();
    wait_caught_up(&format!("{prefix}totals"), &format!("{prefix}totals.input"), Duration::from_secs(120));
    new.stop();
    verify::totals(&prefix, &codec, &inputs);
}
