//! The venue: the matching engine behind a decimal interface, as the `matching` pipeline
//! runs it (key = symbol).
//!
//! [`VenueOperator`] wraps [`MatchingOperator`] unchanged and adds what the wire needs and
//! the engine does not do:
//! - **Decimal -> ticks / lots** with the listed instrument's rules. An off-tick price, an
//!   off-lot quantity or a value out of range is answered with a machine-readable
//!   `rejected` order report ([`VenueReason::OffTick`], [`VenueReason::OffLot`],
//!   [`VenueReason::OutOfRange`]), never a panic and never a dead letter.
//! - **Ticks / lots -> decimals** on every output.
//! - **Average fill price** per order (the engine keeps only quantities): a tally of
//!   `price_ticks * lots` per live order with fills.
//! - **Order reports for fills**: each execution is followed by the order's
//!   `partially_filled` / `filled` report, which carries that execution
//!   ([`OrderReport::fill`]: exec id, quantity, price), so `orders.events` alone tells every
//!   order's lifecycle *and* its fills, and a `Trade` carries both order ids.
//! - **Depth on change**: a [`DepthReport`] (top `depth_levels` per side, status, last
//!   trade) after a command (or an expiry punctuation) only when that view changed.
//! - **Day-order expiry at the session close** by stream-time punctuation: with a
//!   non-empty calendar ([`BookConfig::calendar`], usually compiled from
//!   [`CalendarRules`](crate::matching::CalendarRules), e.g. the US-equities default)
//!   the operator asks for `punctuate(StreamTime)` every [`EXPIRY_PUNCTUATION_NS`] of
//!   stream time and expires every day order whose close is `<=` the stream time, emitting
//!   `expired` order reports (and depth on change) at that time, even if the symbol never
//!   gets another command. The book also still expires them before its next command (so an
//!   order never trades after its close when punctuation has not fired yet, e.g. for the
//!   very record that crosses the close, which is processed before the punctuation).
//!
//! Invariants:
//! - **One ordered stream per order.** Every report of an order (`new`, each fill's
//!   `partially_filled` / `filled` with its [`OrderReport::fill`], and the terminal
//!   `canceled` / `expired` / `rejected` / `replaced`) is emitted by the one step of the
//!   one symbol that owns the order, in the order the book applied them: a fill's report
//!   always precedes any later terminal report of the same order, and `seq` orders them.
//!   The `matching` pipeline publishes them all on `orders.events` keyed by account, in
//!   output order within one transaction, so a consumer of `orders.events` (the accounts
//!   pipeline) sees every order's fills before its close. `FillReport`s (topic
//!   `executions`) have no such ordering relative to `orders.events` and must not be
//!   combined with it by a consumer that needs the order of fills and closes.
//! - Every `partially_filled` / `filled` report has `fill: Some(_)`, and `fill` is `None`
//!   on every other report; `fill.exec_id` is the preceding [`FillReport::exec_id`].
//! - Pure and deterministic, like the engine: same commands and punctuations with the same
//!   times -> same outputs (ids included) and the same state.
//! - Per symbol, `OrderReport::seq` is 1, 2, 3, ... (no gaps), `FillReport::exec_id` and
//!   `TradePrint::trade_id` are the engine's per-book counters (1, 2, 3, ... across
//!   delisting and re-listing), and `DepthReport::seq` is the number of steps the symbol
//!   has taken, including the one it follows. A step is a command, or a punctuation that
//!   expired at least one order ([`VenueState::commands`] counts both), so depth
//!   sequence numbers strictly increase.
//! - Determinism with punctuation: stream time is per input partition (the largest event
//!   time seen on it), so *when* a symbol's day orders expire (and the time stamped on the
//!   `expired` reports) may depend on other symbols' records in the same partition. The
//!   outputs are still a pure function of the partition's log: the runtime replays the
//!   same records in the same order, punctuates at the same points (it persists the
//!   stream time with the committed offsets) and calls keys in key order. A golden run
//!   must replay per partition, not per symbol (`tests/integration/matching_e2e.rs`).
//! - Punctuation is a no-op (and [`Operator::punctuation_due`] is `false`) for a symbol
//!   with no day order due, so it writes nothing to the changelog.
//!
//! Not published (the wire has no record for them yet): refused cancels and refused
//! instrument commands (the engine's `RequestRejected` for `Cancel`, `List`, `Halt`,
//! `Resume`, `Delist`) and instrument status events (the status is in the next
//! [`DepthReport`]). A refused replace is published as the `rejected` report of the
//! replacement id (the accounts operator's convention).

