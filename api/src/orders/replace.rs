//! `PATCH /v2/orders/{order_id}`: Alpaca's replace. The open order is replaced by a new
//! one (new id, `replaces` = the old id; the old order becomes `replaced` with
//! `replaced_by`); every field the body gives overrides the old order's, the others stay.
//!
//! 1. Body: `qty`, `limit_price`, `stop_price` (decimal strings or JSON numbers, as for
//!    `POST`), `time_in_force`, `client_order_id`; unknown fields are ignored. At least one
//!    of the first four is required. 422 with a clear message for anything invalid.
//! 2. The order: 404 if unknown or another account's (an admin, who sees every order, gets
//!    403 for another account's: replacing is trading). Only `new` and `partially_filled`
//!    orders can be replaced (422 otherwise, as Alpaca refuses `pending_*` ones). Notional
//!    and market orders cannot be replaced (the accounts pipeline refuses them), and the
//!    time in force cannot change (the pipeline and the venue do not support it): 422.
//! 3. `qty` is the replacement's quantity; absent, it is the old order's open quantity
//!    (`qty` - `filled_qty`).
//! 4. The `ReplaceOrder` command carries the symbol and the instrument snapshot from the
//!    asset view (as `POST` does for `PlaceOrder`): the accounts pipeline refuses a replace
//!    without them (`UNKNOWN_INSTRUMENT`).
//! 5. Idempotency: `client_order_id` (generated when absent) names the replacement. A retry
//!    with the same id, for the same old order and the same given fields, returns the
//!    same replacement (never a second command); otherwise the id must be new (422).
//! 6. The API waits up to `ApiConfig::outcome_wait` for the replacement's outcome (the
//!    venue's `new`, or its rejection) or for the accounts pipeline's refusal of the
//!    replace (an event on the old order, `REPLACE_REJECTED`: 422 naming the reason; the
//!    old order stays as it was). On timeout it answers with the replacement `pending_new`.

use super::{
    client_order_id, decimal_field, find_by_client_order_id, find_order, instrument_of, json_body, order_body, parse_tif,
    reason_name, replaces_index, status_name, type_name, unprocessable, visible, OrderBody,
};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::format::uuid_v4;
use crate::ports::{FeedEvent, OrderRecord, OutcomeWatch};
use crate::AppState;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rust_decimal::Decimal;
use schemas::records::{
    OrderCommand, OrderEvent, OrderEventType, OrderInstruction, OrderReason, OrderStatus, OrderType, PlaceOrder,
    ReplaceOrder, TimeInForce,
};
use serde::Deserialize;
use std::sync::Arc;
use tokio::sync::broadcast;

/// `PATCH /v2/orders/{order_id}` body. Unknown fields are ignored. Decimals may also be
/// JSON numbers.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct ReplaceRequest {
    #[schema(value_type = Option<String>, pattern = r"^[0-9]+(\.[0-9]{1,8})?$")]
    pub qty: Option<serde_json::Value>,
    #[schema(value_type = Option<super::TimeInForceName>)]
    pub time_in_force: Option<String>,
    #[schema(value_type = Option<String>, pattern = r"^[0-9]+(\.[0-9]{1,8})?$")]
    pub limit_price: Option<serde_json::Value>,
    #[schema(value_type = Option<String>, pattern = r"^[0-9]+(\.[0-9]{1,8})?$")]
    pub stop_price: Option<serde_json::Value>,
    /// Not supported (422 when set).
    #[schema(value_type = Option<String>)]
    pub trail: Option<serde_json::Value>,
    pub client_order_id: Option<String>,
}

/// A validated replace: the fields the body gave (`None` = keep the old order's).
///
/// Invariant: at least one of `qty`, `limit_price`, `stop_price` is set, or the body named
/// the old order's own time in force; prices are only set where the type uses them.
#[derive(Clone, Debug, PartialEq)]
pub struct Changes {
    pub qty: Option<Decimal>,
    pub limit_price: Option<Decimal>,
    pub stop_price: Option<Decimal>,
    pub client_order_id: Option<String>,
}

