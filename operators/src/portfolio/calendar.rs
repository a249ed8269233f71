//! Trade dates and the holding-period rule.
//!
//! A fill's *trade date* is the calendar date of its execution time in the exchange's time
//! zone (`TimeZoneRule`, US/Eastern by default), so an after-hours fill at 21:00 New York
//! time keeps its New York date although it is already the next day in UTC.
//!
//! Holding period (US rule, IRS Pub. 550): the period starts the day *after* acquisition
//! and includes the day of disposal; a lot is long-term when held *more than one year*.
//! Equivalently: long-term iff `sale date > acquisition date + 1 year`, where "+ 1 year"
//! keeps month and day and maps 29 February to 28 February. Bought 2023-03-01: sold
//! 2024-03-01 is short-term, sold 2024-03-02 is long-term. Bought 2024-02-29: sold
//! 2025-02-28 is short-term, 2025-03-01 long-term.
//!
//! Limitations: US daylight-saving time uses the 2007+ rule (second Sunday of March to the
//! first Sunday of November) for every year; exchange holidays are irrelevant here.

use crate::Timestamp;

const SECS_PER_DAY: i64 = 86_400;
const NANOS_PER_SEC: i64 = 1_000_000_000;

/// A proleptic Gregorian calendar date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TradeDate {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

impl TradeDate {
    /// A valid date, or `None`.
    pub fn new(year: i32, month: u32, day: u32) -> Option<Self> {
        let valid = (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month);
        valid.then_some(TradeDate { year, month, day })
    }

    /// The date `days` days after 1970-01-01.
    pub fn from_epoch_days(days: i64) -> Self {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        TradeDate { year, month, day }
    }

