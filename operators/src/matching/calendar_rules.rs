//! Trading-calendar rules: when sessions close, as pure date arithmetic, compiled into a
//! [`SessionCalendar`] (the sorted list of closes the book uses).
//!
//! Model: one session per weekday (Monday to Friday) in an inclusive date range, minus
//! holidays. A session closes at the regular local close time, or at that date's early
//! close. Local time maps to UTC by a [`ZoneRule`] (a fixed offset, or the US daylight
//! saving rule), unless an [`OffsetRange`] override covers the date (first match wins).
//!
//! The US rule (2007 onwards, Energy Policy Act of 2005): daylight time from the second
//! Sunday of March to the first Sunday of November (both transitions at 02:00 local, so a
//! close at 16:00 on a transition Sunday would already be on the new offset). It is applied
//! to every year of the range; before 2007 the real transition dates differ (use overrides).
//! No time-zone database is involved.
//!
//! Invariants:
//! - Pure: no clock, no I/O, no floats; the same rules compile to the same calendar.
//! - Close times and offsets are whole minutes, so every compiled close is a multiple of
//!   60 s of Unix time (the venue's stream-time punctuation relies on this to expire at the
//!   first record at or after a close; see `venue`).
//! - Compiling is bounded: at most [`MAX_YEARS`] years of sessions.
//!
//! Known limitations:
//! - Sessions on weekdays only; no half-days other than explicit early closes; no open
//!   times (see `calendar.rs`). [`CalendarRules::us_equities`] lists no holidays.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use super::calendar::SessionCalendar;

const NS_PER_MIN: i64 = 60_000_000_000;
const MIN_PER_DAY: i64 = 24 * 60;
/// The longest range [`CalendarRules::compile`] accepts, in years.
pub const MAX_YEARS: i32 = 400;

/// Why calendar rules (or one of their parts) are invalid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// Text that is not a `YYYY-MM-DD` date, an `HH:MM` time or a `+HH:MM` offset.
    #[error("invalid {what}: {text:?} (expected {expected})")]
    Parse {
        /// What was being parsed.
        what: &'static str,
        /// The text.
        text: String,
        /// The expected form.
        expected: &'static str,
    },
    /// A date that does not exist.
    #[error("no such date: {0:04}-{1:02}-{2:02}")]
    NoSuchDate(i32, u32, u32),
    /// A date range whose end is before its start, or longer than [`MAX_YEARS`].
    #[error("invalid date range {from}..{to}")]
    Range {
        /// Start (inclusive).
        from: Date,
        /// End (inclusive).
        to: Date,
    },
    /// An early close on a date that has no session (weekend or holiday).
    #[error("early close on {0}, which has no session")]
    EarlyCloseWithoutSession(Date),
}

/// A civil date (proleptic Gregorian calendar).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: i32,
    month: u8,
    day: u8,
}

impl Date {
    /// The date `year-month-day`, if it exists.
    pub fn new(year: i32, month: u32, day: u32) -> Result<Date, CalendarError> {
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let len = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => 0,
        };
        if day == 0 || day > len || !(-100_000..=100_000).contains(&year) {
            return Err(CalendarError::NoSuchDate(year, month, day));
        }
        Ok(Date { year, month: month as u8, day: day as u8 })
    }

    /// Year.
    pub fn year(self) -> i32 {
        self.year
    }

    /// Days since 1970-01-01 (negative before).
    pub fn days(self) -> i64 {
        // H. Hinnant's days_from_civil.
        let (m, d) = (self.month as i64, self.day as i64);
        let y = self.year as i64 - (m <= 2) as i64;
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date `days` days after 1970-01-01 (inverse of [`Date::days`]).
    pub fn from_days(days: i64) -> Date {
        // H. Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (yoe + era * 400 + (month <= 2) as i64) as i32;
        Date { year, month, day }
    }

    /// ISO weekday: 1 = Monday ... 7 = Sunday.
    pub fn weekday(self) -> u8 {
        // 1970-01-01 was a Thursday (4).
        ((self.days() + 3).rem_euclid(7) + 1) as u8
    }

    /// Whether the date is Monday to Friday.
    pub fn is_weekday(self) -> bool {
        self.weekday() <= 5
    }

    /// The `n`-th (1-based) Sunday of `year-month`.
    fn nth_sunday(year: i32, month: u32, n: i64) -> i64 {
        let first = Date { year, month: month as u8, day: 1 };
        let to_sunday = (7 - first.weekday() as i64) % 7;
        first.days() + to_sunday + 7 * (n - 1)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn parse_err(what: &'static str, text: &str, expected: &'static str) -> CalendarError {
    CalendarError::Parse { what, text: text.to_string(), expected }
}

fn digits(s: &str) -> Option<u32> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
}

impl FromStr for Date {
    type Err = CalendarError;
    /// `YYYY-MM-DD`.
    fn from_str(s: &str) -> Result<Date, CalendarError> {
        let err = || parse_err("date", s, "YYYY-MM-DD");
        let mut it = s.split('-');
        let (Some(y), Some(m), Some(d), None) = (it.next(), it.next(), it.next(), it.next()) else { return Err(err()) };
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return Err(err());
        }
        let (y, m, d) = (digits(y).ok_or_else(err)?, digits(m).ok_or_else(err)?, digits(d).ok_or_else(err)?);
        Date::new(y as i32, m, d)
    }
}

