//! The operator's contract: outputs per input, idempotence, refusals, instructions.

use rust_decimal::Decimal;

use super::support::{at, dec, fill, with_fee};
use crate::portfolio::*;
use crate::{Operator, Timestamp};

struct Harness {
    op: PortfolioOperator,
    key: String,
    state: Option<AccountState>,
}

impl Harness {
    fn new() -> Self {
        Harness {
            op: PortfolioOperator::default(),
            key: "acc-1".into(),
            state: None,
        }
    }

    fn send(&mut self, input: PortfolioInput, time: Timestamp) -> Vec<PortfolioOutput> {
        let mut out = Vec::new();
        self.op
            .process(&self.key, &mut self.state, input, time, &mut out);
        out
    }

    fn fill(&mut self, f: Fill) -> Vec<PortfolioOutput> {
        let t = f.executed_at;
        self.send(PortfolioInput::Fill(f), t)
    }
}

fn kinds(out: &[PortfolioOutput]) -> Vec<&'static str> {
    out.iter()
        .map(|o| match o {
            PortfolioOutput::PositionSnapshot(_) => "position",
            PortfolioOutput::RealizedGain(_) => "gain",
            PortfolioOutput::PortfolioSnapshot(_) => "portfolio",
            PortfolioOutput::FillRejected { .. } => "fill-rejected",
            PortfolioOutput::InstructionRejected { .. } => "instruction-rejected",
        })
        .collect()
}

#[test]
fn outputs_per_fill_in_order() {
    let mut h = Harness::new();
    let out = h.fill(with_fee(
        fill("b1", "AAPL", Side::Buy, "10", "100", at(2024, 5, 1)),
        "1",
    ));
    assert_eq!(kinds(&out), vec!["position", "portfolio"]);
    let PortfolioOutput::PositionSnapshot(p) = &out[0] else {
        panic!()
    };
    assert_eq!(
        (p.qty, p.cost_basis, p.avg_cost),
        (dec("10"), dec("1001"), Some(dec("100.1")))
    );
    assert_eq!(p.lots.len(), 1);
    let out = h.fill(fill("s1", "AAPL", Side::Sell, "10", "110", at(2024, 5, 2)));
    assert_eq!(kinds(&out), vec!["gain", "position", "portfolio"]);
    let PortfolioOutput::RealizedGain(g) = &out[0] else {
        panic!()
    };
    assert_eq!(
        (g.gain, g.short_term_gain, g.long_term_gain),
        (dec("99"), dec("99"), Decimal::ZERO)
    );
    let PortfolioOutput::PositionSnapshot(p) = &out[1] else {
        panic!()
    };
    assert_eq!(
        (p.qty, p.realized_pnl, p.avg_cost),
        (Decimal::ZERO, dec("99"), None)
    );
    let PortfolioOutput::PortfolioSnapshot(s) = &out[2] else {
        panic!()
    };
    assert_eq!((s.open_positions, s.realized_pnl), (0, dec("99")));
    assert!(s.holdings.is_some(), "nothing open, so nothing is unpriced");
}

#[test]
fn duplicate_fill_is_a_no_op() {
    let mut h = Harness::new();
    let f = fill("b1", "AAPL", Side::Buy, "10", "100", at(2024, 5, 1));
    h.fill(f.clone());
    let before = h.state.clone();
    assert!(h.fill(f.clone()).is_empty());
    // Same id with different content is still a duplicate (ids are authoritative).
    let mut changed = f;
    changed.qty = dec("99");
    assert!(h.fill(changed).is_empty());
    assert_eq!(h.state, before);
}

#[test]
fn malformed_fill_is_rejected_and_leaves_no_state() {
    let mut h = Harness::new();
    let bad = fill("b1", "AAPL", Side::Buy, "0", "100", at(2024, 5, 1));
    let out = h.fill(bad);
    assert_eq!(
        out,
        vec![PortfolioOutput::FillRejected {
            account: "acc-1".into(),
            fill_id: "b1".into(),
            error: PortfolioError::NonPositiveQuantity(Decimal::ZERO),
        }]
    );
    assert_eq!(h.state, None);
    let mut other = fill("b2", "AAPL", Side::Buy, "1", "100", at(2024, 5, 1));
    other.account = "acc-2".into();
    let out = h.fill(other);
    let PortfolioOutput::FillRejected { error, .. } = &out[0] else {
        panic!()
    };
    assert_eq!(
        *error,
        PortfolioError::AccountMismatch {
            expected: "acc-1".into(),
            got: "acc-2".into()
        }
    );
    let too_fine = fill(
        "b3",
        "AAPL",
        Side::Buy,
        "0.0000000001",
        "100",
        at(2024, 5, 1),
    );
    let PortfolioOutput::FillRejected { error, .. } = &h.fill(too_fine)[0] else {
        panic!()
    };
    assert_eq!(
        *error,
        PortfolioError::TooManyDecimals {
            field: "qty",
            value: dec("0.0000000001")
        }
    );
    // A refused fill id can be applied once corrected.
    assert_eq!(
        kinds(&h.fill(fill("b1", "AAPL", Side::Buy, "1", "100", at(2024, 5, 1)))).len(),
        2
    );
}

