//! A deliberately naive reference book for the property tests (test-only).
//!
//! Every live order (resting or pending stop) sits in one `Vec`; the best maker is found by
//! scanning for the best price and then the lowest `seq`; FOK is decided by running the
//! taker on a clone of the whole book. Nothing is indexed, so there is nothing to keep in
//! sync. It shares only the data types, the entry checks (`validate.rs`) and the session
//! calendar with the real book; matching, priority, replace, STP, band, stops and expiry
//! are written independently here.

use super::calendar::SessionCalendar;
use super::events::SessionMarks;
use super::events::{
    BookEvent, CancelReason, DepthLevel, DepthSnapshot, ExecutionReport, Liquidity, OrderStatus,
    OrderUpdate, RejectReason, RequestKind, RequestRejected, StatusDetail, Trade,
};
use super::ladder::Order;
use super::rules::{CompiledRules, InstrumentRules, StpMode, TradingStatus};
use super::types::{Command, NewOrder, OrderType, Side, TimeInForce};
use super::validate::{validate, EntryContext};
use crate::Timestamp;

#[derive(Clone, Debug)]
pub(crate) struct RefBook {
    compiled: CompiledRules,
    status: TradingStatus,
    calendar: SessionCalendar,
    pub orders: Vec<Order>,
    last_trade: Option<i64>,
    /// (command time, last trade after the command), for the session marks.
    history: Vec<(i64, Option<i64>)>,
    seq: u64,
    exec: u64,
    trade: u64,
}

fn ev(o: &Order, status: OrderStatus, detail: StatusDetail, terminal: bool) -> BookEvent {
    BookEvent::Order(OrderUpdate {
        order_id: o.id,
        account: o.account,
        client_order_id: o.client_order_id.clone(),
        side: o.side,
        status,
        detail,
        order_qty: o.order_qty,
        cum_qty: o.cum,
        leaves_qty: if terminal { 0 } else { o.leaves },
        canceled_qty: if terminal { o.leaves } else { 0 },
    })
}

/// On the book (not a stop waiting for its trigger).
fn resting(o: &Order) -> bool {
    !o.order_type.has_stop() || o.triggered
}

fn cancel_ev(o: &Order, r: CancelReason) -> BookEvent {
    ev(o, OrderStatus::Canceled, StatusDetail::Canceled(r), true)
}

fn req_rej(kind: RequestKind, c: &Command, reason: RejectReason) -> BookEvent {
    let (order_id, account) = match c {
        Command::Cancel { order_id, account } => (Some(*order_id), Some(*account)),
        Command::Replace(r) => (Some(r.order_id), Some(r.account)),
        _ => (None, None),
    };
    BookEvent::RequestRejected(RequestRejected { kind, order_id, account, reason })
}

impl RefBook {
    pub fn new(rules: &InstrumentRules, calendar: SessionCalendar) -> Option<RefBook> {
        Some(RefBook {
            compiled: rules.compile().ok()?,
            status: TradingStatus::Listed,
            calendar,
            orders: Vec::new(),
            last_trade: None,
            history: Vec::new(),
            seq: 1,
            exec: 1,
            trade: 1,
        })
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq - 1
    }

    fn reference(&self) -> Option<i64> {
        self.last_trade.or(self.compiled.reference_ticks)
    }

    fn take_out(&mut self, id: super::types::OrderId) -> Option<Order> {
        let i = self.orders.iter().position(|o| o.id == id)?;
        Some(self.orders.remove(i))
    }

    pub fn expire(&mut self, t: Timestamp, out: &mut Vec<BookEvent>) {
        loop {
            let due = self
                .orders
                .iter()
                .filter(|o| o.expires_at.is_some_and(|c| c <= t.0))
                .min_by_key(|o| (o.expires_at, o.seq))
                .map(|o| o.id);
            let Some(id) = due else { return };
            let o = self.take_out(id).unwrap();
            out.push(ev(&o, OrderStatus::Expired, StatusDetail::None, true));
        }
    }

    pub fn process(&mut self, cmd: Command, t: Timestamp, out: &mut Vec<BookEvent>) {
        self.process_inner(cmd, t, out);
        self.history.push((t.nanos(), self.last_trade));
    }

