//! A deliberately simple reference model: recomputes every position from scratch over the
//! full input log. Signed quantities in a plain `Vec`, linear scans for duplicates and lot
//! lookup, no shared code with the operator beyond the input types. It implements the
//! documented contract (lot matching order, fee split rounded to `ALLOCATION_SCALE`
//! places with the last piece taking the remainder, short lots on a flip).

use std::collections::BTreeMap;

use rust_decimal::{Decimal, RoundingStrategy};

use crate::portfolio::{LotMethod, PortfolioInput, Side, ALLOCATION_SCALE};
use crate::Timestamp;

/// (lot id, signed qty, price, unallocated fee, opened at)
pub type RefLot = (String, Decimal, Decimal, Decimal, Timestamp);

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RefPosition {
    pub lots: Vec<RefLot>,
    pub realized: Decimal,
}

#[derive(Debug, Default)]
pub struct RefOutcome {
    pub positions: BTreeMap<String, RefPosition>,
    pub rejected_instructions: usize,
    /// Sum over every closed piece of a lot of `|piece qty x lot price +/- the piece's
    /// share of the lot's opening fee|` (+ for a long lot: cost incl. buy fee; - for a
    /// short lot: short-sale proceeds net of the sell fee).
    pub closed_cost: Decimal,
}

fn share(amount: Decimal, of: Decimal, take: Decimal) -> Decimal {
    if take == of {
        amount
    } else {
        (amount * take / of)
            .round_dp_with_strategy(ALLOCATION_SCALE, RoundingStrategy::MidpointNearestEven)
    }
}

fn sign(d: Decimal) -> Decimal {
    if d.is_sign_negative() {
        Decimal::NEGATIVE_ONE
    } else {
        Decimal::ONE
    }
}

pub fn recompute(method: LotMethod, log: &[PortfolioInput]) -> RefOutcome {
    let mut out = RefOutcome::default();
    let mut seen: Vec<String> = Vec::new();
    let mut pending: Vec<(String, Vec<String>)> = Vec::new();
    for input in log {
        match input {
            PortfolioInput::Fill(f) => {
                if seen.contains(&f.fill_id) {
                    continue;
                }
                seen.push(f.fill_id.clone());
                let picks = match pending.iter().position(|(id, _)| *id == f.fill_id) {
                    Some(i) => pending.remove(i).1,
                    None => Vec::new(),
                };
                let dir = if f.side == Side::Buy {
                    Decimal::ONE
                } else {
                    Decimal::NEGATIVE_ONE
                };
                let pos = out.positions.entry(f.symbol.clone()).or_default();
                let (mut left, mut fee_left, mut cursor) = (f.qty, f.fee, 0);
                while left > Decimal::ZERO && !pos.lots.is_empty() && sign(pos.lots[0].1) != dir {
                    let mut i = None;
                    if method == LotMethod::SpecificLot {
                        while i.is_none() && cursor < picks.len() {
                            i = pos.lots.iter().position(|l| l.0 == picks[cursor]);
                            cursor += 1;
                        }
                    }
                    let i = i.unwrap_or(if method == LotMethod::Lifo {
                        pos.lots.len() - 1
                    } else {
                        0
                    });
                    let lot = &mut pos.lots[i];
                    let size = lot.1.abs();
                    let take = left.min(size);
                    let fill_fee = share(fee_left, left, take);
                    let lot_fee = share(lot.3, size, take);
                    let gain = if lot.1 > Decimal::ZERO {
                        (take * f.price - fill_fee) - (take * lot.2 + lot_fee)
                    } else {
                        (take * lot.2 - lot_fee) - (take * f.price + fill_fee)
                    };
                    pos.realized += gain;
                    out.closed_cost += if lot.1 > Decimal::ZERO {
                        take * lot.2 + lot_fee
                    } else {
                        (take * lot.2 - lot_fee).abs()
                    };
                    lot.1 -= take * sign(lot.1);
                    lot.3 -= lot_fee;
                    if lot.1.is_zero() {
                        pos.lots.remove(i);
                    }
                    left -= take;
                    fee_left -= fill_fee;
                }
                if left > Decimal::ZERO {
                    pos.lots.push((
                        f.fill_id.clone(),
                        dir * left,
                        f.price,
                        fee_left,
                        f.executed_at,
                    ));
                }
            }
            PortfolioInput::LotInstruction(ins) => {
                let lots: Vec<String> = ins.lots.iter().map(|l| l.0.clone()).collect();
                let open = |id: &String| {
                    out.positions
                        .values()
                        .any(|p| p.lots.iter().any(|l| &l.0 == id))
                };
                if lots.is_empty() || seen.contains(&ins.fill_id) || !lots.iter().all(open) {
                    out.rejected_instructions += 1;
                } else {
                    pending.retain(|(id, _)| *id != ins.fill_id);
                    pending.push((ins.fill_id.clone(), lots));
                }
            }
            PortfolioInput::SetLotMethod(_) | PortfolioInput::Mark { .. } => {
                unreachable!("the property test never generates these: the reference model runs with one fixed lot method and no marks")
            }
        }
    }
    out
}
