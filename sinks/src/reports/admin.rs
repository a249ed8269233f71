//! Admin reports over a range of UTC days: trading volume and VWAP per symbol and day
//! (`daily_symbol_volume`), active accounts per day (`daily_active_accounts`: any order,
//! execution, funding event or journal entry) and order-to-fill latency percentiles per
//! symbol and day (`order_fill_latency_daily`, exact order statistics, shown in ms).

use super::source::{LatencyRow, VolumeRow};
use operators::portfolio::TradeDate;
use rust_decimal::Decimal;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VolumeLine {
    pub day: String,
    pub symbol: String,
    pub trades: u64,
    pub volume: Decimal,
    pub notional: Decimal,
    /// `notional / volume` as ClickHouse computes it (Decimal(38, 16), truncated).
    pub vwap: Decimal,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ActiveLine {
    pub day: String,
    pub active_accounts: u64,
}

/// Milliseconds from an order's acceptance to its first / last fill (exact decimals).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LatencyLine {
    pub day: String,
    pub symbol: String,
    pub filled_orders: u64,
    pub first_fill_p50_ms: Decimal,
    pub first_fill_p90_ms: Decimal,
    pub first_fill_p99_ms: Decimal,
    pub last_fill_p50_ms: Decimal,
    pub last_fill_p90_ms: Decimal,
    pub last_fill_p99_ms: Decimal,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AdminReport {
    pub from: String,
    pub to: String,
    pub volume: Vec<VolumeLine>,
    pub active_accounts: Vec<ActiveLine>,
    pub latency: Vec<LatencyLine>,
}

fn ms(ns: i64) -> Decimal {
    Decimal::new(ns, 6).normalize()
}

/// Assembles the report from the view rows; pure.
pub fn build_admin(from: TradeDate, to: TradeDate, volume: Vec<VolumeRow>, active: Vec<(String, u64)>, latency: Vec<LatencyRow>) -> AdminReport {
    AdminReport {
        from: from.to_string(),
        to: to.to_string(),
        volume: volume
            .into_iter()
            .map(|v| VolumeLine { day: v.day, symbol: v.symbol, trades: v.trades, volume: v.volume.normalize(), notional: v.notional.normalize(), vwap: v.vwap.normalize() })
            .collect(),
        active_accounts: active.into_iter().map(|(day, active_accounts)| ActiveLine { day, active_accounts }).collect(),
        latency: latency
            .into_iter()
            .map(|l| LatencyLine {
                day: l.day,
                symbol: l.symbol,
                filled_orders: l.filled_orders,
                first_fill_p50_ms: ms(l.first_fill_p50_ns),
                first_fill_p90_ms: ms(l.first_fill_p90_ns),
                first_fill_p99_ms: ms(l.first_fill_p99_ns),
                last_fill_p50_ms: ms(l.last_fill_p50_ns),
                last_fill_p90_ms: ms(l.last_fill_p90_ns),
                last_fill_p99_ms: ms(l.last_fill_p99_ns),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_is_exact_milliseconds() {
        assert_eq!(ms(1_500_000).to_string(), "1.5");
        assert_eq!(ms(2_000_000_000).to_string(), "2000");
        assert_eq!(ms(1).to_string(), "0.000001");
    }
}