/// Validates a replace of `old` (its status is checked separately, after the idempotency
/// check: a retry finds the old order already replaced).
pub fn validate_replace(req: &ReplaceRequest, old: &PlaceOrder) -> Result<Changes, ApiError> {
    let qty = decimal_field("qty", &req.qty)?;
    let limit_price = decimal_field("limit_price", &req.limit_price)?;
    let stop_price = decimal_field("stop_price", &req.stop_price)?;
    let tif: Option<TimeInForce> = req.time_in_force.as_deref().map(parse_tif).transpose()?;
    if req.trail.as_ref().is_some_and(|t| !t.is_null()) {
        return Err(unprocessable("trail is not supported (trailing_stop orders are not supported)"));
    }
    if qty.is_none() && limit_price.is_none() && stop_price.is_none() && tif.is_none() {
        return Err(unprocessable("nothing to replace: give qty, limit_price, stop_price or time_in_force"));
    }
    if old.notional.is_some() {
        return Err(unprocessable("notional orders cannot be replaced"));
    }
    let t = type_name(old.order_type);
    if old.order_type == OrderType::Market {
        return Err(unprocessable("market orders cannot be replaced"));
    }
    if limit_price.is_some() && !matches!(old.order_type, OrderType::Limit | OrderType::StopLimit) {
        return Err(unprocessable(format!("limit_price must not be set for {t} orders")));
    }
    if stop_price.is_some() && !matches!(old.order_type, OrderType::Stop | OrderType::StopLimit) {
        return Err(unprocessable(format!("stop_price must not be set for {t} orders")));
    }
    if let Some(tif) = tif.filter(|t| *t != old.time_in_force) {
        return Err(unprocessable(format!(
            "time_in_force cannot be changed by a replace (the order's is {}, asked {}): cancel and place a new order",
            super::tif_name(old.time_in_force),
            super::tif_name(tif)
        )));
    }
    let client_order_id = match req.client_order_id.as_deref() {
        None | Some("") => None,
        given => Some(client_order_id(given)?),
    };
    Ok(Changes { qty, limit_price, stop_price, client_order_id })
}

/// The replacement order: `old` with the changes, under `new_order_id`.
fn replacement(old: &OrderRecord, changes: &Changes, new_order_id: &str, coid: &str) -> Result<PlaceOrder, ApiError> {
    let filled = old.last_event.as_ref().map_or(Decimal::ZERO, |e| e.filled_qty);
    let open = old.order.qty.unwrap_or_default() - filled;
    let qty = match changes.qty {
        Some(q) => q,
        None if open > Decimal::ZERO => open.normalize(),
        None => return Err(unprocessable("the order has no open quantity to replace")),
    };
    Ok(PlaceOrder {
        order_id: new_order_id.to_string(),
        client_order_id: Some(coid.to_string()),
        qty: Some(qty),
        limit_price: changes.limit_price.or(old.order.limit_price),
        stop_price: changes.stop_price.or(old.order.stop_price),
        ..old.order.clone()
    })
}

/// Whether `existing` (found by the requested client_order_id) is the replacement this
/// request already made: it replaces `old` and matches every given field.
fn is_retry_of(state: &AppState, existing: &OrderRecord, old: &OrderRecord, changes: &Changes) -> Result<bool, ApiError> {
    let links = replaces_index(state, &old.account_id)?;
    let e = &existing.order;
    Ok(links.get(&e.order_id) == Some(&old.order.order_id)
        && changes.qty.is_none_or(|q| e.qty == Some(q))
        && changes.limit_price.is_none_or(|p| e.limit_price == Some(p))
        && changes.stop_price.is_none_or(|p| e.stop_price == Some(p)))
}

/// How a submitted replace ended within the wait.
enum Outcome {
    /// The replacement's first decisive event (venue `new`, fill, or rejection).
    Decided(OrderEvent),
    /// The accounts pipeline refused the replace (event on the old order).
    Refused(OrderEvent),
    TimedOut,
}