mod image;
#[cfg(test)]
mod tests;

pub use image::{BookImage, ImageError, OrderImage};

use crate::matching::{
    AccountId, Book, BookConfig, BookEvent, CancelReason, Command, DepthSnapshot, InstrumentRules, Liquidity,
    MatchingConfig, MatchingOperator, MatchingOutput, NewOrder, OrderId, OrderStatus, OrderType, RejectReason, ReplaceOrder,
    RequestKind, RulesError, Side, StatusDetail, TimeInForce, TradingStatus,
};
use crate::{Operator, PunctuationKind, PunctuationSchedule, Timestamp};
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// A command as it arrives from the wire: ids mapped, prices and quantities still decimal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VenueCommand {
    /// Enter an order. `qty: None` is a notional order (not supported by the engine:
    /// rejected with [`VenueReason::NotionalUnsupported`]).
    Place {
        /// Order id.
        order_id: OrderId,
        /// Account.
        account: AccountId,
        /// Client order id.
        client_order_id: Option<String>,
        /// Side.
        side: Side,
        /// Type.
        order_type: OrderType,
        /// Time in force.
        tif: TimeInForce,
        /// Quantity.
        qty: Option<Decimal>,
        /// Limit price.
        limit_price: Option<Decimal>,
        /// Stop price.
        stop_price: Option<Decimal>,
    },
    /// Cancel a live order.
    Cancel {
        /// Order id.
        order_id: OrderId,
        /// Account.
        account: AccountId,
    },
    /// Cancel-and-replace. `tif: Some(_)` is rejected ([`VenueReason::TifChange`]): the
    /// engine cannot change an order's time in force.
    Replace {
        /// Live order to replace.
        order_id: OrderId,
        /// Replacement id.
        new_order_id: OrderId,
        /// Account.
        account: AccountId,
        /// Client id of the replacement.
        client_order_id: Option<String>,
        /// New quantity.
        qty: Option<Decimal>,
        /// New limit price.
        limit_price: Option<Decimal>,
        /// New stop price.
        stop_price: Option<Decimal>,
        /// New time in force (unsupported).
        tif: Option<TimeInForce>,
    },
    /// List the instrument.
    List(InstrumentRules),
    /// Halt trading.
    Halt,
    /// Resume trading.
    Resume,
    /// Delist.
    Delist,
}

/// Why an order (or a replacement) was rejected or canceled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VenueReason {
    /// The engine refused it.
    Reject(RejectReason),
    /// The engine canceled the rest.
    Cancel(CancelReason),
    /// A price is not a multiple of the tick size.
    OffTick,
    /// A quantity is not a multiple of the lot size.
    OffLot,
    /// A price or quantity does not fit in 64-bit ticks / lots.
    OutOfRange,
    /// Notional (dollar-amount) orders are not supported by the engine.
    NotionalUnsupported,
    /// A replace may not change the time in force.
    TifChange,
}

/// A status change of one order (`new`, fills, `canceled`, `rejected`, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderReport {
    /// Per-symbol report number: 1, 2, 3, ...
    pub seq: u64,
    /// The order.
    pub order_id: OrderId,
    /// Its account.
    pub account: AccountId,
    /// Its client order id.
    pub client_order_id: Option<String>,
    /// New status.
    pub status: OrderStatus,
    /// Reason for `rejected` / `canceled`.
    pub reason: Option<VenueReason>,
    /// Filled so far.
    pub filled_qty: Decimal,
    /// Still open.
    pub leaves_qty: Decimal,
    /// Average fill price (rounded to 8 decimals), if anything filled.
    pub avg_fill_price: Option<Decimal>,
    /// On `replaced`: the replacement.
    pub replaced_by: Option<OrderId>,
    /// On the replacement's `new`: the order it replaces.
    pub replaces: Option<OrderId>,
    /// On `replaced`: the replacement's terms.
    pub replacement: Option<ReplacementTerms>,
    /// On `partially_filled` / `filled`: the execution that caused this report (the
    /// [`FillReport`] just before it). `None` on every other status.
    pub fill: Option<ReportFill>,
}

