//! Runtime configuration with documented defaults.

use std::time::Duration;

/// Delivery guarantee of a pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Guarantee {
    /// Kafka transactions (EOS v2): outputs, changelog and input offsets commit atomically.
    ExactlyOnce,
    /// For brokers without transactions: outputs and changelog are flushed, then offsets
    /// committed. A crash between the two re-processes the batch: outputs are duplicated and
    /// state restored from the changelog may already include the re-processed inputs.
    AtLeastOnce,
}

/// Everything the runtime needs besides the pipeline itself.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// Bootstrap servers.
    pub brokers: String,
    /// Stable id of this instance; the transactional id is `<pipeline>-<instance_id>`, so a
    /// restarted instance with the same id fences its predecessor at once.
    pub instance_id: String,
    pub guarantee: Guarantee,
    /// How long a transaction collects records before it commits (default 20 ms).
    pub commit_interval: Duration,
    /// Commit early once a transaction holds this many input records (default 5,000).
    pub max_batch: usize,
    /// `transaction.timeout.ms` (default 60 s; tests use less so a dead instance's open
    /// transaction is aborted sooner).
    pub transaction_timeout: Duration,
    /// Consumer `session.timeout.ms` (default 10 s).
    pub session_timeout: Duration,
    /// Input values larger than this go to the dead-letter topic (default 1 MiB).
    pub max_record_bytes: usize,
    /// Extra librdkafka settings applied to both clients (`key=value`).
    pub extra: Vec<(String, String)>,
}

impl RuntimeConfig {
    /// Defaults for `brokers` and `instance_id`.
    pub fn new(brokers: impl Into<String>, instance_id: impl Into<String>) -> Self {
        Self {
            brokers: brokers.into(),
            instance_id: instance_id.into(),
            guarantee: Guarantee::ExactlyOnce,
            commit_interval: Duration::from_millis(20),
            max_batch: 5_000,
            transaction_timeout: Duration::from_secs(60),
            session_timeout: Duration::from_secs(10),
            max_record_bytes: 1 << 20,
            extra: Vec::new(),
        }
    }
}
