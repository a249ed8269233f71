//! In-memory implementations of every port, for tests and the demo.
//!
//! [`MemoryBackend`] plays the platform: it materializes the views, records submitted
//! commands and, per its [`Reply`] policy, answers each order command with the event the
//! accounts pipeline would produce (accepted, rejected with a reason, or nothing, which
//! lets the API's wait time out). The Kafka implementations will keep the same maps, fed
//! by consumers instead of by `submit`.

use crate::auth::{hash_secret, Principal};
use crate::ports::{
    is_outcome, AccountView, ApiKeyStore, AssetRecord, AssetView, BoxFuture, Clock, CommandSink, FeedEvent, OrderEventFeed,
    OrderOutcomes, OrderQuery, OrderRecord, OrderView, OutcomeWatch, PortError, PortfolioView, PositionView, StoredKey, FEED_CAPACITY,
};
use rust_decimal::Decimal;
use schemas::records::{
    AccountSnapshot, OrderCommand, OrderEvent, OrderEventOrigin, OrderEventType, OrderInstruction, OrderReason, OrderStatus,
    PortfolioSnapshot, PositionSnapshot,
};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{broadcast, oneshot};

pub use crate::activities::MemoryActivities;
pub use crate::watchlists::MemoryWatchlists;

/// How the simulated platform answers order commands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Accept every new order (`new`), cancel every cancel request (`canceled`) and
    /// replace every open order (the old one `replaced`, the new one `new`).
    Accept,
    /// Reject every new order, and refuse every replace (`REPLACE_REJECTED` on the old
    /// order), with this reason and message.
    Reject(OrderReason, String),
    /// Record commands, answer nothing (the API's wait times out).
    Silent,
}

#[derive(Default)]
struct Inner {
    accounts: BTreeMap<String, AccountSnapshot>,
    positions: BTreeMap<(String, String), PositionSnapshot>,
    portfolios: BTreeMap<String, PortfolioSnapshot>,
    orders: BTreeMap<String, OrderRecord>,
    assets: BTreeMap<String, AssetRecord>,
    watches: HashMap<String, Vec<oneshot::Sender<OrderEvent>>>,
    commands: Vec<OrderCommand>,
    next_event: u64,
    unavailable: bool,
}

/// Every view, the command sink and the outcome source, in memory.
pub struct MemoryBackend {
    inner: Mutex<Inner>,
    reply: Mutex<Reply>,
    /// Every applied event, for [`OrderEventFeed`] subscribers.
    feed: broadcast::Sender<Arc<FeedEvent>>,
}

impl Default for MemoryBackend {
    fn default() -> Self {
        MemoryBackend { inner: Mutex::default(), reply: Mutex::new(Reply::Accept), feed: broadcast::channel(FEED_CAPACITY).0 }
    }
}

