//! Why the portfolio refuses an input.
//!
//! Every variant is a *poison* input error: retrying the same record can never succeed, so
//! the runtime dead-letters it. The operator reports them as output events
//! (`FillRejected`, `InstructionRejected`) rather than returning `Err`.

use rust_decimal::Decimal;

use super::lot::LotId;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PortfolioError {
    #[error("fill id is empty")]
    EmptyFillId,
    #[error("symbol is empty")]
    EmptySymbol,
    #[error("quantity must be positive, got {0}")]
    NonPositiveQuantity(Decimal),
    #[error("price must not be negative, got {0}")]
    NegativePrice(Decimal),
    #[error("fee must not be negative, got {0}")]
    NegativeFee(Decimal),
    #[error("{field} {value} is out of range")]
    OutOfRange { field: &'static str, value: Decimal },
    #[error("{field} {value} has too many decimal places")]
    TooManyDecimals { field: &'static str, value: Decimal },
    #[error("record for account {got} reached the partition of account {expected}")]
    AccountMismatch { expected: String, got: String },
    #[error("lot instruction lists no lots")]
    EmptyInstruction,
    #[error("lot {0} is not an open lot of this account")]
    UnknownLot(LotId),
    #[error("fill {0} was already processed; its lots can no longer be chosen")]
    FillAlreadyProcessed(String),
}