/// The execution behind a `partially_filled` / `filled` [`OrderReport`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportFill {
    /// The execution's per-book id ([`FillReport::exec_id`]).
    pub exec_id: u64,
    /// Quantity of this fill.
    pub qty: Decimal,
    /// Price of this fill.
    pub price: Decimal,
}

/// What a replacement order looks like (on the replaced order's `replaced` report).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplacementTerms {
    /// Its quantity (what is left to trade).
    pub qty: Decimal,
    /// Its limit price.
    pub limit_price: Option<Decimal>,
    /// Its stop price.
    pub stop_price: Option<Decimal>,
}

/// One side of one fill.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FillReport {
    /// Per-book execution id.
    pub exec_id: u64,
    /// Per-book trade id.
    pub trade_id: u64,
    /// The order.
    pub order_id: OrderId,
    /// Its account.
    pub account: AccountId,
    /// Its client order id.
    pub client_order_id: Option<String>,
    /// Its side.
    pub side: Side,
    /// Maker or taker.
    pub liquidity: Liquidity,
    /// Quantity of this fill.
    pub last_qty: Decimal,
    /// Price of this fill (the maker's).
    pub last_price: Decimal,
    /// Filled so far, this fill included.
    pub cum_qty: Decimal,
    /// Still open.
    pub leaves_qty: Decimal,
    /// Average fill price of the order so far (rounded to 8 decimals).
    pub avg_price: Decimal,
}

/// A print on the public tape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TradePrint {
    /// Per-book trade id (1, 2, 3, ...).
    pub trade_id: u64,
    /// Price.
    pub price: Decimal,
    /// Quantity.
    pub qty: Decimal,
    /// Taker's side.
    pub aggressor: Side,
    /// The buy order.
    pub buy_order_id: OrderId,
    /// The sell order.
    pub sell_order_id: OrderId,
}

/// One aggregated level.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LevelReport {
    /// Price.
    pub price: Decimal,
    /// Open quantity.
    pub qty: Decimal,
    /// Number of orders.
    pub orders: usize,
}

/// Top-of-book view after a command that changed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DepthReport {
    /// Steps of the symbol so far, this one included: commands, plus punctuations that
    /// expired day orders.
    pub seq: u64,
    /// Trading status.
    pub status: TradingStatus,
    /// Bids, best first.
    pub bids: Vec<LevelReport>,
    /// Asks, best first.
    pub asks: Vec<LevelReport>,
    /// Last trade price.
    pub last_trade_price: Option<Decimal>,
    /// Close of the session of the latest command (ns; see [`crate::matching::SessionMarks`]).
    pub session_close_ns: Option<i64>,
    /// The latest close before that session (ns).
    pub previous_close_ns: Option<i64>,
    /// Last trade price as of `previous_close_ns`.
    pub previous_close_price: Option<Decimal>,
}

/// What the venue publishes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VenueEvent {
    /// Order status change (topic `orders.events`).
    Order(OrderReport),
    /// Fill (topic `executions`).
    Fill(FillReport),
    /// Tape (topic `trades`).
    Trade(TradePrint),
    /// Depth (topic `book.depth`).
    Depth(DepthReport),
}

/// One output: an event of one symbol at the time of the command that caused it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VenueOutput {
    /// The symbol (operator key).
    pub symbol: String,
    /// Event time of the command.
    pub time: Timestamp,
    /// The event.
    pub event: VenueEvent,
}

/// One input with its event time (ns since the epoch, from the payload).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VenueInput {
    /// Event time.
    pub at_ns: i64,
    /// The command.
    pub command: VenueCommand,
}

/// Per-symbol state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VenueState {
    /// Steps taken: commands processed plus punctuations that expired day orders (the last
    /// [`DepthReport::seq`]).
    pub commands: u64,
    /// The last [`OrderReport::seq`] issued.
    pub last_report: u64,
    /// The book; `None` until the first successful listing.
    pub book: Option<Book>,
    /// `sum(price_ticks * lots)` of the fills of every live order that has fills.
    pub fill_notional: BTreeMap<OrderId, i128>,
}

/// [`VenueState`] as plain data (the changelog image).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VenueImage {
    /// See [`VenueState::commands`].
    pub commands: u64,
    /// See [`VenueState::last_report`].
    pub last_report: u64,
    /// See [`BookImage`].
    pub book: Option<BookImage>,
    /// See [`VenueState::fill_notional`], in order id order.
    pub fill_notional: Vec<(OrderId, i128)>,
}

