//! Positions: `GET /v2/positions` and `GET /v2/positions/{symbol}`, from the
//! [`PositionView`](crate::ports::PositionView), priced at the asset's last trade.
//!
//! Without a last trade price the market fields (`current_price`, `market_value`,
//! `unrealized_*`) are `null`. `lastday_price` is the previous session's close published
//! by the venue (`book.depth` session marks, resolved at the API clock's now);
//! `change_today` = `(current - lastday) / lastday`. The intraday P&L is the pure
//! `operators::portfolio::value_positions` over the snapshot's tax lots: lots opened
//! before the previous close count `qty * (current - lastday)`, newer ones their
//! unrealized P&L. Any input missing (no close, no trade, no lots) leaves the field `null`,
//! never a made-up number. `qty_available` subtracts the shares held for open sell orders
//! (from the account snapshot).
//!
//! `DELETE /v2/positions/{symbol}` closes a position the way Alpaca does: a market order
//! (`day`) on the opposite side for the whole position, or for `?qty=` shares, or for
//! `?percentage=` of it (0 < p <= 100, rounded down to 8 places), placed through the same
//! path as `POST /v2/orders` and answered with that order. It does not cancel the
//! symbol's open orders first: shares held for open sells make the accounts pipeline
//! refuse the close (`insufficient_qty`), and the response says so.

use crate::auth::Principal;
use crate::error::ApiError;
use crate::format::{dec, dec_opt, uuid_v8};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use rust_decimal::Decimal;
use schemas::records::PositionSnapshot;
use operators::portfolio::{value_positions, Lot, LotId, LotSide, Mark, Position};
use operators::Timestamp;
use serde::Serialize;
use std::collections::BTreeMap;

/// Alpaca's Position object.
#[derive(Clone, Debug, Serialize, PartialEq, utoipa::ToSchema)]
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

/// The snapshot as the portfolio operator's position (for the pure valuation); `None`
/// without lots (v1 data or a flat position).
fn position_of(p: &PositionSnapshot) -> Option<Position> {
    if p.lots.is_empty() {
        return None;
    }
    let mut position = Position::new(&p.symbol);
    position.realized_pnl = p.realized_pnl;
    for l in &p.lots {
        let side = if l.qty < Decimal::ZERO { LotSide::Short } else { LotSide::Long };
        position.lots.push_back(Lot {
            id: LotId(l.lot_id.clone()),
            side,
            opened_at: Timestamp(l.acquired_at_ns),
            original_qty: l.qty.abs(),
            qty: l.qty.abs(),
            price: l.price,
            fee: l.fee.unwrap_or_default(),
        });
    }
    Some(position)
}

/// (intraday P&L, intraday P&L as a fraction) at `price` against the previous close;
/// `None` without lots.
pub(crate) fn intraday(p: &PositionSnapshot, price: Decimal, close: (i64, Decimal)) -> Option<(Decimal, Option<Decimal>)> {
    let position = position_of(p)?;
    let marks = BTreeMap::from([(p.symbol.clone(), Mark { last: price, previous_close: close.1 })]);
    let v = value_positions([&position], &marks, Timestamp(close.0)).positions.pop()?;
    Some((v.day_pnl, v.day_pnl_pct.map(|pct| (pct / Decimal::ONE_HUNDRED).normalize())))
}

fn body(p: &PositionSnapshot, price: Option<Decimal>, close: Option<(i64, Decimal)>, held: Decimal) -> PositionBody {
    let day = price.zip(close).and_then(|(px, c)| intraday(p, px, c));
    let change = price.zip(close).and_then(|(px, (_, c))| if c.is_zero() { None } else { (px - c).checked_div(c) }).map(|x| x.round_dp(8));
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
        unrealized_intraday_pl: dec_opt(day.map(|d| d.0)),
        unrealized_intraday_plpc: dec_opt(day.and_then(|d| d.1)),
        current_price: dec_opt(price),
        lastday_price: dec_opt(close.map(|c| c.1)),
        change_today: dec_opt(change),
    }
}

