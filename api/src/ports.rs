//! Ports: what the trading API needs from the rest of the platform, as traits.
//!
//! The Kafka side provides them next (a producer on `orders.commands`, consumers that
//! materialize `accounts.snapshots`, `positions.snapshots`, `portfolios.snapshots`, `orders.commands` +
//! `orders.events`, `instruments.commands` + `book.depth`); [`crate::memory`] provides
//! in-memory versions for tests and the demo. Handlers see only these traits.
//!
//! - Commands are fire-and-forget ([`CommandSink`]); outcomes come back as events.
//!   [`OrderOutcomes::watch`] registers interest in an order id *before* the command is
//!   sent (no lost wake-up), then [`OutcomeWatch::wait`] waits up to a bound.
//! - Read views are synchronous: they read materialized state (in-memory maps fed by
//!   consumers). They return the typed wire records (`AccountSnapshot`,
//!   `PositionSnapshot`, `PlaceOrder` + `OrderEvent`, `ListInstrument`), never API shapes.
//! - Live order events for the `trade_updates` streams: [`OrderEventFeed`] (a broadcast of
//!   [`FeedEvent`]s; no replay).
//! - Errors are [`PortError`]: `Unavailable` (retryable: 503) or `Internal` (500). Neither
//!   text reaches clients.

use schemas::records::{
    AccountSnapshot, InstrumentStatus, ListInstrument, OrderCommand, OrderEvent, OrderStatus, PlaceOrder, PortfolioSnapshot,
    PositionSnapshot,
};
use rust_decimal::Decimal;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use tokio::sync::oneshot;

/// A boxed, sendable future (keeps the async ports object-safe without extra crates).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Failure of a port. Internal details are logged, never sent to clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// Retryable: the backend is not reachable or not caught up yet.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// Anything else.
    #[error("internal: {0}")]
    Internal(String),
}

/// Sends order commands (Kafka: a producer on `orders.commands`, key = account id).
/// `Ok` means the command is durably accepted by the log, not that the order is.
pub trait CommandSink: Send + Sync {
    fn submit(&self, command: OrderCommand) -> BoxFuture<'_, Result<(), PortError>>;
}

/// Is this event the outcome of a new order (accepted or rejected)?
pub fn is_outcome(event: &OrderEvent) -> bool {
    event.status != OrderStatus::PendingNew
}

/// Delivers the first outcome event (see [`is_outcome`]) of watched order ids (Kafka: a
/// `read_committed` consumer of `orders.events` completing registered watches).
pub trait OrderOutcomes: Send + Sync {
    /// Registers interest in `order_id`. Call before submitting the command. If the
    /// outcome is already known, the watch completes at once. Implementations drop
    /// registrations whose [`OutcomeWatch`] was dropped (the waiter timed out).
    fn watch(&self, order_id: &str) -> OutcomeWatch;
}

/// A registered interest in one order's outcome.
pub struct OutcomeWatch {
    rx: oneshot::Receiver<OrderEvent>,
}

impl OutcomeWatch {
    /// A watch and the sender that completes it.
    pub fn channel() -> (oneshot::Sender<OrderEvent>, OutcomeWatch) {
        let (tx, rx) = oneshot::channel();
        (tx, OutcomeWatch { rx })
    }

    /// Waits up to `bound` for the outcome; `None` on timeout (or if the source went away).
    pub async fn wait(self, bound: Duration) -> Option<OrderEvent> {
        match tokio::time::timeout(bound, self.rx).await {
            Ok(Ok(event)) => Some(event),
            _ => None,
        }
    }
}

/// Latest account snapshots (Kafka: compacted `accounts.snapshots`).
pub trait AccountView: Send + Sync {
    fn account(&self, account_id: &str) -> Result<Option<AccountSnapshot>, PortError>;
}

/// Latest positions (Kafka: compacted `positions.snapshots`). Flat positions (qty 0) are
/// not returned.
pub trait PositionView: Send + Sync {
    /// Positions of an account, ordered by symbol.
    fn positions(&self, account_id: &str) -> Result<Vec<PositionSnapshot>, PortError>;
    fn position(&self, account_id: &str, symbol: &str) -> Result<Option<PositionSnapshot>, PortError>;
}

/// Latest portfolio summaries (Kafka: compacted `portfolios.snapshots`, key account id,
/// written by the portfolio pipeline after every fill of the account).
///
/// Invariant: `None` means the pipeline has not written a summary for the account yet
/// (no fill so far), not that the account does not exist.
pub trait PortfolioView: Send + Sync {
    fn portfolio(&self, account_id: &str) -> Result<Option<PortfolioSnapshot>, PortError>;
}

/// An order as the views know it: the `PlaceOrder` as submitted and its latest event.
#[derive(Clone, Debug, PartialEq)]
pub struct OrderRecord {
    pub account_id: String,
    pub order: PlaceOrder,
    /// `issued_at_ns` of the command that placed it.
    pub submitted_at_ns: i64,
    /// Latest `orders.events` record; `None` while pending.
    pub last_event: Option<OrderEvent>,
}