impl VenueState {
    /// The state as plain data.
    pub fn image(&self) -> VenueImage {
        VenueImage {
            commands: self.commands,
            last_report: self.last_report,
            book: self.book.as_ref().map(BookImage::capture),
            fill_notional: self.fill_notional.iter().map(|(k, v)| (*k, *v)).collect(),
        }
    }

    /// Rebuilds the state (books get `config`, which is not part of the image).
    pub fn from_image(image: VenueImage, config: BookConfig) -> Result<VenueState, ImageError> {
        Ok(VenueState {
            commands: image.commands,
            last_report: image.last_report,
            book: image.book.map(|b| b.restore(config)).transpose()?,
            fill_notional: image.fill_notional.into_iter().collect(),
        })
    }
}

/// Stream-time punctuation period of the venue (60 s). Calendars compiled from
/// [`CalendarRules`](crate::matching::CalendarRules) close on whole minutes, so punctuation
/// fires at the first record of the partition at or after each close.
pub const EXPIRY_PUNCTUATION_NS: i64 = 60_000_000_000;

/// The venue operator (key = symbol, state = [`VenueState`]).
#[derive(Clone, Debug)]
pub struct VenueOperator {
    engine: MatchingOperator,
    depth_levels: usize,
}

impl VenueOperator {
    /// An operator whose books use `book` and whose depth reports show `depth_levels` levels
    /// per side (0 = no depth reports).
    /// Day orders expire by stream-time punctuation every [`EXPIRY_PUNCTUATION_NS`] unless the
    /// calendar is empty (then no day order is ever accepted and nothing is scheduled).
    pub fn new(book: BookConfig, depth_levels: usize) -> Self {
        let expiry_every_ns = (!book.calendar.is_empty()).then_some(EXPIRY_PUNCTUATION_NS);
        let config = MatchingConfig { book, depth_levels: 0, expiry_every_ns };
        VenueOperator { engine: MatchingOperator::new(config), depth_levels }
    }

    /// The books' configuration (needed to restore state).
    pub fn book_config(&self) -> &BookConfig {
        &self.engine.config.book
    }

    /// Levels per side in depth reports.
    pub fn depth_levels(&self) -> usize {
        self.depth_levels
    }

    /// The engine command for `cmd`, or the reason to reject it before it reaches the book.
    /// `rules` are the listed book's (conversions need them).
    pub fn to_command(rules: Option<&InstrumentRules>, cmd: VenueCommand) -> Result<Command, (Rejection, VenueReason)> {
        let units = |r: Result<i64, RulesError>, off: VenueReason| {
            r.map_err(|e| match e {
                RulesError::OffTick { .. } | RulesError::OffLot { .. } => off,
                _ => VenueReason::OutOfRange,
            })
        };
        match cmd {
            VenueCommand::Place { order_id, account, client_order_id, side, order_type, tif, qty, limit_price, stop_price } => {
                let rej = Rejection { order_id, account, client_order_id: client_order_id.clone() };
                let Some(rules) = rules else {
                    return Err((rej, VenueReason::Reject(RejectReason::UnknownInstrument)));
                };
                let Some(qty) = qty else {
                    return Err((rej, VenueReason::NotionalUnsupported));
                };
                let conv = || -> Result<NewOrder, VenueReason> {
                    Ok(NewOrder {
                        order_id,
                        account,
                        client_order_id: client_order_id.clone(),
                        side,
                        order_type,
                        tif,
                        qty: units(rules.qty_to_lots(qty), VenueReason::OffLot)?,
                        limit_price: limit_price.map(|p| units(rules.price_to_ticks(p), VenueReason::OffTick)).transpose()?,
                        stop_price: stop_price.map(|p| units(rules.price_to_ticks(p), VenueReason::OffTick)).transpose()?,
                    })
                };
                conv().map(Command::NewOrder).map_err(|r| (rej, r))
            }
            VenueCommand::Cancel { order_id, account } => Ok(Command::Cancel { order_id, account }),
            VenueCommand::Replace { order_id, new_order_id, account, client_order_id, qty, limit_price, stop_price, tif } => {
                let rej = Rejection { order_id: new_order_id, account, client_order_id: client_order_id.clone() };
                let Some(rules) = rules else {
                    return Err((rej, VenueReason::Reject(RejectReason::UnknownInstrument)));
                };
                if tif.is_some() {
                    return Err((rej, VenueReason::TifChange));
                }
                let conv = || -> Result<ReplaceOrder, VenueReason> {
                    Ok(ReplaceOrder {
                        order_id,
                        new_order_id,
                        account,
                        client_order_id: client_order_id.clone(),
                        qty: qty.map(|q| units(rules.qty_to_lots(q), VenueReason::OffLot)).transpose()?,
                        limit_price: limit_price.map(|p| units(rules.price_to_ticks(p), VenueReason::OffTick)).transpose()?,
                        stop_price: stop_price.map(|p| units(rules.price_to_ticks(p), VenueReason::OffTick)).transpose()?,
                    })
                };
                conv().map(Command::Replace).map_err(|r| (rej, r))
            }
            VenueCommand::List(r) => Ok(Command::List(r)),
            VenueCommand::Halt => Ok(Command::Halt),
            VenueCommand::Resume => Ok(Command::Resume),
            VenueCommand::Delist => Ok(Command::Delist),
        }
    }

