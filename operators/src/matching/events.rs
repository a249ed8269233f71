//! Events produced by the book (a closed enum) and their reasons.
//!
//! Invariants:
//! - Every id on an event is derived from per-book counters (`exec_id`, `trade_id`) or
//!   copied from the command, so replaying the same commands reproduces the same events.
//! - One fill produces, in this order: the maker's [`ExecutionReport`], the taker's
//!   [`ExecutionReport`], and one public [`Trade`]. Fills are always at the maker's price.
//! - Order status names are Alpaca's. Terminal updates (`canceled`, `expired`, `replaced`)
//!   carry `canceled_qty`, the open quantity they removed, so for every order
//!   `filled + open + canceled == order_qty` holds at all times.
//! - `rejected` orders were never live: they have no other event.
//!
//! Known limitations:
//! - Events carry no symbol and no time: the operator wraps them (`MatchingOutput`).

use super::rules::TradingStatus;
use super::types::{AccountId, OrderId, Side};

/// Order status names, as in Alpaca's order object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OrderStatus {
    /// Accepted and live (resting, or a stop waiting for its trigger).
    New,
    /// Some quantity filled, the rest still live.
    PartiallyFilled,
    /// Fully filled.
    Filled,
    /// The rest was canceled (see [`CancelReason`]).
    Canceled,
    /// A day order reached the session close.
    Expired,
    /// Never accepted (see [`RejectReason`]).
    Rejected,
    /// Replaced by a new order (cancel-and-replace).
    Replaced,
}

impl OrderStatus {
    /// Alpaca's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::New => "new",
            OrderStatus::PartiallyFilled => "partially_filled",
            OrderStatus::Filled => "filled",
            OrderStatus::Canceled => "canceled",
            OrderStatus::Expired => "expired",
            OrderStatus::Rejected => "rejected",
            OrderStatus::Replaced => "replaced",
        }
    }
}

/// Why a command was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RejectReason {
    /// The symbol has no book (never listed).
    UnknownInstrument,
    /// `List` for an instrument that is listed or halted.
    AlreadyListed,
    /// `List` with invalid rules.
    InvalidRules,
    /// Instrument command not valid in the current status (e.g. resume when listed).
    InvalidTransition,
    /// Trading is halted.
    InstrumentHalted,
    /// The instrument is delisted.
    InstrumentDelisted,
    /// `opg` and `cls` are not implemented yet.
    UnsupportedTimeInForce,
    /// Quantity is zero or negative.
    InvalidQuantity,
    /// Quantity below the instrument's minimum.
    BelowMinimumQuantity,
    /// A price is zero or negative.
    InvalidPrice,
    /// Limit or stop-limit without a limit price.
    MissingLimitPrice,
    /// Stop or stop-limit without a stop price.
    MissingStopPrice,
    /// Market or stop with a limit price, or market or limit with a stop price.
    UnexpectedPrice,
    /// Price x quantity above the instrument's maximum notional.
    MaxNotionalExceeded,
    /// The limit price is outside the price protection band.
    OutsidePriceBand,
    /// A live order already has this id.
    DuplicateOrderId,
    /// Cancel / replace of an order that is not live.
    OrderNotFound,
    /// Cancel / replace by an account that does not own the order.
    AccountMismatch,
    /// A day order with no session close after its entry time in the calendar.
    NoSessionClose,
}

/// Why live quantity was canceled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CancelReason {
    /// The owner asked.
    UserRequested,
    /// An IOC order's unfilled rest.
    ImmediateOrCancel,
    /// A FOK order that could not fill completely (nothing was filled).
    FillOrKill,
    /// A market order (or triggered stop) ran out of liquidity.
    NoLiquidity,
    /// Matching stopped at the price band edge, or a triggered stop-limit's limit was
    /// outside the band.
    PriceBand,
    /// Self-trade prevention.
    SelfTradePrevention,
    /// The instrument was delisted.
    Delisted,
}

/// Extra detail on an [`OrderUpdate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusDetail {
    /// Nothing more to say.
    None,
    /// The reason for `rejected`.
    Rejected(RejectReason),
    /// The reason for `canceled`.
    Canceled(CancelReason),
    /// On `new`: this order replaces that one.
    Replaces(OrderId),
    /// On `replaced`: the id of the replacement.
    ReplacedBy(OrderId),
}

