//! What an account activity is, independent of its JSON shape.
//!
//! Invariants: an activity's `id` is `<YYYYMMDDhhmmssSSS>::<uuid>` (UTC, milliseconds; the
//! uuid derived from the activity's source id), so ids are unique per source, identical on
//! every replay of the same log, and their byte order is time order (ties broken by the
//! uuid). Money and quantities are `Decimal`; `net_amount` is signed (money in > 0).

use crate::format::{rfc3339, uuid_v8};
use rust_decimal::Decimal;
use schemas::records::{OrderStatus, Side};

/// The activity types Tradeflow produces (a closed subset of Alpaca's).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ActivityType {
    /// A booked fill (trade activity).
    Fill,
    /// Cash deposit (completed).
    Csd,
    /// Cash withdrawal (completed).
    Csw,
    /// A fee charged with a fill.
    Fee,
}

impl ActivityType {
    pub const ALL: [ActivityType; 4] = [ActivityType::Fill, ActivityType::Csd, ActivityType::Csw, ActivityType::Fee];

    /// Alpaca's code (`FILL`, `CSD`, ...).
    pub fn code(self) -> &'static str {
        match self {
            ActivityType::Fill => "FILL",
            ActivityType::Csd => "CSD",
            ActivityType::Csw => "CSW",
            ActivityType::Fee => "FEE",
        }
    }
}

/// A fill the accounts pipeline booked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FillActivity {
    pub order_id: String,
    /// The venue execution id the fill was booked under.
    pub fill_id: String,
    pub symbol: String,
    pub side: Side,
    pub qty: Decimal,
    pub price: Decimal,
    /// Cumulative filled quantity of the order after this fill.
    pub cum_qty: Decimal,
    /// Quantity still open after this fill (0 for a final fill).
    pub leaves_qty: Decimal,
    /// `Filled` (final fill) or `PartiallyFilled`.
    pub order_status: OrderStatus,
}

/// A completed deposit or withdrawal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CashActivity {
    pub funding_id: String,
    /// Positive for deposits, negative for withdrawals.
    pub net_amount: Decimal,
}

/// A fee booked with a fill.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeeActivity {
    pub order_id: String,
    pub fill_id: String,
    pub symbol: String,
    /// Negative (money out).
    pub net_amount: Decimal,
}

/// The kind-specific part of an activity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActivityDetail {
    Fill(FillActivity),
    Deposit(CashActivity),
    Withdrawal(CashActivity),
    Fee(FeeActivity),
}

/// One account activity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Activity {
    /// `<YYYYMMDDhhmmssSSS>::<uuid>`; see [`activity_id`].
    pub id: String,
    pub account_id: String,
    /// When it happened (fill time, funding completion time).
    pub at_ns: i64,
    pub detail: ActivityDetail,
}

impl Activity {
    pub fn activity_type(&self) -> ActivityType {
        match self.detail {
            ActivityDetail::Fill(_) => ActivityType::Fill,
            ActivityDetail::Deposit(_) => ActivityType::Csd,
            ActivityDetail::Withdrawal(_) => ActivityType::Csw,
            ActivityDetail::Fee(_) => ActivityType::Fee,
        }
    }
}

/// The id of the activity of type `kind` whose source record is `source_id` (a fill id, a
/// funding id), at `at_ns`: Alpaca's `<time>::<uuid>` form with the time as
/// `YYYYMMDDhhmmssSSS` (UTC; negative times clamp to the epoch).
pub fn activity_id(kind: ActivityType, source_id: &str, at_ns: i64) -> String {
    let t: String = rfc3339(at_ns.max(0)).chars().take(23).filter(char::is_ascii_digit).collect();
    format!("{t}::{}", uuid_v8("activity", &format!("{}:{source_id}", kind.code())))
}

/// Whether `s` has the shape of an activity id (the only valid page tokens).
pub fn is_activity_id(s: &str) -> bool {
    let Some((t, u)) = s.split_once("::") else { return false };
    t.len() == 17
        && t.bytes().all(|b| b.is_ascii_digit())
        && u.len() == 36
        && u.bytes().enumerate().all(|(i, b)| if matches!(i, 8 | 13 | 18 | 23) { b == b'-' } else { b.is_ascii_hexdigit() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_alpaca_shaped_stable_and_time_ordered() {
        let a = activity_id(ActivityType::Fill, "x-1", 1_700_000_000_123_456_789);
        assert!(a.starts_with("20231114221320123::"), "{a}");
        assert!(is_activity_id(&a));
        assert_eq!(a, activity_id(ActivityType::Fill, "x-1", 1_700_000_000_123_456_789));
        assert_ne!(a, activity_id(ActivityType::Fee, "x-1", 1_700_000_000_123_456_789), "kind is part of the source");
        assert!(activity_id(ActivityType::Fill, "zzz", 1_700_000_000_122_000_000) < a);
        assert!(!is_activity_id("20231114221320123::nope"));
        assert!(!is_activity_id("2023::0b7c1a52-0000-4000-8000-000000000001"));
    }
}