    /// Publishes the engine's events of one command (or expiry punctuation) of `key` at
    /// `time`: decimals, average prices, order reports for fills, the tape's order ids.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    fn publish(
        &self,
        key: &str,
        st: &mut VenueState,
        time: Timestamp,
        raw: Vec<MatchingOutput>,
        terms: Option<&ReplacementTerms>,
        replacement: Option<&Rejection>,
        out: &mut Vec<VenueOutput>,
    ) {
        let push = |out: &mut Vec<VenueOutput>, event| out.push(VenueOutput { symbol: key.to_owned(), time, event });
        // Executions of this command, for the tape's order ids.
        let mut fills: Vec<(u64, Side, OrderId)> = Vec::new();
        for ev in raw.into_iter().map(|o| o.event) {
            let rules = st.book.as_ref().map(|b| b.rules().clone());
            match (ev, rules) {
                (BookEvent::Order(u), Some(rules)) => {
                    let notional = st.fill_notional.get(&u.order_id).copied().unwrap_or(0);
                    let avg = avg_price(&rules, notional, u.cum_qty);
                    if matches!(
                        u.status,
                        OrderStatus::Canceled | OrderStatus::Expired | OrderStatus::Replaced | OrderStatus::Rejected | OrderStatus::Filled
                    ) {
                        st.fill_notional.remove(&u.order_id);
                    }
                    let (reason, replaced_by, replaces) = match u.detail {
                        StatusDetail::None => (None, None, None),
                        StatusDetail::Rejected(r) => (Some(VenueReason::Reject(r)), None, None),
                        StatusDetail::Canceled(c) => (Some(VenueReason::Cancel(c)), None, None),
                        StatusDetail::Replaces(id) => (None, None, Some(id)),
                        StatusDetail::ReplacedBy(id) => (None, Some(id), None),
                    };
                    st.last_report += 1;
                    push(
                        out,
                        VenueEvent::Order(OrderReport {
                            seq: st.last_report,
                            order_id: u.order_id,
                            account: u.account,
                            client_order_id: u.client_order_id,
                            status: u.status,
                            reason,
                            filled_qty: rules.lots_to_qty(u.cum_qty),
                            leaves_qty: rules.lots_to_qty(u.leaves_qty),
                            avg_fill_price: avg,
                            replaced_by,
                            replaces,
                            replacement: if u.status == OrderStatus::Replaced { terms.cloned() } else { None },
                            fill: None,
                        }),
                    );
                }
                (BookEvent::Execution(e), Some(rules)) => {
                    let n = st.fill_notional.entry(e.order_id).or_insert(0);
                    *n += e.fill_price as i128 * e.fill_qty as i128;
                    let notional = *n;
                    if e.status == OrderStatus::Filled {
                        st.fill_notional.remove(&e.order_id);
                    }
                    let avg = avg_price(&rules, notional, e.cum_qty);
                    fills.push((e.trade_id, e.side, e.order_id));
                    let fill = ReportFill {
                        exec_id: e.exec_id,
                        qty: rules.lots_to_qty(e.fill_qty),
                        price: rules.ticks_to_price(e.fill_price),
                    };
                    push(
                        out,
                        VenueEvent::Fill(FillReport {
                            exec_id: e.exec_id,
                            trade_id: e.trade_id,
                            order_id: e.order_id,
                            account: e.account,
                            client_order_id: e.client_order_id.clone(),
                            side: e.side,
                            liquidity: e.liquidity,
                            last_qty: rules.lots_to_qty(e.fill_qty),
                            last_price: rules.ticks_to_price(e.fill_price),
                            cum_qty: rules.lots_to_qty(e.cum_qty),
                            leaves_qty: rules.lots_to_qty(e.leaves_qty),
                            avg_price: avg.unwrap_or_else(|| rules.ticks_to_price(e.fill_price)),
                        }),
                    );
                    st.last_report += 1;
                    push(
                        out,
                        VenueEvent::Order(OrderReport {
                            seq: st.last_report,
                            order_id: e.order_id,
                            account: e.account,
                            client_order_id: e.client_order_id,
                            status: e.status,
                            reason: None,
                            filled_qty: rules.lots_to_qty(e.cum_qty),
                            leaves_qty: rules.lots_to_qty(e.leaves_qty),
                            avg_fill_price: avg,
                            replaced_by: None,
                            replaces: None,
                            replacement: None,
                            fill: Some(fill),
                        }),
                    );
                }
                (BookEvent::Trade(t), Some(rules)) => {
                    let side_of = |s: Side| {
                        fills.iter().find(|(id, side, _)| *id == t.trade_id && *side == s).map(|f| f.2)
                    };
                    // One fill = maker and taker executions, then the trade: both are here.
                    let (Some(buy), Some(sell)) = (side_of(Side::Buy), side_of(Side::Sell)) else {
                        debug_assert!(false, "trade {} without both executions", t.trade_id);
                        continue;
                    };
                    push(
                        out,
                        VenueEvent::Trade(TradePrint {
                            trade_id: t.trade_id,
                            price: rules.ticks_to_price(t.price),
                            qty: rules.lots_to_qty(t.qty),
                            aggressor: t.aggressor,
                            buy_order_id: buy,
                            sell_order_id: sell,
                        }),
                    );
                }
                (BookEvent::RequestRejected(r), _) if r.kind == RequestKind::Replace => {
                    let rej = replacement.cloned().expect("a refused replace comes from a replace");
                    st.last_report += 1;
                    push(out, VenueEvent::Order(rejected(st.last_report, rej, VenueReason::Reject(r.reason))));
                }
                // Refused cancels / instrument commands and status changes: see the
                // module doc. Depth events are off in the engine.
                _ => {}
            }
        }
    }
}

