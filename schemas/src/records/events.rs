//! Events: what happened. Append-only topics, consumed `read_committed`.

use super::Side;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Alpaca's order status names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    PendingNew,
    New,
    PartiallyFilled,
    Filled,
    Canceled,
    Expired,
    Rejected,
    Replaced,
    /// Added in schema v2: a cancel request was routed to the venue.
    PendingCancel,
    /// Added in schema v2: a replace request was routed to the venue.
    PendingReplace,
}

/// Machine-readable reject / cancel reason. Readers that do not know a newer symbol read
/// `Other` (the Avro enum's default).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderReason {
    Other,
    InsufficientBuyingPower,
    InsufficientShares,
    UnknownInstrument,
    InstrumentHalted,
    InvalidQuantity,
    InvalidPrice,
    TickSize,
    LotSize,
    MinQuantity,
    MaxNotional,
    PriceCollar,
    PriceBand,
    OrderRate,
    AccountNotActive,
    KycLimit,
    UnsupportedTimeInForce,
    UnsupportedOrderType,
    DuplicateOrderId,
    UnknownOrder,
    UserCanceled,
    NoLiquidity,
    IocRemainder,
    FokUnfillable,
    SelfTradePrevention,
    SessionClose,
    ReplacedByNewOrder,
    // Added in schema v2 (the accounts operator's reasons that had no symbol).
    AccountNotFound,
    AccountRestricted,
    KycNotVerified,
    DuplicateClientOrderId,
    InstrumentNotTradable,
    NoReferencePrice,
    UnsupportedOrder,
    OrderPendingChange,
    ValueOverflow,
}

/// Who produced an [`OrderEvent`] (schema v2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderEventOrigin {
    /// The accounts pipeline, after booking the event.
    Accounts,
    /// The matching engine.
    Venue,
}

/// The precise event on an accounts-origin [`OrderEvent`] (schema v2). Readers that do not
/// know a newer symbol read `Other` (the Avro enum's default).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderEventType {
    Other,
    Accepted,
    Rejected,
    PendingCancel,
    CancelRejected,
    PendingReplace,
    ReplaceRejected,
    ReplaceRejectedByVenue,
    Replaced,
    PartiallyFilled,
    Filled,
    Canceled,
    Expired,
    RejectedByVenue,
}

/// The fill behind a `PartiallyFilled` / `Filled` [`OrderEvent`]: on accounts-origin
/// events the fill the accounts pipeline booked (schema v2); on venue-origin events the
/// execution that caused the event (schema v3: `fill_id` = the execution's `exec_id`,
/// `fee` = 0, no `settlement_date`), which is what the accounts pipeline books.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderFill {
    pub fill_id: String,
    #[serde(with = "crate::decimal")]
    pub qty: Decimal,
    #[serde(with = "crate::decimal")]
    pub price: Decimal,
    #[serde(with = "crate::decimal")]
    pub fee: Decimal,
    /// Settlement date, days since 1970-01-01. `Some` on accounts-origin events; `None` on
    /// venue-origin events (schema v3 made it optional: the venue does not know it).
    pub settlement_date: Option<i32>,
}

/// An order's status change (topic `orders.events`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderEvent {
    pub event_id: String,
    pub account_id: String,
    pub order_id: String,
    pub client_order_id: Option<String>,
    pub symbol: String,
    pub at_ns: i64,
    pub status: OrderStatus,
    pub reason: Option<OrderReason>,
    #[serde(with = "crate::decimal")]
    pub filled_qty: Decimal,
    #[serde(with = "crate::decimal")]
    pub leaves_qty: Decimal,
    #[serde(with = "crate::decimal::opt")]
    pub avg_fill_price: Option<Decimal>,
    pub replaced_by: Option<String>,
    pub message: Option<String>,
    /// Schema v2 (all below; v1 data reads `None`). The accounts pipeline books only
    /// `Venue` events and ignores the rest.
    #[serde(default)]
    pub origin: Option<OrderEventOrigin>,
    /// The precise event on accounts-origin events.
    #[serde(default)]
    pub event_type: Option<OrderEventType>,
    /// The fill on fill events: the booked fill on accounts-origin events, the execution
    /// on venue-origin events (schema v3).
    #[serde(default)]
    pub fill: Option<OrderFill>,
    /// On venue `Replaced` events: the replacement's open quantity.
    #[serde(default, with = "crate::decimal::opt")]
    pub new_qty: Option<Decimal>,
    /// On venue `Replaced` events: the replacement's limit price.
    #[serde(default, with = "crate::decimal::opt")]
    pub new_limit_price: Option<Decimal>,
    /// On venue `Replaced` events: the replacement's stop price.
    #[serde(default, with = "crate::decimal::opt")]
    pub new_stop_price: Option<Decimal>,
}

/// Maker or taker side of a fill.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Liquidity {
    Maker,
    Taker,
}

/// One side of a fill (topic `executions`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExecutionReport {
    pub exec_id: String,
    pub trade_id: String,
    pub account_id: String,
    pub order_id: String,
    pub client_order_id: Option<String>,
    pub symbol: String,
    pub side: Side,
    #[serde(with = "crate::decimal")]
    pub last_qty: Decimal,
    #[serde(with = "crate::decimal")]
    pub last_price: Decimal,
    #[serde(with = "crate::decimal")]
    pub cum_qty: Decimal,
    #[serde(with = "crate::decimal")]
    pub leaves_qty: Decimal,
    #[serde(with = "crate::decimal")]
    pub avg_price: Decimal,
    #[serde(with = "crate::decimal")]
    pub fee: Decimal,
    pub liquidity: Liquidity,
    pub at_ns: i64,
}

