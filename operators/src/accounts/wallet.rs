//! Cash and share movements between the customer's ledger accounts: reserving and
//! releasing order holds, paying from holds or free cash, settling proceeds, and paying
//! down a deficit. Every movement is one balanced ledger entry.
//!
//! Rules:
//! - Free cash is spent unsettled-first, then available, then (only for executions,
//!   which are facts and cannot be refused) as a `cash:deficit`. Spending unsettled first
//!   keeps settled cash withdrawable.
//! - A release returns the settled part of an order's hold first; the unsettled part goes
//!   back to `cash:unsettled` only up to the scheduled proceeds not yet covered
//!   (`schedule - unsettled`), the rest to `cash:available` (its sale has settled).
//! - Settlement on date D: `settle = clamp(unsettled - scheduled_after_D, 0, due_by_D)`,
//!   i.e. proceeds that were spent count as the earliest-dated ones.
//!
//! Invariants: `cash:unsettled <= sum(schedule)`; `cash:available >= 0`.
//!
//! Known limitations:
//! - Buys pay cash on the trade date (no payable until settlement) and bought shares are
//!   sellable at once; only sale proceeds wait for settlement.

use rust_decimal::Decimal;

use super::calendar::Date;
use super::ctx::Ctx;
use super::ledger::{EntryBuilder, EntryKind, LedgerAccount};
use super::state::{AccountState, OpenOrder};

impl AccountState {
    /// Adds credits drawing `amount` of free cash to `b`; returns the part from unsettled.
    pub(crate) fn draw_free(&self, amount: Decimal, b: &mut EntryBuilder) -> Decimal {
        let unsettled = self
            .bal(&LedgerAccount::CashUnsettled)
            .max(Decimal::ZERO)
            .min(amount);
        let rest = amount - unsettled;
        let available = self
            .bal(&LedgerAccount::CashAvailable)
            .max(Decimal::ZERO)
            .min(rest);
        let deficit = rest - available;
        b.credit(LedgerAccount::CashUnsettled, unsettled)
            .credit(LedgerAccount::CashAvailable, available)
            .credit(LedgerAccount::CashDeficit, deficit);
        unsettled
    }

    /// Adds credits paying `amount` from `order`'s hold first, then free cash.
    pub(crate) fn pay_from_hold(
        &self,
        order: &mut OpenOrder,
        amount: Decimal,
        b: &mut EntryBuilder,
    ) {
        let from_hold = amount.min(order.cash_hold);
        b.credit(LedgerAccount::CashHeld, from_hold);
        order.cash_hold -= from_hold;
        order.cash_hold_unsettled -= from_hold.min(order.cash_hold_unsettled);
        self.draw_free(amount - from_hold, b);
    }

    /// Moves `amount` of free cash into `order`'s hold.
    fn hold_cash(&mut self, ctx: &mut Ctx, order_id: &str, order: &mut OpenOrder, amount: Decimal) {
        let mut b = EntryBuilder::default();
        b.debit(LedgerAccount::CashHeld, amount);
        let from_unsettled = self.draw_free(amount, &mut b);
        order.cash_hold += amount;
        order.cash_hold_unsettled += from_unsettled;
        ctx.post(&mut self.ledger, EntryKind::Hold, order_id, b);
    }

    /// Returns `amount` of `order`'s hold to free cash.
    fn release_cash(
        &mut self,
        ctx: &mut Ctx,
        order_id: &str,
        order: &mut OpenOrder,
        amount: Decimal,
    ) {
        let settled_part = amount.min(order.cash_hold - order.cash_hold_unsettled);
        let unsettled_part = amount - settled_part;
        let room = (self.scheduled_proceeds() - self.bal(&LedgerAccount::CashUnsettled))
            .max(Decimal::ZERO);
        let to_unsettled = unsettled_part.min(room);
        let mut b = EntryBuilder::default();
        b.credit(LedgerAccount::CashHeld, amount)
            .debit(LedgerAccount::CashUnsettled, to_unsettled)
            .debit(LedgerAccount::CashAvailable, amount - to_unsettled);
        order.cash_hold -= amount;
        order.cash_hold_unsettled -= unsettled_part;
        ctx.post(&mut self.ledger, EntryKind::Release, order_id, b);
    }

    /// Brings `order`'s cash and share holds to what it requires now (zero once it is
    /// terminal, when `terminal` is set).
    pub(crate) fn sync_holds(
        &mut self,
        ctx: &mut Ctx,
        order_id: &str,
        order: &mut OpenOrder,
        terminal: bool,
    ) {
        let (cash_target, shares_target) = if terminal {
            (Decimal::ZERO, Decimal::ZERO)
        } else {
            (
                order.required_cash(&ctx.cfg.fee_estimate),
                order.required_shares(),
            )
        };
        if cash_target > order.cash_hold {
            self.hold_cash(ctx, order_id, order, cash_target - order.cash_hold);
        } else if cash_target < order.cash_hold {
            self.release_cash(ctx, order_id, order, order.cash_hold - cash_target);
        }
        let delta = shares_target - order.shares_hold;
        if !delta.is_zero() {
            let free = LedgerAccount::SharesAvailable(order.symbol.clone());
            let held = LedgerAccount::SharesHeld(order.symbol.clone());
            let mut b = EntryBuilder::default();
            let kind = if delta > Decimal::ZERO {
                b.transfer(free, held, delta);
                EntryKind::Hold
            } else {
                b.transfer(held, free, -delta);
                EntryKind::Release
            };
            order.shares_hold = shares_target;
            ctx.post(&mut self.ledger, kind, order_id, b);
        }
    }

    /// Settles proceeds scheduled on or before `today` (see the module rules).
    pub(crate) fn settle_due(&mut self, ctx: &mut Ctx, today: Date) {
        let later = self.settlements.split_off(&today.succ());
        let due: Decimal = self.settlements.values().copied().sum();
        let last_due = self.settlements.keys().next_back().copied();
        self.settlements = later;
        let Some(date) = last_due else { return };
        let unsettled = self.bal(&LedgerAccount::CashUnsettled);
        let amount = (unsettled - self.scheduled_proceeds())
            .max(Decimal::ZERO)
            .min(due);
        let mut b = EntryBuilder::default();
        b.transfer(
            LedgerAccount::CashUnsettled,
            LedgerAccount::CashAvailable,
            amount,
        );
        ctx.post(
            &mut self.ledger,
            EntryKind::Settlement,
            &format!("settlement:{}", date.0),
            b,
        );
        self.repay_deficit(ctx);
    }

    /// Uses available cash to pay down a deficit.
    pub(crate) fn repay_deficit(&mut self, ctx: &mut Ctx) {
        let owed = -self.bal(&LedgerAccount::CashDeficit);
        let amount = owed.min(self.bal(&LedgerAccount::CashAvailable));
        if amount > Decimal::ZERO {
            let mut b = EntryBuilder::default();
            b.transfer(
                LedgerAccount::CashAvailable,
                LedgerAccount::CashDeficit,
                amount,
            );
            ctx.post(&mut self.ledger, EntryKind::DeficitRepayment, "deficit", b);
        }
    }
}
