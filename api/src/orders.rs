//! Orders: `POST/GET/DELETE /v2/orders`, `GET/PATCH/DELETE /v2/orders/{id}`,
//! `GET /v2/orders:by_client_order_id`. Replacing (`PATCH`) is in [`replace`].
//!
//! Placing an order:
//! 1. The request is validated into a `PlaceOrder` (422 with a clear message otherwise):
//!    market / limit / stop / stop_limit; exactly one of `qty` or `notional` (notional:
//!    market + day only); prices as the type needs them; at most 8 decimal places (the
//!    wire's scale); the asset must exist and not be delisted. Numbers may be JSON strings
//!    (preferred, exact) or JSON numbers (read through their shortest decimal text).
//! 2. `client_order_id` (generated when absent, at most 128 chars) is unique per account:
//!    a retry with the same id and the same parameters returns the same order (never a
//!    second command); the same id with different parameters is a 422. Uniqueness is
//!    checked against the order view and against the orders this process submitted that
//!    the view does not show yet ([`Submitted`], claimed under one lock, so concurrent
//!    retries submit once). Known limitation: two API instances racing on the same new
//!    client_order_id before either reaches the view could both submit; the accounts
//!    pipeline then rejects the second (`DUPLICATE_CLIENT_ORDER_ID`).
//! 3. The API watches the order id, submits the command and waits up to
//!    `ApiConfig::outcome_wait` for the accepted / rejected event; the response is the
//!    order with its real status (`new`, `rejected` with `reject_reason` and
//!    `reject_message` as extension fields), or `pending_new` on timeout.
//!
//! Replacement links: `replaced_by` is shown only while the order is `pending_replace` or
//! `replaced` (a refused replace leaves the order `new`, without the link); `replaces` comes
//! from the old order's `replaced_by` in the view, or from this process's own replaces
//! ([`Submitted`]) until the view shows the link.

pub mod replace;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::format::{dec, dec_opt, parse_decimal, parse_time, rfc3339, uuid_v4, uuid_v8};
use crate::ports::{is_open, Direction, OrderQuery, OrderRecord, StatusFilter};
use crate::AppState;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use rust_decimal::Decimal;
use schemas::records::{
    CancelOrder, InstrumentSnapshot, InstrumentStatus, OrderCommand, OrderInstruction, OrderReason, OrderStatus, OrderType,
    PlaceOrder, Side, TimeInForce,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// Most decimal places the wire carries.
const MAX_SCALE: u32 = 8;
const MAX_CLIENT_ORDER_ID: usize = 128;
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 500;

// ---------------------------------------------------------------------------------------
// Wire names

pub fn status_name(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::PendingNew => "pending_new",
        OrderStatus::New => "new",
        OrderStatus::PartiallyFilled => "partially_filled",
        OrderStatus::Filled => "filled",
        OrderStatus::Canceled => "canceled",
        OrderStatus::Expired => "expired",
        OrderStatus::Rejected => "rejected",
        OrderStatus::Replaced => "replaced",
        OrderStatus::PendingCancel => "pending_cancel",
        OrderStatus::PendingReplace => "pending_replace",
    }
}

fn side_name(s: Side) -> &'static str {
    match s {
        Side::Buy => "buy",
        Side::Sell => "sell",
    }
}

fn type_name(t: OrderType) -> &'static str {
    match t {
        OrderType::Market => "market",
        OrderType::Limit => "limit",
        OrderType::Stop => "stop",
        OrderType::StopLimit => "stop_limit",
    }
}

fn tif_name(t: TimeInForce) -> &'static str {
    match t {
        TimeInForce::Day => "day",
        TimeInForce::Gtc => "gtc",
        TimeInForce::Ioc => "ioc",
        TimeInForce::Fok => "fok",
        TimeInForce::Opg => "opg",
        TimeInForce::Cls => "cls",
    }
}

/// `INSUFFICIENT_BUYING_POWER` -> `insufficient_buying_power`.
fn reason_name(r: OrderReason) -> String {
    serde_json::to_value(r).ok().and_then(|v| v.as_str().map(str::to_ascii_lowercase)).unwrap_or_else(|| "other".into())
}

// ---------------------------------------------------------------------------------------
// The Order object

/// Alpaca's Order object (plus `reject_reason` / `reject_message`, extensions). Money and
/// quantities are decimal strings.
#[derive(Clone, Debug, Serialize, PartialEq, utoipa::ToSchema)]
pub struct OrderBody {
    pub id: String,
    pub client_order_id: String,
    pub created_at: String,
    pub updated_at: String,
    pub submitted_at: String,
    pub filled_at: Option<String>,
    pub expired_at: Option<String>,
    pub canceled_at: Option<String>,
    pub failed_at: Option<String>,
    pub replaced_at: Option<String>,
    pub replaced_by: Option<String>,
    pub replaces: Option<String>,
    pub asset_id: String,
    pub symbol: String,
    pub asset_class: &'static str,
    pub notional: Option<String>,
    pub qty: Option<String>,
    pub filled_qty: String,
    pub filled_avg_price: Option<String>,
    pub order_class: &'static str,
    pub order_type: &'static str,
    #[serde(rename = "type")]
    pub type_: &'static str,
    pub side: &'static str,
    pub time_in_force: &'static str,
    pub limit_price: Option<String>,
    pub stop_price: Option<String>,
    pub status: &'static str,
    pub extended_hours: bool,
    /// Always `null` (simple orders only).
    #[schema(value_type = Option<Vec<Object>>)]
    pub legs: Option<Vec<OrderBody>>,
    pub trail_percent: Option<String>,
    pub trail_price: Option<String>,
    pub hwm: Option<String>,
    pub reject_reason: Option<String>,
    pub reject_message: Option<String>,
}

