//! JSON and CSV renderings of the reports.
//!
//! JSON is the report struct as is (decimals as exact strings, times as RFC 3339 UTC).
//! CSV is one table per report whose first column (`section`) says what a row is, so any
//! CSV reader can load it and filter; cells that are not meaningful for a section are
//! empty. Fields are quoted per RFC 4180 when they contain `,`, `"` or a line break.

use super::admin::AdminReport;
use super::gains::{GainsReport, Totals};
use super::statement::Statement;
use super::ReportError;
use rust_decimal::Decimal;
use serde::Serialize;

/// Output format of `tradeflow report`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    #[default]
    Json,
    Csv,
}

impl std::str::FromStr for Format {
    type Err = ReportError;
    fn from_str(s: &str) -> Result<Self, ReportError> {
        match s.to_ascii_lowercase().as_str() {
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            _ => Err(ReportError::BadFormat(s.to_string())),
        }
    }
}

/// Pretty JSON of any report.
pub fn json<T: Serialize>(report: &T) -> String {
    serde_json::to_string_pretty(report).expect("reports serialize to JSON")
}

fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

struct Csv {
    out: String,
    width: usize,
}

impl Csv {
    fn new(header: &[&str]) -> Self {
        let mut c = Csv { out: String::new(), width: header.len() };
        c.row(header.iter().map(|h| h.to_string()).collect());
        c
    }

    fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.width);
        let line: Vec<String> = cells.iter().map(|c| field(c)).collect();
        self.out.push_str(&line.join(","));
        self.out.push('\n');
    }
}

fn s(d: Decimal) -> String {
    d.normalize().to_string()
}

const STATEMENT_HEADER: &[&str] =
    &["section", "at", "id", "kind", "reference", "symbol", "side", "qty", "price", "fee", "amount", "opening", "closing"];

/// The statement as CSV: `summary` (opening / closing cash), `cash_account`, `entry`,
/// `fill`, `funding`, `position` and `note` rows.
pub fn statement_csv(st: &Statement) -> String {
    let mut c = Csv::new(STATEMENT_HEADER);
    let e = String::new;
    c.row(vec!["summary".into(), st.period_start.clone(), st.account.clone(), "cash".into(), st.month.clone(), e(), e(), e(), e(), e(), s(st.net_cash_change), s(st.opening_cash), s(st.closing_cash)]);
    for a in &st.cash_accounts {
        c.row(vec!["cash_account".into(), e(), a.ledger_account.clone(), e(), e(), e(), e(), e(), e(), e(), s(a.change), s(a.opening), s(a.closing)]);
    }
    for en in &st.ledger_entries {
        c.row(vec!["entry".into(), en.at.clone(), en.entry_id.clone(), en.kind.clone(), en.reference.clone(), e(), e(), e(), e(), e(), s(en.cash_change), e(), e()]);
    }
    for f in &st.fills {
        c.row(vec!["fill".into(), f.at.clone(), f.exec_id.clone(), e(), f.order_id.clone(), f.symbol.clone(), f.side.clone(), s(f.qty), s(f.price), s(f.fee), s(f.notional), e(), e()]);
    }
    for f in &st.funding {
        c.row(vec!["funding".into(), f.at.clone(), f.funding_id.clone(), f.status.clone(), f.event_id.clone(), e(), f.direction.clone(), e(), e(), e(), s(f.amount), e(), e()]);
    }
    for p in &st.positions {
        c.row(vec!["position".into(), st.period_end.clone(), e(), e(), e(), p.symbol.clone(), e(), s(p.qty), s(p.avg_cost), e(), s(p.cost_basis), e(), e()]);
    }
    for n in &st.notes {
        c.row(vec!["note".into(), e(), e(), e(), n.clone(), e(), e(), e(), e(), e(), e(), e(), e()]);
    }
    c.out
}

const GAINS_HEADER: &[&str] =
    &["section", "symbol", "lot_id", "lot_side", "sale_id", "qty", "acquired", "sold", "holding_days", "proceeds", "cost", "gain", "term"];

