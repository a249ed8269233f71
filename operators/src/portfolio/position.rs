//! The open lots of one symbol and the lot-matching algorithm.
//!
//! Matching a fill (see `Position::apply_fill`):
//! 1. A buy opens long / closes short; a sell opens short / closes long.
//! 2. While the fill has quantity left and the position holds lots of the other side,
//!    pick a lot (FIFO: oldest; LIFO: newest; SpecificLot: the instruction's next listed
//!    lot that is still open, then the oldest) and close `min(lot qty, fill qty left)`.
//! 3. Whatever quantity is left opens one new lot (id = fill id) at the end of the queue:
//!    a sell of 150 against a long of 100 closes the 100 and opens a short lot of 50.
//!
//! Invariants: all lots share one side; every lot has `qty > 0`; `lots` is in opening
//! order; `realized_pnl` is the sum of the gains of all disposals ever made.

use std::collections::VecDeque;

use rust_decimal::Decimal;

use super::calendar::{Term, TimeZoneRule};
use super::gain::LotDisposal;
use super::lot::{pro_rata, Lot, LotId, LotSide};
use super::types::{Fill, LotMethod, Side};

/// Position in one symbol. A flat position (no lots) is kept for its realized P&L.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    pub symbol: String,
    /// Open lots, oldest first.
    pub lots: VecDeque<Lot>,
    /// Realized P&L of every disposal so far (net of all fees involved).
    pub realized_pnl: Decimal,
}

impl Position {
    pub fn new(symbol: &str) -> Self {
        Position {
            symbol: symbol.to_owned(),
            lots: VecDeque::new(),
            realized_pnl: Decimal::ZERO,
        }
    }

    /// Signed quantity: positive long, negative short, zero flat.
    pub fn qty(&self) -> Decimal {
        self.lots.iter().map(Lot::signed_qty).sum()
    }

    /// Side of the open lots, `None` when flat.
    pub fn side(&self) -> Option<LotSide> {
        self.lots.front().map(|l| l.side)
    }

    /// Signed cost basis of the open lots (negative for a short position; see `Lot`).
    pub fn cost_basis(&self) -> Decimal {
        self.lots.iter().map(Lot::cost_basis).sum()
    }

    /// Average cost per share including fees (`|cost basis| / |qty|`), `None` when flat.
    /// For a short position this is the average short-sale price net of fees.
    pub fn avg_cost(&self) -> Option<Decimal> {
        let qty = self.qty();
        (!qty.is_zero()).then(|| self.cost_basis().abs() / qty.abs())
    }

    /// Applies a validated fill; returns the lot disposals it made (empty if it only
    /// opened). `instruction` is honoured only under `LotMethod::SpecificLot`.
    pub(crate) fn apply_fill(
        &mut self,
        fill: &Fill,
        method: LotMethod,
        instruction: &[LotId],
        tz: TimeZoneRule,
    ) -> Vec<LotDisposal> {
        let opening_side = match fill.side {
            Side::Buy => LotSide::Long,
            Side::Sell => LotSide::Short,
        };
        let disposed_on = tz.trade_date(fill.executed_at);
        let mut picks = instruction.iter();
        let (mut qty_left, mut fee_left) = (fill.qty, fill.fee);
        let mut disposals = Vec::new();
        while qty_left > Decimal::ZERO && self.side().is_some_and(|s| s != opening_side) {
            let idx = self.next_lot(method, &mut picks);
            let lot = &mut self.lots[idx];
            let qty = qty_left.min(lot.qty);
            let fill_fee = pro_rata(fee_left, qty_left, qty);
            let lot_fee = pro_rata(lot.fee, lot.qty, qty);
            let (proceeds, cost_basis) = match lot.side {
                LotSide::Long => (qty * fill.price - fill_fee, qty * lot.price + lot_fee),
                LotSide::Short => (qty * lot.price - lot_fee, qty * fill.price + fill_fee),
            };
            let acquired_on = tz.trade_date(lot.opened_at);
            let term = match lot.side {
                LotSide::Long => Term::classify(acquired_on, disposed_on),
                LotSide::Short => Term::ShortTerm,
            };
            let gain = proceeds - cost_basis;
            disposals.push(LotDisposal {
                lot_id: lot.id.clone(),
                lot_side: lot.side,
                qty,
                opened_at: lot.opened_at,
                acquired_on,
                disposed_on,
                holding_days: disposed_on.epoch_days() - acquired_on.epoch_days(),
                proceeds,
                cost_basis,
                gain,
                term,
            });
            lot.qty -= qty;
            lot.fee -= lot_fee;
            if lot.qty.is_zero() {
                self.lots.remove(idx);
            }
            qty_left -= qty;
            fee_left -= fill_fee;
            self.realized_pnl += gain;
        }
        if qty_left > Decimal::ZERO {
            self.lots.push_back(Lot {
                id: LotId(fill.fill_id.clone()),
                side: opening_side,
                opened_at: fill.executed_at,
                original_qty: qty_left,
                qty: qty_left,
                price: fill.price,
                fee: fee_left,
            });
        }
        disposals
    }

