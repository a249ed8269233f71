//! Streaming `trade_updates`: Alpaca's WebSocket protocol at `GET /stream` and the same
//! updates as Server-Sent Events at `GET /v2/events/trades`.
//!
//! WebSocket protocol (Alpaca's trading stream, as alpaca-py's `TradingStream` speaks it):
//! 1. The client authenticates with either `{"action":"auth","key":K,"secret":S}` or
//!    `{"action":"authenticate","data":{"key_id":K,"secret_key":S}}`, as a text or a
//!    binary frame (JSON; MessagePack is not supported). The server answers
//!    `{"stream":"authorization","data":{"status":"authorized","action":"authenticate"}}`,
//!    or the same with `"status":"unauthorized"` and closes the connection. A client that
//!    does not authenticate within [`AUTH_TIMEOUT`] is disconnected.
//! 2. `{"action":"listen","data":{"streams":["trade_updates"]}}` is answered with
//!    `{"stream":"listening","data":{"streams":[...]}}` listing the streams that exist
//!    (only `trade_updates`); an empty list stops the updates.
//! 3. Updates: `{"stream":"trade_updates","data":{"event":E,"order":{..},"timestamp":T,..}}`
//!    where `order` is the Alpaca order object exactly as `GET /v2/orders/{id}` renders it
//!    ([`OrderBody`]); fills add `execution_id` (when it is a UUID), `price`, `qty` and
//!    `position_qty` (when known) as decimal strings.
//!
//! Frames: server messages are **binary** frames holding JSON text, like Alpaca's trading
//! stream (its docs: "uses binary frames"); alpaca-py `json.loads` them as they come.
//!
//! Invariants: a connection or SSE response sees only its principal's account's updates
//! (admins included: the stream is per account, not a firehose); only updates applied
//! after the subscription are sent (no replay: read `GET /v2/orders` after connecting); a
//! subscriber that falls [`crate::ports::FEED_CAPACITY`] events behind is disconnected
//! (WebSocket close code 1011 / an SSE `error` event) rather than silently skipping updates.
//!
//! Event names: accounts-origin events map by `event_type` (`Accepted` -> `pending_new`,
//! or `new` when the event's status is already `NEW`; fills -> `partial_fill` / `fill`;
//! `Rejected` / `RejectedByVenue` -> `rejected`; `CancelRejected` ->
//! `order_cancel_rejected`; `ReplaceRejected*` -> `order_replace_rejected`; the rest by
//! name). The venue's `NEW` acknowledgement is the `new` event; its other events repeat
//! what the accounts pipeline books and are not streamed (no duplicates).

use crate::auth::{authenticate, Principal};
use crate::format::{dec, rfc3339};
use crate::orders::OrderBody;
use crate::ports::FeedEvent;
use crate::AppState;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use schemas::records::{OrderEventOrigin, OrderEventType, OrderStatus};
use serde::Deserialize;
use serde_json::{json, Value};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::broadcast::Receiver;

/// How long a new WebSocket connection may take to authenticate.
pub const AUTH_TIMEOUT: Duration = Duration::from_secs(10);
/// The one stream this endpoint serves.
pub const TRADE_UPDATES: &str = "trade_updates";
/// Largest client message accepted (auth and listen messages are tiny).
const MAX_CLIENT_MESSAGE: usize = 64 * 1024;

pub fn router() -> Router<AppState> {
    Router::new().route("/stream", get(websocket)).route("/v2/events/trades", get(sse))
}

// ---------------------------------------------------------------------------------------
// Rendering

/// Alpaca's `event` name of an order event; `None` when it is not streamed.
pub fn event_name(e: &schemas::records::OrderEvent) -> Option<&'static str> {
    use OrderEventType as T;
    if e.origin == Some(OrderEventOrigin::Venue) {
        return (e.status == OrderStatus::New).then_some("new");
    }
    Some(match e.event_type {
        Some(T::Accepted) if e.status == OrderStatus::PendingNew => "pending_new",
        Some(T::Accepted) => "new",
        Some(T::Rejected | T::RejectedByVenue) => "rejected",
        Some(T::PendingCancel) => "pending_cancel",
        Some(T::CancelRejected) => "order_cancel_rejected",
        Some(T::PendingReplace) => "pending_replace",
        Some(T::ReplaceRejected | T::ReplaceRejectedByVenue) => "order_replace_rejected",
        Some(T::Replaced) => "replaced",
        Some(T::PartiallyFilled) => "partial_fill",
        Some(T::Filled) => "fill",
        Some(T::Canceled) => "canceled",
        Some(T::Expired) => "expired",
        Some(T::Other) | None => match e.status {
            OrderStatus::PendingNew => "pending_new",
            OrderStatus::New => "new",
            OrderStatus::PartiallyFilled => "partial_fill",
            OrderStatus::Filled => "fill",
            OrderStatus::Canceled => "canceled",
            OrderStatus::Expired => "expired",
            OrderStatus::Rejected => "rejected",
            OrderStatus::Replaced => "replaced",
            OrderStatus::PendingCancel => "pending_cancel",
            OrderStatus::PendingReplace => "pending_replace",
        },
    })
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| if matches!(i, 8 | 13 | 18 | 23) { c == '-' } else { c.is_ascii_hexdigit() })
}