impl OrderBody {
    pub fn from_record(r: &OrderRecord) -> OrderBody {
        let o = &r.order;
        let status = r.status();
        let ev = r.last_event.as_ref();
        let at = ev.map_or(r.submitted_at_ns, |e| e.at_ns);
        let when = |s: OrderStatus| (status == s).then(|| rfc3339(at));
        OrderBody {
            id: o.order_id.clone(),
            client_order_id: r.client_order_id().to_string(),
            created_at: rfc3339(r.submitted_at_ns),
            updated_at: rfc3339(at),
            submitted_at: rfc3339(r.submitted_at_ns),
            filled_at: when(OrderStatus::Filled),
            expired_at: when(OrderStatus::Expired),
            canceled_at: when(OrderStatus::Canceled),
            failed_at: when(OrderStatus::Rejected),
            replaced_at: when(OrderStatus::Replaced),
            replaced_by: ev
                .filter(|_| matches!(status, OrderStatus::Replaced | OrderStatus::PendingReplace))
                .and_then(|e| e.replaced_by.clone()),
            replaces: None,
            asset_id: uuid_v8("asset", &o.symbol),
            symbol: o.symbol.clone(),
            asset_class: "us_equity",
            notional: dec_opt(o.notional),
            qty: dec_opt(o.qty),
            filled_qty: dec(ev.map_or(Decimal::ZERO, |e| e.filled_qty)),
            filled_avg_price: dec_opt(ev.and_then(|e| e.avg_fill_price)),
            order_class: "simple",
            order_type: type_name(o.order_type),
            type_: type_name(o.order_type),
            side: side_name(o.side),
            time_in_force: tif_name(o.time_in_force),
            limit_price: dec_opt(o.limit_price),
            stop_price: dec_opt(o.stop_price),
            status: status_name(status),
            extended_hours: o.extended_hours,
            legs: None,
            trail_percent: None,
            trail_price: None,
            hwm: None,
            reject_reason: ev.filter(|_| status == OrderStatus::Rejected).map(|e| reason_name(e.reason.unwrap_or(OrderReason::Other))),
            reject_message: ev.filter(|_| status == OrderStatus::Rejected).and_then(|e| e.message.clone()),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Orders submitted by this process, until the view shows them

/// Orders this process submitted, by (account, client_order_id) and by id. Entries leave
/// once the order view knows the order.
#[derive(Default)]
pub(crate) struct Submitted {
    inner: Mutex<SubmittedInner>,
}

#[derive(Default)]
struct SubmittedInner {
    by_key: HashMap<(String, String), OrderRecord>,
    key_of: HashMap<String, (String, String)>,
    /// Replacement id -> replaced order id, for replaces this process submitted; an entry
    /// leaves once the view links the two (the old order's `replaced_by`).
    replaces: HashMap<String, String>,
}

impl Submitted {
    fn lock(&self) -> std::sync::MutexGuard<'_, SubmittedInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Claims the record's (account, client_order_id); returns the existing record if the
    /// pair is already taken (and claims nothing).
    fn claim(&self, record: &OrderRecord) -> Option<OrderRecord> {
        let key = (record.account_id.clone(), record.client_order_id().to_string());
        let mut g = self.lock();
        if let Some(existing) = g.by_key.get(&key) {
            return Some(existing.clone());
        }
        g.key_of.insert(record.order.order_id.clone(), key.clone());
        g.by_key.insert(key, record.clone());
        None
    }

    fn by_client_order_id(&self, account_id: &str, client_order_id: &str) -> Option<OrderRecord> {
        self.lock().by_key.get(&(account_id.to_string(), client_order_id.to_string())).cloned()
    }

    fn by_id(&self, order_id: &str) -> Option<OrderRecord> {
        let g = self.lock();
        g.key_of.get(order_id).and_then(|k| g.by_key.get(k)).cloned()
    }

    fn of_account(&self, account_id: &str) -> Vec<OrderRecord> {
        self.lock().by_key.values().filter(|r| r.account_id == account_id).cloned().collect()
    }

    fn update(&self, record: &OrderRecord) {
        let mut g = self.lock();
        if let Some(k) = g.key_of.get(&record.order.order_id).cloned() {
            g.by_key.insert(k, record.clone());
        }
    }

    fn note_replace(&self, new_order_id: &str, old_order_id: &str) {
        self.lock().replaces.insert(new_order_id.to_string(), old_order_id.to_string());
    }

    fn forget_replace(&self, new_order_id: &str) {
        self.lock().replaces.remove(new_order_id);
    }

    fn replaces(&self) -> Vec<(String, String)> {
        self.lock().replaces.iter().map(|(n, o)| (n.clone(), o.clone())).collect()
    }

    fn forget(&self, order_id: &str) {
        let mut g = self.lock();
        if let Some(k) = g.key_of.remove(order_id) {
            g.by_key.remove(&k);
        }
    }
}

/// An order by id: the view's version, else this process's pending one.
fn find_order(state: &AppState, order_id: &str) -> Result<Option<OrderRecord>, ApiError> {
    if let Some(r) = state.ports.orders.order(order_id)? {
        state.submitted.forget(order_id);
        return Ok(Some(r));
    }
    Ok(state.submitted.by_id(order_id))
}

fn find_by_client_order_id(state: &AppState, account_id: &str, coid: &str) -> Result<Option<OrderRecord>, ApiError> {
    if let Some(r) = state.ports.orders.by_client_order_id(account_id, coid)? {
        state.submitted.forget(&r.order.order_id);
        return Ok(Some(r));
    }
    Ok(state.submitted.by_client_order_id(account_id, coid))
}

/// Replacement id -> the id of the order it replaces, for `account_id`'s orders (see the
/// module doc). Scans the account's orders once.
fn replaces_index(state: &AppState, account_id: &str) -> Result<HashMap<String, String>, ApiError> {
    let query = OrderQuery {
        account_id: account_id.to_string(),
        status: StatusFilter::All,
        after_ns: None,
        until_ns: None,
        direction: Direction::Asc,
        limit: usize::MAX,
        symbols: Vec::new(),
    };
    let mut index = HashMap::new();
    for r in state.ports.orders.list(&query)? {
        if matches!(r.status(), OrderStatus::Replaced | OrderStatus::PendingReplace) {
            if let Some(new_id) = r.last_event.as_ref().and_then(|e| e.replaced_by.clone()) {
                index.insert(new_id, r.order.order_id.clone());
            }
        }
    }
    for (new_id, old_id) in state.submitted.replaces() {
        if index.get(&new_id) == Some(&old_id) {
            state.submitted.forget_replace(&new_id);
        } else {
            index.entry(new_id).or_insert(old_id);
        }
    }
    Ok(index)
}

/// The Alpaca order of `record`, with `replaces` filled in from `index`.
fn order_body(record: &OrderRecord, index: &HashMap<String, String>) -> OrderBody {
    let mut body = OrderBody::from_record(record);
    body.replaces = index.get(&record.order.order_id).cloned();
    body
}

/// [`order_body`] for one order.
fn single_body(state: &AppState, record: &OrderRecord) -> Result<OrderBody, ApiError> {
    Ok(order_body(record, &replaces_index(state, &record.account_id)?))
}

// ---------------------------------------------------------------------------------------
// Request shapes for the OpenAPI document (the handlers read strings and validate them).
// Decimals are documented as strings of digits with at most 8 fractional digits.

/// `side` values.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)] // a schema only
pub enum SideName {
    Buy,
    Sell,
}

/// `type` values (`trailing_stop` is refused with 422).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)] // a schema only
pub enum OrderTypeName {
    Market,
    Limit,
    Stop,
    StopLimit,
}

/// `time_in_force` values.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)] // a schema only
pub enum TimeInForceName {
    Day,
    Gtc,
    Ioc,
    Fok,
    Opg,
    Cls,
}

// ---------------------------------------------------------------------------------------
// Placing orders

/// `POST /v2/orders` body. Unknown fields are ignored. Decimals may also be JSON numbers.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct OrderRequest {
    pub symbol: Option<String>,
    #[schema(value_type = Option<String>, pattern = r"^[0-9]+(\.[0-9]{1,8})?$")]
    pub qty: Option<serde_json::Value>,
    #[schema(value_type = Option<String>, pattern = r"^[0-9]+(\.[0-9]{1,8})?$")]
    pub notional: Option<serde_json::Value>,
    #[schema(value_type = Option<SideName>)]
    pub side: Option<String>,
    #[serde(rename = "type")]
    #[schema(value_type = Option<OrderTypeName>)]
    pub order_type: Option<String>,
    #[schema(value_type = Option<TimeInForceName>)]
    pub time_in_force: Option<String>,
    #[schema(value_type = Option<String>, pattern = r"^[0-9]+(\.[0-9]{1,8})?$")]
    pub limit_price: Option<serde_json::Value>,
    #[schema(value_type = Option<String>, pattern = r"^[0-9]+(\.[0-9]{1,8})?$")]
    pub stop_price: Option<serde_json::Value>,
    pub extended_hours: Option<bool>,
    pub client_order_id: Option<String>,
    pub order_class: Option<String>,
}

fn unprocessable(m: impl Into<String>) -> ApiError {
    ApiError::Unprocessable(m.into())
}

/// A decimal field: JSON string (exact) or number (its shortest text); positive, at most
/// 8 decimal places.
fn decimal_field(name: &str, v: &Option<serde_json::Value>) -> Result<Option<Decimal>, ApiError> {
    let text = match v {
        None | Some(serde_json::Value::Null) => return Ok(None),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        Some(_) => return Err(unprocessable(format!("{name} must be a decimal string"))),
    };
    let d = parse_decimal(&text).ok_or_else(|| unprocessable(format!("{name} is not a valid decimal: {text:?}")))?;
    if d <= Decimal::ZERO {
        return Err(unprocessable(format!("{name} must be positive")));
    }
    if d.normalize().scale() > MAX_SCALE {
        return Err(unprocessable(format!("{name} has more than {MAX_SCALE} decimal places")));
    }
    Ok(Some(d.normalize()))
}

fn parse_tif(s: &str) -> Result<TimeInForce, ApiError> {
    Ok(match s {
        "day" => TimeInForce::Day,
        "gtc" => TimeInForce::Gtc,
        "ioc" => TimeInForce::Ioc,
        "fok" => TimeInForce::Fok,
        "opg" => TimeInForce::Opg,
        "cls" => TimeInForce::Cls,
        other => return Err(unprocessable(format!("invalid time_in_force: {other:?}"))),
    })
}

/// The client's `client_order_id`, or a generated one; at most 128 characters.
fn client_order_id(given: Option<&str>) -> Result<String, ApiError> {
    match given {
        None | Some("") => Ok(uuid_v4()),
        Some(c) if c.len() > MAX_CLIENT_ORDER_ID => {
            Err(unprocessable(format!("client_order_id must be at most {MAX_CLIENT_ORDER_ID} characters")))
        }
        Some(c) => Ok(c.to_string()),
    }
}

/// A JSON request body (`POST` and `PATCH`): 400 if it is not JSON, 422 if it is not an
/// object's shape the handler can read, 413 if too large.
fn json_body(body: Result<Json<serde_json::Value>, JsonRejection>) -> Result<serde_json::Value, ApiError> {
    let Json(value) = body.map_err(|e| match e {
        JsonRejection::JsonDataError(_) => unprocessable("request body is not a JSON object"),
        e if e.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        _ => ApiError::BadRequest("request body format is invalid".into()),
    })?;
    Ok(value)
}

fn required<'a>(name: &str, v: &'a Option<String>) -> Result<&'a str, ApiError> {
    v.as_deref().filter(|s| !s.is_empty()).ok_or_else(|| unprocessable(format!("{name} is required")))
}

