//! The order book of one instrument: command dispatch, cancel, replace, instrument status,
//! day-order expiry and depth. Matching itself lives in `matcher.rs`.
//!
//! Invariants:
//! - `process` is a pure function of (book, command, time): no I/O, no clock, no
//!   randomness (the order-id index uses a fixed hash and is never iterated).
//! - Before every command, day orders whose session close is `<=` the command's time
//!   expire (so an order can never trade after its close even if punctuation is late);
//!   [`Book::expire`] does the same for stream-time punctuation, which expires them even
//!   if the symbol gets no further command.
//! - Every accepted order gets `new` first; every order ends in exactly one of `filled`,
//!   `canceled`, `expired` or `replaced` (or is still live); `rejected` orders never lived.
//! - Before every command the book also rolls its [`SessionMarks`]: when the command's
//!   time is at or past the close of the session it last saw, the last trade price
//!   becomes the previous close (at the latest close `<=` the time). One comparison per
//!   command unless a close was crossed.
//! - Execution and trade ids come from counters in the book that survive delisting and
//!   re-listing, so they never repeat within a symbol.
//!
//! Modify semantics (cancel-and-replace): the replacement gets the new id and a `new`
//! event linked to the old one, which gets `replaced`. Unchanged limit and stop prices and
//! a quantity `<=` the old leaves keep the old order's queue position (and `seq`);
//! anything else removes the old order and enters the replacement like a new order (at
//! the back of its level, possibly matching). The replacement starts with `cum_qty` 0.
//!
//! Known limitations:
//! - Duplicate ids are detected only among live orders (finished ids are not remembered).
//! - `List` on a listed or halted book is rejected; rules cannot be changed in place.

use super::calendar::SessionCalendar;
use super::events::{
    Bbo, BookEvent, CancelReason, DepthLevel, DepthSnapshot, OrderStatus, OrderUpdate,
    RejectReason, RequestKind, RequestRejected, SessionMarks, StatusDetail,
};
use super::ladder::{Ladder, Level, Order};
use super::rules::{CompiledRules, InstrumentRules, RulesError, TradingStatus};
use super::types::{AccountId, Command, NewOrder, OrderId, OrderType, ReplaceOrder, Side, TimeInForce};
use super::validate::{validate, EntryContext};
use crate::Timestamp;

/// Configuration shared by every book of an operator.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BookConfig {
    /// Session closes, for day orders.
    pub calendar: SessionCalendar,
}

/// A read-only view of a live order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderView {
    /// The order id.
    pub order_id: OrderId,
    /// Its account.
    pub account: AccountId,
    /// Its side.
    pub side: Side,
    /// Its type.
    pub order_type: OrderType,
    /// Limit price in ticks.
    pub limit_price: Option<i64>,
    /// Stop price in ticks.
    pub stop_price: Option<i64>,
    /// Open lots.
    pub leaves_qty: i64,
    /// Filled lots.
    pub cum_qty: i64,
    /// Priority sequence number.
    pub seq: u64,
    /// Whether the order is a stop still waiting for its trigger.
    pub pending_stop: bool,
}

/// The limit order book of one instrument (the matching operator's per-symbol state).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Book {
    pub(crate) rules: InstrumentRules,
    pub(crate) compiled: CompiledRules,
    pub(crate) status: TradingStatus,
    pub(crate) config: BookConfig,
    pub(crate) ladder: Ladder,
    pub(crate) last_trade: Option<i64>,
    pub(crate) marks: SessionMarks,
    pub(crate) next_seq: u64,
    pub(crate) next_exec_id: u64,
    pub(crate) next_trade_id: u64,
}

impl Book {
    /// A new, listed book.
    pub fn new(rules: InstrumentRules, config: BookConfig) -> Result<Book, RulesError> {
        let compiled = rules.compile()?;
        Ok(Book {
            rules,
            compiled,
            status: TradingStatus::Listed,
            config,
            ladder: Ladder::default(),
            last_trade: None,
            marks: SessionMarks::default(),
            next_seq: 1,
            next_exec_id: 1,
            next_trade_id: 1,
        })
    }

    /// The instrument's rules.
    pub fn rules(&self) -> &InstrumentRules {
        &self.rules
    }

    /// Trading status.
    pub fn status(&self) -> TradingStatus {
        self.status
    }

    /// Last trade price in ticks.
    pub fn last_trade(&self) -> Option<i64> {
        self.last_trade
    }

    /// The band reference: last trade, else the listing's reference price.
    pub fn reference_price(&self) -> Option<i64> {
        self.last_trade.or(self.compiled.reference_ticks)
    }