/// Who a rejection before the book is addressed to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// The order (for a replace: the replacement id).
    pub order_id: OrderId,
    /// Its account.
    pub account: AccountId,
    /// Its client order id.
    pub client_order_id: Option<String>,
}

/// Average of `notional` tick-lots over `lots` lots, as a price, rounded to 8 decimals
/// (midpoint away from zero). `None` if nothing filled or the value is out of range.
fn avg_price(rules: &InstrumentRules, notional: i128, lots: i64) -> Option<Decimal> {
    if lots <= 0 {
        return None;
    }
    let n = Decimal::try_from_i128_with_scale(notional, 0).ok()?;
    let ticks = n.checked_div(Decimal::from(lots))?;
    let p = ticks.checked_mul(rules.tick_size)?;
    Some(p.round_dp_with_strategy(8, rust_decimal::RoundingStrategy::MidpointAwayFromZero).normalize())
}

impl Operator for VenueOperator {
    type Key = String;
    type Input = VenueInput;
    type State = VenueState;
    type Output = VenueOutput;

    fn process(&self, key: &String, state: &mut Option<VenueState>, input: VenueInput, time: Timestamp, out: &mut Vec<VenueOutput>) {
        let st = state.get_or_insert_with(VenueState::default);
        st.commands += 1;
        let view = |b: &Book| (b.status(), b.depth(self.depth_levels));
        let before = st.book.as_ref().map(view);
        // The id of a replacement, for a refused replace (the engine reports the old id).
        let replacement = match &input.command {
            VenueCommand::Replace { new_order_id, account, client_order_id, .. } => {
                Some(Rejection { order_id: *new_order_id, account: *account, client_order_id: client_order_id.clone() })
            }
            _ => None,
        };
        let push = |out: &mut Vec<VenueOutput>, event| out.push(VenueOutput { symbol: key.clone(), time, event });
        match Self::to_command(st.book.as_ref().map(Book::rules), input.command) {
            Err((rej, reason)) => {
                st.last_report += 1;
                push(out, VenueEvent::Order(rejected(st.last_report, rej, reason)));
            }
            Ok(cmd) => {
                // A replacement's terms: the replace's fields, else the old order's (as the
                // engine builds the replacement).
                let terms = match (&cmd, st.book.as_ref()) {
                    (Command::Replace(r), Some(b)) => b.order(r.order_id).map(|old| {
                        let rules = b.rules();
                        ReplacementTerms {
                            qty: rules.lots_to_qty(r.qty.unwrap_or(old.leaves_qty)),
                            limit_price: r.limit_price.or(old.limit_price).map(|t| rules.ticks_to_price(t)),
                            stop_price: r.stop_price.or(old.stop_price).map(|t| rules.ticks_to_price(t)),
                        }
                    }),
                    _ => None,
                };
                let mut raw = Vec::new();
                self.engine.process(key, &mut st.book, cmd, time, &mut raw);
                self.publish(key, st, time, raw, terms.as_ref(), replacement.as_ref(), out);
            }
        }
        if let Some(book) = &st.book {
            let after = view(book);
            if self.depth_levels > 0 && before.as_ref() != Some(&after) {
                push(out, VenueEvent::Depth(depth_report(st.commands, book.rules(), after.0, &after.1)));
            }
        }
    }