    /// Marks from the definition: the session of the latest command time, the close before
    /// it, and the last trade after the last command timed before that close.
    fn marks(&self) -> SessionMarks {
        let Some(latest) = self.history.iter().map(|h| h.0).max() else {
            return SessionMarks::default();
        };
        let previous_close_at = self.calendar.last_close_at_or_before(Timestamp(latest));
        SessionMarks {
            session_close: self.calendar.next_close_after(Timestamp(latest)),
            previous_close_at,
            previous_close: previous_close_at
                .and_then(|c| self.history.iter().rev().find(|h| h.0 < c))
                .and_then(|h| h.1),
        }
    }

    fn process_inner(&mut self, cmd: Command, t: Timestamp, out: &mut Vec<BookEvent>) {
        self.expire(t, out);
        match cmd.clone() {
            Command::NewOrder(n) => self.new_order(n, t, out),
            Command::Cancel { order_id, account } => match self.orders.iter().find(|o| o.id == order_id) {
                None => out.push(req_rej(RequestKind::Cancel, &cmd, RejectReason::OrderNotFound)),
                Some(o) if o.account != account => {
                    out.push(req_rej(RequestKind::Cancel, &cmd, RejectReason::AccountMismatch))
                }
                Some(_) => {
                    let o = self.take_out(order_id).unwrap();
                    out.push(cancel_ev(&o, CancelReason::UserRequested));
                }
            },
            Command::Replace(r) => {
                let Some(old) = self.orders.iter().find(|o| o.id == r.order_id).cloned() else {
                    return out.push(req_rej(RequestKind::Replace, &cmd, RejectReason::OrderNotFound));
                };
                if old.account != r.account {
                    return out.push(req_rej(RequestKind::Replace, &cmd, RejectReason::AccountMismatch));
                }
                let cand = NewOrder {
                    order_id: r.new_order_id,
                    account: r.account,
                    client_order_id: r.client_order_id.clone().or(old.client_order_id.clone()),
                    side: old.side,
                    order_type: old.order_type,
                    tif: old.tif,
                    qty: r.qty.unwrap_or(old.leaves),
                    limit_price: r.limit_price.or(old.limit),
                    stop_price: r.stop_price.or(old.stop),
                };
                let ctx = EntryContext {
                    status: self.status,
                    rules: &self.compiled,
                    reference: self.reference(),
                    duplicate: self.orders.iter().any(|o| o.id == r.new_order_id),
                    day_close: self.calendar.next_close_after(t),
                    band_applies: old.order_type == OrderType::Limit
                        || (old.order_type == OrderType::StopLimit && old.triggered),
                };
                if let Err(reason) = validate(&cand, &ctx) {
                    return out.push(req_rej(RequestKind::Replace, &cmd, reason));
                }
                let same = cand.limit_price == old.limit && cand.stop_price == old.stop && cand.qty <= old.leaves;
                let mut new = old.clone();
                new.id = cand.order_id;
                new.client_order_id = cand.client_order_id;
                new.order_qty = cand.qty;
                new.leaves = cand.qty;
                new.cum = 0;
                new.limit = cand.limit_price;
                new.stop = cand.stop_price;
                self.take_out(old.id);
                out.push(ev(&old, OrderStatus::Replaced, StatusDetail::ReplacedBy(new.id), true));
                out.push(ev(&new, OrderStatus::New, StatusDetail::Replaces(old.id), false));
                if same {
                    self.orders.push(new);
                } else {
                    new.seq = self.next_seq();
                    self.enter(new, out);
                }
            }
            Command::List(rules) => {
                if self.status != TradingStatus::Delisted {
                    return out.push(req_rej(RequestKind::List, &cmd, RejectReason::AlreadyListed));
                }
                match rules.compile() {
                    Err(_) => out.push(req_rej(RequestKind::List, &cmd, RejectReason::InvalidRules)),
                    Ok(c) => {
                        self.compiled = c;
                        self.last_trade = None;
                        self.status = TradingStatus::Listed;
                        out.push(BookEvent::Instrument(TradingStatus::Listed));
                    }
                }
            }
            Command::Halt | Command::Resume | Command::Delist => {
                let (kind, from, to): (RequestKind, &[TradingStatus], TradingStatus) = match cmd {
                    Command::Halt => (RequestKind::Halt, &[TradingStatus::Listed], TradingStatus::Halted),
                    Command::Resume => (RequestKind::Resume, &[TradingStatus::Halted], TradingStatus::Listed),
                    _ => (
                        RequestKind::Delist,
                        &[TradingStatus::Listed, TradingStatus::Halted],
                        TradingStatus::Delisted,
                    ),
                };
                if !from.contains(&self.status) {
                    return out.push(req_rej(kind, &cmd, RejectReason::InvalidTransition));
                }
                if to == TradingStatus::Delisted {
                    let mut all = std::mem::take(&mut self.orders);
                    all.sort_by_key(|o| o.seq);
                    for o in &all {
                        out.push(cancel_ev(o, CancelReason::Delisted));
                    }
                }
                self.status = to;
                out.push(BookEvent::Instrument(to));
            }
        }
    }

