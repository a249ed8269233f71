//! Portfolio: `GET /v2/account/portfolio`, a Tradeflow extension (not part of Alpaca's
//! API): the account's total value, P&L and return, from the
//! [`PortfolioView`](crate::ports::PortfolioView) (`portfolios.snapshots`), the positions
//! and the account snapshot.
//!
//! Definitions (every amount exact, as a string; signed like the position, so a short
//! position has negative quantity, market value and cost basis):
//! - Positions are marked like `GET /v2/account` does: at the symbol's last trade, or at
//!   the position's average cost when the symbol has not traded (those symbols are listed
//!   in `unpriced_symbols`; they contribute no unrealized P&L).
//! - `long_market_value` / `short_market_value`: sums of the positive / negative market
//!   values; `market_value` = long + short.
//! - `cost_basis`: sum of the open positions' signed cost bases (buy fees included), from
//!   the same position snapshots as `market_value`, so `unrealized_pl = market_value -
//!   cost_basis` holds within one answer; `open_positions` counts them. (The portfolio
//!   snapshot's own `cost_basis` / `open_positions` are equal once both views caught up.)
//! - `realized_pl`: the portfolio snapshot's realized P&L over every sale (and short
//!   cover) of the account, flat positions included; `0` when the portfolio pipeline has
//!   not written a snapshot for the account yet (no fill so far), in which case `as_of`
//!   and `lot_method` are `null`. A missing snapshot is not a 404.
//! - `closed_cost_basis`: the portfolio snapshot's gross cost basis of every lot quantity
//!   the account has closed so far (long lots sold, short lots covered), `>= 0`: per
//!   closed piece, what it was bought for (buy fee share included), or for a short piece
//!   what it was sold short for (net of its sell fee share), as published (rounded half
//!   even to 8 places, like `realized_pl`). `0` when there is no snapshot
//!   yet (no fill so far, like `realized_pl`); `null` when the snapshot does not know it
//!   (written before the field existed, or by a pipeline restored from such a state that
//!   may have closed lots).
//! - `total_pl = realized_pl + unrealized_pl`.
//! - `total_return = total_pl / (gross_cost_basis + closed_cost_basis)`, a fraction rounded
//!   to 8 places like Alpaca's `unrealized_plpc`: total P&L over the total cost of every
//!   position the account ever opened, where `gross_cost_basis` = sum over open positions
//!   of `|cost_basis|` (what the shares still held were bought for, and for short
//!   positions what they were sold short for) and `closed_cost_basis` is the same measure
//!   for the lots already closed. `null` when that base is zero (nothing ever bought or
//!   shorted) or when `closed_cost_basis` is `null` (unknown).
//! - `cash`: the account snapshot's; `equity = cash + long_market_value +
//!   short_market_value` (the same rule and the same marks as `GET /v2/account`).
//! - `unrealized_intraday_pl`: sum of the positions' `unrealized_intraday_pl` (see
//!   [`crate::positions`]); `null` when any open position lacks an input (no previous
//!   close, no trade, no lots), never a partial sum.
//! - `last_equity`: the equity at the previous session close (see [`crate::account`]);
//!   here `null` when not known exactly (`GET /v2/account` answers `equity` instead).
//! - `day_pl = equity - last_equity - funding_since_close`: the exact P&L since the
//!   previous session close, where `funding_since_close` is the account's net funding
//!   since that close (completed deposits minus completed withdrawals, from the accounts
//!   operator's close marks, read with the same previous-close rule and the same `now`
//!   as `last_equity`), so money moved in or out today is not P&L. `null` when
//!   `last_equity` or the funding figure is not known exactly (snapshots older than
//!   AccountSnapshot v4, or written by an accounts pipeline restored from a changelog
//!   that predates the field, until the next close).

use crate::auth::Principal;
use crate::error::ApiError;
use crate::format::{dec, dec_opt, rfc3339};
use crate::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use rust_decimal::Decimal;
use schemas::records::LotMethod;
use serde::Serialize;