    /// Days since 1970-01-01 (negative before).
    pub fn epoch_days(self) -> i64 {
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = i64::from((self.month + 9) % 12);
        let doy = (153 * mp + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// Same month and day `years` later; 29 February becomes 28 February in common years.
    pub fn add_years(self, years: i32) -> Self {
        let year = self.year + years;
        let day = self.day.min(days_in_month(year, self.month));
        TradeDate {
            year,
            month: self.month,
            day,
        }
    }

    /// 0 = Sunday ... 6 = Saturday.
    fn weekday(self) -> i64 {
        (self.epoch_days() + 4).rem_euclid(7)
    }
}

impl std::fmt::Display for TradeDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The time zone whose calendar defines trade dates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TimeZoneRule {
    Utc,
    /// America/New_York: UTC-5, UTC-4 during daylight-saving time.
    #[default]
    UsEastern,
}

impl TimeZoneRule {
    /// Offset from UTC in seconds at instant `t`.
    pub fn offset_secs(self, t: Timestamp) -> i64 {
        match self {
            TimeZoneRule::Utc => 0,
            TimeZoneRule::UsEastern => {
                let secs = t.nanos().div_euclid(NANOS_PER_SEC);
                let year = TradeDate::from_epoch_days(secs.div_euclid(SECS_PER_DAY)).year;
                // 2:00 local: 07:00 UTC in March (from EST), 06:00 UTC in November (from EDT).
                let start = nth_sunday(year, 3, 2).epoch_days() * SECS_PER_DAY + 7 * 3600;
                let end = nth_sunday(year, 11, 1).epoch_days() * SECS_PER_DAY + 6 * 3600;
                if (start..end).contains(&secs) {
                    -4 * 3600
                } else {
                    -5 * 3600
                }
            }
        }
    }

    /// The local calendar date of instant `t`.
    pub fn trade_date(self, t: Timestamp) -> TradeDate {
        let local = t.nanos().div_euclid(NANOS_PER_SEC) + self.offset_secs(t);
        TradeDate::from_epoch_days(local.div_euclid(SECS_PER_DAY))
    }

    /// The instant local midnight starts `date`.
    pub fn day_start(self, date: TradeDate) -> Timestamp {
        let midnight_utc = date.epoch_days() * SECS_PER_DAY;
        let offset_at = |secs: i64| self.offset_secs(Timestamp(secs.saturating_mul(NANOS_PER_SEC)));
        // Guess with the offset in force at midnight UTC, then use the offset in force at
        // the guess: DST switches at 02:00 local, never within hours of local midnight, so
        // that second offset is the one in force at local midnight.
        let guess = midnight_utc - offset_at(midnight_utc);
        Timestamp((midnight_utc - offset_at(guess)).saturating_mul(NANOS_PER_SEC))
    }
}

fn nth_sunday(year: i32, month: u32, n: i64) -> TradeDate {
    let first = TradeDate {
        year,
        month,
        day: 1,
    };
    let to_sunday = (7 - first.weekday()) % 7;
    TradeDate::from_epoch_days(first.epoch_days() + to_sunday + 7 * (n - 1))
}

/// Tax character of a realized gain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Term {
    ShortTerm,
    LongTerm,
}

impl Term {
    /// Long-term iff `sold > acquired + 1 year` (see the module docs).
    pub fn classify(acquired: TradeDate, sold: TradeDate) -> Term {
        if sold > acquired.add_years(1) {
            Term::LongTerm
        } else {
            Term::ShortTerm
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> TradeDate {
        TradeDate::new(y, m, day).unwrap()
    }

    fn utc(y: i32, m: u32, day: u32, h: i64, min: i64) -> Timestamp {
        Timestamp((d(y, m, day).epoch_days() * SECS_PER_DAY + h * 3600 + min * 60) * NANOS_PER_SEC)
    }

    #[test]
    fn epoch_days_round_trip_and_known_values() {
        assert_eq!(d(1970, 1, 1).epoch_days(), 0);
        assert_eq!(d(2000, 3, 1).epoch_days(), 11_017);
        assert_eq!(d(1969, 12, 31).epoch_days(), -1);
        for days in (-800_000..800_000).step_by(997) {
            assert_eq!(TradeDate::from_epoch_days(days).epoch_days(), days);
        }
        assert_eq!(TradeDate::new(2023, 2, 29), None);
        assert_eq!(d(2024, 2, 29).to_string(), "2024-02-29");
    }

    #[test]
    fn holding_period_boundaries() {
        assert_eq!(
            Term::classify(d(2023, 3, 1), d(2024, 3, 1)),
            Term::ShortTerm
        );
        assert_eq!(Term::classify(d(2023, 3, 1), d(2024, 3, 2)), Term::LongTerm);
        assert_eq!(
            Term::classify(d(2024, 2, 29), d(2025, 2, 28)),
            Term::ShortTerm
        );
        assert_eq!(
            Term::classify(d(2024, 2, 29), d(2025, 3, 1)),
            Term::LongTerm
        );
        assert_eq!(
            Term::classify(d(2024, 1, 1), d(2024, 1, 1)),
            Term::ShortTerm
        );
    }

    #[test]
    fn us_eastern_dates_follow_dst() {
        let ny = TimeZoneRule::UsEastern;
        // 2024: DST from 10 March 07:00 UTC to 3 November 06:00 UTC.
        assert_eq!(ny.offset_secs(utc(2024, 3, 10, 6, 59)), -5 * 3600);
        assert_eq!(ny.offset_secs(utc(2024, 3, 10, 7, 0)), -4 * 3600);
        assert_eq!(ny.offset_secs(utc(2024, 11, 3, 5, 59)), -4 * 3600);
        assert_eq!(ny.offset_secs(utc(2024, 11, 3, 6, 0)), -5 * 3600);
        // 20:30 New York on 15 July is 00:30 UTC on 16 July.
        assert_eq!(ny.trade_date(utc(2024, 7, 16, 0, 30)), d(2024, 7, 15));
        assert_eq!(
            TimeZoneRule::Utc.trade_date(utc(2024, 7, 16, 0, 30)),
            d(2024, 7, 16)
        );
    }

    #[test]
    fn day_start_is_local_midnight() {
        let ny = TimeZoneRule::UsEastern;
        assert_eq!(ny.day_start(d(2024, 7, 15)), utc(2024, 7, 15, 4, 0));
        assert_eq!(ny.day_start(d(2024, 1, 15)), utc(2024, 1, 15, 5, 0));
        assert_eq!(ny.day_start(d(2024, 3, 10)), utc(2024, 3, 10, 5, 0));
        assert_eq!(ny.day_start(d(2024, 11, 3)), utc(2024, 11, 3, 4, 0));
        assert_eq!(
            TimeZoneRule::Utc.day_start(d(2024, 1, 15)),
            utc(2024, 1, 15, 0, 0)
        );
    }
}
