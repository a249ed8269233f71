//! State snapshots for compacted topics (latest value per key). These schemas evolve
//! FULL_TRANSITIVE: old and new readers must both read every version.

use super::{AccountStatus, FundingDirection, InstrumentStatus, KycStatus, OrderType, SelfTradePrevention, Side, TimeInForce};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PositionQty {
    pub symbol: String,
    #[serde(with = "crate::decimal")]
    pub qty: Decimal,
    #[serde(with = "crate::decimal")]
    pub held_qty: Decimal,
}

/// Latest state of an account (topic `accounts.snapshots`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccountSnapshot {
    pub account_id: String,
    pub owner_id: String,
    pub status: AccountStatus,
    pub kyc_status: KycStatus,
    pub kyc_tier: i32,
    #[serde(with = "crate::decimal")]
    pub cash: Decimal,
    #[serde(with = "crate::decimal")]
    pub held_cash: Decimal,
    #[serde(with = "crate::decimal")]
    pub unsettled_cash: Decimal,
    #[serde(with = "crate::decimal")]
    pub buying_power: Decimal,
    #[serde(with = "crate::decimal")]
    pub withdrawable_cash: Decimal,
    pub positions: Vec<PositionQty>,
    pub version: i64,
    pub as_of_ns: i64,
    /// Schema v2 (v1 data reads `None`): cash held for requested withdrawals.
    #[serde(default, with = "crate::decimal::opt")]
    pub pending_withdrawals: Option<Decimal>,
    /// Schema v2: amount owed (positive).
    #[serde(default, with = "crate::decimal::opt")]
    pub deficit: Option<Decimal>,
    /// Schema v2: number of open orders.
    #[serde(default)]
    pub open_orders: Option<i32>,
    /// Schema v3 (older data reads `None`): the accounts operator's session marks; see
    /// [`AccountSnapshot::at_previous_close`]. Close of the session of the latest input.
    #[serde(default)]
    pub session_close_ns: Option<i64>,
    /// Schema v3: the latest close before `session_close_ns`, when `close_cash` and
    /// `close_positions` were taken.
    #[serde(default)]
    pub close_at_ns: Option<i64>,
    /// Schema v3: `cash` at `close_at_ns`.
    #[serde(default, with = "crate::decimal::opt")]
    pub close_cash: Option<Decimal>,
    /// Schema v3: non-zero share quantities at `close_at_ns`, by symbol.
    #[serde(default)]
    pub close_positions: Option<Vec<CloseQty>>,
    /// Schema v4 (older data reads `None`): net change of `cash` from funding (completed
    /// deposits minus completed withdrawals) since `close_at_ns`, so `cash - close_cash =
    /// funding_since_close + cash effect of trades and fees`; `None` when unknown.
    #[serde(default, with = "crate::decimal::opt")]
    pub funding_since_close: Option<Decimal>,
}

/// A share quantity at a session close (`AccountSnapshot` v3, `AccountState` v2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CloseQty {
    pub symbol: String,
    #[serde(with = "crate::decimal")]
    pub qty: Decimal,
}

/// An account's cash and share quantities at a session close, from
/// [`AccountSnapshot::at_previous_close`].
///
/// Invariant: the values are the account's at every session close `t` with
/// `valid_from_ns <= t <= valid_to_ns` (one close when read from the marks).
#[derive(Clone, Debug, PartialEq)]
pub struct CloseValues {
    pub valid_from_ns: i64,
    pub valid_to_ns: i64,
    pub cash: Decimal,
    /// Non-zero quantities, by symbol.
    pub positions: Vec<(String, Decimal)>,
    /// Net funding (completed deposits minus completed withdrawals) from that close to the
    /// snapshot: `Some(0)` when read from the current values (no input since the close),
    /// the marks' `funding_since_close` otherwise; `None` when unknown (data older than
    /// v4, or restored from such a state before the next close).
    pub funding_since_close: Option<Decimal>,
}

