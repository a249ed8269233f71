//! Capital-gains report for one account and tax year.
//!
//! The report replays the account's *full* fill history (in log order) through a fresh
//! `AccountState` with the requested `LotMethod`, so the lots a sale closes depend on every
//! earlier year, and keeps the sales whose trade date falls in `year`. Instructions are
//! all known up front and are used only under `LotMethod::SpecificLot`. Fills the operator
//! would refuse are refused here too and listed in `rejected`; duplicates are ignored.
//!
//! `lines()` flattens the report to one row per lot disposal (the shape of IRS Form 8949:
//! description, acquired, sold, proceeds, cost, gain, term) for CSV / JSON rendering.

use rust_decimal::Decimal;

use super::account::{AccountState, FillOutcome};
use super::calendar::{Term, TimeZoneRule, TradeDate};
use super::error::PortfolioError;
use super::gain::RealizedGain;
use super::lot::{LotId, LotSide};
use super::types::{Fill, LotInstruction, LotMethod};

/// Sums over a set of disposals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TermTotals {
    pub proceeds: Decimal,
    pub cost_basis: Decimal,
    pub gain: Decimal,
}

impl TermTotals {
    fn add(&mut self, proceeds: Decimal, cost_basis: Decimal, gain: Decimal) {
        self.proceeds += proceeds;
        self.cost_basis += cost_basis;
        self.gain += gain;
    }
}

/// One row of the report: one lot (or part of one) closed by one sale.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GainLine {
    pub symbol: String,
    pub sale_fill_id: String,
    pub lot_id: LotId,
    pub lot_side: LotSide,
    pub qty: Decimal,
    pub acquired_on: TradeDate,
    pub disposed_on: TradeDate,
    pub holding_days: i64,
    pub proceeds: Decimal,
    pub cost_basis: Decimal,
    pub gain: Decimal,
    pub term: Term,
}

/// Realized gains of one tax year.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapitalGainsReport {
    pub account: String,
    pub year: i32,
    pub method: LotMethod,
    /// Closing fills dated in `year`, in log order.
    pub sales: Vec<RealizedGain>,
    pub short_term: TermTotals,
    pub long_term: TermTotals,
    pub total: TermTotals,
    /// Fills refused while replaying the history, with the reason.
    pub rejected: Vec<(String, PortfolioError)>,
}

impl CapitalGainsReport {
    /// One row per lot disposal, in sale order then lot-matching order.
    pub fn lines(&self) -> Vec<GainLine> {
        self.sales
            .iter()
            .flat_map(|sale| {
                sale.disposals.iter().map(move |d| GainLine {
                    symbol: sale.symbol.clone(),
                    sale_fill_id: sale.fill_id.clone(),
                    lot_id: d.lot_id.clone(),
                    lot_side: d.lot_side,
                    qty: d.qty,
                    acquired_on: d.acquired_on,
                    disposed_on: d.disposed_on,
                    holding_days: d.holding_days,
                    proceeds: d.proceeds,
                    cost_basis: d.cost_basis,
                    gain: d.gain,
                    term: d.term,
                })
            })
            .collect()
    }
}

/// Builds the report for `account` from its full fill history; see the module docs.
pub fn capital_gains_report(
    account: &str,
    fills: &[Fill],
    instructions: &[LotInstruction],
    method: LotMethod,
    year: i32,
    tz: TimeZoneRule,
) -> CapitalGainsReport {
    let mut state = AccountState::new(account, method);
    for instruction in instructions {
        state.preload_instruction(instruction);
    }
    let mut report = CapitalGainsReport {
        account: account.to_owned(),
        year,
        method,
        sales: Vec::new(),
        short_term: TermTotals::default(),
        long_term: TermTotals::default(),
        total: TermTotals::default(),
        rejected: Vec::new(),
    };
    for fill in fills {
        match state.apply_fill(fill, tz) {
            Ok(FillOutcome::Applied { gain: Some(gain) }) if gain.trade_date.year == year => {
                for d in &gain.disposals {
                    let bucket = match d.term {
                        Term::ShortTerm => &mut report.short_term,
                        Term::LongTerm => &mut report.long_term,
                    };
                    bucket.add(d.proceeds, d.cost_basis, d.gain);
                    report.total.add(d.proceeds, d.cost_basis, d.gain);
                }
                report.sales.push(*gain);
            }
            Ok(_) => {}
            Err(error) => report.rejected.push((fill.fill_id.clone(), error)),
        }
    }
    report
}