    fn new_order(&mut self, n: NewOrder, t: Timestamp, out: &mut Vec<BookEvent>) {
        let day_close = self.calendar.next_close_after(t);
        let ctx = EntryContext {
            status: self.status,
            rules: &self.compiled,
            reference: self.reference(),
            duplicate: self.orders.iter().any(|o| o.id == n.order_id),
            day_close,
            band_applies: n.order_type == OrderType::Limit,
        };
        if let Err(reason) = validate(&n, &ctx) {
            return out.push(BookEvent::Order(OrderUpdate {
                order_id: n.order_id,
                account: n.account,
                client_order_id: n.client_order_id,
                side: n.side,
                status: OrderStatus::Rejected,
                detail: StatusDetail::Rejected(reason),
                order_qty: n.qty,
                cum_qty: 0,
                leaves_qty: 0,
                canceled_qty: 0,
            }));
        }
        let o = Order {
            id: n.order_id,
            account: n.account,
            client_order_id: n.client_order_id,
            side: n.side,
            order_type: n.order_type,
            tif: n.tif,
            order_qty: n.qty,
            limit: n.limit_price,
            stop: n.stop_price,
            leaves: n.qty,
            cum: 0,
            seq: self.next_seq(),
            expires_at: if n.tif == TimeInForce::Day { day_close } else { None },
            triggered: false,
        };
        out.push(ev(&o, OrderStatus::New, StatusDetail::None, false));
        self.enter(o, out);
    }

    fn fires(&self, o: &Order, price: i64) -> bool {
        match o.side {
            Side::Buy => price >= o.stop.unwrap(),
            Side::Sell => price <= o.stop.unwrap(),
        }
    }

    fn enter(&mut self, mut o: Order, out: &mut Vec<BookEvent>) {
        if o.order_type.has_stop() && !o.triggered {
            if !self.last_trade.is_some_and(|p| self.fires(&o, p)) {
                return self.orders.push(o);
            }
            o.triggered = true;
        }
        let mut queue = vec![o];
        while !queue.is_empty() {
            let o = queue.remove(0);
            let prices = self.activate(o, out);
            let mut fired: Vec<Order> = Vec::new();
            for o in std::mem::take(&mut self.orders) {
                let pending = !resting(&o);
                if pending && prices.iter().any(|&p| self.fires(&o, p)) {
                    fired.push(o);
                } else {
                    self.orders.push(o);
                }
            }
            fired.sort_by_key(|o| o.seq);
            for mut f in fired {
                f.triggered = true;
                f.seq = self.next_seq();
                queue.push(f);
            }
        }
    }

    /// Returns every trade price.
    fn activate(&mut self, mut o: Order, out: &mut Vec<BookEvent>) -> Vec<i64> {
        let reference = self.reference();
        let band = self.compiled.band(reference);
        let limit = match o.order_type {
            OrderType::Limit | OrderType::StopLimit => o.limit,
            _ => None,
        };
        let in_band = |p: i64| band.is_none_or(|(lo, hi)| lo <= p && p <= hi);
        if o.triggered && limit.is_some_and(|l| !in_band(l)) {
            out.push(cancel_ev(&o, CancelReason::PriceBand));
            return vec![];
        }
        if o.tif == TimeInForce::Fok {
            let mut sim = self.clone();
            let mut probe = o.clone();
            sim.take(&mut probe, limit, band, &mut Vec::new(), &mut Vec::new());
            if probe.leaves > 0 {
                out.push(cancel_ev(&o, CancelReason::FillOrKill));
                return vec![];
            }
        }
        let mut prices = Vec::new();
        let why = self.take(&mut o, limit, band, out, &mut prices);
        if o.leaves > 0 {
            let reason = match why {
                Some(r) => Some(r),
                None if limit.is_none() => Some(CancelReason::NoLiquidity),
                None if o.tif == TimeInForce::Ioc => Some(CancelReason::ImmediateOrCancel),
                None if o.tif == TimeInForce::Fok => Some(CancelReason::FillOrKill),
                None => None,
            };
            match reason {
                Some(r) => out.push(cancel_ev(&o, r)),
                None => self.orders.push(o),
            }
        }
        prices
    }

