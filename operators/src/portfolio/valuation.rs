//! Pure valuation of positions against marks (last trade price and previous close).
//!
//! Called by the API at read time with the latest marks, and by the operator when it emits
//! a portfolio snapshot and knows a mark for every open position.
//!
//! Definitions, per position (short positions have negative quantity, market value and
//! cost basis, so the same formulas hold for both sides):
//! - `market_value = qty * last`
//! - `unrealized_pnl = market_value - cost_basis` (cost basis includes buy fees)
//! - `day_pnl`: for lots opened before `day_start`, `signed qty * (last - previous_close)`;
//!   for lots opened at or after `day_start`, their unrealized P&L (against their cost).
//!   Realized P&L of today's sales is *not* part of `day_pnl` (it is in `realized_pnl`).
//! - `day_base`: `|qty| * previous_close` for older lots plus `|cost basis|` for today's;
//!   `day_pnl_pct = day_pnl / day_base * 100`.
//! - `unrealized_pnl_pct = unrealized_pnl / |cost_basis| * 100`.
//!
//! Percentages are rounded to `PERCENT_SCALE` places (half away from zero) and are `None`
//! when their base is zero; amounts are exact. Portfolio totals: `total_value = cash +
//! market value of priced positions`, `total_return = realized P&L (all positions, flat
//! ones included) + unrealized P&L`. Open positions without a mark are listed in
//! `unpriced` and left out of the market-value, unrealized and day totals.

use std::collections::BTreeMap;

use rust_decimal::{Decimal, RoundingStrategy};

use super::position::Position;
use crate::Timestamp;

/// Decimal places of every percentage.
pub const PERCENT_SCALE: u32 = 4;

/// Prices of one symbol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    /// Last trade price.
    pub last: Decimal,
    /// Close of the previous session.
    pub previous_close: Decimal,
}

/// Valuation of one open position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PositionValuation {
    pub symbol: String,
    pub qty: Decimal,
    pub avg_cost: Option<Decimal>,
    pub last: Decimal,
    pub previous_close: Decimal,
    pub market_value: Decimal,
    pub cost_basis: Decimal,
    pub unrealized_pnl: Decimal,
    pub unrealized_pnl_pct: Option<Decimal>,
    pub day_pnl: Decimal,
    pub day_base: Decimal,
    pub day_pnl_pct: Option<Decimal>,
    pub realized_pnl: Decimal,
}

/// Valuation of all positions of an account (without cash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoldingsValuation {
    /// Priced open positions, in symbol order.
    pub positions: Vec<PositionValuation>,
    /// Open positions with no mark.
    pub unpriced: Vec<String>,
    pub market_value: Decimal,
    pub cost_basis: Decimal,
    pub unrealized_pnl: Decimal,
    pub unrealized_pnl_pct: Option<Decimal>,
    pub day_pnl: Decimal,
    pub day_pnl_pct: Option<Decimal>,
    /// Realized P&L of every position given, priced or not, open or flat.
    pub realized_pnl: Decimal,
}

/// Holdings plus cash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortfolioValuation {
    pub holdings: HoldingsValuation,
    pub cash: Decimal,
    pub total_value: Decimal,
    pub total_return: Decimal,
}

/// Values `positions` at `marks`; lots opened at or after `day_start` count as today's.
pub fn value_positions<'a>(
    positions: impl IntoIterator<Item = &'a Position>,
    marks: &BTreeMap<String, Mark>,
    day_start: Timestamp,
) -> HoldingsValuation {
    let mut h = HoldingsValuation {
        positions: Vec::new(),
        unpriced: Vec::new(),
        market_value: Decimal::ZERO,
        cost_basis: Decimal::ZERO,
        unrealized_pnl: Decimal::ZERO,
        unrealized_pnl_pct: None,
        day_pnl: Decimal::ZERO,
        day_pnl_pct: None,
        realized_pnl: Decimal::ZERO,
    };
    let mut day_base = Decimal::ZERO;
    for position in positions {
        h.realized_pnl += position.realized_pnl;
        if position.lots.is_empty() {
            continue;
        }
        let Some(mark) = marks.get(&position.symbol) else {
            h.unpriced.push(position.symbol.clone());
            continue;
        };
        let v = value_position(position, mark, day_start);
        h.market_value += v.market_value;
        h.cost_basis += v.cost_basis;
        h.unrealized_pnl += v.unrealized_pnl;
        h.day_pnl += v.day_pnl;
        day_base += v.day_base;
        h.positions.push(v);
    }
    h.positions.sort_by(|a, b| a.symbol.cmp(&b.symbol));
    h.unpriced.sort();
    h.unrealized_pnl_pct = percent(h.unrealized_pnl, h.cost_basis.abs());
    h.day_pnl_pct = percent(h.day_pnl, day_base);
    h
}

/// Values `positions` at `marks` and adds `cash`.
pub fn value_portfolio<'a>(
    positions: impl IntoIterator<Item = &'a Position>,
    marks: &BTreeMap<String, Mark>,
    cash: Decimal,
    day_start: Timestamp,
) -> PortfolioValuation {
    let holdings = value_positions(positions, marks, day_start);
    PortfolioValuation {
        cash,
        total_value: cash + holdings.market_value,
        total_return: holdings.realized_pnl + holdings.unrealized_pnl,
        holdings,
    }
}

fn value_position(position: &Position, mark: &Mark, day_start: Timestamp) -> PositionValuation {
    let qty = position.qty();
    let cost_basis = position.cost_basis();
    let market_value = qty * mark.last;
    let unrealized_pnl = market_value - cost_basis;
    let (mut day_pnl, mut day_base) = (Decimal::ZERO, Decimal::ZERO);
    for lot in &position.lots {
        if lot.opened_at >= day_start {
            day_pnl += lot.signed_qty() * mark.last - lot.cost_basis();
            day_base += lot.cost_basis().abs();
        } else {
            day_pnl += lot.signed_qty() * (mark.last - mark.previous_close);
            day_base += lot.qty * mark.previous_close;
        }
    }
    PositionValuation {
        symbol: position.symbol.clone(),
        qty,
        avg_cost: position.avg_cost(),
        last: mark.last,
        previous_close: mark.previous_close,
        market_value,
        cost_basis,
        unrealized_pnl,
        unrealized_pnl_pct: percent(unrealized_pnl, cost_basis.abs()),
        day_pnl,
        day_base,
        day_pnl_pct: percent(day_pnl, day_base),
        realized_pnl: position.realized_pnl,
    }
}

fn percent(part: Decimal, base: Decimal) -> Option<Decimal> {
    (!base.is_zero()).then(|| {
        (part * Decimal::ONE_HUNDRED / base)
            .round_dp_with_strategy(PERCENT_SCALE, RoundingStrategy::MidpointAwayFromZero)
    })
}