impl AccountSnapshot {
    /// The account's cash and shares at the previous session close as seen at `now_ns`
    /// (the rule of [`previous_close`], for the account): once `now_ns` reaches
    /// `session_close_ns`, no input has been applied since that close, so the current
    /// values hold at every close from it to `now_ns`; before it, the marks taken at
    /// `close_at_ns` apply. `None` without marks (data older than v3, no calendar).
    /// The funding since that close comes with the values, from the same rule, so
    /// `cash - values.cash - funding_since_close` is the cash effect of trading since.
    pub fn at_previous_close(&self, now_ns: i64) -> Option<CloseValues> {
        match self.session_close_ns {
            Some(close) if now_ns >= close => Some(CloseValues {
                valid_from_ns: close,
                valid_to_ns: now_ns,
                cash: self.cash,
                positions: self.positions.iter().filter(|p| !p.qty.is_zero()).map(|p| (p.symbol.clone(), p.qty)).collect(),
                funding_since_close: Some(Decimal::ZERO),
            }),
            _ => {
                let at = self.close_at_ns?;
                Some(CloseValues {
                    valid_from_ns: at,
                    valid_to_ns: at,
                    cash: self.close_cash?,
                    positions: self.close_positions.as_deref().unwrap_or_default().iter().filter(|p| !p.qty.is_zero()).map(|p| (p.symbol.clone(), p.qty)).collect(),
                    funding_since_close: self.funding_since_close,
                })
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaxLot {
    pub lot_id: String,
    #[serde(with = "crate::decimal")]
    pub qty: Decimal,
    #[serde(with = "crate::decimal")]
    pub price: Decimal,
    pub acquired_at_ns: i64,
    /// Schema v2 (v1 data reads `None`, meaning zero): the lot's opening fee not yet
    /// allocated to a closed piece, so `cost_basis` of a long lot = `qty * price + fee`.
    #[serde(default, with = "crate::decimal::opt")]
    pub fee: Option<Decimal>,
}

/// Latest position of an account in a symbol (topic `positions.snapshots`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PositionSnapshot {
    pub account_id: String,
    pub symbol: String,
    #[serde(with = "crate::decimal")]
    pub qty: Decimal,
    #[serde(with = "crate::decimal")]
    pub avg_cost: Decimal,
    #[serde(with = "crate::decimal")]
    pub cost_basis: Decimal,
    #[serde(with = "crate::decimal")]
    pub realized_pnl: Decimal,
    pub lots: Vec<TaxLot>,
    pub as_of_ns: i64,
}

/// One price level of the book.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Level {
    #[serde(with = "crate::decimal")]
    pub price: Decimal,
    #[serde(with = "crate::decimal")]
    pub qty: Decimal,
    pub orders: i32,
}

/// L2 depth and best bid / offer (topic `book.depth`). Best bid = `bids[0]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BookSnapshot {
    pub symbol: String,
    pub status: InstrumentStatus,
    pub bids: Vec<Level>,
    pub asks: Vec<Level>,
    #[serde(with = "crate::decimal::opt")]
    pub last_trade_price: Option<Decimal>,
    pub seq: i64,
    pub as_of_ns: i64,
    /// Schema v2 (v1 data reads `None`): close (ns) of the session of the venue's latest
    /// command. The previous session's close at a time `t` is `last_trade_price` if
    /// `t >= session_close_ns`, else `previous_close_price` (see [`BookSnapshot::previous_close`]).
    #[serde(default)]
    pub session_close_ns: Option<i64>,
    /// Schema v2: the latest session close (ns) before `session_close_ns`.
    #[serde(default)]
    pub previous_close_ns: Option<i64>,
    /// Schema v2: last trade price as of `previous_close_ns`.
    #[serde(default, with = "crate::decimal::opt")]
    pub previous_close_price: Option<Decimal>,
}

impl BookSnapshot {
    /// The previous session's close as seen at `now_ns`: (close time, price). `None` when
    /// the venue published no session marks (v1 data, no calendar) or there is no close
    /// before `now_ns`; the price is `None` when nothing had traded by that close.
    pub fn previous_close(&self, now_ns: i64) -> Option<(i64, Option<Decimal>)> {
        previous_close(self.last_trade_price, self.session_close_ns, self.previous_close_ns, self.previous_close_price, now_ns)
    }
}

/// The rule behind [`BookSnapshot::previous_close`], for readers that keep the marks
/// outside the record: the last trade is the close once `now_ns` reaches the session
/// close, otherwise the published previous close applies.
pub fn previous_close(
    last_trade_price: Option<Decimal>,
    session_close_ns: Option<i64>,
    previous_close_ns: Option<i64>,
    previous_close_price: Option<Decimal>,
    now_ns: i64,
) -> Option<(i64, Option<Decimal>)> {
    match session_close_ns {
        Some(close) if now_ns >= close => Some((close, last_trade_price)),
        _ => previous_close_ns.map(|at| (at, previous_close_price)),
    }
}

/// One non-zero ledger balance of an [`AccountState`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LedgerBalance {
    /// Published name, e.g. `cash:held`, `shares:AAPL:available`.
    pub ledger_account: String,
    #[serde(with = "crate::decimal")]
    pub balance: Decimal,
}

