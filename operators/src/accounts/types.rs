//! Domain vocabulary shared by the accounts operator: sides, order types, account and KYC
//! status, and the instrument snapshot an order command carries.
//!
//! Invariants:
//! - Every enum here is closed; adding a variant is a schema change for the pipeline codecs.
//! - Prices, quantities and money are `Decimal` (exact); nothing here is a float.
//!
//! Known limitations:
//! - The instrument snapshot is whatever the API saw at submission; the operator cannot
//!   verify it is current (it is keyed by account, instrument state is keyed by symbol).

use rust_decimal::Decimal;

/// Buy or sell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    /// Buy: reserves cash.
    Buy,
    /// Sell: reserves shares.
    Sell,
}

/// Order type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OrderType {
    /// Execute at the best available price.
    Market,
    /// Execute at the limit price or better.
    Limit,
    /// Becomes a market order once the stop price trades.
    Stop,
    /// Becomes a limit order once the stop price trades.
    StopLimit,
}

impl OrderType {
    /// Whether the type requires a limit price (and forbids its absence).
    pub fn needs_limit(self) -> bool {
        matches!(self, OrderType::Limit | OrderType::StopLimit)
    }

    /// Whether the type requires a stop price.
    pub fn needs_stop(self) -> bool {
        matches!(self, OrderType::Stop | OrderType::StopLimit)
    }
}

/// Time in force. Expiry itself is the matching engine's job; it reports `Expired`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TimeInForce {
    /// Good for the trading day.
    Day,
    /// Good till canceled.
    Gtc,
    /// Immediate or cancel.
    Ioc,
    /// Fill or kill.
    Fok,
}

/// Lifecycle status of an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AccountStatus {
    /// Everything allowed.
    Active,
    /// Closing-only: cancels, sells of held shares and withdrawals; no buys, shorts or deposits.
    Restricted,
    /// Nothing new is accepted; execution reports for existing orders are still booked.
    Deactivated,
}

/// KYC verification status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KycStatus {
    /// Documents submitted, not yet verified.
    Pending,
    /// Verified: may fund and trade within the tier's limits.
    Verified,
    /// Verification failed.
    Rejected,
}

/// KYC tier (seed "KYC/AML Requirements": Basic, Standard, Enhanced).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KycTier {
    /// Basic: name, DOB, address, email and phone.
    Tier1,
    /// Standard: government id, selfie, address proof.
    Tier2,
    /// Enhanced: income, source of funds, tax documents.
    Tier3,
}

/// Tradability of an instrument as seen by the API at submission.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum InstrumentStatus {
    /// Trading normally.
    Listed,
    /// Trading halted: no new orders.
    Halted,
    /// Delisted: no new orders.
    Delisted,
}

/// The instrument's rules and last trade as of order submission, enriched by the API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstrumentSnapshot {
    /// Symbol; must equal the order's symbol.
    pub symbol: String,
    /// Tradability.
    pub status: InstrumentStatus,
    /// Prices must be multiples of this (no constraint if zero).
    pub tick_size: Decimal,
    /// Quantities must be multiples of this (no constraint if zero).
    pub lot_size: Decimal,
    /// Minimum order quantity.
    pub min_qty: Decimal,
    /// Maximum estimated notional of one order (`None` = unlimited).
    pub max_order_notional: Option<Decimal>,
    /// Last trade price, if the instrument has traded.
    pub reference_price: Option<Decimal>,
}

/// Sizing of an order: a share quantity or (market buys only) a cash amount.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderSize {
    /// A number of shares (fractional if the lot size allows it).
    Qty(Decimal),
    /// A cash amount to spend, fees included in the reservation on top.
    Notional(Decimal),
}