/// A non-fill status change of one order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderUpdate {
    /// The order.
    pub order_id: OrderId,
    /// Its account.
    pub account: AccountId,
    /// Its client order id.
    pub client_order_id: Option<String>,
    /// Its side.
    pub side: Side,
    /// New status.
    pub status: OrderStatus,
    /// Reason or link.
    pub detail: StatusDetail,
    /// Ordered quantity (lots).
    pub order_qty: i64,
    /// Filled so far.
    pub cum_qty: i64,
    /// Still open after this event (0 once terminal).
    pub leaves_qty: i64,
    /// Open quantity removed by this event (canceled / expired / replaced), else 0.
    pub canceled_qty: i64,
}

/// Maker or taker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Liquidity {
    /// The resting order.
    Maker,
    /// The incoming order.
    Taker,
}

/// One side of one fill.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecutionReport {
    /// Per-book execution id.
    pub exec_id: u64,
    /// The trade this fill belongs to.
    pub trade_id: u64,
    /// The order.
    pub order_id: OrderId,
    /// Its account.
    pub account: AccountId,
    /// Its client order id.
    pub client_order_id: Option<String>,
    /// Its side.
    pub side: Side,
    /// Maker or taker.
    pub liquidity: Liquidity,
    /// Lots filled by this execution.
    pub fill_qty: i64,
    /// Price in ticks (always the maker's price).
    pub fill_price: i64,
    /// Open lots after this fill.
    pub leaves_qty: i64,
    /// Lots filled so far including this fill.
    pub cum_qty: i64,
    /// `PartiallyFilled` or `Filled`.
    pub status: OrderStatus,
}

/// A public trade tape entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trade {
    /// Per-book trade id.
    pub trade_id: u64,
    /// Price in ticks.
    pub price: i64,
    /// Lots.
    pub qty: i64,
    /// Side of the taker.
    pub aggressor: Side,
}

/// The kind of command a [`RequestRejected`] refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RequestKind {
    /// Cancel.
    Cancel,
    /// Replace.
    Replace,
    /// List.
    List,
    /// Halt.
    Halt,
    /// Resume.
    Resume,
    /// Delist.
    Delist,
}

/// A cancel, replace or instrument command that was refused (the order, if any, is unchanged).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestRejected {
    /// Which command.
    pub kind: RequestKind,
    /// The order it named, if any.
    pub order_id: Option<OrderId>,
    /// The account that sent it, if any.
    pub account: Option<AccountId>,
    /// Why.
    pub reason: RejectReason,
}

/// One aggregated price level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DepthLevel {
    /// Price in ticks.
    pub price: i64,
    /// Total open lots.
    pub qty: i64,
    /// Number of orders.
    pub orders: usize,
}

/// Best bid and offer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bbo {
    /// Best bid.
    pub bid: Option<DepthLevel>,
    /// Best ask.
    pub ask: Option<DepthLevel>,
}

/// Top-N levels per side plus the BBO.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DepthSnapshot {
    /// Bids, best (highest) first.
    pub bids: Vec<DepthLevel>,
    /// Asks, best (lowest) first.
    pub asks: Vec<DepthLevel>,
    /// Best bid and offer.
    pub bbo: Bbo,
    /// Last trade price in ticks.
    pub last_trade: Option<i64>,
    /// Session marks for the previous close (see [`SessionMarks`]).
    pub marks: SessionMarks,
}

/// Where the book stands in the session calendar, so a reader can tell the previous
/// session's closing price at any later time `now` without a clock in the book:
/// if `now >= session_close`, the previous close is `last_trade` at `session_close`;
/// otherwise it is `previous_close` at `previous_close_at`.
///
/// Invariant: all three are as of the latest command the book processed, and trades
/// happen only in commands, so a reader holding an older snapshot whose `last_trade` is
/// still current gets the same answer as from a newer one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionMarks {
    /// Close of the session of the latest command (`None`: no calendar / past its end).
    pub session_close: Option<i64>,
    /// The latest close before that session (`None`: none in the calendar).
    pub previous_close_at: Option<i64>,
    /// Last trade price in ticks as of `previous_close_at` (`None`: no trade by then).
    pub previous_close: Option<i64>,
}

/// Everything the book emits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BookEvent {
    /// new / canceled / expired / rejected / replaced.
    Order(OrderUpdate),
    /// A fill (partially_filled / filled).
    Execution(ExecutionReport),
    /// Public trade tape.
    Trade(Trade),
    /// A refused cancel, replace or instrument command.
    RequestRejected(RequestRejected),
    /// The instrument's trading status changed.
    Instrument(TradingStatus),
    /// L2 depth + BBO (emitted by the operator when configured).
    Depth(DepthSnapshot),
}
