//! Order commands: place, cancel and replace. Place runs the pre-trade checks of
//! [`super::risk`], reserves, routes and emits `Accepted`, or emits `Rejected(reason)`.
//!
//! Invariants:
//! - An accepted order's hold is made by the same [`AccountState::sync_holds`] that keeps
//!   it equal to `required_cash` / `required_shares` for the order's whole life.
//! - Cancel releases nothing by itself: the hold stays until the venue reports the order
//!   canceled (it may still fill meanwhile).
//! - A replace reserves the old order's leaves plus the whole replacement until the venue
//!   answers (the old order may fill first and the replacement still opens in full), so
//!   it needs buying power (buys) or free shares (sells) for the replacement in full.
//! - Every attempt except one refused by the rate limit itself counts towards the rate.
//!
//! Known limitations:
//! - Because of that sum, a non-shorting account cannot replace a sell of its whole
//!   position (nor a buy using all its buying power); it can cancel and place anew.
//! - There is no cancel-reject report: if the venue refuses a cancel, the order keeps its
//!   `PendingCancel` mark and further cancel/replace requests are refused.

use std::collections::BTreeSet;

use rust_decimal::Decimal;

use super::ctx::Ctx;
use super::input::{PlaceOrder, ReplaceOrder};
use super::output::{AccountOutput, OrderEventKind, RoutedCancel, RoutedOrder, RoutedReplace};
use super::reasons::RejectReason;
use super::risk::{check_place, check_replace};
use super::state::{AccountState, OpenOrder, PendingChange};

impl AccountState {
    fn record_attempt(&mut self, ctx: &Ctx, reason: Option<RejectReason>) {
        if reason == Some(RejectReason::OrderRateExceeded) {
            return;
        }
        let since = ctx.time.nanos().saturating_sub(ctx.cfg.order_window_ns);
        while self
            .recent_orders
            .front()
            .is_some_and(|t| t.nanos() <= since)
        {
            self.recent_orders.pop_front();
        }
        self.recent_orders.push_back(ctx.time);
    }

    fn count_notional(&mut self, ctx: &Ctx, amount: Decimal) {
        self.daily.roll(ctx.business_day());
        self.daily.order_notional = self.daily.order_notional.saturating_add(amount);
    }

    /// Handles a new order.
    pub(crate) fn place_order(&mut self, ctx: &mut Ctx, cmd: PlaceOrder) {
        let res = match check_place(ctx.cfg, self, &cmd, ctx.time) {
            Ok(res) => res,
            Err(reason) => {
                self.record_attempt(ctx, Some(reason));
                ctx.order_event(
                    &cmd.order_id,
                    &cmd.client_order_id,
                    &cmd.symbol,
                    OrderEventKind::Rejected(reason),
                );
                return;
            }
        };
        self.record_attempt(ctx, None);
        self.count_notional(ctx, res.est_notional);
        let mut order = OpenOrder {
            client_order_id: cmd.client_order_id.clone(),
            symbol: cmd.symbol.clone(),
            side: cmd.side,
            order_type: cmd.order_type,
            tif: cmd.tif,
            size: cmd.size,
            limit_price: cmd.limit_price,
            stop_price: cmd.stop_price,
            reserve_price: res.reserve_price,
            filled_qty: Decimal::ZERO,
            filled_cost: Decimal::ZERO,
            fill_ids: BTreeSet::new(),
            cash_hold: Decimal::ZERO,
            cash_hold_unsettled: Decimal::ZERO,
            shares_hold: Decimal::ZERO,
            pending: None,
        };
        self.sync_holds(ctx, &cmd.order_id, &mut order, false);
        debug_assert_eq!((order.cash_hold, order.shares_hold), (res.cash, res.shares));
        self.orders.insert(cmd.order_id.clone(), order);
        ctx.out.push(AccountOutput::RoutedOrder(RoutedOrder {
            account_id: ctx.account_id.to_string(),
            order_id: cmd.order_id.clone(),
            client_order_id: cmd.client_order_id.clone(),
            symbol: cmd.symbol.clone(),
            side: cmd.side,
            order_type: cmd.order_type,
            tif: cmd.tif,
            size: cmd.size,
            limit_price: cmd.limit_price,
            stop_price: cmd.stop_price,
            protection_price: res.protection_price,
            time: ctx.time,
        }));
        ctx.order_event(
            &cmd.order_id,
            &cmd.client_order_id,
            &cmd.symbol,
            OrderEventKind::Accepted,
        );
    }

    /// Handles a cancel request.
    pub(crate) fn cancel_order(&mut self, ctx: &mut Ctx, order_id: &str) {
        let Some(order) = self.orders.get_mut(order_id) else {
            ctx.order_event(
                order_id,
                "",
                "",
                OrderEventKind::CancelRejected(RejectReason::OrderNotFound),
            );
            return;
        };
        if order.pending.is_some() {
            let (cid, sym) = (order.client_order_id.clone(), order.symbol.clone());
            ctx.order_event(
                order_id,
                &cid,
                &sym,
                OrderEventKind::CancelRejected(RejectReason::OrderPendingChange),
            );
            return;
        }
        order.pending = Some(PendingChange::Cancel);
        let (cid, sym) = (order.client_order_id.clone(), order.symbol.clone());
        ctx.out.push(AccountOutput::RoutedCancel(RoutedCancel {
            account_id: ctx.account_id.to_string(),
            order_id: order_id.to_string(),
            symbol: sym.clone(),
            time: ctx.time,
        }));
        ctx.order_event(order_id, &cid, &sym, OrderEventKind::PendingCancel);
    }

    /// Handles a replace request.
    pub(crate) fn replace_order(&mut self, ctx: &mut Ctx, cmd: ReplaceOrder) {
        let Some(order) = self.orders.get(&cmd.order_id) else {
            ctx.order_event(
                &cmd.order_id,
                "",
                "",
                OrderEventKind::ReplaceRejected(RejectReason::OrderNotFound),
            );
            return;
        };
        let (cid, sym) = (order.client_order_id.clone(), order.symbol.clone());
        let (pending, extra) = match check_replace(ctx.cfg, self, order, &cmd, ctx.time) {
            Ok(ok) => ok,
            Err(reason) => {
                self.record_attempt(ctx, Some(reason));
                ctx.order_event(
                    &cmd.order_id,
                    &cid,
                    &sym,
                    OrderEventKind::ReplaceRejected(reason),
                );
                return;
            }
        };
        self.record_attempt(ctx, None);
        self.count_notional(ctx, extra);
        let mut order = self.orders.remove(&cmd.order_id).expect("checked above");
        order.pending = Some(PendingChange::Replace(pending.clone()));
        self.sync_holds(ctx, &cmd.order_id, &mut order, false);
        self.orders.insert(cmd.order_id.clone(), order);
        ctx.out.push(AccountOutput::RoutedReplace(RoutedReplace {
            account_id: ctx.account_id.to_string(),
            order_id: cmd.order_id.clone(),
            new_order_id: pending.new_order_id.clone(),
            new_client_order_id: pending.new_client_order_id.clone(),
            symbol: sym.clone(),
            qty: pending.qty,
            limit_price: pending.limit_price,
            stop_price: pending.stop_price,
            time: ctx.time,
        }));
        ctx.order_event(
            &cmd.order_id,
            &cid,
            &sym,
            OrderEventKind::PendingReplace {
                new_order_id: pending.new_order_id,
            },
        );
    }
}
