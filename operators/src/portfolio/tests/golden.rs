//! Golden tests from the seed's worked examples.
//!
//! Capital gains (seed, "Tax Calculation & Reporting"): buy 100 AAPL @ $150 (Jan 1) and
//! 50 AAPL @ $160 (Feb 1), sell 120 AAPL @ $170 (Mar 1). FIFO: cost $18,200, gain $2,200;
//! LIFO: cost $18,500, gain $1,900. Sale value $20,400 either way.
//!
//! Portfolio P&L (seed, "Get Portfolio Response"): AAPL 100 @ avg 150.00 at 178.50 is worth
//! 17,850.00 with unrealized 2,850.00 (19.00 %) and day change 350.00 (2.00 %); GOOGL 50 @
//! 140.00 at 142.50 is worth 7,125.00, unrealized 125.00 (1.79 %), day change -75.00
//! (-1.04 %). The seed gives no previous closes; 175.00 and 144.00 are the ones its day
//! changes imply.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::support::{at, dec, fill, with_fee};
use crate::portfolio::*;
use crate::Timestamp;

fn seed_fills() -> Vec<Fill> {
    vec![
        fill("b-jan", "AAPL", Side::Buy, "100", "150", at(2024, 1, 1)),
        fill("b-feb", "AAPL", Side::Buy, "50", "160", at(2024, 2, 1)),
        fill("s-mar", "AAPL", Side::Sell, "120", "170", at(2024, 3, 1)),
    ]
}

fn report(method: LotMethod, instructions: &[LotInstruction]) -> CapitalGainsReport {
    let tz = TimeZoneRule::UsEastern;
    capital_gains_report("acc-1", &seed_fills(), instructions, method, 2024, tz)
}

fn line(
    lot: &str,
    qty: &str,
    proceeds: &str,
    cost: &str,
    gain: &str,
) -> (String, Decimal, Decimal, Decimal, Decimal) {
    (lot.into(), dec(qty), dec(proceeds), dec(cost), dec(gain))
}

fn lines(r: &CapitalGainsReport) -> Vec<(String, Decimal, Decimal, Decimal, Decimal)> {
    r.lines()
        .into_iter()
        .map(|l| (l.lot_id.0, l.qty, l.proceeds, l.cost_basis, l.gain))
        .collect()
}

fn totals(proceeds: &str, cost: &str, gain: &str) -> TermTotals {
    TermTotals {
        proceeds: dec(proceeds),
        cost_basis: dec(cost),
        gain: dec(gain),
    }
}

#[test]
fn seed_fifo_capital_gains() {
    let r = report(LotMethod::Fifo, &[]);
    assert_eq!(
        lines(&r),
        vec![
            line("b-jan", "100", "17000", "15000", "2000"),
            line("b-feb", "20", "3400", "3200", "200"),
        ]
    );
    assert_eq!(r.total, totals("20400", "18200", "2200"));
    assert_eq!(r.short_term, totals("20400", "18200", "2200"));
    assert_eq!(r.long_term, TermTotals::default());
    assert_eq!(r.sales.len(), 1);
    assert_eq!(r.sales[0].gain, dec("2200"));
    assert!(r.rejected.is_empty());
}

#[test]
fn seed_lifo_capital_gains() {
    let r = report(LotMethod::Lifo, &[]);
    assert_eq!(
        lines(&r),
        vec![
            line("b-feb", "50", "8500", "8000", "500"),
            line("b-jan", "70", "11900", "10500", "1400"),
        ]
    );
    assert_eq!(r.total, totals("20400", "18500", "1900"));
    assert_eq!(r.short_term.gain, dec("1900"));
    assert_eq!(r.long_term.gain, Decimal::ZERO);
}

#[test]
fn seed_specific_lot_matches_lifo_when_lots_named_newest_first() {
    let instruction = LotInstruction {
        fill_id: "s-mar".into(),
        lots: vec![LotId("b-feb".into()), LotId("b-jan".into())],
    };
    let r = report(LotMethod::SpecificLot, &[instruction]);
    assert_eq!(r.total, totals("20400", "18500", "1900"));
    // Without an instruction, SpecificLot falls back to FIFO.
    assert_eq!(report(LotMethod::SpecificLot, &[]).total.gain, dec("2200"));
}

#[test]
fn seed_remaining_position_after_sale() {
    let tz = TimeZoneRule::UsEastern;
    for (method, lot, basis) in [
        (LotMethod::Fifo, "b-feb", "4800"),
        (LotMethod::Lifo, "b-jan", "4500"),
    ] {
        let mut state = AccountState::new("acc-1", method);
        for f in seed_fills() {
            state.apply_fill(&f, tz).unwrap();
        }
        let p = &state.positions["AAPL"];
        assert_eq!(p.qty(), dec("30"));
        assert_eq!(p.lots.len(), 1);
        assert_eq!(p.lots[0].id, LotId(lot.into()));
        assert_eq!(p.cost_basis(), dec(basis));
        assert_eq!(
            p.realized_pnl,
            if method == LotMethod::Fifo {
                dec("2200")
            } else {
                dec("1900")
            }
        );
    }
}

