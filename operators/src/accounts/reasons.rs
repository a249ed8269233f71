//! Closed, machine-readable reasons: order rejections, funding rejections, and the
//! [`AccountsError`] for inputs that contradict the operator's state.
//!
//! Invariants:
//! - Business outcomes (an order or funding request refused) are output events carrying
//!   a reason, never `Err`.
//! - [`AccountsError`] marks *bad input* (an execution report for an unknown order, a
//!   duplicate fill, ...). The operator publishes it as `AccountOutput::InvalidInput`
//!   and leaves state unchanged, so the pipeline can dead-letter the record.

use thiserror::Error;

/// Why an order, cancel or replace request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RejectReason {
    /// No account with this id has been opened.
    AccountNotFound,
    /// The account is deactivated.
    AccountNotActive,
    /// The account is restricted (closing-only) and the order would buy or short.
    AccountRestricted,
    /// KYC is not verified.
    KycNotVerified,
    /// The order would exceed the KYC tier's daily order notional.
    KycTierLimitExceeded,
    /// Too many orders in the rate window.
    OrderRateExceeded,
    /// An open order already has this order id.
    DuplicateOrderId,
    /// An open order already has this client order id.
    DuplicateClientOrderId,
    /// No instrument snapshot, or it names another symbol.
    UnknownInstrument,
    /// The instrument is halted.
    InstrumentHalted,
    /// The instrument is delisted.
    InstrumentNotTradable,
    /// Market or stop order on an instrument that has never traded.
    NoReferencePrice,
    /// Combination not supported (notional sell, notional non-market order, replacing a
    /// market or notional order).
    UnsupportedOrder,
    /// Quantity or notional missing, zero or negative.
    InvalidQuantity,
    /// Quantity below the instrument's minimum.
    BelowMinQuantity,
    /// Quantity not a multiple of the lot size.
    LotSizeViolation,
    /// Limit or stop price missing, unexpected, zero or negative.
    InvalidPrice,
    /// Price not a multiple of the tick size.
    TickSizeViolation,
    /// Limit or stop price too far from the reference price.
    PriceOutsideCollar,
    /// Estimated notional above the instrument's maximum.
    MaxOrderNotionalExceeded,
    /// Not enough buying power for the reservation.
    InsufficientBuyingPower,
    /// Not enough shares and the account may not short.
    InsufficientShares,
    /// Cancel or replace of an order that is not open here.
    OrderNotFound,
    /// Cancel or replace of an order with a cancel or replace already in flight.
    OrderPendingChange,
    /// Arithmetic overflow on absurd quantities or prices.
    ValueOverflow,
}

/// Why a deposit or withdrawal request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FundingRejectReason {
    /// No account with this id has been opened.
    AccountNotFound,
    /// The account is deactivated.
    AccountNotActive,
    /// The account is restricted and the request is a deposit.
    AccountRestricted,
    /// KYC is not verified.
    KycNotVerified,
    /// Amount zero or negative.
    InvalidAmount,
    /// A pending funding already has this id.
    DuplicateFundingId,
    /// Over the tier's daily deposit limit.
    DailyDepositLimitExceeded,
    /// Over the tier's daily withdrawal limit.
    DailyWithdrawalLimitExceeded,
    /// More than the withdrawable (settled, unheld) cash.
    InsufficientWithdrawableCash,
}

/// An input that contradicts the operator's state; published for dead-lettering.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum AccountsError {
    /// `OpenAccount` for an account that exists.
    #[error("account {0} already exists")]
    AccountExists(String),
    /// A command other than open for an account that does not exist.
    #[error("account {0} does not exist")]
    UnknownAccount(String),
    /// An execution report for an order that is not open.
    #[error("order {0} is not open")]
    UnknownOrder(String),
    /// A fill id already booked on the order.
    #[error("fill {fill_id} already booked on order {order_id}")]
    DuplicateFill {
        /// Order id.
        order_id: String,
        /// Fill id.
        fill_id: String,
    },
    /// A fill larger than the order's leaves quantity, or with a non-positive quantity or
    /// price, or a negative fee.
    #[error("fill {fill_id} on order {order_id} is invalid: {detail}")]
    InvalidFill {
        /// Order id.
        order_id: String,
        /// Fill id.
        fill_id: String,
        /// What is wrong.
        detail: String,
    },
    /// A `Replaced` report without a matching pending replace.
    #[error("order {0} has no pending replace")]
    NoPendingReplace(String),
    /// Completion or failure of a funding that is not pending.
    #[error("funding {0} is not pending")]
    UnknownFunding(String),
    /// Arithmetic overflow while booking a report.
    #[error("arithmetic overflow booking {0}")]
    Overflow(String),
}
