//! Records of the reference running-total pipeline, the runtime's end-to-end proof.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Input (topic `totals.input`, key = any string).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AmountEvent {
    pub seq: i64,
    #[serde(with = "crate::decimal")]
    pub amount: Decimal,
    pub at_ns: i64,
}

/// Output (topic `totals.output`): the key's total after applying input `input_seq`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TotalUpdated {
    pub key: String,
    pub input_seq: i64,
    #[serde(with = "crate::decimal")]
    pub amount: Decimal,
    #[serde(with = "crate::decimal")]
    pub total: Decimal,
    pub count: i64,
    pub at_ns: i64,
}

/// Per-key state (changelog topic `totals.changelog`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunningTotal {
    #[serde(with = "crate::decimal")]
    pub total: Decimal,
    pub count: i64,
    pub last_seq: i64,
}