/// The `data` object of a `trade_updates` message; `None` when the event is not streamed
/// or the order is unknown to the view (nothing to render it from).
pub fn trade_update_data(f: &FeedEvent) -> Option<Value> {
    let event = event_name(&f.event)?;
    let Some(order) = &f.order else {
        tracing::debug!(order_id = %f.event.order_id, "trade update for an order the view does not know: not streamed");
        return None;
    };
    let mut data = json!({
        "event": event,
        "timestamp": rfc3339(f.event.at_ns),
        "order": OrderBody::from_record(order),
    });
    if let Some(fill) = &f.event.fill {
        data["price"] = json!(dec(fill.price));
        data["qty"] = json!(dec(fill.qty));
        if is_uuid(&fill.fill_id) {
            data["execution_id"] = json!(fill.fill_id);
        }
    }
    if let Some(q) = f.position_qty {
        data["position_qty"] = json!(dec(q));
    }
    Some(data)
}

/// The full WebSocket message of an update.
pub fn trade_update_message(f: &FeedEvent) -> Option<Value> {
    trade_update_data(f).map(|data| json!({ "stream": TRADE_UPDATES, "data": data }))
}

// ---------------------------------------------------------------------------------------
// WebSocket

/// A client message. Unknown fields are ignored.
#[derive(Debug, Deserialize)]
struct ClientMessage {
    action: Option<String>,
    key: Option<String>,
    secret: Option<String>,
    data: Option<ClientData>,
}

#[derive(Debug, Default, Deserialize)]
struct ClientData {
    key_id: Option<String>,
    secret_key: Option<String>,
    streams: Option<Vec<String>>,
}

fn authorization(status: &str) -> Value {
    json!({"stream": "authorization", "data": {"status": status, "action": "authenticate"}})
}

fn error_message(text: &str) -> Value {
    json!({"stream": "error", "data": {"error_message": text}})
}

async fn websocket(State(state): State<AppState>, upgrade: WebSocketUpgrade) -> Response {
    upgrade.max_message_size(MAX_CLIENT_MESSAGE).on_upgrade(move |socket| serve_socket(state, socket)).into_response()
}

async fn send_json(socket: &mut WebSocket, value: &Value) -> Result<(), axum::Error> {
    socket.send(Message::Binary(value.to_string().into_bytes().into())).await
}

