//! The ClickHouse sink end to end: real Kafka, real ClickHouse (`CLICKHOUSE_URL`, started by
//! `scripts/test.sh` with `scripts/clickhouse.sh`), the sink as a child process killed with
//! SIGKILL mid-batch and restarted. Every table is checked through its analyst view:
//! `count()` = `uniqExact(id)` = events produced, without OPTIMIZE.
//!
//! Set `TRADEFLOW_SKIP_CLICKHOUSE_TESTS=1` to skip these tests when no ClickHouse is available.

use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use schemas::records::*;
use std::process::Command;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tests::{committed_and_end, producer, send, Processor};

/// `CLICKHOUSE_URL`, or `None` when the tests are skipped on purpose.
pub(crate) fn clickhouse_url() -> Option<String> {
    match std::env::var("CLICKHOUSE_URL") {
        Ok(u) if !u.is_empty() => Some(u.trim_end_matches('/').to_string()),
        _ if std::env::var("TRADEFLOW_SKIP_CLICKHOUSE_TESTS").as_deref() == Ok("1") => {
            eprintln!("skipped: TRADEFLOW_SKIP_CLICKHOUSE_TESTS=1");
            None
        }
        _ => panic!(
            "CLICKHOUSE_URL is not set: start ClickHouse with `eval \"$(bash scripts/clickhouse.sh start)\"` and export it \
             (scripts/test.sh does), or set TRADEFLOW_SKIP_CLICKHOUSE_TESTS=1 to skip the ClickHouse tests"
        ),
    }
}

/// Runs `sql` over ClickHouse's HTTP interface (POST body); returns the body, trimmed.
fn ch_try(url: &str, sql: &str) -> Result<String, String> {
    use std::io::{Read, Write};
    let hostport = url.strip_prefix("http://").expect("CLICKHOUSE_URL must be http://host:port");
    let mut s = std::net::TcpStream::connect(hostport).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(s, "POST / HTTP/1.0\r\nHost: {hostport}\r\nContent-Length: {}\r\n\r\n{sql}", sql.len()).map_err(|e| e.to_string())?;
    let mut text = String::new();
    s.read_to_string(&mut text).map_err(|e| e.to_string())?;
    let (head, body) = text.split_once("\r\n\r\n").ok_or("no HTTP response")?;
    if head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200") {
        Ok(body.trim().to_string())
    } else {
        Err(format!("{sql}\n-> {head}\n{body}"))
    }
}

pub(crate) fn ch(url: &str, sql: &str) -> String {
    ch_try(url, sql).unwrap_or_else(|e| panic!("ClickHouse query failed: {e}"))
}