/// Validates a request into a `PlaceOrder` (without instrument data; see [`place`]).
pub fn validate(req: &OrderRequest, order_id: String) -> Result<PlaceOrder, ApiError> {
    let symbol = required("symbol", &req.symbol)?.to_ascii_uppercase();
    if symbol.len() > 32 || !symbol.bytes().all(|c| c.is_ascii_alphanumeric() || b"./-".contains(&c)) {
        return Err(unprocessable(format!("invalid symbol: {symbol:?}")));
    }
    let side = match required("side", &req.side)? {
        "buy" => Side::Buy,
        "sell" => Side::Sell,
        other => return Err(unprocessable(format!("invalid side: {other:?} (buy or sell)"))),
    };
    let order_type = match required("type", &req.order_type)? {
        "market" => OrderType::Market,
        "limit" => OrderType::Limit,
        "stop" => OrderType::Stop,
        "stop_limit" => OrderType::StopLimit,
        "trailing_stop" => return Err(unprocessable("order type trailing_stop is not supported")),
        other => return Err(unprocessable(format!("invalid order type: {other:?}"))),
    };
    let time_in_force = parse_tif(required("time_in_force", &req.time_in_force)?)?;
    match req.order_class.as_deref() {
        None | Some("") | Some("simple") => {}
        Some(other) => return Err(unprocessable(format!("order_class {other:?} is not supported (simple only)"))),
    }
    let qty = decimal_field("qty", &req.qty)?;
    let notional = decimal_field("notional", &req.notional)?;
    let limit_price = decimal_field("limit_price", &req.limit_price)?;
    let stop_price = decimal_field("stop_price", &req.stop_price)?;
    match (qty, notional) {
        (Some(_), Some(_)) => return Err(unprocessable("qty and notional are mutually exclusive")),
        (None, None) => return Err(unprocessable("qty or notional is required")),
        (None, Some(_)) if order_type != OrderType::Market || time_in_force != TimeInForce::Day => {
            return Err(unprocessable("notional orders must be market orders with time_in_force day"));
        }
        _ => {}
    }
    let needs_limit = matches!(order_type, OrderType::Limit | OrderType::StopLimit);
    let needs_stop = matches!(order_type, OrderType::Stop | OrderType::StopLimit);
    let t = type_name(order_type);
    match (needs_limit, limit_price) {
        (true, None) => return Err(unprocessable(format!("limit_price is required for {t} orders"))),
        (false, Some(_)) => return Err(unprocessable(format!("limit_price must not be set for {t} orders"))),
        _ => {}
    }
    match (needs_stop, stop_price) {
        (true, None) => return Err(unprocessable(format!("stop_price is required for {t} orders"))),
        (false, Some(_)) => return Err(unprocessable(format!("stop_price must not be set for {t} orders"))),
        _ => {}
    }
    let extended_hours = req.extended_hours.unwrap_or(false);
    if extended_hours && (order_type != OrderType::Limit || time_in_force != TimeInForce::Day) {
        return Err(unprocessable("extended_hours orders must be limit orders with time_in_force day"));
    }
    let client_order_id = client_order_id(req.client_order_id.as_deref())?;
    Ok(PlaceOrder {
        order_id,
        client_order_id: Some(client_order_id),
        symbol,
        side,
        order_type,
        time_in_force,
        qty,
        notional,
        limit_price,
        stop_price,
        instrument: None,
        reference_price: None,
        extended_hours,
    })
}