async fn close(socket: &mut WebSocket, code: u16, reason: &str) {
    let _ = socket.send(Message::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
}

/// The JSON text of a client frame (`None` for control frames and non-JSON).
fn parse_frame(msg: &Message) -> Option<ClientMessage> {
    match msg {
        Message::Text(t) => serde_json::from_str(t.as_str()).ok(),
        Message::Binary(b) => serde_json::from_slice(b).ok(),
        _ => None,
    }
}

/// Waits for the authentication message; answers it; returns the principal if authorized.
async fn handshake(state: &AppState, socket: &mut WebSocket) -> Option<Principal> {
    let first = loop {
        match tokio::time::timeout(AUTH_TIMEOUT, socket.recv()).await {
            Ok(Some(Ok(m @ (Message::Text(_) | Message::Binary(_))))) => break m,
            Ok(Some(Ok(Message::Close(_)))) | Ok(Some(Err(_))) | Ok(None) => return None,
            Ok(Some(Ok(_))) => continue,
            Err(_) => {
                close(socket, 1008, "authentication timeout").await;
                return None;
            }
        }
    };
    let msg = parse_frame(&first);
    let credentials = msg.and_then(|m| match m.action.as_deref() {
        Some("auth") => Some((m.key?, m.secret?)),
        Some("authenticate") => {
            let d = m.data?;
            Some((d.key_id?, d.secret_key?))
        }
        _ => None,
    });
    let principal = match credentials {
        Some((key, secret)) if !key.is_empty() && key.len() <= 256 && secret.len() <= 1024 => {
            authenticate(state.ports.keys.clone(), key, secret).await.ok()
        }
        _ => None,
    };
    let reply = authorization(if principal.is_some() { "authorized" } else { "unauthorized" });
    if send_json(socket, &reply).await.is_err() {
        return None;
    }
    if principal.is_none() {
        close(socket, 1008, "unauthorized").await;
    }
    principal
}

/// The open WebSocket streams of an [`AppState`]. axum's graceful shutdown does not track
/// upgraded connections, so a server that wants its clients to get the 1001 close frame
/// waits for [`OpenStreams::wait_idle`] after closing the feed.
#[derive(Default)]
pub struct OpenStreams {
    count: std::sync::atomic::AtomicUsize,
    idle: tokio::sync::Notify,
}

/// One open stream; counted until dropped.
struct StreamGuard(Arc<OpenStreams>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, std::sync::atomic::Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl OpenStreams {
    fn enter(self: &Arc<Self>) -> StreamGuard {
        self.count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        StreamGuard(self.clone())
    }

    /// Streams open now.
    pub fn open(&self) -> usize {
        self.count.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Waits until no stream is open, at most `bound`; whether they all ended.
    pub async fn wait_idle(&self, bound: std::time::Duration) -> bool {
        let deadline = tokio::time::Instant::now() + bound;
        loop {
            let notified = self.idle.notified();
            if self.open() == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.open() == 0;
            }
        }
    }
}

async fn serve_socket(state: AppState, mut socket: WebSocket) {
    let _open = state.streams.enter();
    let Some(who) = handshake(&state, &mut socket).await else { return };
    // Subscribe right after authentication: updates between now and `listen` are dropped
    // (Alpaca sends nothing before `listen` either), none after it are missed.
    let mut feed = state.ports.feed.subscribe();
    let mut listening = false;
    loop {
        tokio::select! {
            incoming = socket.recv() => {
                let msg = match incoming {
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                    Some(Ok(m @ (Message::Text(_) | Message::Binary(_)))) => m,
                    Some(Ok(_)) => continue,
                };
                let reply = match parse_frame(&msg) {
                    Some(ClientMessage { action: Some(a), data, .. }) if a == "listen" => {
                        let wanted = data.and_then(|d| d.streams).unwrap_or_default();
                        listening = wanted.iter().any(|s| s == TRADE_UPDATES);
                        let streams: Vec<&str> = if listening { vec![TRADE_UPDATES] } else { vec![] };
                        json!({"stream": "listening", "data": {"streams": streams}})
                    }
                    Some(ClientMessage { action: Some(a), .. }) if a == "auth" || a == "authenticate" => {
                        authorization("authorized")
                    }
                    _ => error_message("invalid message: expected {\"action\":\"listen\",\"data\":{\"streams\":[...]}}"),
                };
                if send_json(&mut socket, &reply).await.is_err() {
                    return;
                }
            }
            update = feed.recv() => match update {
                Ok(f) => {
                    if !listening || f.account_id != who.account_id {
                        continue;
                    }
                    if let Some(m) = trade_update_message(&f) {
                        if send_json(&mut socket, &m).await.is_err() {
                            return;
                        }
                    }
                }
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(key_id = %who.key_id, skipped = n, "trade_updates subscriber lagged: disconnecting it");
                    close(&mut socket, 1011, "subscriber lagged: updates were lost, reconnect").await;
                    return;
                }
                Err(RecvError::Closed) => {
                    close(&mut socket, 1001, "server shutting down").await;
                    return;
                }
            },
        }
    }
}

// ---------------------------------------------------------------------------------------
// Server-Sent Events

/// `GET /v2/events/trades`: APCA key headers; one SSE event per update (`event:
/// trade_updates`, `id:` the order event id, `data:` the same object as the WebSocket
/// message's `data`), a keep-alive comment every 15 s, and an `error` event before the
/// response ends if the subscriber lagged.
///
/// The path mirrors Alpaca's Broker API SSE endpoints (`/v1/events/trades`) under the
/// Trading API's `/v2`; the Trading API itself streams only over WebSocket.
async fn sse(State(state): State<AppState>, who: Principal) -> impl IntoResponse {
    let rx = state.ports.feed.subscribe();
    Sse::new(sse_stream(rx, who.account_id)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

fn sse_stream(rx: Receiver<Arc<FeedEvent>>, account_id: String) -> impl futures_util::Stream<Item = Result<Event, Infallible>> {
    futures_util::stream::unfold(Some(rx), move |rx| {
        let account_id = account_id.clone();
        async move {
            let mut rx = rx?;
            loop {
                match rx.recv().await {
                    Ok(f) if f.account_id == account_id => {
                        if let Some(data) = trade_update_data(&f) {
                            let event = Event::default().event(TRADE_UPDATES).id(f.event.event_id.clone()).data(data.to_string());
                            return Some((Ok(event), Some(rx)));
                        }
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(skipped = n, "trade_updates SSE subscriber lagged: ending the response");
                        let event = Event::default().event("error").data(error_message("subscriber lagged: updates were lost, reconnect").to_string());
                        return Some((Ok(event), None));
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::*;
    use axum::body::Body;
    use axum::http::Request;
    use futures_util::{SinkExt, StreamExt};
    use schemas::records::{OrderEvent, OrderEventOrigin, OrderFill};
    use tokio_tungstenite::tungstenite::Message as WsMessage;
    use tower::ServiceExt;

    fn event(order_id: &str, account: &str, status: OrderStatus, t: OrderEventType, origin: OrderEventOrigin) -> OrderEvent {
        let mut e = seeded_order(order_id, account, "c", 0).last_event.unwrap();
        e.event_id = format!("ev-{order_id}-{t:?}");
        e.status = status;
        e.event_type = Some(t);
        e.origin = Some(origin);
        e.at_ns = SESSION1_OPEN;
        e
    }

    fn fill(order_id: &str, account: &str) -> OrderEvent {
        let mut e = event(order_id, account, OrderStatus::Filled, OrderEventType::Filled, OrderEventOrigin::Accounts);
        e.filled_qty = d("1");
        e.fill = Some(OrderFill { fill_id: "0b7c1a52-0000-4000-8000-0000000000ff".into(), qty: d("1"), price: d("149.5"), fee: d("0"), settlement_date: Some(1) });
        e
    }

    #[test]
    fn names_follow_alpaca_and_venue_duplicates_are_dropped() {
        use OrderEventOrigin::{Accounts as A, Venue as V};
        use OrderEventType as T;
        let name = |s, t, o| event_name(&event("o", "a", s, t, o));
        assert_eq!(name(OrderStatus::PendingNew, T::Accepted, A), Some("pending_new"));
        assert_eq!(name(OrderStatus::New, T::Accepted, A), Some("new"));
        assert_eq!(name(OrderStatus::New, T::Other, V), Some("new"));
        assert_eq!(name(OrderStatus::Filled, T::Other, V), None);
        assert_eq!(name(OrderStatus::PartiallyFilled, T::PartiallyFilled, A), Some("partial_fill"));
        assert_eq!(name(OrderStatus::Rejected, T::RejectedByVenue, A), Some("rejected"));
        assert_eq!(name(OrderStatus::New, T::ReplaceRejected, A), Some("order_replace_rejected"));
        assert_eq!(name(OrderStatus::Replaced, T::Replaced, A), Some("replaced"));
    }

    #[test]
    fn fills_carry_price_qty_execution_and_position() {
        let order = seeded_order(ORDER_OWN, "acc-1", "coid-own", SESSION1_OPEN);
        let f = FeedEvent { account_id: "acc-1".into(), event: fill(ORDER_OWN, "acc-1"), order: Some(order.clone()), position_qty: Some(d("11.5")) };
        let m = trade_update_message(&f).unwrap();
        assert_eq!(m["stream"], "trade_updates");
        let data = &m["data"];
        assert_eq!(data["event"], "fill");
        assert_eq!((data["price"].as_str(), data["qty"].as_str(), data["position_qty"].as_str()), (Some("149.5"), Some("1"), Some("11.5")));
        assert_eq!(data["execution_id"], "0b7c1a52-0000-4000-8000-0000000000ff");
        assert_eq!(data["timestamp"], "2023-11-14T14:30:00.000000Z");
        assert_eq!(data["order"], serde_json::to_value(OrderBody::from_record(&order)).unwrap());
        // Unknown order: nothing to render.
        assert_eq!(trade_update_message(&FeedEvent { order: None, ..f }), None);
    }

    #[tokio::test]
    async fn sse_streams_own_account_updates_only() {
        let t = TestApp::new();
        let (k, s) = TRADER.unwrap();
        let req = Request::get("/v2/events/trades").header("APCA-API-KEY-ID", k).header("APCA-API-SECRET-KEY", s).body(Body::empty()).unwrap();
        let resp = crate::app(t.state.clone()).oneshot(req).await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        // Another account's fill, then our own.
        t.backend.publish(fill(ORDER_OTHER, "acc-2"));
        t.backend.publish_with_position(fill(ORDER_OWN, "acc-1"), Some(d("11.5")));
        let mut body = resp.into_body().into_data_stream();
        let chunk = tokio::time::timeout(Duration::from_secs(5), body.next()).await.unwrap().unwrap().unwrap();
        let text = String::from_utf8(chunk.to_vec()).unwrap();
        assert!(text.starts_with("event: trade_updates\n"), "{text}");
        assert!(text.contains(&format!("id: ev-{ORDER_OWN}-Filled\n")), "{text}");
        let data: Value = serde_json::from_str(text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap()).unwrap();
        assert_eq!((data["event"].as_str(), data["order"]["id"].as_str()), (Some("fill"), Some(ORDER_OWN)));
        assert_eq!(data["order"]["status"], "filled");
        assert_eq!(data["position_qty"], "11.5");
        // Without keys: 401.
        let resp = crate::app(t.state.clone()).oneshot(Request::get("/v2/events/trades").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(resp.status(), 401);
    }

    async fn serve(t: &TestApp) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = crate::app(t.state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("ws://{addr}/stream")
    }

    type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

    async fn next_json(ws: &mut Ws) -> Value {
        loop {
            let m = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("a message in time").expect("open").unwrap();
            match m {
                WsMessage::Binary(b) => return serde_json::from_slice(&b).unwrap(),
                WsMessage::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
                WsMessage::Close(c) => return json!({"closed": c.map(|c| u16::from(c.code))}),
                _ => {}
            }
        }
    }

    async fn send(ws: &mut Ws, v: Value) {
        ws.send(WsMessage::Text(v.to_string().into())).await.unwrap();
    }

    #[tokio::test]
    async fn websocket_speaks_alpacas_protocol() {
        let t = TestApp::new();
        let url = serve(&t).await;
        let (k, s) = TRADER.unwrap();

        // alpaca-py's authenticate form, then listen; updates of acc-1 only.
        let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        send(&mut ws, json!({"action": "authenticate", "data": {"key_id": k, "secret_key": s}})).await;
        assert_eq!(next_json(&mut ws).await, json!({"stream": "authorization", "data": {"status": "authorized", "action": "authenticate"}}));
        send(&mut ws, json!({"action": "listen", "data": {"streams": ["trade_updates", "nope"]}})).await;
        assert_eq!(next_json(&mut ws).await, json!({"stream": "listening", "data": {"streams": ["trade_updates"]}}));
        t.backend.publish(fill(ORDER_OTHER, "acc-2"));
        t.backend.publish(fill(ORDER_OWN, "acc-1"));
        let m = next_json(&mut ws).await;
        assert_eq!((m["stream"].as_str(), m["data"]["event"].as_str()), (Some("trade_updates"), Some("fill")));
        assert_eq!(m["data"]["order"]["id"], ORDER_OWN);
        // Placing an order through the API streams `new` (memory accepts at once).
        let (st, b) = t.post(TRADER, "/v2/orders", json!({"symbol": "AAPL", "qty": "2", "side": "buy", "type": "limit", "limit_price": "150", "time_in_force": "gtc"})).await;
        assert_eq!(st, 200, "{b}");
        let m = next_json(&mut ws).await;
        assert_eq!((m["data"]["event"].as_str(), m["data"]["order"]["id"].as_str()), (Some("new"), b["id"].as_str()));
        assert_eq!(m["data"]["order"]["qty"], "2");
        // Unlisten: nothing more (the next message is the answer to the next request).
        send(&mut ws, json!({"action": "listen", "data": {"streams": []}})).await;
        assert_eq!(next_json(&mut ws).await, json!({"stream": "listening", "data": {"streams": []}}));
        t.backend.publish(fill(ORDER_OWN, "acc-1"));
        send(&mut ws, json!({"action": "bogus"})).await;
        assert_eq!(next_json(&mut ws).await["stream"], "error");

        // The short `auth` form works too; a wrong secret is refused and closed.
        let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        send(&mut ws, json!({"action": "auth", "key": k, "secret": s})).await;
        assert_eq!(next_json(&mut ws).await["data"]["status"], "authorized");
        let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        send(&mut ws, json!({"action": "auth", "key": k, "secret": "wrong"})).await;
        assert_eq!(next_json(&mut ws).await, json!({"stream": "authorization", "data": {"status": "unauthorized", "action": "authenticate"}}));
        assert_eq!(next_json(&mut ws).await, json!({"closed": 1008}));
    }
}
