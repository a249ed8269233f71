//! The monthly account statement: cash at the start and end of the month, the month's
//! activity (journal entries, fills, funding) and the positions held at month end.
//!
//! Definitions:
//! - **Cash** is the sum of the customer's cash ledger accounts (`cash:available`,
//!   `cash:held`, `cash:unsettled`, `cash:withdrawal_pending`, `cash:deficit`; USD), i.e.
//!   what the account owns in cash whatever it is reserved for. Moving cash between them
//!   (a hold, a settlement) changes no total.
//! - **Opening** balances are the postings before the month's first instant, **closing**
//!   = opening + the month's postings, per cash ledger account; an entry's `cash_change` is
//!   its net effect on total cash. So `closing_cash = opening_cash + sum(cash_change)`
//!   by construction (a test checks it).
//! - **Positions** replay every execution up to the month's end through the portfolio lot
//!   engine (`operators::portfolio::AccountState`, FIFO): quantity, cost basis (fees
//!   included) and average cost of each open position.
//! - The month is `[local midnight of day 1, local midnight of day 1 of the next month)` in
//!   the report's time zone.

use super::source::{ExecRow, FundingRow, PostingRow};
use super::time::{iso, tz_name, Month};
use operators::portfolio::{AccountState, LotMethod, TimeZoneRule};
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::BTreeMap;

/// Everything the statement is computed from (what the queries return).
#[derive(Clone, Debug)]
pub struct StatementInput {
    pub account: String,
    pub month: Month,
    pub time_zone: TimeZoneRule,
    pub period_start_ns: i64,
    pub period_end_ns: i64,
    /// Whether any event of the account was ever recorded.
    pub known_account: bool,
    /// Cash ledger account balances before the period.
    pub opening_cash: Vec<(String, Decimal)>,
    /// Postings within the period (any ledger account), by time.
    pub postings: Vec<PostingRow>,
    /// Every execution before the period end, in log order.
    pub history: Vec<ExecRow>,
    /// Funding events within the period.
    pub funding: Vec<FundingRow>,
    /// Lot method for month-end cost basis.
    pub method: LotMethod,
}

/// One cash ledger account over the month.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CashAccountLine {
    pub ledger_account: String,
    pub opening: Decimal,
    pub change: Decimal,
    pub closing: Decimal,
}

/// One journal entry of the month.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EntryLine {
    pub entry_id: String,
    pub at: String,
    pub kind: String,
    pub reference: String,
    /// Net change of total cash (debits - credits on `cash:*`).
    pub cash_change: Decimal,
    /// Net change of shares per symbol (debits - credits on `shares:SYM:*`), non-zero only.
    pub share_changes: BTreeMap<String, Decimal>,
}

/// One execution of the month.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FillLine {
    pub exec_id: String,
    pub order_id: String,
    pub at: String,
    pub symbol: String,
    pub side: String,
    pub qty: Decimal,
    pub price: Decimal,
    pub fee: Decimal,
    /// `qty * price`.
    pub notional: Decimal,
}

/// One funding event of the month.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FundingLine {
    pub funding_id: String,
    pub event_id: String,
    pub at: String,
    pub direction: String,
    pub status: String,
    pub amount: Decimal,
    pub reason: Option<String>,
}

/// One open position at month end.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PositionLine {
    pub symbol: String,
    /// Signed: negative for a short position.
    pub qty: Decimal,
    /// Signed cost basis including fees (negative for a short position).
    pub cost_basis: Decimal,
    /// `|cost basis| / |qty|`.
    pub avg_cost: Decimal,
    pub open_lots: usize,
}

/// Sums of the month's activity.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ActivityTotals {
    pub fills: u64,
    pub bought_notional: Decimal,
    pub sold_notional: Decimal,
    pub fees: Decimal,
    /// Completed deposits.
    pub deposits: Decimal,
    /// Completed withdrawals.
    pub withdrawals: Decimal,
}

/// The statement. Invariant: `closing_cash = opening_cash + net_cash_change`, and
/// `net_cash_change` is the sum of the entries' `cash_change`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Statement {
    pub account: String,
    pub month: String,
    pub time_zone: &'static str,
    pub period_start: String,
    pub period_end: String,
    pub opening_cash: Decimal,
    pub closing_cash: Decimal,
    pub net_cash_change: Decimal,
    pub cash_accounts: Vec<CashAccountLine>,
    pub ledger_entries: Vec<EntryLine>,
    pub fills: Vec<FillLine>,
    pub funding: Vec<FundingLine>,
    pub positions: Vec<PositionLine>,
    pub totals: ActivityTotals,
    pub notes: Vec<String>,
}

