//! `portfolio`: the pure [`PortfolioOperator`] (tax lots, realized P&L) bound to its
//! topics, keyed by account id.
//!
//! Input: `executions` (ExecutionReport, key account id: one report per side of every fill,
//! written by the matching pipeline). Outputs: `positions.snapshots` (PositionSnapshot,
//! compacted, key `account_id|symbol`), `realized.gains` (RealizedGain, key account id),
//! `portfolios.snapshots` (PortfolioSnapshot, compacted, key account id), dead letters on
//! `dlq`. State: the compacted `portfolio.changelog` (PortfolioState, key account id).
//! Every topic name and the group id (`<prefix>portfolio`) can carry a prefix.
//!
//! Mapping decisions:
//! - **Fill.** `exec_id` -> fill id (and the id of the lot it opens), `last_qty` / `last_price`
//!   / `fee` -> qty / price / fee, `at_ns` -> execution time and event time. A report the
//!   pure operator would refuse on its own (`Fill::validate`: empty ids, non-positive
//!   quantity, negative price or fee, out of range) fails `decode` with
//!   [`DecodeFailure::Invalid`], so the runtime dead-letters it with partition and offset.
//!   A report whose `account_id` differs from the record key (only known in `process`) is
//!   refused by the operator (`FillRejected`) and written as a `DeadLetter` (kind
//!   `INVALID`, raw input, partition / offset `-1`, `failed_at_ns` = event time) in the same
//!   transaction, as the accounts pipeline does. A repeated `exec_id` emits nothing.
//! - **Amounts on the wire.** Output amounts are the operator's exact values rounded half
//!   even to the house scale (8 places): fee allocation runs at 10 places
//!   (`operators::portfolio::ALLOCATION_SCALE`) and `avg_cost` is a quotient, so some values
//!   have more digits than Avro `decimal(28, 8)` holds, and an encoding error would stop the
//!   pipeline. Values with at most 8 places (every value when fees split evenly) are
//!   published unchanged. The changelog keeps the exact values (see below).
//! - **PositionSnapshot** (schema v1): a flat position has `qty = 0`, `avg_cost = 0` (the
//!   operator's `None`) and no lots; a lot's `qty` is signed (negative for a short lot),
//!   its `price` is the opening execution price and `acquired_at_ns` the opening fill's
//!   `at_ns`. Lot fees are not published (they are in `cost_basis`).
//! - **PortfolioSnapshot** carries no valuation: this binding feeds no marks, so the
//!   operator's `holdings` is always `None` (valuation happens at read time).
//! - **Changelog.** `PortfolioState` stores the whole `AccountState`; amounts that can
//!   exceed 8 places (a lot's unallocated fee, a position's realized P&L, the account's
//!   `closed_cost_basis`) are exact decimal text, quantities and prices (which come from
//!   the wire) are Avro decimals.
//! - **Closed cost basis** (PortfolioSnapshot / PortfolioState v2): the operator's
//!   `closed_cost_basis`, rounded like every output amount on the snapshot, exact in the
//!   changelog. A v1 changelog record has none: it is restored as exactly `0` when the
//!   state proves no lot was ever closed (`AccountState::never_closed`), otherwise as
//!   unknown (`None`, published as `null`), which it then stays.
//!
//! Invariants: `decode` / `encode` are pure functions of their arguments; `encode_state`
//! then `decode_state` returns an equal `AccountState`; outputs per account follow the
//! account's fill order (the partition order of `executions`).

use super::{name_list, prefixed};
use crate::spec::{DecodeFailure, OutRecord, Pipeline};
use operators::portfolio::{
    AccountState, Fill, Lot, LotId, LotMethod, LotSide, Mark, PortfolioConfig, PortfolioInput, PortfolioOperator,
    PortfolioOutput, Position, RealizedGain, Side, Term,
};
use operators::{Operator, Timestamp};
use rust_decimal::{Decimal, RoundingStrategy};
use schemas::records as w;
use schemas::{Codec, CodecError};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

pub const EXECUTIONS: &str = "executions";
pub const POSITIONS: &str = "positions.snapshots";
pub const GAINS: &str = "realized.gains";
pub const PORTFOLIOS: &str = "portfolios.snapshots";
pub const CHANGELOG: &str = "portfolio.changelog";

/// The (possibly prefixed) topic names of one pipeline copy.
#[derive(Clone, Copy, Debug)]
pub struct Topics {
    pub executions: &'static str,
    pub positions: &'static str,
    pub gains: &'static str,
    pub portfolios: &'static str,
    pub changelog: &'static str,
}

/// The pipeline. Group id `<prefix>portfolio`.
pub struct Portfolio {
    op: PortfolioBinding,
    name: &'static str,
    inputs: &'static [&'static str],
    topics: Topics,
}

