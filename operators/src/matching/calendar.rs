//! Session calendar: when day orders expire.
//!
//! Invariants:
//! - The calendar is a sorted, de-duplicated list of session close times (ns since the
//!   Unix epoch). A day order entered at time `t` belongs to the first session whose close
//!   is strictly after `t`, and expires once stream time `>=` that close.
//! - Pure data: the book never reads a clock; the runtime's punctuation (or the time of the
//!   next command) drives expiry.
//! - Usually compiled from [`CalendarRules`](super::CalendarRules) (`calendar_rules.rs`):
//!   weekdays, a local close time, a UTC offset rule, holidays and early closes.
//!
//! Known limitations:
//! - No session open times: orders are accepted at any time (a day order entered after a
//!   close belongs to the next session). Holidays are whatever the list omits.

use std::sync::Arc;

use crate::Timestamp;

/// Sorted session close times, cheap to clone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionCalendar {
    closes: Arc<[i64]>,
}

impl SessionCalendar {
    /// Builds a calendar from close times in any order (duplicates removed).
    pub fn new(closes: impl IntoIterator<Item = Timestamp>) -> Self {
        let mut v: Vec<i64> = closes.into_iter().map(|t| t.nanos()).collect();
        v.sort_unstable();
        v.dedup();
        SessionCalendar { closes: v.into() }
    }

    /// `count` daily closes starting at `first_close`, one every `every_ns`.
    pub fn periodic(first_close: Timestamp, every_ns: i64, count: usize) -> Self {
        Self::new((0..count as i64).map(|i| Timestamp(first_close.nanos() + i * every_ns)))
    }

    /// Whether the calendar has no close at all (every day order is rejected).
    pub fn is_empty(&self) -> bool {
        self.closes.is_empty()
    }

    /// The first close strictly after `t`.
    pub fn next_close_after(&self, t: Timestamp) -> Option<i64> {
        let i = self.closes.partition_point(|&c| c <= t.nanos());
        self.closes.get(i).copied()
    }

    /// The last close at or before `t` (the close that ended the latest finished session).
    pub fn last_close_at_or_before(&self, t: Timestamp) -> Option<i64> {
        let i = self.closes.partition_point(|&c| c <= t.nanos());
        i.checked_sub(1).map(|i| self.closes[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_close_is_strictly_after() {
        let c = SessionCalendar::new([Timestamp(200), Timestamp(100), Timestamp(100)]);
        assert_eq!(c.next_close_after(Timestamp(0)), Some(100));
        assert_eq!(c.next_close_after(Timestamp(100)), Some(200));
        assert_eq!(c.next_close_after(Timestamp(200)), None);
        assert_eq!(c.last_close_at_or_before(Timestamp(99)), None);
        assert_eq!(c.last_close_at_or_before(Timestamp(100)), Some(100));
        assert_eq!(c.last_close_at_or_before(Timestamp(199)), Some(100));
        assert_eq!(c.last_close_at_or_before(Timestamp(5_000)), Some(200));
        let p = SessionCalendar::periodic(Timestamp(10), 5, 3);
        assert_eq!(p.next_close_after(Timestamp(14)), Some(15));
        assert_eq!(p.next_close_after(Timestamp(20)), None);
    }
}
