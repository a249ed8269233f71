//! The README's first command: `tradeflow demo` starts the platform in one process (broker,
//! accounts + matching + portfolio, the Kafka-backed Trading API, seeds and a simulated
//! market) and serves it with the credentials it prints.
//!
//! The test reads the printed curl example and WebSocket URL, then, while the demo trades,
//! checks the API as a user would: `/readyz`, `/v2/account` (the printed trader's account
//! and cash), `/v2/orders` (the generated orders), `/v2/positions` (a position once the
//! trader's orders fill) and the `trade_updates` stream (a fill of the trader's). Finally
//! the demo must stop by itself after `--duration-secs`, cleanly.

use futures_util::{SinkExt, StreamExt};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::process::{Child, Command};
use std::time::{Duration, Instant};
use tests::{brokers, free_port, tradeflow_bin};
use tokio_tungstenite::tungstenite::Message;

/// Spawns the demo with stdout in a file; `brokers` = None runs on the mock cluster.
fn spawn(port: u16, secs: u64, brokers: Option<&str>) -> (Child, std::path::PathBuf) {
    let out = std::env::temp_dir().join(format!("demo-{port}.out"));
    let mut cmd = Command::new(tradeflow_bin());
    cmd.args(["demo", "--duration-secs", &secs.to_string(), "--http", &format!("127.0.0.1:{port}"), "--seed", "7"]);
    match brokers {
        Some(b) => cmd.args(["--brokers", b]),
        None => cmd.env_remove("KAFKA_BROKERS"),
    };
    let child = cmd
        .env("RUST_LOG", "warn")
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(out.with_extension("err")).unwrap())
        .spawn()
        .expect("spawn demo");
    (child, out)
}

fn output(out: &std::path::Path) -> String {
    std::fs::read_to_string(out).unwrap_or_default()
}

/// What the banner promises: the curl example's key, secret and URL, the trader's account
/// and the WebSocket URL.
struct Printed {
    key: String,
    secret: String,
    account_url: String,
    account_id: String,
    ws: String,
}

fn quoted_after<'a>(line: &'a str, header: &str) -> &'a str {
    let rest = &line[line.find(header).unwrap_or_else(|| panic!("{header} in {line}")) + header.len()..];
    rest.split('\'').next().unwrap()
}