fn is_cash(p: &PostingRow) -> bool {
    p.asset == "USD" && p.ledger_account.starts_with("cash:")
}

/// `shares:SYM:available` / `shares:SYM:held` -> `SYM`.
fn share_symbol(ledger_account: &str) -> Option<&str> {
    let rest = ledger_account.strip_prefix("shares:")?;
    let (sym, _) = rest.rsplit_once(':')?;
    Some(sym)
}

/// Sequence number of an entry id `"{account}:{seq}"` (ordering entries of equal time).
fn seq(entry_id: &str) -> u64 {
    entry_id.rsplit_once(':').and_then(|(_, s)| s.parse().ok()).unwrap_or(u64::MAX)
}

/// Computes the statement; pure (see the module docs).
pub fn build_statement(input: StatementInput) -> Statement {
    let StatementInput { account, month, time_zone, period_start_ns, period_end_ns, known_account, opening_cash, mut postings, history, funding, method } = input;
    let mut notes = Vec::new();

    // Cash per ledger account.
    let mut cash: BTreeMap<String, (Decimal, Decimal)> = opening_cash.into_iter().map(|(a, b)| (a, (b, Decimal::ZERO))).collect();
    postings.sort_by(|a, b| (a.at_ns, seq(&a.entry_id), &a.entry_id, a.posting_index).cmp(&(b.at_ns, seq(&b.entry_id), &b.entry_id, b.posting_index)));
    let mut entries: Vec<EntryLine> = Vec::new();
    for p in &postings {
        if entries.last().is_none_or(|e| e.entry_id != p.entry_id) {
            entries.push(EntryLine {
                entry_id: p.entry_id.clone(),
                at: iso(p.at_ns),
                kind: p.kind.clone(),
                reference: p.reference.clone(),
                cash_change: Decimal::ZERO,
                share_changes: BTreeMap::new(),
            });
        }
        let e = entries.last_mut().expect("pushed above");
        let net = p.debit - p.credit;
        if is_cash(p) {
            e.cash_change += net;
            cash.entry(p.ledger_account.clone()).or_default().1 += net;
        } else if let Some(sym) = share_symbol(&p.ledger_account) {
            *e.share_changes.entry(sym.to_string()).or_default() += net;
        }
    }
    for e in &mut entries {
        e.share_changes.retain(|_, q| !q.is_zero());
    }
    let cash_accounts: Vec<CashAccountLine> = cash
        .into_iter()
        .map(|(ledger_account, (opening, change))| CashAccountLine { ledger_account, opening, change, closing: opening + change })
        .collect();
    let opening: Decimal = cash_accounts.iter().map(|c| c.opening).sum();
    let change: Decimal = cash_accounts.iter().map(|c| c.change).sum();

    // Fills of the month, and positions from the whole history up to the month's end.
    let mut totals = ActivityTotals::default();
    let mut fills = Vec::new();
    let mut state = AccountState::new(&account, method);
    for x in &history {
        if x.at_ns >= period_start_ns && x.at_ns < period_end_ns {
            let notional = x.qty * x.price;
            totals.fills += 1;
            totals.fees += x.fee;
            match x.side.as_str() {
                "BUY" => totals.bought_notional += notional,
                _ => totals.sold_notional += notional,
            }
            fills.push(FillLine {
                exec_id: x.exec_id.clone(),
                order_id: x.order_id.clone(),
                at: iso(x.at_ns),
                symbol: x.symbol.clone(),
                side: x.side.clone(),
                qty: x.qty,
                price: x.price,
                fee: x.fee,
                notional,
            });
        }
        match x.fill() {
            Some(fill) => {
                if let Err(e) = state.apply_fill(&fill, time_zone) {
                    notes.push(format!("execution {} left out of positions: {e}", x.exec_id));
                }
            }
            None => notes.push(format!("execution {} has unknown side {:?}; left out of positions", x.exec_id, x.side)),
        }
    }
    fills.sort_by(|a, b| (&a.at, &a.exec_id).cmp(&(&b.at, &b.exec_id)));
    let positions = state
        .open_positions()
        .map(|p| PositionLine {
            symbol: p.symbol.clone(),
            qty: p.qty().normalize(),
            cost_basis: p.cost_basis().normalize(),
            avg_cost: p.avg_cost().unwrap_or_default().normalize(),
            open_lots: p.lots.len(),
        })
        .collect();

    let funding: Vec<FundingLine> = funding
        .into_iter()
        .map(|f| {
            if f.status == "COMPLETED" {
                match f.direction.as_str() {
                    "DEPOSIT" => totals.deposits += f.amount,
                    "WITHDRAWAL" => totals.withdrawals += f.amount,
                    _ => {}
                }
            }
            FundingLine {
                funding_id: f.funding_id,
                event_id: f.event_id,
                at: iso(f.at_ns),
                direction: f.direction,
                status: f.status,
                amount: f.amount,
                reason: f.reason,
            }
        })
        .collect();

    if !known_account {
        notes.insert(0, format!("no events are recorded for account {account}: the statement is empty"));
    } else if entries.is_empty() && fills.is_empty() && funding.is_empty() {
        notes.insert(0, format!("no activity in {month}"));
    }
    Statement {
        account,
        month: month.to_string(),
        time_zone: tz_name(time_zone),
        period_start: iso(period_start_ns),
        period_end: iso(period_end_ns),
        opening_cash: opening,
        closing_cash: opening + change,
        net_cash_change: change,
        cash_accounts,
        ledger_entries: entries,
        fills,
        funding,
        positions,
        totals,
        notes,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[allow(clippy::too_many_arguments)]
    fn posting(entry: &str, i: u32, at_ns: i64, kind: &str, acct: &str, asset: &str, debit: &str, credit: &str) -> PostingRow {
        PostingRow {
            entry_id: entry.into(),
            posting_index: i,
            at_ns,
            kind: kind.into(),
            reference: format!("ref-{entry}"),
            ledger_account: acct.into(),
            asset: asset.into(),
            debit: d(debit),
            credit: d(credit),
        }
    }

    pub fn exec(id: &str, sym: &str, side: &str, qty: &str, price: &str, fee: &str, at_ns: i64) -> ExecRow {
        ExecRow {
            exec_id: id.into(),
            account_id: "A".into(),
            order_id: format!("o-{id}"),
            symbol: sym.into(),
            side: side.into(),
            qty: d(qty),
            price: d(price),
            fee: d(fee),
            at_ns,
        }
    }

    const OCT1: i64 = 1_790_827_200_000_000_000; // 2026-10-01T04:00:00Z (midnight New York)
    const NOV1: i64 = 1_793_505_600_000_000_000; // 2026-11-01T04:00:00Z
    const DAY: i64 = 86_400_000_000_000;

    /// The statement golden: a deposit before the month, a buy, a partial sell and a
    /// withdrawal in it, a buy after it.
    pub fn golden_input() -> StatementInput {
        let month: Month = "2026-10".parse().unwrap();
        assert_eq!(month.bounds(TimeZoneRule::UsEastern), (OCT1, NOV1));
        StatementInput {
            account: "A".into(),
            month,
            time_zone: TimeZoneRule::UsEastern,
            period_start_ns: OCT1,
            period_end_ns: NOV1,
            known_account: true,
            opening_cash: vec![("cash:available".into(), d("10000"))],
            postings: vec![
                // Buy 10 XYZ @ 100 + 1 fee: hold, trade, fee.
                posting("A:3", 0, OCT1 + DAY, "HOLD", "cash:available", "USD", "0", "1001"),
                posting("A:3", 1, OCT1 + DAY, "HOLD", "cash:held", "USD", "1001", "0"),
                posting("A:4", 0, OCT1 + DAY + 1, "TRADE", "cash:held", "USD", "0", "1000"),
                posting("A:4", 1, OCT1 + DAY + 1, "TRADE", "venue:clearing", "USD", "1000", "0"),
                posting("A:4", 2, OCT1 + DAY + 1, "TRADE", "shares:XYZ:available", "XYZ", "10", "0"),
                posting("A:4", 3, OCT1 + DAY + 1, "TRADE", "venue:clearing:XYZ", "XYZ", "0", "10"),
                posting("A:5", 0, OCT1 + DAY + 1, "FEE", "cash:held", "USD", "0", "1"),
                posting("A:5", 1, OCT1 + DAY + 1, "FEE", "revenue:fees", "USD", "1", "0"),
                // Sell 4 XYZ @ 120, no fee: unsettled proceeds.
                posting("A:6", 0, OCT1 + 2 * DAY, "TRADE", "cash:unsettled", "USD", "480", "0"),
                posting("A:6", 1, OCT1 + 2 * DAY, "TRADE", "venue:clearing", "USD", "0", "480"),
                posting("A:6", 2, OCT1 + 2 * DAY, "TRADE", "shares:XYZ:available", "XYZ", "0", "4"),
                posting("A:6", 3, OCT1 + 2 * DAY, "TRADE", "venue:clearing:XYZ", "XYZ", "4", "0"),
                // Withdrawal of 500 completed.
                posting("A:7", 0, OCT1 + 3 * DAY, "WITHDRAWAL", "cash:available", "USD", "0", "500"),
                posting("A:7", 1, OCT1 + 3 * DAY, "WITHDRAWAL", "external:bank", "USD", "500", "0"),
            ],
            history: vec![
                exec("x1", "XYZ", "BUY", "10", "100", "1", OCT1 + DAY + 1),
                exec("x2", "XYZ", "SELL", "4", "120", "0", OCT1 + 2 * DAY),
            ],
            funding: vec![FundingRow {
                event_id: "A.f7".into(),
                funding_id: "w1".into(),
                direction: "WITHDRAWAL".into(),
                status: "COMPLETED".into(),
                amount: d("500"),
                reason: None,
                at_ns: OCT1 + 3 * DAY,
            }],
            method: LotMethod::Fifo,
        }
    }

    #[test]
    fn golden_statement() {
        let s = build_statement(golden_input());
        assert_eq!(s.opening_cash, d("10000"));
        assert_eq!(s.closing_cash, d("8979"));
        assert_eq!(s.net_cash_change, d("-1021"));
        assert_eq!(s.period_start, "2026-10-01T04:00:00Z");
        assert_eq!(s.time_zone, "America/New_York");
        let cash: Vec<_> = s.cash_accounts.iter().map(|c| (c.ledger_account.as_str(), c.opening, c.closing)).collect();
        assert_eq!(
            cash,
            vec![
                ("cash:available", d("10000"), d("8499")),
                ("cash:held", d("0"), d("0")),
                ("cash:unsettled", d("0"), d("480")),
            ]
        );
        let entries: Vec<_> = s.ledger_entries.iter().map(|e| (e.entry_id.as_str(), e.kind.as_str(), e.cash_change)).collect();
        assert_eq!(
            entries,
            vec![
                ("A:3", "HOLD", d("0")),
                ("A:4", "TRADE", d("-1000")),
                ("A:5", "FEE", d("-1")),
                ("A:6", "TRADE", d("480")),
                ("A:7", "WITHDRAWAL", d("-500")),
            ]
        );
        assert_eq!(s.ledger_entries[1].share_changes, BTreeMap::from([("XYZ".to_string(), d("10"))]));
        assert_eq!(s.ledger_entries.iter().map(|e| e.cash_change).sum::<Decimal>(), s.net_cash_change);
        assert_eq!(s.fills.len(), 2);
        assert_eq!(s.totals.bought_notional, d("1000"));
        assert_eq!(s.totals.sold_notional, d("480"));
        assert_eq!(s.totals.fees, d("1"));
        assert_eq!(s.totals.withdrawals, d("500"));
        assert_eq!(s.totals.deposits, d("0"));
        // 6 left of the lot bought at 100 with a 1 fee: 600 + 0.6 of the fee.
        assert_eq!(
            s.positions,
            vec![PositionLine { symbol: "XYZ".into(), qty: d("6"), cost_basis: d("600.6"), avg_cost: d("100.1"), open_lots: 1 }]
        );
        assert!(s.notes.is_empty(), "{:?}", s.notes);
    }

    #[test]
    fn fills_outside_the_month_count_for_positions_only() {
        let mut input = golden_input();
        input.history.insert(0, exec("x0", "ABC", "BUY", "5", "10", "0", OCT1 - 1));
        let s = build_statement(input);
        assert_eq!(s.fills.len(), 2);
        assert_eq!(s.positions.iter().map(|p| p.symbol.as_str()).collect::<Vec<_>>(), vec!["ABC", "XYZ"]);
    }

    #[test]
    fn unknown_account_is_an_empty_statement_with_a_note() {
        let month: Month = "2026-10".parse().unwrap();
        let s = build_statement(StatementInput {
            account: "nobody".into(),
            month,
            time_zone: TimeZoneRule::UsEastern,
            period_start_ns: OCT1,
            period_end_ns: NOV1,
            known_account: false,
            opening_cash: vec![],
            postings: vec![],
            history: vec![],
            funding: vec![],
            method: LotMethod::Fifo,
        });
        assert_eq!((s.opening_cash, s.closing_cash), (Decimal::ZERO, Decimal::ZERO));
        assert!(s.ledger_entries.is_empty() && s.fills.is_empty() && s.positions.is_empty());
        assert_eq!(s.notes, vec!["no events are recorded for account nobody: the statement is empty".to_string()]);
    }
}