/// The instrument as the asset view sees it now (for the accounts pipeline's pre-trade
/// checks) and its last trade price; 422 if the asset is unknown or delisted.
fn instrument_of(state: &AppState, symbol: &str) -> Result<(InstrumentSnapshot, Option<Decimal>), ApiError> {
    let asset = state.ports.assets.asset(symbol)?.ok_or_else(|| unprocessable(format!("asset \"{symbol}\" not found")))?;
    if asset.status == InstrumentStatus::Delisted {
        return Err(unprocessable(format!("asset \"{symbol}\" is not active")));
    }
    let snapshot = InstrumentSnapshot {
        status: asset.status,
        tick_size: asset.listing.tick_size,
        lot_size: asset.listing.lot_size,
        min_qty: asset.listing.min_qty,
        max_order_notional: asset.listing.max_order_notional,
    };
    Ok((snapshot, asset.last_trade_price))
}

/// Whether two orders ask for the same thing (an idempotent retry).
fn same_request(a: &PlaceOrder, b: &PlaceOrder) -> bool {
    (a.symbol.as_str(), a.side, a.order_type, a.time_in_force, a.qty, a.notional, a.limit_price, a.stop_price, a.extended_hours)
        == (b.symbol.as_str(), b.side, b.order_type, b.time_in_force, b.qty, b.notional, b.limit_price, b.stop_price, b.extended_hours)
}

/// Waits (bounded) for a pending order's outcome and returns its freshest version.
async fn settle(state: &AppState, mut record: OrderRecord, watch: Option<crate::ports::OutcomeWatch>) -> Result<OrderRecord, ApiError> {
    if record.status() == OrderStatus::PendingNew {
        let watch = watch.unwrap_or_else(|| state.ports.outcomes.watch(&record.order.order_id));
        if let Some(event) = watch.wait(state.config.outcome_wait).await {
            record.apply(&event);
            state.submitted.update(&record);
        }
    }
    match state.ports.orders.order(&record.order.order_id)? {
        Some(fresh) => {
            state.submitted.forget(&record.order.order_id);
            Ok(if fresh.last_event.is_some() || record.last_event.is_none() { fresh } else { record })
        }
        None => Ok(record),
    }
}

/// Answers a retry: the same order if the parameters match, 422 otherwise.
async fn replay(state: &AppState, existing: OrderRecord, wanted: &PlaceOrder) -> Result<Response, ApiError> {
    if !same_request(&existing.order, wanted) {
        return Err(unprocessable("client_order_id must be unique"));
    }
    let record = settle(state, existing, None).await?;
    Ok((StatusCode::OK, Json(OrderBody::from_record(&record))).into_response())
}

async fn place(
    State(state): State<AppState>,
    who: Principal,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    who.require_trading()?;
    let value = json_body(body)?;
    let req: OrderRequest = serde_json::from_value(value).map_err(|e| unprocessable(format!("invalid order request: {e}")))?;
    submit(&state, &who, &req).await
}

/// Validates and places `req` for `who` (who may trade), waiting for the outcome like
/// `POST /v2/orders` (also used by `DELETE /v2/positions/{symbol}`).
pub(crate) async fn submit(state: &AppState, who: &Principal, req: &OrderRequest) -> Result<Response, ApiError> {
    let state = state.clone();
    let mut order = validate(req, uuid_v4())?;
    let (instrument, reference_price) = instrument_of(&state, &order.symbol)?;
    order.instrument = Some(instrument);
    order.reference_price = reference_price;
    let account_id = who.account_id.clone();
    let coid = order.client_order_id.clone().unwrap_or_default();

    if let Some(existing) = find_by_client_order_id(&state, &account_id, &coid)? {
        return replay(&state, existing, &order).await;
    }
    let now = state.ports.clock.now_ns();
    let record = OrderRecord { account_id: account_id.clone(), order: order.clone(), submitted_at_ns: now, last_event: None };
    if let Some(existing) = state.submitted.claim(&record) {
        return replay(&state, existing, &order).await;
    }
    // The view may have caught up between the lookup and the claim.
    if let Some(existing) = state.ports.orders.by_client_order_id(&account_id, &coid)? {
        state.submitted.forget(&order.order_id);
        return replay(&state, existing, &order).await;
    }
    let watch = state.ports.outcomes.watch(&order.order_id);
    let command = OrderCommand { command_id: uuid_v4(), account_id, issued_at_ns: now, body: OrderInstruction::PlaceOrder(order.clone()) };
    if let Err(e) = state.ports.commands.submit(command).await {
        state.submitted.forget(&order.order_id);
        return Err(e.into());
    }
    let record = settle(&state, record, Some(watch)).await?;
    Ok((StatusCode::OK, Json(OrderBody::from_record(&record))).into_response())
}

// ---------------------------------------------------------------------------------------
// Reading orders

/// `GET /v2/orders` query.
#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    pub status: Option<String>,
    pub limit: Option<String>,
    pub after: Option<String>,
    pub until: Option<String>,
    pub direction: Option<String>,
    pub symbols: Option<String>,
    pub nested: Option<String>,
}