/// A replace in flight on an [`OpenOrderState`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingReplaceState {
    pub new_order_id: String,
    pub new_client_order_id: String,
    #[serde(with = "crate::decimal")]
    pub qty: Decimal,
    #[serde(with = "crate::decimal::opt")]
    pub limit_price: Option<Decimal>,
    #[serde(with = "crate::decimal::opt")]
    pub stop_price: Option<Decimal>,
    #[serde(with = "crate::decimal")]
    pub reserve_price: Decimal,
}

/// An open order with its reservation, as held in [`AccountState`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpenOrderState {
    pub order_id: String,
    pub client_order_id: String,
    pub symbol: String,
    pub side: Side,
    pub order_type: OrderType,
    pub time_in_force: TimeInForce,
    /// Exactly one of `qty` / `notional` is set.
    #[serde(with = "crate::decimal::opt")]
    pub qty: Option<Decimal>,
    #[serde(with = "crate::decimal::opt")]
    pub notional: Option<Decimal>,
    #[serde(with = "crate::decimal::opt")]
    pub limit_price: Option<Decimal>,
    #[serde(with = "crate::decimal::opt")]
    pub stop_price: Option<Decimal>,
    #[serde(with = "crate::decimal")]
    pub reserve_price: Decimal,
    #[serde(with = "crate::decimal")]
    pub filled_qty: Decimal,
    #[serde(with = "crate::decimal")]
    pub filled_cost: Decimal,
    pub fill_ids: Vec<String>,
    #[serde(with = "crate::decimal")]
    pub cash_hold: Decimal,
    #[serde(with = "crate::decimal")]
    pub cash_hold_unsettled: Decimal,
    #[serde(with = "crate::decimal")]
    pub shares_hold: Decimal,
    pub pending_cancel: bool,
    pub pending_replace: Option<PendingReplaceState>,
}

/// A deposit or withdrawal awaiting the bank, as held in [`AccountState`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingFundingState {
    pub funding_id: String,
    pub direction: FundingDirection,
    #[serde(with = "crate::decimal")]
    pub amount: Decimal,
    /// Days since 1970-01-01.
    pub date: i32,
}

/// Sale proceeds due on one date.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SettlementState {
    /// Days since 1970-01-01.
    pub date: i32,
    #[serde(with = "crate::decimal")]
    pub amount: Decimal,
}

/// The accounts operator's per-account state (compacted changelog `accounts.changelog`).
/// Everything the operator keeps, nothing derived: restoring it gives back the exact state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccountState {
    pub owner_id: String,
    pub status: AccountStatus,
    pub kyc_status: KycStatus,
    pub kyc_tier: i32,
    pub allow_shorting: bool,
    pub ledger_seq: i64,
    pub balances: Vec<LedgerBalance>,
    pub orders: Vec<OpenOrderState>,
    pub fundings: Vec<PendingFundingState>,
    pub settlements: Vec<SettlementState>,
    pub daily_date: i32,
    #[serde(with = "crate::decimal")]
    pub daily_deposits: Decimal,
    #[serde(with = "crate::decimal")]
    pub daily_withdrawals: Decimal,
    #[serde(with = "crate::decimal")]
    pub daily_order_notional: Decimal,
    pub recent_orders_ns: Vec<i64>,
    /// Schema v2 (v1 data reads `None`): the operator's session marks, as in
    /// [`AccountSnapshot`] v3.
    #[serde(default)]
    pub session_close_ns: Option<i64>,
    #[serde(default)]
    pub close_at_ns: Option<i64>,
    #[serde(default, with = "crate::decimal::opt")]
    pub close_cash: Option<Decimal>,
    #[serde(default)]
    pub close_positions: Option<Vec<CloseQty>>,
    /// Schema v3 (older data reads `None`): net funding since `close_at_ns`, as in
    /// [`AccountSnapshot`] v4.
    #[serde(default, with = "crate::decimal::opt")]
    pub funding_since_close: Option<Decimal>,
}

