//! Portfolio / P&L operator: positions, tax lots and realized / unrealized / day P&L,
//! keyed by account.
//!
//! The operator consumes the account's fills (execution reports) and emits compacted
//! position and portfolio snapshots plus one realized-gain event per closing fill. All
//! money and quantities are `rust_decimal::Decimal`; there are no floats, clocks or I/O.
//!
//! # Code map
//! - `types`: inputs that describe the world (`Fill`, `Side`, `LotMethod`, `LotInstruction`)
//!   and their validation bounds.
//! - `error`: `PortfolioError`, every way an input can be refused.
//! - `calendar`: trade dates, the exchange time zone and the short/long-term holding rule.
//! - `lot`: one tax lot and the pro-rata rule that splits fees between pieces.
//! - `position`: the lots of one symbol and the lot-matching algorithm (FIFO, LIFO,
//!   specific lot, short lots, flips through zero).
//! - `gain`: realized-gain records (per sale and per lot disposal).
//! - `account`: `AccountState`, the per-account engine shared by the operator and reports.
//! - `valuation`: the pure read-time valuation against marks.
//! - `report`: the capital-gains report for a tax year.
//! - `operator`: `PortfolioOperator`, its input and output enums and snapshots.
//!
//! # Invariants
//! - For every position, the sum of its open lots' quantities equals the position quantity
//!   and every lot of a position is on the same side (all long or all short).
//! - Fees are conserved exactly: every fee unit of every fill ends up either in an open
//!   lot's basis or in exactly one realized disposal (see `lot` for the split rule).
//! - For any set of marks: realized P&L + unrealized P&L equals sale proceeds (net of
//!   fees) minus purchase cost (including fees) plus the signed market value of open lots.
//! - Applying a fill whose id was already applied changes nothing and emits nothing.
//! - `AccountState::closed_cost_basis`, when known, is the sum of
//!   `LotDisposal::closed_cost` over every disposal ever made: closing a piece of a lot
//!   moves that piece's `|cost basis|` (opening fee share included) from the open lots to
//!   the closed total unchanged. It is `None` only for a state restored from a record that
//!   predates it and could not be proven never to have closed a lot.
//! - Lot order is processing order (the order of the account's fill log), not event time.
//!
//! # Limitations
//! - Corporate actions (splits, dividends), wash-sale adjustments and transfers of lots
//!   between accounts are not modelled.
//! - Short sales are supported with short lots, but their gains are always classified
//!   short-term (a simplification of IRC §1233).
//! - The set of applied fill ids grows with the account's history (needed for
//!   idempotence); it is not pruned. Nor are lot instructions whose fill never arrives.
//! - Day P&L covers open lots only; gains realized today are reported in realized P&L.

mod account;
mod calendar;
mod error;
mod gain;
mod lot;
mod operator;
mod position;
mod report;
mod types;
mod valuation;

#[cfg(test)]
mod tests;

pub use account::{AccountState, FillOutcome};
pub use calendar::{Term, TimeZoneRule, TradeDate};
pub use error::PortfolioError;
pub use gain::{LotDisposal, RealizedGain};
pub use lot::{Lot, LotId, LotSide, ALLOCATION_SCALE};
pub use operator::{
    PortfolioConfig, PortfolioInput, PortfolioOperator, PortfolioOutput, PortfolioSnapshot,
    PositionSnapshot,
};
pub use position::Position;
pub use report::{capital_gains_report, CapitalGainsReport, GainLine, TermTotals};
pub use types::{Fill, LotInstruction, LotMethod, Side, MAX_FEE, MAX_PRICE, MAX_QTY, MAX_SCALE};
pub use valuation::{
    value_portfolio, value_positions, HoldingsValuation, Mark, PortfolioValuation,
    PositionValuation, PERCENT_SCALE,
};
