//! The operator's single input type, [`AccountInput`]: account, funding and order
//! commands plus execution reports, all keyed by account id (the key is not repeated).
//!
//! Invariants:
//! - One closed enum; the pipeline decodes every input topic of the operator into it.
//! - Order commands carry the instrument snapshot the API saw, so checks are deterministic.

use rust_decimal::Decimal;

use super::types::{
    AccountStatus, InstrumentSnapshot, KycStatus, KycTier, OrderSize, OrderType, Side, TimeInForce,
};

/// Everything the accounts operator consumes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountInput {
    /// Opens the account (key) with zero balances.
    OpenAccount {
        /// Owning user.
        owner: String,
        /// KYC status.
        kyc_status: KycStatus,
        /// KYC tier.
        kyc_tier: KycTier,
        /// Whether sells beyond the position (short sales) are allowed.
        allow_shorting: bool,
    },
    /// Changes the account status.
    SetStatus(AccountStatus),
    /// Changes KYC status and tier.
    SetKyc {
        /// New status.
        status: KycStatus,
        /// New tier.
        tier: KycTier,
    },
    /// Requests a deposit from the bank; cash arrives on `FundingCompleted`.
    DepositRequested {
        /// Unique funding id.
        funding_id: String,
        /// Positive amount.
        amount: Decimal,
    },
    /// Requests a withdrawal; the amount is held at once and leaves on `FundingCompleted`.
    WithdrawalRequested {
        /// Unique funding id.
        funding_id: String,
        /// Positive amount.
        amount: Decimal,
    },
    /// The bank completed a pending deposit or withdrawal.
    FundingCompleted {
        /// Funding id.
        funding_id: String,
    },
    /// The bank failed a pending deposit or withdrawal.
    FundingFailed {
        /// Funding id.
        funding_id: String,
        /// Free-text reason from the payment gateway.
        reason: String,
    },
    /// A new order.
    PlaceOrder(PlaceOrder),
    /// Cancel request for an open order.
    CancelOrder {
        /// Order id.
        order_id: String,
    },
    /// Replace request for an open limit / stop / stop-limit order.
    ReplaceOrder(ReplaceOrder),
    /// An execution report from the matching engine.
    Execution(ExecutionReport),
}

/// A new order as submitted through the API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlaceOrder {
    /// Platform order id (unique).
    pub order_id: String,
    /// Client's id for the order.
    pub client_order_id: String,
    /// Symbol.
    pub symbol: String,
    /// Side.
    pub side: Side,
    /// Type.
    pub order_type: OrderType,
    /// Time in force.
    pub tif: TimeInForce,
    /// Quantity or notional.
    pub size: OrderSize,
    /// Limit price (limit and stop-limit only).
    pub limit_price: Option<Decimal>,
    /// Stop price (stop and stop-limit only).
    pub stop_price: Option<Decimal>,
    /// Instrument as of submission; `None` = unknown to the API.
    pub instrument: Option<InstrumentSnapshot>,
}

/// A cancel/replace: the open order `order_id` becomes `new_order_id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplaceOrder {
    /// The open order.
    pub order_id: String,
    /// Id of the replacement.
    pub new_order_id: String,
    /// Client id of the replacement.
    pub new_client_order_id: String,
    /// Open quantity of the replacement.
    pub qty: Decimal,
    /// New limit price (required iff the type needs one).
    pub limit_price: Option<Decimal>,
    /// New stop price (required iff the type needs one).
    pub stop_price: Option<Decimal>,
    /// Instrument as of submission.
    pub instrument: Option<InstrumentSnapshot>,
}

/// Execution reports from the matching engine, re-keyed by account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExecutionReport {
    /// A (partial) fill.
    Fill {
        /// Order id.
        order_id: String,
        /// Unique per order.
        fill_id: String,
        /// Positive quantity.
        qty: Decimal,
        /// Positive price.
        price: Decimal,
        /// Non-negative fee charged to this side.
        fee: Decimal,
    },
    /// The order is canceled; `leaves_qty` was open.
    Canceled {
        /// Order id.
        order_id: String,
        /// Quantity that was open.
        leaves_qty: Decimal,
    },
    /// The order expired (time in force); `leaves_qty` was open.
    Expired {
        /// Order id.
        order_id: String,
        /// Quantity that was open.
        leaves_qty: Decimal,
    },
    /// The venue rejected the order, or (if `order_id` is a pending replacement id) the replace.
    Rejected {
        /// Order id (or replacement id).
        order_id: String,
        /// Quantity that was open.
        leaves_qty: Decimal,
    },
    /// The venue replaced `old_order_id` with `new_order_id`.
    Replaced {
        /// The replaced order.
        old_order_id: String,
        /// The replacement.
        new_order_id: String,
        /// Open quantity of the replacement.
        new_qty: Decimal,
        /// Its limit price.
        new_limit_price: Option<Decimal>,
        /// Its stop price.
        new_stop_price: Option<Decimal>,
    },
}
