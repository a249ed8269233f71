//! Test helpers: decimal literals, UTC instants and fill builders.

use rust_decimal::Decimal;

use crate::portfolio::{Fill, Side, TradeDate};
use crate::Timestamp;

pub fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

/// `y-m-d hh:mm` UTC.
pub fn utc(y: i32, m: u32, d: u32, h: i64, min: i64) -> Timestamp {
    let days = TradeDate::new(y, m, d).unwrap().epoch_days();
    Timestamp((days * 86_400 + h * 3_600 + min * 60) * 1_000_000_000)
}

/// 10:00 New York time (15:00 UTC in winter, 14:00 UTC in summer is still the same date).
pub fn at(y: i32, m: u32, d: u32) -> Timestamp {
    utc(y, m, d, 15, 0)
}

pub fn fill(id: &str, symbol: &str, side: Side, qty: &str, price: &str, t: Timestamp) -> Fill {
    Fill {
        account: "acc-1".into(),
        symbol: symbol.into(),
        side,
        qty: dec(qty),
        price: dec(price),
        fee: Decimal::ZERO,
        fill_id: id.into(),
        executed_at: t,
    }
}

pub fn with_fee(mut f: Fill, fee: &str) -> Fill {
    f.fee = dec(fee);
    f
}
