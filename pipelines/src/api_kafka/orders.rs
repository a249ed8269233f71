//! The orders view: `orders.commands` joined with `orders.events`, by order id. Implements
//! [`OrderView`], [`OrderOutcomes`] and [`OrderEventFeed`].
//!
//! Folding (what the Alpaca order object shows), per order, over every event of both
//! origins in the order the view reads them:
//! - **Fills** are counted once per `fill.fill_id` (the venue's event and the accounts
//!   pipeline's booking carry the same id): `filled_qty` = their sum, `avg_fill_price` =
//!   their volume-weighted average rounded to 8 places, `leaves_qty` = qty - filled while
//!   open, else 0. (Accounts-origin events report neither cumulative figure.)
//! - **Status**: a terminal status (filled, canceled, expired, rejected, replaced) is never
//!   left (a booking that arrives after the venue closed the order only updates the fill
//!   figures); `pending_new` never overwrites a later status; `new` with fills is
//!   `partially_filled` (accounts report a refused cancel or replace as `NEW`).
//! - **Replacements**: a `ReplaceOrder` command creates the new order's record from the
//!   old one's `PlaceOrder` with the changed fields. The accounts pipeline reports a
//!   refused replace on the *old* order (`REPLACE_REJECTED`, `REPLACE_REJECTED_BY_VENUE`);
//!   the view then drops the old order's latest replacement that has no event yet (as on
//!   Alpaca, a refused replace leaves no order behind: the client got an error, not an
//!   id) and completes its outcome watch with a `rejected` event of the refusal's type and
//!   reason. Nothing is broadcast for it. Known gap: a refusal read before its
//!   `ReplaceOrder` command (different topics) leaves that replacement `pending_new`.
//! - Events read before their order's command (different topics: no relative order) wait
//!   in a buffer and are applied, in order, when the command arrives.
//!
//! Outcomes: a watch completes with the first event of the order whose status is not
//! `PENDING_NEW` (accounts' `Accepted` is `PENDING_NEW`; the venue's acknowledgement,
//! first fill or rejection, or accounts' pre-trade rejection, decide), as soon as it is
//! read, command or not.
//!
//! Feed: once the view has caught up, every applied event is broadcast with the folded
//! order and, for fills, the account's position in the symbol: the signed sum of every
//! fill this view read for that account and symbol (exact when `orders.events` still holds
//! the account's whole history; retention may make it partial).

use super::follow::{Decoder, Fold};
use api::ports::{
    is_outcome, FeedEvent, OrderEventFeed, OrderOutcomes, OrderQuery, OrderRecord, OrderView, OutcomeWatch, PortError,
    FEED_CAPACITY,
};
use rust_decimal::Decimal;
use schemas::records::{OrderCommand, OrderEvent, OrderEventType, OrderInstruction, OrderStatus, PlaceOrder, Side};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{broadcast, oneshot};

/// Topic indexes, in the order the view follows them.
pub const COMMANDS: usize = 0;
pub const EVENTS: usize = 1;

/// Running fill totals of one order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Fills {
    ids: BTreeSet<String>,
    qty: Decimal,
    notional: Decimal,
}

fn terminal(s: OrderStatus) -> bool {
    matches!(s, OrderStatus::Filled | OrderStatus::Canceled | OrderStatus::Expired | OrderStatus::Rejected | OrderStatus::Replaced)
}

/// Folds `e` into `record` (see the module doc). Returns the fill's signed quantity if
/// `e` brought a fill not seen before.
pub fn fold(record: &mut OrderRecord, fills: &mut Fills, e: &OrderEvent) -> Option<Decimal> {
    let mut new_fill = None;
    if let Some(f) = &e.fill {
        if fills.ids.insert(f.fill_id.clone()) {
            fills.qty += f.qty;
            fills.notional += f.qty * f.price;
            new_fill = Some(if record.order.side == Side::Buy { f.qty } else { -f.qty });
        }
    }
    let current = record.status();
    let keep = terminal(current) || (e.status == OrderStatus::PendingNew && current != OrderStatus::PendingNew);
    let mut next = match (&record.last_event, keep) {
        (Some(prev), true) => prev.clone(),
        _ => e.clone(),
    };
    if !keep && next.status == OrderStatus::New && fills.qty > Decimal::ZERO {
        next.status = OrderStatus::PartiallyFilled;
    }
    if next.replaced_by.is_none() {
        next.replaced_by = record.last_event.as_ref().and_then(|p| p.replaced_by.clone());
    }
    if fills.qty > Decimal::ZERO {
        next.filled_qty = fills.qty;
        next.avg_fill_price = Some((fills.notional / fills.qty).round_dp(8).normalize());
    }
    next.leaves_qty = match record.order.qty {
        Some(q) if api::ports::is_open(next.status) => (q - fills.qty).max(Decimal::ZERO),
        _ => Decimal::ZERO,
    };
    record.last_event = Some(next);
    new_fill
}

