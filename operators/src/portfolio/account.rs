//! `AccountState`: the per-account engine (positions, applied fill ids, pending lot
//! instructions, last known marks). The operator and the capital-gains report both drive
//! it, so a report replays exactly what the operator computed.
//!
//! Rules:
//! - A fill is validated first; a refused fill changes nothing (its id is not recorded).
//! - A fill whose id was already applied is a duplicate: nothing changes
//!   (`FillOutcome::Duplicate`), even if its content differs (the id is authoritative).
//! - A lot instruction must arrive before its fill; it is kept until that fill arrives,
//!   and a later instruction for the same fill replaces it. Instructions for a fill
//!   already applied are refused, as are instructions naming a lot that is not open.
//! - Marks are kept for every symbol they arrive for (the pipeline should only route
//!   marks of symbols the account trades); they are not validated.

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;

use super::calendar::TimeZoneRule;
use super::error::PortfolioError;
use super::gain::{LotDisposal, RealizedGain};
use super::lot::LotId;
use super::position::Position;
use super::types::{Fill, LotInstruction, LotMethod};
use super::valuation::Mark;

/// Everything the portfolio knows about one account. This is the operator's `State`.
///
/// `closed_cost_basis` is the sum of [`LotDisposal::closed_cost`] over every disposal the
/// account ever made (long lots sold, short lots covered): the gross cost basis of every
/// lot quantity closed so far, `>= 0`. `None` means unknown: the state was restored from a
/// record that predates the field (and the account may have closed lots then); it stays
/// `None` from then on, it is never guessed as zero.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountState {
    pub account: String,
    /// Lot method for closing fills from now on.
    pub method: LotMethod,
    /// Positions by symbol, including flat ones (kept for their realized P&L).
    pub positions: BTreeMap<String, Position>,
    /// Ids of every fill applied (for idempotence).
    pub applied_fills: BTreeSet<String>,
    /// Lot instructions by the id of the closing fill they are for.
    pub pending_instructions: BTreeMap<String, Vec<LotId>>,
    /// Latest marks by symbol, used for snapshots.
    pub marks: BTreeMap<String, Mark>,
    /// Gross cost basis of every lot quantity closed so far; `None` when unknown (see
    /// the type docs).
    pub closed_cost_basis: Option<Decimal>,
}

/// What applying a fill did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FillOutcome {
    /// The fill id was already applied; nothing changed.
    Duplicate,
    /// Applied; `gain` is present when the fill closed at least part of a lot.
    Applied { gain: Option<Box<RealizedGain>> },
}

impl AccountState {
    pub fn new(account: &str, method: LotMethod) -> Self {
        AccountState {
            account: account.to_owned(),
            method,
            positions: BTreeMap::new(),
            applied_fills: BTreeSet::new(),
            pending_instructions: BTreeMap::new(),
            marks: BTreeMap::new(),
            closed_cost_basis: Some(Decimal::ZERO),
        }
    }

    /// Applies one fill; see the module docs for duplicates and refusals.
    pub fn apply_fill(
        &mut self,
        fill: &Fill,
        tz: TimeZoneRule,
    ) -> Result<FillOutcome, PortfolioError> {
        fill.validate()?;
        if fill.account != self.account {
            return Err(PortfolioError::AccountMismatch {
                expected: self.account.clone(),
                got: fill.account.clone(),
            });
        }
        if !self.applied_fills.insert(fill.fill_id.clone()) {
            return Ok(FillOutcome::Duplicate);
        }
        let instruction = self
            .pending_instructions
            .remove(&fill.fill_id)
            .unwrap_or_default();
        let position = self
            .positions
            .entry(fill.symbol.clone())
            .or_insert_with(|| Position::new(&fill.symbol));
        let disposals = position.apply_fill(fill, self.method, &instruction, tz);
        let closed: Decimal = disposals.iter().map(LotDisposal::closed_cost).sum();
        self.closed_cost_basis = self.closed_cost_basis.map(|c| c + closed);
        let gain = (!disposals.is_empty()).then(|| {
            Box::new(RealizedGain::from_disposals(
                &self.account,
                &fill.symbol,
                &fill.fill_id,
                fill.side,
                fill.executed_at,
                tz.trade_date(fill.executed_at),
                disposals,
            ))
        });
        Ok(FillOutcome::Applied { gain })
    }

    /// Records a lot instruction for a fill that has not arrived yet.
    pub fn add_instruction(&mut self, instruction: LotInstruction) -> Result<(), PortfolioError> {
        if instruction.lots.is_empty() {
            return Err(PortfolioError::EmptyInstruction);
        }
        if self.applied_fills.contains(&instruction.fill_id) {
            return Err(PortfolioError::FillAlreadyProcessed(instruction.fill_id));
        }
        let open = |id: &LotId| {
            self.positions
                .values()
                .flat_map(|p| &p.lots)
                .any(|l| &l.id == id)
        };
        if let Some(unknown) = instruction.lots.iter().find(|id| !open(id)) {
            return Err(PortfolioError::UnknownLot(unknown.clone()));
        }
        self.pending_instructions
            .insert(instruction.fill_id, instruction.lots);
        Ok(())
    }

    /// Records an instruction without checking that its lots are open yet (used when
    /// replaying a history whose instructions are all known up front).
    pub(crate) fn preload_instruction(&mut self, instruction: &LotInstruction) {
        self.pending_instructions
            .insert(instruction.fill_id.clone(), instruction.lots.clone());
    }

    /// True when no lot of this account was ever closed, provably from the state alone:
    /// every applied fill still has its own open lot (lot id = fill id) at its full
    /// original quantity. (A disposal removes or shrinks a lot whose opening fill was
    /// applied, and a fill that closes anything opens at most its remainder.) Used to
    /// restore `closed_cost_basis` as exactly zero from a record that predates it;
    /// `false` means "may have closed", not "has closed".
    pub fn never_closed(&self) -> bool {
        let full_lots: BTreeSet<&str> = self
            .positions
            .values()
            .flat_map(|p| &p.lots)
            .filter(|l| l.qty == l.original_qty)
            .map(|l| l.id.0.as_str())
            .collect();
        self.applied_fills
            .iter()
            .all(|id| full_lots.contains(id.as_str()))
    }

    /// Positions that hold lots, in symbol order.
    pub fn open_positions(&self) -> impl Iterator<Item = &Position> {
        self.positions.values().filter(|p| !p.lots.is_empty())
    }
}
