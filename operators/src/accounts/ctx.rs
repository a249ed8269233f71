//! The per-call context handed to every handler: config, account key, event time and the
//! output buffer, plus helpers to emit records.
//!
//! Invariants:
//! - Handlers emit only through [`Ctx`], so every ledger entry posted is also published.

use super::config::AccountsConfig;
use super::ledger::{EntryBuilder, EntryKind, Ledger};
use super::output::{AccountOutput, OrderEvent, OrderEventKind};
use super::reasons::AccountsError;
use crate::Timestamp;

/// What a handler needs besides the state.
pub struct Ctx<'a> {
    /// Operator config.
    pub cfg: &'a AccountsConfig,
    /// Account key.
    pub account_id: &'a str,
    /// Event time of the input (or punctuation time).
    pub time: Timestamp,
    /// Output buffer.
    pub out: &'a mut Vec<AccountOutput>,
}

impl Ctx<'_> {
    /// Posts an entry to `ledger` and publishes it (no-op if empty).
    pub fn post(
        &mut self,
        ledger: &mut Ledger,
        kind: EntryKind,
        reference: &str,
        builder: EntryBuilder,
    ) {
        if let Some(entry) = ledger.post(self.account_id, kind, reference, self.time, builder) {
            self.out.push(AccountOutput::LedgerEntry(entry));
        }
    }

    /// Publishes an order event.
    pub fn order_event(
        &mut self,
        order_id: &str,
        client_order_id: &str,
        symbol: &str,
        kind: OrderEventKind,
    ) {
        self.out.push(AccountOutput::OrderEvent(OrderEvent {
            account_id: self.account_id.to_string(),
            order_id: order_id.to_string(),
            client_order_id: client_order_id.to_string(),
            symbol: symbol.to_string(),
            time: self.time,
            kind,
        }));
    }

    /// Publishes an invalid-input notice.
    pub fn invalid(&mut self, error: AccountsError) {
        self.out.push(AccountOutput::InvalidInput {
            account_id: self.account_id.to_string(),
            error,
        });
    }

    /// The business day daily limits count against (weekend and holiday activity counts
    /// towards the next business day).
    pub fn business_day(&self) -> super::calendar::Date {
        self.cfg.calendar.trade_date(self.time)
    }

    /// Today's calendar date (settlement runs for everything due by it).
    pub fn today(&self) -> super::calendar::Date {
        self.cfg.calendar.date_of(self.time)
    }
}
