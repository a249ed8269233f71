//! `totals`: the reference stateful pipeline (per-key running total).
//!
//! `totals.input` (AmountEvent) -> `totals.output` (TotalUpdated), state in the compacted
//! `totals.changelog` (RunningTotal). Inputs with a negative `seq` are invalid (dead-lettered),
//! which gives the poison tests a validation failure to exercise.

use super::{name_list, prefixed};
use crate::spec::{DecodeFailure, OutRecord, Pipeline};
use operators::reference::{Amount, RunningTotal, Total, TotalChanged};
use operators::Timestamp;
use schemas::records::{AmountEvent, RunningTotal as RunningTotalRecord, TotalUpdated};
use schemas::{Codec, CodecError};

/// The pipeline. Topic names and the group id can carry a prefix (e.g. `test42.`), so
/// several independent copies can share one cluster.
pub struct Totals {
    op: RunningTotal,
    name: &'static str,
    inputs: &'static [&'static str],
    output: &'static str,
    changelog: &'static str,
}

impl Default for Totals {
    fn default() -> Self {
        Self::with_prefix("")
    }
}

impl Totals {
    /// Topics `<prefix>totals.input|output|changelog`, group `<prefix>totals`. The names are
    /// leaked once per call: build one per process.
    pub fn with_prefix(prefix: &str) -> Self {
        Totals {
            op: RunningTotal,
            name: prefixed(prefix, "totals"),
            inputs: name_list(vec![prefixed(prefix, INPUT)]),
            output: prefixed(prefix, OUTPUT),
            changelog: prefixed(prefix, CHANGELOG),
        }
    }
}

pub const INPUT: &str = "totals.input";
pub const OUTPUT: &str = "totals.output";
pub const CHANGELOG: &str = "totals.changelog";

impl Pipeline for Totals {
    type Op = RunningTotal;

    fn name(&self) -> &'static str {
        self.name
    }
    fn inputs(&self) -> &'static [&'static str] {
        self.inputs
    }
    fn changelog(&self) -> Option<&'static str> {
        Some(self.changelog)
    }
    fn operator(&self) -> &RunningTotal {
        &self.op
    }
    fn decode(&self, codec: &Codec, _topic: &str, value: &[u8]) -> Result<Amount, DecodeFailure> {
        let e: AmountEvent = codec.decode(value)?;
        if e.seq < 0 {
            return Err(DecodeFailure::Invalid(format!("seq must be >= 0, got {}", e.seq)));
        }
        Ok(Amount { seq: e.seq, amount: e.amount })
    }
    fn event_time(&self, _input: &Amount, record_ms: Option<i64>) -> Timestamp {
        Timestamp::from_millis(record_ms.unwrap_or(0))
    }
    fn encode(&self, codec: &Codec, o: &TotalChanged) -> Result<OutRecord, CodecError> {
        let v = TotalUpdated {
            key: o.key.clone(),
            input_seq: o.input_seq,
            amount: o.amount,
            total: o.total,
            count: o.count,
            at_ns: o.at.nanos(),
        };
        Ok(OutRecord { topic: self.output, key: o.key.clone(), value: codec.encode(&v)?, partition: None })
    }
    fn encode_state(&self, codec: &Codec, s: &Total) -> Result<Vec<u8>, CodecError> {
        codec.encode(&RunningTotalRecord { total: s.total, count: s.count, last_seq: s.last_seq })
    }
    fn decode_state(&self, codec: &Codec, bytes: &[u8]) -> Result<Total, CodecError> {
        let r: RunningTotalRecord = codec.decode(bytes)?;
        Ok(Total { total: r.total, count: r.count, last_seq: r.last_seq })
    }
}