/// Waits up to the configured bound for the replacement's outcome or the refusal of the
/// replace of `old_order_id` (read from `feed`, subscribed before the command was sent).
async fn wait(state: &AppState, watch: OutcomeWatch, mut feed: broadcast::Receiver<Arc<FeedEvent>>, old_order_id: &str) -> Outcome {
    let bound = state.config.outcome_wait;
    let refused = async move {
        loop {
            match feed.recv().await {
                Ok(f) if f.event.order_id == old_order_id && f.event.event_type == Some(OrderEventType::ReplaceRejected) => {
                    return f.event.clone();
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                // No feed: only the replacement's watch can decide.
                Err(broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
            }
        }
    };
    tokio::select! {
        decided = watch.wait(bound) => match decided {
            // A view may complete the replacement's watch with the refusal itself.
            Some(e) if matches!(e.event_type, Some(OrderEventType::ReplaceRejected | OrderEventType::ReplaceRejectedByVenue)) => Outcome::Refused(e),
            Some(e) => Outcome::Decided(e),
            None => Outcome::TimedOut,
        },
        refused = tokio::time::timeout(bound, refused) => refused.map_or(Outcome::TimedOut, Outcome::Refused),
    }
}

/// The replacement as the response shows it: the view's version once it has one, with
/// `replaces` set.
fn respond(state: &AppState, mut record: OrderRecord, old_order_id: &str) -> Result<Response, ApiError> {
    if let Some(fresh) = state.ports.orders.order(&record.order.order_id)? {
        state.submitted.forget(&record.order.order_id);
        if fresh.last_event.is_some() || record.last_event.is_none() {
            record = fresh;
        }
    }
    let mut body: OrderBody = order_body(&record, &Default::default());
    body.replaces = Some(old_order_id.to_string());
    Ok((StatusCode::OK, Json(body)).into_response())
}

pub(super) async fn replace(
    State(state): State<AppState>,
    who: Principal,
    Path(order_id): Path<String>,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    who.require_trading()?;
    let value = json_body(body)?;
    let req: ReplaceRequest = serde_json::from_value(value).map_err(|e| unprocessable(format!("invalid replace request: {e}")))?;
    let old = visible(&who, find_order(&state, &order_id)?)?;
    if old.account_id != who.account_id {
        return Err(ApiError::Forbidden("orders of another account cannot be replaced".into()));
    }
    let changes = validate_replace(&req, &old.order)?;
    if let Some(coid) = changes.client_order_id.as_deref() {
        if let Some(existing) = find_by_client_order_id(&state, &old.account_id, coid)? {
            if !is_retry_of(&state, &existing, &old, &changes)? {
                return Err(unprocessable("client_order_id must be unique"));
            }
            return respond(&state, existing, &old.order.order_id);
        }
    }
    let status = old.status();
    match status {
        OrderStatus::New | OrderStatus::PartiallyFilled => {}
        s if crate::ports::is_open(s) => {
            return Err(unprocessable(format!("order in \"{}\" state cannot be replaced", status_name(s))));
        }
        s => return Err(unprocessable(format!("order is already in \"{}\" state", status_name(s)))),
    }
    let (instrument, reference_price) = instrument_of(&state, &old.order.symbol)?;
    let new_order_id = uuid_v4();
    let coid = changes.client_order_id.clone().unwrap_or_else(uuid_v4);
    let order = replacement(&old, &changes, &new_order_id, &coid)?;
    let now = state.ports.clock.now_ns();
    let record = OrderRecord { account_id: old.account_id.clone(), order: order.clone(), submitted_at_ns: now, last_event: None };
    // Noted before the claim, so a concurrent retry that loses the claim sees the link.
    state.submitted.note_replace(&new_order_id, &old.order.order_id);
    if let Some(existing) = state.submitted.claim(&record) {
        // A concurrent request with the same client_order_id won the claim.
        state.submitted.forget_replace(&new_order_id);
        if !is_retry_of(&state, &existing, &old, &changes)? {
            return Err(unprocessable("client_order_id must be unique"));
        }
        return respond(&state, existing, &old.order.order_id);
    }
    let feed = state.ports.feed.subscribe();
    let watch = state.ports.outcomes.watch(&new_order_id);
    let command = OrderCommand {
        command_id: uuid_v4(),
        account_id: old.account_id.clone(),
        issued_at_ns: now,
        body: OrderInstruction::ReplaceOrder(ReplaceOrder {
            order_id: old.order.order_id.clone(),
            new_order_id: new_order_id.clone(),
            qty: order.qty,
            limit_price: order.limit_price,
            stop_price: order.stop_price,
            time_in_force: None,
            client_order_id: Some(coid),
            symbol: Some(old.order.symbol.clone()),
            instrument: Some(instrument),
            reference_price,
        }),
    };
    if let Err(e) = state.ports.commands.submit(command).await {
        state.submitted.forget(&new_order_id);
        state.submitted.forget_replace(&new_order_id);
        return Err(e.into());
    }
    match wait(&state, watch, feed, &old.order.order_id).await {
        Outcome::Decided(event) => {
            let mut record = record;
            record.apply(&event);
            state.submitted.update(&record);
            respond(&state, record, &old.order.order_id)
        }
        Outcome::Refused(event) => {
            state.submitted.forget(&new_order_id);
            state.submitted.forget_replace(&new_order_id);
            let reason = reason_name(event.reason.unwrap_or(OrderReason::Other));
            let detail = event.message.map(|m| format!(": {m}")).unwrap_or_default();
            Err(unprocessable(format!("replace rejected: {reason}{detail}")))
        }
        Outcome::TimedOut => respond(&state, record, &old.order.order_id),
    }
}

#[cfg(test)]
mod tests {
    use crate::memory::Reply;
    use crate::testkit::*;
    use axum::http::Method;
    use schemas::records::{OrderInstruction, OrderReason, TimeInForce};
    use serde_json::{json, Value};
    use std::time::Duration;

    async fn patch(t: &TestApp, caller: Caller, id: &str, body: Value) -> (u16, Value) {
        t.request(Method::PATCH, caller, &format!("/v2/orders/{id}"), Some(body)).await
    }

    fn replaces(t: &TestApp) -> Vec<schemas::records::ReplaceOrder> {
        t.backend
            .commands()
            .into_iter()
            .filter_map(|c| match c.body {
                OrderInstruction::ReplaceOrder(r) => Some(r),
                _ => None,
            })
            .collect()
    }

    #[tokio::test]
    async fn replace_returns_the_new_order_and_links_both() {
        let t = TestApp::new();
        let (s, b) = patch(&t, TRADER, ORDER_OWN, json!({"qty": "3", "limit_price": 151.5})).await;
        assert_eq!(s, 200, "{b}");
        let new_id = b["id"].as_str().unwrap().to_string();
        assert_ne!(new_id, ORDER_OWN);
        assert_eq!((b["replaces"].as_str(), b["status"].as_str()), (Some(ORDER_OWN), Some("new")));
        assert_eq!((b["qty"].as_str(), b["limit_price"].as_str(), b["side"].as_str(), b["time_in_force"].as_str()), (Some("3"), Some("151.5"), Some("buy"), Some("gtc")));
        assert_eq!((b["symbol"].as_str(), b["type"].as_str(), b["replaced_by"].clone()), (Some("AAPL"), Some("limit"), Value::Null));
        assert_eq!(b["client_order_id"].as_str().map(str::len), Some(36), "generated client_order_id");
        // The command: the symbol and the instrument as the asset view sees it, exact decimals.
        let cmds = t.backend.commands();
        assert_eq!((cmds.len(), cmds[0].account_id.as_str()), (1, "acc-1"));
        let r = &replaces(&t)[0];
        assert_eq!((r.order_id.as_str(), r.new_order_id.as_str()), (ORDER_OWN, new_id.as_str()));
        assert_eq!((r.qty, r.limit_price, r.stop_price, r.time_in_force), (Some(d("3")), Some(d("151.5")), None, None));
        assert_eq!((r.symbol.as_deref(), r.reference_price), (Some("AAPL"), Some(d("160.10"))));
        assert_eq!(r.instrument.as_ref().map(|i| (i.tick_size, i.lot_size, i.min_qty)), Some((d("0.01"), d("0.001"), d("0.001"))));
        assert_eq!(r.client_order_id.as_deref(), b["client_order_id"].as_str());
        // The old order is replaced and names its replacement; the new one names the old.
        let (_, old) = t.get(TRADER, &format!("/v2/orders/{ORDER_OWN}")).await;
        assert_eq!((old["status"].as_str(), old["replaced_by"].as_str()), (Some("replaced"), Some(new_id.as_str())));
        assert!(old["replaced_at"].is_string(), "{old}");
        let (_, new) = t.get(TRADER, &format!("/v2/orders/{new_id}")).await;
        assert_eq!(new, b);
        let (_, open) = t.get(TRADER, "/v2/orders").await;
        assert_eq!(open.as_array().unwrap().iter().map(|o| (o["id"].clone(), o["replaces"].clone())).collect::<Vec<_>>(), vec![(json!(new_id), json!(ORDER_OWN))]);
    }

    #[tokio::test]
    async fn omitted_fields_keep_the_old_orders_values() {
        let t = TestApp::new();
        let (s, b) = patch(&t, TRADER, ORDER_OWN, json!({"limit_price": "149", "time_in_force": "gtc"})).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!((b["qty"].as_str(), b["limit_price"].as_str()), (Some("1"), Some("149")));
        let r = &replaces(&t)[0];
        assert_eq!((r.qty, r.time_in_force), (Some(d("1")), None), "qty is the old order's open quantity; the same tif is no change");
    }

    #[tokio::test]
    async fn invalid_replaces_are_422_with_clear_messages_and_send_nothing() {
        let t = TestApp::new();
        let cases = [
            (json!({}), "nothing to replace: give qty, limit_price, stop_price or time_in_force"),
            (json!({"client_order_id": "only-this"}), "nothing to replace: give qty, limit_price, stop_price or time_in_force"),
            (json!({"qty": "-1"}), "qty must be positive"),
            (json!({"qty": "0"}), "qty must be positive"),
            (json!({"qty": "lots"}), "qty is not a valid decimal: \"lots\""),
            (json!({"qty": "1.123456789"}), "qty has more than 8 decimal places"),
            (json!({"limit_price": true}), "limit_price must be a decimal string"),
            (json!({"stop_price": "1"}), "stop_price must not be set for limit orders"),
            (json!({"time_in_force": "day"}), "time_in_force cannot be changed by a replace (the order's is gtc, asked day): cancel and place a new order"),
            (json!({"time_in_force": "forever"}), "invalid time_in_force: \"forever\""),
            (json!({"trail": "1"}), "trail is not supported (trailing_stop orders are not supported)"),
            (json!({"qty": "2", "client_order_id": "x".repeat(129)}), "client_order_id must be at most 128 characters"),
        ];
        for (body, message) in cases {
            assert_eq!(patch(&t, TRADER, ORDER_OWN, body.clone()).await, (422, json!({"code": 42210000, "message": message})), "{body}");
        }
        let (s, b) = patch(&t, TRADER, ORDER_OWN, json!([1])).await;
        assert!(s == 422 && b["message"].as_str().unwrap().starts_with("invalid replace request:"), "{s} {b}");
        let (s, b) = patch(&t, TRADER, ORDER_OWN, json!({"qty": {"n": 1}})).await;
        assert_eq!((s, b["message"].as_str()), (422, Some("qty must be a decimal string")));
        let req = axum::http::Request::patch(format!("/v2/orders/{ORDER_OWN}"))
            .header(crate::auth::KEY_ID_HEADER, TRADER.unwrap().0)
            .header(crate::auth::SECRET_HEADER, TRADER.unwrap().1)
            .header("content-type", "application/json")
            .body(axum::body::Body::from("{not json"))
            .unwrap();
        let resp = tower::ServiceExt::oneshot(crate::app(t.state.clone()), req).await.unwrap();
        assert_eq!(resp.status(), 400);
        assert!(t.backend.commands().is_empty(), "nothing invalid is submitted");
        assert_eq!(t.get(TRADER, &format!("/v2/orders/{ORDER_OWN}")).await.1["status"], "new");
    }

    #[tokio::test]
    async fn only_open_replaceable_orders_of_the_callers_account() {
        let t = TestApp::new();
        // Unknown, another account's (as a trader: indistinguishable), anonymous, analyst.
        let missing = patch(&t, TRADER, "0b7c1a52-0000-4000-8000-0000000000ff", json!({"qty": "2"})).await;
        assert_eq!(missing, (404, json!({"code": 40410000, "message": "order not found"})));
        assert_eq!(patch(&t, TRADER, ORDER_OTHER, json!({"qty": "2"})).await, missing);
        assert_eq!(patch(&t, ANONYMOUS, ORDER_OWN, json!({"qty": "2"})).await.0, 401);
        assert_eq!(patch(&t, ANALYST, ORDER_OWN, json!({"qty": "2"})).await.0, 403);
        assert_eq!(patch(&t, ADMIN, ORDER_OWN, json!({"qty": "2"})).await, (403, json!({"code": 40310000, "message": "orders of another account cannot be replaced"})));
        // Closed orders.
        t.delete(TRADER, &format!("/v2/orders/{ORDER_OWN}")).await;
        assert_eq!(patch(&t, TRADER, ORDER_OWN, json!({"qty": "2"})).await, (422, json!({"code": 42210000, "message": "order is already in \"canceled\" state"})));
        // Market and notional orders.
        let (_, m) = t.post(TRADER, "/v2/orders", json!({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market", "time_in_force": "day"})).await;
        assert_eq!(patch(&t, TRADER, m["id"].as_str().unwrap(), json!({"qty": "2"})).await.1["message"], "market orders cannot be replaced");
        let (_, n) = t.post(TRADER, "/v2/orders", json!({"symbol": "AAPL", "notional": "10", "side": "buy", "type": "market", "time_in_force": "day"})).await;
        assert_eq!(patch(&t, TRADER, n["id"].as_str().unwrap(), json!({"qty": "2"})).await.1["message"], "notional orders cannot be replaced");
        // Not decided yet (pending_new): Alpaca refuses too.
        t.backend.set_reply(Reply::Silent);
        let t2 = TestApp { backend: t.backend.clone(), clock: t.clock.clone(), state: t.state.clone() };
        let mut st = t2.state.clone();
        st.config.outcome_wait = Duration::from_millis(20);
        let t2 = TestApp { state: st, ..t2 };
        let (_, p) = t2.post(TRADER, "/v2/orders", json!({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit", "limit_price": "1", "time_in_force": "gtc"})).await;
        assert_eq!(p["status"], "pending_new");
        assert_eq!(patch(&t2, TRADER, p["id"].as_str().unwrap(), json!({"qty": "2"})).await.1["message"], "order in \"pending_new\" state cannot be replaced");
        assert!(replaces(&t).is_empty());
    }

    #[tokio::test]
    async fn client_order_id_makes_replace_retries_idempotent() {
        let t = TestApp::new();
        let (s, first) = patch(&t, TRADER, ORDER_OWN, json!({"qty": "2", "client_order_id": "rep-1"})).await;
        assert_eq!((s, first["client_order_id"].as_str()), (200, Some("rep-1")), "{first}");
        // The retry finds the old order replaced, and answers with the same replacement.
        let (s, again) = patch(&t, TRADER, ORDER_OWN, json!({"qty": "2", "client_order_id": "rep-1"})).await;
        assert_eq!((s, &again), (200, &first));
        assert_eq!(replaces(&t).len(), 1, "never a second command");
        // Same id, other parameters; or an id an order already has: refused.
        let unique = (422, json!({"code": 42210000, "message": "client_order_id must be unique"}));
        assert_eq!(patch(&t, TRADER, ORDER_OWN, json!({"qty": "5", "client_order_id": "rep-1"})).await, unique);
        let new_id = first["id"].as_str().unwrap();
        assert_eq!(patch(&t, TRADER, new_id, json!({"qty": "5", "client_order_id": "rep-1"})).await, unique);
        assert_eq!(patch(&t, TRADER, new_id, json!({"qty": "5", "client_order_id": "coid-own"})).await, unique);
        // Without a client_order_id the retry is a new replace of a replaced order.
        assert_eq!(patch(&t, TRADER, ORDER_OWN, json!({"qty": "2"})).await.1["message"], "order is already in \"replaced\" state");
        // The replacement can itself be replaced.
        let (s, second) = patch(&t, TRADER, new_id, json!({"limit_price": "148"})).await;
        assert_eq!((s, second["replaces"].as_str(), second["qty"].as_str()), (200, Some(new_id), Some("2")), "{second}");
        assert_eq!(replaces(&t).len(), 2);
    }

    #[tokio::test]
    async fn a_refused_replace_is_422_and_the_old_order_stays() {
        let t = TestApp::new();
        t.backend.set_reply(Reply::Reject(OrderReason::InsufficientBuyingPower, "needs 1500, has 900".into()));
        let (s, b) = patch(&t, TRADER, ORDER_OWN, json!({"qty": "10"})).await;
        assert_eq!((s, b), (422, json!({"code": 42210000, "message": "replace rejected: insufficient_buying_power: needs 1500, has 900"})));
        let (_, old) = t.get(TRADER, &format!("/v2/orders/{ORDER_OWN}")).await;
        assert_eq!((old["status"].as_str(), old["replaced_by"].clone()), (Some("new"), Value::Null));
    }

    #[tokio::test]
    async fn timeout_returns_the_replacement_pending_new() {
        let t = TestApp::with_wait(Duration::from_millis(50));
        t.backend.set_reply(Reply::Silent);
        let (s, b) = patch(&t, TRADER, ORDER_OWN, json!({"qty": "2", "time_in_force": "gtc"})).await;
        assert_eq!((s, b["status"].as_str(), b["replaces"].as_str()), (200, Some("pending_new"), Some(ORDER_OWN)), "{b}");
        assert_eq!(b["time_in_force"], "gtc");
        let (_, g) = t.get(TRADER, &format!("/v2/orders/{}", b["id"].as_str().unwrap())).await;
        assert_eq!(g["replaces"].as_str(), Some(ORDER_OWN), "this process remembers the link until the view shows it");
        assert_eq!(replaces(&t)[0].time_in_force, None::<TimeInForce>);
    }
}