fn list_query(account_id: &str, p: &ListParams) -> Result<OrderQuery, ApiError> {
    let status = match p.status.as_deref() {
        None | Some("open") => StatusFilter::Open,
        Some("closed") => StatusFilter::Closed,
        Some("all") => StatusFilter::All,
        Some(other) => return Err(unprocessable(format!("invalid status: {other:?} (open, closed or all)"))),
    };
    let limit = match p.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => return Err(unprocessable(format!("limit must be an integer from 1 to {MAX_LIMIT}"))),
        },
    };
    let time = |name: &str, v: &Option<String>| -> Result<Option<i64>, ApiError> {
        v.as_deref().map(|s| parse_time(s).ok_or_else(|| unprocessable(format!("{name} must be an RFC 3339 timestamp or a date")))).transpose()
    };
    let direction = match p.direction.as_deref() {
        None | Some("desc") => Direction::Desc,
        Some("asc") => Direction::Asc,
        Some(other) => return Err(unprocessable(format!("invalid direction: {other:?} (asc or desc)"))),
    };
    let symbols = p.symbols.as_deref().map_or_else(Vec::new, |s| {
        s.split(',').map(|x| x.trim().to_ascii_uppercase()).filter(|x| !x.is_empty()).collect()
    });
    Ok(OrderQuery { account_id: account_id.to_string(), status, after_ns: time("after", &p.after)?, until_ns: time("until", &p.until)?, direction, limit, symbols })
}

fn query_error(e: QueryRejection) -> ApiError {
    unprocessable(format!("invalid query: {}", e.body_text()))
}

