//! Execution reports from the matching engine: fills, cancels, expiries, venue rejects
//! and replaces. Reports are facts: they are booked even when the account is restricted
//! or deactivated; only reports that contradict state become `InvalidInput`.
//!
//! Fill booking (seed order flow step 9, "release hold, deduct actual"):
//! - buy: shares `venue:clearing:SYM -> shares:SYM:available`; cost and fee are paid
//!   from the order's hold first (then free cash); the hold is then brought back to the
//!   reservation of the remaining quantity, which releases what a fill below the limit
//!   did not use;
//! - sell: shares `shares:SYM:held -> venue:clearing:SYM`; gross proceeds
//!   `venue:clearing -> cash:unsettled`, scheduled for the settlement date (T+n business
//!   days); the fee is paid from free cash (unsettled first, i.e. from the proceeds).
//!
//! Invariants: a booked fill id is never booked again; a fill never exceeds the open
//! quantity; a terminal report releases the whole remaining hold.
//!
//! Known limitations:
//! - Notional orders complete when filled cost reaches the notional or on a terminal
//!   report; the venue's `leaves_qty` on terminal reports is informational only.
//! - A replace still pending when its order completes is forgotten; the venue's later
//!   answer for it is reported as `InvalidInput`.

use rust_decimal::Decimal;

use super::ctx::Ctx;
use super::input::ExecutionReport;
use super::ledger::{EntryBuilder, EntryKind, LedgerAccount};
use super::output::{FillInfo, OrderEventKind};
use super::reasons::AccountsError;
use super::state::{AccountState, OpenOrder, PendingChange};
use super::types::{OrderSize, OrderType, Side};

struct Fill {
    order_id: String,
    fill_id: String,
    qty: Decimal,
    price: Decimal,
    fee: Decimal,
}

impl AccountState {
    /// Handles one execution report.
    pub(crate) fn on_execution(&mut self, ctx: &mut Ctx, report: ExecutionReport) {
        match report {
            ExecutionReport::Fill {
                order_id,
                fill_id,
                qty,
                price,
                fee,
            } => self.on_fill(
                ctx,
                Fill {
                    order_id,
                    fill_id,
                    qty,
                    price,
                    fee,
                },
            ),
            ExecutionReport::Canceled { order_id, .. } => {
                self.on_terminal(ctx, &order_id, OrderEventKind::Canceled)
            }
            ExecutionReport::Expired { order_id, .. } => {
                self.on_terminal(ctx, &order_id, OrderEventKind::Expired)
            }
            ExecutionReport::Rejected { order_id, .. } => {
                if self.orders.contains_key(&order_id) {
                    self.on_terminal(ctx, &order_id, OrderEventKind::RejectedByVenue)
                } else {
                    self.on_replace_rejected(ctx, &order_id)
                }
            }
            ExecutionReport::Replaced {
                old_order_id,
                new_order_id,
                new_qty,
                new_limit_price,
                new_stop_price,
            } => self.on_replaced(
                ctx,
                &old_order_id,
                &new_order_id,
                new_qty,
                new_limit_price,
                new_stop_price,
            ),
        }
    }

    fn fill_error(&self, order: &OpenOrder, f: &Fill) -> Option<AccountsError> {
        let invalid = |detail: &str| AccountsError::InvalidFill {
            order_id: f.order_id.clone(),
            fill_id: f.fill_id.clone(),
            detail: detail.to_string(),
        };
        if order.fill_ids.contains(&f.fill_id) {
            return Some(AccountsError::DuplicateFill {
                order_id: f.order_id.clone(),
                fill_id: f.fill_id.clone(),
            });
        }
        if f.qty <= Decimal::ZERO || f.price <= Decimal::ZERO || f.fee < Decimal::ZERO {
            return Some(invalid("non-positive quantity or price, or negative fee"));
        }
        if order.leaves_qty().is_some_and(|l| f.qty > l) {
            return Some(invalid("quantity above leaves"));
        }
        if f.qty
            .checked_mul(f.price)
            .and_then(|c| c.checked_add(f.fee))
            .is_none()
        {
            return Some(AccountsError::Overflow(f.fill_id.clone()));
        }
        None
    }

