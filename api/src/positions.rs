//! Positions: `GET /v2/positions` and `GET /v2/positions/{symbol}`, from the
//! [`PositionView`](crate::ports::PositionView), priced at the asset's last trade.
//!
//! Without a last trade price the market fields (`current_price`, `market_value`,
//! `unrealized_*`) are `null`. No previous close is tracked yet, so the intraday fields,
//! `lastday_price` and `change_today` are `null`. `qty_available` subtracts the shares
//! held for open sell orders (from the account snapshot).

use crate::auth::Principal;
use crate::error::ApiError;
use crate::format::{dec, dec_opt, uuid_v8};
use crate::AppState;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use rust_decimal::Decimal;
use schemas::records::PositionSnapshot;
use serde::Serialize;

/// Alpaca's Position object.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PositionBody {
    pub asset_id: String,
    pub symbol: String,
    pub exchange: &'static str,
    pub asset_class: &'static str,
    pub asset_marginable: bool,
    pub qty: String,
    pub qty_available: String,
    pub avg_entry_price: String,
    pub side: &'static str,
    pub market_value: Option<String>,
    pub cost_basis: String,
    pub unrealized_pl: Option<String>,
    pub unrealized_plpc: Option<String>,
    pub unrealized_intraday_pl: Option<String>,
    pub unrealized_intraday_plpc: Option<String>,
    pub current_price: Option<String>,
    pub lastday_price: Option<String>,
    pub change_today: Option<String>,
}

/// Market value of `qty` at `price` (signed like `qty`).
pub fn market_value(qty: Decimal, price: Decimal) -> Option<Decimal> {
    qty.checked_mul(price)
}

fn body(p: &PositionSnapshot, price: Option<Decimal>, held: Decimal) -> PositionBody {
    let mv = price.and_then(|px| market_value(p.qty, px));
    let upl = mv.and_then(|m| m.checked_sub(p.cost_basis));
    let plpc = upl.and_then(|u| if p.cost_basis.is_zero() { None } else { u.checked_div(p.cost_basis.abs()) }).map(|x| x.round_dp(8));
    PositionBody {
        asset_id: uuid_v8("asset", &p.symbol),
        symbol: p.symbol.clone(),
        exchange: crate::assets::EXCHANGE,
        asset_class: "us_equity",
        asset_marginable: false,
        qty: dec(p.qty),
        qty_available: dec(if p.qty > Decimal::ZERO { (p.qty - held).max(Decimal::ZERO) } else { p.qty }),
        avg_entry_price: dec(p.avg_cost),
        side: if p.qty < Decimal::ZERO { "short" } else { "long" },
        market_value: dec_opt(mv),
        cost_basis: dec(p.cost_basis),
        unrealized_pl: dec_opt(upl),
        unrealized_plpc: dec_opt(plpc),
        unrealized_intraday_pl: None,
        unrealized_intraday_plpc: None,
        current_price: dec_opt(price),
        lastday_price: None,
        change_today: None,
    }
}

fn render(state: &AppState, account_id: &str, positions: Vec<PositionSnapshot>) -> Result<Vec<PositionBody>, ApiError> {
    let account = state.ports.accounts.account(account_id)?;
    positions
        .iter()
        .map(|p| {
            let price = state.ports.assets.asset(&p.symbol)?.and_then(|a| a.last_trade_price);
            let held = account
                .as_ref()
                .and_then(|a| a.positions.iter().find(|q| q.symbol == p.symbol))
                .map_or(Decimal::ZERO, |q| q.held_qty);
            Ok(body(p, price, held))
        })
        .collect()
}

async fn list(State(state): State<AppState>, who: Principal) -> Result<Json<Vec<PositionBody>>, ApiError> {
    let positions = state.ports.positions.positions(&who.account_id)?;
    Ok(Json(render(&state, &who.account_id, positions)?))
}

async fn get_one(State(state): State<AppState>, who: Principal, Path(symbol): Path<String>) -> Result<Json<PositionBody>, ApiError> {
    let symbol = symbol.to_ascii_uppercase();
    let p = state.ports.positions.position(&who.account_id, &symbol)?.ok_or_else(|| ApiError::NotFound("position does not exist".into()))?;
    Ok(Json(render(&state, &who.account_id, vec![p])?.remove(0)))
}

pub fn router() -> Router<AppState> {
    Router::new().route("/v2/positions", get(list)).route("/v2/positions/{symbol}", get(get_one))
}

#[cfg(test)]
mod tests {
    use crate::testkit::*;

    #[tokio::test]
    async fn positions_priced_exactly() {
        let t = TestApp::new();
        let (s, b) = t.get(TRADER, "/v2/positions").await;
        assert_eq!(s, 200);
        assert_eq!(b.as_array().unwrap().len(), 2, "flat positions are not listed: {b}");
        let (s, b) = t.get(TRADER, "/v2/positions/AAPL").await;
        assert_eq!(s, 200);
        // 10.5 shares at avg 150.25 (cost 1577.625), last trade 160.10.
        assert_eq!(b["qty"], "10.5");
        assert_eq!(b["qty_available"], "8.5");
        assert_eq!(b["avg_entry_price"], "150.25");
        assert_eq!(b["cost_basis"], "1577.625");
        assert_eq!(b["current_price"], "160.1");
        assert_eq!(b["market_value"], "1681.05");
        assert_eq!(b["unrealized_pl"], "103.425");
        assert_eq!(b["unrealized_plpc"], "0.0655574");
        assert_eq!(b["side"], "long");
        assert_eq!(b["asset_class"], "us_equity");
        // No trade yet in HALT: market fields are null, never made up.
        let (_, b) = t.get(TRADER, "/v2/positions/HALT").await;
        assert_eq!((b["qty"].as_str(), b["market_value"].is_null(), b["current_price"].is_null()), (Some("-3"), true, true));
        assert_eq!(b["side"], "short");
        let (s, b) = t.get(TRADER, "/v2/positions/MSFT").await;
        assert_eq!((s, b), (404, serde_json::json!({"code": 40410000, "message": "position does not exist"})));
        // Another account's positions are not this key's.
        let (_, b) = t.get(OTHER_TRADER, "/v2/positions").await;
        assert_eq!(b, serde_json::json!([]));
    }
}
