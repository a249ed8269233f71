//! Analyst views and reports end to end: a known event set is produced to Kafka, written by
//! `tradeflow sink clickhouse` (a child process), then part of it is produced *again* (new
//! Kafka records, same event ids: what a re-delivery looks like to ClickHouse, in separate
//! parts, unmerged). Every view and every report (`tradeflow report ...`, JSON) must give
//! the exact expected figures, and every table must hold each event once through its view:
//! `count()` = `uniqExact(id)` = distinct events produced.
//!
//! The event set: the seed's FIFO vs LIFO capital-gains example (account `acc-seed`, 2024),
//! the statement golden of `sinks::reports::statement` (account `acc-st`, October 2026,
//! New York months) and an order-latency / volume day (symbol `LAT`, 2026-10-02 UTC).

use super::clickhouse_sink::{ch, clickhouse_url, database_name, migrate, sink, wait_sink_caught_up, TOPICS};
use operators::portfolio::{TimeZoneRule, TradeDate};
use rust_decimal::Decimal;
use schemas::records::*;
use serde_json::Value;
use std::process::Command;
use std::str::FromStr;
use std::time::Duration;
use tests::{producer, send};

const MS: i64 = 1_000_000;
const DAY: i64 = 86_400_000 * MS;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// Local midnight (New York) of `y-m-d` in Unix nanoseconds.
fn ny(y: i32, m: u32, day: u32) -> i64 {
    TimeZoneRule::UsEastern.day_start(TradeDate::new(y, m, day).unwrap()).nanos()
}

