//! Account: `GET /v2/account`, from the [`AccountView`](crate::ports::AccountView) and the
//! positions priced at the last trade (at average cost when a symbol has not traded).
//!
//! Mapping: `cash`, `buying_power` (also `regt_`, `daytrading_` and
//! `non_marginable_buying_power`: cash accounts, no margin) come from the snapshot;
//! `long_market_value` / `short_market_value` from positions; `equity` =
//! `portfolio_value` = cash + long + short. Status: deactivated -> `ACCOUNT_CLOSED`, KYC
//! pending -> `APPROVAL_PENDING`, KYC rejected -> `REJECTED`, else `ACTIVE` (restricted
//! accounts are `ACTIVE` with `trading_blocked`). Not tracked yet: `last_equity` (equals
//! `equity`), day-trade counts, margin figures (`"0"`), `created_at` (the snapshot time).

use crate::auth::Principal;
use crate::error::ApiError;
use crate::format::{dec, rfc3339, uuid_v8};
use crate::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use rust_decimal::Decimal;
use schemas::records::{AccountStatus, KycStatus};
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
    let (mut long, mut short) = (Decimal::ZERO, Decimal::ZERO);
    for p in state.ports.positions.positions(&who.account_id)? {
        let price = state.ports.assets.asset(&p.symbol)?.and_then(|x| x.last_trade_price).unwrap_or(p.avg_cost);
        let mv = crate::positions::market_value(p.qty, price).ok_or_else(|| ApiError::Internal(format!("market value overflow: {}", p.symbol)))?;
        if mv < Decimal::ZERO {
            short += mv;
        } else {
            long += mv;
        }
    }
    let equity = a.cash + long + short;
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
        last_equity: dec(equity),
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
    async fn unavailable_backend_is_503_without_details() {
        let t = TestApp::new();
        t.backend.set_unavailable(true);
        let (s, b) = t.get(TRADER, "/v2/account").await;
        assert_eq!((s, b), (503, serde_json::json!({"code": 50310000, "message": "service unavailable, retry later"})));
    }
}
