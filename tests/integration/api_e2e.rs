//! The Trading API served from Kafka: `tradeflow api` in front of the accounts, matching
//! and portfolio pipelines, all as separate processes on one topic prefix.
//!
//! The test lists an instrument and opens and funds three accounts on Kafka (as
//! `trading_e2e` does), starts `tradeflow api` with a keys file, waits for `/readyz`, then
//! only talks HTTP and WebSocket: buyer A places a resting limit buy (`new`), a second one
//! it cancels (`DELETE`), a third one it replaces (`PATCH`: the response is the new order,
//! linked both ways; a replace beyond its buying power is refused, 422), poor account C is rejected for buying power, seller B crosses
//! A's order in two sells (A: `partial_fill`, then `fill`). A's WebSocket (`/stream`,
//! alpaca-py's authenticate form) and B's must see exactly their own updates (A's SSE
//! response too); the account
//! and positions endpoints must show the fills exactly (Decimal strings). Then A sells part
//! of its position to B, who covers part of its short, at a higher price: the portfolio
//! endpoint (`portfolios.snapshots`) must show both realized P&Ls exactly.

use futures_util::{SinkExt, StreamExt};
use pipelines::catalog::matching::format_uuid;
use rust_decimal::Decimal;
use schemas::records as w;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tests::{create_prefixed_topics, free_port, producer, send, Processor};
use tokio_tungstenite::tungstenite::Message;

const PARTITIONS: i32 = 3;
/// The trading pipelines' topics (name, compacted).
use crate::trading_e2e::TOPICS;

fn account(i: u128) -> String {
    format_uuid(0x0a91_0000_0000_4000_8000_0000_0000_0000 | i)
}

fn now_ns() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as i64
}

/// A key of the keys file: (key id, secret).
struct Key {
    id: String,
    secret: String,
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn call(&self, method: reqwest::Method, key: &Key, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base)).header("APCA-API-KEY-ID", &key.id).header("APCA-API-SECRET-KEY", &key.secret);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("HTTP request");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn get(&self, key: &Key, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, key, path, None).await
    }

    async fn post(&self, key: &Key, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, key, path, Some(body)).await
    }

    async fn delete(&self, key: &Key, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::DELETE, key, path, None).await
    }

    /// Polls `GET path` until `done` holds for the answer.
    async fn wait_for(&self, key: &Key, path: &str, what: &str, done: impl Fn(u16, &Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (s, b) = self.get(key, path).await;
            if done(s, &b) {
                return b;
            }
            assert!(Instant::now() < deadline, "{what}: GET {path} still answers {s} {b}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn ws_json(ws: &mut Ws, within: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let m = tokio::time::timeout_at(deadline, ws.next()).await.ok()?.expect("stream open").expect("frame");
        match m {
            Message::Binary(b) => return Some(serde_json::from_slice(&b).unwrap()),
            Message::Text(t) => return Some(serde_json::from_str(t.as_str()).unwrap()),
            Message::Close(c) => panic!("stream closed: {c:?}"),
            _ => {}
        }
    }
}

/// Connects, authenticates (alpaca-py's form) and listens to trade_updates.
async fn trade_updates(port: u16, key: &Key) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/stream")).await.expect("ws connect");
    let auth = json!({"action": "authenticate", "data": {"key_id": key.id, "secret_key": key.secret}});
    ws.send(Message::Text(auth.to_string().into())).await.unwrap();
    assert_eq!(ws_json(&mut ws, Duration::from_secs(10)).await, Some(json!({"stream": "authorization", "data": {"status": "authorized", "action": "authenticate"}})));
    ws.send(Message::Text(json!({"action": "listen", "data": {"streams": ["trade_updates"]}}).to_string().into())).await.unwrap();
    assert_eq!(ws_json(&mut ws, Duration::from_secs(10)).await, Some(json!({"stream": "listening", "data": {"streams": ["trade_updates"]}})));
    ws
}