/// Rules of a listed book, as in its `List` command (matching changelog).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BookRules {
    #[serde(with = "crate::decimal")]
    pub tick_size: Decimal,
    #[serde(with = "crate::decimal")]
    pub lot_size: Decimal,
    #[serde(with = "crate::decimal::opt")]
    pub min_qty: Option<Decimal>,
    #[serde(with = "crate::decimal::opt")]
    pub max_notional: Option<Decimal>,
    pub self_trade_prevention: SelfTradePrevention,
    pub band_bps: Option<i64>,
    #[serde(with = "crate::decimal::opt")]
    pub reference_price: Option<Decimal>,
}

/// One live order of a book (matching changelog). Prices in ticks, quantities in lots.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LiveOrder {
    pub order_id: String,
    pub account_id: String,
    pub client_order_id: Option<String>,
    pub side: Side,
    pub order_type: OrderType,
    pub time_in_force: TimeInForce,
    pub order_lots: i64,
    pub leaves_lots: i64,
    pub cum_lots: i64,
    pub limit_ticks: Option<i64>,
    pub stop_ticks: Option<i64>,
    pub seq: i64,
    pub expires_at_ns: Option<i64>,
    pub triggered: bool,
    /// Sum of `price_ticks * lots` over this order's fills.
    pub fill_notional: i64,
}

/// A book: rules, status, counters and live orders (matching changelog).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BookImage {
    pub rules: BookRules,
    pub status: InstrumentStatus,
    pub last_trade_ticks: Option<i64>,
    pub next_seq: i64,
    pub next_exec_id: i64,
    pub next_trade_id: i64,
    pub orders: Vec<LiveOrder>,
    /// Schema v2 (v1 data reads `None`): session marks, see [`BookSnapshot`].
    #[serde(default)]
    pub session_close_ns: Option<i64>,
    #[serde(default)]
    pub previous_close_ns: Option<i64>,
    #[serde(default)]
    pub previous_close_ticks: Option<i64>,
}

/// The matching operator's state of one symbol (compacted topic `matching.changelog`, key
/// symbol). `book` is absent until the symbol is listed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BookState {
    pub commands: i64,
    pub last_report: i64,
    pub book: Option<BookImage>,
}

/// How closing fills pick the lots they close.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LotMethod {
    Fifo,
    Lifo,
    SpecificLot,
}

/// Account-level portfolio summary (topic `portfolios.snapshots`, key account id).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PortfolioSnapshot {
    pub account_id: String,
    pub as_of_ns: i64,
    pub lot_method: LotMethod,
    pub open_positions: i32,
    #[serde(with = "crate::decimal")]
    pub cost_basis: Decimal,
    #[serde(with = "crate::decimal")]
    pub realized_pnl: Decimal,
    /// Schema v2 (v1 data reads `None`): gross cost basis of every lot quantity closed so
    /// far (long lots sold, short lots covered), `>= 0`; `None` when unknown (see the
    /// schema doc).
    #[serde(default, with = "crate::decimal::opt")]
    pub closed_cost_basis: Option<Decimal>,
}

/// One open lot of the portfolio changelog. `fee` is exact decimal text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LotState {
    pub lot_id: String,
    pub side: super::LotSide,
    pub opened_at_ns: i64,
    #[serde(with = "crate::decimal")]
    pub original_qty: Decimal,
    #[serde(with = "crate::decimal")]
    pub qty: Decimal,
    #[serde(with = "crate::decimal")]
    pub price: Decimal,
    pub fee: String,
}

/// One position of the portfolio changelog. `realized_pnl` is exact decimal text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PositionState {
    pub symbol: String,
    pub realized_pnl: String,
    pub lots: Vec<LotState>,
}

/// A specific-lot instruction waiting for its fill.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LotInstructionState {
    pub fill_id: String,
    pub lots: Vec<String>,
}

/// Latest mark of a symbol.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MarkState {
    pub symbol: String,
    #[serde(with = "crate::decimal")]
    pub last: Decimal,
    #[serde(with = "crate::decimal")]
    pub previous_close: Decimal,
}