/// A local time of day in whole minutes (`00:00` to `23:59`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalTime(u16);

impl LocalTime {
    /// `hour:minute`, if valid.
    pub fn new(hour: u32, minute: u32) -> Option<LocalTime> {
        (hour < 24 && minute < 60).then(|| LocalTime((hour * 60 + minute) as u16))
    }

    /// Minutes after midnight.
    pub fn minutes(self) -> i64 {
        self.0 as i64
    }
}

impl FromStr for LocalTime {
    type Err = CalendarError;
    /// `HH:MM` (24-hour clock).
    fn from_str(s: &str) -> Result<LocalTime, CalendarError> {
        let err = || parse_err("time", s, "HH:MM");
        let (h, m) = s.split_once(':').ok_or_else(err)?;
        if h.len() != 2 || m.len() != 2 {
            return Err(err());
        }
        LocalTime::new(digits(h).ok_or_else(err)?, digits(m).ok_or_else(err)?).ok_or_else(err)
    }
}

/// An offset from UTC in whole minutes (east positive), at most 18 hours either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UtcOffset(i16);

impl UtcOffset {
    /// UTC.
    pub const UTC: UtcOffset = UtcOffset(0);

    /// `minutes` east of UTC, if within +-18:00.
    pub fn from_minutes(minutes: i32) -> Option<UtcOffset> {
        (minutes.abs() <= 18 * 60).then_some(UtcOffset(minutes as i16))
    }

    /// Minutes east of UTC.
    pub fn minutes(self) -> i64 {
        self.0 as i64
    }
}

impl FromStr for UtcOffset {
    type Err = CalendarError;
    /// `+HH:MM` or `-HH:MM` (or `Z` for UTC).
    fn from_str(s: &str) -> Result<UtcOffset, CalendarError> {
        let err = || parse_err("UTC offset", s, "+HH:MM or -HH:MM");
        if s == "Z" {
            return Ok(UtcOffset::UTC);
        }
        let (sign, rest) = match s.as_bytes().first() {
            Some(b'+') => (1, &s[1..]),
            Some(b'-') => (-1, &s[1..]),
            _ => return Err(err()),
        };
        let t: LocalTime = rest.parse().map_err(|_| err())?;
        UtcOffset::from_minutes(sign * t.minutes() as i32).ok_or_else(err)
    }
}

/// How a local date's close maps to UTC (unless an [`OffsetRange`] overrides it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZoneRule {
    /// The same offset all year.
    Fixed(UtcOffset),
    /// US rule (2007+): `daylight` from the second Sunday of March to the day before the
    /// first Sunday of November, `standard` otherwise.
    UsDst {
        /// Offset outside daylight time (New York: -05:00).
        standard: UtcOffset,
        /// Offset during daylight time (New York: -04:00).
        daylight: UtcOffset,
    },
}