impl OrderRecord {
    pub fn status(&self) -> OrderStatus {
        self.last_event.as_ref().map_or(OrderStatus::PendingNew, |e| e.status)
    }

    pub fn client_order_id(&self) -> &str {
        self.order.client_order_id.as_deref().unwrap_or(&self.order.order_id)
    }

    /// Folds a later event into the record (events of other orders are ignored).
    pub fn apply(&mut self, event: &OrderEvent) {
        if event.order_id == self.order.order_id {
            self.last_event = Some(event.clone());
        }
    }
}

/// Open = may still trade or change.
pub fn is_open(status: OrderStatus) -> bool {
    matches!(
        status,
        OrderStatus::PendingNew | OrderStatus::New | OrderStatus::PartiallyFilled | OrderStatus::PendingCancel | OrderStatus::PendingReplace
    )
}

/// Which orders a listing wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusFilter {
    Open,
    Closed,
    All,
}

/// Sort order of a listing, by submission time (ties by order id).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Asc,
    Desc,
}

/// A listing query for [`OrderView::list`]. Bounds are on `submitted_at_ns`, exclusive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderQuery {
    pub account_id: String,
    pub status: StatusFilter,
    pub after_ns: Option<i64>,
    pub until_ns: Option<i64>,
    pub direction: Direction,
    pub limit: usize,
    /// Empty = every symbol.
    pub symbols: Vec<String>,
}

impl OrderQuery {
    /// Whether `record` passes the filters (shared by every [`OrderView`] implementation).
    pub fn matches(&self, record: &OrderRecord) -> bool {
        let open = is_open(record.status());
        record.account_id == self.account_id
            && match self.status {
                StatusFilter::Open => open,
                StatusFilter::Closed => !open,
                StatusFilter::All => true,
            }
            && self.after_ns.is_none_or(|t| record.submitted_at_ns > t)
            && self.until_ns.is_none_or(|t| record.submitted_at_ns < t)
            && (self.symbols.is_empty() || self.symbols.contains(&record.order.symbol))
    }

    /// Filters, sorts and truncates `records` (shared by every implementation).
    pub fn select(&self, records: impl IntoIterator<Item = OrderRecord>) -> Vec<OrderRecord> {
        let mut out: Vec<OrderRecord> = records.into_iter().filter(|r| self.matches(r)).collect();
        out.sort_by(|a, b| (a.submitted_at_ns, &a.order.order_id).cmp(&(b.submitted_at_ns, &b.order.order_id)));
        if self.direction == Direction::Desc {
            out.reverse();
        }
        out.truncate(self.limit);
        out
    }
}

/// Orders (Kafka: `orders.commands` joined with `orders.events`, by account).
pub trait OrderView: Send + Sync {
    fn order(&self, order_id: &str) -> Result<Option<OrderRecord>, PortError>;
    fn by_client_order_id(&self, account_id: &str, client_order_id: &str) -> Result<Option<OrderRecord>, PortError>;
    fn list(&self, query: &OrderQuery) -> Result<Vec<OrderRecord>, PortError>;
}

/// A tradable instrument: its listing, current status and last trade price.
#[derive(Clone, Debug, PartialEq)]
pub struct AssetRecord {
    pub symbol: String,
    pub listing: ListInstrument,
    pub status: InstrumentStatus,
    /// From `book.depth`; `None` before the first trade.
    pub last_trade_price: Option<Decimal>,
    /// The venue's session marks from the same `book.depth` snapshot.
    pub marks: CloseMarks,
}

/// The venue's session marks of a symbol (fields of `book.depth` v2; all `None` for v1
/// data or a venue without a calendar). See `BookSnapshot::previous_close`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CloseMarks {
    pub session_close_ns: Option<i64>,
    pub previous_close_ns: Option<i64>,
    pub previous_close_price: Option<Decimal>,
}

impl AssetRecord {
    /// The previous session's close as seen at `now_ns`: (close time, price). `None` when
    /// the venue published no marks or nothing had traded by that close.
    pub fn previous_close(&self, now_ns: i64) -> Option<(i64, Decimal)> {
        let m = self.marks;
        let (at, price) =
            schemas::records::previous_close(self.last_trade_price, m.session_close_ns, m.previous_close_ns, m.previous_close_price, now_ns)?;
        Some((at, price?))
    }
}

/// Instruments (Kafka: `instruments.commands` folded per symbol, plus `book.depth`).
pub trait AssetView: Send + Sync {
    /// Every asset, ordered by symbol.
    fn assets(&self) -> Result<Vec<AssetRecord>, PortError>;
    fn asset(&self, symbol: &str) -> Result<Option<AssetRecord>, PortError>;
}

/// What a key may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Reads and trades its own account.
    Trader,
    /// Reads its own account; never trades. (On `/api/v1`: compliance, reads every
    /// account; see `crate::v1`.)
    Analyst,
    /// Trades its own account; reads and cancels any account's orders by id.
    Admin,
}

/// An API key as stored: never the secret, only its argon2id PHC hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredKey {
    pub key_id: String,
    /// PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`).
    pub secret_hash: String,
    pub user_id: String,
    pub account_id: String,
    pub role: Role,
}

