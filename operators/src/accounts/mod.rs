//! The accounts operator: per-account double-entry ledger, buying-power holds and
//! pre-trade risk, keyed by account id.
//!
//! Bird's-eye view: the API writes account, funding and order commands; the matching
//! engine writes execution reports re-keyed by account. [`AccountsOperator`] turns each
//! into routed orders (re-keyed by symbol), order and funding events, balanced ledger
//! entries and a compacted account snapshot.
//!
//! Code map:
//! - `types`, `input`, `output`, `reasons`: the closed vocabulary in and out.
//! - `config`, `calendar`: tier limits, collars, fee estimate, T+n business days.
//! - `ledger`: ledger accounts, balanced entries, running balances.
//! - `state`: per-account state and the reservation each open order requires.
//! - `wallet`: every cash/share movement (holds, releases, payments, settlement).
//! - `risk`: pre-trade checks; `orders`, `executions`, `funding`: the handlers.
//! - `operator`: dispatch, settlement before/after each input, snapshots, punctuation.
//!
//! Invariants (absences): no I/O, no clock, no floats, no hash-ordered iteration that
//! reaches an output. Balances change only by posting balanced entries, which are
//! published. Rejections are events; `InvalidInput` marks records for dead-lettering.
//!
//! Known limitations (details in each module): no margin (short sales reserve no cash
//! collateral), buys pay on trade date, fixed UTC offset for the trading day, closed
//! orders and fundings are forgotten (duplicate ids detected only while open).

mod calendar;
mod config;
mod ctx;
mod executions;
mod funding;
mod input;
mod ledger;
mod operator;
mod orders;
mod output;
mod reasons;
mod risk;
mod state;
mod types;
mod wallet;

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests_funding;
#[cfg(test)]
mod tests_model;
#[cfg(test)]
mod tests_orders;

pub use calendar::{BusinessCalendar, Date};
pub use config::{AccountsConfig, FeeEstimate, TierLimit, TierLimits};
pub use input::{AccountInput, ExecutionReport, PlaceOrder, ReplaceOrder};
pub use ledger::{EntryKind, EntrySide, Ledger, LedgerAccount, LedgerEntry, Posting, Unit};
pub use operator::AccountsOperator;
pub use output::{
    AccountOutput, AccountSnapshot, CloseValues, FillInfo, FundingDirection, FundingEvent, FundingEventKind,
    OrderEvent, OrderEventKind, PositionSnapshot, RoutedCancel, RoutedOrder, RoutedReplace,
};
pub use reasons::{AccountsError, FundingRejectReason, RejectReason};
pub use risk::{check_place, check_replace, Reservation};
pub use state::{
    AccountState, CloseMarks, DailyUsage, OpenOrder, PendingChange, PendingFunding, PendingReplace,
};
pub use types::{
    AccountStatus, InstrumentSnapshot, InstrumentStatus, KycStatus, KycTier, OrderSize, OrderType,
    Side, TimeInForce,
};