    /// Number of live orders (resting and pending stops).
    pub fn open_orders(&self) -> usize {
        self.ladder.orders.len()
    }

    /// A live order.
    pub fn order(&self, id: OrderId) -> Option<OrderView> {
        self.ladder.orders.get(&id).map(|o| OrderView {
            order_id: o.id,
            account: o.account,
            side: o.side,
            order_type: o.order_type,
            limit_price: o.limit,
            stop_price: o.stop,
            leaves_qty: o.leaves,
            cum_qty: o.cum,
            seq: o.seq,
            pending_stop: o.is_pending_stop(),
        })
    }

    /// Resting orders of one level in queue order.
    pub fn level_orders(&self, side: Side, price: i64) -> Vec<OrderView> {
        self.ladder
            .levels(side)
            .get(price)
            .map(|l| l.queue.iter().filter_map(|s| self.order(self.ladder.orders.at(*s).id)).collect())
            .unwrap_or_default()
    }

    /// Best bid and offer.
    pub fn bbo(&self) -> Bbo {
        let lvl = |(price, l): (i64, &Level)| DepthLevel { price, qty: l.qty, orders: l.queue.len() };
        Bbo {
            bid: self.ladder.best(Side::Buy).map(lvl),
            ask: self.ladder.best(Side::Sell).map(lvl),
        }
    }

    /// Top `n` levels per side, the BBO and the last trade.
    pub fn depth(&self, n: usize) -> DepthSnapshot {
        let lvl = |(price, l): (i64, &Level)| DepthLevel { price, qty: l.qty, orders: l.queue.len() };
        DepthSnapshot {
            bids: self.ladder.bids.best_first().take(n).map(lvl).collect(),
            asks: self.ladder.asks.best_first().take(n).map(lvl).collect(),
            bbo: self.bbo(),
            last_trade: self.last_trade,
            marks: self.marks,
        }
    }

    /// Session marks as of the latest command (see [`SessionMarks`]).
    pub fn marks(&self) -> SessionMarks {
        self.marks
    }

    /// Rolls the session marks to `time` (before the command at `time` trades).
    #[inline]
    fn roll_session(&mut self, time: Timestamp) {
        if self.marks.session_close.is_some_and(|c| time.nanos() < c) || self.config.calendar.is_empty() {
            return;
        }
        let next = self.config.calendar.next_close_after(time);
        let last = self.config.calendar.last_close_at_or_before(time);
        if last > self.marks.previous_close_at {
            // No command between that close and now, so no trade: the last trade price
            // is the price at that close.
            self.marks.previous_close_at = last;
            self.marks.previous_close = self.last_trade;
        }
        // Here `time` is at or past the old close (or there was none), so `next` is later.
        self.marks.session_close = next;
    }

    /// Processes one command at `time`, appending events to `out`.
    #[inline]
    pub fn process(&mut self, cmd: Command, time: Timestamp, out: &mut Vec<BookEvent>) {
        self.roll_session(time);
        if !self.ladder.day_expiry.is_empty() {
            self.expire(time, out);
        }
        match cmd {
            Command::NewOrder(o) => self.new_order(o, time, out),
            Command::Cancel { order_id, account } => self.cancel(order_id, account, out),
            Command::Replace(r) => self.replace(r, time, out),
            Command::List(rules) => self.relist(rules, out),
            Command::Halt => self.transition(RequestKind::Halt, out),
            Command::Resume => self.transition(RequestKind::Resume, out),
            Command::Delist => self.transition(RequestKind::Delist, out),
        }
    }

    /// The earliest session close of a live day order (when [`Book::expire`] next has work).
    pub fn next_expiry(&self) -> Option<i64> {
        self.ladder.day_expiry.first_key_value().map(|(&(close, _), _)| close)
    }

    /// Expires every day order whose session close is `<= time`, in (close, seq) order.
    pub fn expire(&mut self, time: Timestamp, out: &mut Vec<BookEvent>) {
        while let Some((&(close, _), &id)) = self.ladder.day_expiry.first_key_value() {
            if close > time.nanos() {
                break;
            }
            let o = self.ladder.remove(id).expect("indexed day order is live");
            out.push(terminal(&o, OrderStatus::Expired, StatusDetail::None));
        }
    }

