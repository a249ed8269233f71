//! The golden check of the reference pipeline: what a `read_committed` reader of the output
//! and of the changelog sees, against a recomputation from the inputs.

use rust_decimal::Decimal;
use schemas::records::{RunningTotal, TotalUpdated};
use schemas::Codec;
use std::collections::BTreeMap;
use tests::read_all;

/// One valid input as produced.
#[derive(Clone, Debug)]
pub struct Input {
    pub key: String,
    pub seq: i64,
    pub amount: Decimal,
}

/// Asserts: every input's effect appears exactly once in the output; per key, outputs are the
/// running totals of that key's inputs in order; the changelog holds the golden final state.
pub fn totals(prefix: &str, codec: &Codec, inputs: &[Input]) {
    let outputs = read_all(&format!("{prefix}totals.output"));
    let mut seen: BTreeMap<i64, usize> = BTreeMap::new();
    let mut per_key: BTreeMap<String, Vec<TotalUpdated>> = BTreeMap::new();
    for r in &outputs {
        let t: TotalUpdated = codec.decode(r.value.as_deref().expect("output value")).expect("decode output");
        assert_eq!(r.key.as_deref(), Some(t.key.as_bytes()), "output key");
        *seen.entry(t.input_seq).or_default() += 1;
        per_key.entry(t.key.clone()).or_default().push(t);
    }
    let dups: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(dups.is_empty(), "inputs applied more than once (seq, times): {dups:?}");
    let missing: Vec<i64> = inputs.iter().map(|i| i.seq).filter(|s| !seen.contains_key(s)).take(5).collect();
    assert!(missing.is_empty(), "inputs never applied (first few seqs): {missing:?}");
    assert_eq!(outputs.len(), inputs.len(), "one output per input");

    let mut golden: BTreeMap<String, (Decimal, i64, i64)> = BTreeMap::new();
    let mut expected: BTreeMap<String, Vec<(i64, Decimal, i64)>> = BTreeMap::new();
    for i in inputs {
        let g = golden.entry(i.key.clone()).or_insert((Decimal::ZERO, 0, 0));
        g.0 += i.amount;
        g.1 += 1;
        g.2 = i.seq;
        expected.entry(i.key.clone()).or_default().push((i.seq, g.0, g.1));
    }
    for (key, exp) in &expected {
        let got: Vec<(i64, Decimal, i64)> = per_key[key].iter().map(|t| (t.input_seq, t.total, t.count)).collect();
        assert_eq!(&got, exp, "running totals of key {key}");
    }

    let mut rebuilt: BTreeMap<String, RunningTotal> = BTreeMap::new();
    for r in read_all(&format!("{prefix}totals.changelog")) {
        let key = String::from_utf8(r.key.expect("changelog key")).unwrap();
        match r.value {
            Some(v) => {
                rebuilt.insert(key, codec.decode(&v).expect("decode changelog"));
            }
            None => {
                rebuilt.remove(&key);
            }
        }
    }
    let golden_state: BTreeMap<String, RunningTotal> =
        golden.into_iter().map(|(k, (total, count, last_seq))| (k, RunningTotal { total, count, last_seq })).collect();
    assert_eq!(rebuilt, golden_state, "state rebuilt from the changelog equals the golden recomputation");
}
