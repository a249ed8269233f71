//! Commands accepted by the book and the identifiers they carry.
//!
//! Invariants:
//! - [`Command`] is a closed enum: every input the matching operator understands is one of
//!   its variants; anything else is rejected by the decoder before it reaches the book.
//! - Prices are integer ticks and quantities integer lots (see `rules.rs` for the Decimal
//!   conversions). The book never sees a Decimal or a float.
//! - Order ids are supplied by the caller (the API / accounts operator), never generated
//!   by the book, so a replayed input log carries the same ids.
//!
//! Known limitations:
//! - `Replace` cannot change the side, the order type or the time in force.

use super::rules::InstrumentRules;

/// An order id, UUID-sized. Unique per instrument among live orders.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OrderId(pub u128);

/// An account id, UUID-sized.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId(pub u128);

/// Buy or sell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    /// Bid side.
    Buy,
    /// Ask side.
    Sell,
}

impl Side {
    /// The other side.
    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }

    /// Alpaca's spelling (`buy` / `sell`).
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        }
    }
}

/// Order type, as in Alpaca's `type` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OrderType {
    /// Trades at any price; never rests.
    Market,
    /// Trades at the limit price or better; the rest may rest.
    Limit,
    /// Becomes a market order when the trade tape touches the stop price.
    Stop,
    /// Becomes a limit order when the trade tape touches the stop price.
    StopLimit,
}

impl OrderType {
    /// Whether the order carries a stop price.
    pub fn has_stop(self) -> bool {
        matches!(self, OrderType::Stop | OrderType::StopLimit)
    }

    /// Whether the order carries a limit price.
    pub fn has_limit(self) -> bool {
        matches!(self, OrderType::Limit | OrderType::StopLimit)
    }

    /// Alpaca's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderType::Market => "market",
            OrderType::Limit => "limit",
            OrderType::Stop => "stop",
            OrderType::StopLimit => "stop_limit",
        }
    }
}

/// Time in force, as in Alpaca's `time_in_force` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TimeInForce {
    /// Expires at the close of the session it was entered in.
    Day,
    /// Good till canceled.
    Gtc,
    /// Immediate or cancel: fill what is possible now, cancel the rest.
    Ioc,
    /// Fill or kill: fill everything now or nothing.
    Fok,
    /// At the open. Not implemented: rejected with `UnsupportedTimeInForce`.
    Opg,
    /// At the close. Not implemented: rejected with `UnsupportedTimeInForce`.
    Cls,
}

impl TimeInForce {
    /// Alpaca's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeInForce::Day => "day",
            TimeInForce::Gtc => "gtc",
            TimeInForce::Ioc => "ioc",
            TimeInForce::Fok => "fok",
            TimeInForce::Opg => "opg",
            TimeInForce::Cls => "cls",
        }
    }
}

/// A new order routed to the book.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOrder {
    /// Caller-assigned order id.
    pub order_id: OrderId,
    /// The owning account (used for self-trade prevention and on every report).
    pub account: AccountId,
    /// The client's own id, echoed on every event of this order.
    pub client_order_id: Option<String>,
    /// Buy or sell.
    pub side: Side,
    /// Market, limit, stop or stop-limit.
    pub order_type: OrderType,
    /// Time in force.
    pub tif: TimeInForce,
    /// Quantity in lots (> 0).
    pub qty: i64,
    /// Limit price in ticks; required for limit and stop-limit, must be absent otherwise.
    pub limit_price: Option<i64>,
    /// Stop price in ticks; required for stop and stop-limit, must be absent otherwise.
    pub stop_price: Option<i64>,
}

/// Cancel-and-replace: creates `new_order_id` linked to `order_id`.
///
/// `None` fields keep the old order's value. `qty` is the new order's quantity (what is
/// left to trade), compared with the old order's leaves quantity to decide priority.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplaceOrder {
    /// The live order to replace.
    pub order_id: OrderId,
    /// The id of the replacement order.
    pub new_order_id: OrderId,
    /// Must own `order_id`.
    pub account: AccountId,
    /// Client id of the replacement (`None` keeps the old one).
    pub client_order_id: Option<String>,
    /// New quantity in lots.
    pub qty: Option<i64>,
    /// New limit price in ticks.
    pub limit_price: Option<i64>,
    /// New stop price in ticks.
    pub stop_price: Option<i64>,
}

/// Everything the matching operator accepts, per symbol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Enter an order.
    NewOrder(NewOrder),
    /// Cancel a live order (allowed while halted).
    Cancel {
        /// The order to cancel.
        order_id: OrderId,
        /// Must own the order.
        account: AccountId,
    },
    /// Cancel-and-replace.
    Replace(ReplaceOrder),
    /// List the instrument with these rules (creates the book).
    List(InstrumentRules),
    /// Stop trading: new orders and replaces rejected, cancels allowed.
    Halt,
    /// Resume trading after a halt.
    Resume,
    /// Delist: every live order is canceled and the book accepts no more orders.
    Delist,
}