    #[inline]
    fn new_order(&mut self, o: NewOrder, time: Timestamp, out: &mut Vec<BookEvent>) {
        // Only day orders use the session close (validation and expiry).
        let day_close = if o.tif == TimeInForce::Day { self.config.calendar.next_close_after(time) } else { None };
        let ctx = EntryContext {
            status: self.status,
            rules: &self.compiled,
            reference: self.reference_price(),
            duplicate: self.ladder.orders.contains_key(&o.order_id),
            day_close,
            band_applies: o.order_type == OrderType::Limit,
        };
        if let Err(reason) = validate(&o, &ctx) {
            out.push(rejected(&o, reason));
            return;
        }
        let order = Order {
            id: o.order_id,
            account: o.account,
            client_order_id: o.client_order_id,
            side: o.side,
            order_type: o.order_type,
            tif: o.tif,
            order_qty: o.qty,
            limit: o.limit_price,
            stop: o.stop_price,
            leaves: o.qty,
            cum: 0,
            seq: self.take_seq(),
            expires_at: day_close,
            triggered: false,
        };
        out.push(update(&order, OrderStatus::New, StatusDetail::None));
        self.enter(order, out);
    }

    /// Enters an accepted order: a stop waits for (or immediately meets) its trigger;
    /// anything else matches and may rest.
    #[inline]
    fn enter(&mut self, mut order: Order, out: &mut Vec<BookEvent>) {
        if order.is_pending_stop() {
            if !self.stop_triggered_by_last(&order) {
                self.ladder.insert(order);
                return;
            }
            order.triggered = true;
        }
        self.run(order, out);
    }

    fn stop_triggered_by_last(&self, o: &Order) -> bool {
        match (self.last_trade, o.stop) {
            (Some(last), Some(stop)) => match o.side {
                Side::Buy => last >= stop,
                Side::Sell => last <= stop,
            },
            _ => false,
        }
    }

    fn cancel(&mut self, id: OrderId, account: AccountId, out: &mut Vec<BookEvent>) {
        match self.ladder.orders.slot_of(&id) {
            None => out.push(request_rejected(RequestKind::Cancel, Some(id), Some(account), RejectReason::OrderNotFound)),
            Some(s) if self.ladder.orders.at(s).account != account => out.push(request_rejected(
                RequestKind::Cancel,
                Some(id),
                Some(account),
                RejectReason::AccountMismatch,
            )),
            Some(s) => {
                let o = self.ladder.orders.at(s);
                out.push(terminal(o, OrderStatus::Canceled, StatusDetail::Canceled(CancelReason::UserRequested)));
                self.ladder.discard_slot(s);
            }
        }
    }

    fn replace(&mut self, r: ReplaceOrder, time: Timestamp, out: &mut Vec<BookEvent>) {
        let reject = |reason| request_rejected(RequestKind::Replace, Some(r.order_id), Some(r.account), reason);
        let Some(old) = self.ladder.orders.get(&r.order_id) else {
            out.push(reject(RejectReason::OrderNotFound));
            return;
        };
        if old.account != r.account {
            out.push(reject(RejectReason::AccountMismatch));
            return;
        }
        let candidate = NewOrder {
            order_id: r.new_order_id,
            account: r.account,
            client_order_id: r.client_order_id.or_else(|| old.client_order_id.clone()),
            side: old.side,
            order_type: old.order_type,
            tif: old.tif,
            qty: r.qty.unwrap_or(old.leaves),
            limit_price: r.limit_price.or(old.limit),
            stop_price: r.stop_price.or(old.stop),
        };
        let day_close = self.config.calendar.next_close_after(time);
        let ctx = EntryContext {
            status: self.status,
            rules: &self.compiled,
            reference: self.reference_price(),
            duplicate: self.ladder.orders.contains_key(&r.new_order_id),
            day_close,
            band_applies: old.order_type == OrderType::Limit
                || (old.order_type == OrderType::StopLimit && old.triggered),
        };
        if let Err(reason) = validate(&candidate, &ctx) {
            out.push(reject(reason));
            return;
        }
        let keep_priority = candidate.limit_price == old.limit
            && candidate.stop_price == old.stop
            && candidate.qty <= old.leaves;
        let new = Order {
            id: candidate.order_id,
            account: candidate.account,
            client_order_id: candidate.client_order_id,
            side: candidate.side,
            order_type: candidate.order_type,
            tif: candidate.tif,
            order_qty: candidate.qty,
            limit: candidate.limit_price,
            stop: candidate.stop_price,
            leaves: candidate.qty,
            cum: 0,
            seq: old.seq,
            expires_at: old.expires_at,
            triggered: old.triggered,
        };
        let old_id = old.id;
        let old_view = old.clone();
        out.push(terminal(&old_view, OrderStatus::Replaced, StatusDetail::ReplacedBy(new.id)));
        out.push(update(&new, OrderStatus::New, StatusDetail::Replaces(old_id)));
        if keep_priority {
            self.ladder.swap_in_place(old_id, new);
        } else {
            self.ladder.discard_slot(self.ladder.orders.slot_of(&old_id).expect("checked live"));
            let new = Order { seq: self.take_seq(), ..new };
            self.enter(new, out);
        }
    }