/// The gains report as CSV: one `lot` row per line (Form 8949 shape), then `short_term`,
/// `long_term` and `total` rows, then `rejected` and `note` rows.
pub fn gains_csv(r: &GainsReport) -> String {
    let mut c = Csv::new(GAINS_HEADER);
    let e = String::new;
    for l in &r.lines {
        c.row(vec![
            "lot".into(),
            l.symbol.clone(),
            l.lot_id.clone(),
            l.lot_side.into(),
            l.sale_id.clone(),
            s(l.qty),
            l.acquired.clone(),
            l.sold.clone(),
            l.holding_days.to_string(),
            s(l.proceeds),
            s(l.cost),
            s(l.gain),
            l.term.into(),
        ]);
    }
    let total = |c: &mut Csv, name: &str, t: &Totals| {
        c.row(vec![name.into(), e(), e(), e(), e(), e(), e(), e(), e(), s(t.proceeds), s(t.cost), s(t.gain), e()]);
    };
    total(&mut c, "short_term", &r.short_term);
    total(&mut c, "long_term", &r.long_term);
    total(&mut c, "total", &r.total);
    for x in &r.rejected {
        c.row(vec!["rejected".into(), e(), e(), e(), x.exec_id.clone(), e(), e(), e(), e(), e(), e(), e(), x.reason.clone()]);
    }
    for n in &r.notes {
        c.row(vec!["note".into(), e(), e(), e(), e(), e(), e(), e(), e(), e(), e(), e(), n.clone()]);
    }
    c.out
}

const ADMIN_HEADER: &[&str] = &[
    "section", "day", "symbol", "trades", "volume", "notional", "vwap", "active_accounts", "filled_orders",
    "first_fill_p50_ms", "first_fill_p90_ms", "first_fill_p99_ms", "last_fill_p50_ms", "last_fill_p90_ms", "last_fill_p99_ms",
];

/// The admin report as CSV: `volume`, `active` and `latency` rows.
pub fn admin_csv(r: &AdminReport) -> String {
    let mut c = Csv::new(ADMIN_HEADER);
    let e = String::new;
    for v in &r.volume {
        c.row(vec!["volume".into(), v.day.clone(), v.symbol.clone(), v.trades.to_string(), s(v.volume), s(v.notional), s(v.vwap), e(), e(), e(), e(), e(), e(), e(), e()]);
    }
    for a in &r.active_accounts {
        c.row(vec!["active".into(), a.day.clone(), e(), e(), e(), e(), e(), a.active_accounts.to_string(), e(), e(), e(), e(), e(), e(), e()]);
    }
    for l in &r.latency {
        c.row(vec![
            "latency".into(),
            l.day.clone(),
            l.symbol.clone(),
            e(),
            e(),
            e(),
            e(),
            e(),
            l.filled_orders.to_string(),
            s(l.first_fill_p50_ms),
            s(l.first_fill_p90_ms),
            s(l.first_fill_p99_ms),
            s(l.last_fill_p50_ms),
            s(l.last_fill_p90_ms),
            s(l.last_fill_p99_ms),
        ]);
    }
    c.out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::statement::{build_statement, tests::golden_input};

    #[test]
    fn csv_quotes_only_when_needed() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn statement_golden_csv_and_json() {
        let st = build_statement(golden_input());
        let csv = statement_csv(&st);
        let expected = "\
section,at,id,kind,reference,symbol,side,qty,price,fee,amount,opening,closing
summary,2026-10-01T04:00:00Z,A,cash,2026-10,,,,,,-1021,10000,8979
cash_account,,cash:available,,,,,,,,-1501,10000,8499
cash_account,,cash:held,,,,,,,,0,0,0
cash_account,,cash:unsettled,,,,,,,,480,0,480
entry,2026-10-02T04:00:00Z,A:3,HOLD,ref-A:3,,,,,,0,,
entry,2026-10-02T04:00:00.000000001Z,A:4,TRADE,ref-A:4,,,,,,-1000,,
entry,2026-10-02T04:00:00.000000001Z,A:5,FEE,ref-A:5,,,,,,-1,,
entry,2026-10-03T04:00:00Z,A:6,TRADE,ref-A:6,,,,,,480,,
entry,2026-10-04T04:00:00Z,A:7,WITHDRAWAL,ref-A:7,,,,,,-500,,
fill,2026-10-02T04:00:00.000000001Z,x1,,o-x1,XYZ,BUY,10,100,1,1000,,
fill,2026-10-03T04:00:00Z,x2,,o-x2,XYZ,SELL,4,120,0,480,,
funding,2026-10-04T04:00:00Z,w1,COMPLETED,A.f7,,WITHDRAWAL,,,,500,,
position,2026-11-01T04:00:00Z,,,,XYZ,,6,100.1,,600.6,,
";
        assert_eq!(csv, expected);
        let v: serde_json::Value = serde_json::from_str(&json(&st)).unwrap();
        assert_eq!(v["opening_cash"], "10000");
        assert_eq!(v["closing_cash"], "8979");
        assert_eq!(v["positions"][0]["cost_basis"], "600.6");
        assert_eq!(v["ledger_entries"][1]["share_changes"]["XYZ"], "10");
    }
}
