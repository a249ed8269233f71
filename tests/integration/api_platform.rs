//! Shared set-up of the tests that drive `tradeflow api` with outside clients
//! (`alpaca_py`, `schemathesis`): the accounts, matching and portfolio pipelines and the API
//! as separate processes on a fresh topic prefix, one listed symbol, open and funded
//! accounts with API keys, and the Python interpreter those clients run in.
//!
//! Every topic of the catalog (`schemas::topics::TOPICS`) is created under the prefix (the
//! API follows more topics than the pipelines write). Everything is set up on Kafka the way
//! `api_e2e` does it (commands on the input topics), then checked over HTTP (the API shows
//! every account funded before `start` returns).

use pipelines::catalog::matching::format_uuid;
use rust_decimal::Decimal;
use schemas::records as w;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tests::{create_prefixed_topics, free_port, producer, send, Processor};

const PARTITIONS: i32 = 3;

/// Waits for an outside client until it exits, or kills it once `timeout` has passed since
/// `started`: `None` when it had to be killed. Blocks the calling thread (a scenario run
/// with `block_on` on the test's own thread; the platform runs in child processes).
pub fn wait_or_kill(child: &mut std::process::Child, started: std::time::Instant, timeout: std::time::Duration) -> Option<std::process::ExitStatus> {
    loop {
        if let Some(status) = child.try_wait().expect("polling a client process") {
            return Some(status);
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// The Python with the client packages (`tests/clients/requirements.txt`). Fails, never
/// skips, when `TRADEFLOW_PYTHON` is unset or lacks them.
pub fn python(module: &str) -> String {
    let py = std::env::var("TRADEFLOW_PYTHON").unwrap_or_default();
    assert!(
        !py.is_empty(),
        "TRADEFLOW_PYTHON is not set: it must name a Python with the packages of tests/clients/requirements.txt \
         (alpaca-py, schemathesis, chdb). scripts/test.sh creates one; by hand:\n  \
         python3 -m venv ~/.cache/tradeflow/venv-clients && ~/.cache/tradeflow/venv-clients/bin/pip install -r tests/clients/requirements.txt\n  \
         export TRADEFLOW_PYTHON=~/.cache/tradeflow/venv-clients/bin/python"
    );
    let ok = std::process::Command::new(&py).args(["-c", &format!("import {module}")]).status().map(|s| s.success()).unwrap_or(false);
    assert!(ok, "TRADEFLOW_PYTHON={py} cannot `import {module}`: install tests/clients/requirements.txt into it");
    py
}

/// The repository root (the `tests` crate's parent).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("repository root").to_path_buf()
}

/// An account to open: its key id, cash deposited, and whether it may sell short.
pub struct AccountSpec {
    pub key_id: &'static str,
    pub cash: i64,
    pub allow_shorting: bool,
}

/// A key of the keys file and the account it trades.
#[derive(Clone, Debug)]
pub struct TestKey {
    pub id: String,
    pub secret: String,
    pub account: String,
}

/// The running platform.
pub struct Platform {
    pub prefix: String,
    pub base: String,
    pub keys: Vec<TestKey>,
    pub http: reqwest::Client,
    pipelines: Vec<Processor>,
    pub api: Processor,
    producer: rdkafka::producer::ThreadedProducer<rdkafka::producer::DefaultProducerContext>,
    codec: schemas::Codec,
    seq: u64,
}

fn now_ns() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as i64
}

impl Platform {
    /// Starts everything on a fresh prefix, lists `symbol` (tick `tick`, lot and minimum 1),
    /// opens and funds `accounts` (account ids `format_uuid(base | i)`), and waits until the
    /// API shows each account with its cash.
    pub async fn start(test: &str, symbol: &str, tick: &str, accounts: &[AccountSpec]) -> Platform {
        let prefix = tests::unique_prefix(test);
        eprintln!("{test}: prefix {prefix}");
        // Every topic of the catalog: the API follows more than the pipelines write.
        let topics: Vec<(&str, bool)> = schemas::topics::TOPICS
            .iter()
            .filter(|t| t.name != schemas::topics::DLQ)
            .map(|t| (t.name, t.cleanup == schemas::topics::Cleanup::Compact))
            .collect();
        create_prefixed_topics(&prefix, PARTITIONS, &topics).await;
        let pipelines: Vec<Processor> = ["accounts", "matching", "portfolio"].iter().map(|n| Processor::pipeline(n, &prefix, "t", &[])).collect();
        let run = u128::from(rand::random::<u32>());
        let keys: Vec<TestKey> = accounts
            .iter()
            .enumerate()
            .map(|(i, a)| TestKey {
                id: a.key_id.to_string(),
                secret: format!("{}-secret-{}", a.key_id, rand::random::<u32>()),
                account: format_uuid(0x0c1e_0000_0000_4000_8000_0000_0000_0000 | (run << 16) | i as u128),
            })
            .collect();
        let file: Vec<Value> = keys.iter().map(|k| json!({"key_id": k.id, "secret": k.secret, "user_id": format!("user-{}", k.id), "account_id": k.account, "role": "trader"})).collect();
        let keys_path = std::env::temp_dir().join(format!("{prefix}keys.json"));
        std::fs::write(&keys_path, serde_json::to_string(&file).unwrap()).unwrap();
        let port = free_port();
        let args: Vec<String> = [
            "api", "--registry", "embedded", "--brokers", &tests::brokers(), "--topic-prefix", &prefix,
            "--http", &format!("127.0.0.1:{port}"), "--keys", keys_path.to_str().unwrap(), "--outcome-wait-ms", "10000",
            "--jwt-secret", "api-platform-test-secret-0123456789abcdef",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut api = Processor::spawn(&format!("{prefix}api"), &args);
        api.wait_for("api listening", 1, Duration::from_secs(60));
        let mut p = Platform {
            prefix,
            base: format!("http://127.0.0.1:{port}"),
            keys,
            http: reqwest::Client::new(),
            pipelines,
            api,
            producer: producer(),
            codec: tests::codec().await,
            seq: 0,
        };
        p.wait_ready().await;

        let list = w::InstrumentCommand {
            command_id: p.next_id(),
            symbol: symbol.into(),
            issued_at_ns: now_ns(),
            body: w::InstrumentInstruction::ListInstrument(w::ListInstrument {
                name: format!("{symbol} Corp"),
                tick_size: tick.parse().unwrap(),
                lot_size: Decimal::ONE,
                min_qty: Decimal::ONE,
                max_order_notional: None,
                self_trade_prevention: w::SelfTradePrevention::CancelNewest,
                price_band_pct: None,
            }),
        };
        let v = p.codec.encode(&list).unwrap();
        send(&p.producer, &p.topic("instruments.commands"), symbol, &v);
        for (k, a) in p.keys.clone().iter().zip(accounts) {
            let body = w::AccountInstruction::OpenAccount(w::OpenAccount { owner_id: format!("owner-{}", k.id), kyc_status: w::KycStatus::Approved, kyc_tier: 3, allow_shorting: a.allow_shorting });
            let command_id = p.next_id();
            let v = p.codec.encode(&w::AccountCommand { command_id, account_id: k.account.clone(), issued_at_ns: now_ns(), body }).unwrap();
            send(&p.producer, &p.topic("accounts.commands"), &k.account, &v);
        }
        p.flush();
        for k in &p.keys {
            p.wait_for(k, "/v2/account", "account opened", |s, _| s == 200).await;
        }
        p.wait_for(&p.keys[0], &format!("/v2/assets/{symbol}"), "instrument listed", |s, _| s == 200).await;
        for (k, a) in p.keys.clone().iter().zip(accounts) {
            let fid = format!("{}-d1", k.account);
            for body in [
                w::FundingInstruction::RequestDeposit(w::RequestDeposit { funding_id: fid.clone(), amount: Decimal::from(a.cash) }),
                w::FundingInstruction::CompleteFunding(w::CompleteFunding { funding_id: fid.clone() }),
            ] {
                let command_id = p.next_id();
                let v = p.codec.encode(&w::FundingCommand { command_id, account_id: k.account.clone(), issued_at_ns: now_ns(), body }).unwrap();
                send(&p.producer, &p.topic("funding.commands"), &k.account, &v);
            }
        }
        p.flush();
        for (k, a) in p.keys.iter().zip(accounts) {
            let want = a.cash.to_string();
            p.wait_for(k, "/v2/account", "funded", |s, b| s == 200 && b["cash"] == want.as_str()).await;
        }
        p
    }

    fn next_id(&mut self) -> String {
        self.seq += 1;
        format!("{}cmd-{}", self.prefix, self.seq)
    }

    pub fn topic(&self, t: &str) -> String {
        format!("{}{t}", self.prefix)
    }

    fn flush(&self) {
        rdkafka::producer::Producer::flush(&self.producer, Duration::from_secs(30)).unwrap();
    }

    pub fn key(&self, key_id: &str) -> &TestKey {
        self.keys.iter().find(|k| k.id == key_id).expect("a key of the platform")
    }

    /// One HTTP call with `key`'s APCA headers: (status, JSON body or the text as a string).
    pub async fn call(&self, method: reqwest::Method, key: &TestKey, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base)).header("APCA-API-KEY-ID", &key.id).header("APCA-API-SECRET-KEY", &key.secret);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("HTTP request");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// Polls `GET path` until `done` holds (60 s at most).
    pub async fn wait_for(&self, key: &TestKey, path: &str, what: &str, done: impl Fn(u16, &Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (s, b) = self.call(reqwest::Method::GET, key, path, None).await;
            if done(s, &b) {
                return b;
            }
            assert!(Instant::now() < deadline, "{what}: GET {path} still answers {s} {b}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let r = self.http.get(format!("{}/readyz", self.base)).send().await.unwrap();
            if r.status().as_u16() == 200 {
                return;
            }
            assert!(Instant::now() < deadline, "/readyz still {}: {}", r.status(), r.text().await.unwrap_or_default());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The latest `accounts.snapshots` record of `account`, read `read_committed` from Kafka.
    pub fn account_snapshot(&self, account: &str) -> Option<w::AccountSnapshot> {
        let decoder = &self.codec;
        tests::read_all(&self.topic("accounts.snapshots"))
            .into_iter()
            .filter(|r| r.key.as_deref() == Some(account.as_bytes()))
            .filter_map(|r| r.value)
            .map(|v| decoder.decode::<w::AccountSnapshot>(&v).expect("an AccountSnapshot"))
            .max_by_key(|s| s.version)
    }

    /// SIGTERM to the API and the pipelines; each must exit cleanly.
    pub fn stop(self) {
        self.api.stop();
        for p in self.pipelines {
            p.stop();
        }
    }
}
