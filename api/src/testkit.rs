//! Test fixture: an [`AppState`] on [`MemoryBackend`] with fixed data, keys and clock, and
//! request helpers over `app(state).oneshot(request)` (no socket, no Kafka).

use crate::auth::{Principal, KEY_ID_HEADER, SECRET_HEADER};
use crate::memory::{FixedClock, MemoryBackend, MemoryKeyStore};
use crate::ports::{AssetRecord, CloseMarks, OrderRecord, Role};
use crate::{app, ApiConfig, AppState, Ports, Session, TradingCalendar};
use axum::body::Body;
use axum::http::{Method, Request};
use rust_decimal::Decimal;
use schemas::records::*;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tower::ServiceExt;

/// A caller: `None` is anonymous, otherwise (key id, secret).
pub type Caller = Option<(&'static str, &'static str)>;

pub const TRADER: Caller = Some(("PKTRADER1", "trader-one-secret"));
pub const OTHER_TRADER: Caller = Some(("PKTRADER2", "trader-two-secret"));
pub const ANALYST: Caller = Some(("PKANALYST", "analyst-secret"));
pub const ADMIN: Caller = Some(("PKADMIN", "admin-secret"));
pub const ANONYMOUS: Caller = None;

/// 2023-11-14 14:30 UTC (09:30 New York).
pub const SESSION1_OPEN: i64 = 1_699_972_200 * 1_000_000_000;
const DAY: i64 = 86_400 * 1_000_000_000;
const CLOSE_AFTER_OPEN: i64 = 23_400 * 1_000_000_000;

/// Order ids seeded in the fixture (acc-1 and acc-2).
pub const ORDER_OWN: &str = "0b7c1a52-0000-4000-8000-000000000001";
pub const ORDER_OTHER: &str = "0b7c1a52-0000-4000-8000-000000000002";

pub fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// Keys are hashed once per test binary (argon2id is deliberately slow).
fn keys() -> Arc<MemoryKeyStore> {
    static KEYS: OnceLock<Arc<MemoryKeyStore>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let store = MemoryKeyStore::new();
        let who = |user: &str, account: &str, role| Principal { key_id: String::new(), user_id: user.into(), account_id: account.into(), role };
        for (caller, p) in [
            (TRADER, who("alice", "acc-1", Role::Trader)),
            (OTHER_TRADER, who("bob", "acc-2", Role::Trader)),
            (ANALYST, who("ann", "acc-1", Role::Analyst)),
            (ADMIN, who("root", "acc-9", Role::Admin)),
        ] {
            let (k, s) = caller.unwrap();
            store.add(k, s, &p);
        }
        Arc::new(store)
    })
    .clone()
}

fn account(id: &str, status: AccountStatus, cash: &str, bp: &str, positions: Vec<PositionQty>) -> AccountSnapshot {
    AccountSnapshot {
        account_id: id.into(),
        owner_id: format!("owner-{id}"),
        status,
        kyc_status: KycStatus::Approved,
        kyc_tier: 1,
        cash: d(cash),
        held_cash: Decimal::ZERO,
        unsettled_cash: Decimal::ZERO,
        buying_power: d(bp),
        withdrawable_cash: d(cash),
        positions,
        version: 1,
        as_of_ns: SESSION1_OPEN,
        pending_withdrawals: None,
        deficit: None,
        open_orders: None,
        session_close_ns: None,
        close_at_ns: None,
        close_cash: None,
        close_positions: None,
        funding_since_close: None,
    }
}

/// An empty position snapshot of `symbol` (flat, no lots) for struct-update syntax.
pub fn position_snapshot(account: &str, symbol: &str) -> PositionSnapshot {
    position(account, symbol, "0", "0", "0")
}

fn position(account: &str, symbol: &str, qty: &str, avg: &str, cost: &str) -> PositionSnapshot {
    PositionSnapshot {
        account_id: account.into(),
        symbol: symbol.into(),
        qty: d(qty),
        avg_cost: d(avg),
        cost_basis: d(cost),
        realized_pnl: Decimal::ZERO,
        lots: vec![],
        as_of_ns: SESSION1_OPEN,
    }
}

fn asset(symbol: &str, status: InstrumentStatus, last: Option<&str>) -> AssetRecord {
    AssetRecord {
        symbol: symbol.into(),
        listing: ListInstrument {
            name: format!("{symbol} Inc."),
            tick_size: d("0.01"),
            lot_size: d("0.001"),
            min_qty: d("0.001"),
            max_order_notional: None,
            self_trade_prevention: SelfTradePrevention::CancelNewest,
            price_band_pct: None,
        },
        status,
        last_trade_price: last.map(d),
        marks: CloseMarks::default(),
    }
}

/// A limit buy of 1 AAPL at 150, open (`new`).
pub fn seeded_order(order_id: &str, account_id: &str, coid: &str, at_ns: i64) -> OrderRecord {
    let order = PlaceOrder {
        order_id: order_id.into(),
        client_order_id: Some(coid.into()),
        symbol: "AAPL".into(),
        side: Side::Buy,
        order_type: OrderType::Limit,
        time_in_force: TimeInForce::Gtc,
        qty: Some(d("1")),
        notional: None,
        limit_price: Some(d("150")),
        stop_price: None,
        instrument: None,
        reference_price: None,
        extended_hours: false,
    };
    let event = OrderEvent {
        event_id: format!("seed-{order_id}"),
        account_id: account_id.into(),
        order_id: order_id.into(),
        client_order_id: Some(coid.into()),
        symbol: "AAPL".into(),
        at_ns: at_ns + 1_000,
        status: OrderStatus::New,
        reason: None,
        filled_qty: Decimal::ZERO,
        leaves_qty: d("1"),
        avg_fill_price: None,
        replaced_by: None,
        message: None,
        origin: Some(OrderEventOrigin::Accounts),
        event_type: Some(OrderEventType::Accepted),
        fill: None,
        new_qty: None,
        new_limit_price: None,
        new_stop_price: None,
    };
    OrderRecord { account_id: account_id.into(), order, submitted_at_ns: at_ns, last_event: Some(event) }
}

