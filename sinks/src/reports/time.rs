//! Calendar helpers of the reports: months, dates and timestamps as text.

use super::ReportError;
use operators::portfolio::{TimeZoneRule, TradeDate};

/// A calendar month, e.g. 2026-10. Invariant: `1 <= month <= 12`, `1970 <= year <= 9999`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Month {
    year: i32,
    month: u32,
}

impl Month {
    /// A valid month, or `BadMonth`.
    pub fn new(year: i32, month: u32) -> Result<Self, ReportError> {
        if (1970..=9999).contains(&year) && (1..=12).contains(&month) {
            Ok(Month { year, month })
        } else {
            Err(ReportError::BadMonth(format!("{year:04}-{month:02}")))
        }
    }

    pub fn year(self) -> i32 {
        self.year
    }

    pub fn month(self) -> u32 {
        self.month
    }

    /// The first day of the month.
    pub fn first_day(self) -> TradeDate {
        TradeDate::new(self.year, self.month, 1).expect("valid by construction")
    }

    /// The month after this one.
    pub fn next(self) -> Month {
        if self.month == 12 {
            Month { year: self.year + 1, month: 1 }
        } else {
            Month { year: self.year, month: self.month + 1 }
        }
    }

    /// `[start, end)` in Unix nanoseconds: local midnight of the first day of this month and
    /// of the next, in `tz`.
    pub fn bounds(self, tz: TimeZoneRule) -> (i64, i64) {
        (tz.day_start(self.first_day()).nanos(), tz.day_start(self.next().first_day()).nanos())
    }
}

impl std::str::FromStr for Month {
    type Err = ReportError;

    /// `YYYY-MM`.
    fn from_str(s: &str) -> Result<Self, ReportError> {
        let bad = || ReportError::BadMonth(s.to_string());
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 || !y.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        Month::new(y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?).map_err(|_| bad())
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// Parses `YYYY-MM-DD` into a valid date.
pub fn parse_date(s: &str) -> Result<TradeDate, ReportError> {
    let bad = || ReportError::BadDate(s.to_string());
    let parts: Vec<&str> = s.split('-').collect();
    if parts.len() != 3
        || parts[0].len() != 4
        || parts[1].len() != 2
        || parts[2].len() != 2
        || !parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad());
    }
    let y: i32 = parts[0].parse().map_err(|_| bad())?;
    if !(1970..=9999).contains(&y) {
        return Err(bad());
    }
    TradeDate::new(y, parts[1].parse().map_err(|_| bad())?, parts[2].parse().map_err(|_| bad())?).ok_or_else(bad)
}

/// The name of a time-zone rule as printed in reports.
pub fn tz_name(tz: TimeZoneRule) -> &'static str {
    match tz {
        TimeZoneRule::Utc => "UTC",
        TimeZoneRule::UsEastern => "America/New_York",
    }
}

/// Unix nanoseconds as RFC 3339 UTC (`2026-10-05T14:30:00Z`, with up to 9 fractional
/// digits when not whole seconds).
pub fn iso(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000);
    let date = TradeDate::from_epoch_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    let mut out = format!("{date}T{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
    if frac != 0 {
        let digits = format!("{frac:09}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_strictly() {
        let m: Month = "2026-10".parse().unwrap();
        assert_eq!((m.year(), m.month()), (2026, 10));
        assert_eq!(m.to_string(), "2026-10");
        assert_eq!(m.next().to_string(), "2026-11");
        assert_eq!("2026-12".parse::<Month>().unwrap().next().to_string(), "2027-01");
        for bad in ["2026-13", "2026-00", "2026-1", "26-10", "2026/10", "", "2026-10-01", "abcd-ef", "1969-12"] {
            assert!(matches!(bad.parse::<Month>(), Err(ReportError::BadMonth(_))), "{bad}");
        }
    }

    #[test]
    fn month_bounds_are_local_midnights() {
        let m: Month = "2026-10".parse().unwrap();
        // EDT (UTC-4) on 1 October, EST (UTC-5) on 1 November 2026.
        let (start, end) = m.bounds(TimeZoneRule::UsEastern);
        assert_eq!(iso(start), "2026-10-01T04:00:00Z");
        assert_eq!(iso(end), "2026-11-01T04:00:00Z");
        let (start, end) = m.bounds(TimeZoneRule::Utc);
        assert_eq!((iso(start).as_str(), iso(end).as_str()), ("2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z"));
    }

    #[test]
    fn dates_and_timestamps() {
        assert_eq!(parse_date("2026-02-28").unwrap().to_string(), "2026-02-28");
        assert!(parse_date("2026-02-29").is_err());
        assert!(parse_date("2026-2-28").is_err());
        assert_eq!(iso(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso(1_767_225_600_500_000_000), "2026-01-01T00:00:00.5Z");
        assert_eq!(iso(-1), "1969-12-31T23:59:59.999999999Z");
    }
}
