//! Business-day calendar: trading dates from event time, weekday + holiday list,
//! settlement-date arithmetic (T+n business days).
//!
//! Invariants:
//! - Pure arithmetic on [`Timestamp`]; no clock, no time-zone database.
//! - A [`Date`] is a count of days since 1970-01-01 in the calendar's fixed offset.
//!
//! Known limitations:
//! - The trading-day boundary uses one fixed UTC offset (default -05:00, New York standard
//!   time); daylight saving time is not modelled, so between March and November the
//!   boundary is 23:00 local instead of midnight.
//! - Holidays are a configured list; early closes are not modelled.

use std::collections::BTreeSet;

use crate::Timestamp;

const NANOS_PER_DAY: i64 = 86_400_000_000_000;
const NANOS_PER_MINUTE: i64 = 60_000_000_000;

/// A calendar date as days since 1970-01-01.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(pub i32);

impl Date {
    /// The date of a proleptic Gregorian year, month (1-12) and day (1-31).
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Date {
        // Howard Hinnant's days_from_civil.
        let y = i64::from(year) - i64::from(month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        Date((era * 146_097 + doe - 719_468) as i32)
    }

    /// Day of week, 0 = Monday ... 6 = Sunday (1970-01-01 was a Thursday).
    pub fn weekday(self) -> u32 {
        (self.0 + 3).rem_euclid(7) as u32
    }

    /// The next calendar day.
    pub fn succ(self) -> Date {
        Date(self.0 + 1)
    }
}

/// Weekends plus a holiday list, with a fixed UTC offset for the trading-day boundary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BusinessCalendar {
    /// Offset of the trading day from UTC in minutes (New York standard time = -300).
    pub utc_offset_minutes: i32,
    /// Non-weekend days with no trading and no settlement.
    pub holidays: BTreeSet<Date>,
}

impl Default for BusinessCalendar {
    fn default() -> Self {
        BusinessCalendar {
            utc_offset_minutes: -300,
            holidays: BTreeSet::new(),
        }
    }
}

impl BusinessCalendar {
    /// The calendar date (in the calendar's offset) containing `time`.
    pub fn date_of(&self, time: Timestamp) -> Date {
        let local = time
            .nanos()
            .saturating_add(i64::from(self.utc_offset_minutes) * NANOS_PER_MINUTE);
        Date(local.div_euclid(NANOS_PER_DAY) as i32)
    }

    /// Whether `date` is a weekday that is not a holiday.
    pub fn is_business_day(&self, date: Date) -> bool {
        date.weekday() < 5 && !self.holidays.contains(&date)
    }

    /// The first business day on or after `date`.
    pub fn roll_forward(&self, mut date: Date) -> Date {
        while !self.is_business_day(date) {
            date = date.succ();
        }
        date
    }

    /// The trade date of an execution at `time`: its date, rolled to a business day.
    pub fn trade_date(&self, time: Timestamp) -> Date {
        self.roll_forward(self.date_of(time))
    }

    /// `n` business days after `trade_date` (T+n); `n = 0` is the trade date itself.
    pub fn add_business_days(&self, trade_date: Date, n: u32) -> Date {
        let mut date = self.roll_forward(trade_date);
        for _ in 0..n {
            date = self.roll_forward(date.succ());
        }
        date
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(date: Date, hour_utc: i64) -> Timestamp {
        Timestamp(i64::from(date.0) * NANOS_PER_DAY + hour_utc * 3_600_000_000_000)
    }

    #[test]
    fn known_dates_and_weekdays() {
        assert_eq!(Date::from_ymd(1970, 1, 1), Date(0));
        assert_eq!(Date::from_ymd(2000, 3, 1), Date(11_017));
        assert_eq!(Date::from_ymd(2024, 1, 8).weekday(), 0); // a Monday
        assert_eq!(Date::from_ymd(2024, 1, 13).weekday(), 5); // a Saturday
    }

    #[test]
    fn date_uses_the_fixed_offset() {
        let cal = BusinessCalendar::default();
        let monday = Date::from_ymd(2024, 1, 8);
        // 03:00 UTC Monday is 22:00 Sunday in New York standard time.
        assert_eq!(cal.date_of(ts(monday, 3)), Date(monday.0 - 1));
        assert_eq!(cal.date_of(ts(monday, 15)), monday);
    }

    #[test]
    fn t_plus_one_skips_weekends_and_holidays() {
        let mut cal = BusinessCalendar::default();
        let friday = Date::from_ymd(2024, 1, 12);
        let monday = Date::from_ymd(2024, 1, 15);
        assert_eq!(cal.add_business_days(friday, 1), monday);
        cal.holidays.insert(monday);
        assert_eq!(
            cal.add_business_days(friday, 1),
            Date::from_ymd(2024, 1, 16)
        );
        assert_eq!(cal.add_business_days(friday, 0), friday);
        // A Saturday execution trades on Monday (here a holiday, so Tuesday).
        assert_eq!(
            cal.trade_date(ts(Date::from_ymd(2024, 1, 13), 15)),
            Date::from_ymd(2024, 1, 16)
        );
    }
}
