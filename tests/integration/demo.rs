//! The README's first command: `tradeflow demo` runs with no setup and serves its view.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tests::{free_port, http_get, tradeflow_bin};

#[test]
fn demo_runs_without_setup_and_serves_the_materialized_view() {
    let port = free_port();
    let out = std::env::temp_dir().join(format!("demo-{port}.out"));
    let mut child = Command::new(tradeflow_bin())
        .args(["demo", "--duration-secs", "12", "--http", &format!("127.0.0.1:{port}")])
        .env_remove("KAFKA_BROKERS")
        .env("RUST_LOG", "warn")
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn demo");
    let deadline = Instant::now() + Duration::from_secs(60);
    let view = loop {
        assert!(Instant::now() < deadline, "demo never served totals; output:\n{}", std::fs::read_to_string(&out).unwrap_or_default());
        std::thread::sleep(Duration::from_millis(300));
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            continue;
        }
        let body = http_get(port, "/api/v1/totals");
        let v: serde_json::Value = serde_json::from_str(&body).expect("JSON view");
        if v.as_object().is_some_and(|o| o.len() == 5) {
            break v;
        }
    };
    for (key, entry) in view.as_object().unwrap() {
        assert!(key.starts_with("acct-"), "{key}");
        assert!(entry["count"].as_i64().unwrap() > 0, "{entry}");
        entry["total"].as_str().unwrap().parse::<rust_decimal::Decimal>().expect("exact decimal total");
    }
    assert!(http_get(port, "/metrics").contains("tradeflow_records_in_total"));
    let status = child.wait().expect("demo exits after --duration-secs");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(status.success(), "demo failed:\n{text}");
    assert!(text.contains("NON-DURABLE"), "the demo must label its in-process broker:\n{text}");
    assert!(text.contains("stopped:"), "{text}");
}