impl Default for Portfolio {
    fn default() -> Self {
        Self::with_prefix("")
    }
}

impl Portfolio {
    /// Topics `<prefix>executions` etc., default operator config (FIFO, US/Eastern). The
    /// names are leaked once per call: build one per process.
    pub fn with_prefix(prefix: &str) -> Self {
        Self::with_config(prefix, PortfolioConfig::default())
    }

    /// Like [`Portfolio::with_prefix`] with an explicit config (it must be the same on
    /// every instance and on replay).
    pub fn with_config(prefix: &str, config: PortfolioConfig) -> Self {
        let leak = |name: &str| prefixed(prefix, name);
        let topics = Topics {
            executions: leak(EXECUTIONS),
            positions: leak(POSITIONS),
            gains: leak(GAINS),
            portfolios: leak(PORTFOLIOS),
            changelog: leak(CHANGELOG),
        };
        Portfolio {
            op: PortfolioBinding { inner: PortfolioOperator::new(config) },
            name: leak("portfolio"),
            inputs: name_list(vec![topics.executions]),
            topics,
        }
    }

    /// The topic names.
    pub fn topics(&self) -> &Topics {
        &self.topics
    }
}

/// A decoded fill with the raw record it came from (for dead-lettering a refusal).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoundInput {
    pub fill: Fill,
    pub topic: String,
    pub raw: Vec<u8>,
}

/// An operator output with the input's raw record attached to refusals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoundOutput {
    /// Event time of the call (ns).
    pub time_ns: i64,
    /// `(topic, raw value)` of the input, set on refusals only.
    pub dead_letter: Option<(String, Vec<u8>)>,
    pub output: PortfolioOutput,
}

/// [`PortfolioOperator`] fed with fills; outputs are the inner operator's, in order. Pure.
#[derive(Clone, Debug, Default)]
pub struct PortfolioBinding {
    pub inner: PortfolioOperator,
}

impl Operator for PortfolioBinding {
    type Key = String;
    type Input = BoundInput;
    type State = AccountState;
    type Output = BoundOutput;

    fn process(&self, key: &String, state: &mut Option<AccountState>, input: BoundInput, time: Timestamp, out: &mut Vec<BoundOutput>) {
        let mut buf = Vec::new();
        self.inner.process(key, state, PortfolioInput::Fill(input.fill), time, &mut buf);
        for output in buf {
            let refused = matches!(output, PortfolioOutput::FillRejected { .. } | PortfolioOutput::InstructionRejected { .. });
            let dead_letter = refused.then(|| (input.topic.clone(), input.raw.clone()));
            out.push(BoundOutput { time_ns: time.nanos(), dead_letter, output });
        }
    }
}

/// The fill an execution report describes.
pub fn fill_of(x: w::ExecutionReport) -> Fill {
    Fill {
        account: x.account_id,
        symbol: x.symbol,
        side: match x.side {
            w::Side::Buy => Side::Buy,
            w::Side::Sell => Side::Sell,
        },
        qty: x.last_qty,
        price: x.last_price,
        fee: x.fee,
        fill_id: x.exec_id,
        executed_at: Timestamp(x.at_ns),
    }
}

/// `value` rounded half even to the house scale (see the module docs).
pub fn wire_amount(value: Decimal) -> Decimal {
    value.round_dp_with_strategy(schemas::decimal::SCALE, RoundingStrategy::MidpointNearestEven)
}

fn days(d: operators::portfolio::TradeDate) -> i32 {
    i32::try_from(d.epoch_days()).unwrap_or(i32::MAX)
}

fn w_lot_side(s: LotSide) -> w::LotSide {
    match s {
        LotSide::Long => w::LotSide::Long,
        LotSide::Short => w::LotSide::Short,
    }
}

fn lot_side(s: w::LotSide) -> LotSide {
    match s {
        w::LotSide::Long => LotSide::Long,
        w::LotSide::Short => LotSide::Short,
    }
}

fn w_method(m: LotMethod) -> w::LotMethod {
    match m {
        LotMethod::Fifo => w::LotMethod::Fifo,
        LotMethod::Lifo => w::LotMethod::Lifo,
        LotMethod::SpecificLot => w::LotMethod::SpecificLot,
    }
}

fn method(m: w::LotMethod) -> LotMethod {
    match m {
        w::LotMethod::Fifo => LotMethod::Fifo,
        w::LotMethod::Lifo => LotMethod::Lifo,
        w::LotMethod::SpecificLot => LotMethod::SpecificLot,
    }
}