    /// Returns the cancel reason when stopped by band or STP.
    fn take(
        &mut self,
        o: &mut Order,
        limit: Option<i64>,
        band: Option<(i64, i64)>,
        out: &mut Vec<BookEvent>,
        prices: &mut Vec<i64>,
    ) -> Option<CancelReason> {
        while o.leaves > 0 {
            let opp = o.side.opposite();
            let best = self
                .orders
                .iter()
                .enumerate()
                .filter(|(_, m)| m.side == opp && resting(m))
                .min_by_key(|(_, m)| (if opp == Side::Sell { m.limit } else { m.limit.map(|p| -p) }, m.seq))
                .map(|(i, _)| i);
            let i = best?;
            let price = self.orders[i].limit.unwrap();
            let crosses = match (o.side, limit) {
                (_, None) => true,
                (Side::Buy, Some(l)) => price <= l,
                (Side::Sell, Some(l)) => price >= l,
            };
            if !crosses {
                return None;
            }
            if band.is_some_and(|(lo, hi)| price < lo || price > hi) {
                return Some(CancelReason::PriceBand);
            }
            if self.compiled.stp != StpMode::Off && self.orders[i].account == o.account {
                if self.compiled.stp == StpMode::CancelNewest {
                    return Some(CancelReason::SelfTradePrevention);
                }
                let m = self.orders.remove(i);
                out.push(cancel_ev(&m, CancelReason::SelfTradePrevention));
                if self.compiled.stp == StpMode::CancelBoth {
                    return Some(CancelReason::SelfTradePrevention);
                }
                continue;
            }
            let m = &mut self.orders[i];
            let q = o.leaves.min(m.leaves);
            m.leaves -= q;
            m.cum += q;
            o.leaves -= q;
            o.cum += q;
            let (trade_id, exec) = (self.trade, self.exec);
            self.trade += 1;
            self.exec += 2;
            let rep = |x: &Order, id: u64, liq| {
                BookEvent::Execution(ExecutionReport {
                    exec_id: id,
                    trade_id,
                    order_id: x.id,
                    account: x.account,
                    client_order_id: x.client_order_id.clone(),
                    side: x.side,
                    liquidity: liq,
                    fill_qty: q,
                    fill_price: price,
                    leaves_qty: x.leaves,
                    cum_qty: x.cum,
                    status: if x.leaves == 0 { OrderStatus::Filled } else { OrderStatus::PartiallyFilled },
                })
            };
            out.push(rep(m, exec, Liquidity::Maker));
            out.push(rep(o, exec + 1, Liquidity::Taker));
            out.push(BookEvent::Trade(Trade { trade_id, price, qty: q, aggressor: o.side }));
            if m.leaves == 0 {
                self.orders.remove(i);
            }
            self.last_trade = Some(price);
            prices.push(price);
        }
        None
    }

    pub fn depth(&self, n: usize) -> DepthSnapshot {
        let side = |s: Side| {
            let mut prices: Vec<i64> = self
                .orders
                .iter()
                .filter(|o| o.side == s && resting(o))
                .map(|o| o.limit.unwrap())
                .collect();
            prices.sort();
            prices.dedup();
            if s == Side::Buy {
                prices.reverse();
            }
            prices
                .into_iter()
                .map(|p| {
                    let at: Vec<&Order> = self
                        .orders
                        .iter()
                        .filter(|o| o.side == s && o.limit == Some(p) && resting(o))
                        .collect();
                    DepthLevel { price: p, qty: at.iter().map(|o| o.leaves).sum(), orders: at.len() }
                })
                .collect::<Vec<_>>()
        };
        let (bids, asks) = (side(Side::Buy), side(Side::Sell));
        DepthSnapshot {
            bbo: super::events::Bbo { bid: bids.first().copied(), ask: asks.first().copied() },
            bids: bids.into_iter().take(n).collect(),
            asks: asks.into_iter().take(n).collect(),
            last_trade: self.last_trade,
            marks: self.marks(),
        }
    }
}