/// The portfolio operator's state of one account (compacted `portfolio.changelog`, key
/// account id). Nothing derived: restoring it gives back the exact operator state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PortfolioState {
    pub account_id: String,
    pub lot_method: LotMethod,
    pub positions: Vec<PositionState>,
    pub applied_fills: Vec<String>,
    pub pending_instructions: Vec<LotInstructionState>,
    pub marks: Vec<MarkState>,
    /// Schema v2 (v1 data reads `None`): gross cost basis of every lot quantity closed so
    /// far, exact decimal text; `None` when unknown.
    #[serde(default)]
    pub closed_cost_basis: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book(session_close_ns: Option<i64>, previous_close_ns: Option<i64>, previous: Option<&str>) -> BookSnapshot {
        BookSnapshot {
            symbol: "AAA".into(),
            status: InstrumentStatus::Listed,
            bids: vec![],
            asks: vec![],
            last_trade_price: Some("101.5".parse().unwrap()),
            seq: 1,
            as_of_ns: 0,
            session_close_ns,
            previous_close_ns,
            previous_close_price: previous.map(|p| p.parse().unwrap()),
        }
    }

    #[test]
    fn previous_close_switches_to_the_last_trade_once_the_session_closes() {
        let b = book(Some(2_000), Some(1_000), Some("99"));
        assert_eq!(b.previous_close(1_500), Some((1_000, Some("99".parse().unwrap()))));
        assert_eq!(b.previous_close(1_999), Some((1_000, Some("99".parse().unwrap()))));
        assert_eq!(b.previous_close(2_000), Some((2_000, Some("101.5".parse().unwrap()))));
        assert_eq!(b.previous_close(9_999), Some((2_000, Some("101.5".parse().unwrap()))));
        // First session of the calendar: no earlier close; nothing traded before it.
        assert_eq!(book(Some(2_000), None, None).previous_close(1_500), None);
        assert_eq!(book(Some(2_000), Some(1_000), None).previous_close(1_500), Some((1_000, None)));
        // v1 data (no marks) and a venue past its calendar's end.
        assert_eq!(book(None, None, None).previous_close(1_500), None);
        assert_eq!(book(None, Some(1_000), Some("99")).previous_close(5_000), Some((1_000, Some("99".parse().unwrap()))));
    }

    #[test]
    fn account_values_at_the_previous_close_follow_the_same_rule() {
        let d = |s: &str| -> Decimal { s.parse().unwrap() };
        let mut a = AccountSnapshot {
            account_id: "a".into(),
            owner_id: "u".into(),
            status: AccountStatus::Active,
            kyc_status: KycStatus::Approved,
            kyc_tier: 1,
            cash: d("500"),
            held_cash: d("0"),
            unsettled_cash: d("0"),
            buying_power: d("500"),
            withdrawable_cash: d("500"),
            positions: vec![PositionQty { symbol: "AAA".into(), qty: d("3"), held_qty: d("0") }, PositionQty { symbol: "ZZZ".into(), qty: d("0"), held_qty: d("0") }],
            version: 1,
            as_of_ns: 1_500,
            pending_withdrawals: None,
            deficit: None,
            open_orders: None,
            session_close_ns: Some(2_000),
            close_at_ns: Some(1_000),
            close_cash: Some(d("800")),
            close_positions: Some(vec![CloseQty { symbol: "AAA".into(), qty: d("1") }]),
            funding_since_close: Some(d("-250.5")),
        };
        let marks = CloseValues { valid_from_ns: 1_000, valid_to_ns: 1_000, cash: d("800"), positions: vec![("AAA".into(), d("1"))], funding_since_close: Some(d("-250.5")) };
        assert_eq!(a.at_previous_close(1_999), Some(marks));
        // At and after the session's close nothing changed since: the current values.
        let current = |now| CloseValues { valid_from_ns: 2_000, valid_to_ns: now, cash: d("500"), positions: vec![("AAA".into(), d("3"))], funding_since_close: Some(Decimal::ZERO) };
        assert_eq!(a.at_previous_close(2_000), Some(current(2_000)));
        assert_eq!(a.at_previous_close(9_000), Some(current(9_000)));
        // v3 data (no funding figure): the close values are known, the funding is not.
        a.funding_since_close = None;
        assert_eq!(a.at_previous_close(1_999).map(|v| (v.cash, v.funding_since_close)), Some((d("800"), None)));
        // Older data and operators without a calendar: unknown.
        a.session_close_ns = None;
        a.close_at_ns = None;
        assert_eq!(a.at_previous_close(9_000), None);
    }
}