impl ZoneRule {
    /// New York: -05:00 / -04:00 with the US rule.
    pub const US_EASTERN: ZoneRule = ZoneRule::UsDst { standard: UtcOffset(-300), daylight: UtcOffset(-240) };

    /// The offset in force on `date` (at any time after 02:00 local).
    pub fn offset_on(self, date: Date) -> UtcOffset {
        match self {
            ZoneRule::Fixed(o) => o,
            ZoneRule::UsDst { standard, daylight } => {
                let d = date.days();
                let starts = Date::nth_sunday(date.year, 3, 2);
                let ends = Date::nth_sunday(date.year, 11, 1);
                if (starts..ends).contains(&d) {
                    daylight
                } else {
                    standard
                }
            }
        }
    }
}

/// A fixed offset for an inclusive range of dates (overrides the [`ZoneRule`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OffsetRange {
    /// First date (inclusive).
    pub from: Date,
    /// Last date (inclusive).
    pub to: Date,
    /// Offset on those dates.
    pub offset: UtcOffset,
}

/// A trading calendar as rules (see the module doc).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CalendarRules {
    /// Regular close, local time.
    pub close: LocalTime,
    /// Local time -> UTC.
    pub zone: ZoneRule,
    /// Fixed offsets for date ranges; the first range containing a date wins.
    pub offsets: Vec<OffsetRange>,
    /// Weekdays without a session.
    pub holidays: BTreeSet<Date>,
    /// Dates whose session closes at another local time.
    pub early_closes: BTreeMap<Date, LocalTime>,
    /// First date with sessions (inclusive).
    pub from: Date,
    /// Last date with sessions (inclusive).
    pub to: Date,
}

impl CalendarRules {
    /// US equities: weekdays, close 16:00 New York time (US DST rule), no holidays, sessions
    /// from 1970-01-01 to 2099-12-31.
    pub fn us_equities() -> CalendarRules {
        CalendarRules {
            close: LocalTime(16 * 60),
            zone: ZoneRule::US_EASTERN,
            offsets: Vec::new(),
            holidays: BTreeSet::new(),
            early_closes: BTreeMap::new(),
            from: Date { year: 1970, month: 1, day: 1 },
            to: Date { year: 2099, month: 12, day: 31 },
        }
    }

    /// The UTC offset in force on `date`.
    pub fn offset_on(&self, date: Date) -> UtcOffset {
        self.offsets.iter().find(|r| r.from <= date && date <= r.to).map_or_else(|| self.zone.offset_on(date), |r| r.offset)
    }

    /// The session close of `date` (ns since the Unix epoch), or `None` if it has no session
    /// (weekend, holiday, outside the range).
    pub fn close_on(&self, date: Date) -> Option<i64> {
        if date < self.from || date > self.to || !date.is_weekday() || self.holidays.contains(&date) {
            return None;
        }
        let local = self.early_closes.get(&date).copied().unwrap_or(self.close);
        let utc_min = date.days() * MIN_PER_DAY + local.minutes() - self.offset_on(date).minutes();
        Some(utc_min * NS_PER_MIN)
    }

    /// Checks the range and the early closes.
    pub fn validate(&self) -> Result<(), CalendarError> {
        let years = self.to.year as i64 - self.from.year as i64;
        if self.to < self.from || years >= MAX_YEARS as i64 {
            return Err(CalendarError::Range { from: self.from, to: self.to });
        }
        if let Some(r) = self.offsets.iter().find(|r| r.to < r.from) {
            return Err(CalendarError::Range { from: r.from, to: r.to });
        }
        if let Some(d) = self.early_closes.keys().find(|d| self.close_on(**d).is_none()) {
            return Err(CalendarError::EarlyCloseWithoutSession(*d));
        }
        Ok(())
    }

