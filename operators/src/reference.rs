//! Reference operators that exercise the runtime end to end.
//!
//! - [`RunningTotal`]: per-key sum and count; each input yields one output naming the input
//!   by its sequence number, so a reader can check every input's effect appears exactly once.
//! - [`PassThrough`]: forwards every input unchanged (the runtime-overhead benchmark).

use crate::{Operator, Timestamp};
use rust_decimal::Decimal;

/// One input of the running total.
#[derive(Clone, Debug, PartialEq)]
pub struct Amount {
    pub seq: i64,
    pub amount: Decimal,
}

/// Per-key state.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Total {
    pub total: Decimal,
    pub count: i64,
    pub last_seq: i64,
}

/// The key's total after an input.
#[derive(Clone, Debug, PartialEq)]
pub struct TotalChanged {
    pub key: String,
    pub input_seq: i64,
    pub amount: Decimal,
    pub total: Decimal,
    pub count: i64,
    pub at: Timestamp,
}

/// Sums amounts per key.
///
/// Invariant: after inputs `a1..an` for a key, `total = a1 + .. + an` and `count = n`,
/// whatever the batching, crashes and restores of the runtime (checked end to end).
#[derive(Clone, Copy, Debug, Default)]
pub struct RunningTotal;

impl Operator for RunningTotal {
    type Key = String;
    type Input = Amount;
    type State = Total;
    type Output = TotalChanged;

    fn process(&self, key: &String, state: &mut Option<Total>, input: Amount, time: Timestamp, out: &mut Vec<TotalChanged>) {
        let s = state.get_or_insert_with(Total::default);
        s.total += input.amount;
        s.count += 1;
        s.last_seq = input.seq;
        out.push(TotalChanged {
            key: key.clone(),
            input_seq: input.seq,
            amount: input.amount,
            total: s.total,
            count: s.count,
            at: time,
        });
    }
}

/// Forwards every input; keeps no state.
#[derive(Clone, Copy, Debug, Default)]
pub struct PassThrough;

impl Operator for PassThrough {
    type Key = String;
    type Input = Amount;
    type State = ();
    type Output = (String, Amount, Timestamp);

    fn process(&self, key: &String, _state: &mut Option<()>, input: Amount, time: Timestamp, out: &mut Vec<Self::Output>) {
        out.push((key.clone(), input, time));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_accumulate_per_key() {
        let op = RunningTotal;
        let mut a = None;
        let mut out = Vec::new();
        op.process(&"a".into(), &mut a, Amount { seq: 1, amount: Decimal::new(150, 2) }, Timestamp(5), &mut out);
        op.process(&"a".into(), &mut a, Amount { seq: 2, amount: Decimal::new(-50, 2) }, Timestamp(6), &mut out);
        assert_eq!(a, Some(Total { total: Decimal::ONE, count: 2, last_seq: 2 }));
        assert_eq!(out[1].total, Decimal::ONE);
        assert_eq!(out[1].input_seq, 2);
    }
}
