//! The platform API (`/api/v1`) of `tradeflow api --jwt-secret` on a real broker, across a
//! restart of the API process.
//!
//! Registration opens an account through the accounts pipeline; login gives a JWT pair; a
//! key created on `/api/v1` authenticates on `/v2`; a deposit goes through the accounts
//! pipeline and shows in the transaction history; a watchlist is created. Then the API
//! process is stopped and a new one started on the same topics: the refresh token still
//! rotates, the token it replaced is detected as reuse (the family is revoked), the created
//! key and the watchlist are still there, and the audit topic's hash chain verifies.

use pipelines::api_kafka::platform::audit::verify_audit_topic;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tests::{create_prefixed_topics, free_port, Processor};

const JWT_SECRET: &str = "platform-api-e2e-secret-0123456789abcdef";

struct Api {
    proc: Processor,
    base: String,
    http: reqwest::Client,
}

impl Api {
    fn start(prefix: &str, name: &str, keys: &std::path::Path) -> Api {
        let port = free_port();
        let args: Vec<String> = [
            "api", "--registry", "embedded", "--brokers", &tests::brokers(), "--topic-prefix", prefix, "--http",
            &format!("127.0.0.1:{port}"), "--keys", keys.to_str().unwrap(), "--jwt-secret", JWT_SECRET,
            "--rate-limit-per-key", "0", "--rate-limit-per-ip", "0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut proc = Processor::spawn(&format!("{prefix}{name}"), &args);
        proc.wait_for("api listening", 1, Duration::from_secs(60));
        Api { proc, base: format!("http://127.0.0.1:{port}"), http: reqwest::Client::new() }
    }

    async fn ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let r = self.http.get(format!("{}/readyz", self.base)).send().await.unwrap();
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap();
            if status == 200 {
                let views: Vec<&str> = body["views"].as_array().unwrap().iter().filter_map(|v| v["view"].as_str()).collect();
                assert!(views.len() > 6, "the platform's views are part of readiness: {body}");
                return;
            }
            assert!(Instant::now() < deadline, "/readyz still {status}: {body}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, auth: Auth<'_>, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        req = match auth {
            Auth::None => req,
            Auth::Bearer(t) => req.bearer_auth(t),
            Auth::Key(id, secret) => req.header("APCA-API-KEY-ID", id).header("APCA-API-SECRET-KEY", secret),
        };
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// Polls `path` until `done` (the pipelines and views are asynchronous).
    async fn wait_for(&self, path: &str, auth: Auth<'_>, what: &str, done: impl Fn(u16, &Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (s, b) = self.call(reqwest::Method::GET, path, auth, None).await;
            if done(s, &b) {
                return b;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}: {s} {b}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

fn now_ns() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as i64
}

#[derive(Clone, Copy)]
enum Auth<'a> {
    None,
    Bearer(&'a str),
    Key(&'a str, &'a str),
}

#[test]
fn platform_api_on_kafka_survives_an_api_restart() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(scenario());
}

async fn scenario() {
    use reqwest::Method;
    let prefix = tests::unique_prefix("platform");
    eprintln!("platform_api: prefix {prefix}");
    let topics: Vec<(&str, bool)> = schemas::topics::TOPICS
        .iter()
        .filter(|t| t.name != schemas::topics::DLQ)
        .map(|t| (t.name, t.cleanup == schemas::topics::Cleanup::Compact))
        .collect();
    create_prefixed_topics(&prefix, 3, &topics).await;
    let pipelines: Vec<Processor> = ["accounts", "matching"].iter().map(|n| Processor::pipeline(n, &prefix, "t", &[])).collect();
    // A static admin key (the operator's), for the KYC decision.
    let keys_path = std::env::temp_dir().join(format!("{prefix}keys.json"));
    let admin = json!([{"key_id": "PKPLATFORMADMIN", "secret": "platform-admin-secret", "user_id": "root", "account_id": "acc-root", "role": "admin"}]);
    std::fs::write(&keys_path, admin.to_string()).unwrap();
    let admin_key = Auth::Key("PKPLATFORMADMIN", "platform-admin-secret");
    let codec = tests::codec().await;
    let producer = tests::producer();
    let list = schemas::records::InstrumentCommand {
        command_id: "list-aaa".into(),
        symbol: "AAA".into(),
        issued_at_ns: now_ns(),
        body: schemas::records::InstrumentInstruction::ListInstrument(schemas::records::ListInstrument {
            name: "AAA Corp".into(),
            tick_size: "0.01".parse().unwrap(),
            lot_size: "1".parse().unwrap(),
            min_qty: "1".parse().unwrap(),
            max_order_notional: None,
            self_trade_prevention: schemas::records::SelfTradePrevention::CancelNewest,
            price_band_pct: None,
        }),
    };
    tests::send(&producer, &format!("{prefix}instruments.commands"), "AAA", &codec.encode(&list).unwrap());
    let api = Api::start(&prefix, "api1", &keys_path);
    api.ready().await;

    // Register and log in.
    let creds = json!({"email": "erin@example.com", "password": "erin-password-123"});
    let (s, reg) = api.call(Method::POST, "/api/v1/auth/register", Auth::None, Some(creds.clone())).await;
    assert_eq!(s, 201, "{reg}");
    let account = reg["account_id"].as_str().unwrap().to_string();
    let (s, dup) = api.call(Method::POST, "/api/v1/auth/register", Auth::None, Some(creds.clone())).await;
    assert_eq!(s, 422, "the same email twice: {dup}");
    let (s, pair) = api.call(Method::POST, "/api/v1/auth/login", Auth::None, Some(creds.clone())).await;
    assert_eq!(s, 200, "{pair}");
    let access = pair["access_token"].as_str().unwrap().to_string();
    let refresh1 = pair["refresh_token"].as_str().unwrap().to_string();
    let (s, me) = api.call(Method::GET, "/api/v1/me", Auth::Bearer(&access), None).await;
    assert_eq!((s, me["account_id"].as_str()), (200, Some(account.as_str())), "{me}");

    // The accounts pipeline opened the account (KYC pending): /v2 sees it with a new key.
    let (s, key) = api.call(Method::POST, "/api/v1/api-keys", Auth::Bearer(&access), Some(json!({"label": "bot"}))).await;
    assert_eq!(s, 201, "{key}");
    let (key_id, secret) = (key["key_id"].as_str().unwrap().to_string(), key["secret"].as_str().unwrap().to_string());
    let acct = api.wait_for("/v2/account", Auth::Key(&key_id, &secret), "the account on /v2", |s, _| s == 200).await;
    assert_eq!(acct["cash"], "0", "{acct}");

    // A watchlist (the compacted `watchlists` topic), read back after the restart below.
    let (s, wl) = api.call(Method::POST, "/v2/watchlists", Auth::Key(&key_id, &secret), Some(json!({"name": "later", "symbols": []}))).await;
    assert_eq!(s, 200, "{wl}");
    let wl_id = wl["id"].as_str().unwrap().to_string();

    // KYC pending: orders are refused. An admin approves (then deposits and orders pass).
    let order = json!({"symbol": "AAA", "qty": "2", "side": "buy", "type": "limit", "limit_price": "100", "time_in_force": "gtc"});
    let (s, refused) = api.call(Method::POST, "/v2/orders", Auth::Key(&key_id, &secret), Some(order.clone())).await;
    assert_eq!((s, refused["status"].as_str()), (200, Some("rejected")), "KYC pending: {refused}");
    let (s, kyc) = api.call(Method::POST, &format!("/api/v1/admin/accounts/{account}/kyc"), Auth::Bearer(&access), Some(json!({"status": "approved"}))).await;
    assert_eq!(s, 403, "a trader cannot approve KYC: {kyc}");
    let (s, kyc) = api.call(Method::POST, &format!("/api/v1/admin/accounts/{account}/kyc"), admin_key, Some(json!({"status": "approved", "tier": 1}))).await;
    assert_eq!(s, 202, "{kyc}");
    api.wait_for(&format!("/api/v1/accounts/{account}/kyc"), Auth::Bearer(&access), "KYC approved", |s, b| s == 200 && b["kyc_status"] == "approved").await;
    // A deposit through the accounts pipeline, visible in the history.
    let (s, dep) = api.call(Method::POST, &format!("/api/v1/accounts/{account}/deposits"), Auth::Bearer(&access), Some(json!({"amount": "1250.50"}))).await;
    assert!(s == 201 || s == 202, "{s} {dep}");
    let history = api
        .wait_for(&format!("/api/v1/accounts/{account}/transactions"), Auth::Bearer(&access), "the deposit in the history", |s, b| {
            s == 200 && b.as_array().is_some_and(|a| !a.is_empty())
        })
        .await;
    assert_eq!(history[0]["amount"], "1250.5", "{history}");
    // The payment rail confirms the deposit (outside the API: a `CompleteFunding` command).
    let funding_id = dep["funding_id"].as_str().unwrap().to_string();
    let complete = schemas::records::FundingCommand {
        command_id: format!("bank-{funding_id}"),
        account_id: account.clone(),
        issued_at_ns: now_ns(),
        body: schemas::records::FundingInstruction::CompleteFunding(schemas::records::CompleteFunding { funding_id }),
    };
    tests::send(&producer, &format!("{prefix}funding.commands"), &account, &codec.encode(&complete).unwrap());
    use rdkafka::producer::Producer;
    producer.flush(Duration::from_secs(10)).unwrap();

    api.wait_for("/v2/account", Auth::Key(&key_id, &secret), "the deposit booked", |s, b| s == 200 && b["cash"] == "1250.5").await;
    let (s, placed) = api.call(Method::POST, "/v2/orders", Auth::Key(&key_id, &secret), Some(order)).await;
    assert_eq!((s, placed["status"].as_str()), (200, Some("new")), "{placed}");
    let acct = api.wait_for("/v2/account", Auth::Key(&key_id, &secret), "the hold", |s, b| s == 200 && b["buying_power"] == "1050.5").await;
    assert_eq!(acct["cash"], "1250.5", "{acct}");
    // Another account's history is invisible (404, not 403).
    let (s, _) = api.call(Method::GET, "/api/v1/accounts/someone-else/transactions", Auth::Bearer(&access), None).await;
    assert_eq!(s, 404);

    // Restart the API: everything above lives on Kafka.
    api.proc.stop();
    let api = Api::start(&prefix, "api2", &keys_path);
    api.ready().await;
    let (s, pair2) = api.call(Method::POST, "/api/v1/auth/refresh", Auth::None, Some(json!({"refresh_token": refresh1}))).await;
    assert_eq!(s, 200, "a refresh token from before the restart rotates: {pair2}");
    let access2 = pair2["access_token"].as_str().unwrap().to_string();
    assert_eq!(api.call(Method::GET, "/api/v1/me", Auth::Bearer(&access2), None).await.0, 200);
    let (s, _) = api.call(Method::POST, "/api/v1/auth/refresh", Auth::None, Some(json!({"refresh_token": refresh1}))).await;
    assert_eq!(s, 401, "the replaced refresh token is reuse");
    assert_eq!(api.call(Method::GET, "/api/v1/me", Auth::Bearer(&access2), None).await.0, 401, "reuse revokes the family");
    let (s, acct) = api.call(Method::GET, "/v2/account", Auth::Key(&key_id, &secret), None).await;
    assert_eq!(s, 200, "the created key survives the restart: {acct}");
    let (s, _) = api.call(Method::GET, "/v2/account", Auth::Key(&key_id, "wrong"), None).await;
    assert_eq!(s, 401);
    let (s, lists) = api.call(Method::GET, "/v2/watchlists", Auth::Key(&key_id, &secret), None).await;
    assert_eq!(s, 200, "{lists}");
    assert_eq!(lists.as_array().map(|l| l.iter().map(|w| (w["id"].clone(), w["name"].clone())).collect::<Vec<_>>()), Some(vec![(json!(wl_id), json!("later"))]), "{lists}");
    api.proc.stop();
    for p in pipelines {
        p.stop();
    }

    // The audit log of both API lifetimes: registration, logins, key, deposit, refreshes.
    let report = verify_audit_topic(&tests::brokers(), &format!("{prefix}audit.log")).await.expect("audit chain verifies");
    eprintln!("platform_api: audit chain of {} records verifies", report.records());
    assert!(report.records() >= 8, "registration x2, login, key, deposit, refresh x2 and more: {report:?}");
}