    /// Index of the next lot to close. Precondition: `lots` is not empty.
    fn next_lot<'a>(
        &self,
        method: LotMethod,
        picks: &mut impl Iterator<Item = &'a LotId>,
    ) -> usize {
        if method == LotMethod::SpecificLot {
            for id in picks {
                if let Some(idx) = self.lots.iter().position(|l| &l.id == id) {
                    return idx;
                }
            }
        }
        match method {
            LotMethod::Lifo => self.lots.len() - 1,
            LotMethod::Fifo | LotMethod::SpecificLot => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Timestamp;

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn fill(id: &str, side: Side, qty: &str, price: &str, fee: &str, t: i64) -> Fill {
        Fill {
            account: "a".into(),
            symbol: "XYZ".into(),
            side,
            qty: dec(qty),
            price: dec(price),
            fee: dec(fee),
            fill_id: id.into(),
            executed_at: Timestamp(t),
        }
    }

    fn apply(p: &mut Position, f: &Fill) -> Vec<LotDisposal> {
        p.apply_fill(f, LotMethod::Fifo, &[], TimeZoneRule::Utc)
    }

    #[test]
    fn partial_close_allocates_buy_fee_pro_rata() {
        let mut p = Position::new("XYZ");
        apply(&mut p, &fill("b1", Side::Buy, "10", "100", "5", 0));
        let d = apply(&mut p, &fill("s1", Side::Sell, "4", "110", "1", 1));
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].proceeds, dec("439"));
        assert_eq!(d[0].cost_basis, dec("402"));
        assert_eq!(d[0].gain, dec("37"));
        assert_eq!(p.qty(), dec("6"));
        assert_eq!(p.cost_basis(), dec("603"));
        assert_eq!(p.avg_cost(), Some(dec("100.5")));
        assert_eq!(p.realized_pnl, dec("37"));
    }

    #[test]
    fn sell_through_zero_opens_short_and_buy_covers_it() {
        let mut p = Position::new("XYZ");
        apply(&mut p, &fill("b1", Side::Buy, "100", "10", "0", 0));
        let d = apply(&mut p, &fill("s1", Side::Sell, "150", "12", "3", 1));
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].proceeds, dec("1198"));
        assert_eq!(p.qty(), dec("-50"));
        assert_eq!(p.side(), Some(LotSide::Short));
        assert_eq!(p.lots[0].fee, dec("1"));
        assert_eq!(p.cost_basis(), dec("-599"));
        let d = apply(&mut p, &fill("b2", Side::Buy, "50", "11", "0.5", 2));
        assert_eq!(d[0].lot_side, LotSide::Short);
        assert_eq!(d[0].proceeds, dec("599"));
        assert_eq!(d[0].cost_basis, dec("550.5"));
        assert_eq!(d[0].term, Term::ShortTerm);
        assert!(p.lots.is_empty());
        assert_eq!(p.realized_pnl, dec("198") + dec("48.5"));
    }

    #[test]
    fn specific_lot_then_fifo_fallback() {
        let mut p = Position::new("XYZ");
        for (id, price) in [("b1", "10"), ("b2", "20"), ("b3", "30")] {
            apply(&mut p, &fill(id, Side::Buy, "10", price, "0", 0));
        }
        let picks = [LotId("b3".into()), LotId("nope".into())];
        let sale = fill("s1", Side::Sell, "15", "40", "0", 1);
        let d = p.apply_fill(&sale, LotMethod::SpecificLot, &picks, TimeZoneRule::Utc);
        let closed: Vec<_> = d.iter().map(|d| (d.lot_id.0.as_str(), d.qty)).collect();
        assert_eq!(closed, vec![("b3", dec("10")), ("b1", dec("5"))]);
        // Under FIFO the same instruction is ignored.
        let mut q = Position::new("XYZ");
        apply(&mut q, &fill("b1", Side::Buy, "10", "10", "0", 0));
        apply(&mut q, &fill("b3", Side::Buy, "10", "30", "0", 0));
        let d = q.apply_fill(&sale, LotMethod::Fifo, &picks, TimeZoneRule::Utc);
        assert_eq!(d[0].lot_id, LotId("b1".into()));
    }
}