/// The wire record of a realized gain (amounts rounded to the house scale).
pub fn gain_record(g: &RealizedGain) -> w::RealizedGain {
    w::RealizedGain {
        account_id: g.account.clone(),
        symbol: g.symbol.clone(),
        fill_id: g.fill_id.clone(),
        side: match g.side {
            Side::Buy => w::Side::Buy,
            Side::Sell => w::Side::Sell,
        },
        executed_at_ns: g.executed_at.nanos(),
        trade_date: days(g.trade_date),
        qty: wire_amount(g.qty),
        proceeds: wire_amount(g.proceeds),
        cost_basis: wire_amount(g.cost_basis),
        gain: wire_amount(g.gain),
        short_term_gain: wire_amount(g.short_term_gain),
        long_term_gain: wire_amount(g.long_term_gain),
        disposals: g
            .disposals
            .iter()
            .map(|d| w::LotDisposal {
                lot_id: d.lot_id.0.clone(),
                lot_side: w_lot_side(d.lot_side),
                qty: wire_amount(d.qty),
                opened_at_ns: d.opened_at.nanos(),
                acquired_on: days(d.acquired_on),
                disposed_on: days(d.disposed_on),
                holding_days: i32::try_from(d.holding_days).unwrap_or(i32::MAX),
                proceeds: wire_amount(d.proceeds),
                cost_basis: wire_amount(d.cost_basis),
                gain: wire_amount(d.gain),
                term: match d.term {
                    Term::ShortTerm => w::HoldingTerm::ShortTerm,
                    Term::LongTerm => w::HoldingTerm::LongTerm,
                },
            })
            .collect(),
    }
}

/// The wire record of a position snapshot (see the module docs for flat positions).
pub fn position_record(p: &operators::portfolio::PositionSnapshot) -> w::PositionSnapshot {
    w::PositionSnapshot {
        account_id: p.account.clone(),
        symbol: p.symbol.clone(),
        qty: wire_amount(p.qty),
        avg_cost: wire_amount(p.avg_cost.unwrap_or(Decimal::ZERO)),
        cost_basis: wire_amount(p.cost_basis),
        realized_pnl: wire_amount(p.realized_pnl),
        lots: p
            .lots
            .iter()
            .map(|l| w::TaxLot {
                lot_id: l.id.0.clone(),
                qty: wire_amount(l.signed_qty()),
                price: wire_amount(l.price),
                acquired_at_ns: l.opened_at.nanos(),
                fee: Some(wire_amount(l.fee)),
            })
            .collect(),
        as_of_ns: p.as_of.nanos(),
    }
}

/// Key of `positions.snapshots`.
pub fn position_key(account: &str, symbol: &str) -> String {
    format!("{account}|{symbol}")
}

/// The changelog record of a state (exact; see the module docs).
pub fn state_record(s: &AccountState) -> w::PortfolioState {
    w::PortfolioState {
        account_id: s.account.clone(),
        lot_method: w_method(s.method),
        positions: s
            .positions
            .values()
            .map(|p| w::PositionState {
                symbol: p.symbol.clone(),
                realized_pnl: p.realized_pnl.to_string(),
                lots: p
                    .lots
                    .iter()
                    .map(|l| w::LotState {
                        lot_id: l.id.0.clone(),
                        side: w_lot_side(l.side),
                        opened_at_ns: l.opened_at.nanos(),
                        original_qty: l.original_qty,
                        qty: l.qty,
                        price: l.price,
                        fee: l.fee.to_string(),
                    })
                    .collect(),
            })
            .collect(),
        applied_fills: s.applied_fills.iter().cloned().collect(),
        pending_instructions: s
            .pending_instructions
            .iter()
            .map(|(fill_id, lots)| w::LotInstructionState { fill_id: fill_id.clone(), lots: lots.iter().map(|l| l.0.clone()).collect() })
            .collect(),
        marks: s.marks.iter().map(|(symbol, m)| w::MarkState { symbol: symbol.clone(), last: m.last, previous_close: m.previous_close }).collect(),
        closed_cost_basis: s.closed_cost_basis.map(|c| c.to_string()),
    }
}

fn exact(field: &str, text: &str) -> Result<Decimal, CodecError> {
    Decimal::from_str_exact(text).map_err(|e| CodecError::Undecodable { record: "PortfolioState", message: format!("{field} {text:?}: {e}") })
}

