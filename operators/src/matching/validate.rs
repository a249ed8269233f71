//! Entry checks for new orders and replacements (pure function of the order and the book's
//! status, rules and reference price).
//!
//! Invariants:
//! - Checks run in a fixed order and the first failure is the reason reported: status,
//!   time in force, duplicate id, quantity, minimum quantity, price presence, price sign,
//!   notional, price band, session close.
//! - Notional is price x quantity in tick-lots (`i128`): the limit price for limit and
//!   stop-limit, the stop price for stop, and the reference price (if any) for market.
//! - The band check applies to orders that would be active limit orders now (limit
//!   orders, and replacements of triggered stop-limits). Such orders are **rejected**
//!   when their limit is outside the band; stop-limits are checked when triggered instead.
//!
//! Known limitations:
//! - A market order's notional is not checked when there is no reference price yet, and
//!   is not re-checked while it walks the book.

use super::events::RejectReason;
use super::rules::{CompiledRules, TradingStatus};
use super::types::{NewOrder, OrderType, TimeInForce};

/// What the checks need to know about the book.
pub(crate) struct EntryContext<'a> {
    pub status: TradingStatus,
    pub rules: &'a CompiledRules,
    pub reference: Option<i64>,
    pub duplicate: bool,
    pub day_close: Option<i64>,
    pub band_applies: bool,
}

/// Returns the first reason to reject `o`, if any.
#[inline]
pub(crate) fn validate(o: &NewOrder, ctx: &EntryContext<'_>) -> Result<(), RejectReason> {
    use RejectReason as R;
    match ctx.status {
        TradingStatus::Listed => {}
        TradingStatus::Halted => return Err(R::InstrumentHalted),
        TradingStatus::Delisted => return Err(R::InstrumentDelisted),
    }
    if matches!(o.tif, TimeInForce::Opg | TimeInForce::Cls) {
        return Err(R::UnsupportedTimeInForce);
    }
    if ctx.duplicate {
        return Err(R::DuplicateOrderId);
    }
    if o.qty <= 0 {
        return Err(R::InvalidQuantity);
    }
    if o.qty < ctx.rules.min_qty_lots {
        return Err(R::BelowMinimumQuantity);
    }
    match (o.order_type.has_limit(), o.limit_price) {
        (true, None) => return Err(R::MissingLimitPrice),
        (false, Some(_)) => return Err(R::UnexpectedPrice),
        _ => {}
    }
    match (o.order_type.has_stop(), o.stop_price) {
        (true, None) => return Err(R::MissingStopPrice),
        (false, Some(_)) => return Err(R::UnexpectedPrice),
        _ => {}
    }
    if o.limit_price.is_some_and(|p| p <= 0) || o.stop_price.is_some_and(|p| p <= 0) {
        return Err(R::InvalidPrice);
    }
    if let Some(max) = ctx.rules.max_notional_units {
        let price = match o.order_type {
            OrderType::Limit | OrderType::StopLimit => o.limit_price,
            OrderType::Stop => o.stop_price,
            OrderType::Market => ctx.reference,
        };
        if let Some(p) = price {
            if p as i128 * o.qty as i128 > max {
                return Err(R::MaxNotionalExceeded);
            }
        }
    }
    if ctx.band_applies {
        if let (Some((lo, hi)), Some(p)) = (ctx.rules.band(ctx.reference), o.limit_price) {
            if p < lo || p > hi {
                return Err(R::OutsidePriceBand);
            }
        }
    }
    if o.tif == TimeInForce::Day && ctx.day_close.is_none() {
        return Err(R::NoSessionClose);
    }
    Ok(())
}