/// The portfolio summary (Tradeflow extension).
#[derive(Clone, Debug, Serialize, PartialEq, utoipa::ToSchema)]
pub struct PortfolioBody {
    pub account_id: String,
    /// Time of the portfolio snapshot (RFC 3339); `null` before the account's first fill.
    pub as_of: Option<String>,
    /// `fifo`, `lifo` or `specific_lot`; `null` before the account's first fill.
    pub lot_method: Option<&'static str>,
    pub open_positions: i64,
    pub cost_basis: String,
    pub long_market_value: String,
    pub short_market_value: String,
    pub market_value: String,
    pub unrealized_pl: String,
    pub realized_pl: String,
    /// Gross cost basis of every lot quantity closed so far; `0` before the account's
    /// first fill, `null` when unknown.
    pub closed_cost_basis: Option<String>,
    pub total_pl: String,
    /// Fraction (0.1 = 10 %) of `total_pl` over the cost of open and closed lots; `null`
    /// when that base is zero or `closed_cost_basis` is unknown.
    pub total_return: Option<String>,
    pub unrealized_intraday_pl: Option<String>,
    pub cash: String,
    pub equity: String,
    /// Equity at the previous session close; `null` when not known exactly.
    pub last_equity: Option<String>,
    /// P&L since the previous session close: `equity - last_equity - funding_since_close`,
    /// where `funding_since_close` is the net of deposits and withdrawals completed since
    /// that close (so funding is not P&L). `null` when `last_equity` or that funding
    /// figure is not known exactly.
    pub day_pl: Option<String>,
    /// Open positions in symbols that have not traded, valued at average cost.
    pub unpriced_symbols: Vec<String>,
}

/// An account's open positions marked as `GET /v2/account` and this endpoint mark them.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Holdings {
    pub open_positions: i64,
    pub long: Decimal,
    pub short: Decimal,
    /// Signed sum of cost bases.
    pub cost_basis: Decimal,
    /// Sum of `|cost basis|`.
    pub gross_cost_basis: Decimal,
    /// `None` when any position's intraday P&L is unknown.
    pub intraday: Option<Decimal>,
    pub unpriced: Vec<String>,
}

fn overflow(what: &str) -> ApiError {
    ApiError::Internal(format!("decimal overflow: {what}"))
}

/// Marks `account_id`'s open positions at the last trade (average cost without one).
pub(crate) fn holdings(state: &AppState, account_id: &str) -> Result<Holdings, ApiError> {
    let now = state.ports.clock.now_ns();
    let mut h = Holdings { intraday: Some(Decimal::ZERO), ..Holdings::default() };
    for p in state.ports.positions.positions(account_id)? {
        let asset = state.ports.assets.asset(&p.symbol)?;
        let last = asset.as_ref().and_then(|a| a.last_trade_price);
        let close = asset.as_ref().and_then(|a| a.previous_close(now));
        if last.is_none() {
            h.unpriced.push(p.symbol.clone());
        }
        let mv = crate::positions::market_value(p.qty, last.unwrap_or(p.avg_cost)).ok_or_else(|| overflow(&p.symbol))?;
        let side = if mv < Decimal::ZERO { &mut h.short } else { &mut h.long };
        *side = side.checked_add(mv).ok_or_else(|| overflow(&p.symbol))?;
        h.cost_basis = h.cost_basis.checked_add(p.cost_basis).ok_or_else(|| overflow(&p.symbol))?;
        h.gross_cost_basis = h.gross_cost_basis.checked_add(p.cost_basis.abs()).ok_or_else(|| overflow(&p.symbol))?;
        let day = last.zip(close).and_then(|(px, c)| crate::positions::intraday(&p, px, c)).map(|d| d.0);
        h.intraday = h.intraday.zip(day).and_then(|(sum, d)| sum.checked_add(d));
        h.open_positions += 1;
    }
    Ok(h)
}

/// `total_pl / (gross_cost_basis + closed_cost_basis)` rounded to 8 places; `None` when
/// `closed_cost_basis` is unknown or the base is zero.
pub fn total_return(total_pl: Decimal, gross_cost_basis: Decimal, closed_cost_basis: Option<Decimal>) -> Option<Decimal> {
    let base = gross_cost_basis.checked_add(closed_cost_basis?)?;
    if base.is_zero() {
        return None;
    }
    total_pl.checked_div(base).map(|r| r.round_dp(8))
}

/// `equity - last_equity - funding_since_close`: the P&L since the previous close with
/// the money deposited or withdrawn since taken out. `None` when either input is unknown
/// (never a partial figure).
pub fn day_pl(equity: Decimal, last_equity: Option<Decimal>, funding_since_close: Option<Decimal>) -> Option<Decimal> {
    equity.checked_sub(last_equity?)?.checked_sub(funding_since_close?)
}

fn method(m: LotMethod) -> &'static str {
    match m {
        LotMethod::Fifo => "fifo",
        LotMethod::Lifo => "lifo",
        LotMethod::SpecificLot => "specific_lot",
    }
}

