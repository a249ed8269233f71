//! Oracle property test: for random logs of fills (buys, sells, flips through zero,
//! duplicates) and lot instructions, after every input the operator's incremental state
//! equals `reference::recompute` over the whole log so far; at the end, quantities and cash
//! are conserved and the capital-gains report replays exactly the emitted gains.

use std::collections::BTreeMap;

use proptest::prelude::*;
use rust_decimal::Decimal;

use super::reference::{recompute, RefPosition};
use super::support::utc;
use crate::portfolio::*;
use crate::{Operator, Timestamp};

const SYMBOLS: [&str; 3] = ["AAA", "BBB", "CCC"];
const ACCOUNT: &str = "acc-1";

#[derive(Clone, Debug)]
enum Op {
    Fill {
        sym: usize,
        buy: bool,
        qty: Decimal,
        price: Decimal,
        fee: Decimal,
        gap_secs: i64,
    },
    Duplicate(usize),
    Instruct {
        picks: Vec<usize>,
        for_past_fill: bool,
    },
}

fn qty() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        (1..=10i64).prop_map(|m| Decimal::new(m * 10, 0)),
        (1..=3_000i64, 0..=2u32).prop_map(|(m, s)| Decimal::new(m, s)),
    ]
}

fn fee() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        Just(Decimal::ZERO),
        (1..=999i64, 0..=3u32).prop_map(|(m, s)| Decimal::new(m, s))
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let fill = (
        0..SYMBOLS.len(),
        any::<bool>(),
        qty(),
        1..=50_000i64,
        fee(),
        0..200 * 86_400i64,
    )
        .prop_map(|(sym, buy, qty, cents, fee, gap_secs)| Op::Fill {
            sym,
            buy,
            qty,
            price: Decimal::new(cents, 2),
            fee,
            gap_secs,
        });
    prop_oneof![
        8 => fill,
        1 => any::<usize>().prop_map(Op::Duplicate),
        2 => (prop::collection::vec(any::<usize>(), 0..4), prop::bool::weighted(0.2))
            .prop_map(|(picks, for_past_fill)| Op::Instruct { picks, for_past_fill }),
    ]
}

fn method() -> impl Strategy<Value = LotMethod> {
    prop_oneof![
        Just(LotMethod::Fifo),
        Just(LotMethod::Lifo),
        Just(LotMethod::SpecificLot)
    ]
}

/// Turns generated ops into an input log (fill ids `f0`, `f1`, ...).
fn build_log(ops: &[Op]) -> Vec<PortfolioInput> {
    let mut fills: Vec<Fill> = Vec::new();
    let mut log = Vec::new();
    let mut t = utc(2020, 1, 2, 15, 0).nanos();
    for op in ops {
        match op {
            Op::Fill {
                sym,
                buy,
                qty,
                price,
                fee,
                gap_secs,
            } => {
                t += gap_secs * 1_000_000_000;
                let f = Fill {
                    account: ACCOUNT.into(),
                    symbol: SYMBOLS[*sym].into(),
                    side: if *buy { Side::Buy } else { Side::Sell },
                    qty: *qty,
                    price: *price,
                    fee: *fee,
                    fill_id: format!("f{}", fills.len()),
                    executed_at: Timestamp(t),
                };
                fills.push(f.clone());
                log.push(PortfolioInput::Fill(f));
            }
            Op::Duplicate(i) if !fills.is_empty() => {
                log.push(PortfolioInput::Fill(fills[i % fills.len()].clone()));
            }
            Op::Instruct {
                picks,
                for_past_fill,
            } => {
                let fill_id = match fills.last() {
                    Some(last) if *for_past_fill => last.fill_id.clone(),
                    _ => format!("f{}", fills.len()),
                };
                let lots = if fills.is_empty() {
                    Vec::new()
                } else {
                    picks
                        .iter()
                        .map(|p| LotId(fills[p % fills.len()].fill_id.clone()))
                        .collect()
                };
                log.push(PortfolioInput::LotInstruction(LotInstruction {
                    fill_id,
                    lots,
                }));
            }
            Op::Duplicate(_) => {}
        }
    }
    log
}

fn as_reference(state: &AccountState) -> BTreeMap<String, RefPosition> {
    state
        .positions
        .iter()
        .map(|(symbol, p)| {
            let lots = p
                .lots
                .iter()
                .map(|l| (l.id.0.clone(), l.signed_qty(), l.price, l.fee, l.opened_at))
                .collect();
            (
                symbol.clone(),
                RefPosition {
                    lots,
                    realized: p.realized_pnl,
                },
            )
        })
        .collect()
}

