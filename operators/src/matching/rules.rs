//! Instrument rules: tick and lot sizes, limits, self-trade prevention and price band.
//!
//! Invariants:
//! - Decimal prices and quantities enter the book only through [`InstrumentRules::price_to_ticks`]
//!   and [`InstrumentRules::qty_to_lots`], which reject values that are not an exact
//!   multiple of the tick / lot (never rounding) and values that do not fit in `i64`.
//! - [`InstrumentRules::compile`] validates the rules once (at `List`) and turns every
//!   Decimal limit into integers, so matching does integer arithmetic only.
//! - Notional limits are checked in "tick-lots" (`price_ticks * qty_lots` as `i128`),
//!   exact for any tick and lot size.
//!
//! Known limitations:
//! - Rules are fixed at listing; changing them needs a delist and a new listing.
//! - The band is a symmetric percentage (basis points) of the reference price, floored to
//!   whole ticks.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use thiserror::Error;

/// Trading status of an instrument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TradingStatus {
    /// Orders accepted and matched.
    Listed,
    /// New orders and replaces rejected; cancels allowed; nothing matches.
    Halted,
    /// All orders canceled; nothing accepted. A new `List` re-creates the book.
    Delisted,
}

impl TradingStatus {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            TradingStatus::Listed => "listed",
            TradingStatus::Halted => "halted",
            TradingStatus::Delisted => "delisted",
        }
    }
}

/// Self-trade prevention mode, applied when a taker meets a resting order of its own account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StpMode {
    /// Accounts may trade with themselves.
    #[default]
    Off,
    /// Cancel the rest of the incoming (newest) order; the resting order stays.
    CancelNewest,
    /// Cancel the resting (oldest) order and keep matching.
    CancelOldest,
    /// Cancel both the resting order and the rest of the incoming order.
    CancelBoth,
}

impl StpMode {
    /// Snake-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            StpMode::Off => "off",
            StpMode::CancelNewest => "cancel_newest",
            StpMode::CancelOldest => "cancel_oldest",
            StpMode::CancelBoth => "cancel_both",
        }
    }
}

/// Per-instrument rules, carried by the `List` command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstrumentRules {
    /// Price increment (e.g. 0.01). Must be > 0.
    pub tick_size: Decimal,
    /// Quantity increment (e.g. 1, or 0.0001 for fractional shares). Must be > 0.
    pub lot_size: Decimal,
    /// Smallest order quantity; a multiple of `lot_size`. `None` = one lot.
    pub min_qty: Option<Decimal>,
    /// Largest order notional (price x quantity). `None` = unlimited.
    pub max_notional: Option<Decimal>,
    /// Self-trade prevention; off by default.
    pub stp: StpMode,
    /// Price band half-width in basis points of the reference price; `None` = off.
    pub band_bps: Option<u32>,
    /// Reference price before the first trade (a multiple of the tick); `None` = no band
    /// until the first trade.
    pub reference_price: Option<Decimal>,
}

impl InstrumentRules {
    /// Rules with the given tick and lot and everything else off.
    pub fn new(tick_size: Decimal, lot_size: Decimal) -> Self {
        InstrumentRules {
            tick_size,
            lot_size,
            min_qty: None,
            max_notional: None,
            stp: StpMode::Off,
            band_bps: None,
            reference_price: None,
        }
    }

    /// Converts a decimal price to ticks; rejects off-tick prices.
    pub fn price_to_ticks(&self, price: Decimal) -> Result<i64, RulesError> {
        to_units(price, self.tick_size).map_err(|e| match e {
            Units::Off => RulesError::OffTick { price, tick: self.tick_size },
            Units::Overflow => RulesError::Overflow { value: price },
        })
    }

    /// Converts ticks to a decimal price.
    pub fn ticks_to_price(&self, ticks: i64) -> Decimal {
        Decimal::from(ticks) * self.tick_size
    }

    /// Converts a decimal quantity to lots; rejects off-lot quantities.
    pub fn qty_to_lots(&self, qty: Decimal) -> Result<i64, RulesError> {
        to_units(qty, self.lot_size).map_err(|e| match e {
            Units::Off => RulesError::OffLot { qty, lot: self.lot_size },
            Units::Overflow => RulesError::Overflow { value: qty },
        })
    }

    /// Converts lots to a decimal quantity.
    pub fn lots_to_qty(&self, lots: i64) -> Decimal {
        Decimal::from(lots) * self.lot_size
    }

    /// Validates the rules and converts every limit to integers.
    pub fn compile(&self) -> Result<CompiledRules, RulesError> {
        if self.tick_size <= Decimal::ZERO {
            return Err(RulesError::NonPositiveIncrement { value: self.tick_size });
        }
        if self.lot_size <= Decimal::ZERO {
            return Err(RulesError::NonPositiveIncrement { value: self.lot_size });
        }
        let min_qty_lots = match self.min_qty {
            Some(q) => self.qty_to_lots(q)?.max(1),
            None => 1,
        };
        let max_notional_units = match self.max_notional {
            None => None,
            Some(n) if n <= Decimal::ZERO => {
                return Err(RulesError::NonPositiveLimit { value: n })
            }
            Some(n) => {
                let unit = self
                    .tick_size
                    .checked_mul(self.lot_size)
                    .ok_or(RulesError::Overflow { value: n })?;
                let units = n.checked_div(unit).ok_or(RulesError::Overflow { value: n })?;
                Some(units.floor().to_i128().ok_or(RulesError::Overflow { value: n })?)
            }
        };
        let reference_ticks = match self.reference_price {
            Some(p) => {
                let t = self.price_to_ticks(p)?;
                if t <= 0 {
                    return Err(RulesError::NonPositiveLimit { value: p });
                }
                Some(t)
            }
            None => None,
        };
        Ok(CompiledRules {
            min_qty_lots,
            max_notional_units,
            stp: self.stp,
            band_bps: self.band_bps,
            reference_ticks,
        })
    }
}

