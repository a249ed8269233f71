//! Account: `GET /v2/account`, from the [`AccountView`](crate::ports::AccountView) and the
//! positions priced at the last trade (at average cost when a symbol has not traded).
//!
//! Mapping: `cash`, `buying_power` (also `regt_`, `daytrading_` and
//! `non_marginable_buying_power`: cash accounts, no margin) come from the snapshot;
//! `long_market_value` / `short_market_value` from positions; `equity` =
//! `portfolio_value` = cash + long + short. Status: deactivated -> `ACCOUNT_CLOSED`, KYC
//! pending -> `APPROVAL_PENDING`, KYC rejected -> `REJECTED`, else `ACTIVE` (restricted
//! accounts are `ACTIVE` with `trading_blocked`). Not tracked yet: day-trade counts,
//! margin figures (`"0"`), `created_at` (the snapshot time).
//!
//! `last_equity` is the equity as of the previous session close (Alpaca's meaning):
//! the cash at that close plus, for every symbol held at that close, the shares held then
//! times the symbol's previous close price. The account's values at the close come from
//! the accounts operator's close marks in the snapshot, read with the previous-close rule
//! (`AccountSnapshot::at_previous_close` at the API clock's now); the prices from the
//! venue's session marks (`AssetRecord::previous_close`), and both must name the same
//! close. When that is not known exactly (snapshots without marks, a symbol held at the
//! close without a close price, calendars that disagree) `last_equity` equals `equity`,
//! as Alpaca clients expect a value.
//!
//! `last_equity` moves with deposits and withdrawals made since the close, so `equity -
//! last_equity` is not a P&L; the exact day P&L (`day_pl`, net of that funding) is on
//! the Tradeflow extension `GET /v2/account/portfolio` ([`crate::portfolio`]), not here
//! (Alpaca's account schema).

use crate::auth::Principal;
use crate::error::ApiError;
use crate::format::{dec, rfc3339, uuid_v8};
use crate::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use rust_decimal::Decimal;
use schemas::records::{AccountSnapshot, AccountStatus, KycStatus};
use serde::Serialize;

/// Alpaca's Account object.
#[derive(Clone, Debug, Serialize, PartialEq, utoipa::ToSchema)]
pub struct AccountBody {
    pub id: String,
    pub account_number: String,
    pub status: &'static str,
    pub currency: &'static str,
    pub cash: String,
    pub buying_power: String,
    pub regt_buying_power: String,
    pub daytrading_buying_power: String,
    pub non_marginable_buying_power: String,
    pub portfolio_value: String,
    pub equity: String,
    pub last_equity: String,
    pub long_market_value: String,
    pub short_market_value: String,
    pub initial_margin: String,
    pub maintenance_margin: String,
    pub last_maintenance_margin: String,
    pub sma: String,
    pub multiplier: String,
    pub daytrade_count: i64,
    pub pattern_day_trader: bool,
    pub trading_blocked: bool,
    pub transfers_blocked: bool,
    pub account_blocked: bool,
    pub trade_suspended_by_user: bool,
    pub shorting_enabled: bool,
    pub accrued_fees: String,
    pub pending_transfer_in: String,
    pub pending_transfer_out: String,
    pub created_at: String,
}

async fn get_account(State(state): State<AppState>, who: Principal) -> Result<Json<AccountBody>, ApiError> {
    let a = state.ports.accounts.account(&who.account_id)?.ok_or_else(|| ApiError::NotFound("account not found".into()))?;
    let h = crate::portfolio::holdings(&state, &who.account_id)?;
    let (long, short) = (h.long, h.short);
    let equity = a.cash + long + short;
    let last_equity = last_equity(&state, &a, state.ports.clock.now_ns())?.unwrap_or(equity);
    let status = match (a.status, a.kyc_status) {
        (AccountStatus::Deactivated, _) => "ACCOUNT_CLOSED",
        (_, KycStatus::Pending) => "APPROVAL_PENDING",
        (_, KycStatus::Rejected) => "REJECTED",
        _ => "ACTIVE",
    };
    let zero = || "0".to_string();
    Ok(Json(AccountBody {
        id: uuid_v8("account", &a.account_id),
        account_number: a.account_id.clone(),
        status,
        currency: "USD",
        cash: dec(a.cash),
        buying_power: dec(a.buying_power),
        regt_buying_power: dec(a.buying_power),
        daytrading_buying_power: dec(a.buying_power),
        non_marginable_buying_power: dec(a.buying_power),
        portfolio_value: dec(equity),
        equity: dec(equity),
        last_equity: dec(last_equity),
        long_market_value: dec(long),
        short_market_value: dec(short),
        initial_margin: zero(),
        maintenance_margin: zero(),
        last_maintenance_margin: zero(),
        sma: zero(),
        multiplier: "1".into(),
        daytrade_count: 0,
        pattern_day_trader: false,
        trading_blocked: a.status != AccountStatus::Active || a.kyc_status != KycStatus::Approved,
        transfers_blocked: a.status == AccountStatus::Deactivated,
        account_blocked: a.status == AccountStatus::Deactivated,
        trade_suspended_by_user: false,
        shorting_enabled: false,
        accrued_fees: zero(),
        pending_transfer_in: zero(),
        pending_transfer_out: dec(a.pending_withdrawals.unwrap_or_default()),
        created_at: rfc3339(a.as_of_ns),
    }))
}