/// First occurrence of every fill id, in log order.
fn distinct_fills(log: &[PortfolioInput]) -> Vec<&Fill> {
    let mut seen = std::collections::BTreeSet::new();
    log.iter()
        .filter_map(|i| match i {
            PortfolioInput::Fill(f) if seen.insert(f.fill_id.clone()) => Some(f),
            _ => None,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn incremental_state_matches_recomputation(
        ops in prop::collection::vec(op(), 1..60),
        method in method(),
        mark_cents in prop::collection::vec(1..=60_000i64, SYMBOLS.len()),
    ) {
        let log = build_log(&ops);
        let config = PortfolioConfig { default_method: method, time_zone: TimeZoneRule::UsEastern };
        let op = PortfolioOperator::new(config);
        let key = ACCOUNT.to_string();
        let mut state: Option<AccountState> = None;
        let (mut gains, mut accepted, mut rejected) = (Vec::new(), Vec::new(), 0usize);
        let mut last_snapshot: BTreeMap<String, PositionSnapshot> = BTreeMap::new();
        let mut last_portfolio: Option<PortfolioSnapshot> = None;

        for (k, input) in log.iter().enumerate() {
            let mut out = Vec::new();
            op.process(&key, &mut state, input.clone(), Timestamp(k as i64), &mut out);
            if let (PortfolioInput::LotInstruction(ins), true) = (input, out.is_empty()) {
                accepted.push(ins.clone());
            }
            for o in out {
                match o {
                    PortfolioOutput::RealizedGain(g) => gains.push(g),
                    PortfolioOutput::PositionSnapshot(s) => { last_snapshot.insert(s.symbol.clone(), s); }
                    PortfolioOutput::InstructionRejected { .. } => rejected += 1,
                    PortfolioOutput::FillRejected { error, .. } => prop_assert!(false, "rejected: {error}"),
                    PortfolioOutput::PortfolioSnapshot(s) => last_portfolio = Some(s),
                }
            }
            let reference = recompute(method, &log[..=k]);
            let actual = state.as_ref().map(as_reference).unwrap_or_default();
            prop_assert_eq!(&actual, &reference.positions, "after input {}", k);
            prop_assert_eq!(rejected, reference.rejected_instructions);
            // A fresh account (no state yet) has closed nothing: a known zero.
            let closed = state.as_ref().map_or(Some(Decimal::ZERO), |s| s.closed_cost_basis);
            prop_assert_eq!(closed, Some(reference.closed_cost), "closed cost after input {}", k);
            if let Some(p) = &last_portfolio {
                prop_assert_eq!(p.closed_cost_basis, Some(reference.closed_cost), "snapshot after input {}", k);
            }
        }

        let Some(state) = state else { return Ok(()) };
        let fills = distinct_fills(&log);

        // Structure and quantity conservation.
        for (symbol, p) in &state.positions {
            let net: Decimal = fills.iter().filter(|f| &f.symbol == symbol)
                .map(|f| if f.side == Side::Buy { f.qty } else { -f.qty }).sum();
            prop_assert_eq!(p.qty(), net);
            prop_assert!(p.lots.iter().all(|l| l.side == p.lots[0].side));
            prop_assert!(p.lots.iter().all(|l| l.qty > Decimal::ZERO && l.qty <= l.original_qty));
            prop_assert!(p.lots.iter().all(|l| !l.fee.is_sign_negative() || l.fee.is_zero()));
            prop_assert_eq!(&last_snapshot[symbol], &PositionSnapshot::of(ACCOUNT, p, last_snapshot[symbol].as_of));
            let emitted: Decimal = gains.iter().filter(|g| &g.symbol == symbol).map(|g| g.gain).sum();
            prop_assert_eq!(emitted, p.realized_pnl);
        }
        // The closed total is what the emitted disposals closed.
        let disposed: Decimal = gains.iter().flat_map(|g| &g.disposals).map(LotDisposal::closed_cost).sum();
        prop_assert_eq!(state.closed_cost_basis, Some(disposed));
        for g in &gains {
            prop_assert_eq!(g.gain, g.proceeds - g.cost_basis);
            prop_assert_eq!(g.gain, g.short_term_gain + g.long_term_gain);
        }

        // realized + unrealized = proceeds - total cost + market value, at any marks.
        let marks: BTreeMap<String, Mark> = SYMBOLS.iter().zip(&mark_cents)
            .map(|(s, c)| (s.to_string(), Mark { last: Decimal::new(*c, 2), previous_close: Decimal::ONE }))
            .collect();
        let v = value_positions(state.positions.values(), &marks, Timestamp(0));
        let cash_flow: Decimal = fills.iter().map(|f| match f.side {
            Side::Sell => f.qty * f.price - f.fee,
            Side::Buy => -(f.qty * f.price + f.fee),
        }).sum();
        prop_assert_eq!(v.realized_pnl + v.unrealized_pnl, cash_flow + v.market_value);

        // The report replays exactly the gains the operator emitted.
        let tz = TimeZoneRule::UsEastern;
        let all_fills: Vec<Fill> = log.iter().filter_map(|i| match i {
            PortfolioInput::Fill(f) => Some(f.clone()),
            _ => None,
        }).collect();
        let years = all_fills.iter().map(|f| tz.trade_date(f.executed_at).year);
        let (first, last) = (years.clone().min().unwrap(), years.max().unwrap());
        let mut replayed = Vec::new();
        for year in first..=last {
            let r = capital_gains_report(ACCOUNT, &all_fills, &accepted, method, year, tz);
            prop_assert!(r.rejected.is_empty());
            prop_assert_eq!(r.total.gain, r.short_term.gain + r.long_term.gain);
            replayed.extend(r.sales);
        }
        prop_assert_eq!(replayed, gains);
    }
}