    fn punctuation(&self) -> PunctuationSchedule {
        self.engine.punctuation()
    }

    fn punctuation_due(&self, key: &String, state: Option<&VenueState>, time: Timestamp, kind: PunctuationKind) -> bool {
        self.engine.punctuation_due(key, state.and_then(|s| s.book.as_ref()), time, kind)
    }

    /// Stream time: expires the symbol's day orders whose session close is `<= time`. If
    /// anything expired, that is one step of the symbol (`commands` + 1), published like a
    /// command's events at `time`, followed by depth on change.
    fn punctuate(&self, key: &String, state: &mut Option<VenueState>, time: Timestamp, kind: PunctuationKind, out: &mut Vec<VenueOutput>) {
        let Some(st) = state.as_mut() else { return };
        if !self.punctuation_due(key, Some(st), time, kind) {
            return;
        }
        let view = |b: &Book| (b.status(), b.depth(self.depth_levels));
        let before = st.book.as_ref().map(view);
        let mut raw = Vec::new();
        self.engine.punctuate(key, &mut st.book, time, kind, &mut raw);
        if raw.is_empty() {
            return;
        }
        st.commands += 1;
        self.publish(key, st, time, raw, None, None, out);
        if let Some(book) = &st.book {
            let after = view(book);
            if self.depth_levels > 0 && before.as_ref() != Some(&after) {
                let event = VenueEvent::Depth(depth_report(st.commands, book.rules(), after.0, &after.1));
                out.push(VenueOutput { symbol: key.clone(), time, event });
            }
        }
    }
}

fn rejected(seq: u64, rej: Rejection, reason: VenueReason) -> OrderReport {
    OrderReport {
        seq,
        order_id: rej.order_id,
        account: rej.account,
        client_order_id: rej.client_order_id,
        status: OrderStatus::Rejected,
        reason: Some(reason),
        filled_qty: Decimal::ZERO,
        leaves_qty: Decimal::ZERO,
        avg_fill_price: None,
        replaced_by: None,
        replaces: None,
        replacement: None,
        fill: None,
    }
}

fn depth_report(seq: u64, rules: &InstrumentRules, status: TradingStatus, d: &DepthSnapshot) -> DepthReport {
    let lvl = |l: &crate::matching::DepthLevel| LevelReport {
        price: rules.ticks_to_price(l.price),
        qty: rules.lots_to_qty(l.qty),
        orders: l.orders,
    };
    DepthReport {
        seq,
        status,
        bids: d.bids.iter().map(lvl).collect(),
        asks: d.asks.iter().map(lvl).collect(),
        last_trade_price: d.last_trade.map(|t| rules.ticks_to_price(t)),
        session_close_ns: d.marks.session_close,
        previous_close_ns: d.marks.previous_close_at,
        previous_close_price: d.marks.previous_close.map(|t| rules.ticks_to_price(t)),
    }
}