#[derive(Default)]
struct Inner {
    orders: BTreeMap<String, OrderRecord>,
    fills: HashMap<String, Fills>,
    /// Events read before their order's command, by order id, in read order.
    early: HashMap<String, Vec<OrderEvent>>,
    /// First outcome event per order id (for watches registered after it was read).
    outcomes: HashMap<String, OrderEvent>,
    watches: HashMap<String, Vec<oneshot::Sender<OrderEvent>>>,
    positions: HashMap<(String, String), Decimal>,
    /// New order ids of replace commands, by the order they replace, in command order.
    replacements: HashMap<String, Vec<String>>,
}

/// The orders view.
pub struct OrdersView {
    inner: Mutex<Inner>,
    ready: AtomicBool,
    /// `None` once closed ([`OrdersView::close_feed`]).
    feed: Mutex<Option<broadcast::Sender<Arc<FeedEvent>>>>,
}

impl Default for OrdersView {
    fn default() -> Self {
        OrdersView { inner: Mutex::default(), ready: AtomicBool::new(false), feed: Mutex::new(Some(broadcast::channel(FEED_CAPACITY).0)) }
    }
}

impl OrdersView {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn read(&self) -> Result<MutexGuard<'_, Inner>, PortError> {
        if !self.ready.load(Ordering::SeqCst) {
            return Err(PortError::Unavailable("orders view is catching up".into()));
        }
        Ok(self.lock())
    }

    /// Applies an order command (public for tests).
    pub fn apply_command(&self, c: OrderCommand) {
        let mut g = self.lock();
        let (order_id, record) = match c.body {
            OrderInstruction::PlaceOrder(place) => {
                let r = OrderRecord { account_id: c.account_id, order: place, submitted_at_ns: c.issued_at_ns, last_event: None };
                (r.order.order_id.clone(), r)
            }
            OrderInstruction::ReplaceOrder(rep) => {
                let Some(old) = g.orders.get(&rep.order_id) else { return };
                let order = PlaceOrder {
                    order_id: rep.new_order_id.clone(),
                    client_order_id: rep.client_order_id.clone().or_else(|| Some(rep.new_order_id.clone())),
                    qty: rep.qty.or(old.order.qty),
                    limit_price: rep.limit_price.or(old.order.limit_price),
                    stop_price: rep.stop_price.or(old.order.stop_price),
                    time_in_force: rep.time_in_force.unwrap_or(old.order.time_in_force),
                    ..old.order.clone()
                };
                g.replacements.entry(rep.order_id.clone()).or_default().push(rep.new_order_id.clone());
                (rep.new_order_id, OrderRecord { account_id: c.account_id, order, submitted_at_ns: c.issued_at_ns, last_event: None })
            }
            OrderInstruction::CancelOrder(_) => return,
        };
        if g.orders.contains_key(&order_id) {
            return; // a re-delivered command (at-least-once producer retry): keep the first
        }
        g.orders.insert(order_id.clone(), record);
        for e in g.early.remove(&order_id).unwrap_or_default() {
            self.apply_to_record(&mut g, &e);
        }
    }

    /// Applies an order event (public for tests).
    pub fn apply_event(&self, e: OrderEvent) {
        tracing::debug!(order_id = %e.order_id, status = ?e.status, event_type = ?e.event_type, origin = ?e.origin, reason = ?e.reason, replaced_by = ?e.replaced_by, "order event");
        let mut g = self.lock();
        if is_outcome(&e) && !g.outcomes.contains_key(&e.order_id) {
            g.outcomes.insert(e.order_id.clone(), e.clone());
            for tx in g.watches.remove(&e.order_id).unwrap_or_default() {
                let _ = tx.send(e.clone());
            }
        }
        let refused_replace = matches!(e.event_type, Some(OrderEventType::ReplaceRejected | OrderEventType::ReplaceRejectedByVenue));
        if g.orders.contains_key(&e.order_id) {
            self.apply_to_record(&mut g, &e);
        } else {
            g.early.entry(e.order_id.clone()).or_default().push(e.clone());
        }
        if refused_replace {
            let pending = g
                .replacements
                .get(&e.order_id)
                .and_then(|ids| ids.iter().rev().find(|id| g.orders.get(*id).is_some_and(|r| r.last_event.is_none())))
                .cloned();
            if let Some(new_id) = pending {
                let rejected = OrderEvent {
                    event_id: format!("{}:{new_id}", e.event_id),
                    order_id: new_id.clone(),
                    client_order_id: g.orders.get(&new_id).and_then(|r| r.order.client_order_id.clone()),
                    status: OrderStatus::Rejected,
                    // Still the refusal of the replace (the waiter in `PATCH` tells it apart
                    // from a venue rejection of an accepted replacement by this type).
                    event_type: e.event_type,
                    filled_qty: Decimal::ZERO,
                    leaves_qty: Decimal::ZERO,
                    avg_fill_price: None,
                    replaced_by: None,
                    fill: None,
                    new_qty: None,
                    new_limit_price: None,
                    ..e
                };
                if !g.outcomes.contains_key(&new_id) {
                    g.outcomes.insert(new_id.clone(), rejected.clone());
                    for tx in g.watches.remove(&new_id).unwrap_or_default() {
                        let _ = tx.send(rejected.clone());
                    }
                }
                g.orders.remove(&new_id);
                g.fills.remove(&new_id);
                if let Some(ids) = g.replacements.get_mut(&e.order_id) {
                    ids.retain(|id| *id != new_id);
                }
            }
        }
    }

    fn apply_to_record(&self, g: &mut Inner, e: &OrderEvent) {
        let Inner { orders, fills, positions, .. } = g;
        let Some(record) = orders.get_mut(&e.order_id) else { return };
        let new_fill = fold(record, fills.entry(e.order_id.clone()).or_default(), e);
        let pos_key = (record.account_id.clone(), record.order.symbol.clone());
        if let Some(q) = new_fill {
            *positions.entry(pos_key.clone()).or_default() += q;
        }
        if self.ready.load(Ordering::SeqCst) {
            let position_qty = e.fill.as_ref().map(|_| positions.get(&pos_key).copied().unwrap_or_default());
            if let Some(feed) = self.feed.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
                let _ = feed.send(Arc::new(FeedEvent { account_id: e.account_id.clone(), event: e.clone(), order: Some(record.clone()), position_qty }));
            }
        }
    }

    /// Ends every feed subscription (streams close: WebSocket 1001, SSE ends) and makes new
    /// subscriptions end at once. For shutdown: open streams would keep it waiting.
    pub fn close_feed(&self) {
        self.feed.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    /// Marks the view caught up (reads succeed, the feed starts).
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::SeqCst);
    }
}

