//! The yearly realized capital-gains report: one line per lot (or part of a lot) closed in
//! the tax year (the shape of IRS Form 8949), short-term / long-term / total sums.
//!
//! The lot logic is `operators::portfolio::capital_gains_report`, the engine the
//! `portfolio` pipeline runs: it replays the account's *whole* execution history in log
//! order (so earlier years decide which lots a sale closes) with the chosen method and keeps
//! the sales whose trade date (report time zone) falls in the year. Long-term = held more
//! than one year (`operators::portfolio::Term::classify`). Nothing here re-implements lots.

use super::source::ExecRow;
use super::time::tz_name;
use operators::portfolio::{capital_gains_report, LotMethod, LotSide, Term, TermTotals, TimeZoneRule};
use rust_decimal::Decimal;
use serde::Serialize;

/// One closed lot (or part of one).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GainLine {
    pub symbol: String,
    /// The execution that opened the lot.
    pub lot_id: String,
    /// `long` (sold shares) or `short` (covered a short sale).
    pub lot_side: &'static str,
    /// The closing execution.
    pub sale_id: String,
    pub qty: Decimal,
    pub acquired: String,
    pub sold: String,
    pub holding_days: i64,
    /// Net of the allocated sell fee.
    pub proceeds: Decimal,
    /// Including the allocated buy fee.
    pub cost: Decimal,
    pub gain: Decimal,
    /// `short` or `long`.
    pub term: &'static str,
}

/// Sums over a set of lines. Invariant: `gain = proceeds - cost`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Totals {
    pub proceeds: Decimal,
    pub cost: Decimal,
    pub gain: Decimal,
}

impl From<TermTotals> for Totals {
    fn from(t: TermTotals) -> Self {
        Totals { proceeds: t.proceeds.normalize(), cost: t.cost_basis.normalize(), gain: t.gain.normalize() }
    }
}

/// An execution the lot engine refused (malformed), with the reason.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RejectedFill {
    pub exec_id: String,
    pub reason: String,
}

/// The report. Invariant: `short_term + long_term = total`, each the sum of its lines.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GainsReport {
    pub account: String,
    pub year: i32,
    /// `fifo` or `lifo`.
    pub method: &'static str,
    pub time_zone: &'static str,
    pub lines: Vec<GainLine>,
    pub short_term: Totals,
    pub long_term: Totals,
    pub total: Totals,
    pub rejected: Vec<RejectedFill>,
    pub notes: Vec<String>,
}

/// Lower-case name of a lot method.
pub fn method_name(m: LotMethod) -> &'static str {
    match m {
        LotMethod::Fifo => "fifo",
        LotMethod::Lifo => "lifo",
        LotMethod::SpecificLot => "specific_lot",
    }
}

