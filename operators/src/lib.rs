//! Pure, deterministic keyed stream operators (sans-IO).
//!
//! An operator is a state machine per key: it receives one input record together with
//! its event time and the key's current state, mutates that state and appends output
//! records to a buffer. It performs no I/O and never reads a clock; the runtime in the
//! `pipelines` crate decodes records, looks state up, calls the operator, encodes the
//! outputs and commits everything in one Kafka transaction.
//!
//! Invariants (relied upon by the runtime and by replay tests):
//! - `operators` depends on no async runtime, Kafka client, database or clock.
//! - Same inputs in the same order with the same times -> identical outputs and state.
//!   Iteration whose order reaches an output uses ordered collections (`BTreeMap`).
//! - Business outcomes (a rejected order, a raised alert) are outputs, never `Err`.

pub mod accounts;
pub mod matching;
pub mod portfolio;
pub mod reference;
pub mod time;
pub mod venue;

pub use time::Timestamp;

/// Which clock drove a punctuation call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PunctuationKind {
    /// Stream time: the largest event time seen on the partition. Deterministic on replay.
    StreamTime,
    /// Wall-clock time, supplied by the runtime. Not reproducible on replay; use only for
    /// effects that do not need to be (e.g. housekeeping).
    WallClock,
}

/// How often the runtime should call [`Operator::punctuate`]; `None` means never.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PunctuationSchedule {
    /// Call `punctuate(StreamTime)` each time stream time crosses a multiple of this many ns.
    pub stream_time_every_ns: Option<i64>,
    /// Call `punctuate(WallClock)` about this often (ns of wall-clock time).
    pub wall_clock_every_ns: Option<i64>,
}

/// A keyed, deterministic stream operator.
///
/// The runtime keeps one `State` per key (absent = `None`), restores it from a compacted
/// changelog topic, and writes the new state of every key it touched in a batch to that
/// changelog in the same transaction as the outputs and the input offsets.
pub trait Operator {
    /// The partitioning key of the input topic(s) (an account id, a symbol, ...).
    type Key: Ord + Clone;
    /// The decoded input record.
    type Input;
    /// Per-key state. Setting it to `None` deletes the key (a changelog tombstone).
    type State: Clone;
    /// An output record; the pipeline maps it to a topic, key and value.
    type Output;

    /// Processes one input for `key` at event time `time`.
    fn process(
        &self,
        key: &Self::Key,
        state: &mut Option<Self::State>,
        input: Self::Input,
        time: Timestamp,
        out: &mut Vec<Self::Output>,
    );

    /// When the runtime should call [`Operator::punctuate`].
    fn punctuation(&self) -> PunctuationSchedule {
        PunctuationSchedule::default()
    }

    /// Whether [`Operator::punctuate`] could change `key`'s state or emit anything at
    /// `time`. The runtime skips keys for which this is `false` (no state copy, no
    /// changelog write), so it must be `false` only when `punctuate` would be a no-op.
    fn punctuation_due(&self, _key: &Self::Key, _state: Option<&Self::State>, _time: Timestamp, _kind: PunctuationKind) -> bool {
        true
    }

    /// Called for every key with state in a partition when a scheduled punctuation fires,
    /// in key order (keys whose [`Operator::punctuation_due`] is `false` may be skipped).
    /// `time` is the stream time (or wall-clock time) that fired it.
    fn punctuate(
        &self,
        _key: &Self::Key,
        _state: &mut Option<Self::State>,
        _time: Timestamp,
        _kind: PunctuationKind,
        _out: &mut Vec<Self::Output>,
    ) {
    }
}
