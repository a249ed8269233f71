//! Operator configuration: KYC tier limits, hold collar, price band, fee estimate,
//! order-rate window, settlement cycle and calendar.
//!
//! Invariants:
//! - Defaults are documented on each field and used by tests; the pipeline may override
//!   any of them, but the same config must be used on replay for identical outputs.
//!
//! Known limitations:
//! - The seed gives only per-tier *trade* limits (Tier 1 $1,000/day, Tier 2 $50,000/day,
//!   Tier 3 unlimited). The deposit and withdrawal defaults below are this project's own
//!   choice, not from the seed.

use rust_decimal::Decimal;

use super::calendar::BusinessCalendar;
use crate::matching::SessionCalendar;
use super::types::KycTier;

/// Per-business-day limits of one KYC tier; `None` = unlimited.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TierLimit {
    /// Sum of deposit requests per business day.
    pub daily_deposit: Option<Decimal>,
    /// Sum of withdrawal requests per business day.
    pub daily_withdrawal: Option<Decimal>,
    /// Sum of estimated notional of accepted orders (and replace increases) per business day.
    pub daily_order_notional: Option<Decimal>,
}

/// Limits for the three KYC tiers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TierLimits {
    /// Basic. Default: deposits $5,000, withdrawals $5,000, orders $1,000 (seed) per day.
    pub tier1: TierLimit,
    /// Standard. Default: deposits $50,000, withdrawals $50,000, orders $50,000 (seed) per day.
    pub tier2: TierLimit,
    /// Enhanced. Default: unlimited (seed: "Trade limit: Unlimited").
    pub tier3: TierLimit,
}

impl TierLimits {
    /// The limits of `tier`.
    pub fn for_tier(&self, tier: KycTier) -> &TierLimit {
        match tier {
            KycTier::Tier1 => &self.tier1,
            KycTier::Tier2 => &self.tier2,
            KycTier::Tier3 => &self.tier3,
        }
    }
}

impl Default for TierLimits {
    fn default() -> Self {
        let usd = |n: i64| Some(Decimal::new(n, 0));
        TierLimits {
            tier1: TierLimit {
                daily_deposit: usd(5_000),
                daily_withdrawal: usd(5_000),
                daily_order_notional: usd(1_000),
            },
            tier2: TierLimit {
                daily_deposit: usd(50_000),
                daily_withdrawal: usd(50_000),
                daily_order_notional: usd(50_000),
            },
            tier3: TierLimit {
                daily_deposit: None,
                daily_withdrawal: None,
                daily_order_notional: None,
            },
        }
    }
}

/// Estimated fee reserved on top of a buy's cost: `max(minimum, rate x notional)` for a
/// non-zero notional. Actual fees come on fills; the estimate only sizes the hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FeeEstimate {
    /// Fraction of notional (e.g. 0.001 = 10 bps). Default 0 (commission-free).
    pub rate: Decimal,
    /// Minimum per order. Default 0.
    pub minimum: Decimal,
}

impl FeeEstimate {
    /// The estimated fee on `notional` (zero for a zero notional).
    pub fn on(&self, notional: Decimal) -> Decimal {
        if notional.is_zero() {
            Decimal::ZERO
        } else {
            (self.rate * notional).max(self.minimum)
        }
    }
}

/// Everything the accounts operator can be tuned with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountsConfig {
    /// KYC tier limits.
    pub tiers: TierLimits,
    /// Multiplier on the reference price used to reserve cash for market and stop buys.
    /// Default 1.05 (the routed order carries `ref x collar` as its protection price).
    pub market_collar: Decimal,
    /// Maximum relative distance of a limit or stop price from the reference price
    /// (`|price - ref| <= band x ref`). Default 0.25.
    pub price_band: Decimal,
    /// Fee estimate added to buy reservations. Default zero.
    pub fee_estimate: FeeEstimate,
    /// Maximum order placements and replaces per window of event time. Default 30.
    pub max_orders_per_window: u32,
    /// Length of the order-rate window in nanoseconds. Default 60 s.
    pub order_window_ns: i64,
    /// Settlement cycle in business days (T+n). Default 1 (US equities since May 2024).
    pub settlement_days: u32,
    /// Business calendar for trade and settlement dates and daily limits.
    pub calendar: BusinessCalendar,
    /// Stream-time punctuation period for settlement. Default one hour.
    pub settlement_punctuation_ns: i64,
    /// Session closes at which the account's cash and shares are marked for the previous
    /// close's equity, and the funding since counted from
    /// ([`CloseMarks`](super::state::CloseMarks)); must be the venue's calendar. Default
    /// empty: no marks (the funding then counts from the account's opening).
    pub sessions: SessionCalendar,
}

impl Default for AccountsConfig {
    fn default() -> Self {
        AccountsConfig {
            tiers: TierLimits::default(),
            market_collar: Decimal::new(105, 2),
            price_band: Decimal::new(25, 2),
            fee_estimate: FeeEstimate::default(),
            max_orders_per_window: 30,
            order_window_ns: 60_000_000_000,
            settlement_days: 1,
            calendar: BusinessCalendar::default(),
            settlement_punctuation_ns: 3_600_000_000_000,
            sessions: SessionCalendar::default(),
        }
    }
}