impl MemoryBackend {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn read(&self) -> Result<MutexGuard<'_, Inner>, PortError> {
        let g = self.lock();
        if g.unavailable {
            return Err(PortError::Unavailable("memory backend switched off".into()));
        }
        Ok(g)
    }

    pub fn set_reply(&self, reply: Reply) {
        *self.reply.lock().unwrap_or_else(|p| p.into_inner()) = reply;
    }

    /// Makes every port fail with `Unavailable` (to test 503s).
    pub fn set_unavailable(&self, unavailable: bool) {
        self.lock().unavailable = unavailable;
    }

    pub fn put_account(&self, snapshot: AccountSnapshot) {
        self.lock().accounts.insert(snapshot.account_id.clone(), snapshot);
    }

    pub fn put_position(&self, snapshot: PositionSnapshot) {
        self.lock().positions.insert((snapshot.account_id.clone(), snapshot.symbol.clone()), snapshot);
    }

    pub fn put_portfolio(&self, snapshot: PortfolioSnapshot) {
        self.lock().portfolios.insert(snapshot.account_id.clone(), snapshot);
    }

    pub fn put_asset(&self, asset: AssetRecord) {
        self.lock().assets.insert(asset.symbol.clone(), asset);
    }

    pub fn put_order(&self, record: OrderRecord) {
        self.lock().orders.insert(record.order.order_id.clone(), record);
    }

    /// Every command submitted so far, in order.
    pub fn commands(&self) -> Vec<OrderCommand> {
        self.lock().commands.clone()
    }

    /// Applies an `orders.events` record: updates the order and completes its watches.
    pub fn publish(&self, event: OrderEvent) {
        let mut g = self.lock();
        self.apply_event(&mut g, event);
    }

    /// Like [`MemoryBackend::publish`], and streams `position_qty` with the event.
    pub fn publish_with_position(&self, event: OrderEvent, position_qty: Option<Decimal>) {
        let mut g = self.lock();
        self.apply(&mut g, event, position_qty);
    }

    fn apply_event(&self, g: &mut Inner, event: OrderEvent) {
        self.apply(g, event, None)
    }

    fn apply(&self, g: &mut Inner, event: OrderEvent, position_qty: Option<Decimal>) {
        if let Some(r) = g.orders.get_mut(&event.order_id) {
            r.apply(&event);
        }
        let order = g.orders.get(&event.order_id).cloned();
        // No subscriber is not an error.
        let _ = self.feed.send(Arc::new(FeedEvent { account_id: event.account_id.clone(), event: event.clone(), order, position_qty }));
        if is_outcome(&event) {
            for tx in g.watches.remove(&event.order_id).unwrap_or_default() {
                let _ = tx.send(event.clone());
            }
        }
    }

    fn event_for(g: &mut Inner, r: &OrderRecord, at_ns: i64, status: OrderStatus, event_type: OrderEventType) -> OrderEvent {
        g.next_event += 1;
        let leaves = if crate::ports::is_open(status) { r.order.qty.unwrap_or_default() } else { Decimal::ZERO };
        OrderEvent {
            event_id: format!("mem-{}", g.next_event),
            account_id: r.account_id.clone(),
            order_id: r.order.order_id.clone(),
            client_order_id: r.order.client_order_id.clone(),
            symbol: r.order.symbol.clone(),
            at_ns,
            status,
            reason: None,
            filled_qty: Decimal::ZERO,
            leaves_qty: leaves,
            avg_fill_price: None,
            replaced_by: None,
            message: None,
            origin: Some(OrderEventOrigin::Accounts),
            event_type: Some(event_type),
            fill: None,
            new_qty: None,
            new_limit_price: None,
            new_stop_price: None,
        }
    }

    fn handle(&self, command: OrderCommand) -> Result<(), PortError> {
        let reply = self.reply.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mut g = self.read()?;
        g.commands.push(command.clone());
        let at = command.issued_at_ns;
        match command.body {
            OrderInstruction::PlaceOrder(place) => {
                let record = OrderRecord { account_id: command.account_id, order: place, submitted_at_ns: at, last_event: None };
                g.orders.insert(record.order.order_id.clone(), record.clone());
                let event = match reply {
                    Reply::Accept => Self::event_for(&mut g, &record, at + 1_000, OrderStatus::New, OrderEventType::Accepted),
                    Reply::Reject(reason, message) => {
                        let mut e = Self::event_for(&mut g, &record, at + 1_000, OrderStatus::Rejected, OrderEventType::Rejected);
                        e.reason = Some(reason);
                        e.message = Some(message);
                        e
                    }
                    Reply::Silent => return Ok(()),
                };
                self.apply_event(&mut g, event);
            }
            OrderInstruction::CancelOrder(cancel) => {
                if reply == Reply::Silent {
                    return Ok(());
                }
                let Some(record) = g.orders.get(&cancel.order_id).cloned() else { return Ok(()) };
                if crate::ports::is_open(record.status()) {
                    let mut e = Self::event_for(&mut g, &record, at + 1_000, OrderStatus::Canceled, OrderEventType::Canceled);
                    e.reason = Some(OrderReason::UserCanceled);
                    self.apply_event(&mut g, e);
                }
            }
            OrderInstruction::ReplaceOrder(rep) => {
                // As the Kafka view: the command creates the replacement from the old order.
                let Some(old) = g.orders.get(&rep.order_id).cloned() else { return Ok(()) };
                let order = schemas::records::PlaceOrder {
                    order_id: rep.new_order_id.clone(),
                    client_order_id: rep.client_order_id.clone().or_else(|| Some(rep.new_order_id.clone())),
                    qty: rep.qty.or(old.order.qty),
                    limit_price: rep.limit_price.or(old.order.limit_price),
                    stop_price: rep.stop_price.or(old.order.stop_price),
                    time_in_force: rep.time_in_force.unwrap_or(old.order.time_in_force),
                    ..old.order.clone()
                };
                let new = OrderRecord { account_id: command.account_id, order, submitted_at_ns: at, last_event: None };
                g.orders.insert(rep.new_order_id.clone(), new.clone());
                match reply {
                    // The old order is replaced (linked to the new one), the new one is live.
                    Reply::Accept if crate::ports::is_open(old.status()) => {
                        let mut e = Self::event_for(&mut g, &old, at + 1_000, OrderStatus::Replaced, OrderEventType::Replaced);
                        e.reason = Some(OrderReason::ReplacedByNewOrder);
                        e.replaced_by = Some(rep.new_order_id.clone());
                        self.apply_event(&mut g, e);
                        let e = Self::event_for(&mut g, &new, at + 1_000, OrderStatus::New, OrderEventType::Accepted);
                        self.apply_event(&mut g, e);
                    }
                    // The accounts pipeline's refusal: an event on the old order, which stays open.
                    Reply::Accept | Reply::Reject(..) => {
                        let mut e = Self::event_for(&mut g, &old, at + 1_000, old.status(), OrderEventType::ReplaceRejected);
                        e.reason = Some(match reply {
                            Reply::Reject(reason, _) => reason,
                            _ => OrderReason::Other,
                        });
                        if let Reply::Reject(_, message) = reply {
                            e.message = Some(message);
                        }
                        self.apply_event(&mut g, e);
                    }
                    Reply::Silent => {}
                }
            }
        }
        Ok(())
    }
}

