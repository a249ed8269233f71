//! The matching engine: one price-time priority limit order book per instrument.
//!
//! Pure and deterministic (sans-IO): commands and their event time go in, events come
//! out. No clock, no I/O, no floats, no hash-ordered iteration. Prices are integer ticks
//! and quantities integer lots (`i64`); [`InstrumentRules`] converts to and from
//! `Decimal` and rejects off-grid values.
//!
//! Code map:
//! - `types.rs`: [`Command`] (closed enum), [`NewOrder`], [`ReplaceOrder`], ids, sides,
//!   order types, time in force.
//! - `rules.rs`: [`InstrumentRules`], [`StpMode`], [`TradingStatus`], conversions.
//! - `events.rs`: [`BookEvent`] (closed enum), execution reports, order updates with
//!   Alpaca status names, reject / cancel reasons, trades, depth.
//! - `calendar.rs`: [`SessionCalendar`] (session closes for day orders).
//! - `calendar_rules.rs`: [`CalendarRules`] (weekdays, local close, US DST rule or fixed
//!   offsets, holidays, early closes) compiled into a [`SessionCalendar`].
//! - `validate.rs`: entry checks (the order of checks is the reported reason's priority).
//! - `ladder.rs`: live orders, price levels (FIFO), stop and expiry indexes.
//! - `book.rs`: [`Book`]: dispatch, cancel, replace, instrument status, expiry, depth.
//! - `matcher.rs`: the matching loop, FOK, STP, band, stop cascade.
//! - `operator.rs`: [`MatchingOperator`] (key = symbol, state = [`Book`]).
//! - `replay.rs`: CSV command files -> commands -> summary (for `tradeflow book replay`).
//! - tests: `reference.rs` (naive model), `proptests.rs`, `scenarios.rs` + `scenarios/*.txt`.
//!
//! Cross-cutting invariants (each module's doc has its own):
//! - Price-time priority; fills at the maker's price; a taker never trades through its
//!   limit; the book is never crossed at rest.
//! - For every order, `filled + open + canceled == ordered` at all times.
//! - Same commands with the same times -> identical events (ids included) and state.

mod book;
mod calendar;
mod calendar_rules;
mod events;
mod ladder;
mod matcher;
mod operator;
pub mod replay;
mod rules;
mod types;
mod validate;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod reference;
#[cfg(test)]
mod scenarios;

pub use book::{reject_unlisted, Book, BookConfig, OrderView};
pub use calendar::SessionCalendar;
pub use calendar_rules::{CalendarError, CalendarRules, Date, LocalTime, OffsetRange, UtcOffset, ZoneRule, MAX_YEARS};
pub use events::{
    Bbo, BookEvent, CancelReason, DepthLevel, DepthSnapshot, ExecutionReport, Liquidity,
    OrderStatus, OrderUpdate, RejectReason, RequestKind, RequestRejected, SessionMarks, StatusDetail,
    Trade,
};
pub use operator::{MatchingConfig, MatchingOperator, MatchingOutput};
pub use rules::{CompiledRules, InstrumentRules, RulesError, StpMode, TradingStatus};
pub use types::{AccountId, Command, NewOrder, OrderId, OrderType, ReplaceOrder, Side, TimeInForce};
