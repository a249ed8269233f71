//! Realized-gain records: one `RealizedGain` per closing fill, made of one `LotDisposal`
//! per lot (or part of a lot) it closed.
//!
//! Invariants: `gain = proceeds - cost_basis` for every disposal and for the sale, the
//! sale's amounts are the sums of its disposals, and `short_term_gain + long_term_gain =
//! gain`. For a long lot, proceeds come from the closing sell and cost from the lot; for a
//! short lot, proceeds come from the lot (the short sale) and cost from the covering buy.

use rust_decimal::Decimal;

use super::calendar::{Term, TradeDate};
use super::lot::{LotId, LotSide};
use super::types::Side;
use crate::Timestamp;

/// The closed part of one lot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LotDisposal {
    pub lot_id: LotId,
    pub lot_side: LotSide,
    pub qty: Decimal,
    /// Opening fill's execution time and trade date.
    pub opened_at: Timestamp,
    pub acquired_on: TradeDate,
    /// Closing fill's trade date.
    pub disposed_on: TradeDate,
    /// Calendar days from `acquired_on` to `disposed_on`.
    pub holding_days: i64,
    /// Net of the allocated sell fee.
    pub proceeds: Decimal,
    /// Including the allocated buy fee.
    pub cost_basis: Decimal,
    pub gain: Decimal,
    /// Holding-period rule for long lots; always short-term for short lots.
    pub term: Term,
}

impl LotDisposal {
    /// Gross cost basis of the closed piece of the lot: the absolute value of that piece's
    /// share of the lot's signed cost basis (see `Lot::cost_basis`), with the opening fee
    /// allocated to the piece exactly as for the gain. For a long lot that is `cost_basis`
    /// (qty x opening price + allocated buy fee); for a short lot it is `proceeds` (qty x
    /// short-sale price - allocated sell fee), what the piece was sold short for. So
    /// closing a lot moves its `|cost basis|` from the open lots to the closed ones
    /// unchanged. Always `>= 0`.
    pub fn closed_cost(&self) -> Decimal {
        match self.lot_side {
            LotSide::Long => self.cost_basis.abs(),
            LotSide::Short => self.proceeds.abs(),
        }
    }
}

/// Gain realized by one closing fill.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RealizedGain {
    pub account: String,
    pub symbol: String,
    /// The closing fill.
    pub fill_id: String,
    pub side: Side,
    pub executed_at: Timestamp,
    pub trade_date: TradeDate,
    /// Quantity closed (the rest of the fill, if any, opened a lot on the other side).
    pub qty: Decimal,
    pub proceeds: Decimal,
    pub cost_basis: Decimal,
    pub gain: Decimal,
    pub short_term_gain: Decimal,
    pub long_term_gain: Decimal,
    pub disposals: Vec<LotDisposal>,
}

impl RealizedGain {
    /// Builds the sale record from its disposals (amounts are summed).
    pub(crate) fn from_disposals(
        account: &str,
        symbol: &str,
        fill_id: &str,
        side: Side,
        executed_at: Timestamp,
        trade_date: TradeDate,
        disposals: Vec<LotDisposal>,
    ) -> Self {
        let sum = |f: fn(&LotDisposal) -> Decimal| disposals.iter().map(f).sum::<Decimal>();
        let term_gain = |t: Term| {
            disposals
                .iter()
                .filter(|d| d.term == t)
                .map(|d| d.gain)
                .sum::<Decimal>()
        };
        RealizedGain {
            account: account.to_owned(),
            symbol: symbol.to_owned(),
            fill_id: fill_id.to_owned(),
            side,
            executed_at,
            trade_date,
            qty: sum(|d| d.qty),
            proceeds: sum(|d| d.proceeds),
            cost_basis: sum(|d| d.cost_basis),
            gain: sum(|d| d.gain),
            short_term_gain: term_gain(Term::ShortTerm),
            long_term_gain: term_gain(Term::LongTerm),
            disposals,
        }
    }
}