#[test]
fn specific_lot_instruction_flow() {
    let mut h = Harness::new();
    let t = at(2024, 5, 1);
    assert_eq!(
        kinds(&h.send(PortfolioInput::SetLotMethod(LotMethod::SpecificLot), t)),
        vec!["portfolio"]
    );
    h.fill(fill("b1", "AAPL", Side::Buy, "10", "100", t));
    h.fill(fill("b2", "AAPL", Side::Buy, "10", "120", t));
    h.fill(fill("b3", "AAPL", Side::Buy, "10", "90", t));
    let instruct = |lots: &[&str]| {
        PortfolioInput::LotInstruction(LotInstruction {
            fill_id: "s1".into(),
            lots: lots.iter().map(|l| LotId(l.to_string())).collect(),
        })
    };
    let out = h.send(instruct(&["b9"]), t);
    let PortfolioOutput::InstructionRejected { error, .. } = &out[0] else {
        panic!()
    };
    assert_eq!(*error, PortfolioError::UnknownLot(LotId("b9".into())));
    let PortfolioOutput::InstructionRejected { error, .. } = &h.send(instruct(&[]), t)[0] else {
        panic!()
    };
    assert_eq!(*error, PortfolioError::EmptyInstruction);
    assert!(h.send(instruct(&["b2", "b3"]), t).is_empty());
    let out = h.fill(fill("s1", "AAPL", Side::Sell, "15", "110", at(2024, 5, 2)));
    let PortfolioOutput::RealizedGain(g) = &out[0] else {
        panic!()
    };
    let closed: Vec<_> = g
        .disposals
        .iter()
        .map(|d| (d.lot_id.0.clone(), d.qty, d.gain))
        .collect();
    assert_eq!(
        closed,
        vec![
            ("b2".into(), dec("10"), dec("-100")),
            ("b3".into(), dec("5"), dec("100"))
        ]
    );
    assert!(h.state.as_ref().unwrap().pending_instructions.is_empty());
    let PortfolioOutput::InstructionRejected { error, .. } = &h.send(instruct(&["b1"]), t)[0]
    else {
        panic!()
    };
    assert_eq!(*error, PortfolioError::FillAlreadyProcessed("s1".into()));
}

#[test]
fn snapshot_is_valued_once_every_open_position_has_a_mark() {
    let mut h = Harness::new();
    let mark = |symbol: &str, last: &str| PortfolioInput::Mark {
        symbol: symbol.into(),
        mark: Mark {
            last: dec(last),
            previous_close: dec("100"),
        },
    };
    assert!(h.send(mark("AAPL", "105"), at(2024, 5, 1)).is_empty());
    let out = h.fill(fill("b1", "AAPL", Side::Buy, "10", "100", at(2024, 5, 1)));
    let PortfolioOutput::PortfolioSnapshot(s) = &out[1] else {
        panic!()
    };
    let holdings = s.holdings.as_ref().unwrap();
    assert_eq!(
        (holdings.market_value, holdings.unrealized_pnl),
        (dec("1050"), dec("50"))
    );
    let out = h.fill(fill("b2", "MSFT", Side::Buy, "1", "10", at(2024, 5, 1)));
    let PortfolioOutput::PortfolioSnapshot(s) = &out[1] else {
        panic!()
    };
    assert_eq!(s.holdings, None);
    assert_eq!(s.cost_basis, dec("1010"));
    h.send(mark("MSFT", "11"), at(2024, 5, 2));
    // Next day: AAPL's lot is no longer "today", so day P&L is against the previous close.
    let out = h.send(
        PortfolioInput::SetLotMethod(LotMethod::Lifo),
        at(2024, 5, 2),
    );
    let PortfolioOutput::PortfolioSnapshot(s) = &out[0] else {
        panic!()
    };
    let holdings = s.holdings.as_ref().unwrap();
    assert_eq!(holdings.day_pnl, dec("50") + dec("-89"));
    assert_eq!(s.method, LotMethod::Lifo);
}

#[test]
fn short_position_round_trip() {
    let mut h = Harness::new();
    let out = h.fill(fill("s1", "TSLA", Side::Sell, "5", "200", at(2024, 5, 1)));
    let PortfolioOutput::PositionSnapshot(p) = &out[0] else {
        panic!()
    };
    assert_eq!(
        (p.qty, p.cost_basis, p.avg_cost),
        (dec("-5"), dec("-1000"), Some(dec("200")))
    );
    assert_eq!(p.lots[0].side, LotSide::Short);
    let out = h.fill(fill("b1", "TSLA", Side::Buy, "8", "150", at(2026, 5, 1)));
    let PortfolioOutput::RealizedGain(g) = &out[0] else {
        panic!()
    };
    assert_eq!(
        (g.qty, g.gain, g.long_term_gain),
        (dec("5"), dec("250"), Decimal::ZERO)
    );
    let PortfolioOutput::PositionSnapshot(p) = &out[1] else {
        panic!()
    };
    assert_eq!(
        (p.qty, p.lots[0].side, p.lots[0].id.0.as_str()),
        (dec("3"), LotSide::Long, "b1")
    );
}