/// Every record of the scenario, by topic (name without prefix), with its key.
#[derive(Default)]
struct Events {
    records: Vec<(&'static str, String, Vec<u8>)>,
    orders: u64,
    executions: u64,
    trades: u64,
    entries: u64,
    postings: u64,
    funding: u64,
}

#[allow(clippy::too_many_arguments)] // one field per argument, in the report's column order
fn exec(id: &str, acct: &str, sym: &str, side: Side, qty: &str, price: &str, fee: &str, at_ns: i64) -> ExecutionReport {
    ExecutionReport {
        exec_id: id.into(),
        trade_id: format!("t-{id}"),
        account_id: acct.into(),
        order_id: format!("o-{id}"),
        client_order_id: None,
        symbol: sym.into(),
        side,
        last_qty: d(qty),
        last_price: d(price),
        cum_qty: d(qty),
        leaves_qty: Decimal::ZERO,
        avg_price: d(price),
        fee: d(fee),
        liquidity: Liquidity::Taker,
        at_ns,
    }
}

fn entry(id: &str, acct: &str, kind: EntryKind, at_ns: i64, postings: &[(&str, &str, &str, &str)]) -> LedgerEntry {
    LedgerEntry {
        entry_id: id.into(),
        account_id: acct.into(),
        at_ns,
        kind,
        reference: format!("ref-{id}"),
        postings: postings
            .iter()
            .map(|(a, asset, dr, cr)| Posting { ledger_account: (*a).into(), asset: (*asset).into(), debit: d(dr), credit: d(cr) })
            .collect(),
    }
}

#[allow(clippy::too_many_arguments)]
fn order_event(id: &str, acct: &str, order: &str, at_ns: i64, status: OrderStatus, event_type: Option<OrderEventType>, fill: Option<(&str, &str, &str)>) -> OrderEvent {
    OrderEvent {
        event_id: id.into(),
        account_id: acct.into(),
        order_id: order.into(),
        client_order_id: None,
        symbol: "LAT".into(),
        at_ns,
        status,
        reason: None,
        filled_qty: Decimal::ZERO,
        leaves_qty: Decimal::ZERO,
        avg_fill_price: None,
        replaced_by: None,
        message: None,
        origin: Some(if event_type.is_some() { OrderEventOrigin::Accounts } else { OrderEventOrigin::Venue }),
        event_type,
        fill: fill.map(|(fid, qty, price)| OrderFill { fill_id: fid.into(), qty: d(qty), price: d(price), fee: Decimal::ZERO, settlement_date: None }),
        new_qty: None,
        new_limit_price: None,
        new_stop_price: None,
    }
}

fn scenario(codec: &schemas::Codec) -> Events {
    let mut ev = Events::default();
    let mut put = |topic: &'static str, key: &str, bytes: Vec<u8>| ev.records.push((topic, key.to_string(), bytes));
    let noon = 12 * 3_600_000 * MS;
    // 1. The seed's capital-gains example.
    for x in [
        exec("b-jan", "acc-seed", "AAPL", Side::Buy, "100", "150", "0", ny(2024, 1, 1) + noon),
        exec("b-feb", "acc-seed", "AAPL", Side::Buy, "50", "160", "0", ny(2024, 2, 1) + noon),
        exec("s-mar", "acc-seed", "AAPL", Side::Sell, "120", "170", "0", ny(2024, 3, 1) + noon),
    ] {
        put("executions", "acc-seed", codec.encode(&x).unwrap());
    }
    // 2. The statement golden (October 2026, New York months): a deposit in September,
    // then a buy, a sell and a withdrawal in October.
    let oct1 = ny(2026, 10, 1);
    let entries = [
        entry("acc-st:1", "acc-st", EntryKind::Deposit, ny(2026, 9, 15), &[("cash:available", "USD", "10000", "0"), ("external:bank", "USD", "0", "10000")]),
        entry("acc-st:3", "acc-st", EntryKind::Hold, oct1 + DAY, &[("cash:available", "USD", "0", "1001"), ("cash:held", "USD", "1001", "0")]),
        entry(
            "acc-st:4",
            "acc-st",
            EntryKind::Trade,
            oct1 + DAY + 1,
            &[
                ("cash:held", "USD", "0", "1000"),
                ("venue:clearing", "USD", "1000", "0"),
                ("shares:XYZ:available", "XYZ", "10", "0"),
                ("venue:clearing:XYZ", "XYZ", "0", "10"),
            ],
        ),
        entry("acc-st:5", "acc-st", EntryKind::Fee, oct1 + DAY + 1, &[("cash:held", "USD", "0", "1"), ("revenue:fees", "USD", "1", "0")]),
        entry(
            "acc-st:6",
            "acc-st",
            EntryKind::Trade,
            oct1 + 2 * DAY,
            &[
                ("cash:unsettled", "USD", "480", "0"),
                ("venue:clearing", "USD", "0", "480"),
                ("shares:XYZ:available", "XYZ", "0", "4"),
                ("venue:clearing:XYZ", "XYZ", "4", "0"),
            ],
        ),
        entry("acc-st:7", "acc-st", EntryKind::Withdrawal, oct1 + 3 * DAY, &[("cash:available", "USD", "0", "500"), ("external:bank", "USD", "500", "0")]),
    ];
    for e in &entries {
        ev.entries += 1;
        ev.postings += e.postings.len() as u64;
        put("ledger", "acc-st", codec.encode(e).unwrap());
    }
    for x in [
        exec("x1", "acc-st", "XYZ", Side::Buy, "10", "100", "1", oct1 + DAY + 1),
        exec("x2", "acc-st", "XYZ", Side::Sell, "4", "120", "0", oct1 + 2 * DAY),
    ] {
        put("executions", "acc-st", codec.encode(&x).unwrap());
    }
    for (id, fid, dir, amount, at) in [
        ("acc-st.f1", "dep1", FundingDirection::Deposit, "10000", ny(2026, 9, 15)),
        ("acc-st.f7", "w1", FundingDirection::Withdrawal, "500", oct1 + 3 * DAY),
    ] {
        let f = FundingEvent { event_id: id.into(), account_id: "acc-st".into(), funding_id: fid.into(), direction: dir, status: FundingStatus::Completed, amount: d(amount), reason: None, at_ns: at };
        put("funding.events", "acc-st", codec.encode(&f).unwrap());
    }
    // 3. Orders of symbol LAT on 2026-10-02 (UTC): first fills after 10, 20, 40 ms, last
    // fills after 30, 20, 40 ms; one canceled, one rejected.
    let t0 = 1_790_942_400_000_000_000; // 2026-10-02T12:00:00Z
    use OrderEventType as T;
    use OrderStatus as S;
    let orders = [
        order_event("u1.1", "u1", "o1", t0, S::PendingNew, Some(T::Accepted), None),
        order_event("LAT.1", "u1", "o1", t0 + 2 * MS, S::New, None, None),
        order_event("LAT.2", "u1", "o1", t0 + 10 * MS, S::PartiallyFilled, None, Some(("f1", "4", "100.5"))),
        order_event("u1.2", "u1", "o1", t0 + 10 * MS, S::PartiallyFilled, Some(T::PartiallyFilled), Some(("f1", "4", "100.5"))),
        order_event("LAT.3", "u1", "o1", t0 + 30 * MS, S::Filled, None, Some(("f2", "6", "101"))),
        order_event("u1.3", "u1", "o2", t0 + 1000 * MS, S::PendingNew, Some(T::Accepted), None),
        order_event("LAT.4", "u1", "o2", t0 + 1020 * MS, S::Filled, None, Some(("f3", "1", "101"))),
        order_event("u2.1", "u2", "o3", t0 + 2000 * MS, S::PendingNew, Some(T::Accepted), None),
        order_event("LAT.5", "u2", "o3", t0 + 2500 * MS, S::Canceled, None, None),
        order_event("u2.2", "u2", "o4", t0 + 3000 * MS, S::Rejected, Some(T::Rejected), None),
        order_event("u2.3", "u2", "o5", t0 + 4000 * MS, S::PendingNew, Some(T::Accepted), None),
        order_event("LAT.6", "u2", "o5", t0 + 4040 * MS, S::Filled, None, Some(("f4", "2", "100"))),
    ];
    for o in &orders {
        put("orders.events", &o.account_id.clone(), codec.encode(o).unwrap());
    }
    for (i, (price, qty)) in [("100.5", "3"), ("101", "7")].into_iter().enumerate() {
        let t = Trade {
            trade_id: format!("LAT.t{i}"),
            symbol: "LAT".into(),
            seq: i as i64,
            price: d(price),
            qty: d(qty),
            aggressor: Side::Buy,
            buy_order_id: "o1".into(),
            sell_order_id: "ox".into(),
            at_ns: t0 + i as i64 * MS,
        };
        put("trades", "LAT", codec.encode(&t).unwrap());
    }
    // One dead letter (the sink reads the dead-letter topic too).
    let dl = DeadLetter {
        pipeline: "accounts".into(),
        source_topic: "orders.commands".into(),
        source_partition: 0,
        source_offset: 7,
        error_kind: ErrorKind::Undecodable,
        error: "bad".into(),
        key: None,
        value: Some(vec![1, 2, 3]),
        value_size: 3,
        failed_at_ns: t0,
    };
    put("dlq", "k", codec.encode(&dl).unwrap());
    ev.orders = orders.len() as u64;
    ev.executions = 5;
    ev.trades = 2;
    ev.funding = 2;
    ev
}

fn produce(prefix: &str, records: &[(&'static str, String, Vec<u8>)]) {
    let p = producer();
    for (topic, key, value) in records {
        send(&p, &format!("{prefix}{topic}"), key, value);
    }
    rdkafka::producer::Producer::flush(&p, Duration::from_secs(60)).unwrap();
}

/// `tradeflow report <args> --format json` as JSON.
fn report(url: &str, db: &str, args: &[&str]) -> Value {
    let out = Command::new(tests::tradeflow_bin())
        .arg("report")
        .args(args)
        .args(["--url", url, "--database", db, "--format", "json"])
        .env("RUST_LOG", "warn")
        .output()
        .expect("run tradeflow report");
    assert!(out.status.success(), "tradeflow report {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("report {args:?}: {e}\n{}", String::from_utf8_lossy(&out.stdout)))
}

fn report_csv(url: &str, db: &str, args: &[&str]) -> String {
    let out = Command::new(tests::tradeflow_bin()).arg("report").args(args).args(["--url", url, "--database", db, "--format", "csv"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn lines(v: &Value) -> Vec<(String, String, String, String, String)> {
    v["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let s = |k: &str| l[k].as_str().unwrap().to_string();
            (s("lot_id"), s("qty"), s("proceeds"), s("cost"), s("gain"))
        })
        .collect()
}

fn t(a: &str, b: &str, c: &str, e: &str, f: &str) -> (String, String, String, String, String) {
    (a.into(), b.into(), c.into(), e.into(), f.into())
}

/// `text` with every decimal number's trailing zeros dropped (`10.00000000` -> `10`):
/// ClickHouse 18.16 prints decimals with their scale, current versions without trailing
/// zeros; the figures are the same.
fn norm(text: &str) -> String {
    fn flush(tok: &mut String, out: &mut String) {
        let decimal = tok.matches('.').count() == 1 && tok.chars().all(|c| c.is_ascii_digit() || c == '.' || c == '-');
        out.push_str(if decimal { tok.trim_end_matches('0').trim_end_matches('.') } else { tok });
        tok.clear();
    }
    let (mut out, mut tok) = (String::new(), String::new());
    for c in text.chars() {
        if c.is_ascii_digit() || c == '.' || c == '-' {
            tok.push(c);
        } else {
            flush(&mut tok, &mut out);
            out.push(c);
        }
    }
    flush(&mut tok, &mut out);
    out
}

fn check_views(url: &str, db: &str, ev: &Events) {
    // Decimals compared by value (`norm`): the same figures on 18.16 and current versions.
    let q = |sql: &str| norm(&ch(url, &sql.replace("{db}", db)));
    // Every table: count() through the FINAL view = distinct ids = distinct events produced.
    for (view, id, expected) in [
        ("order_events", "event_id", ev.orders),
        ("executions", "exec_id", ev.executions),
        ("trades", "trade_id", ev.trades),
        ("ledger_postings", "(entry_id, posting_index)", ev.postings),
        ("ledger_entries", "entry_id", ev.entries),
        ("funding_events", "event_id", ev.funding),
        ("dead_letters", "dead_letter_id", 1),
    ] {
        let got = q(&format!("SELECT count(), uniqExact({id}) FROM {{db}}.{view}"));
        assert_eq!(got, format!("{expected}\t{expected}"), "{view}: count() and uniqExact({id})");
    }
    assert_eq!(q("SELECT count() FROM {db}.sink_rejects"), "0");
    // Daily volume and VWAP.
    assert_eq!(
        q("SELECT toString(day), trades, toString(volume), toString(notional), toString(vwap) FROM {db}.daily_symbol_volume WHERE symbol = 'LAT'"),
        norm("2026-10-02\t2\t10.00000000\t1008.5000000000000000\t100.8500000000000000")
    );
    // Outcome rates: 5 orders, 3 filled, 1 canceled, 1 rejected.
    assert_eq!(
        q("SELECT orders, filled, canceled, rejected, fill_rate, cancel_rate, reject_rate FROM {db}.order_outcome_rates WHERE symbol = 'LAT'"),
        "5\t3\t1\t1\t0.6\t0.2\t0.2"
    );
    // Latency per order and percentiles (quantileExact: element floor(level * n) sorted).
    assert_eq!(
        q("SELECT groupArray(order_id), groupArray(to_first_fill_ns), groupArray(to_last_fill_ns) FROM (SELECT * FROM {db}.order_fill_latency ORDER BY order_id)"),
        "['o1','o2','o5']\t[10000000,20000000,40000000]\t[30000000,20000000,40000000]"
    );
    assert_eq!(
        q("SELECT toString(day), filled_orders, first_fill_p50_ns, first_fill_p90_ns, first_fill_p99_ns, last_fill_p50_ns, last_fill_p90_ns, last_fill_p99_ns FROM {db}.order_fill_latency_daily"),
        "2026-10-02\t3\t20000000\t40000000\t40000000\t30000000\t40000000\t40000000"
    );
    // Per-account activity.
    assert_eq!(
        q("SELECT toString(day), account_id, orders, fills, toString(filled_qty), toString(fill_notional), toString(fees), toString(deposits), toString(withdrawals), ledger_entries \
           FROM {db}.account_daily_activity WHERE account_id IN ('acc-st', 'u1', 'u2') ORDER BY day, account_id FORMAT CSV"),
        [
            "\"2026-09-15\",\"acc-st\",0,0,\"0.00000000\",\"0.0000000000000000\",\"0.00000000\",\"10000.00000000\",\"0.00000000\",1",
            "\"2026-10-02\",\"acc-st\",0,1,\"10.00000000\",\"1000.0000000000000000\",\"1.00000000\",\"0.00000000\",\"0.00000000\",3",
            "\"2026-10-02\",\"u1\",2,0,\"0.00000000\",\"0.0000000000000000\",\"0.00000000\",\"0.00000000\",\"0.00000000\",0",
            "\"2026-10-02\",\"u2\",3,0,\"0.00000000\",\"0.0000000000000000\",\"0.00000000\",\"0.00000000\",\"0.00000000\",0",
            "\"2026-10-03\",\"acc-st\",0,1,\"4.00000000\",\"480.0000000000000000\",\"0.00000000\",\"0.00000000\",\"0.00000000\",1",
            "\"2026-10-04\",\"acc-st\",0,0,\"0.00000000\",\"0.0000000000000000\",\"0.00000000\",\"0.00000000\",\"500.00000000\",1",
        ]
        .map(norm)
        .join("\n")
    );
    assert_eq!(
        q("SELECT groupArray(toString(day)), groupArray(active_accounts) FROM (SELECT * FROM {db}.daily_active_accounts WHERE day >= '2026-10-01' ORDER BY day)"),
        "['2026-10-02','2026-10-03','2026-10-04']\t[3,1,1]"
    );
}

fn check_reports(url: &str, db: &str) {
    // Capital gains: the seed's example, FIFO (default) vs LIFO.
    let fifo = report(url, db, &["gains", "--account", "acc-seed", "--year", "2024"]);
    assert_eq!(fifo["method"], "fifo");
    assert_eq!(lines(&fifo), vec![t("b-jan", "100", "17000", "15000", "2000"), t("b-feb", "20", "3400", "3200", "200")]);
    assert_eq!((fifo["total"]["proceeds"].as_str(), fifo["total"]["cost"].as_str(), fifo["total"]["gain"].as_str()), (Some("20400"), Some("18200"), Some("2200")));
    assert_eq!(fifo["short_term"], fifo["total"]);
    assert_eq!(fifo["long_term"]["gain"], "0");
    assert_eq!((fifo["lines"][0]["acquired"].as_str(), fifo["lines"][0]["sold"].as_str()), (Some("2024-01-01"), Some("2024-03-01")));
    let lifo = report(url, db, &["gains", "--account", "acc-seed", "--year", "2024", "--method", "lifo"]);
    assert_eq!(lines(&lifo), vec![t("b-feb", "50", "8500", "8000", "500"), t("b-jan", "70", "11900", "10500", "1400")]);
    assert_eq!((lifo["total"]["cost"].as_str(), lifo["total"]["gain"].as_str()), (Some("18500"), Some("1900")));
    let csv = report_csv(url, db, &["gains", "--account", "acc-seed", "--year", "2024"]);
    assert!(csv.contains("\nlot,AAPL,b-jan,long,s-mar,100,2024-01-01,2024-03-01,60,17000,15000,2000,short\n"), "{csv}");
    assert!(csv.contains("\ntotal,,,,,,,,,20400,18200,2200,\n"), "{csv}");

    // The statement golden (same figures as the unit golden in sinks::reports::statement).
    let st = report(url, db, &["statement", "--account", "acc-st", "--month", "2026-10"]);
    assert_eq!((st["opening_cash"].as_str(), st["closing_cash"].as_str(), st["net_cash_change"].as_str()), (Some("10000"), Some("8979"), Some("-1021")));
    assert_eq!(st["period_start"], "2026-10-01T04:00:00Z");
    let entries: Vec<(String, String)> = st["ledger_entries"].as_array().unwrap().iter().map(|e| (e["entry_id"].as_str().unwrap().into(), e["cash_change"].as_str().unwrap().into())).collect();
    let expect: Vec<(String, String)> = [("acc-st:3", "0"), ("acc-st:4", "-1000"), ("acc-st:5", "-1"), ("acc-st:6", "480"), ("acc-st:7", "-500")].iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    assert_eq!(entries, expect);
    assert_eq!(st["fills"].as_array().unwrap().len(), 2);
    assert_eq!(st["funding"][0]["amount"], "500");
    assert_eq!(st["totals"]["withdrawals"], "500");
    assert_eq!(st["positions"], serde_json::json!([{ "symbol": "XYZ", "qty": "6", "cost_basis": "600.6", "avg_cost": "100.1", "open_lots": 1 }]));
    assert_eq!(st["notes"], serde_json::json!([]));
    // September holds only the deposit; an unknown account is an empty statement with a note.
    let sep = report(url, db, &["statement", "--account", "acc-st", "--month", "2026-09"]);
    assert_eq!((sep["opening_cash"].as_str(), sep["closing_cash"].as_str()), (Some("0"), Some("10000")));
    let nobody = report(url, db, &["statement", "--account", "nobody", "--month", "2026-10"]);
    assert_eq!(nobody["closing_cash"], "0");
    assert_eq!(nobody["notes"][0], "no events are recorded for account nobody: the statement is empty");

    // Admin report.
    let admin = report(url, db, &["admin", "--from", "2026-10-02", "--to", "2026-10-04"]);
    assert_eq!(admin["volume"], serde_json::json!([{ "day": "2026-10-02", "symbol": "LAT", "trades": 2, "volume": "10", "notional": "1008.5", "vwap": "100.85" }]));
    assert_eq!(
        admin["active_accounts"],
        serde_json::json!([{ "day": "2026-10-02", "active_accounts": 3 }, { "day": "2026-10-03", "active_accounts": 1 }, { "day": "2026-10-04", "active_accounts": 1 }])
    );
    assert_eq!(admin["latency"][0]["first_fill_p50_ms"], "20");
    assert_eq!(admin["latency"][0]["first_fill_p99_ms"], "40");
    assert_eq!(admin["latency"][0]["last_fill_p50_ms"], "30");
}

/// The same reports served by `tradeflow api --clickhouse-url` on `/api/v1`, with APCA keys
/// of a keys file: exactly the JSON of `tradeflow report` (the same library functions),
/// hence the golden figures `check_reports` checked; a trader sees its own account only
/// (another one answers 404) and the admin report is the admin's.
fn check_api_reports(rt: &tokio::runtime::Runtime, prefix: &str, url: &str, db: &str) {
    // The API's views follow every catalog topic (`--jwt-secret`: the platform's too).
    let topics: Vec<(&str, bool)> = schemas::topics::TOPICS
        .iter()
        .filter(|t| t.name != schemas::topics::DLQ)
        .map(|t| (t.name, t.cleanup == schemas::topics::Cleanup::Compact))
        .collect();
    rt.block_on(tests::create_prefixed_topics(prefix, 3, &topics));
    let keys_path = std::env::temp_dir().join(format!("{prefix}report-keys.json"));
    let keys = serde_json::json!([
        {"key_id": "PKST", "secret": "st-secret", "user_id": "u-st", "account_id": "acc-st", "role": "trader"},
        {"key_id": "PKSEED", "secret": "seed-secret", "user_id": "u-seed", "account_id": "acc-seed", "role": "trader"},
        {"key_id": "PKROOT", "secret": "root-secret", "user_id": "u-root", "account_id": "acc-root", "role": "admin"},
    ]);
    std::fs::write(&keys_path, keys.to_string()).unwrap();
    let port = tests::free_port();
    let args: Vec<String> = [
        "api", "--registry", "embedded", "--brokers", &tests::brokers(), "--topic-prefix", prefix, "--http", &format!("127.0.0.1:{port}"),
        "--keys", keys_path.to_str().unwrap(), "--jwt-secret", "clickhouse-reports-secret-0123456789abcdef", "--clickhouse-url", url,
        "--clickhouse-database", db, "--rate-limit-per-key", "0", "--rate-limit-per-ip", "0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut api = tests::Processor::spawn(&format!("{prefix}api"), &args);
    api.wait_for("api listening", 1, Duration::from_secs(60));
    let http = reqwest::Client::new();
    let get = |path: &str, key: (&str, &str)| -> (u16, Value) {
        rt.block_on(async {
            let r = http.get(format!("http://127.0.0.1:{port}{path}")).header("APCA-API-KEY-ID", key.0).header("APCA-API-SECRET-KEY", key.1).send().await.unwrap();
            let status = r.status().as_u16();
            let text = r.text().await.unwrap();
            (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
        })
    };
    let (st_key, seed_key, root_key) = (("PKST", "st-secret"), ("PKSEED", "seed-secret"), ("PKROOT", "root-secret"));
    // The views catch up at start (503 until then).
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let st = loop {
        let (s, b) = get("/api/v1/accounts/acc-st/statements/2026-10", st_key);
        if s == 200 {
            break b;
        }
        assert!(s == 503 && std::time::Instant::now() < deadline, "statement: {s} {b}");
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(st, report(url, db, &["statement", "--account", "acc-st", "--month", "2026-10"]));
    assert_eq!((st["opening_cash"].as_str(), st["closing_cash"].as_str(), st["net_cash_change"].as_str()), (Some("10000"), Some("8979"), Some("-1021")));
    assert_eq!(st["positions"], serde_json::json!([{ "symbol": "XYZ", "qty": "6", "cost_basis": "600.6", "avg_cost": "100.1", "open_lots": 1 }]));
    let (s, fifo) = get("/api/v1/accounts/acc-seed/capital-gains/2024", seed_key);
    assert_eq!(s, 200, "{fifo}");
    assert_eq!(fifo, report(url, db, &["gains", "--account", "acc-seed", "--year", "2024"]));
    assert_eq!(fifo["method"], "fifo");
    assert_eq!(lines(&fifo), vec![t("b-jan", "100", "17000", "15000", "2000"), t("b-feb", "20", "3400", "3200", "200")]);
    assert_eq!(fifo["total"]["gain"], "2200");
    let (s, lifo) = get("/api/v1/accounts/acc-seed/capital-gains/2024?method=lifo", seed_key);
    assert_eq!(s, 200, "{lifo}");
    assert_eq!(lifo, report(url, db, &["gains", "--account", "acc-seed", "--year", "2024", "--method", "lifo"]));
    assert_eq!(lines(&lifo), vec![t("b-feb", "50", "8500", "8000", "500"), t("b-jan", "70", "11900", "10500", "1400")]);
    let (s, admin) = get("/api/v1/admin/reports/activity?from=2026-10-02&to=2026-10-04", root_key);
    assert_eq!(s, 200, "{admin}");
    assert_eq!(admin, report(url, db, &["admin", "--from", "2026-10-02", "--to", "2026-10-04"]));
    // Authorization and validation.
    assert_eq!(get("/api/v1/accounts/acc-seed/capital-gains/2024", st_key).0, 404);
    assert_eq!(get("/api/v1/accounts/acc-st/statements/2026-10", root_key).0, 200);
    assert_eq!(get("/api/v1/admin/reports/activity?from=2026-10-02&to=2026-10-04", st_key).0, 403);
    let (s, b) = get("/api/v1/accounts/acc-st/statements/2026-13", st_key);
    assert_eq!(s, 422, "{b}");
    api.stop();
    let _ = std::fs::remove_file(keys_path);
}

#[test]
fn clickhouse_views_and_reports_count_each_event_once() {
    let Some(url) = clickhouse_url() else { return };
    views_and_reports_scenario(&url);
}

/// The whole scenario against the ClickHouse at `url` (also run on a current ClickHouse by
/// `clickhouse_current`).
pub(crate) fn views_and_reports_scenario(url: &str) {
    let url = url.to_string();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let prefix = tests::unique_prefix("chrep");
    let db = database_name("reports");
    migrate(&url, &db);
    let topics: Vec<(&str, bool)> = TOPICS.iter().map(|t| (*t, false)).collect();
    rt.block_on(tests::create_prefixed_topics(&prefix, 3, &topics));
    let codec = rt.block_on(tests::codec());
    let ev = scenario(&codec);
    produce(&prefix, &ev.records);
    let port = tests::free_port();
    let addr = format!("127.0.0.1:{port}");
    let s = sink(&prefix, &url, &db, &["--batch-records", "7", "--batch-interval-ms", "200", "--metrics-addr", &addr]);
    wait_sink_caught_up(&prefix, Duration::from_secs(120));
    check_views(&url, &db, &ev);
    // Sink metrics: rows acknowledged per table (no crash, so exactly the rows produced).
    let metrics = tests::http_get(port, "/metrics");
    for (table, rows) in [
        ("order_events_raw", ev.orders),
        ("executions_raw", ev.executions),
        ("trades_raw", ev.trades),
        ("ledger_postings_raw", ev.postings),
        ("funding_events_raw", ev.funding),
        ("dead_letters_raw", 1),
    ] {
        let line = format!("tradeflow_sink_rows_written_total{{pipeline=\"sink-clickhouse\",table=\"{table}\"}} {rows}\n");
        assert!(metrics.contains(&line), "missing {line:?} in\n{metrics}");
    }
    for name in ["tradeflow_sink_batches_total", "tradeflow_sink_batch_latency_seconds_count", "tradeflow_consumer_lag", "tradeflow_records_in_total"] {
        assert!(metrics.contains(name), "missing {name} in\n{metrics}");
    }
    // Re-deliver everything (new Kafka records, same ids): new, unmerged parts.
    produce(&prefix, &ev.records);
    wait_sink_caught_up(&prefix, Duration::from_secs(120));
    s.stop();
    let raw = ch(&url, &format!("SELECT count() FROM {db}.order_events_raw"));
    assert!(raw.parse::<u64>().unwrap() >= 2 * ev.orders, "the copies should be in the raw table, got {raw}");
    check_views(&url, &db, &ev);
    check_reports(&url, &db);
    check_api_reports(&rt, &prefix, &url, &db);
    // Clear errors: a bad month, and a ClickHouse that is not there (named in the message).
    let fail = |args: &[&str]| {
        let out = Command::new(tests::tradeflow_bin()).arg("report").args(args).env("RUST_BACKTRACE", "0").output().unwrap();
        assert!(!out.status.success(), "{args:?} should fail");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = fail(&["statement", "--account", "acc-st", "--month", "2026-13", "--url", &url, "--database", &db]);
    assert!(err.contains("invalid month \"2026-13\": expected YYYY-MM"), "{err}");
    let dead = format!("http://127.0.0.1:{}", tests::free_port());
    let err = fail(&["gains", "--account", "acc-seed", "--year", "2024", "--url", &dead]);
    assert!(err.contains(&format!("ClickHouse at {dead} is unreachable")), "{err}");
    ch(&url, &format!("DROP DATABASE {db}"));
}