    /// Every session close of the range, as the book's calendar.
    pub fn compile(&self) -> Result<SessionCalendar, CalendarError> {
        self.validate()?;
        let closes = (self.from.days()..=self.to.days()).filter_map(|d| self.close_on(Date::from_days(d)));
        Ok(SessionCalendar::new(closes.map(crate::Timestamp)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Timestamp;

    fn date(s: &str) -> Date {
        s.parse().unwrap()
    }

    /// ns of `YYYY-MM-DD HH:MM` UTC.
    fn utc(d: &str, t: &str) -> i64 {
        let t: LocalTime = t.parse().unwrap();
        (date(d).days() * MIN_PER_DAY + t.minutes()) * NS_PER_MIN
    }

    #[test]
    fn civil_dates_round_trip_and_know_their_weekday() {
        assert_eq!(date("1970-01-01").days(), 0);
        assert_eq!(date("2000-03-01").days(), 11_017);
        assert_eq!(date("1969-12-31").days(), -1);
        for d in -800_000..800_000i64 {
            let c = Date::from_days(d);
            assert_eq!(c.days(), d);
            assert_eq!(Date::new(c.year, c.month as u32, c.day as u32), Ok(c));
        }
        assert_eq!(date("1970-01-01").weekday(), 4);
        assert_eq!(date("2026-11-21").weekday(), 6);
        assert_eq!(date("2024-02-29").weekday(), 4);
        assert!(Date::new(2023, 2, 29).is_err() && Date::new(1900, 2, 29).is_err() && Date::new(2000, 2, 29).is_ok());
    }

    #[test]
    fn text_forms_are_strict() {
        assert_eq!(date("2026-03-09").to_string(), "2026-03-09");
        for bad in ["2026-3-09", "2026-03-9", "2026-02-30", "26-03-09", "2026/03/09", "2026-03-09x", "+026-03-09"] {
            assert!(bad.parse::<Date>().is_err(), "{bad}");
        }
        assert_eq!("16:00".parse::<LocalTime>().unwrap().minutes(), 960);
        for bad in ["24:00", "9:30", "09:60", "0930", "-1:00"] {
            assert!(bad.parse::<LocalTime>().is_err(), "{bad}");
        }
        assert_eq!("-04:00".parse::<UtcOffset>().unwrap().minutes(), -240);
        assert_eq!("+05:30".parse::<UtcOffset>().unwrap().minutes(), 330);
        assert_eq!("Z".parse::<UtcOffset>().unwrap(), UtcOffset::UTC);
        for bad in ["04:00", "+4:00", "+19:00", "-04"] {
            assert!(bad.parse::<UtcOffset>().is_err(), "{bad}");
        }
    }

    #[test]
    fn us_dst_switches_on_the_second_sunday_of_march_and_the_first_of_november() {
        let r = CalendarRules::us_equities();
        // 2026: DST from Sunday 8 March to Sunday 1 November.
        assert_eq!(r.close_on(date("2026-03-06")), Some(utc("2026-03-06", "21:00"))); // Fri, EST
        assert_eq!(r.close_on(date("2026-03-07")), None); // Sat
        assert_eq!(r.close_on(date("2026-03-08")), None); // Sun
        assert_eq!(r.close_on(date("2026-03-09")), Some(utc("2026-03-09", "20:00"))); // Mon, EDT
        assert_eq!(r.close_on(date("2026-10-30")), Some(utc("2026-10-30", "20:00"))); // Fri, EDT
        assert_eq!(r.close_on(date("2026-11-02")), Some(utc("2026-11-02", "21:00"))); // Mon, EST
        assert_eq!(r.offset_on(date("2026-03-07")).minutes(), -300);
        assert_eq!(r.offset_on(date("2026-03-08")).minutes(), -240);
        assert_eq!(r.offset_on(date("2026-10-31")).minutes(), -240);
        assert_eq!(r.offset_on(date("2026-11-01")).minutes(), -300);
        // Other years: second Sunday of March may be the 8th..14th, first of November 1st..7th.
        for (y, start, end) in [(2007, 11, 4), (2020, 8, 1), (2024, 10, 3), (2025, 9, 2), (2027, 14, 7)] {
            let s = Date::new(y, 3, start).unwrap();
            let e = Date::new(y, 11, end).unwrap();
            assert_eq!((s.weekday(), e.weekday()), (7, 7), "{y}");
            assert_eq!(r.offset_on(Date::from_days(s.days() - 1)).minutes(), -300, "{y}");
            assert_eq!(r.offset_on(s).minutes(), -240, "{y}");
            assert_eq!(r.offset_on(Date::from_days(e.days() - 1)).minutes(), -240, "{y}");
            assert_eq!(r.offset_on(e).minutes(), -300, "{y}");
        }
    }

    #[test]
    fn holidays_early_closes_weekends_and_overrides() {
        let mut r = CalendarRules::us_equities();
        r.holidays.insert(date("2026-11-26")); // Thanksgiving (Thu)
        r.early_closes.insert(date("2026-11-27"), "13:00".parse().unwrap());
        r.offsets.push(OffsetRange { from: date("2026-12-01"), to: date("2026-12-02"), offset: UtcOffset::UTC });
        r.validate().unwrap();
        assert_eq!(r.close_on(date("2026-11-25")), Some(utc("2026-11-25", "21:00")));
        assert_eq!(r.close_on(date("2026-11-26")), None);
        assert_eq!(r.close_on(date("2026-11-27")), Some(utc("2026-11-27", "18:00")));
        assert_eq!(r.close_on(date("2026-11-28")), None);
        assert_eq!(r.close_on(date("2026-11-30")), Some(utc("2026-11-30", "21:00")));
        assert_eq!(r.close_on(date("2026-12-01")), Some(utc("2026-12-01", "16:00")));
        assert_eq!(r.close_on(date("2026-12-03")), Some(utc("2026-12-03", "21:00")));

        // The compiled calendar: an order entered on the holiday belongs to Friday's early
        // close; one entered at a close belongs to the next session.
        let c = r.compile().unwrap();
        assert_eq!(c.next_close_after(Timestamp(utc("2026-11-25", "21:00"))), Some(utc("2026-11-27", "18:00")));
        assert_eq!(c.next_close_after(Timestamp(utc("2026-11-26", "15:00"))), Some(utc("2026-11-27", "18:00")));
        assert_eq!(c.next_close_after(Timestamp(utc("2026-11-27", "18:00"))), Some(utc("2026-11-30", "21:00")));
        // Friday after the close -> Monday.
        assert_eq!(c.next_close_after(Timestamp(utc("2026-03-06", "21:00"))), Some(utc("2026-03-09", "20:00")));
        // Every close is on a whole minute.
        assert!(c.next_close_after(Timestamp(0)).is_some_and(|t| t % NS_PER_MIN == 0));
        // Past the range: no session.
        assert_eq!(c.next_close_after(Timestamp(utc("2099-12-31", "21:00"))), None);

        // An early close needs a session; ranges must be ordered and bounded.
        let mut bad = r.clone();
        bad.early_closes.insert(date("2026-11-28"), "13:00".parse().unwrap());
        assert_eq!(bad.validate(), Err(CalendarError::EarlyCloseWithoutSession(date("2026-11-28"))));
        let mut bad = r.clone();
        bad.early_closes.insert(date("2026-11-26"), "13:00".parse().unwrap());
        assert!(bad.compile().is_err());
        let mut bad = r.clone();
        bad.to = date("1969-12-31");
        assert!(matches!(bad.validate(), Err(CalendarError::Range { .. })));
        let mut bad = r.clone();
        bad.to = date("2400-01-01");
        assert!(bad.validate().is_err());
    }

    #[test]
    fn fixed_zone_and_compiled_size() {
        let r = CalendarRules {
            close: "16:30".parse().unwrap(),
            zone: ZoneRule::Fixed("+05:30".parse().unwrap()),
            offsets: Vec::new(),
            holidays: BTreeSet::new(),
            early_closes: BTreeMap::new(),
            from: date("2026-01-01"),
            to: date("2026-01-31"),
        };
        let c = r.compile().unwrap();
        // January 2026 has 22 weekdays; the first is Thursday 1 Jan, 16:30 IST = 11:00 UTC.
        assert_eq!(c.next_close_after(Timestamp(0)), Some(utc("2026-01-01", "11:00")));
        let mut t = Timestamp(0);
        let mut n = 0;
        while let Some(next) = c.next_close_after(t) {
            t = Timestamp(next);
            n += 1;
        }
        assert_eq!(n, 22);
    }
}