#[test]
fn replay_is_deterministic() {
    let inputs = || {
        vec![
            fill("b1", "AAPL", Side::Buy, "3", "10", at(2024, 1, 2)),
            fill("b2", "AAPL", Side::Buy, "7", "11", at(2024, 1, 3)),
            with_fee(
                fill("s1", "AAPL", Side::Sell, "9", "12", at(2024, 1, 4)),
                "0.07",
            ),
        ]
    };
    let run = || {
        let mut h = Harness::new();
        let out: Vec<_> = inputs().into_iter().flat_map(|f| h.fill(f)).collect();
        (out, h.state)
    };
    assert_eq!(run(), run());
}

fn portfolio(out: &[PortfolioOutput]) -> &PortfolioSnapshot {
    out.iter()
        .find_map(|o| match o {
            PortfolioOutput::PortfolioSnapshot(s) => Some(s),
            _ => None,
        })
        .expect("a portfolio snapshot")
}

#[test]
fn closed_cost_basis_accumulates_long_sales_and_short_covers() {
    let mut h = Harness::new();
    let t = at(2024, 5, 1);
    // Buy 10 @ 100, fee 5: lot basis 1005. Nothing closed yet.
    let out = h.fill(with_fee(fill("b1", "AAPL", Side::Buy, "10", "100", t), "5"));
    assert_eq!(portfolio(&out).closed_cost_basis, Some(Decimal::ZERO));
    // Sell 4 @ 110: closes 4 x 100 + 5 x 4/10 = 402 (the disposal's cost basis).
    let out = h.fill(fill("s1", "AAPL", Side::Sell, "4", "110", t));
    assert_eq!(portfolio(&out).closed_cost_basis, Some(dec("402")));
    // Sell 8 @ 120, fee 2: closes the remaining 6 (6 x 100 + 3 = 603) and opens a short
    // lot of 2 with the fee share 2 x 2/8 = 0.5: short basis -(2 x 120 - 0.5) = -239.5.
    let out = h.fill(with_fee(fill("s2", "AAPL", Side::Sell, "8", "120", t), "2"));
    assert_eq!(portfolio(&out).closed_cost_basis, Some(dec("1005")));
    assert_eq!(portfolio(&out).cost_basis, dec("-239.5"));
    // Cover 1 @ 90: closes half the short lot, what it was sold short for: 1 x 120 -
    // 0.25 = 119.75 (not the covering buy's 90).
    let out = h.fill(fill("b2", "AAPL", Side::Buy, "1", "90", t));
    assert_eq!(portfolio(&out).closed_cost_basis, Some(dec("1124.75")));
    assert_eq!(portfolio(&out).cost_basis, dec("-119.75"));
    // A duplicate changes nothing.
    assert!(h
        .fill(fill("b2", "AAPL", Side::Buy, "1", "90", t))
        .is_empty());
    assert_eq!(
        h.state.as_ref().unwrap().closed_cost_basis,
        Some(dec("1124.75"))
    );
}

#[test]
fn unknown_closed_cost_basis_stays_unknown() {
    let mut h = Harness::new();
    let t = at(2024, 5, 1);
    h.fill(fill("b1", "AAPL", Side::Buy, "10", "100", t));
    assert!(h.state.as_ref().unwrap().never_closed());
    // As restored from a record that predates the field.
    h.state.as_mut().unwrap().closed_cost_basis = None;
    let out = h.fill(fill("s1", "AAPL", Side::Sell, "4", "110", t));
    assert_eq!(portfolio(&out).closed_cost_basis, None);
    assert_eq!(portfolio(&out).realized_pnl, dec("40"));
    assert!(!h.state.as_ref().unwrap().never_closed());
}

#[test]
fn never_closed_sees_flips_and_full_closes() {
    let t = at(2024, 5, 1);
    let tz = TimeZoneRule::Utc;
    let mut a = AccountState::new("acc-1", LotMethod::Fifo);
    assert!(a.never_closed());
    a.apply_fill(&fill("b1", "AAPL", Side::Buy, "10", "100", t), tz)
        .unwrap();
    a.apply_fill(&fill("s1", "MSFT", Side::Sell, "3", "50", t), tz)
        .unwrap();
    assert!(a.never_closed(), "opening fills only, long and short");
    // A flip: s2 opens its own full lot, but the lot b1 it closed is gone.
    let mut flip = a.clone();
    flip.apply_fill(&fill("s2", "AAPL", Side::Sell, "12", "100", t), tz)
        .unwrap();
    assert!(!flip.never_closed());
    // A full close without a new lot.
    a.apply_fill(&fill("b2", "MSFT", Side::Buy, "3", "40", t), tz)
        .unwrap();
    assert!(!a.never_closed());
}
