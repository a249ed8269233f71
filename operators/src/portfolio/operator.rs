//! `PortfolioOperator`: the keyed (by account id) stream operator.
//!
//! Per input:
//! - `Fill`: refused -> `FillRejected`; duplicate fill id -> no output, no change;
//!   applied -> `RealizedGain` (if it closed lots), then `PositionSnapshot` for its symbol,
//!   then `PortfolioSnapshot` for the account.
//! - `LotInstruction`: refused -> `InstructionRejected`; accepted -> no output (it takes
//!   effect when its fill arrives, under `LotMethod::SpecificLot` only).
//! - `SetLotMethod`: changes the method for later fills -> `PortfolioSnapshot`.
//! - `Mark`: remembers the symbol's prices for later snapshots -> no output (marks move
//!   every tick; valuing on every tick is the API's job, at read time).
//!
//! `PortfolioSnapshot::holdings` is valued with the remembered marks when every open
//! position has one (`None` otherwise); "today" is the trade date of the record time in
//! the configured time zone. A record that is refused for an account with no state leaves
//! the state absent (no changelog write).
//!
//! Times: trade dates and holding periods come from `Fill::executed_at`; the record time
//! passed to `process` stamps snapshots (`as_of`) and defines "today" for their valuation.
//!
//! Topic mapping (for the pipeline): `PositionSnapshot` -> compacted, key `account/symbol`
//! (a flat position has `qty = 0` and no lots); `PortfolioSnapshot` -> compacted, key
//! `account`; `RealizedGain` -> event topic keyed by account; rejections -> dead letters.

use rust_decimal::Decimal;

use super::account::{AccountState, FillOutcome};
use super::calendar::TimeZoneRule;
use super::error::PortfolioError;
use super::gain::RealizedGain;
use super::lot::Lot;
use super::position::Position;
use super::types::{Fill, LotInstruction, LotMethod};
use super::valuation::{value_positions, HoldingsValuation, Mark};
use crate::{Operator, Timestamp};

/// Operator configuration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortfolioConfig {
    /// Lot method of a new account (FIFO by default).
    pub default_method: LotMethod,
    /// Calendar of trade dates (US/Eastern by default).
    pub time_zone: TimeZoneRule,
}

/// The portfolio operator; see the module docs.
#[derive(Clone, Debug, Default)]
pub struct PortfolioOperator {
    pub config: PortfolioConfig,
}

impl PortfolioOperator {
    pub fn new(config: PortfolioConfig) -> Self {
        PortfolioOperator { config }
    }
}

/// Everything the operator consumes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortfolioInput {
    Fill(Fill),
    LotInstruction(LotInstruction),
    SetLotMethod(LotMethod),
    Mark { symbol: String, mark: Mark },
}

/// State of one position, for a compacted topic keyed by account + symbol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PositionSnapshot {
    pub account: String,
    pub symbol: String,
    pub as_of: Timestamp,
    /// Signed: negative for a short position.
    pub qty: Decimal,
    pub avg_cost: Option<Decimal>,
    /// Signed: negative (short-sale proceeds) for a short position.
    pub cost_basis: Decimal,
    pub realized_pnl: Decimal,
    /// Open lots, oldest first.
    pub lots: Vec<Lot>,
}

impl PositionSnapshot {
    pub fn of(account: &str, position: &Position, as_of: Timestamp) -> Self {
        PositionSnapshot {
            account: account.to_owned(),
            symbol: position.symbol.clone(),
            as_of,
            qty: position.qty(),
            avg_cost: position.avg_cost(),
            cost_basis: position.cost_basis(),
            realized_pnl: position.realized_pnl,
            lots: position.lots.iter().cloned().collect(),
        }
    }
}