/// Reads updates until every `(order id, event)` in `want` was seen (in any order);
/// returns every update read, in order.
async fn collect(ws: &mut Ws, want: &[(&str, &str)]) -> Vec<Value> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !want.iter().all(|(id, ev)| seen.iter().any(|m: &Value| m["data"]["order"]["id"] == *id && m["data"]["event"] == *ev)) {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let Some(m) = ws_json(ws, left).await else { panic!("trade_updates: wanted {want:?}, saw {seen:#?}") };
        assert_eq!(m["stream"], "trade_updates", "{m}");
        seen.push(m);
    }
    seen
}

/// Polls `/readyz` until 200 (503 before, listing the views either way: at least the
/// orders, accounts, positions and assets views).
async fn wait_ready(client: &Client) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = client.http.get(format!("{}/readyz", client.base)).send().await.unwrap();
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap();
        let views: Vec<&str> = body["views"].as_array().map(|v| v.iter().filter_map(|x| x["view"].as_str()).collect()).unwrap_or_default();
        assert!(["orders", "accounts", "positions", "assets"].iter().all(|v| views.contains(v)), "{body}");
        if status == 200 {
            assert_eq!(body["ready"], true);
            assert!(body["views"].as_array().unwrap().iter().all(|v| v["ready"] == true), "{body}");
            return body;
        }
        assert_eq!(status, 503, "{body}");
        assert!(Instant::now() < deadline, "/readyz still 503: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn limit(symbol: &str, side: &str, qty: &str, price: &str) -> Value {
    json!({"symbol": symbol, "qty": qty, "side": side, "type": "limit", "limit_price": price, "time_in_force": "gtc"})
}

#[test]
fn trading_api_on_kafka_places_cancels_fills_and_streams() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(scenario());
}