fn printed(out: &std::path::Path) -> Printed {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = output(out);
        if let (Some(curl), Some(ws)) = (text.lines().find(|l| l.contains("curl -H 'APCA-API-KEY-ID: ")), text.lines().find(|l| l.contains("ws://"))) {
            let key = quoted_after(curl, "APCA-API-KEY-ID: ").to_string();
            let trader = text.lines().find(|l| l.contains(&format!("key {key} "))).expect("credentials line of the curl example's key");
            return Printed {
                secret: quoted_after(curl, "APCA-API-SECRET-KEY: ").to_string(),
                account_url: curl.split_whitespace().last().unwrap().to_string(),
                account_id: trader.split_whitespace().skip_while(|w| *w != "account").nth(1).unwrap().to_string(),
                ws: ws.split_whitespace().find(|w| w.starts_with("ws://")).unwrap().to_string(),
                key,
            };
        }
        assert!(Instant::now() < deadline, "the demo printed no credentials; output:\n{text}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

async fn get(http: &reqwest::Client, p: &Printed, url: &str) -> (u16, Value) {
    let r = http.get(url).header("APCA-API-KEY-ID", &p.key).header("APCA-API-SECRET-KEY", &p.secret).send().await;
    match r {
        Ok(r) => (r.status().as_u16(), r.json().await.unwrap_or(Value::Null)),
        Err(_) => (0, Value::Null),
    }
}

/// Polls `url` until `ok` holds for a 200 answer; returns that answer.
async fn until(http: &reqwest::Client, p: &Printed, url: &str, out: &std::path::Path, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (status, body) = get(http, p, url).await;
        if status == 200 && ok(&body) {
            return body;
        }
        assert!(Instant::now() < deadline, "{url}: last answer {status} {body}; demo output:\n{}", output(out));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn decimal(v: &Value) -> Decimal {
    v.as_str().unwrap_or_else(|| panic!("{v} is not a decimal string")).parse().unwrap()
}

/// Runs the checks against a demo that is up, then waits for it to stop by itself.
fn check_demo(mut child: Child, out: &std::path::Path, fresh: bool) -> String {
    let p = printed(out);
    let base = p.account_url.trim_end_matches("/v2/account").to_string();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(90);
        while http.get(format!("{base}/readyz")).send().await.map(|r| r.status().as_u16()).unwrap_or(0) != 200 {
            assert!(Instant::now() < deadline, "/readyz never 200; output:\n{}", output(out));
            tokio::time::sleep(Duration::from_millis(300)).await;
        }

        // The printed curl example, as printed.
        // The account opens before its deposit lands: wait for the cash.
        let account = until(&http, &p, &p.account_url, out, |a| a["account_number"] == p.account_id.as_str() && a["cash"] != "0").await;
        let cash = decimal(&account["cash"]);
        let equity = decimal(&account["equity"]);
        assert!(cash > Decimal::ZERO, "{account}");
        if fresh {
            // Deposited 100,000; the walk keeps prices within a few percent.
            assert!((Decimal::from(95_000)..=Decimal::from(105_000)).contains(&equity), "{account}");
        }

        // The trade_updates stream at the printed URL, with the printed key.
        let (mut ws, _) = tokio_tungstenite::connect_async(p.ws.as_str()).await.expect("ws connect");
        ws.send(Message::Text(json!({"action": "auth", "key": p.key, "secret": p.secret}).to_string().into())).await.unwrap();
        ws.send(Message::Text(json!({"action": "listen", "data": {"streams": ["trade_updates"]}}).to_string().into())).await.unwrap();

        let orders = until(&http, &p, &format!("{base}/v2/orders?status=all&limit=500"), out, |o| o.as_array().is_some_and(|a| !a.is_empty())).await;
        for o in orders.as_array().unwrap() {
            assert!(["gtc", "ioc"].contains(&o["time_in_force"].as_str().unwrap()), "generated orders are GTC or IOC: {o}");
        }
        let positions = until(&http, &p, &format!("{base}/v2/positions"), out, |v| v.as_array().is_some_and(|a| !a.is_empty())).await;
        for pos in positions.as_array().unwrap() {
            assert!(decimal(&pos["qty"]) > Decimal::ZERO, "traders are long only: {pos}");
        }

        let deadline = Instant::now() + Duration::from_secs(60);
        let mut fills = 0;
        while fills == 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no fill on trade_updates within 60 s; output:\n{}", output(out));
            let Ok(Some(Ok(m))) = tokio::time::timeout(left, ws.next()).await else { continue };
            let v: Value = match m {
                Message::Text(t) => serde_json::from_str(&t).unwrap(),
                Message::Binary(b) => serde_json::from_slice(&b).unwrap(),
                _ => continue,
            };
            if v["stream"] == "trade_updates" && ["fill", "partial_fill"].contains(&v["data"]["event"].as_str().unwrap_or("")) {
                assert_eq!(v["data"]["order"]["symbol"].as_str().map(|s| ["AAPL", "MSFT", "TSLA"].contains(&s)), Some(true), "{v}");
                fills += 1;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the demo did not stop after --duration-secs; output:\n{}", output(out));
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let text = output(out);
    assert!(status.success(), "demo failed ({status}):\n{text}\nstderr:\n{}", output(&out.with_extension("err")));
    for needle in ["seeded:", "trading:", "fills", "stopping: canceling open orders", "stopped:"] {
        assert!(text.contains(needle), "{needle:?} missing:\n{text}");
    }
    let progress: Vec<&str> = text.lines().filter(|l| l.starts_with('[') && l.contains("fills")).collect();
    assert!(progress.len() >= 2, "progress lines every few seconds:\n{text}");
    for l in ["AAPL", "MSFT", "TSLA"] {
        assert!(progress.last().unwrap().contains(l), "{l} in {}", progress.last().unwrap());
    }
    text
}

#[test]
fn demo_runs_the_platform_on_the_mock_cluster_and_serves_the_api() {
    let port = free_port();
    let (child, out) = spawn(port, 45, None);
    let text = check_demo(child, &out, true);
    assert!(text.contains("NON-DURABLE"), "the demo must label its in-process broker:\n{text}");
}

#[test]
fn demo_runs_on_a_real_broker() {
    let port = free_port();
    let (child, out) = spawn(port, 40, Some(&brokers()));
    let text = check_demo(child, &out, false);
    assert!(!text.contains("NON-DURABLE") && text.contains("real Kafka"), "{text}");
}