impl Fold for OrdersView {
    fn apply(&self, topic: usize, key: Option<&[u8]>, value: Option<&[u8]>, decoder: &Decoder, stop: &AtomicBool) {
        let Some(v) = value else { return };
        match topic {
            COMMANDS => match decoder.decode::<OrderCommand>(v, stop) {
                Ok(c) => self.apply_command(c),
                Err(e) => tracing::warn!(key = ?key.map(String::from_utf8_lossy), error = %e, "orders view: undecodable order command skipped"),
            },
            _ => match decoder.decode::<OrderEvent>(v, stop) {
                Ok(e) => self.apply_event(e),
                Err(e) => tracing::warn!(key = ?key.map(String::from_utf8_lossy), error = %e, "orders view: undecodable order event skipped"),
            },
        }
    }

    fn caught_up(&self) {
        self.set_ready();
    }
}

impl OrderOutcomes for OrdersView {
    fn watch(&self, order_id: &str) -> OutcomeWatch {
        let (tx, watch) = OutcomeWatch::channel();
        let mut g = self.lock();
        g.watches.retain(|_, senders| {
            senders.retain(|tx| !tx.is_closed());
            !senders.is_empty()
        });
        match g.outcomes.get(order_id).cloned() {
            Some(e) => {
                let _ = tx.send(e);
            }
            None => g.watches.entry(order_id.to_string()).or_default().push(tx),
        }
        watch
    }
}

