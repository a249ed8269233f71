//! State snapshots for compacted topics (latest value per key). These schemas evolve
//! FULL_TRANSITIVE: old and new readers must both read every version.

use super::{AccountStatus, InstrumentStatus, KycStatus};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PositionQty {
    pub symbol: String,
    #[serde(with = "crate::decimal")]
    pub qty: Decimal,
    #[serde(with = "crate::decimal")]
    pub held_qty: Decimal,
}

/// Latest state of an account (topic `accounts.snapshots`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccountSnapshot {
    pub account_id: String,
    pub owner_id: String,
    pub status: AccountStatus,
    pub kyc_status: KycStatus,
    pub kyc_tier: i32,
    #[serde(with = "crate::decimal")]
    pub cash: Decimal,
    #[serde(with = "crate::decimal")]
    pub held_cash: Decimal,
    #[serde(with = "crate::decimal")]
    pub unsettled_cash: Decimal,
    #[serde(with = "crate::decimal")]
    pub buying_power: Decimal,
    #[serde(with = "crate::decimal")]
    pub withdrawable_cash: Decimal,
    pub positions: Vec<PositionQty>,
    pub version: i64,
    pub as_of_ns: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaxLot {
    pub lot_id: String,
    #[serde(with = "crate::decimal")]
    pub qty: Decimal,
    #[serde(with = "crate::decimal")]
    pub price: Decimal,
    pub acquired_at_ns: i64,
}

/// Latest position of an account in a symbol (topic `positions.snapshots`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PositionSnapshot {
    pub account_id: String,
    pub symbol: String,
    #[serde(with = "crate::decimal")]
    pub qty: Decimal,
    #[serde(with = "crate::decimal")]
    pub avg_cost: Decimal,
    #[serde(with = "crate::decimal")]
    pub cost_basis: Decimal,
    #[serde(with = "crate::decimal")]
    pub realized_pnl: Decimal,
    pub lots: Vec<TaxLot>,
    pub as_of_ns: i64,
}

/// One price level of the book.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Level {
    #[serde(with = "crate::decimal")]
    pub price: Decimal,
    #[serde(with = "crate::decimal")]
    pub qty: Decimal,
    pub orders: i32,
}

/// L2 depth and best bid / offer (topic `book.depth`). Best bid = `bids[0]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BookSnapshot {
    pub symbol: String,
    pub status: InstrumentStatus,
    pub bids: Vec<Level>,
    pub asks: Vec<Level>,
    #[serde(with = "crate::decimal::opt")]
    pub last_trade_price: Option<Decimal>,
    pub seq: i64,
    pub as_of_ns: i64,
}
