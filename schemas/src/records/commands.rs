//! Commands: what users and administrators ask for. Keyed by account (orders, funding,
//! accounts) or by symbol (instruments, routed orders).

use super::{AccountStatus, InstrumentStatus, KycStatus, OrderType, Side, TimeInForce};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Instrument rules as the API saw them when the order was submitted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstrumentSnapshot {
    pub status: InstrumentStatus,
    #[serde(with = "crate::decimal")]
    pub tick_size: Decimal,
    #[serde(with = "crate::decimal")]
    pub lot_size: Decimal,
    #[serde(with = "crate::decimal")]
    pub min_qty: Decimal,
    #[serde(with = "crate::decimal::opt")]
    pub max_order_notional: Option<Decimal>,
}

/// Place a new order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlaceOrder {
    pub order_id: String,
    pub client_order_id: Option<String>,
    pub symbol: String,
    pub side: Side,
    pub order_type: OrderType,
    pub time_in_force: TimeInForce,
    #[serde(with = "crate::decimal::opt")]
    pub qty: Option<Decimal>,
    #[serde(with = "crate::decimal::opt")]
    pub notional: Option<Decimal>,
    #[serde(with = "crate::decimal::opt")]
    pub limit_price: Option<Decimal>,
    #[serde(with = "crate::decimal::opt")]
    pub stop_price: Option<Decimal>,
    pub instrument: Option<InstrumentSnapshot>,
    #[serde(with = "crate::decimal::opt")]
    pub reference_price: Option<Decimal>,
    /// Added in schema v2; v1 data reads as `false`.
    #[serde(default)]
    pub extended_hours: bool,
}

/// Cancel an open order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CancelOrder {
    pub order_id: String,
}

/// Replace an open order with a new one (new id, linked to the old).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplaceOrder {
    pub order_id: String,
    pub new_order_id: String,
    #[serde(with = "crate::decimal::opt")]
    pub qty: Option<Decimal>,
    #[serde(with = "crate::decimal::opt")]
    pub limit_price: Option<Decimal>,
    #[serde(with = "crate::decimal::opt")]
    pub stop_price: Option<Decimal>,
    pub time_in_force: Option<TimeInForce>,
    pub client_order_id: Option<String>,
    /// Added in schema v3 (`RoutedOrder` v2): symbol of the order being replaced, as the
    /// API saw it; the instrument snapshot describes it. Absent on routed replaces.
    #[serde(default)]
    pub symbol: Option<String>,
    /// Added in schema v3 (`RoutedOrder` v2): the instrument as the API saw it, for the
    /// accounts pipeline's pre-trade checks. Absent on routed replaces; old data reads `None`.
    #[serde(default)]
    pub instrument: Option<InstrumentSnapshot>,
    /// Added with `instrument`: last trade price when the replace was submitted.
    #[serde(default, with = "crate::decimal::opt")]
    pub reference_price: Option<Decimal>,
}

/// The three order instructions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum OrderInstruction {
    PlaceOrder(PlaceOrder),
    CancelOrder(CancelOrder),
    ReplaceOrder(ReplaceOrder),
}

/// An account's order instruction (topic `orders.commands`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderCommand {
    pub command_id: String,
    pub account_id: String,
    pub issued_at_ns: i64,
    pub body: OrderInstruction,
}

/// An accepted order instruction re-keyed by symbol (topic `orders.routed`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoutedOrder {
    pub command_id: String,
    pub account_id: String,
    pub symbol: String,
    pub routed_at_ns: i64,
    pub body: OrderInstruction,
    /// Added in schema v2: for market and stop buys, the price the account's cash hold
    /// covers; the engine should not fill above it. `None` otherwise (and in v1 data).
    #[serde(default, with = "crate::decimal::opt")]
    pub protection_price: Option<Decimal>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestDeposit {
    pub funding_id: String,
    #[serde(with = "crate::decimal")]
    pub amount: Decimal,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestWithdrawal {
    pub funding_id: String,
    #[serde(with = "crate::decimal")]
    pub amount: Decimal,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompleteFunding {
    pub funding_id: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailFunding {
    pub funding_id: String,
    pub reason: String,
}

/// Funding instructions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FundingInstruction {
    RequestDeposit(RequestDeposit),
    RequestWithdrawal(RequestWithdrawal),
    CompleteFunding(CompleteFunding),
    FailFunding(FailFunding),
}

/// Deposit / withdrawal lifecycle command (topic `funding.commands`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FundingCommand {
    pub command_id: String,
    pub account_id: String,
    pub issued_at_ns: i64,
    pub body: FundingInstruction,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpenAccount {
    pub owner_id: String,
    pub kyc_status: KycStatus,
    pub kyc_tier: i32,
    pub allow_shorting: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SetAccountStatus {
    pub status: AccountStatus,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SetKyc {
    pub kyc_status: KycStatus,
    pub kyc_tier: i32,
}

/// Account lifecycle instructions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum AccountInstruction {
    OpenAccount(OpenAccount),
    SetAccountStatus(SetAccountStatus),
    SetKyc(SetKyc),
}

/// Account lifecycle command (topic `accounts.commands`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccountCommand {
    pub command_id: String,
    pub account_id: String,
    pub issued_at_ns: i64,
    pub body: AccountInstruction,
}

/// Self-trade prevention mode of an instrument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SelfTradePrevention {
    None,
    CancelNewest,
    CancelOldest,
    CancelBoth,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ListInstrument {
    pub name: String,
    #[serde(with = "crate::decimal")]
    pub tick_size: Decimal,
    #[serde(with = "crate::decimal")]
    pub lot_size: Decimal,
    #[serde(with = "crate::decimal")]
    pub min_qty: Decimal,
    #[serde(with = "crate::decimal::opt")]
    pub max_order_notional: Option<Decimal>,
    pub self_trade_prevention: SelfTradePrevention,
    #[serde(with = "crate::decimal::opt")]
    pub price_band_pct: Option<Decimal>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HaltInstrument {
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResumeInstrument {}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DelistInstrument {}

/// Instrument administration instructions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum InstrumentInstruction {
    ListInstrument(ListInstrument),
    HaltInstrument(HaltInstrument),
    ResumeInstrument(ResumeInstrument),
    DelistInstrument(DelistInstrument),
}

/// Instrument administration command (topic `instruments.commands`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstrumentCommand {
    pub command_id: String,
    pub symbol: String,
    pub issued_at_ns: i64,
    pub body: InstrumentInstruction,
}