async fn list(
    State(state): State<AppState>,
    who: Principal,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<Vec<OrderBody>>, ApiError> {
    let Query(params) = params.map_err(query_error)?;
    let query = list_query(&who.account_id, &params)?;
    let records = merged_list(&state, &query)?;
    let index = if records.is_empty() { HashMap::new() } else { replaces_index(&state, &who.account_id)? };
    Ok(Json(records.iter().map(|r| order_body(r, &index)).collect()))
}

/// The view's listing plus this process's submissions the view does not show yet
/// (read-your-writes); submissions the view knows are taken from the view and forgotten.
fn merged_list(state: &AppState, query: &OrderQuery) -> Result<Vec<OrderRecord>, ApiError> {
    let mut all: BTreeMap<String, OrderRecord> = BTreeMap::new();
    for pending in state.submitted.of_account(&query.account_id) {
        if let Some(r) = find_order(state, &pending.order.order_id)? {
            all.insert(r.order.order_id.clone(), r);
        }
    }
    for r in state.ports.orders.list(query)? {
        all.insert(r.order.order_id.clone(), r);
    }
    Ok(query.select(all.into_values()))
}

fn visible(who: &Principal, record: Option<OrderRecord>) -> Result<OrderRecord, ApiError> {
    record.filter(|r| who.can_see(r)).ok_or_else(|| ApiError::NotFound("order not found".into()))
}

async fn get_one(State(state): State<AppState>, who: Principal, Path(order_id): Path<String>) -> Result<Json<OrderBody>, ApiError> {
    let record = visible(&who, find_order(&state, &order_id)?)?;
    Ok(Json(single_body(&state, &record)?))
}

#[derive(Debug, Deserialize)]
pub struct ByClientOrderId {
    pub client_order_id: Option<String>,
}

async fn get_by_client_order_id(
    State(state): State<AppState>,
    who: Principal,
    params: Result<Query<ByClientOrderId>, QueryRejection>,
) -> Result<Json<OrderBody>, ApiError> {
    let Query(params) = params.map_err(query_error)?;
    let coid = required("client_order_id", &params.client_order_id)?;
    let record = visible(&who, find_by_client_order_id(&state, &who.account_id, coid)?)?;
    Ok(Json(single_body(&state, &record)?))
}

// ---------------------------------------------------------------------------------------
// Cancelling orders

async fn send_cancel(state: &AppState, record: &OrderRecord) -> Result<(), ApiError> {
    let command = OrderCommand {
        command_id: uuid_v4(),
        account_id: record.account_id.clone(),
        issued_at_ns: state.ports.clock.now_ns(),
        body: OrderInstruction::CancelOrder(CancelOrder { order_id: record.order.order_id.clone() }),
    };
    Ok(state.ports.commands.submit(command).await?)
}

async fn cancel_one(State(state): State<AppState>, who: Principal, Path(order_id): Path<String>) -> Result<StatusCode, ApiError> {
    who.require_trading()?;
    let record = visible(&who, find_order(&state, &order_id)?)?;
    let status = record.status();
    if !is_open(status) {
        return Err(unprocessable(format!("order is already in \"{}\" state", status_name(status))));
    }
    if status != OrderStatus::PendingCancel {
        send_cancel(&state, &record).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize)]
struct CancelResult {
    id: String,
    status: u16,
    body: OrderBody,
}

async fn cancel_all(State(state): State<AppState>, who: Principal) -> Result<Response, ApiError> {
    who.require_trading()?;
    let query = OrderQuery {
        account_id: who.account_id.clone(),
        status: StatusFilter::Open,
        after_ns: None,
        until_ns: None,
        direction: Direction::Asc,
        limit: usize::MAX,
        symbols: Vec::new(),
    };
    let mut results = Vec::new();
    for record in merged_list(&state, &query)? {
        let status = match record.status() {
            OrderStatus::PendingCancel => 200,
            _ => match send_cancel(&state, &record).await {
                Ok(()) => 200,
                Err(e) => {
                    tracing::warn!(order_id = %record.order.order_id, error = %e, "cancel-all: cancel not sent");
                    500
                }
            },
        };
        results.push(CancelResult { id: record.order.order_id.clone(), status, body: OrderBody::from_record(&record) });
    }
    Ok((StatusCode::MULTI_STATUS, Json(results)).into_response())
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v2/orders", get(list).post(place).delete(cancel_all))
        .route("/v2/orders:by_client_order_id", get(get_by_client_order_id))
        .route("/v2/orders/{order_id}", get(get_one).delete(cancel_one).patch(replace::replace))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::Reply;
    use crate::testkit::*;
    use serde_json::json;
    use std::time::Duration;

    fn limit_buy(coid: Option<&str>) -> serde_json::Value {
        let mut b = json!({"symbol": "AAPL", "qty": "1.5", "side": "buy", "type": "limit", "limit_price": "160.12", "time_in_force": "gtc"});
        if let Some(c) = coid {
            b["client_order_id"] = json!(c);
        }
        b
    }

    #[tokio::test]
    async fn place_waits_for_acceptance_and_returns_the_alpaca_order() {
        let t = TestApp::new();
        let (s, b) = t.post(TRADER, "/v2/orders", limit_buy(Some("my-1"))).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["status"], "new");
        assert_eq!(b["client_order_id"], "my-1");
        assert_eq!(b["symbol"], "AAPL");
        assert_eq!(b["qty"], "1.5");
        assert_eq!(b["notional"], serde_json::Value::Null);
        assert_eq!(b["filled_qty"], "0");
        assert_eq!(b["limit_price"], "160.12");
        assert_eq!(b["stop_price"], serde_json::Value::Null);
        assert_eq!((b["type"].as_str(), b["order_type"].as_str()), (Some("limit"), Some("limit")));
        assert_eq!((b["side"].as_str(), b["time_in_force"].as_str(), b["order_class"].as_str()), (Some("buy"), Some("gtc"), Some("simple")));
        assert_eq!(b["asset_class"], "us_equity");
        assert_eq!(b["created_at"], "2023-11-14T15:30:00.000000Z");
        assert_eq!(b["extended_hours"], false);
        let id = b["id"].as_str().unwrap();
        assert_eq!((id.len(), &id[14..15]), (36, "4"));
        // The command: exact decimals, instrument as the API saw it, on the key's account.
        let cmds = t.backend.commands();
        assert_eq!(cmds.len(), 1);
        assert_eq!(cmds[0].account_id, "acc-1");
        assert_eq!(cmds[0].issued_at_ns, SESSION1_OPEN + 3_600_000_000_000);
        let OrderInstruction::PlaceOrder(p) = &cmds[0].body else { panic!("not a PlaceOrder") };
        assert_eq!((p.order_id.as_str(), p.qty, p.limit_price), (id, Some(d("1.5")), Some(d("160.12"))));
        assert_eq!(p.reference_price, Some(d("160.10")));
        assert_eq!(p.instrument.as_ref().map(|i| (i.tick_size, i.lot_size)), Some((d("0.01"), d("0.001"))));
        // And it reads back.
        let (s, g) = t.get(TRADER, &format!("/v2/orders/{id}")).await;
        assert_eq!((s, &g), (200, &b));
        let (s, g) = t.get(TRADER, "/v2/orders:by_client_order_id?client_order_id=my-1").await;
        assert_eq!((s, g["id"].as_str()), (200, Some(id)));
    }

    #[tokio::test]
    async fn each_order_type_and_notional() {
        let t = TestApp::new();
        let cases = [
            json!({"symbol": "aapl", "qty": 0.023, "side": "sell", "type": "market", "time_in_force": "day"}),
            json!({"symbol": "AAPL", "notional": "250.5", "side": "buy", "type": "market", "time_in_force": "day"}),
            json!({"symbol": "AAPL", "qty": "2", "side": "sell", "type": "stop", "stop_price": "140", "time_in_force": "gtc"}),
            json!({"symbol": "AAPL", "qty": "2", "side": "buy", "type": "stop_limit", "stop_price": "170", "limit_price": "171.5", "time_in_force": "ioc"}),
            json!({"symbol": "AAPL", "qty": "2", "side": "buy", "type": "limit", "limit_price": "1", "time_in_force": "fok"}),
            json!({"symbol": "AAPL", "qty": "2", "side": "buy", "type": "market", "time_in_force": "opg"}),
            json!({"symbol": "AAPL", "qty": "2", "side": "buy", "type": "market", "time_in_force": "cls"}),
            json!({"symbol": "AAPL", "qty": "2", "side": "buy", "type": "limit", "limit_price": "1", "time_in_force": "day", "extended_hours": true}),
        ];
        for c in cases {
            let (s, b) = t.post(TRADER, "/v2/orders", c.clone()).await;
            assert_eq!((s, b["status"].as_str()), (200, Some("new")), "{c} -> {b}");
        }
        let placed = t.placed();
        assert_eq!((placed[0].symbol.as_str(), placed[0].qty, placed[0].side), ("AAPL", Some(d("0.023")), Side::Sell));
        assert_eq!((placed[1].qty, placed[1].notional), (None, Some(d("250.5"))));
        assert_eq!((placed[2].order_type, placed[2].stop_price), (OrderType::Stop, Some(d("140"))));
        assert_eq!((placed[3].order_type, placed[3].limit_price, placed[3].time_in_force), (OrderType::StopLimit, Some(d("171.5")), TimeInForce::Ioc));
        assert_eq!(placed[5].time_in_force, TimeInForce::Opg);
        assert!(placed[7].extended_hours);
        let (_, b) = t.get(TRADER, &format!("/v2/orders/{}", placed[1].order_id)).await;
        assert_eq!((b["qty"].clone(), b["notional"].clone()), (serde_json::Value::Null, json!("250.5")));
    }

    #[tokio::test]
    async fn rejection_is_returned_with_its_reason() {
        let t = TestApp::new();
        t.backend.set_reply(Reply::Reject(OrderReason::InsufficientBuyingPower, "needs 240.18, has 50".into()));
        let (s, b) = t.post(TRADER, "/v2/orders", limit_buy(None)).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["status"], "rejected");
        assert_eq!(b["reject_reason"], "insufficient_buying_power");
        assert_eq!(b["reject_message"], "needs 240.18, has 50");
        assert!(b["failed_at"].is_string());
        assert_eq!(b["client_order_id"].as_str().unwrap().len(), 36, "generated client_order_id");
    }

    #[tokio::test]
    async fn timeout_returns_pending_new_and_the_order_catches_up() {
        let t = TestApp::with_wait(Duration::from_millis(50));
        t.backend.set_reply(Reply::Silent);
        let started = std::time::Instant::now();
        let (s, b) = t.post(TRADER, "/v2/orders", limit_buy(Some("slow-1"))).await;
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert_eq!((s, b["status"].as_str()), (200, Some("pending_new")), "{b}");
        assert_eq!(b["filled_at"], serde_json::Value::Null);
        let id = b["id"].as_str().unwrap().to_string();
        assert_eq!(t.get(TRADER, &format!("/v2/orders/{id}")).await.1["status"], "pending_new");
        // The accepted event arrives later.
        let mut accepted = seeded_order(&id, "acc-1", "slow-1", 0).last_event.unwrap();
        accepted.at_ns = SESSION1_OPEN + 3_600_000_000_000 + 5_000_000_000;
        t.backend.publish(accepted);
        let (_, g) = t.get(TRADER, &format!("/v2/orders/{id}")).await;
        assert_eq!((g["status"].as_str(), g["updated_at"].as_str()), (Some("new"), Some("2023-11-14T15:30:05.000000Z")));
        // A retry now returns the decided order, still without a second command.
        let (s, r) = t.post(TRADER, "/v2/orders", limit_buy(Some("slow-1"))).await;
        assert_eq!((s, r["id"].as_str(), r["status"].as_str()), (200, Some(id.as_str()), Some("new")));
        assert_eq!(t.placed().len(), 1);
    }

    #[tokio::test]
    async fn client_order_id_makes_retries_idempotent() {
        let t = TestApp::new();
        let (_, first) = t.post(TRADER, "/v2/orders", limit_buy(Some("retry-me"))).await;
        let (s, second) = t.post(TRADER, "/v2/orders", limit_buy(Some("retry-me"))).await;
        assert_eq!(s, 200);
        assert_eq!(first, second);
        assert_eq!(t.placed().len(), 1, "never a second order");
        // Same id, different order: refused, still one order.
        let mut changed = limit_buy(Some("retry-me"));
        changed["qty"] = json!("2");
        let (s, b) = t.post(TRADER, "/v2/orders", changed).await;
        assert_eq!((s, b), (422, json!({"code": 42210000, "message": "client_order_id must be unique"})));
        // Unique per account: another account may use the same id.
        let (s, other) = t.post(OTHER_TRADER, "/v2/orders", limit_buy(Some("retry-me"))).await;
        assert_eq!(s, 200);
        assert_ne!(other["id"], first["id"]);
        assert_eq!(t.placed().len(), 2);
        // The seeded order's client id (from the view) counts too.
        let (s, _) = t.post(TRADER, "/v2/orders", limit_buy(Some("coid-own"))).await;
        assert_eq!(s, 422);
    }

    #[tokio::test]
    async fn concurrent_retries_submit_once() {
        let t = TestApp::with_wait(Duration::from_millis(100));
        t.backend.set_reply(Reply::Silent);
        let (a, b, c) = tokio::join!(
            t.post(TRADER, "/v2/orders", limit_buy(Some("race"))),
            t.post(TRADER, "/v2/orders", limit_buy(Some("race"))),
            t.post(TRADER, "/v2/orders", limit_buy(Some("race"))),
        );
        assert_eq!((a.0, b.0, c.0), (200, 200, 200));
        assert_eq!((a.1["id"].clone(), b.1["id"].clone()), (c.1["id"].clone(), c.1["id"].clone()));
        assert_eq!(t.placed().len(), 1);
    }

    #[tokio::test]
    async fn validation_errors_are_422_with_clear_messages() {
        let t = TestApp::new();
        let base = limit_buy(None);
        let with = |k: &str, v: serde_json::Value| {
            let mut b = base.clone();
            if v.is_null() {
                b.as_object_mut().unwrap().remove(k);
            } else {
                b[k] = v;
            }
            b
        };
        let cases = [
            (with("symbol", serde_json::Value::Null), "symbol is required"),
            (with("symbol", json!("ZZZZ")), "asset \"ZZZZ\" not found"),
            (with("symbol", json!("OLD")), "asset \"OLD\" is not active"),
            (with("side", json!("hold")), "invalid side: \"hold\" (buy or sell)"),
            (with("type", json!("trailing_stop")), "order type trailing_stop is not supported"),
            (with("type", json!("iceberg")), "invalid order type: \"iceberg\""),
            (with("time_in_force", json!("forever")), "invalid time_in_force: \"forever\""),
            (with("qty", json!("-1")), "qty must be positive"),
            (with("qty", json!("0")), "qty must be positive"),
            (with("qty", json!("1.123456789")), "qty has more than 8 decimal places"),
            (with("qty", json!("1e3")), "qty is not a valid decimal: \"1e3\""),
            (with("qty", json!("lots")), "qty is not a valid decimal: \"lots\""),
            (with("qty", json!(true)), "qty must be a decimal string"),
            (with("qty", serde_json::Value::Null), "qty or notional is required"),
            (with("notional", json!("10")), "qty and notional are mutually exclusive"),
            (with("limit_price", serde_json::Value::Null), "limit_price is required for limit orders"),
            (with("stop_price", json!("1")), "stop_price must not be set for limit orders"),
            (with("order_class", json!("bracket")), "order_class \"bracket\" is not supported (simple only)"),
            (with("client_order_id", json!("x".repeat(129))), "client_order_id must be at most 128 characters"),
            (with("extended_hours", json!(true)), "extended_hours orders must be limit orders with time_in_force day"),
            (json!({"symbol": "AAPL", "notional": "10", "side": "buy", "type": "limit", "limit_price": "1", "time_in_force": "day"}), "notional orders must be market orders with time_in_force day"),
            (json!({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market", "limit_price": "1", "time_in_force": "day"}), "limit_price must not be set for market orders"),
            (json!({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "stop", "time_in_force": "day"}), "stop_price is required for stop orders"),
        ];
        for (body, message) in cases {
            let (s, b) = t.post(TRADER, "/v2/orders", body.clone()).await;
            assert_eq!((s, b), (422, json!({"code": 42210000, "message": message})), "{body}");
        }
        let (s, b) = t.post(TRADER, "/v2/orders", json!({"symbol": 5})).await;
        assert_eq!(s, 422);
        assert!(b["message"].as_str().unwrap().starts_with("invalid order request:"), "{b}");
        // Not JSON at all: 400.
        let req = axum::http::Request::post("/v2/orders")
            .header(crate::auth::KEY_ID_HEADER, TRADER.unwrap().0)
            .header(crate::auth::SECRET_HEADER, TRADER.unwrap().1)
            .header("content-type", "application/json")
            .body(axum::body::Body::from("{not json"))
            .unwrap();
        let resp = tower::ServiceExt::oneshot(crate::app(t.state.clone()), req).await.unwrap();
        assert_eq!(resp.status(), 400);
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 16).await.unwrap();
        assert_eq!(serde_json::from_slice::<serde_json::Value>(&bytes).unwrap(), json!({"code": 40010000, "message": "request body format is invalid"}));
        assert!(t.backend.commands().is_empty(), "nothing invalid is submitted");
    }

    #[tokio::test]
    async fn decimal_strings_are_exact_end_to_end() {
        let t = TestApp::new();
        let body = json!({"symbol": "AAPL", "qty": "0.12345678", "side": "buy", "type": "limit", "limit_price": "99999999999.99999999", "time_in_force": "day"});
        let (s, b) = t.post(TRADER, "/v2/orders", body).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!((b["qty"].as_str(), b["limit_price"].as_str()), (Some("0.12345678"), Some("99999999999.99999999")));
        let p = &t.placed()[0];
        assert_eq!((p.qty, p.limit_price), (Some(d("0.12345678")), Some(d("99999999999.99999999"))));
        // 0.1 + 0.2 style values stay what was typed; trailing zeros are dropped, not rounded.
        let (_, b) = t.post(TRADER, "/v2/orders", json!({"symbol": "AAPL", "qty": "0.30000000", "side": "buy", "type": "limit", "limit_price": 0.3, "time_in_force": "day"})).await;
        assert_eq!((b["qty"].as_str(), b["limit_price"].as_str()), (Some("0.3"), Some("0.3")));
        // Every money / quantity field of the order is a string or null, never a number.
        for k in ["qty", "notional", "filled_qty", "filled_avg_price", "limit_price", "stop_price"] {
            assert!(b[k].is_string() || b[k].is_null(), "{k}: {}", b[k]);
        }
    }

    #[tokio::test]
    async fn list_filters_sort_and_limit() {
        let t = TestApp::new();
        let mut ids = Vec::new();
        for i in 0..3 {
            t.clock.set(SESSION1_OPEN + i * 1_000_000_000);
            let (_, b) = t.post(TRADER, "/v2/orders", limit_buy(Some(&format!("l-{i}")))).await;
            ids.push(b["id"].as_str().unwrap().to_string());
        }
        t.delete(TRADER, &format!("/v2/orders/{}", ids[0])).await;
        let list = |q: &'static str| {
            let t = &t;
            async move {
                let (s, b) = t.get(TRADER, q).await;
                assert_eq!(s, 200, "{q}: {b}");
                b.as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap().to_string()).collect::<Vec<_>>()
            }
        };
        // Default: open, newest first (the seeded order is a day older).
        assert_eq!(list("/v2/orders").await, vec![ids[2].clone(), ids[1].clone(), ORDER_OWN.to_string()]);
        assert_eq!(list("/v2/orders?status=closed").await, vec![ids[0].clone()]);
        assert_eq!(list("/v2/orders?status=all&direction=asc&limit=2").await, vec![ORDER_OWN.to_string(), ids[0].clone()]);
        assert_eq!(list("/v2/orders?status=all&after=2023-11-14T14:30:00Z&until=2023-11-14T14:30:02Z").await, vec![ids[1].clone()]);
        assert_eq!(list("/v2/orders?status=all&after=2023-11-14").await.len(), 3);
        assert_eq!(list("/v2/orders?status=all&symbols=MSFT,TSLA").await.len(), 0);
        for (q, m) in [
            ("/v2/orders?status=maybe", "invalid status: \"maybe\" (open, closed or all)"),
            ("/v2/orders?limit=0", "limit must be an integer from 1 to 500"),
            ("/v2/orders?limit=501", "limit must be an integer from 1 to 500"),
            ("/v2/orders?after=soon", "after must be an RFC 3339 timestamp or a date"),
            ("/v2/orders?direction=up", "invalid direction: \"up\" (asc or desc)"),
        ] {
            assert_eq!(t.get(TRADER, q).await, (422, json!({"code": 42210000, "message": m})), "{q}");
        }
    }

    #[tokio::test]
    async fn by_client_order_id_requires_the_parameter() {
        let t = TestApp::new();
        let (s, b) = t.get(TRADER, "/v2/orders:by_client_order_id?client_order_id=coid-own").await;
        assert_eq!((s, b["id"].as_str()), (200, Some(ORDER_OWN)));
        let (s, b) = t.get(TRADER, "/v2/orders:by_client_order_id").await;
        assert_eq!((s, b), (422, json!({"code": 42210000, "message": "client_order_id is required"})));
        assert_eq!(t.get(TRADER, "/v2/orders:by_client_order_id?client_order_id=nope").await.0, 404);
    }

    #[tokio::test]
    async fn cancel_one_and_all() {
        let t = TestApp::new();
        let (s, b) = t.delete(TRADER, &format!("/v2/orders/{ORDER_OWN}")).await;
        assert_eq!((s, b), (204, serde_json::Value::Null));
        let cmds = t.backend.commands();
        assert_eq!(cmds.len(), 1);
        assert_eq!((cmds[0].account_id.as_str(), &cmds[0].body), ("acc-1", &OrderInstruction::CancelOrder(CancelOrder { order_id: ORDER_OWN.into() })));
        let (_, g) = t.get(TRADER, &format!("/v2/orders/{ORDER_OWN}")).await;
        assert_eq!(g["status"], "canceled");
        assert!(g["canceled_at"].is_string());
        let (s, b) = t.delete(TRADER, &format!("/v2/orders/{ORDER_OWN}")).await;
        assert_eq!((s, b), (422, json!({"code": 42210000, "message": "order is already in \"canceled\" state"})));
        assert_eq!(t.delete(TRADER, "/v2/orders/no-such-order").await.0, 404);

        let (_, o1) = t.post(TRADER, "/v2/orders", limit_buy(Some("c-1"))).await;
        let (_, o2) = t.post(TRADER, "/v2/orders", limit_buy(Some("c-2"))).await;
        let (s, b) = t.delete(TRADER, "/v2/orders").await;
        assert_eq!(s, 207);
        let mut got: Vec<(String, u64)> = b.as_array().unwrap().iter().map(|r| (r["id"].as_str().unwrap().into(), r["status"].as_u64().unwrap())).collect();
        got.sort();
        let mut want = vec![(o1["id"].as_str().unwrap().to_string(), 200), (o2["id"].as_str().unwrap().to_string(), 200)];
        want.sort();
        assert_eq!(got, want);
        assert!(b[0]["body"]["symbol"].is_string());
        assert_eq!(t.get(TRADER, "/v2/orders").await.1, json!([]));
        // Admin cancels another account's order: the command is for that account.
        let (s, _) = t.delete(ADMIN, &format!("/v2/orders/{ORDER_OTHER}")).await;
        assert_eq!(s, 204);
        assert_eq!(t.backend.commands().last().unwrap().account_id, "acc-2");
    }
}