    fn on_fill(&mut self, ctx: &mut Ctx, f: Fill) {
        let Some(mut order) = self.orders.remove(&f.order_id) else {
            ctx.invalid(AccountsError::UnknownOrder(f.order_id));
            return;
        };
        if let Some(err) = self.fill_error(&order, &f) {
            self.orders.insert(f.order_id, order);
            ctx.invalid(err);
            return;
        }
        let cost = f.qty * f.price;
        let cal = &ctx.cfg.calendar;
        let settle = cal.add_business_days(cal.trade_date(ctx.time), ctx.cfg.settlement_days);
        order.fill_ids.insert(f.fill_id.clone());
        order.filled_qty += f.qty;
        order.filled_cost += cost;
        let sym = order.symbol.clone();
        let mut trade = EntryBuilder::default();
        let mut fee = EntryBuilder::default();
        fee.debit(LedgerAccount::RevenueFees, f.fee);
        match order.side {
            Side::Buy => {
                trade
                    .transfer(
                        LedgerAccount::VenueClearingShares(sym.clone()),
                        LedgerAccount::SharesAvailable(sym.clone()),
                        f.qty,
                    )
                    .debit(LedgerAccount::VenueClearingCash, cost);
                self.pay_from_hold(&mut order, cost, &mut trade);
                ctx.post(&mut self.ledger, EntryKind::Trade, &f.order_id, trade);
                self.pay_from_hold(&mut order, f.fee, &mut fee);
            }
            Side::Sell => {
                let from_held = f.qty.min(order.shares_hold);
                order.shares_hold -= from_held;
                trade
                    .debit(LedgerAccount::VenueClearingShares(sym.clone()), f.qty)
                    .credit(LedgerAccount::SharesHeld(sym.clone()), from_held)
                    .credit(
                        LedgerAccount::SharesAvailable(sym.clone()),
                        f.qty - from_held,
                    )
                    .transfer(
                        LedgerAccount::VenueClearingCash,
                        LedgerAccount::CashUnsettled,
                        cost,
                    );
                *self.settlements.entry(settle).or_default() += cost;
                ctx.post(&mut self.ledger, EntryKind::Trade, &f.order_id, trade);
                self.draw_free(f.fee, &mut fee);
            }
        }
        ctx.post(&mut self.ledger, EntryKind::Fee, &f.order_id, fee);
        let complete = order.is_complete();
        self.sync_holds(ctx, &f.order_id, &mut order, complete);
        let info = FillInfo {
            fill_id: f.fill_id,
            qty: f.qty,
            price: f.price,
            fee: f.fee,
            filled_qty: order.filled_qty,
            settlement_date: settle.0,
        };
        let kind = if complete {
            OrderEventKind::Filled(info)
        } else {
            OrderEventKind::PartiallyFilled(info)
        };
        ctx.order_event(&f.order_id, &order.client_order_id, &sym, kind);
        if !complete {
            self.orders.insert(f.order_id, order);
        }
    }

    fn on_terminal(&mut self, ctx: &mut Ctx, order_id: &str, kind: OrderEventKind) {
        let Some(mut order) = self.orders.remove(order_id) else {
            ctx.invalid(AccountsError::UnknownOrder(order_id.to_string()));
            return;
        };
        self.sync_holds(ctx, order_id, &mut order, true);
        ctx.order_event(order_id, &order.client_order_id, &order.symbol, kind);
    }

    fn pending_replace_of(&self, new_order_id: &str) -> Option<String> {
        self.orders
            .iter()
            .find(|(_, o)| matches!(&o.pending, Some(PendingChange::Replace(r)) if r.new_order_id == new_order_id))
            .map(|(id, _)| id.clone())
    }

    fn on_replace_rejected(&mut self, ctx: &mut Ctx, new_order_id: &str) {
        let Some(old_id) = self.pending_replace_of(new_order_id) else {
            ctx.invalid(AccountsError::UnknownOrder(new_order_id.to_string()));
            return;
        };
        let mut order = self.orders.remove(&old_id).expect("found above");
        order.pending = None;
        self.sync_holds(ctx, &old_id, &mut order, false);
        let kind = OrderEventKind::ReplaceRejectedByVenue {
            new_order_id: new_order_id.to_string(),
        };
        ctx.order_event(&old_id, &order.client_order_id, &order.symbol, kind);
        self.orders.insert(old_id, order);
    }

    fn on_replaced(
        &mut self,
        ctx: &mut Ctx,
        old_id: &str,
        new_id: &str,
        new_qty: Decimal,
        limit: Option<Decimal>,
        stop: Option<Decimal>,
    ) {
        let pending = match self.orders.get(old_id).map(|o| &o.pending) {
            Some(Some(PendingChange::Replace(r)))
                if r.new_order_id == new_id && new_qty > Decimal::ZERO =>
            {
                r.clone()
            }
            _ => {
                ctx.invalid(AccountsError::NoPendingReplace(old_id.to_string()));
                return;
            }
        };
        let mut order = self.orders.remove(old_id).expect("checked above");
        let (old_cid, sym) = (order.client_order_id.clone(), order.symbol.clone());
        order.client_order_id = pending.new_client_order_id;
        order.size = OrderSize::Qty(new_qty);
        order.filled_qty = Decimal::ZERO;
        order.filled_cost = Decimal::ZERO;
        order.fill_ids.clear();
        order.limit_price = limit;
        order.stop_price = stop;
        order.reserve_price = match (order.side, order.order_type, limit) {
            (Side::Buy, OrderType::Limit | OrderType::StopLimit, Some(l)) => l,
            _ => pending.reserve_price,
        };
        order.pending = None;
        // Holds move with the order: book the adjustment under the old id, then re-key.
        self.sync_holds(ctx, old_id, &mut order, false);
        ctx.order_event(
            old_id,
            &old_cid,
            &sym,
            OrderEventKind::Replaced {
                new_order_id: new_id.to_string(),
            },
        );
        self.orders.insert(new_id.to_string(), order);
    }
}
