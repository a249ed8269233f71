//! Acceptance test with a client no one here wrote: the official `alpaca-py` SDK drives
//! `tradeflow api` in front of the accounts, matching and portfolio pipelines
//! (`tests/clients/alpaca_py_check.py`: account, clock, assets, orders with a
//! client_order_id retry, replace, cancel, a fill, positions, activities, an error, and
//! `trade_updates` over the WebSocket).
//!
//! Set-up ([`crate::api_platform`]): symbol `PYX` (tick 0.01), buyer A with cash, seller B
//! allowed to short, and two more accounts C and D that trade one share at the price first:
//! market orders need a reference price (the last trade; the accounts pipeline refuses a
//! market buy on a symbol that never traded, `NO_REFERENCE_PRICE`), and the script expects
//! a symbol without resting orders, which the crossed seed trade leaves.
//!
//! Needs `TRADEFLOW_PYTHON` (a Python with `tests/clients/requirements.txt`; scripts/test.sh
//! makes one): without it the test fails and says how to set it.
//! After the script: A's cash in `accounts.snapshots` is exactly funded - 3 x price.

use crate::api_platform::{python, repo_root, wait_or_kill, AccountSpec, Platform};
use rust_decimal::Decimal;
use serde_json::json;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SYMBOL: &str = "PYX";
const PRICE: &str = "50";
const BUYER_CASH: i64 = 10_000;
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(240);

#[test]
fn alpaca_py_drives_the_trading_api() {
    let py = python("alpaca");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(scenario(py));
}

async fn scenario(py: String) {
    let accounts = [
        AccountSpec { key_id: "PKPYBUYERA", cash: BUYER_CASH, allow_shorting: false },
        AccountSpec { key_id: "PKPYSELLERB", cash: 5_000, allow_shorting: true },
        AccountSpec { key_id: "PKPYSEEDC", cash: 1_000, allow_shorting: true },
        AccountSpec { key_id: "PKPYSEEDD", cash: 1_000, allow_shorting: false },
    ];
    let p = Platform::start("alpacapy", SYMBOL, "0.01", &accounts).await;
    let (a, b, c, d) = (p.key("PKPYBUYERA").clone(), p.key("PKPYSELLERB").clone(), p.key("PKPYSEEDC").clone(), p.key("PKPYSEEDD").clone());

    // The seed trade: C offers 1 at the price, D takes it. Nothing rests afterwards.
    let order = |side: &str| json!({"symbol": SYMBOL, "qty": "1", "side": side, "type": "limit", "limit_price": PRICE, "time_in_force": "gtc"});
    let (s, offer) = p.call(reqwest::Method::POST, &c, "/v2/orders", Some(order("sell"))).await;
    assert_eq!((s, offer["status"].as_str()), (200, Some("new")), "{offer}");
    let (s, take) = p.call(reqwest::Method::POST, &d, "/v2/orders", Some(order("buy"))).await;
    assert_eq!(s, 200, "{take}");
    let take_id = take["id"].as_str().unwrap().to_string();
    p.wait_for(&d, &format!("/v2/orders/{take_id}"), "seed trade filled", |s, b| s == 200 && b["status"] == "filled").await;
    // The asset view has the last trade price once D's position is priced with it.
    p.wait_for(&d, &format!("/v2/positions/{SYMBOL}"), "last trade price known", |s, b| s == 200 && b["current_price"] == PRICE).await;

    let started = Instant::now();
    let script = repo_root().join("tests/clients/alpaca_py_check.py");
    let out_path = std::env::temp_dir().join(format!("{}alpaca_py.out", p.prefix));
    let err_path = std::env::temp_dir().join(format!("{}alpaca_py.err", p.prefix));
    let mut child = Command::new(&py)
        .arg(&script)
        .env("TF_BASE_URL", &p.base)
        .env("TF_KEY_A", &a.id)
        .env("TF_SECRET_A", &a.secret)
        .env("TF_KEY_B", &b.id)
        .env("TF_SECRET_B", &b.secret)
        .env("TF_SYMBOL", SYMBOL)
        .env("TF_PRICE", PRICE)
        .env("PYTHONUNBUFFERED", "1")
        .stdout(Stdio::from(std::fs::File::create(&out_path).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(&err_path).unwrap()))
        .spawn()
        .unwrap_or_else(|e| panic!("running {py} {}: {e}", script.display()));
    let status = wait_or_kill(&mut child, started, SCRIPT_TIMEOUT);
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    let report = format!("stdout:\n{stdout}\nstderr:\n{stderr}\napi log: {}", p.api.log.display());
    eprintln!("alpaca_py_check.py ran {:.1?}", started.elapsed());
    let status = status.unwrap_or_else(|| panic!("alpaca_py_check.py still running after {SCRIPT_TIMEOUT:?}\n{report}"));
    assert!(status.success(), "alpaca_py_check.py exited with {status}\n{report}");
    let ok_line = stdout.lines().find_map(|l| l.strip_prefix("ALPACA_PY_OK ")).unwrap_or_else(|| panic!("no ALPACA_PY_OK line\n{report}"));
    let summary: serde_json::Value = serde_json::from_str(ok_line).unwrap_or_else(|e| panic!("ALPACA_PY_OK is not JSON ({e}): {ok_line}"));
    let price: Decimal = PRICE.parse().unwrap();
    let want_cash = Decimal::from(BUYER_CASH) - Decimal::from(3) * price;
    assert_eq!(summary["cash"].as_str().map(|c| c.parse::<Decimal>().unwrap()), Some(want_cash), "{summary}");

    // Cross-check on Kafka: A's latest accounts.snapshots record, exactly.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let snap = p.account_snapshot(&a.account);
        if snap.as_ref().is_some_and(|s| s.cash == want_cash) {
            let s = snap.unwrap();
            let held: Decimal = s.positions.iter().filter(|q| q.symbol == SYMBOL).map(|q| q.qty).sum();
            assert_eq!(held, Decimal::from(3), "A's position in the snapshot: {s:?}");
            break;
        }
        assert!(Instant::now() < deadline, "accounts.snapshots: A's cash is not {want_cash}: {snap:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    p.stop();
}