async fn scenario() {
    let prefix = tests::unique_prefix("api");
    eprintln!("api_e2e: prefix {prefix}");
    let started_ns = now_ns();
    // Every topic of the catalog: `tradeflow api` follows more than the pipelines write
    // (activities, watchlists, ...).
    let topics: Vec<(&str, bool)> = schemas::topics::TOPICS
        .iter()
        .filter(|t| t.name != schemas::topics::DLQ)
        .map(|t| (t.name, t.cleanup == schemas::topics::Cleanup::Compact || TOPICS.iter().any(|(n, c)| *n == t.name && *c)))
        .collect();
    create_prefixed_topics(&prefix, PARTITIONS, &topics).await;
    let codec = tests::codec().await;
    let p = producer();
    let topic = |t: &str| format!("{prefix}{t}");
    let mut seq = 0u64;
    let mut next = || {
        seq += 1;
        (format!("api-e2e-{seq}"), now_ns())
    };

    let procs: Vec<Processor> = ["accounts", "matching", "portfolio"].iter().map(|n| Processor::pipeline(n, &prefix, "t", &[])).collect();

    // Keys file and the API process.
    let (a, b, c) = (account(1), account(2), account(3));
    let keys: Vec<(Key, &str)> = [("PKAPIE2EA", &a), ("PKAPIE2EB", &b), ("PKAPIE2EC", &c)]
        .into_iter()
        .map(|(id, acct)| (Key { id: id.into(), secret: format!("{id}-secret-{}", rand::random::<u32>()) }, acct.as_str()))
        .collect();
    let file: Vec<Value> = keys.iter().map(|(k, acct)| json!({"key_id": k.id, "secret": k.secret, "user_id": format!("user-{acct}"), "account_id": acct, "role": "trader"})).collect();
    let keys_path = std::env::temp_dir().join(format!("{prefix}keys.json"));
    std::fs::write(&keys_path, serde_json::to_string(&file).unwrap()).unwrap();
    let port = free_port();
    let args: Vec<String> = [
        "api", "--registry", "embedded", "--brokers", &tests::brokers(), "--topic-prefix", &prefix,
        "--http", &format!("127.0.0.1:{port}"), "--keys", keys_path.to_str().unwrap(), "--outcome-wait-ms", "10000",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut api = Processor::spawn(&format!("{prefix}api"), &args);
    api.wait_for("api listening", 1, Duration::from_secs(60));
    let client = Client { http: reqwest::Client::new(), base: format!("http://127.0.0.1:{port}") };
    let (ka, kb, kc) = (&keys[0].0, &keys[1].0, &keys[2].0);

    // /healthz at once; /readyz 200 once every view caught up (it lists them either way).
    let health = client.http.get(format!("{}/healthz", client.base)).send().await.unwrap();
    assert_eq!(health.status(), 200);
    wait_ready(&client).await;
    let metrics = client.http.get(format!("{}/metrics", client.base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("tradeflow_api_view_ready{view=\"orders\"} 1"), "{metrics}");

    // Set-up on Kafka: the instrument, three accounts (B may short), then funding.
    let (id, at) = next();
    let list = w::InstrumentCommand {
        command_id: id,
        symbol: "AAA".into(),
        issued_at_ns: at,
        body: w::InstrumentInstruction::ListInstrument(w::ListInstrument {
            name: "AAA Corp".into(),
            tick_size: "0.01".parse().unwrap(),
            lot_size: Decimal::ONE,
            min_qty: Decimal::ONE,
            max_order_notional: None,
            self_trade_prevention: w::SelfTradePrevention::CancelNewest,
            price_band_pct: None,
        }),
    };
    send(&p, &topic("instruments.commands"), "AAA", &codec.encode(&list).unwrap());
    for acct in [&a, &b, &c] {
        let (command_id, issued_at_ns) = next();
        let body = w::AccountInstruction::OpenAccount(w::OpenAccount { owner_id: format!("owner-{acct}"), kyc_status: w::KycStatus::Approved, kyc_tier: 3, allow_shorting: *acct == b });
        let v = codec.encode(&w::AccountCommand { command_id, account_id: acct.clone(), issued_at_ns, body }).unwrap();
        send(&p, &topic("accounts.commands"), acct, &v);
    }
    rdkafka::producer::Producer::flush(&p, Duration::from_secs(30)).unwrap();
    for (key, _) in &keys {
        client.wait_for(key, "/v2/account", "account opened", |s, _| s == 200).await;
    }
    client.wait_for(ka, "/v2/assets/AAA", "instrument listed", |s, _| s == 200).await;
    let funds = [(&a, 10_000), (&b, 5_000), (&c, 100)];
    for (acct, amount) in funds {
        let fid = format!("{acct}-d1");
        for body in [
            w::FundingInstruction::RequestDeposit(w::RequestDeposit { funding_id: fid.clone(), amount: Decimal::from(amount) }),
            w::FundingInstruction::CompleteFunding(w::CompleteFunding { funding_id: fid.clone() }),
        ] {
            let (command_id, issued_at_ns) = next();
            let v = codec.encode(&w::FundingCommand { command_id, account_id: acct.clone(), issued_at_ns, body }).unwrap();
            send(&p, &topic("funding.commands"), acct, &v);
        }
    }
    rdkafka::producer::Producer::flush(&p, Duration::from_secs(30)).unwrap();
    for ((key, _), (_, amount)) in keys.iter().zip(funds) {
        let want = amount.to_string();
        client.wait_for(key, "/v2/account", "funded", |s, b| s == 200 && b["cash"] == want.as_str()).await;
    }

    // Streams first, so no update is missed.
    let mut ws_a = trade_updates(port, ka).await;
    let mut ws_b = trade_updates(port, kb).await;
    let mut sse_a = client
        .http
        .get(format!("{}/v2/events/trades", client.base))
        .header("APCA-API-KEY-ID", &ka.id)
        .header("APCA-API-SECRET-KEY", &ka.secret)
        .send()
        .await
        .unwrap();
    assert_eq!((sse_a.status().as_u16(), sse_a.headers()["content-type"].to_str().unwrap()), (200, "text/event-stream"));

    // A: a resting buy (accepted: `new`), a second one canceled.
    let (s, o1) = client.post(ka, "/v2/orders", limit("AAA", "buy", "10", "100")).await;
    assert_eq!((s, o1["status"].as_str()), (200, Some("new")), "{o1}");
    assert_eq!((o1["qty"].as_str(), o1["limit_price"].as_str(), o1["filled_qty"].as_str()), (Some("10"), Some("100"), Some("0")));
    let o1_id = o1["id"].as_str().unwrap().to_string();
    let (s, o2) = client.post(ka, "/v2/orders", json!({"symbol": "AAA", "qty": "5", "side": "buy", "type": "limit", "limit_price": "90.5", "time_in_force": "gtc", "client_order_id": "a-second"})).await;
    assert_eq!((s, o2["status"].as_str(), o2["client_order_id"].as_str()), (200, Some("new"), Some("a-second")), "{o2}");
    let o2_id = o2["id"].as_str().unwrap().to_string();
    let (s, body) = client.delete(ka, &format!("/v2/orders/{o2_id}")).await;
    assert_eq!(s, 204, "{body}");
    let canceled = client.wait_for(ka, &format!("/v2/orders/{o2_id}"), "cancel", |s, b| s == 200 && b["status"] == "canceled").await;
    assert!(canceled["canceled_at"].is_string(), "{canceled}");

    // A replaces a third order (`PATCH`): the response is the new order (`replaces` the
    // old one), the old order becomes `replaced` (`replaced_by` the new one).
    let (s, o3) = client.post(ka, "/v2/orders", limit("AAA", "buy", "2", "95")).await;
    assert_eq!((s, o3["status"].as_str()), (200, Some("new")), "{o3}");
    let o3_id = o3["id"].as_str().unwrap().to_string();
    let (s, o3b) = client.call(reqwest::Method::PATCH, ka, &format!("/v2/orders/{o3_id}"), Some(json!({"qty": "3", "limit_price": 96}))).await;
    assert_eq!((s, o3b["status"].as_str(), o3b["replaces"].as_str()), (200, Some("new"), Some(o3_id.as_str())), "{o3b}");
    let o3b_id = o3b["id"].as_str().unwrap().to_string();
    assert_ne!(o3b_id, o3_id);
    let old = client.wait_for(ka, &format!("/v2/orders/{o3_id}"), "replaced", |s, b| s == 200 && b["status"] == "replaced").await;
    assert_eq!(old["replaced_by"].as_str(), Some(o3b_id.as_str()), "{old}");
    let new = client.wait_for(ka, &format!("/v2/orders/{o3b_id}"), "replacement live", |s, b| s == 200 && b["status"] == "new").await;
    assert_eq!((new["qty"].as_str(), new["limit_price"].as_str(), new["side"].as_str()), (Some("3"), Some("96"), Some("buy")), "{new}");
    assert_eq!(new["replaces"].as_str(), Some(o3_id.as_str()), "{new}");
    // The replaced order cannot be replaced again.
    let (s, again) = client.call(reqwest::Method::PATCH, ka, &format!("/v2/orders/{o3_id}"), Some(json!({"qty": "4"}))).await;
    assert_eq!((s, again["message"].as_str()), (422, Some("order is already in \"replaced\" state")), "{again}");
    let (s, body) = client.delete(ka, &format!("/v2/orders/{o3b_id}")).await;
    assert_eq!(s, 204, "{body}");
    client.wait_for(ka, &format!("/v2/orders/{o3b_id}"), "replacement canceled", |s, b| s == 200 && b["status"] == "canceled").await;

    // A replace the accounts pipeline refuses (1000 x 100 is beyond A's buying power) is a
    // 422 naming the reason; the order stays as it was (and is filled below).
    let (s, refused) = client.call(reqwest::Method::PATCH, ka, &format!("/v2/orders/{o1_id}"), Some(json!({"qty": "1000"}))).await;
    assert_eq!(s, 422, "{refused}");
    assert!(refused["message"].as_str().is_some_and(|m| m.starts_with("replace rejected: ")), "{refused}");
    let (s, kept) = client.get(ka, &format!("/v2/orders/{o1_id}")).await;
    assert_eq!((s, kept["status"].as_str(), kept["qty"].as_str(), kept["replaced_by"].clone()), (200, Some("new"), Some("10"), Value::Null), "{kept}");

    // C: beyond its buying power (100 < 10 x 100): rejected, with the reason.
    let (s, r) = client.post(kc, "/v2/orders", limit("AAA", "buy", "10", "100")).await;
    assert_eq!((s, r["status"].as_str(), r["reject_reason"].as_str()), (200, Some("rejected"), Some("insufficient_buying_power")), "{r}");

    // B sells 4 then 6 into A's bid: A partially filled, then filled.
    // The response is the order at its outcome: the venue's `new` ack, which precedes the
    // fills of the same match (the view may have read them too by the time it answers).
    let (s, s1) = client.post(kb, "/v2/orders", limit("AAA", "sell", "4", "100")).await;
    assert!(s == 200 && (s1["status"] == "new" || s1["status"] == "filled"), "{s1}");
    let s1_id = s1["id"].as_str().unwrap().to_string();
    client.wait_for(kb, &format!("/v2/orders/{s1_id}"), "B's first sell filled", |s, b| s == 200 && b["status"] == "filled").await;
    let partial = client.wait_for(ka, &format!("/v2/orders/{o1_id}"), "partial fill", |s, b| s == 200 && b["filled_qty"] == "4").await;
    assert_eq!((partial["status"].as_str(), partial["filled_avg_price"].as_str()), (Some("partially_filled"), Some("100")), "{partial}");
    let (s, s2) = client.post(kb, "/v2/orders", limit("AAA", "sell", "6", "99.5")).await;
    assert!(s == 200 && (s2["status"] == "new" || s2["status"] == "filled"), "{s2}");
    let s2_id = s2["id"].as_str().unwrap().to_string();
    let b_filled = client.wait_for(kb, &format!("/v2/orders/{s2_id}"), "B's second sell filled", |s, b| s == 200 && b["status"] == "filled").await;
    assert_eq!((b_filled["filled_qty"].as_str(), b_filled["filled_avg_price"].as_str()), (Some("6"), Some("100")), "{b_filled}");
    let filled = client.wait_for(ka, &format!("/v2/orders/{o1_id}"), "fill", |s, b| s == 200 && b["status"] == "filled").await;
    // Price improvement goes to the taker: both fills at the resting price 100.
    assert_eq!((filled["filled_qty"].as_str(), filled["filled_avg_price"].as_str()), (Some("10"), Some("100")), "{filled}");

    // A's stream: its own orders only, with the events Alpaca sends.
    let seen_a = collect(&mut ws_a, &[(&o1_id, "new"), (&o2_id, "new"), (&o2_id, "canceled"), (&o3_id, "replaced"), (&o3b_id, "new"), (&o3b_id, "canceled"), (&o1_id, "partial_fill"), (&o1_id, "fill")]).await;
    for m in &seen_a {
        let id = m["data"]["order"]["id"].as_str().unwrap();
        assert!([&o1_id, &o2_id, &o3_id, &o3b_id].contains(&&id.to_string()), "A saw another account's order: {m}");
    }
    let replaced = seen_a.iter().find(|m| m["data"]["event"] == "replaced").unwrap();
    assert_eq!(replaced["data"]["order"]["replaced_by"].as_str(), Some(o3b_id.as_str()), "{replaced}");
    let fills: Vec<(&str, &str, &str, &str)> = seen_a
        .iter()
        .filter(|m| m["data"]["event"] == "partial_fill" || m["data"]["event"] == "fill")
        .map(|m| (m["data"]["event"].as_str().unwrap(), m["data"]["qty"].as_str().unwrap(), m["data"]["price"].as_str().unwrap(), m["data"]["position_qty"].as_str().unwrap()))
        .collect();
    assert_eq!(fills, vec![("partial_fill", "4", "100", "4"), ("fill", "6", "100", "10")], "{seen_a:#?}");
    let fill = seen_a.iter().find(|m| m["data"]["event"] == "fill").unwrap();
    assert_eq!((fill["data"]["order"]["status"].as_str(), fill["data"]["order"]["filled_qty"].as_str()), (Some("filled"), Some("10")));
    assert!(fill["data"]["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')), "{fill}");
    let seen_b = collect(&mut ws_b, &[(&s1_id, "fill"), (&s2_id, "fill")]).await;
    for m in &seen_b {
        let id = m["data"]["order"]["id"].as_str().unwrap();
        assert!(id == s1_id || id == s2_id, "B saw another account's order: {m}");
    }
    let b_positions: Vec<&str> = seen_b.iter().filter(|m| m["data"]["event"] == "fill").map(|m| m["data"]["position_qty"].as_str().unwrap()).collect();
    assert_eq!(b_positions, vec!["-4", "-10"]);

    // The SSE response carries the same updates as A's WebSocket, in the same order.
    let mut text = String::new();
    let sse_events = loop {
        // Complete events only: the text after the last blank line may be cut mid-event.
        let complete = text.rfind("\n\n").map_or("", |end| &text[..end]);
        let events: Vec<Value> = complete
            .split("\n\n")
            .filter(|e| e.lines().any(|l| l == "event: trade_updates"))
            .filter_map(|e| e.lines().find_map(|l| l.strip_prefix("data: ")))
            .map(|d| serde_json::from_str(d).unwrap())
            .collect();
        if events.len() >= seen_a.len() {
            break events;
        }
        let chunk = tokio::time::timeout(Duration::from_secs(30), sse_a.chunk()).await.expect("SSE data in time").unwrap().expect("SSE open");
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    };
    let ws_data: Vec<&Value> = seen_a.iter().map(|m| &m["data"]).collect();
    assert_eq!(sse_events.iter().take(ws_data.len()).collect::<Vec<_>>(), ws_data);
    drop(sse_a);

    // Account and positions reflect the fills exactly.
    let acct_a = client.wait_for(ka, "/v2/account", "A's cash after fills", |s, b| s == 200 && b["cash"] == "9000").await;
    assert_eq!(acct_a["buying_power"], "9000", "{acct_a}");
    client.wait_for(kb, "/v2/account", "B's cash after fills", |s, b| s == 200 && b["cash"] == "6000").await;
    let acct_c = client.wait_for(kc, "/v2/account", "C untouched", |s, _| s == 200).await;
    assert_eq!((acct_c["cash"].as_str(), acct_c["buying_power"].as_str()), (Some("100"), Some("100")), "{acct_c}");
    let pos_a = client.wait_for(ka, "/v2/positions", "A's position", |s, b| s == 200 && b[0]["qty"] == "10").await;
    let p = &pos_a[0];
    assert_eq!(pos_a.as_array().unwrap().len(), 1, "{pos_a}");
    let got: BTreeMap<&str, &str> = ["symbol", "qty", "avg_entry_price", "cost_basis", "side"].iter().map(|f| (*f, p[*f].as_str().unwrap_or("?"))).collect();
    assert_eq!(got, BTreeMap::from([("symbol", "AAA"), ("qty", "10"), ("avg_entry_price", "100"), ("cost_basis", "1000"), ("side", "long")]));
    let pos_b = client.wait_for(kb, "/v2/positions/AAA", "B's short", |s, b| s == 200 && b["qty"] == "-10").await;
    assert_eq!((pos_b["side"].as_str(), pos_b["avg_entry_price"].as_str()), (Some("short"), Some("100")), "{pos_b}");
    let (s, none) = client.get(kc, "/v2/positions").await;
    assert_eq!((s, none), (200, json!([])));
    // Listing: A's closed orders are its two, newest first.
    let (s, closed) = client.get(ka, "/v2/orders?status=closed&direction=desc").await;
    let ids: Vec<&str> = closed.as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap()).collect();
    assert_eq!((s, ids), (200, vec![o3b_id.as_str(), o3_id.as_str(), o2_id.as_str(), o1_id.as_str()]));

    // A sells 4 of its 10 (bought at 100) to B, who covers 4 of its 10 short (sold at
    // 100), at 110: the portfolio pipeline books realized P&L, served from the compacted
    // `portfolios.snapshots` by GET /v2/account/portfolio, and the rest is marked at 110.
    let (s, pf_c) = client.get(kc, "/v2/account/portfolio").await;
    assert_eq!((s, pf_c["realized_pl"].as_str(), pf_c["open_positions"].as_i64(), pf_c["as_of"].clone()), (200, Some("0"), Some(0), Value::Null), "{pf_c}");
    // No fill: nothing closed, and nothing ever opened, so no base for a return.
    assert_eq!((pf_c["closed_cost_basis"].as_str(), pf_c["total_return"].clone()), (Some("0"), Value::Null), "{pf_c}");
    let (s, sell) = client.post(ka, "/v2/orders", limit("AAA", "sell", "4", "110")).await;
    assert_eq!((s, sell["status"].as_str()), (200, Some("new")), "{sell}");
    let sell_id = sell["id"].as_str().unwrap().to_string();
    let (s, cover) = client.post(kb, "/v2/orders", limit("AAA", "buy", "4", "110")).await;
    assert_eq!(s, 200, "{cover}");
    let cover_id = cover["id"].as_str().unwrap().to_string();
    client.wait_for(ka, &format!("/v2/orders/{sell_id}"), "A's sell filled", |s, b| s == 200 && b["status"] == "filled").await;
    client.wait_for(kb, &format!("/v2/orders/{cover_id}"), "B's cover filled", |s, b| s == 200 && b["status"] == "filled").await;
    let pf_a = client
        .wait_for(ka, "/v2/account/portfolio", "A's realized P&L", |s, b| s == 200 && b["realized_pl"] == "40" && b["market_value"] == "660")
        .await;
    let want = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<String, String>>();
    let fields = ["lot_method", "cost_basis", "market_value", "unrealized_pl", "realized_pl", "closed_cost_basis", "total_pl", "total_return", "long_market_value", "short_market_value"];
    let got = |b: &Value| fields.iter().map(|f| (f.to_string(), b[*f].as_str().unwrap_or("?").to_string())).collect::<BTreeMap<String, String>>();
    // A: bought 4 + 6 at 100 (no fees), FIFO closes the lot of 4: 4 x (110 - 100) = 40
    // realized on a closed cost of 4 x 100 = 400; 6 left at cost 600, worth 660 (60
    // unrealized); total_return = (40 + 60) / (600 open + 400 closed) = 100 / 1000 = 0.1.
    assert_eq!(
        got(&pf_a),
        want(&[("lot_method", "fifo"), ("cost_basis", "600"), ("market_value", "660"), ("unrealized_pl", "60"), ("realized_pl", "40"), ("closed_cost_basis", "400"), ("total_pl", "100"), ("total_return", "0.1"), ("long_market_value", "660"), ("short_market_value", "0")]),
        "{pf_a}"
    );
    assert_eq!((pf_a["open_positions"].as_i64(), pf_a["account_id"].as_str()), (Some(1), Some(a.as_str())), "{pf_a}");
    assert!(pf_a["as_of"].as_str().is_some_and(|t| t.ends_with('Z')), "{pf_a}");
    // B: covered 4 sold short at 100 for 110 each (-40 realized); the closed short lot's
    // cost is what it was sold short for, 4 x 100 = 400 (not the covering 440); 6 still
    // short at -600, worth -660; total_return = -100 / (|-600| + 400) = -0.1.
    let pf_b = client.wait_for(kb, "/v2/account/portfolio", "B's realized P&L", |s, b| s == 200 && b["realized_pl"] == "-40" && b["market_value"] == "-660").await;
    assert_eq!(
        got(&pf_b),
        want(&[("lot_method", "fifo"), ("cost_basis", "-600"), ("market_value", "-660"), ("unrealized_pl", "-60"), ("realized_pl", "-40"), ("closed_cost_basis", "400"), ("total_pl", "-100"), ("total_return", "-0.1"), ("long_market_value", "0"), ("short_market_value", "-660")]),
        "{pf_b}"
    );
    // Cash and equity are the account's: equity = cash + 660 (A) / cash - 660 (B).
    for (key, pf) in [(ka, &pf_a), (kb, &pf_b)] {
        let (_, acct) = client.get(key, "/v2/account").await;
        assert_eq!((pf["cash"].as_str(), pf["equity"].as_str()), (acct["cash"].as_str(), acct["equity"].as_str()), "{pf} vs {acct}");
    }
    assert_eq!(pf_a["cash"], "9440", "{pf_a}");
    assert_eq!(pf_a["equity"], "10100", "{pf_a}");
    // The accounts were opened after the previous session close (US calendar, as the
    // pipelines run it): their equity at that close, `last_equity`, is 0, and all their
    // funding came after it (unless a close passed during the test, when the current
    // values count).
    let calendar = operators::matching::CalendarRules::us_equities().compile().expect("built-in calendar");
    let close_of = |t: i64| calendar.last_close_at_or_before(operators::Timestamp(t));
    if close_of(started_ns) == close_of(now_ns()) {
        for (key, pf) in [(ka, &pf_a), (kb, &pf_b), (kc, &pf_c)] {
            let (_, acct) = client.get(key, "/v2/account").await;
            assert_eq!((acct["last_equity"].as_str(), pf["last_equity"].as_str()), (Some("0"), Some("0")), "{acct} {pf}");
        }
        // Today's deposits (A 10,000, B 5,000) are not P&L: day_pl = equity - 0 - deposit,
        // the trading P&L alone (no fees): A 10100 - 10000, B 4900 - 5000.
        assert_eq!(pf_b["equity"], "4900", "{pf_b}");
        assert_eq!((pf_a["day_pl"].as_str(), pf_b["day_pl"].as_str()), (Some("100"), Some("-100")), "{pf_a} {pf_b}");
    }

    // A second API process rebuilds every view from the topics (compacted, transactional:
    // commit markers included) and answers the same.
    let port2 = free_port();
    let mut args2 = args.clone();
    let http = args2.iter().position(|a| a == "--http").unwrap() + 1;
    args2[http] = format!("127.0.0.1:{port2}");
    let mut api2 = Processor::spawn(&format!("{prefix}api2"), &args2);
    api2.wait_for("api listening", 1, Duration::from_secs(60));
    let client2 = Client { http: reqwest::Client::new(), base: format!("http://127.0.0.1:{port2}") };
    let ready = wait_ready(&client2).await;
    // Every view caught up; the four this scenario wrote to hold records (others, such as
    // watchlists, may be empty).
    let core = ["orders", "accounts", "positions", "assets"];
    assert!(ready["views"].as_array().unwrap().iter().all(|v| v["lag"] == 0 && (!core.contains(&v["view"].as_str().unwrap_or("")) || v["records"].as_u64() > Some(0))), "{ready}");
    for (key, path) in [(ka, "/v2/account".to_string()), (ka, "/v2/account/portfolio".into()), (kb, "/v2/account/portfolio".into()), (ka, "/v2/positions".into()), (kb, "/v2/positions".into()), (ka, format!("/v2/orders/{o1_id}")), (ka, format!("/v2/orders/{o3_id}")), (ka, "/v2/orders?status=all".into())] {
        assert_eq!(client2.get(key, &path).await, client.get(key, &path).await, "{path}");
    }
    api2.stop();

    // Topics that do not exist: the views say so and /readyz stays 503.
    let port3 = free_port();
    let mut args3 = args.clone();
    args3[http] = format!("127.0.0.1:{port3}");
    let p3 = args3.iter().position(|a| a == "--topic-prefix").unwrap() + 1;
    args3[p3] = format!("{prefix}missing.");
    let mut api3 = Processor::spawn(&format!("{prefix}api3"), &args3);
    api3.wait_for("api listening", 1, Duration::from_secs(60));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let r = client.http.get(format!("http://127.0.0.1:{port3}/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert!(body["views"][0]["error"].as_str().is_some_and(|e| e.contains("does not exist")), "{body}");
    let (s, b) = Client { http: reqwest::Client::new(), base: format!("http://127.0.0.1:{port3}") }.get(ka, "/v2/account").await;
    assert_eq!(s, 503, "{b}");
    api3.stop();

    // Graceful shutdown on SIGTERM (exit 0) closes open streams with 1001 (going away).
    drop(ws_b);
    api.stop();
    let closed = loop {
        match tokio::time::timeout(Duration::from_secs(10), ws_a.next()).await.expect("close frame in time") {
            Some(Ok(Message::Close(c))) => break c.map(|c| u16::from(c.code)),
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(closed, Some(1001));
    for p in procs {
        p.stop();
    }
}
