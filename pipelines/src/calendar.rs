//! Trading-calendar files for `tradeflow run matching --calendar FILE` (JSON), parsed into
//! the pure [`CalendarRules`] of `operators::matching` and compiled into a [`BookConfig`].
//!
//! Format (every field optional; a missing one takes the built-in US-equities default):
//! ```json
//! {
//!   "close": "16:00",
//!   "utc_offset": "us-eastern",
//!   "offsets": [{ "from": "2006-04-02", "to": "2006-10-28", "utc_offset": "-04:00" }],
//!   "holidays": ["2026-01-01", "2026-11-26"],
//!   "early_closes": { "2026-11-27": "13:00" },
//!   "from": "1970-01-01",
//!   "to": "2099-12-31"
//! }
//! ```
//! - `close`: regular session close, local `HH:MM` (default `16:00`).
//! - `utc_offset`: local time -> UTC: a fixed `+HH:MM` / `-HH:MM` (or `Z`), `us-eastern`
//!   (default: -05:00, -04:00 from the second Sunday of March to the first Sunday of
//!   November, the 2007+ US rule applied to every year), or `us-dst STANDARD DAYLIGHT`
//!   (e.g. `us-dst -06:00 -05:00` for Chicago).
//! - `offsets`: fixed offsets for inclusive date ranges, overriding `utc_offset` (first match
//!   wins), e.g. for years before 2007 or a non-US rule written out per year.
//! - `holidays`: weekdays without a session. `early_closes`: date -> local close time.
//! - `from` / `to`: inclusive range of dates with sessions (default 1970-01-01 to
//!   2099-12-31, at most 400 years). A day order entered after the last close is rejected
//!   (`SESSION_CLOSE`).
//!
//! Sessions are Monday to Friday only. Unknown fields are errors, so a typo never silently
//! falls back to a default.

use operators::matching::{BookConfig, CalendarError, CalendarRules, Date, LocalTime, OffsetRange, UtcOffset, ZoneRule};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Why a calendar file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CalendarFileError {
    #[error("reading calendar {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("calendar is not valid JSON of the documented shape: {0}")]
    Json(#[from] serde_json::Error),
    #[error("invalid trading calendar")]
    Calendar(#[from] CalendarError),
    #[error("calendar: invalid utc_offset {0:?} (expected +HH:MM, -HH:MM, us-eastern or us-dst STANDARD DAYLIGHT)")]
    Zone(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRange {
    from: String,
    to: String,
    utc_offset: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct File {
    close: Option<String>,
    utc_offset: Option<String>,
    #[serde(default)]
    offsets: Vec<FileRange>,
    #[serde(default)]
    holidays: Vec<String>,
    #[serde(default)]
    early_closes: BTreeMap<String, String>,
    from: Option<String>,
    to: Option<String>,
}

fn zone(s: &str) -> Result<ZoneRule, CalendarFileError> {
    let words: Vec<&str> = s.split_whitespace().collect();
    match words.as_slice() {
        ["us-eastern"] => Ok(ZoneRule::US_EASTERN),
        ["us-dst", std, dst] => Ok(ZoneRule::UsDst { standard: std.parse()?, daylight: dst.parse()? }),
        [fixed] if fixed.starts_with(['+', '-', 'Z']) => Ok(ZoneRule::Fixed(fixed.parse()?)),
        _ => Err(CalendarFileError::Zone(s.to_string())),
    }
}

/// Parses a calendar file's text (see the module doc) and validates it.
pub fn parse(text: &str) -> Result<CalendarRules, CalendarFileError> {
    let f: File = serde_json::from_str(text)?;
    let mut r = CalendarRules::us_equities();
    if let Some(c) = f.close {
        r.close = c.parse::<LocalTime>()?;
    }
    if let Some(z) = f.utc_offset {
        r.zone = zone(&z)?;
    }
    for o in f.offsets {
        r.offsets.push(OffsetRange { from: o.from.parse()?, to: o.to.parse()?, offset: o.utc_offset.parse::<UtcOffset>()? });
    }
    for h in f.holidays {
        r.holidays.insert(h.parse::<Date>()?);
    }
    for (d, t) in f.early_closes {
        r.early_closes.insert(d.parse::<Date>()?, t.parse::<LocalTime>()?);
    }
    if let Some(d) = f.from {
        r.from = d.parse()?;
    }
    if let Some(d) = f.to {
        r.to = d.parse()?;
    }
    r.validate()?;
    Ok(r)
}

/// The calendar of `path`, or the built-in US-equities default when `None`.
pub fn load(path: Option<&Path>) -> Result<CalendarRules, CalendarFileError> {
    match path {
        None => Ok(CalendarRules::us_equities()),
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|source| CalendarFileError::Io { path: p.display().to_string(), source })?;
            parse(&text)
        }
    }
}

/// The books' configuration for a calendar.
pub fn book_config(rules: &CalendarRules) -> Result<BookConfig, CalendarFileError> {
    Ok(BookConfig { calendar: rules.compile()? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_us_default_and_fields_override_it() {
        assert_eq!(parse("{}").unwrap(), CalendarRules::us_equities());
        let r = parse(
            r#"{ "close": "17:30", "utc_offset": "+01:00",
                 "offsets": [{ "from": "2026-03-29", "to": "2026-10-24", "utc_offset": "+02:00" }],
                 "holidays": ["2026-12-25"], "early_closes": { "2026-12-24": "14:00" },
                 "from": "2026-01-01", "to": "2026-12-31" }"#,
        )
        .unwrap();
        assert_eq!(r.close, "17:30".parse().unwrap());
        assert_eq!(r.zone, ZoneRule::Fixed("+01:00".parse().unwrap()));
        let d = |s: &str| s.parse::<Date>().unwrap();
        assert_eq!(r.offset_on(d("2026-06-01")).minutes(), 120);
        assert_eq!(r.close_on(d("2026-12-25")), None);
        // 24 Dec 2026 (Thu) 14:00 +01:00 = 13:00 UTC.
        assert_eq!(r.close_on(d("2026-12-24")), Some(((d("2026-12-24").days() * 24 + 13) * 3600) * 1_000_000_000));
        let cal = book_config(&r).unwrap().calendar;
        assert!(!cal.is_empty());
        assert_eq!(parse(r#"{"utc_offset": "us-dst -06:00 -05:00"}"#).unwrap().zone, ZoneRule::UsDst {
            standard: "-06:00".parse().unwrap(),
            daylight: "-05:00".parse().unwrap()
        });
    }

    #[test]
    fn bad_files_are_errors() {
        for bad in [
            r#"{ "close": "4pm" }"#,
            r#"{ "utc_offset": "America/New_York" }"#,
            r#"{ "holidays": ["2026-02-30"] }"#,
            r#"{ "early_closes": { "2026-11-28": "13:00" } }"#,
            r#"{ "from": "2030-01-01", "to": "2020-01-01" }"#,
            r#"{ "holiday": ["2026-01-01"] }"#,
            r#"[]"#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(matches!(load(Some(Path::new("/nonexistent/cal.json"))), Err(CalendarFileError::Io { .. })));
        assert_eq!(load(None).unwrap(), CalendarRules::us_equities());
    }
}