/// Equity at the previous session close as seen at `now_ns` (see the module docs);
/// `None` when it is not known exactly.
pub(crate) fn last_equity(state: &AppState, a: &AccountSnapshot, now_ns: i64) -> Result<Option<Decimal>, ApiError> {
    let Some(at_close) = a.at_previous_close(now_ns) else { return Ok(None) };
    let mut equity = at_close.cash;
    for (symbol, qty) in &at_close.positions {
        let close = state.ports.assets.asset(symbol)?.and_then(|asset| asset.previous_close(now_ns));
        let Some((at, price)) = close else { return Ok(None) };
        if at < at_close.valid_from_ns || at > at_close.valid_to_ns {
            return Ok(None);
        }
        let value = qty.checked_mul(price).ok_or_else(|| ApiError::Internal(format!("last equity overflow: {symbol}")))?;
        equity = equity.checked_add(value).ok_or_else(|| ApiError::Internal("last equity overflow".into()))?;
    }
    Ok(Some(equity))
}

pub fn router() -> Router<AppState> {
    Router::new().route("/v2/account", get(get_account))
}

#[cfg(test)]
mod tests {
    use crate::testkit::*;

    #[tokio::test]
    async fn account_figures_are_exact_strings() {
        let t = TestApp::new();
        let (s, b) = t.get(TRADER, "/v2/account").await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["account_number"], "acc-1");
        assert_eq!(b["status"], "ACTIVE");
        assert_eq!(b["currency"], "USD");
        assert_eq!(b["cash"], "10000.1");
        assert_eq!(b["buying_power"], "9000.12345678");
        // AAPL 10.5 x 160.10 = 1681.05 long; HALT -3 at avg cost 20.5 (no trade) = -61.5.
        assert_eq!(b["long_market_value"], "1681.05");
        assert_eq!(b["short_market_value"], "-61.5");
        assert_eq!(b["equity"], "11619.65");
        assert_eq!(b["portfolio_value"], "11619.65");
        assert_eq!(b["trading_blocked"], false);
        assert_eq!(b["pattern_day_trader"], false);
        assert_eq!(b["id"].as_str().unwrap().len(), 36);
        for k in ["cash", "buying_power", "equity", "long_market_value", "multiplier", "sma"] {
            assert!(b[k].is_string(), "{k} must be a JSON string");
        }
        let (_, b) = t.get(OTHER_TRADER, "/v2/account").await;
        assert_eq!(b["account_number"], "acc-2");
        assert_eq!(b["status"], "ACTIVE");
        assert_eq!(b["trading_blocked"], true, "restricted");
    }

    #[tokio::test]
    async fn last_equity_is_the_equity_at_the_previous_close() {
        use crate::ports::{AccountView, AssetView};
        use schemas::records::CloseQty;
        let t = TestApp::new();
        // Without close marks: not known, equal to equity.
        assert_eq!(t.get(TRADER, "/v2/account").await.1["last_equity"], "11619.65");
        let (today_close, yesterday_close) = t.mark_aapl_previous_close("155.01");
        let mut a = t.backend.account("acc-1").unwrap().unwrap();
        a.session_close_ns = Some(today_close);
        a.close_at_ns = Some(yesterday_close);
        a.close_cash = Some(d("11000.5"));
        a.close_positions = Some(vec![CloseQty { symbol: "AAPL".into(), qty: d("4.5") }]);
        t.backend.put_account(a.clone());
        // During today's session: yesterday's cash + 4.5 AAPL x yesterday's close 155.01.
        t.clock.set(SESSION1_OPEN + 2 * HOUR);
        let (s, b) = t.get(TRADER, "/v2/account").await;
        assert_eq!(s, 200, "{b}");
        assert_eq!((b["last_equity"].as_str(), b["equity"].as_str()), (Some("11698.045"), Some("11619.65")));
        // After today's close, nothing changed since: today's cash 10000.1 + 10.5 AAPL x
        // 160.10 (the last trade is today's close).
        t.clock.set(today_close + HOUR);
        assert_eq!(t.get(TRADER, "/v2/account").await.1["last_equity"], "11681.15");
        // The venue's previous close is another close than the account's marks: unknown.
        let mut aapl = t.backend.asset("AAPL").unwrap().unwrap();
        aapl.marks.previous_close_ns = Some(yesterday_close - 24 * HOUR);
        t.backend.put_asset(aapl);
        t.clock.set(SESSION1_OPEN + 2 * HOUR);
        assert_eq!(t.get(TRADER, "/v2/account").await.1["last_equity"], "11619.65");
        // Nothing held at the close: the cash alone.
        a.close_positions = Some(vec![]);
        t.backend.put_account(a);
        assert_eq!(t.get(TRADER, "/v2/account").await.1["last_equity"], "11000.5");
    }

    #[tokio::test]
    async fn unavailable_backend_is_503_without_details() {
        let t = TestApp::new();
        t.backend.set_unavailable(true);
        let (s, b) = t.get(TRADER, "/v2/account").await;
        assert_eq!((s, b), (503, serde_json::json!({"code": 50310000, "message": "service unavailable, retry later"})));
    }
}