/// Computes the report from the account's executions in log order; pure.
pub fn build_gains(account: &str, known_account: bool, history: &[ExecRow], method: LotMethod, year: i32, tz: TimeZoneRule) -> GainsReport {
    let mut rejected = Vec::new();
    let mut fills = Vec::with_capacity(history.len());
    for x in history {
        match x.fill() {
            Some(f) => fills.push(f),
            None => rejected.push(RejectedFill { exec_id: x.exec_id.clone(), reason: format!("unknown side {:?}", x.side) }),
        }
    }
    let r = capital_gains_report(account, &fills, &[], method, year, tz);
    rejected.extend(r.rejected.iter().map(|(id, e)| RejectedFill { exec_id: id.clone(), reason: e.to_string() }));
    let lines = r
        .lines()
        .into_iter()
        .map(|l| GainLine {
            symbol: l.symbol,
            lot_id: l.lot_id.0,
            lot_side: match l.lot_side {
                LotSide::Long => "long",
                LotSide::Short => "short",
            },
            sale_id: l.sale_fill_id,
            qty: l.qty.normalize(),
            acquired: l.acquired_on.to_string(),
            sold: l.disposed_on.to_string(),
            holding_days: l.holding_days,
            proceeds: l.proceeds.normalize(),
            cost: l.cost_basis.normalize(),
            gain: l.gain.normalize(),
            term: match l.term {
                Term::ShortTerm => "short",
                Term::LongTerm => "long",
            },
        })
        .collect::<Vec<_>>();
    let mut notes = Vec::new();
    if !known_account {
        notes.push(format!("no events are recorded for account {account}: the report is empty"));
    } else if lines.is_empty() {
        notes.push(format!("no realized gains or losses in {year}"));
    }
    GainsReport {
        account: account.to_string(),
        year,
        method: method_name(method),
        time_zone: tz_name(tz),
        lines,
        short_term: r.short_term.into(),
        long_term: r.long_term.into(),
        total: r.total.into(),
        rejected,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::statement::tests::{d, exec};
    use operators::portfolio::TradeDate;

    /// Noon New York on `y-m-d`, as Unix nanoseconds.
    pub fn noon(y: i32, m: u32, day: u32) -> i64 {
        TimeZoneRule::UsEastern.day_start(TradeDate::new(y, m, day).unwrap()).nanos() + 12 * 3_600_000_000_000
    }

    /// The seed's worked example (see `operators/src/portfolio/tests/golden.rs`).
    fn seed() -> Vec<ExecRow> {
        vec![
            exec("b-jan", "AAPL", "BUY", "100", "150", "0", noon(2024, 1, 1)),
            exec("b-feb", "AAPL", "BUY", "50", "160", "0", noon(2024, 2, 1)),
            exec("s-mar", "AAPL", "SELL", "120", "170", "0", noon(2024, 3, 1)),
        ]
    }

    fn lines(r: &GainsReport) -> Vec<(&str, Decimal, Decimal, Decimal, Decimal)> {
        r.lines.iter().map(|l| (l.lot_id.as_str(), l.qty, l.proceeds, l.cost, l.gain)).collect()
    }

    #[test]
    fn seed_fifo_vs_lifo() {
        let fifo = build_gains("A", true, &seed(), LotMethod::Fifo, 2024, TimeZoneRule::UsEastern);
        assert_eq!(lines(&fifo), vec![("b-jan", d("100"), d("17000"), d("15000"), d("2000")), ("b-feb", d("20"), d("3400"), d("3200"), d("200"))]);
        assert_eq!(fifo.total, Totals { proceeds: d("20400"), cost: d("18200"), gain: d("2200") });
        assert_eq!(fifo.short_term, fifo.total);
        assert_eq!(fifo.long_term, Totals::default());
        assert_eq!((fifo.lines[0].acquired.as_str(), fifo.lines[0].sold.as_str()), ("2024-01-01", "2024-03-01"));
        let lifo = build_gains("A", true, &seed(), LotMethod::Lifo, 2024, TimeZoneRule::UsEastern);
        assert_eq!(lines(&lifo), vec![("b-feb", d("50"), d("8500"), d("8000"), d("500")), ("b-jan", d("70"), d("11900"), d("10500"), d("1400"))]);
        assert_eq!(lifo.total, Totals { proceeds: d("20400"), cost: d("18500"), gain: d("1900") });
        assert_eq!(lifo.method, "lifo");
        // Other years see nothing.
        let r = build_gains("A", true, &seed(), LotMethod::Fifo, 2025, TimeZoneRule::UsEastern);
        assert!(r.lines.is_empty());
        assert_eq!(r.notes, vec!["no realized gains or losses in 2025".to_string()]);
    }

    #[test]
    fn long_term_split() {
        let history = vec![
            exec("b1", "MSFT", "BUY", "10", "100", "0", noon(2023, 3, 1)),
            exec("b2", "MSFT", "BUY", "10", "200", "0", noon(2023, 6, 1)),
            exec("s1", "MSFT", "SELL", "15", "300", "0", noon(2024, 3, 2)),
        ];
        let r = build_gains("A", true, &history, LotMethod::Fifo, 2024, TimeZoneRule::UsEastern);
        let terms: Vec<_> = r.lines.iter().map(|l| (l.lot_id.as_str(), l.term, l.gain)).collect();
        assert_eq!(terms, vec![("b1", "long", d("2000")), ("b2", "short", d("500"))]);
        assert_eq!(r.long_term.gain, d("2000"));
        assert_eq!(r.short_term.gain, d("500"));
        assert_eq!(r.total.gain, d("2500"));
    }

    #[test]
    fn malformed_executions_are_listed() {
        let mut history = seed();
        history.push(exec("bad", "AAPL", "SELL", "0", "170", "0", noon(2024, 3, 2)));
        history.push(exec("odd", "AAPL", "HOLD", "1", "170", "0", noon(2024, 3, 2)));
        let r = build_gains("A", true, &history, LotMethod::Fifo, 2024, TimeZoneRule::UsEastern);
        assert_eq!(r.total.gain, d("2200"));
        let ids: Vec<_> = r.rejected.iter().map(|x| x.exec_id.as_str()).collect();
        assert_eq!(ids, vec!["odd", "bad"]);
    }
}