/// API keys by key id (later: a compacted topic or a database).
pub trait ApiKeyStore: Send + Sync {
    fn key(&self, key_id: &str) -> Result<Option<StoredKey>, PortError>;
}

/// Wall-clock time, injected so tests are deterministic.
pub trait Clock: Send + Sync {
    /// Nanoseconds since the Unix epoch.
    fn now_ns(&self) -> i64;
}

/// The system clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ns(&self) -> i64 {
        let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
    }
}

/// One `orders.events` record as the trade-updates streams see it: the event, the order
/// after folding it in, and the account's position in the symbol after it (fills only).
///
/// Invariant: `account_id == event.account_id`; streams deliver it to that account's
/// principals only.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedEvent {
    pub account_id: String,
    pub event: OrderEvent,
    /// The order with this event applied; `None` if the view does not know the order
    /// (its command is older than the view's log).
    pub order: Option<OrderRecord>,
    /// Signed position quantity after this event, when the source knows it (fills).
    pub position_qty: Option<Decimal>,
}

/// Live order events, for streaming (Kafka: the `orders.events` consumer behind
/// [`OrderView`]; memory: every event the backend applies).
///
/// Invariant: only events applied after `subscribe` are delivered (no replay); a receiver
/// that falls more than the channel's capacity behind gets `RecvError::Lagged` and should
/// tell its client rather than pretend nothing was lost.
pub trait OrderEventFeed: Send + Sync {
    fn subscribe(&self) -> tokio::sync::broadcast::Receiver<std::sync::Arc<FeedEvent>>;
}

/// How many events a slow stream subscriber may fall behind before it is told it lagged.
pub const FEED_CAPACITY: usize = 4096;

/// Account activities (Kafka: `orders.commands`, `orders.events` and `funding.events`
/// folded per account by [`crate::activities::ActivityBook`]). Read-only, synchronous
/// over materialized lists; implementations select with [`crate::activities::ActivityQuery::select`].
pub trait ActivityView: Send + Sync {
    /// One page of the query's account's activities, in the query's direction.
    fn activities(&self, query: &crate::activities::ActivityQuery) -> Result<Vec<crate::activities::Activity>, PortError>;
}

/// Result of [`WatchlistStore::put`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchlistWrite {
    Written,
    /// Another watchlist of the same account has this name; nothing was written.
    NameTaken,
    /// The stored watchlist is not the `previous` the caller based its change on (a
    /// concurrent write won); nothing was written. Re-read and retry.
    Stale,
}

/// Watchlists (Kafka: compacted `watchlists`, key `watchlist_id`, value
/// `WatchlistRecord`, tombstone on delete).
///
/// Invariants: names are unique per account (checked by `put` under the store's write
/// lock); a write that returned `Ok` is visible to the same process's reads at once.
/// Known limitation of a log-backed implementation: uniqueness and `previous` are checked
/// per process; two API instances writing the same account's lists at the same moment
/// could both succeed (last write wins).
pub trait WatchlistStore: Send + Sync {
    /// Creates (`previous` = `None`: the id must be new) or replaces (`previous` = the
    /// record the change was computed from) a watchlist.
    fn put(&self, list: schemas::records::WatchlistRecord, previous: Option<schemas::records::WatchlistRecord>) -> BoxFuture<'_, Result<WatchlistWrite, PortError>>;
    /// Deletes a watchlist; `false` if it did not exist.
    fn delete(&self, watchlist_id: &str) -> BoxFuture<'_, Result<bool, PortError>>;
    fn watchlist(&self, watchlist_id: &str) -> Result<Option<schemas::records::WatchlistRecord>, PortError>;
    /// An account's watchlists, ordered by creation time (ties by id).
    fn watchlists_of(&self, account_id: &str) -> Result<Vec<schemas::records::WatchlistRecord>, PortError>;
}

/// Why a report could not be produced ([`ReportSource`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportPortError {
    /// Bad month, year, lot method or date: 422.
    #[error("{0}")]
    Invalid(String),
    /// The analytics store (ClickHouse) cannot be reached: 503.
    #[error("{0}")]
    Unavailable(String),
    /// Anything else: 500.
    #[error("{0}")]
    Internal(String),
}

/// The ClickHouse reports (Kafka side: `sinks::reports`), as JSON so this crate does not
/// depend on the sink. Account authorization is the caller's (the handlers').
pub trait ReportSource: Send + Sync {
    /// Monthly statement; `month` is `YYYY-MM`.
    fn statement<'a>(&'a self, account_id: &'a str, month: &'a str) -> BoxFuture<'a, Result<serde_json::Value, ReportPortError>>;
    /// Realized capital gains of tax `year`; `method` is `fifo` or `lifo`.
    fn gains<'a>(&'a self, account_id: &'a str, year: i32, method: &'a str) -> BoxFuture<'a, Result<serde_json::Value, ReportPortError>>;
    /// Admin reports for the UTC days `from..=to` (`YYYY-MM-DD`).
    fn admin<'a>(&'a self, from: &'a str, to: &'a str) -> BoxFuture<'a, Result<serde_json::Value, ReportPortError>>;
}