/// The state a changelog record describes.
pub fn from_state_record(r: w::PortfolioState) -> Result<AccountState, CodecError> {
    let mut positions = BTreeMap::new();
    for p in r.positions {
        let mut lots = VecDeque::with_capacity(p.lots.len());
        for l in p.lots {
            lots.push_back(Lot {
                id: LotId(l.lot_id),
                side: lot_side(l.side),
                opened_at: Timestamp(l.opened_at_ns),
                original_qty: l.original_qty,
                qty: l.qty,
                price: l.price,
                fee: exact("fee", &l.fee)?,
            });
        }
        let realized_pnl = exact("realized_pnl", &p.realized_pnl)?;
        positions.insert(p.symbol.clone(), Position { symbol: p.symbol, lots, realized_pnl });
    }
    let closed_cost_basis = r.closed_cost_basis.as_deref().map(|c| exact("closed_cost_basis", c)).transpose()?;
    let mut state = AccountState {
        account: r.account_id,
        method: method(r.lot_method),
        positions,
        applied_fills: r.applied_fills.into_iter().collect::<BTreeSet<_>>(),
        pending_instructions: r.pending_instructions.into_iter().map(|i| (i.fill_id, i.lots.into_iter().map(LotId).collect())).collect(),
        marks: r.marks.into_iter().map(|m| (m.symbol, Mark { last: m.last, previous_close: m.previous_close })).collect(),
        closed_cost_basis,
    };
    if state.closed_cost_basis.is_none() && state.never_closed() {
        state.closed_cost_basis = Some(Decimal::ZERO);
    }
    Ok(state)
}

impl Pipeline for Portfolio {
    type Op = PortfolioBinding;

    fn name(&self) -> &'static str {
        self.name
    }
    fn inputs(&self) -> &'static [&'static str] {
        self.inputs
    }
    fn changelog(&self) -> Option<&'static str> {
        Some(self.topics.changelog)
    }
    fn operator(&self) -> &PortfolioBinding {
        &self.op
    }

    fn decode(&self, codec: &Codec, topic: &str, value: &[u8]) -> Result<BoundInput, DecodeFailure> {
        if topic != self.topics.executions {
            return Err(DecodeFailure::Invalid(format!("topic {topic} is not an input of {}", self.name)));
        }
        let fill = fill_of(codec.decode(value)?);
        fill.validate().map_err(|e| DecodeFailure::Invalid(format!("fill {}: {e}", fill.fill_id)))?;
        Ok(BoundInput { fill, topic: topic.to_string(), raw: value.to_vec() })
    }

    fn event_time(&self, input: &BoundInput, _record_ms: Option<i64>) -> Timestamp {
        input.fill.executed_at
    }

    fn encode(&self, codec: &Codec, o: &BoundOutput) -> Result<OutRecord, CodecError> {
        let t = &self.topics;
        let rec = |topic: &'static str, key: String, value: Vec<u8>| OutRecord { topic, key, value, partition: None };
        Ok(match &o.output {
            PortfolioOutput::PositionSnapshot(p) => rec(t.positions, position_key(&p.account, &p.symbol), codec.encode(&position_record(p))?),
            PortfolioOutput::RealizedGain(g) => rec(t.gains, g.account.clone(), codec.encode(&gain_record(g))?),
            PortfolioOutput::PortfolioSnapshot(s) => {
                let v = w::PortfolioSnapshot {
                    account_id: s.account.clone(),
                    as_of_ns: s.as_of.nanos(),
                    lot_method: w_method(s.method),
                    open_positions: i32::try_from(s.open_positions).unwrap_or(i32::MAX),
                    cost_basis: wire_amount(s.cost_basis),
                    realized_pnl: wire_amount(s.realized_pnl),
                    closed_cost_basis: s.closed_cost_basis.map(wire_amount),
                };
                rec(t.portfolios, s.account.clone(), codec.encode(&v)?)
            }
            PortfolioOutput::FillRejected { account, error, .. } | PortfolioOutput::InstructionRejected { account, error, .. } => {
                let (topic, raw) = o.dead_letter.clone().unwrap_or_default();
                let v = w::DeadLetter {
                    pipeline: self.name.to_string(),
                    source_topic: topic,
                    source_partition: -1,
                    source_offset: -1,
                    error_kind: w::ErrorKind::Invalid,
                    error: error.to_string(),
                    key: Some(account.as_bytes().to_vec()),
                    value_size: i32::try_from(raw.len()).unwrap_or(i32::MAX),
                    value: Some(raw[..raw.len().min(crate::dlq::MAX_KEPT_BYTES)].to_vec()),
                    failed_at_ns: o.time_ns,
                };
                rec(schemas::topics::DLQ, account.clone(), codec.encode(&v)?)
            }
        })
    }

    fn encode_state(&self, codec: &Codec, state: &AccountState) -> Result<Vec<u8>, CodecError> {
        codec.encode(&state_record(state))
    }

    fn decode_state(&self, codec: &Codec, bytes: &[u8]) -> Result<AccountState, CodecError> {
        from_state_record(codec.decode(bytes)?)
    }
}

#[cfg(test)]
#[path = "portfolio/tests.rs"]
mod tests;