/// Account-level summary, for a compacted topic keyed by account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortfolioSnapshot {
    pub account: String,
    pub as_of: Timestamp,
    pub method: LotMethod,
    pub open_positions: usize,
    /// Signed cost basis of all open lots.
    pub cost_basis: Decimal,
    /// Realized P&L of all positions, flat ones included.
    pub realized_pnl: Decimal,
    /// Gross cost basis of every lot quantity closed so far (`>= 0`; `None` when unknown,
    /// see `AccountState::closed_cost_basis`).
    pub closed_cost_basis: Option<Decimal>,
    /// Valuation at the remembered marks, when every open position has one.
    pub holdings: Option<HoldingsValuation>,
}

/// Everything the operator emits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortfolioOutput {
    PositionSnapshot(PositionSnapshot),
    RealizedGain(RealizedGain),
    PortfolioSnapshot(PortfolioSnapshot),
    FillRejected {
        account: String,
        fill_id: String,
        error: PortfolioError,
    },
    InstructionRejected {
        account: String,
        fill_id: String,
        error: PortfolioError,
    },
}

impl Operator for PortfolioOperator {
    type Key = String;
    type Input = PortfolioInput;
    type State = AccountState;
    type Output = PortfolioOutput;

    fn process(
        &self,
        key: &String,
        state: &mut Option<AccountState>,
        input: PortfolioInput,
        time: Timestamp,
        out: &mut Vec<PortfolioOutput>,
    ) {
        let was_absent = state.is_none();
        let fresh = || AccountState::new(key, self.config.default_method);
        let mut account = state.take().unwrap_or_else(fresh);
        self.apply(&mut account, input, time, out);
        if !(was_absent && account == fresh()) {
            *state = Some(account);
        }
    }
}

impl PortfolioOperator {
    fn apply(
        &self,
        account: &mut AccountState,
        input: PortfolioInput,
        time: Timestamp,
        out: &mut Vec<PortfolioOutput>,
    ) {
        match input {
            PortfolioInput::Fill(fill) => match account.apply_fill(&fill, self.config.time_zone) {
                Err(error) => out.push(PortfolioOutput::FillRejected {
                    account: account.account.clone(),
                    fill_id: fill.fill_id,
                    error,
                }),
                Ok(FillOutcome::Duplicate) => {}
                Ok(FillOutcome::Applied { gain }) => {
                    out.extend(gain.map(|g| PortfolioOutput::RealizedGain(*g)));
                    let position = &account.positions[&fill.symbol];
                    let snapshot = PositionSnapshot::of(&account.account, position, time);
                    out.push(PortfolioOutput::PositionSnapshot(snapshot));
                    out.push(PortfolioOutput::PortfolioSnapshot(
                        self.snapshot(account, time),
                    ));
                }
            },
            PortfolioInput::LotInstruction(instruction) => {
                let fill_id = instruction.fill_id.clone();
                if let Err(error) = account.add_instruction(instruction) {
                    out.push(PortfolioOutput::InstructionRejected {
                        account: account.account.clone(),
                        fill_id,
                        error,
                    });
                }
            }
            PortfolioInput::SetLotMethod(method) => {
                account.method = method;
                out.push(PortfolioOutput::PortfolioSnapshot(
                    self.snapshot(account, time),
                ));
            }
            PortfolioInput::Mark { symbol, mark } => {
                account.marks.insert(symbol, mark);
            }
        }
    }

    /// The account summary at `time`.
    pub fn snapshot(&self, account: &AccountState, time: Timestamp) -> PortfolioSnapshot {
        let tz = self.config.time_zone;
        let day_start = tz.day_start(tz.trade_date(time));
        let holdings = value_positions(account.positions.values(), &account.marks, day_start);
        PortfolioSnapshot {
            account: account.account.clone(),
            as_of: time,
            method: account.method,
            open_positions: account.open_positions().count(),
            cost_basis: account.open_positions().map(Position::cost_basis).sum(),
            realized_pnl: holdings.realized_pnl,
            closed_cost_basis: account.closed_cost_basis,
            holdings: holdings.unpriced.is_empty().then_some(holdings),
        }
    }
}