async fn get_portfolio(State(state): State<AppState>, who: Principal) -> Result<Json<PortfolioBody>, ApiError> {
    let account = state.ports.accounts.account(&who.account_id)?.ok_or_else(|| ApiError::NotFound("account not found".into()))?;
    let snapshot = state.ports.portfolios.portfolio(&who.account_id)?;
    let h = holdings(&state, &who.account_id)?;
    let market_value = h.long.checked_add(h.short).ok_or_else(|| overflow("market value"))?;
    let unrealized = market_value.checked_sub(h.cost_basis).ok_or_else(|| overflow("unrealized"))?;
    let realized = snapshot.as_ref().map_or(Decimal::ZERO, |s| s.realized_pnl);
    // No snapshot yet: no fill yet, so nothing closed (as `realized` is 0).
    let closed = snapshot.as_ref().map_or(Some(Decimal::ZERO), |s| s.closed_cost_basis);
    let total = realized.checked_add(unrealized).ok_or_else(|| overflow("total"))?;
    let equity = account.cash.checked_add(market_value).ok_or_else(|| overflow("equity"))?;
    // One `now` for both, so the equity and the funding refer to the same close.
    let now = state.ports.clock.now_ns();
    let last_equity = crate::account::last_equity(&state, &account, now)?;
    let funding = account.at_previous_close(now).and_then(|v| v.funding_since_close);
    Ok(Json(PortfolioBody {
        account_id: who.account_id.clone(),
        as_of: snapshot.as_ref().map(|s| rfc3339(s.as_of_ns)),
        lot_method: snapshot.as_ref().map(|s| method(s.lot_method)),
        open_positions: h.open_positions,
        cost_basis: dec(h.cost_basis),
        long_market_value: dec(h.long),
        short_market_value: dec(h.short),
        market_value: dec(market_value),
        unrealized_pl: dec(unrealized),
        realized_pl: dec(realized),
        closed_cost_basis: dec_opt(closed),
        total_pl: dec(total),
        total_return: dec_opt(total_return(total, h.gross_cost_basis, closed)),
        unrealized_intraday_pl: dec_opt(h.intraday),
        cash: dec(account.cash),
        equity: dec(equity),
        last_equity: dec_opt(last_equity),
        day_pl: dec_opt(day_pl(equity, last_equity, funding)),
        unpriced_symbols: h.unpriced,
    }))
}

pub fn router() -> Router<AppState> {
    Router::new().route("/v2/account/portfolio", get(get_portfolio))
}

#[cfg(test)]
mod tests {
    use crate::testkit::*;
    use schemas::records::{LotMethod, PortfolioSnapshot};

    fn snapshot(realized: &str, closed: Option<&str>) -> PortfolioSnapshot {
        PortfolioSnapshot {
            account_id: "acc-1".into(),
            as_of_ns: SESSION1_OPEN,
            lot_method: LotMethod::Lifo,
            open_positions: 2,
            cost_basis: d("1516.125"),
            realized_pnl: d(realized),
            closed_cost_basis: closed.map(d),
        }
    }

