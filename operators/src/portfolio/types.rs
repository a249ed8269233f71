//! Input facts: fills, lot-selection instructions and the lot-matching method.
//!
//! A `Fill` is an execution that already happened at the venue; the portfolio never refuses
//! it for business reasons (there is no "insufficient shares": selling more than is held
//! opens a short lot). It only refuses malformed fills (see [`Fill::validate`]).
//!
//! Validation bounds keep every product and sum far inside `Decimal`'s 96-bit mantissa:
//! quantity <= `MAX_QTY`, price <= `MAX_PRICE`, fee <= `MAX_FEE`, at most `MAX_SCALE`
//! decimal places each, so `qty * price` is exact.

use rust_decimal::Decimal;

use super::error::PortfolioError;
use super::lot::LotId;
use crate::Timestamp;

/// Largest accepted fill quantity (10^12 shares).
pub const MAX_QTY: Decimal = Decimal::from_parts(0xD4A5_1000, 0xE8, 0, false, 0);
/// Largest accepted fill price (10^9 per share).
pub const MAX_PRICE: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);
/// Largest accepted fill fee (10^12).
pub const MAX_FEE: Decimal = MAX_QTY;
/// Most decimal places accepted on a quantity, price or fee.
pub const MAX_SCALE: u32 = 9;

/// Side of a fill from the account's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    Buy,
    Sell,
}

/// How a closing fill picks the open lots it closes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LotMethod {
    /// Oldest open lot first (the default, and the IRS default without identification).
    #[default]
    Fifo,
    /// Newest open lot first.
    Lifo,
    /// The lots named by a [`LotInstruction`] for that fill, in the listed order; any
    /// quantity they do not cover (or a fill without instruction) falls back to FIFO.
    SpecificLot,
}

/// One execution for the account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fill {
    pub account: String,
    pub symbol: String,
    pub side: Side,
    /// Executed quantity, > 0.
    pub qty: Decimal,
    /// Execution price per share, >= 0.
    pub price: Decimal,
    /// Fees and commissions charged for this fill, >= 0.
    pub fee: Decimal,
    /// Unique per account; also becomes the id of the lot the fill opens, if any.
    pub fill_id: String,
    /// Execution time at the venue (drives trade dates and holding periods).
    pub executed_at: Timestamp,
}

impl Fill {
    /// Checks the fill is well-formed (ids present, amounts in range).
    pub fn validate(&self) -> Result<(), PortfolioError> {
        if self.fill_id.is_empty() {
            return Err(PortfolioError::EmptyFillId);
        }
        if self.symbol.is_empty() {
            return Err(PortfolioError::EmptySymbol);
        }
        if self.qty <= Decimal::ZERO {
            return Err(PortfolioError::NonPositiveQuantity(self.qty));
        }
        if self.price.is_sign_negative() && !self.price.is_zero() {
            return Err(PortfolioError::NegativePrice(self.price));
        }
        if self.fee.is_sign_negative() && !self.fee.is_zero() {
            return Err(PortfolioError::NegativeFee(self.fee));
        }
        check_amount("qty", self.qty, MAX_QTY)?;
        check_amount("price", self.price, MAX_PRICE)?;
        check_amount("fee", self.fee, MAX_FEE)
    }
}

fn check_amount(field: &'static str, value: Decimal, max: Decimal) -> Result<(), PortfolioError> {
    if value > max {
        return Err(PortfolioError::OutOfRange { field, value });
    }
    if value.normalize().scale() > MAX_SCALE {
        return Err(PortfolioError::TooManyDecimals { field, value });
    }
    Ok(())
}

/// Specific-lot identification for one closing fill: close these lots first, in order.
///
/// Used only when the account's method is [`LotMethod::SpecificLot`]. Each listed lot is
/// closed completely before the next one; lots already closed when the fill arrives are
/// skipped, and any remaining quantity falls back to FIFO.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LotInstruction {
    /// The closing fill this instruction is for.
    pub fill_id: String,
    /// Lot ids (= ids of the fills that opened them), in the order to close them.
    pub lots: Vec<LotId>,
}