impl CommandSink for MemoryBackend {
    fn submit(&self, command: OrderCommand) -> BoxFuture<'_, Result<(), PortError>> {
        Box::pin(async move { self.handle(command) })
    }
}

impl OrderOutcomes for MemoryBackend {
    fn watch(&self, order_id: &str) -> OutcomeWatch {
        let (tx, watch) = OutcomeWatch::channel();
        let mut g = self.lock();
        // Drop watches whose waiter gave up (timed out), so undecided orders do not leak.
        g.watches.retain(|_, senders| {
            senders.retain(|tx| !tx.is_closed());
            !senders.is_empty()
        });
        // Already decided (e.g. a retry after the outcome): complete at once.
        match g.orders.get(order_id).and_then(|r| r.last_event.clone()).filter(is_outcome) {
            Some(e) => {
                let _ = tx.send(e);
            }
            None => g.watches.entry(order_id.to_string()).or_default().push(tx),
        }
        watch
    }
}

impl OrderEventFeed for MemoryBackend {
    fn subscribe(&self) -> broadcast::Receiver<Arc<FeedEvent>> {
        self.feed.subscribe()
    }
}

impl AccountView for MemoryBackend {
    fn account(&self, account_id: &str) -> Result<Option<AccountSnapshot>, PortError> {
        Ok(self.read()?.accounts.get(account_id).cloned())
    }
}

impl PositionView for MemoryBackend {
    fn positions(&self, account_id: &str) -> Result<Vec<PositionSnapshot>, PortError> {
        let g = self.read()?;
        Ok(g.positions.values().filter(|p| p.account_id == account_id && !p.qty.is_zero()).cloned().collect())
    }