impl OrderView for OrdersView {
    fn order(&self, order_id: &str) -> Result<Option<OrderRecord>, PortError> {
        Ok(self.read()?.orders.get(order_id).cloned())
    }

    fn by_client_order_id(&self, account_id: &str, client_order_id: &str) -> Result<Option<OrderRecord>, PortError> {
        let g = self.read()?;
        Ok(g.orders.values().find(|r| r.account_id == account_id && r.client_order_id() == client_order_id).cloned())
    }

    fn list(&self, query: &OrderQuery) -> Result<Vec<OrderRecord>, PortError> {
        let g = self.read()?;
        Ok(query.select(g.orders.values().filter(|r| r.account_id == query.account_id).cloned()))
    }
}

impl OrderEventFeed for OrdersView {
    fn subscribe(&self) -> broadcast::Receiver<Arc<FeedEvent>> {
        match self.feed.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            Some(feed) => feed.subscribe(),
            None => broadcast::channel(1).1, // its sender is gone: reports Closed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::records::{OrderEventOrigin as O, OrderEventType as T, OrderFill, OrderType, TimeInForce};
    use std::str::FromStr;
    use std::time::Duration;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn place(id: &str) -> OrderCommand {
        OrderCommand {
            command_id: format!("c-{id}"),
            account_id: "a".into(),
            issued_at_ns: 1,
            body: OrderInstruction::PlaceOrder(PlaceOrder {
                order_id: id.into(),
                client_order_id: Some(format!("coid-{id}")),
                symbol: "AAA".into(),
                side: Side::Buy,
                order_type: OrderType::Limit,
                time_in_force: TimeInForce::Gtc,
                qty: Some(d("10")),
                notional: None,
                limit_price: Some(d("100")),
                stop_price: None,
                instrument: None,
                reference_price: None,
                extended_hours: false,
            }),
        }
    }

    fn ev(id: &str, origin: O, t: Option<T>, status: OrderStatus, fill: Option<(&str, &str, &str)>) -> OrderEvent {
        OrderEvent {
            event_id: format!("{id}-{status:?}-{origin:?}"),
            account_id: "a".into(),
            order_id: id.into(),
            client_order_id: None,
            symbol: "AAA".into(),
            at_ns: 2,
            status,
            reason: None,
            filled_qty: Decimal::ZERO,
            leaves_qty: Decimal::ZERO,
            avg_fill_price: None,
            replaced_by: None,
            message: None,
            origin: Some(origin),
            event_type: t,
            fill: fill.map(|(fid, q, p)| OrderFill { fill_id: fid.into(), qty: d(q), price: d(p), fee: Decimal::ZERO, settlement_date: None }),
            new_qty: None,
            new_limit_price: None,
            new_stop_price: None,
        }
    }

    #[tokio::test]
    async fn folds_both_origins_into_alpaca_figures_and_completes_watches() {
        let v = OrdersView::default();
        v.set_ready();
        let mut feed = v.subscribe();
        let watch = v.watch("o1");
        // The outcome arrives before the command: the watch completes at once, the event waits.
        v.apply_event(ev("o1", O::Accounts, Some(T::Accepted), OrderStatus::PendingNew, None));
        v.apply_event(ev("o1", O::Venue, None, OrderStatus::New, None));
        assert_eq!(watch.wait(Duration::from_millis(10)).await.map(|e| e.status), Some(OrderStatus::New));
        assert_eq!(v.order("o1").unwrap(), None);
        v.apply_command(place("o1"));
        assert_eq!(v.order("o1").unwrap().unwrap().status(), OrderStatus::New);
        // Venue fill, its booking (same fill id), a second fill, then a refused cancel (NEW).
        v.apply_event(ev("o1", O::Venue, None, OrderStatus::PartiallyFilled, Some(("f1", "4", "100"))));
        v.apply_event(ev("o1", O::Accounts, Some(T::PartiallyFilled), OrderStatus::PartiallyFilled, Some(("f1", "4", "100"))));
        v.apply_event(ev("o1", O::Venue, None, OrderStatus::PartiallyFilled, Some(("f2", "2", "99.5"))));
        v.apply_event(ev("o1", O::Accounts, Some(T::CancelRejected), OrderStatus::New, None));
        let r = v.order("o1").unwrap().unwrap();
        let e = r.last_event.clone().unwrap();
        assert_eq!((r.status(), e.filled_qty, e.avg_fill_price, e.leaves_qty), (OrderStatus::PartiallyFilled, d("6"), Some(d("99.83333333")), d("4")));
        // Canceled by the venue; accounts' booking of a late fill keeps it canceled.
        v.apply_event(ev("o1", O::Venue, None, OrderStatus::Canceled, None));
        v.apply_event(ev("o1", O::Accounts, Some(T::PartiallyFilled), OrderStatus::PartiallyFilled, Some(("f2", "2", "99.5"))));
        let e = v.order("o1").unwrap().unwrap().last_event.unwrap();
        assert_eq!((e.status, e.filled_qty, e.leaves_qty), (OrderStatus::Canceled, d("6"), d("0")));
        // The feed saw every event applied after the command, fills with the position.
        let mut seen = Vec::new();
        while let Ok(f) = feed.try_recv() {
            seen.push((f.event.status, f.position_qty));
        }
        assert_eq!(seen.len(), 8);
        assert_eq!(seen[3], (OrderStatus::PartiallyFilled, Some(d("4"))));
        assert_eq!(seen[7], (OrderStatus::PartiallyFilled, Some(d("6"))));
        // Listing by account; a rejected order decides its watch.
        v.apply_command(place("o2"));
        let w = v.watch("o2");
        v.apply_event(ev("o2", O::Accounts, Some(T::Rejected), OrderStatus::Rejected, None));
        assert_eq!(w.wait(Duration::from_millis(10)).await.map(|e| e.status), Some(OrderStatus::Rejected));
        let q = OrderQuery { account_id: "a".into(), status: api::ports::StatusFilter::All, after_ns: None, until_ns: None, direction: api::ports::Direction::Asc, limit: 10, symbols: vec![] };
        assert_eq!(v.list(&q).unwrap().len(), 2);
    }

    #[test]
    fn replace_creates_the_new_order_and_reads_wait_for_readiness() {
        let v = OrdersView::default();
        v.apply_command(place("o1"));
        assert!(matches!(v.order("o1"), Err(PortError::Unavailable(_))));
        v.set_ready();
        v.apply_command(OrderCommand {
            command_id: "c2".into(),
            account_id: "a".into(),
            issued_at_ns: 5,
            body: OrderInstruction::ReplaceOrder(schemas::records::ReplaceOrder {
                order_id: "o1".into(),
                new_order_id: "o1b".into(),
                qty: Some(d("3")),
                limit_price: Some(d("101")),
                stop_price: None,
                time_in_force: None,
                client_order_id: None,
                symbol: None,
                instrument: None,
                reference_price: None,
            }),
        });
        let r = v.order("o1b").unwrap().unwrap();
        assert_eq!((r.order.qty, r.order.limit_price, r.submitted_at_ns, r.status()), (Some(d("3")), Some(d("101")), 5, OrderStatus::PendingNew));
        // The accounts pipeline refuses the replace on the old order: the replacement goes
        // (its watch completes with the reason), the old order stays open.
        let watch = v.watch("o1b");
        let mut refusal = ev("o1", O::Accounts, Some(T::ReplaceRejected), OrderStatus::New, None);
        refusal.reason = Some(schemas::records::OrderReason::InsufficientBuyingPower);
        v.apply_event(refusal);
        assert_eq!(v.order("o1b").unwrap(), None, "a refused replacement leaves no order behind");
        assert_eq!(v.order("o1").unwrap().unwrap().status(), OrderStatus::New);
        let outcome = wait_outcome(watch).expect("the replacement's watch completes");
        assert_eq!((outcome.status, outcome.reason), (OrderStatus::Rejected, Some(schemas::records::OrderReason::InsufficientBuyingPower)));
    }

    fn wait_outcome(w: api::ports::OutcomeWatch) -> Option<OrderEvent> {
        tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(w.wait(Duration::from_millis(100)))
    }
}