    #[tokio::test]
    async fn portfolio_figures_are_exact() {
        let t = TestApp::new();
        t.backend.put_portfolio(snapshot("-12.34567891", Some("2000.5")));
        let (s, b) = t.get(TRADER, "/v2/account/portfolio").await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["account_id"], "acc-1");
        assert_eq!(b["as_of"], "2023-11-14T14:30:00.000000Z");
        assert_eq!(b["lot_method"], "lifo");
        assert_eq!(b["open_positions"], 2);
        // AAPL 10.5 at avg 150.25 (cost 1577.625), last 160.10; HALT -3 at 20.5 (cost
        // -61.5), never traded: valued at its average cost.
        assert_eq!(b["cost_basis"], "1516.125");
        assert_eq!(b["long_market_value"], "1681.05");
        assert_eq!(b["short_market_value"], "-61.5");
        assert_eq!(b["market_value"], "1619.55");
        assert_eq!(b["unrealized_pl"], "103.425");
        assert_eq!(b["realized_pl"], "-12.34567891");
        assert_eq!(b["closed_cost_basis"], "2000.5");
        // 103.425 - 12.34567891
        assert_eq!(b["total_pl"], "91.07932109");
        // Open |cost| 1577.625 + |-61.5| = 1639.125, plus closed 2000.5: base 3639.625;
        // 91.07932109 / 3639.625 = 0.0250243695...
        assert_eq!(b["total_return"], "0.02502437");
        assert_eq!(b["cash"], "10000.1");
        // Same equity as GET /v2/account.
        assert_eq!(b["equity"], "11619.65");
        assert_eq!(t.get(TRADER, "/v2/account").await.1["equity"], "11619.65");
        assert_eq!(b["unpriced_symbols"], serde_json::json!(["HALT"]));
        // No previous close published: no made-up day P&L, no made-up last equity.
        assert!(b["unrealized_intraday_pl"].is_null() && b["last_equity"].is_null() && b["day_pl"].is_null(), "{b}");
    }

    #[tokio::test]
    async fn without_a_snapshot_realized_pl_is_zero_and_without_positions_no_return() {
        let t = TestApp::new();
        let (s, b) = t.get(TRADER, "/v2/account/portfolio").await;
        assert_eq!(s, 200, "{b}");
        assert_eq!((b["realized_pl"].as_str(), b["total_pl"].as_str()), (Some("0"), Some("103.425")));
        assert!(b["as_of"].is_null() && b["lot_method"].is_null(), "{b}");
        // No fill yet, so nothing closed: 103.425 / (1577.625 + 61.5) = 0.0630976893...
        assert_eq!((b["closed_cost_basis"].as_str(), b["total_return"].as_str()), (Some("0"), Some("0.06309769")));
        // acc-2: no positions, no snapshot: a zero base gives no return.
        let (s, b) = t.get(OTHER_TRADER, "/v2/account/portfolio").await;
        assert_eq!(s, 200, "{b}");
        assert_eq!((b["open_positions"].as_i64(), b["cost_basis"].as_str(), b["equity"].as_str()), (Some(0), Some("0"), Some("50")));
        assert!(b["total_return"].is_null(), "{b}");
        assert_eq!(b["closed_cost_basis"], "0");
        assert_eq!(super::total_return(d("5"), d("0"), Some(d("0"))), None);
        assert_eq!(super::total_return(d("-1"), d("3"), Some(d("0"))), Some(d("-0.33333333")));
        // -1 / (1 + 2)
        assert_eq!(super::total_return(d("-1"), d("1"), Some(d("2"))), Some(d("-0.33333333")));
        assert_eq!(super::total_return(d("5"), d("10"), None), None);
    }

    #[tokio::test]
    async fn an_account_that_sold_everything_has_a_return_on_what_it_closed() {
        let t = TestApp::new();
        // acc-2 holds no position; it bought for 600 (fees included) and sold it all for
        // a realized 40.
        t.backend.put_portfolio(PortfolioSnapshot { account_id: "acc-2".into(), open_positions: 0, cost_basis: d("0"), ..snapshot("40", Some("600")) });
        let (s, b) = t.get(OTHER_TRADER, "/v2/account/portfolio").await;
        assert_eq!(s, 200, "{b}");
        assert_eq!((b["open_positions"].as_i64(), b["cost_basis"].as_str(), b["unrealized_pl"].as_str()), (Some(0), Some("0"), Some("0")));
        assert_eq!((b["realized_pl"].as_str(), b["total_pl"].as_str(), b["closed_cost_basis"].as_str()), (Some("40"), Some("40"), Some("600")));
        // 40 / (0 + 600) = 0.0666...
        assert_eq!(b["total_return"], "0.06666667");
    }

    #[tokio::test]
    async fn an_unknown_closed_cost_gives_no_return() {
        let t = TestApp::new();
        // A snapshot written before closed_cost_basis existed.
        t.backend.put_portfolio(snapshot("-12.34567891", None));
        let (s, b) = t.get(TRADER, "/v2/account/portfolio").await;
        assert_eq!(s, 200, "{b}");
        assert_eq!((b["realized_pl"].as_str(), b["total_pl"].as_str()), (Some("-12.34567891"), Some("91.07932109")));
        assert!(b["closed_cost_basis"].is_null() && b["total_return"].is_null(), "{b}");
    }

    #[tokio::test]
    async fn day_pl_sums_the_positions_intraday_pl() {
        use schemas::records::{PositionSnapshot, TaxLot};
        let t = TestApp::new();
        let (_, yesterday_close) = t.mark_aapl_previous_close("155");
        let lot = |id: &str, qty: &str, price: &str, at: i64| TaxLot { lot_id: id.into(), qty: d(qty), price: d(price), acquired_at_ns: at, fee: Some(d("0")) };
        t.backend.put_position(PositionSnapshot {
            account_id: "acc-1".into(),
            symbol: "AAPL".into(),
            qty: d("10"),
            avg_cost: d("150.8"),
            cost_basis: d("1508"),
            realized_pnl: d("0"),
            lots: vec![lot("l-old", "6", "150", yesterday_close - HOUR), lot("l-new", "4", "152", SESSION1_OPEN + HOUR)],
            as_of_ns: SESSION1_OPEN + HOUR,
        });
        t.clock.set(SESSION1_OPEN + 2 * HOUR);
        // HALT has no trade: the sum is unknown.
        let (_, b) = t.get(TRADER, "/v2/account/portfolio").await;
        assert!(b["unrealized_intraday_pl"].is_null(), "{b}");
        t.backend.put_position(PositionSnapshot {
            account_id: "acc-1".into(),
            symbol: "HALT".into(),
            qty: d("0"),
            avg_cost: d("0"),
            cost_basis: d("0"),
            realized_pnl: d("0"),
            lots: vec![],
            as_of_ns: SESSION1_OPEN + HOUR,
        });
        let (_, b) = t.get(TRADER, "/v2/account/portfolio").await;
        // Old lot 6 x (160.10 - 155) = 30.6; today's lot 4 x 160.10 - 608 = 32.4.
        assert_eq!(b["unrealized_intraday_pl"], "63");
        assert_eq!(b["unrealized_pl"], "93");
        assert_eq!(b["total_return"], "0.06167109");
    }

    /// acc-1 held its 10.5 AAPL at yesterday's close (155.01) with 9500.1 cash and
    /// deposited 500 today: equity rose by 553.445 since the close, of which only the
    /// price move 10.5 x (160.10 - 155.01) = 53.445 is P&L.
    #[tokio::test]
    async fn day_pl_leaves_out_a_deposit_made_today() {
        use crate::ports::AccountView;
        use schemas::records::{CloseQty, PositionSnapshot};
        let t = TestApp::new();
        let (today_close, yesterday_close) = t.mark_aapl_previous_close("155.01");
        // HALT flat: the account's positions are AAPL only.
        t.backend.put_position(PositionSnapshot { qty: d("0"), avg_cost: d("0"), cost_basis: d("0"), ..crate::testkit::position_snapshot("acc-1", "HALT") });
        let mut a = t.backend.account("acc-1").unwrap().unwrap();
        a.session_close_ns = Some(today_close);
        a.close_at_ns = Some(yesterday_close);
        a.close_cash = Some(d("9500.1"));
        a.close_positions = Some(vec![CloseQty { symbol: "AAPL".into(), qty: d("10.5") }]);
        a.funding_since_close = Some(d("500"));
        t.backend.put_account(a.clone());
        t.clock.set(SESSION1_OPEN + 2 * HOUR);
        let (s, b) = t.get(TRADER, "/v2/account/portfolio").await;
        assert_eq!(s, 200, "{b}");
        // 10000.1 + 10.5 x 160.10; 9500.1 + 10.5 x 155.01.
        assert_eq!((b["equity"].as_str(), b["last_equity"].as_str()), (Some("11681.15"), Some("11127.705")), "{b}");
        // 11681.15 - 11127.705 - 500.
        assert_eq!(b["day_pl"], "53.445", "{b}");
        // A withdrawal of 200 completed today as well: net funding 300, same P&L.
        a.close_cash = Some(d("9700.1"));
        a.funding_since_close = Some(d("300"));
        t.backend.put_account(a.clone());
        let (_, b) = t.get(TRADER, "/v2/account/portfolio").await;
        assert_eq!((b["last_equity"].as_str(), b["day_pl"].as_str()), (Some("11327.705"), Some("53.445")), "{b}");
        // After today's close nothing changed since: the current values, no funding since.
        t.clock.set(today_close + HOUR);
        let (_, b) = t.get(TRADER, "/v2/account/portfolio").await;
        assert_eq!((b["last_equity"].as_str(), b["day_pl"].as_str()), (Some("11681.15"), Some("0")), "{b}");
        // A snapshot that does not know the funding since the close (AccountSnapshot v3, or
        // a restored pre-v3 accounts state): last_equity is known, day_pl is not.
        a.funding_since_close = None;
        t.backend.put_account(a);
        t.clock.set(SESSION1_OPEN + 2 * HOUR);
        let (_, b) = t.get(TRADER, "/v2/account/portfolio").await;
        assert_eq!(b["last_equity"], "11327.705", "{b}");
        assert!(b["day_pl"].is_null(), "{b}");
        // GET /v2/account keeps Alpaca's schema: no day_pl there.
        assert!(t.get(TRADER, "/v2/account").await.1.get("day_pl").is_none());
        assert_eq!(super::day_pl(d("10"), Some(d("4")), Some(d("-1"))), Some(d("7")));
        assert_eq!(super::day_pl(d("10"), None, Some(d("0"))), None);
        assert_eq!(super::day_pl(d("10"), Some(d("4")), None), None);
    }

    #[tokio::test]
    async fn unavailable_views_are_503() {
        let t = TestApp::new();
        t.backend.set_unavailable(true);
        assert_eq!(t.get(TRADER, "/v2/account/portfolio").await.0, 503);
    }
}
