//! Wire formats of the Alpaca API that need no crate: RFC 3339 timestamps (microseconds,
//! as Alpaca sends them), UUID-shaped ids, exact decimal strings.

use rust_decimal::Decimal;
use std::str::FromStr;

const NS_PER_SEC: i64 = 1_000_000_000;

/// Days since 1970-01-01 -> (year, month, day) (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// (year, month, day) -> days since 1970-01-01.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// RFC 3339 in UTC with microseconds: `2026-11-20T14:30:00.123456Z`.
pub fn rfc3339(ns: i64) -> String {
    rfc3339_offset(ns, 0)
}

/// RFC 3339 at a fixed UTC offset in minutes: `2026-11-20T09:30:00-05:00`-style (with
/// microseconds; `Z` for offset 0).
pub fn rfc3339_offset(ns: i64, offset_minutes: i32) -> String {
    let local = ns + i64::from(offset_minutes) * 60 * NS_PER_SEC;
    let secs = local.div_euclid(NS_PER_SEC);
    let micros = local.rem_euclid(NS_PER_SEC) / 1000;
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let zone = if offset_minutes == 0 {
        "Z".to_string()
    } else {
        let sign = if offset_minutes < 0 { '-' } else { '+' };
        let a = offset_minutes.unsigned_abs();
        format!("{sign}{:02}:{:02}", a / 60, a % 60)
    };
    format!("{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}{zone}", sod / 3600, sod % 3600 / 60, sod % 60)
}

/// Parses `YYYY-MM-DD` (midnight UTC) or RFC 3339 (`T` or space, optional fraction, `Z` or
/// `±HH:MM`) into ns since the epoch.
pub fn parse_time(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if t.bytes().all(|c| c.is_ascii_digit()) && !t.is_empty() { t.parse().ok() } else { None }
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)? as u32, num(8..10)? as u32);
    if !(1..=12).contains(&mo) || d == 0 || d > 31 {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    if civil_from_days(days) != (y, mo, d) {
        return None;
    }
    if b.len() == 10 {
        return Some(days * 86_400 * NS_PER_SEC);
    }
    if b.len() < 19 || !(b[10] == b'T' || b[10] == b't' || b[10] == b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if h > 23 || mi > 59 || se > 59 {
        return None;
    }
    let mut i = 19;
    let mut frac_ns = 0i64;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = &s[start..i];
        if digits.is_empty() || digits.len() > 9 {
            return None;
        }
        frac_ns = format!("{digits:0<9}").parse().ok()?;
    }
    let offset_s = match &s[i..] {
        "Z" | "z" => 0,
        z if z.len() == 6 && (z.starts_with('+') || z.starts_with('-')) && z.as_bytes()[3] == b':' => {
            let (oh, om) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
            let o = (oh * 60 + om) * 60;
            if z.starts_with('-') { -o } else { o }
        }
        _ => return None,
    };
    let secs = days * 86_400 + h * 3600 + mi * 60 + se - offset_s;
    secs.checked_mul(NS_PER_SEC)?.checked_add(frac_ns)
}

/// A random UUID (version 4) for order ids.
pub fn uuid_v4() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    uuid_text(&b)
}

/// A deterministic UUID (version 8, RFC 9562 custom) for a name in a namespace, so ids
/// that are not UUIDs on our side (account ids, symbols) look like Alpaca's to clients.
/// FNV-1a based: an identifier, not a secret.
pub fn uuid_v8(namespace: &str, name: &str) -> String {
    let fnv = |seed: u64| {
        let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed;
        for byte in namespace.bytes().chain([0u8]).chain(name.bytes()) {
            h ^= u64::from(byte);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h
    };
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&fnv(0).to_be_bytes());
    b[8..].copy_from_slice(&fnv(0x9e37_79b9_7f4a_7c15).to_be_bytes());
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    uuid_text(&b)
}

fn uuid_text(b: &[u8; 16]) -> String {
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// A decimal as Alpaca's JSON string, exact and without trailing zeros: `"1.5"`, `"100"`.
pub fn dec(d: Decimal) -> String {
    d.normalize().to_string()
}

/// Like [`dec`], for optional fields (`null` when absent).
pub fn dec_opt(d: Option<Decimal>) -> Option<String> {
    d.map(dec)
}

/// Parses a decimal from a client's text exactly (no rounding, no exponent).
pub fn parse_decimal(s: &str) -> Option<Decimal> {
    let t = s.trim();
    if t.is_empty() || t.contains(['e', 'E']) {
        return None;
    }
    Decimal::from_str_exact(t).ok().or_else(|| Decimal::from_str(t).ok().filter(|d| d.to_string() == t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000Z");
        let ns = 1_700_000_000_123_456_000;
        assert_eq!(rfc3339(ns), "2023-11-14T22:13:20.123456Z");
        assert_eq!(parse_time(&rfc3339(ns)), Some(ns));
        assert_eq!(rfc3339_offset(ns, -300), "2023-11-14T17:13:20.123456-05:00");
        assert_eq!(parse_time(&rfc3339_offset(ns, -300)), Some(ns));
        assert_eq!(parse_time("2024-02-29"), Some(days_from_civil(2024, 2, 29) * 86_400 * NS_PER_SEC));
        assert_eq!(parse_time("2023-02-29"), None);
        assert_eq!(parse_time("2024-03-10T09:30:00-04:00"), parse_time("2024-03-10T13:30:00Z"));
        assert_eq!(parse_time("2024-03-10T09:30:00.5Z"), parse_time("2024-03-10T09:30:00Z").map(|t| t + 500_000_000));
        assert_eq!(parse_time("yesterday"), None);
        for days in [-800_000i64, -1, 0, 1, 19_000, 2_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn uuids_are_well_formed() {
        let v4 = uuid_v4();
        assert_eq!((v4.len(), &v4[14..15]), (36, "4"));
        assert_ne!(v4, uuid_v4());
        assert_eq!(uuid_v8("account", "acc-1"), uuid_v8("account", "acc-1"));
        assert_ne!(uuid_v8("account", "acc-1"), uuid_v8("asset", "acc-1"));
        assert_eq!(&uuid_v8("asset", "AAPL")[14..15], "8");
    }

    #[test]
    fn decimals_are_exact() {
        assert_eq!(parse_decimal("1.5").map(dec), Some("1.5".into()));
        assert_eq!(parse_decimal("0.10000000").map(dec), Some("0.1".into()));
        assert_eq!(parse_decimal("12345678901234567890.12345678").map(dec), Some("12345678901234567890.12345678".into()));
        assert_eq!(parse_decimal("1e3"), None);
        assert_eq!(parse_decimal("abc"), None);
        assert_eq!(dec(Decimal::new(150_000_000, 8)), "1.5");
    }
}