/// [`InstrumentRules`] validated and converted to integers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompiledRules {
    /// Minimum quantity in lots (>= 1).
    pub min_qty_lots: i64,
    /// Maximum notional in tick-lots.
    pub max_notional_units: Option<i128>,
    /// Self-trade prevention.
    pub stp: StpMode,
    /// Band half-width in basis points.
    pub band_bps: Option<u32>,
    /// Initial reference price in ticks.
    pub reference_ticks: Option<i64>,
}

impl CompiledRules {
    /// The inclusive band `[lo, hi]` around `reference`, if a band is configured.
    pub fn band(&self, reference: Option<i64>) -> Option<(i64, i64)> {
        let bps = self.band_bps?;
        let r = reference?;
        let width = (r as i128 * bps as i128 / 10_000) as i64;
        Some((r.saturating_sub(width), r.saturating_add(width)))
    }
}

/// Invalid instrument rules or an off-grid value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RulesError {
    /// The price is not a multiple of the tick size.
    #[error("price {price} is not a multiple of the tick size {tick}")]
    OffTick {
        /// Offending price.
        price: Decimal,
        /// Tick size.
        tick: Decimal,
    },
    /// The quantity is not a multiple of the lot size.
    #[error("quantity {qty} is not a multiple of the lot size {lot}")]
    OffLot {
        /// Offending quantity.
        qty: Decimal,
        /// Lot size.
        lot: Decimal,
    },
    /// The value does not fit in 64-bit ticks or lots.
    #[error("{value} is out of range")]
    Overflow {
        /// Offending value.
        value: Decimal,
    },
    /// Tick or lot size is zero or negative.
    #[error("increment {value} must be positive")]
    NonPositiveIncrement {
        /// Offending increment.
        value: Decimal,
    },
    /// A limit (notional, reference price) is zero or negative.
    #[error("limit {value} must be positive")]
    NonPositiveLimit {
        /// Offending limit.
        value: Decimal,
    },
}

enum Units {
    Off,
    Overflow,
}

fn to_units(value: Decimal, step: Decimal) -> Result<i64, Units> {
    if step <= Decimal::ZERO {
        return Err(Units::Off);
    }
    let q = value.checked_div(step).ok_or(Units::Overflow)?;
    if !q.fract().is_zero() {
        return Err(Units::Off);
    }
    q.to_i64().ok_or(Units::Overflow)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn conversions_round_trip_and_reject_off_grid() {
        let r = InstrumentRules::new(d("0.01"), d("0.0001"));
        assert_eq!(r.price_to_ticks(d("101.25")), Ok(10125));
        assert_eq!(r.ticks_to_price(10125), d("101.25"));
        assert_eq!(
            r.price_to_ticks(d("101.255")),
            Err(RulesError::OffTick { price: d("101.255"), tick: d("0.01") })
        );
        assert_eq!(r.qty_to_lots(d("0.5")), Ok(5000));
        assert_eq!(r.lots_to_qty(5000), d("0.5"));
        assert_eq!(
            r.qty_to_lots(d("0.00005")),
            Err(RulesError::OffLot { qty: d("0.00005"), lot: d("0.0001") })
        );
        assert_eq!(
            r.qty_to_lots(d("1e25")),
            Err(RulesError::Overflow { value: d("1e25") })
        );
    }

    #[test]
    fn compile_validates() {
        let mut r = InstrumentRules::new(d("0.01"), d("1"));
        r.max_notional = Some(d("1000"));
        r.min_qty = Some(d("5"));
        let c = r.compile().unwrap();
        assert_eq!(c.min_qty_lots, 5);
        assert_eq!(c.max_notional_units, Some(100_000));
        r.min_qty = Some(d("1.5"));
        assert_eq!(r.compile(), Err(RulesError::OffLot { qty: d("1.5"), lot: d("1") }));
        let bad = InstrumentRules::new(d("0"), d("1"));
        assert_eq!(
            bad.compile(),
            Err(RulesError::NonPositiveIncrement { value: d("0") })
        );
    }

    #[test]
    fn band_is_floored_to_ticks() {
        let mut r = InstrumentRules::new(d("0.01"), d("1"));
        r.band_bps = Some(500);
        let c = r.compile().unwrap();
        assert_eq!(c.band(Some(10_000)), Some((9_500, 10_500)));
        assert_eq!(c.band(Some(19)), Some((19, 19)));
        assert_eq!(c.band(None), None);
    }
}