/// A print on the public trade tape (topic `trades`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trade {
    pub trade_id: String,
    pub symbol: String,
    pub seq: i64,
    #[serde(with = "crate::decimal")]
    pub price: Decimal,
    #[serde(with = "crate::decimal")]
    pub qty: Decimal,
    pub aggressor: Side,
    pub buy_order_id: String,
    pub sell_order_id: String,
    pub at_ns: i64,
}

/// Kind of journal entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EntryKind {
    Deposit,
    Withdrawal,
    Hold,
    Release,
    Trade,
    Fee,
    Settlement,
    /// Added in schema v2.
    WithdrawalHold,
    /// Added in schema v2.
    WithdrawalRelease,
    /// Added in schema v2.
    DeficitRepayment,
}

/// One line of a journal entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Posting {
    pub ledger_account: String,
    pub asset: String,
    #[serde(with = "crate::decimal")]
    pub debit: Decimal,
    #[serde(with = "crate::decimal")]
    pub credit: Decimal,
}

/// A balanced double-entry journal entry (topic `ledger`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub entry_id: String,
    pub account_id: String,
    pub at_ns: i64,
    pub kind: EntryKind,
    pub reference: String,
    pub postings: Vec<Posting>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FundingDirection {
    Deposit,
    Withdrawal,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FundingStatus {
    Requested,
    Completed,
    Failed,
    Rejected,
}

/// Funding lifecycle event (topic `funding.events`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FundingEvent {
    pub event_id: String,
    pub account_id: String,
    pub funding_id: String,
    pub direction: FundingDirection,
    pub status: FundingStatus,
    #[serde(with = "crate::decimal")]
    pub amount: Decimal,
    pub reason: Option<String>,
    pub at_ns: i64,
}

/// Classification of a dead-lettered record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorKind {
    Other,
    Empty,
    BadMagic,
    UnknownSchemaId,
    Undecodable,
    TooLarge,
    Invalid,
}

impl ErrorKind {
    /// The Avro symbol, also used in the `tradeflow.error.kind` header.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Other => "OTHER",
            ErrorKind::Empty => "EMPTY",
            ErrorKind::BadMagic => "BAD_MAGIC",
            ErrorKind::UnknownSchemaId => "UNKNOWN_SCHEMA_ID",
            ErrorKind::Undecodable => "UNDECODABLE",
            ErrorKind::TooLarge => "TOO_LARGE",
            ErrorKind::Invalid => "INVALID",
        }
    }
}

/// A record a pipeline could not process (topic `dlq`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub pipeline: String,
    pub source_topic: String,
    pub source_partition: i32,
    pub source_offset: i64,
    pub error_kind: ErrorKind,
    pub error: String,
    #[serde(with = "opt_bytes")]
    pub key: Option<Vec<u8>>,
    #[serde(with = "opt_bytes")]
    pub value: Option<Vec<u8>>,
    pub value_size: i32,
    pub failed_at_ns: i64,
}


mod opt_bytes {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    struct Bytes<'a>(&'a [u8]);
    impl Serialize for Bytes<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(self.0)
        }
    }
    struct Owned(Vec<u8>);
    impl<'de> Deserialize<'de> for Owned {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Owned;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_bytes<E>(self, v: &[u8]) -> Result<Owned, E> {
                    Ok(Owned(v.to_vec()))
                }
                fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Owned, E> {
                    Ok(Owned(v))
                }
                fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Owned, A::Error> {
                    let mut v = Vec::new();
                    while let Some(b) = a.next_element::<u8>()? {
                        v.push(b);
                    }
                    Ok(Owned(v))
                }
            }
            d.deserialize_bytes(V)
        }
    }

    pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => s.serialize_some(&Bytes(b)),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        Ok(Option::<Owned>::deserialize(d)?.map(|o| o.0))
    }
}

/// Whether a tax lot holds shares (long) or owes them (short).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LotSide {
    Long,
    Short,
}

/// Holding-period class of a disposal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HoldingTerm {
    ShortTerm,
    LongTerm,
}

/// The closed part of one lot (inside [`RealizedGain`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LotDisposal {
    pub lot_id: String,
    pub lot_side: LotSide,
    #[serde(with = "crate::decimal")]
    pub qty: Decimal,
    pub opened_at_ns: i64,
    /// Days since 1970-01-01.
    pub acquired_on: i32,
    /// Days since 1970-01-01.
    pub disposed_on: i32,
    pub holding_days: i32,
    #[serde(with = "crate::decimal")]
    pub proceeds: Decimal,
    #[serde(with = "crate::decimal")]
    pub cost_basis: Decimal,
    #[serde(with = "crate::decimal")]
    pub gain: Decimal,
    pub term: HoldingTerm,
}

/// Gain realized by one closing fill (topic `realized.gains`, key account id).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RealizedGain {
    pub account_id: String,
    pub symbol: String,
    pub fill_id: String,
    pub side: Side,
    pub executed_at_ns: i64,
    /// Days since 1970-01-01.
    pub trade_date: i32,
    #[serde(with = "crate::decimal")]
    pub qty: Decimal,
    #[serde(with = "crate::decimal")]
    pub proceeds: Decimal,
    #[serde(with = "crate::decimal")]
    pub cost_basis: Decimal,
    #[serde(with = "crate::decimal")]
    pub gain: Decimal,
    #[serde(with = "crate::decimal")]
    pub short_term_gain: Decimal,
    #[serde(with = "crate::decimal")]
    pub long_term_gain: Decimal,
    pub disposals: Vec<LotDisposal>,
}
