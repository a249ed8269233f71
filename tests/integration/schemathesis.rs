//! Property-based API testing with schemathesis (a client no one here wrote): it reads
//! `tradeflow api`'s own `/openapi.json` and sends generated valid and invalid requests to
//! every operation, with the APCA key headers of a funded trader, in front of the accounts,
//! matching and portfolio pipelines ([`crate::api_platform`]).
//!
//! Checks: `not_a_server_error` (no 5xx), `status_code_conformance` (only documented
//! statuses), `content_type_conformance` and `response_schema_conformance` (bodies match the
//! document's schemas). Bounded: `--max-examples` per operation, fixed seed, a deadline;
//! requests are paced under the API's per-key rate limit (`api::limits`: 10/s), so the
//! operations are exercised rather than answered 429.
//! Excluded: `/stream` (a WebSocket upgrade, not HTTP request / response) and
//! `/v2/events/trades` (Server-Sent Events: the response never ends); `/api/v1` too while
//! `tradeflow api` does not serve it (it answers 503 by design: no platform ports on Kafka
//! yet), which the test checks and prints.
//!
//! Needs `TRADEFLOW_PYTHON` with schemathesis (tests/clients/requirements.txt); fails and
//! says how to set it when missing. The run's JUnit report is kept in the temp directory.

use crate::api_platform::{python, wait_or_kill, AccountSpec, Platform};
use serde_json::json;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const RUN_TIMEOUT: Duration = Duration::from_secs(240);
/// Generated cases per operation and phase (keeps the whole run near two minutes).
const MAX_EXAMPLES: &str = "10";
/// Under the per-key limit of 10 requests per second.
const RATE: &str = "9/s";
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance";

#[test]
fn schemathesis_finds_no_server_errors_or_undocumented_responses() {
    let py = python("schemathesis");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(scenario(py));
}

async fn scenario(py: String) {
    let accounts = [AccountSpec { key_id: "PKSTTRADER", cash: 100_000, allow_shorting: false }];
    let p = Platform::start("schemathesis", "STX", "0.01", &accounts).await;
    let k = p.key("PKSTTRADER").clone();
    // An open order, so order operations also meet an existing resource.
    let (s, o) = p.call(reqwest::Method::POST, &k, "/v2/orders", Some(json!({"symbol": "STX", "qty": "1", "side": "buy", "type": "limit", "limit_price": "10", "time_in_force": "gtc"}))).await;
    assert_eq!((s, o["status"].as_str()), (200, Some("new")), "{o}");

    // `/api/v1` is served only with the platform ports; without them every call is a 503.
    let (v1_status, _) = p.call(reqwest::Method::GET, &k, "/api/v1/me", None).await;
    let exclude_v1 = v1_status == 503;
    eprintln!("schemathesis: /api/v1 answers {v1_status}: {}", if exclude_v1 { "excluded (not served by tradeflow api)" } else { "included" });

    let report_dir = std::env::temp_dir().join(format!("{}schemathesis", p.prefix));
    let out_path = std::env::temp_dir().join(format!("{}schemathesis.out", p.prefix));
    let started = Instant::now();
    let mut args: Vec<String> = [
        "-m", "schemathesis.cli", "--no-color", "run", &format!("{}/openapi.json", p.base),
        "--checks", CHECKS,
        "-H", &format!("APCA-API-KEY-ID: {}", k.id),
        "-H", &format!("APCA-API-SECRET-KEY: {}", k.secret),
        "--generation-with-security-parameters", "false",
        "--max-examples", MAX_EXAMPLES,
        "--seed", "20261121",
        "--workers", "2",
        "--phases", "examples,coverage,fuzzing",
        "--exclude-path", "/stream",
        "--exclude-path", "/v2/events/trades",
        "--rate-limit", RATE,
        "--request-timeout", "20",
        "--suppress-health-check", "all",
        "--generation-database", "none",
        "--report", "junit",
        "--report-dir", report_dir.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if exclude_v1 {
        args.extend(["--exclude-path-regex".to_string(), "^/api/v1/".to_string()]);
    }
    let out = std::fs::File::create(&out_path).unwrap();
    let mut child = Command::new(&py)
        .args(&args)
        .env("PYTHONUNBUFFERED", "1")
        .env("NO_COLOR", "1")
        .stdout(Stdio::from(out.try_clone().unwrap()))
        .stderr(Stdio::from(out))
        .spawn()
        .unwrap_or_else(|e| panic!("running {py} -m schemathesis.cli: {e}"));
    let status = wait_or_kill(&mut child, started, RUN_TIMEOUT);
    let output = std::fs::read_to_string(&out_path).unwrap_or_default();
    eprintln!("schemathesis ran {:.1?}; output {} (report: {})", started.elapsed(), out_path.display(), report_dir.display());
    let report = format!("{output}\napi log: {}", p.api.log.display());
    let status = status.unwrap_or_else(|| panic!("schemathesis still running after {RUN_TIMEOUT:?}\n{report}"));
    assert!(status.success(), "schemathesis exited with {status}\n{report}");
    // It really ran the operations (not an empty selection or an unreadable schema).
    assert!(output.contains("passed") && !output.contains("No operations"), "{report}");
    // The server stayed healthy and the funded account is intact enough to answer.
    let (s, acct) = p.call(reqwest::Method::GET, &k, "/v2/account", None).await;
    assert_eq!(s, 200, "{acct}");
    p.stop();
}