pub(crate) fn migrate(url: &str, db: &str) -> String {
    let out = Command::new(tests::tradeflow_bin())
        .args(["clickhouse", "migrate", "--url", url, "--database", db])
        .env("RUST_LOG", "warn")
        .output()
        .expect("run tradeflow clickhouse migrate");
    assert!(out.status.success(), "migrate failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(crate) fn database_name(test: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() % 1_000_000_000;
    format!("it_{test}_{}_{nanos}", std::process::id())
}

/// Topics of the sink under `prefix` (the dead-letter topic is `<prefix>dlq` here).
pub(crate) const TOPICS: &[&str] = &["orders.events", "executions", "trades", "ledger", "funding.events", "dlq"];

/// What was produced, for the assertions.
#[derive(Default, Debug)]
struct Produced {
    orders: u64,
    executions: u64,
    trades: u64,
    trade_qty: Decimal,
    entries: u64,
    postings: u64,
    funding: u64,
    funding_amount: Decimal,
    dead_letters: u64,
    garbage: u64,
}

fn dec(mantissa: i64, scale: u32) -> Decimal {
    Decimal::new(mantissa, scale)
}

/// Produces `n` events of each kind to `<prefix>` topics over about `spread`, plus a few
/// records the sink cannot decode.
fn produce(prefix: &str, codec: &schemas::Codec, n: u64, spread: Duration, seed: u64) -> Produced {
    let p = producer();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut out = Produced::default();
    let t = |name: &str| format!("{prefix}{name}");
    let start = Instant::now();
    let base_ns: i64 = 1_767_225_600_000_000_000; // 2026-01-01T00:00:00Z
    let symbols = ["AAPL", "MSFT", "NVDA", "TSLA"];
    let statuses = [OrderStatus::New, OrderStatus::Filled, OrderStatus::Canceled, OrderStatus::Rejected, OrderStatus::PartiallyFilled];
    for i in 0..n {
        let at_ns = base_ns + (i as i64) * 7_000_000_000; // spreads over several days
        let sym = symbols[(i % 4) as usize];
        let acct = format!("acct{}", rng.random_range(0..50));
        let e = OrderEvent {
            event_id: format!("{sym}.o{i}"),
            account_id: acct.clone(),
            order_id: format!("ord{}", i / 2),
            client_order_id: (i % 3 == 0).then(|| format!("c{i}")),
            symbol: sym.into(),
            at_ns,
            status: statuses[(i % 5) as usize],
            reason: (i % 5 == 3).then_some(OrderReason::InsufficientBuyingPower),
            filled_qty: dec(rng.random_range(0..10_000), 2),
            leaves_qty: dec(rng.random_range(0..10_000), 2),
            avg_fill_price: (i % 2 == 0).then(|| dec(rng.random_range(1..99_999_999), 4)),
            replaced_by: None,
            message: None,
            origin: Some(if i % 2 == 0 { OrderEventOrigin::Venue } else { OrderEventOrigin::Accounts }),
            event_type: (i % 2 == 1).then_some(OrderEventType::Accepted),
            fill: (i % 7 == 0).then(|| OrderFill {
                fill_id: format!("f{i}"),
                qty: dec(5, 0),
                price: dec(123_456_789, 8),
                fee: dec(1, 2),
                settlement_date: Some(20_455),
            }),
            new_qty: None,
            new_limit_price: None,
            new_stop_price: None,
        };
        send(&p, &t("orders.events"), &acct, &codec.encode(&e).unwrap());
        out.orders += 1;

        let x = ExecutionReport {
            exec_id: format!("{sym}.e{i}"),
            trade_id: format!("{sym}.t{i}"),
            account_id: acct.clone(),
            order_id: format!("ord{i}"),
            client_order_id: None,
            symbol: sym.into(),
            side: if i % 2 == 0 { Side::Buy } else { Side::Sell },
            last_qty: dec(rng.random_range(1..1_000), 0),
            last_price: dec(rng.random_range(1..50_000_000), 5),
            cum_qty: dec(10, 0),
            leaves_qty: dec(0, 0),
            avg_price: dec(12_345, 2),
            fee: dec(3, 3),
            liquidity: if i % 2 == 0 { Liquidity::Maker } else { Liquidity::Taker },
            at_ns,
        };
        send(&p, &t("executions"), &acct, &codec.encode(&x).unwrap());
        out.executions += 1;

        let qty = dec(rng.random_range(1..1_000_000), 3);
        let tr = Trade {
            trade_id: format!("{sym}.t{i}"),
            symbol: sym.into(),
            seq: i as i64,
            price: dec(rng.random_range(1..100_000_000), 6),
            qty,
            aggressor: Side::Buy,
            buy_order_id: format!("b{i}"),
            sell_order_id: format!("s{i}"),
            at_ns,
        };
        send(&p, &t("trades"), sym, &codec.encode(&tr).unwrap());
        out.trades += 1;
        out.trade_qty += qty;

        let postings: Vec<Posting> = (0..2 + i % 3)
            .map(|k| Posting {
                ledger_account: format!("{acct}:cash{k}"),
                asset: "USD".into(),
                debit: dec(if k % 2 == 0 { 100 } else { 0 }, 2),
                credit: dec(if k % 2 == 1 { 100 } else { 0 }, 2),
            })
            .collect();
        out.postings += postings.len() as u64;
        let le = LedgerEntry { entry_id: format!("{acct}:{i}"), account_id: acct.clone(), at_ns, kind: EntryKind::Trade, reference: format!("r{i}"), postings };
        send(&p, &t("ledger"), &acct, &codec.encode(&le).unwrap());
        out.entries += 1;

        let amount = dec(rng.random_range(1..10_000_000_000), 8);
        let f = FundingEvent {
            event_id: format!("{acct}.f{i}"),
            account_id: acct.clone(),
            funding_id: format!("fund{i}"),
            direction: FundingDirection::Deposit,
            status: FundingStatus::Completed,
            amount,
            reason: None,
            at_ns,
        };
        send(&p, &t("funding.events"), &acct, &codec.encode(&f).unwrap());
        out.funding += 1;
        out.funding_amount += amount;

        let d = DeadLetter {
            pipeline: "accounts".into(),
            source_topic: "orders.commands".into(),
            source_partition: (i % 6) as i32,
            source_offset: i as i64,
            error_kind: ErrorKind::Undecodable,
            error: "bad".into(),
            key: Some(acct.clone().into_bytes()),
            value: Some(vec![0, 1, 2, (i % 256) as u8]),
            value_size: 4,
            failed_at_ns: at_ns,
        };
        send(&p, &t("dlq"), &acct, &codec.encode(&d).unwrap());
        out.dead_letters += 1;

        if i % 1000 == 999 {
            send(&p, &t("trades"), sym, b"not avro");
            out.garbage += 1;
        }
        let due = spread.mul_f64(i as f64 / n as f64);
        if let Some(wait) = due.checked_sub(start.elapsed()) {
            std::thread::sleep(wait);
        }
    }
    rdkafka::producer::Producer::flush(&p, Duration::from_secs(60)).unwrap();
    out
}

pub(crate) fn sink(prefix: &str, url: &str, db: &str, extra: &[&str]) -> Processor {
    let mut args: Vec<String> = ["sink", "clickhouse", "--registry", "embedded", "--brokers", &tests::brokers(), "--url", url, "--database", db]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(["--topic-prefix".into(), prefix.into(), "--dlq-topic".into(), format!("{prefix}dlq")]);
    args.extend(["--session-timeout-ms".into(), "6000".into(), "--retry-max-ms".into(), "2000".into()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    Processor::spawn(&format!("{prefix}sink"), &args)
}

pub(crate) fn wait_sink_caught_up(prefix: &str, timeout: Duration) {
    let group = format!("{prefix}sink-clickhouse");
    let deadline = Instant::now() + timeout;
    for t in TOPICS {
        let topic = format!("{prefix}{t}");
        loop {
            let (committed, end) = committed_and_end(&group, &topic);
            if committed == end && end > 0 {
                break;
            }
            assert!(Instant::now() < deadline, "{group} committed {committed} of {end} records of {topic} within {timeout:?}");
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

/// Asserts every analyst view holds each produced event exactly once (no OPTIMIZE).
fn verify(url: &str, db: &str, p: &Produced) {
    let n = |sql: String| -> u64 { ch(url, &sql).parse().unwrap_or_else(|e| panic!("{sql}: {e}")) };
    // (view, id expression, expected)
    let cases = [
        ("order_events", "event_id", p.orders, p.orders),
        ("executions", "exec_id", p.executions, p.executions),
        ("trades", "trade_id", p.trades, p.trades),
        ("ledger_postings", "(entry_id, posting_index)", p.postings, p.postings),
        ("ledger_entries", "entry_id", p.entries, p.entries),
        ("funding_events", "event_id", p.funding, p.funding),
        ("dead_letters", "dead_letter_id", p.dead_letters, p.dead_letters),
        ("sink_rejects", "reject_id", p.garbage, p.garbage),
    ];
    let mut report = Vec::new();
    for (view, id, expected_rows, expected_ids) in cases {
        let count = n(format!("SELECT count() FROM {db}.{view}"));
        let ids = n(format!("SELECT uniqExact({id}) FROM {db}.{view}"));
        let raw = if view == "ledger_entries" { count } else { n(format!("SELECT count() FROM {db}.{view}_raw")) };
        report.push(format!("{view}: view {count}, distinct {ids}, raw rows {raw}"));
        assert_eq!(count, expected_rows, "{view}: count() through the view");
        assert_eq!(ids, expected_ids, "{view}: uniqExact({id})");
        assert!(raw >= count, "{view}: raw table has fewer rows than the view");
    }
    let entries_distinct = n(format!("SELECT uniqExact(entry_id) FROM {db}.ledger_postings"));
    assert_eq!(entries_distinct, p.entries, "ledger_postings: distinct entry ids");
    // Exact decimals survive Avro -> RowBinary -> ClickHouse.
    let qty = Decimal::from_str(&ch(url, &format!("SELECT toString(sum(qty)) FROM {db}.trades"))).unwrap();
    assert_eq!(qty, p.trade_qty, "sum of trade quantities");
    let vol = Decimal::from_str(&ch(url, &format!("SELECT toString(sum(volume)) FROM {db}.daily_symbol_volume"))).unwrap();
    assert_eq!(vol, p.trade_qty, "daily_symbol_volume sums to the tape");
    let amount = Decimal::from_str(&ch(url, &format!("SELECT toString(sum(amount)) FROM {db}.funding_events"))).unwrap();
    assert_eq!(amount, p.funding_amount, "sum of funding amounts");
    let orders = n(format!("SELECT sum(orders) FROM {db}.order_outcome_rates"));
    let distinct_orders = n(format!("SELECT uniqExact(order_id) FROM {db}.order_events"));
    assert_eq!(orders, distinct_orders, "order_outcome_rates counts each order once");
    let bad_rates = n(format!(
        "SELECT count() FROM {db}.order_outcome_rates WHERE fill_rate < 0 OR fill_rate > 1 OR reject_rate < 0 OR reject_rate > 1"
    ));
    assert_eq!(bad_rates, 0);
    eprintln!("{}", report.join("\n"));
}

/// Number of migration files (`sinks/migrations/*.sql`).
fn sinks_migration_count() -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../sinks/migrations");
    std::fs::read_dir(dir).unwrap().filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".sql")).count().to_string()
}

#[test]
fn migrate_is_idempotent() {
    let Some(url) = clickhouse_url() else { return };
    let db = database_name("migrate");
    let first = migrate(&url, &db);
    assert!(first.contains("applied 001_") && first.contains("applied 002_") && first.contains("applied 003_"), "{first}");
    let second = migrate(&url, &db);
    assert!(second.contains("up to date") && !second.contains("applied"), "{second}");
    assert_eq!(ch(&url, &format!("SELECT count() FROM {db}.schema_migrations")), sinks_migration_count());
    let tables = ch(&url, &format!("SELECT count() FROM system.tables WHERE database = '{db}'"));
    let third = migrate(&url, &db);
    assert!(third.contains("up to date"), "{third}");
    assert_eq!(ch(&url, &format!("SELECT count() FROM system.tables WHERE database = '{db}'")), tables);
    ch(&url, &format!("DROP DATABASE {db}"));
}

/// A few thousand events of each kind; the sink is killed with SIGKILL at random points
/// (mid-batch: small batches, short interval) and restarted several times.
#[test]
fn kill_minus_nine_mid_batch_loses_and_duplicates_nothing() {
    let Some(url) = clickhouse_url() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let prefix = tests::unique_prefix("chsink");
    let db = database_name("sink");
    migrate(&url, &db);
    let topics: Vec<(&str, bool)> = TOPICS.iter().map(|t| (*t, false)).collect();
    rt.block_on(tests::create_prefixed_topics(&prefix, 3, &topics));
    let codec = Arc::new(rt.block_on(tests::codec()));
    let (pfx, c) = (prefix.clone(), codec.clone());
    let producer = std::thread::spawn(move || produce(&pfx, &c, 3000, Duration::from_secs(15), 21));
    let mut rng = rand::rngs::StdRng::seed_from_u64(4);
    let batch = ["--batch-records", "700", "--batch-interval-ms", "250"];
    let mut kills = 0;
    while kills < 6 || !producer.is_finished() {
        let mut s = sink(&prefix, &url, &db, &batch);
        s.wait_for("sink: batch committed", 1, Duration::from_secs(90));
        std::thread::sleep(Duration::from_millis(rng.random_range(50..1500)));
        s.kill9();
        kills += 1;
    }
    let produced = producer.join().unwrap();
    let last = sink(&prefix, &url, &db, &batch);
    wait_sink_caught_up(&prefix, Duration::from_secs(180));
    last.stop();
    eprintln!("{kills} kills; produced {produced:?}");
    assert!(kills >= 6);
    verify(&url, &db, &produced);
    ch(&url, &format!("DROP DATABASE {db}"));
}

/// ClickHouse is stopped for ~30 s while events arrive and the sink runs, then restarted:
/// the sink retries and nothing is lost or doubled. Needs the server managed by
/// `scripts/clickhouse.sh` (skipped with a message when CLICKHOUSE_URL points elsewhere).
#[test]
fn clickhouse_outage_loses_nothing() {
    let Some(url) = clickhouse_url() else { return };
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/clickhouse.sh");
    let env = Command::new("bash").arg(&script).arg("env").output().expect("clickhouse.sh env");
    let managed = String::from_utf8_lossy(&env.stdout).lines().any(|l| l == format!("CLICKHOUSE_URL={url}"))
        && Command::new("bash").arg(&script).arg("status").status().map(|s| s.success()).unwrap_or(false);
    if !managed {
        eprintln!("skipped: {url} is not the server scripts/clickhouse.sh manages; not stopping it");
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let prefix = tests::unique_prefix("chdown");
    let db = database_name("outage");
    migrate(&url, &db);
    let topics: Vec<(&str, bool)> = TOPICS.iter().map(|t| (*t, false)).collect();
    rt.block_on(tests::create_prefixed_topics(&prefix, 3, &topics));
    let codec = Arc::new(rt.block_on(tests::codec()));
    let (pfx, c) = (prefix.clone(), codec.clone());
    let producer = std::thread::spawn(move || produce(&pfx, &c, 2000, Duration::from_secs(40), 33));
    let mut s = sink(&prefix, &url, &db, &["--batch-records", "500", "--batch-interval-ms", "250"]);
    s.wait_for("sink: batch committed", 1, Duration::from_secs(90));
    let stop = Command::new("bash").arg(&script).arg("stop").status().expect("clickhouse.sh stop");
    assert!(stop.success(), "clickhouse.sh stop failed");
    let down_at = Instant::now();
    let restart = || {
        let out = Command::new("bash").arg(&script).arg("start").output().expect("clickhouse.sh start");
        assert!(out.status.success(), "clickhouse.sh start failed: {}", String::from_utf8_lossy(&out.stderr));
    };
    // Restart even if an assertion below fails, so later tests have their server.
    struct Guard<F: Fn()>(F);
    impl<F: Fn()> Drop for Guard<F> {
        fn drop(&mut self) {
            if std::thread::panicking() {
                (self.0)();
            }
        }
    }
    let guard = Guard(restart);
    std::thread::sleep(Duration::from_secs(30));
    let retries_logged = s.log_text().matches("sink: INSERT failed, retrying").count();
    (guard.0)();
    eprintln!("ClickHouse was down {:?}; the sink logged {retries_logged} INSERT retries", down_at.elapsed());
    assert!(retries_logged > 0, "the sink should have retried while ClickHouse was down; log:\n{}", s.log_text());
    let produced = producer.join().unwrap();
    wait_sink_caught_up(&prefix, Duration::from_secs(180));
    s.stop();
    verify(&url, &db, &produced);
    ch(&url, &format!("DROP DATABASE {db}"));
}