fn render(state: &AppState, account_id: &str, positions: Vec<PositionSnapshot>) -> Result<Vec<PositionBody>, ApiError> {
    let account = state.ports.accounts.account(account_id)?;
    positions
        .iter()
        .map(|p| {
            let asset = state.ports.assets.asset(&p.symbol)?;
            let price = asset.as_ref().and_then(|a| a.last_trade_price);
            let close = asset.as_ref().and_then(|a| a.previous_close(state.ports.clock.now_ns()));
            let held = account
                .as_ref()
                .and_then(|a| a.positions.iter().find(|q| q.symbol == p.symbol))
                .map_or(Decimal::ZERO, |q| q.held_qty);
            Ok(body(p, price, close, held))
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

/// `DELETE /v2/positions/{symbol}` query.
#[derive(Debug, Default, serde::Deserialize)]
pub struct CloseParams {
    pub qty: Option<String>,
    pub percentage: Option<String>,
}

/// The shares to close: all of `position`, `qty` of them, or `percentage` percent.
pub fn close_qty(position: Decimal, p: &CloseParams) -> Result<Decimal, ApiError> {
    let bad = |m: String| ApiError::Unprocessable(m);
    let size = position.abs();
    let qty = match (&p.qty, &p.percentage) {
        (Some(_), Some(_)) => return Err(bad("give qty or percentage, not both".into())),
        (Some(q), None) => {
            let q: Decimal = q.parse().map_err(|_| bad(format!("qty is not a decimal: {q:?}")))?;
            if q <= Decimal::ZERO || q > size {
                return Err(bad(format!("qty must be above 0 and at most the position's {size}")));
            }
            q
        }
        (None, Some(pct)) => {
            let pct: Decimal = pct.parse().map_err(|_| bad(format!("percentage is not a decimal: {pct:?}")))?;
            if pct <= Decimal::ZERO || pct > Decimal::ONE_HUNDRED {
                return Err(bad("percentage must be above 0 and at most 100".into()));
            }
            (size * pct / Decimal::ONE_HUNDRED).round_dp_with_strategy(8, rust_decimal::RoundingStrategy::ToZero)
        }
        (None, None) => size,
    };
    if qty.is_zero() {
        return Err(bad("the percentage leaves nothing to close".into()));
    }
    Ok(qty.normalize())
}

async fn close(State(state): State<AppState>, who: Principal, Path(symbol): Path<String>, Query(p): Query<CloseParams>) -> Result<Response, ApiError> {
    who.require_trading()?;
    let symbol = symbol.to_ascii_uppercase();
    let position = state.ports.positions.position(&who.account_id, &symbol)?.ok_or_else(|| ApiError::NotFound("position does not exist".into()))?;
    let qty = close_qty(position.qty, &p)?;
    let side = if position.qty > Decimal::ZERO { "sell" } else { "buy" };
    let req = crate::orders::OrderRequest {
        symbol: Some(symbol),
        qty: Some(serde_json::Value::String(qty.to_string())),
        side: Some(side.into()),
        order_type: Some("market".into()),
        time_in_force: Some("day".into()),
        ..Default::default()
    };
    crate::orders::submit(&state, &who, &req).await
}

pub fn router() -> Router<AppState> {
    Router::new().route("/v2/positions", get(list)).route("/v2/positions/{symbol}", get(get_one).delete(close))
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
        // No session marks published for AAPL in the fixture: no made-up previous close.
        let (_, b) = t.get(TRADER, "/v2/positions/AAPL").await;
        assert!(b["lastday_price"].is_null() && b["change_today"].is_null() && b["unrealized_intraday_pl"].is_null(), "{b}");
    }

    #[tokio::test]
    async fn closing_a_position_places_the_opposite_market_order() {
        let t = TestApp::new();
        // 10.5 AAPL long: a market sell of all of it, answered with the order.
        let (s, b) = t.delete(TRADER, "/v2/positions/aapl").await;
        assert_eq!(s, 200, "{b}");
        assert_eq!((b["symbol"].as_str(), b["side"].as_str(), b["qty"].as_str(), b["type"].as_str()), (Some("AAPL"), Some("sell"), Some("10.5"), Some("market")));
        // 3 HALT short: a buy. Part of a position by qty or percentage.
        let (_, b) = t.delete(TRADER, "/v2/positions/HALT").await;
        assert_eq!((b["side"].as_str(), b["qty"].as_str()), (Some("buy"), Some("3")));
        let (_, b) = t.delete(TRADER, "/v2/positions/AAPL?percentage=50").await;
        assert_eq!(b["qty"], "5.25");
        let (_, b) = t.delete(TRADER, "/v2/positions/AAPL?qty=2").await;
        assert_eq!(b["qty"], "2");
        let placed = t.placed();
        assert_eq!(placed.len(), 4);
        for (body, want) in [("qty=11", 422), ("percentage=0", 422), ("percentage=101", 422), ("qty=1&percentage=5", 422), ("qty=x", 422)] {
            let (s, b) = t.delete(TRADER, &format!("/v2/positions/AAPL?{body}")).await;
            assert_eq!(s, want, "{body}: {b}");
        }
        assert_eq!(t.delete(TRADER, "/v2/positions/MSFT").await.0, 404);
        assert_eq!(t.delete(ANALYST, "/v2/positions/AAPL").await.0, 403, "analysts never trade");
        assert_eq!(t.placed().len(), 4, "refusals place nothing");
    }

    #[tokio::test]
    async fn intraday_fields_against_the_previous_close_and_lots_opened_today() {
        use schemas::records::{PositionSnapshot, TaxLot};
        let t = TestApp::new();
        let (today_close, yesterday_close) = t.mark_aapl_previous_close("155");
        let lot = |id: &str, qty: &str, price: &str, at: i64, fee: &str| TaxLot { lot_id: id.into(), qty: d(qty), price: d(price), acquired_at_ns: at, fee: Some(d(fee)) };
        t.backend.put_position(PositionSnapshot {
            account_id: "acc-1".into(),
            symbol: "AAPL".into(),
            qty: d("10"),
            avg_cost: d("150.85"),
            cost_basis: d("1508.5"),
            realized_pnl: d("0"),
            lots: vec![lot("l-old", "6", "150", yesterday_close - HOUR, "0.5"), lot("l-new", "4", "152", SESSION1_OPEN + HOUR, "0")],
            as_of_ns: SESSION1_OPEN + HOUR,
        });
        t.clock.set(SESSION1_OPEN + 2 * HOUR);
        let (s, b) = t.get(TRADER, "/v2/positions/AAPL").await;
        assert_eq!(s, 200);
        assert_eq!(b["current_price"], "160.1");
        assert_eq!(b["lastday_price"], "155");
        // (160.10 - 155) / 155
        assert_eq!(b["change_today"], "0.03290323");
        // Old lot 6 x (160.10 - 155) = 30.6; today's lot 4 x 160.10 - 608 = 32.4.
        assert_eq!(b["unrealized_intraday_pl"], "63");
        // 63 / (6 x 155 + 608) = 4.0962 %, as a fraction.
        assert_eq!(b["unrealized_intraday_plpc"], "0.040962");
        assert_eq!(b["unrealized_pl"], "92.5");
        // After today's close the last trade is the previous close: nothing moved since.
        t.clock.set(today_close + HOUR);
        let (_, b) = t.get(TRADER, "/v2/positions/AAPL").await;
        assert_eq!((b["lastday_price"].as_str(), b["change_today"].as_str()), (Some("160.1"), Some("0")));
        assert_eq!(b["unrealized_intraday_pl"], "0");
    }
}