#[test]
fn long_term_split_and_year_filter() {
    let fills = vec![
        fill("b1", "MSFT", Side::Buy, "10", "100", at(2023, 3, 1)),
        fill("b2", "MSFT", Side::Buy, "10", "200", at(2023, 6, 1)),
        // Exactly one year after b1: still short-term.
        fill("s1", "MSFT", Side::Sell, "5", "300", at(2024, 3, 1)),
        // One year and one day after b1: long-term for b1, short-term for b2.
        with_fee(
            fill("s2", "MSFT", Side::Sell, "10", "300", at(2024, 3, 2)),
            "10",
        ),
        fill("s0", "MSFT", Side::Sell, "1", "250", at(2025, 1, 2)),
    ];
    let r = capital_gains_report(
        "acc-1",
        &fills,
        &[],
        LotMethod::Fifo,
        2024,
        TimeZoneRule::UsEastern,
    );
    let rows: Vec<_> = r
        .lines()
        .into_iter()
        .map(|l| (l.sale_fill_id, l.lot_id.0, l.qty, l.term, l.gain))
        .collect();
    assert_eq!(
        rows,
        vec![
            (
                "s1".into(),
                "b1".into(),
                dec("5"),
                Term::ShortTerm,
                dec("1000")
            ),
            (
                "s2".into(),
                "b1".into(),
                dec("5"),
                Term::LongTerm,
                dec("995")
            ),
            (
                "s2".into(),
                "b2".into(),
                dec("5"),
                Term::ShortTerm,
                dec("495")
            ),
        ]
    );
    assert_eq!(r.long_term, totals("1495", "500", "995"));
    assert_eq!(r.short_term, totals("2995", "1500", "1495"));
    assert_eq!(r.total.gain, dec("2490"));
    assert_eq!(r.lines()[1].holding_days, 367);
}

#[test]
fn seed_portfolio_valuation() {
    let tz = TimeZoneRule::UsEastern;
    let mut state = AccountState::new("acc-1", LotMethod::Fifo);
    state
        .apply_fill(
            &fill("b1", "AAPL", Side::Buy, "100", "150.00", at(2025, 1, 6)),
            tz,
        )
        .unwrap();
    state
        .apply_fill(
            &fill("b2", "GOOGL", Side::Buy, "50", "140.00", at(2025, 1, 6)),
            tz,
        )
        .unwrap();
    let marks = BTreeMap::from([
        (
            "AAPL".to_string(),
            Mark {
                last: dec("178.50"),
                previous_close: dec("175.00"),
            },
        ),
        (
            "GOOGL".to_string(),
            Mark {
                last: dec("142.50"),
                previous_close: dec("144.00"),
            },
        ),
    ]);
    let day_start = tz.day_start(TradeDate::new(2025, 1, 10).unwrap());
    let v = value_portfolio(state.positions.values(), &marks, dec("5430.50"), day_start);
    let pct2 = |p: Option<Decimal>| p.map(|p| p.round_dp(2));
    let aapl = &v.holdings.positions[0];
    assert_eq!(aapl.symbol, "AAPL");
    assert_eq!(aapl.avg_cost, Some(dec("150.00")));
    assert_eq!(aapl.market_value, dec("17850.00"));
    assert_eq!(aapl.cost_basis, dec("15000.00"));
    assert_eq!(aapl.unrealized_pnl, dec("2850.00"));
    assert_eq!(pct2(aapl.unrealized_pnl_pct), Some(dec("19.00")));
    assert_eq!(aapl.day_pnl, dec("350.00"));
    assert_eq!(pct2(aapl.day_pnl_pct), Some(dec("2.00")));
    let googl = &v.holdings.positions[1];
    assert_eq!(googl.market_value, dec("7125.00"));
    assert_eq!(googl.unrealized_pnl, dec("125.00"));
    assert_eq!(pct2(googl.unrealized_pnl_pct), Some(dec("1.79")));
    assert_eq!(googl.day_pnl, dec("-75.00"));
    assert_eq!(pct2(googl.day_pnl_pct), Some(dec("-1.04")));
    assert_eq!(v.holdings.market_value, dec("24975.00"));
    assert_eq!(v.holdings.unrealized_pnl, dec("2975.00"));
    assert_eq!(v.holdings.day_pnl, dec("275.00"));
    assert_eq!(v.total_value, dec("30405.50"));
    assert_eq!(v.total_return, dec("2975.00"));
}

#[test]
fn day_pnl_of_lots_opened_today_is_against_cost() {
    let tz = TimeZoneRule::UsEastern;
    let mut state = AccountState::new("acc-1", LotMethod::Fifo);
    state
        .apply_fill(
            &fill("old", "XYZ", Side::Buy, "10", "80", at(2025, 1, 9)),
            tz,
        )
        .unwrap();
    let today = with_fee(
        fill("new", "XYZ", Side::Buy, "10", "100", at(2025, 1, 10)),
        "1",
    );
    state.apply_fill(&today, tz).unwrap();
    let marks = BTreeMap::from([(
        "XYZ".to_string(),
        Mark {
            last: dec("105"),
            previous_close: dec("90"),
        },
    )]);
    let day_start = tz.day_start(TradeDate::new(2025, 1, 10).unwrap());
    let v = value_positions(state.positions.values(), &marks, day_start);
    // old lot: 10 * (105 - 90) = 150; new lot: 1050 - 1001 = 49.
    assert_eq!(v.day_pnl, dec("199"));
    assert_eq!(v.positions[0].day_base, dec("1901"));
    assert_eq!(v.unrealized_pnl, dec("2100") - dec("1801"));
    // A position without a mark is listed, not valued.
    let v = value_positions(state.positions.values(), &BTreeMap::new(), Timestamp(0));
    assert_eq!(v.unpriced, vec!["XYZ".to_string()]);
    assert_eq!(v.market_value, Decimal::ZERO);
    assert_eq!(v.day_pnl_pct, None);
}
