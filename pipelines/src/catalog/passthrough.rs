//! `passthrough`: forwards `passthrough.input` to `passthrough.output` through the full
//! runtime (decode, operator, encode, transaction). Used by the runtime-overhead benchmark.

use super::{name_list, prefixed};
use crate::spec::{DecodeFailure, OutRecord, Pipeline};
use operators::reference::{Amount, PassThrough as Op};
use operators::Timestamp;
use schemas::records::AmountEvent;
use schemas::{Codec, CodecError};

pub struct PassThrough {
    op: Op,
    name: &'static str,
    inputs: &'static [&'static str],
    output: &'static str,
}

impl Default for PassThrough {
    fn default() -> Self {
        Self { op: Op, name: "passthrough", inputs: &[INPUT], output: OUTPUT }
    }
}

impl PassThrough {
    /// A pass-through with its own group / transactional id prefix and topics (benchmarks).
    /// The names are leaked: build one per run.
    pub fn custom(name: &str, input: &str, output: &str) -> Self {
        Self { op: Op, name: prefixed("", name), inputs: name_list(vec![prefixed("", input)]), output: prefixed("", output) }
    }
}

pub const INPUT: &str = "passthrough.input";
pub const OUTPUT: &str = "passthrough.output";

impl Pipeline for PassThrough {
    type Op = Op;

    fn name(&self) -> &'static str {
        self.name
    }
    fn inputs(&self) -> &'static [&'static str] {
        self.inputs
    }
    fn changelog(&self) -> Option<&'static str> {
        None
    }
    fn operator(&self) -> &Op {
        &self.op
    }
    fn decode(&self, codec: &Codec, _topic: &str, value: &[u8]) -> Result<Amount, DecodeFailure> {
        let e: AmountEvent = codec.decode(value)?;
        Ok(Amount { seq: e.seq, amount: e.amount })
    }
    fn event_time(&self, _input: &Amount, record_ms: Option<i64>) -> Timestamp {
        Timestamp::from_millis(record_ms.unwrap_or(0))
    }
    fn encode(&self, codec: &Codec, o: &(String, Amount, Timestamp)) -> Result<OutRecord, CodecError> {
        let (key, a, at) = o;
        let v = AmountEvent { seq: a.seq, amount: a.amount, at_ns: at.nanos() };
        Ok(OutRecord { topic: self.output, key: key.clone(), value: codec.encode(&v)?, partition: None })
    }
    fn encode_state(&self, _codec: &Codec, _s: &()) -> Result<Vec<u8>, CodecError> {
        Ok(Vec::new())
    }
    fn decode_state(&self, _codec: &Codec, _bytes: &[u8]) -> Result<(), CodecError> {
        Ok(())
    }
}
