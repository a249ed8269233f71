//! One tax lot and the rule that splits fees between pieces of a fill or of a lot.
//!
//! A lot is the unclosed remainder of one opening fill: its id is that fill's id, its
//! `price` is the execution price and `fee` is the part of the opening fill's fee not yet
//! allocated to a closed piece.
//!
//! Fee allocation (documented contract):
//! - A buy fee is part of the bought lot's cost basis: basis = qty * price + fee.
//! - A sell fee reduces proceeds: proceeds = qty * price - fee. For a short lot, the
//!   opening sell fee reduces the lot's (short-sale) proceeds and the covering buy fee adds
//!   to its cost.
//! - When only part of an amount's quantity is used (a fill closing several lots, or a lot
//!   partly closed), the piece gets `pro_rata(amount, qty, piece_qty)`: the proportional
//!   share rounded to `ALLOCATION_SCALE` decimal places (half to even), and the last piece
//!   (piece_qty == remaining qty) gets exactly what is left. Pieces are taken one after
//!   the other from the *remaining* amount, so the pieces always sum to the whole amount
//!   and no piece is ever negative or larger than what remains.

use rust_decimal::{Decimal, RoundingStrategy};

use crate::Timestamp;

/// Decimal places of a fee share allocated to part of a fill or lot.
pub const ALLOCATION_SCALE: u32 = 10;

/// Id of a lot: the id of the fill that opened it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LotId(pub String);

impl std::fmt::Display for LotId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether a lot holds shares (long) or owes them (short).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LotSide {
    Long,
    Short,
}

/// An open tax lot. Invariant: `qty > 0`, `0 <= fee`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lot {
    pub id: LotId,
    pub side: LotSide,
    /// Execution time of the opening fill.
    pub opened_at: Timestamp,
    /// Quantity of the opening piece (before any partial close).
    pub original_qty: Decimal,
    /// Quantity still open.
    pub qty: Decimal,
    /// Execution price per share of the opening fill.
    pub price: Decimal,
    /// Opening fee not yet allocated to a closed piece.
    pub fee: Decimal,
}

impl Lot {
    /// Signed cost basis of what is still open: `qty * price + fee` for a long lot, and
    /// `-(qty * price - fee)` (minus the short-sale proceeds) for a short lot, so that
    /// unrealized P&L is always `signed market value - cost_basis`.
    pub fn cost_basis(&self) -> Decimal {
        match self.side {
            LotSide::Long => self.qty * self.price + self.fee,
            LotSide::Short => -(self.qty * self.price - self.fee),
        }
    }

    /// `qty` for a long lot, `-qty` for a short lot.
    pub fn signed_qty(&self) -> Decimal {
        match self.side {
            LotSide::Long => self.qty,
            LotSide::Short => -self.qty,
        }
    }
}

/// Share of `amount` (belonging to `qty`) that goes with `piece` of that quantity; see the
/// module docs. `piece >= qty` takes all of `amount`.
pub(crate) fn pro_rata(amount: Decimal, qty: Decimal, piece: Decimal) -> Decimal {
    if piece >= qty || amount.is_zero() {
        return if piece >= qty { amount } else { Decimal::ZERO };
    }
    let share = (amount * piece / qty)
        .round_dp_with_strategy(ALLOCATION_SCALE, RoundingStrategy::MidpointNearestEven);
    share.min(amount).max(Decimal::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn pro_rata_splits_exactly_and_last_piece_takes_rest() {
        let (mut fee, mut qty) = (dec("1.00"), dec("3"));
        let mut pieces = Vec::new();
        for piece in [dec("1"), dec("1"), dec("1")] {
            let share = pro_rata(fee, qty, piece);
            fee -= share;
            qty -= piece;
            pieces.push(share);
        }
        assert_eq!(
            pieces,
            vec![
                dec("0.3333333333"),
                dec("0.3333333334"),
                dec("0.3333333333")
            ]
        );
        assert_eq!(pieces.iter().sum::<Decimal>(), dec("1.00"));
    }

    #[test]
    fn pro_rata_edge_cases() {
        assert_eq!(pro_rata(dec("5"), dec("10"), dec("10")), dec("5"));
        assert_eq!(pro_rata(dec("5"), dec("10"), dec("12")), dec("5"));
        assert_eq!(pro_rata(Decimal::ZERO, dec("10"), dec("3")), Decimal::ZERO);
        assert_eq!(pro_rata(dec("5"), dec("10"), dec("4")), dec("2"));
    }

    #[test]
    fn short_lot_basis_is_negative_proceeds() {
        let lot = Lot {
            id: LotId("s1".into()),
            side: LotSide::Short,
            opened_at: Timestamp(0),
            original_qty: dec("10"),
            qty: dec("10"),
            price: dec("20"),
            fee: dec("1"),
        };
        assert_eq!(lot.cost_basis(), dec("-199"));
        assert_eq!(lot.signed_qty(), dec("-10"));
    }
}