    fn position(&self, account_id: &str, symbol: &str) -> Result<Option<PositionSnapshot>, PortError> {
        let g = self.read()?;
        Ok(g.positions.get(&(account_id.to_string(), symbol.to_string())).filter(|p| !p.qty.is_zero()).cloned())
    }
}

impl PortfolioView for MemoryBackend {
    fn portfolio(&self, account_id: &str) -> Result<Option<PortfolioSnapshot>, PortError> {
        Ok(self.read()?.portfolios.get(account_id).cloned())
    }
}

impl OrderView for MemoryBackend {
    fn order(&self, order_id: &str) -> Result<Option<OrderRecord>, PortError> {
        Ok(self.read()?.orders.get(order_id).cloned())
    }

    fn by_client_order_id(&self, account_id: &str, client_order_id: &str) -> Result<Option<OrderRecord>, PortError> {
        let g = self.read()?;
        Ok(g.orders.values().find(|r| r.account_id == account_id && r.client_order_id() == client_order_id).cloned())
    }

    fn list(&self, query: &OrderQuery) -> Result<Vec<OrderRecord>, PortError> {
        Ok(query.select(self.read()?.orders.values().cloned()))
    }
}

impl AssetView for MemoryBackend {
    fn assets(&self) -> Result<Vec<AssetRecord>, PortError> {
        Ok(self.read()?.assets.values().cloned().collect())
    }

    fn asset(&self, symbol: &str) -> Result<Option<AssetRecord>, PortError> {
        Ok(self.read()?.assets.get(symbol).cloned())
    }
}

/// API keys in memory; secrets are hashed on insert and never kept.
#[derive(Default)]
pub struct MemoryKeyStore {
    keys: Mutex<HashMap<String, StoredKey>>,
}

impl MemoryKeyStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a key: stores the argon2id hash of `secret`, never `secret`.
    pub fn add(&self, key_id: &str, secret: &str, who: &Principal) {
        let stored = StoredKey {
            key_id: key_id.to_string(),
            secret_hash: hash_secret(secret),
            user_id: who.user_id.clone(),
            account_id: who.account_id.clone(),
            role: who.role,
        };
        self.keys.lock().unwrap_or_else(|p| p.into_inner()).insert(key_id.to_string(), stored);
    }
}

impl ApiKeyStore for MemoryKeyStore {
    fn key(&self, key_id: &str) -> Result<Option<StoredKey>, PortError> {
        Ok(self.keys.lock().unwrap_or_else(|p| p.into_inner()).get(key_id).cloned())
    }
}

/// A settable clock.
#[derive(Default)]
pub struct FixedClock(AtomicI64);

impl FixedClock {
    pub fn new(now_ns: i64) -> Self {
        FixedClock(AtomicI64::new(now_ns))
    }

    pub fn set(&self, now_ns: i64) {
        self.0.store(now_ns, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now_ns(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::seeded_order;
    use std::time::Duration;

    #[tokio::test]
    async fn watches_complete_once_and_abandoned_ones_are_dropped() {
        let m = MemoryBackend::new();
        let mut rec = seeded_order("o-1", "acc-1", "c-1", 0);
        let decided = rec.last_event.take().unwrap();
        m.put_order(rec);
        // Abandoned watch (timed out) is pruned at the next registration.
        drop(m.watch("o-1"));
        let live = m.watch("o-1");
        assert_eq!(m.lock().watches.get("o-1").map(Vec::len), Some(1));
        m.publish(decided.clone());
        assert_eq!(live.wait(Duration::from_millis(10)).await, Some(decided.clone()));
        assert!(m.lock().watches.is_empty());
        // Watching an already decided order completes at once.
        assert_eq!(m.watch("o-1").wait(Duration::from_millis(10)).await, Some(decided));
        // An undecided one times out.
        assert_eq!(m.watch("o-2").wait(Duration::from_millis(10)).await, None);
    }
}