pub struct TestApp {
    pub backend: Arc<MemoryBackend>,
    pub clock: Arc<FixedClock>,
    pub state: AppState,
}

/// One hour in nanoseconds.
pub const HOUR: i64 = 3_600 * 1_000_000_000;

impl TestApp {
    /// Gives AAPL session marks for the previous-close tests: the current session closes
    /// 6.5 h after [`SESSION1_OPEN`], the previous close was 24 h before that at
    /// `close_price`. Returns `(today_close, yesterday_close)`.
    pub fn mark_aapl_previous_close(&self, close_price: &str) -> (i64, i64) {
        use crate::ports::AssetView;
        let today_close = SESSION1_OPEN + 6 * HOUR + 30 * 60 * 1_000_000_000;
        let yesterday_close = today_close - 24 * HOUR;
        let mut aapl = self.backend.asset("AAPL").unwrap().unwrap();
        aapl.marks = CloseMarks { session_close_ns: Some(today_close), previous_close_ns: Some(yesterday_close), previous_close_price: Some(d(close_price)) };
        self.backend.put_asset(aapl);
        (today_close, yesterday_close)
    }

    pub fn new() -> TestApp {
        Self::with_wait(Duration::from_millis(300))
    }

    pub fn with_wait(outcome_wait: Duration) -> TestApp {
        let backend = Arc::new(MemoryBackend::new());
        backend.put_account(account("acc-1", AccountStatus::Active, "10000.10", "9000.12345678", vec![
            PositionQty { symbol: "AAPL".into(), qty: d("10.5"), held_qty: d("2") },
        ]));
        backend.put_account(account("acc-2", AccountStatus::Restricted, "50", "50", vec![]));
        backend.put_account(account("acc-9", AccountStatus::Active, "0", "0", vec![]));
        backend.put_position(position("acc-1", "AAPL", "10.5", "150.25", "1577.625"));
        backend.put_position(position("acc-1", "HALT", "-3", "20.5", "-61.5"));
        backend.put_position(position("acc-1", "MSFT", "0", "0", "0"));
        backend.put_asset(asset("AAPL", InstrumentStatus::Listed, Some("160.10")));
        backend.put_asset(asset("HALT", InstrumentStatus::Halted, None));
        backend.put_asset(asset("OLD", InstrumentStatus::Delisted, Some("1")));
        backend.put_order(seeded_order(ORDER_OWN, "acc-1", "coid-own", SESSION1_OPEN - DAY));
        backend.put_order(seeded_order(ORDER_OTHER, "acc-2", "coid-other", SESSION1_OPEN - DAY));
        let clock = Arc::new(FixedClock::new(SESSION1_OPEN + 3_600_000_000_000));
        let calendar = TradingCalendar::new(
            (0..2)
                .map(|i| Session { open_ns: SESSION1_OPEN + i * DAY, close_ns: SESSION1_OPEN + i * DAY + CLOSE_AFTER_OPEN, utc_offset_minutes: -300 })
                .collect(),
        )
        .unwrap();
        let ports = Ports::memory(backend.clone(), keys(), clock.clone());
        // No rate limits here: handler tests send bursts (the limits have their own tests).
        let limits = crate::limits::LimitsConfig { per_ip: None, per_key: None, ..Default::default() };
        let state = AppState::new(ports, calendar, ApiConfig { outcome_wait, limits });
        TestApp { backend, clock, state }
    }

    pub async fn request(&self, method: Method, caller: Caller, path: &str, body: Option<serde_json::Value>) -> (u16, serde_json::Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some((k, s)) = caller {
            req = req.header(KEY_ID_HEADER, k).header(SECRET_HEADER, s);
        }
        let req = match body {
            Some(b) => req.header("content-type", "application/json").body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let resp = app(self.state.clone()).oneshot(req).await.unwrap();
        let status = resp.status().as_u16();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
        let json = if bytes.is_empty() { serde_json::Value::Null } else { serde_json::from_slice(&bytes).unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&bytes).into())) };
        (status, json)
    }

    pub async fn get(&self, caller: Caller, path: &str) -> (u16, serde_json::Value) {
        self.request(Method::GET, caller, path, None).await
    }

    pub async fn post(&self, caller: Caller, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.request(Method::POST, caller, path, Some(body)).await
    }

    pub async fn delete(&self, caller: Caller, path: &str) -> (u16, serde_json::Value) {
        self.request(Method::DELETE, caller, path, None).await
    }

    /// Submitted `PlaceOrder` commands.
    pub fn placed(&self) -> Vec<PlaceOrder> {
        self.backend
            .commands()
            .into_iter()
            .filter_map(|c| match c.body {
                OrderInstruction::PlaceOrder(p) => Some(p),
                _ => None,
            })
            .collect()
    }
}