    fn relist(&mut self, rules: InstrumentRules, out: &mut Vec<BookEvent>) {
        if self.status != TradingStatus::Delisted {
            out.push(request_rejected(RequestKind::List, None, None, RejectReason::AlreadyListed));
            return;
        }
        match rules.compile() {
            Err(_) => out.push(request_rejected(RequestKind::List, None, None, RejectReason::InvalidRules)),
            Ok(compiled) => {
                self.rules = rules;
                self.compiled = compiled;
                self.last_trade = None;
                self.status = TradingStatus::Listed;
                out.push(BookEvent::Instrument(TradingStatus::Listed));
            }
        }
    }

    fn transition(&mut self, kind: RequestKind, out: &mut Vec<BookEvent>) {
        use TradingStatus as S;
        let next = match (kind, self.status) {
            (RequestKind::Halt, S::Listed) => S::Halted,
            (RequestKind::Resume, S::Halted) => S::Listed,
            (RequestKind::Delist, S::Listed | S::Halted) => S::Delisted,
            _ => {
                out.push(request_rejected(kind, None, None, RejectReason::InvalidTransition));
                return;
            }
        };
        if next == S::Delisted {
            let mut live: Vec<(u64, OrderId)> = self.ladder.orders.values().map(|o| (o.seq, o.id)).collect();
            live.sort_unstable();
            for (_, id) in live {
                let o = self.ladder.remove(id).expect("live");
                out.push(terminal(&o, OrderStatus::Canceled, StatusDetail::Canceled(CancelReason::Delisted)));
            }
        }
        self.status = next;
        out.push(BookEvent::Instrument(next));
    }

    pub(crate) fn take_seq(&mut self) -> u64 {
        let s = self.next_seq;
        self.next_seq += 1;
        s
    }
}

/// The events for a command sent to a symbol that has no book.
pub fn reject_unlisted(cmd: &Command, out: &mut Vec<BookEvent>) {
    let reason = RejectReason::UnknownInstrument;
    match cmd {
        Command::NewOrder(o) => out.push(rejected(o, reason)),
        Command::Cancel { order_id, account } => {
            out.push(request_rejected(RequestKind::Cancel, Some(*order_id), Some(*account), reason))
        }
        Command::Replace(r) => {
            out.push(request_rejected(RequestKind::Replace, Some(r.order_id), Some(r.account), reason))
        }
        Command::List(_) => out.push(request_rejected(RequestKind::List, None, None, RejectReason::InvalidRules)),
        Command::Halt => out.push(request_rejected(RequestKind::Halt, None, None, reason)),
        Command::Resume => out.push(request_rejected(RequestKind::Resume, None, None, reason)),
        Command::Delist => out.push(request_rejected(RequestKind::Delist, None, None, reason)),
    }
}

#[inline]
pub(crate) fn update(o: &Order, status: OrderStatus, detail: StatusDetail) -> BookEvent {
    BookEvent::Order(OrderUpdate {
        order_id: o.id,
        account: o.account,
        client_order_id: o.client_order_id.clone(),
        side: o.side,
        status,
        detail,
        order_qty: o.order_qty,
        cum_qty: o.cum,
        leaves_qty: o.leaves,
        canceled_qty: 0,
    })
}

/// A terminal update that removes the order's open quantity.
#[inline]
pub(crate) fn terminal(o: &Order, status: OrderStatus, detail: StatusDetail) -> BookEvent {
    BookEvent::Order(OrderUpdate {
        order_id: o.id,
        account: o.account,
        client_order_id: o.client_order_id.clone(),
        side: o.side,
        status,
        detail,
        order_qty: o.order_qty,
        cum_qty: o.cum,
        leaves_qty: 0,
        canceled_qty: o.leaves,
    })
}

#[inline]
fn rejected(o: &NewOrder, reason: RejectReason) -> BookEvent {
    BookEvent::Order(OrderUpdate {
        order_id: o.order_id,
        account: o.account,
        client_order_id: o.client_order_id.clone(),
        side: o.side,
        status: OrderStatus::Rejected,
        detail: StatusDetail::Rejected(reason),
        order_qty: o.qty,
        cum_qty: 0,
        leaves_qty: 0,
        canceled_qty: 0,
    })
}

#[inline]
fn request_rejected(
    kind: RequestKind,
    order_id: Option<OrderId>,
    account: Option<AccountId>,
    reason: RejectReason,
) -> BookEvent {
    BookEvent::RequestRejected(RequestRejected { kind, order_id, account, reason })
}
