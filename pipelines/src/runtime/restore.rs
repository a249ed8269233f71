//! Rebuilding partition stores from the compacted changelog.
//!
//! Invariant: state for input partition `p` is exactly the changelog partition `p` read
//! `read_committed` to its end. Before reading, the driver has fetched the committed input
//! offsets with `require_stable` semantics (librdkafka does this under `read_committed`),
//! which waits for any transaction of the previous owner to finish; that transaction is the
//! only one that can write to these changelog partitions, so the end is then stable.

use crate::spec::Pipeline;
use crate::store::PartitionStore;
use operators::Operator;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use schemas::Codec;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// Logs client errors except end-of-partition, which restore expects.
pub struct QuietEof;

impl rdkafka::ClientContext for QuietEof {
    fn error(&self, error: KafkaError, reason: &str) {
        let eof = matches!(error, KafkaError::PartitionEOF(_))
            || error.rdkafka_error_code() == Some(rdkafka::types::RDKafkaErrorCode::PartitionEOF);
        if !eof {
            tracing::error!(%error, reason, "restore consumer error");
        }
    }
}

impl rdkafka::consumer::ConsumerContext for QuietEof {}

type State<P> = <<P as Pipeline>::Op as Operator>::State;

/// Why state could not be restored (fatal for the instance).
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("changelog {topic}[{partition}] offset {offset}: {message}")]
    Corrupt { topic: String, partition: i32, offset: i64, message: String },
    #[error("restore of {0} did not reach the end within {1:?}")]
    Timeout(String, Duration),
}

/// Reads changelog partitions `parts` from the beginning to their end into stores.
#[allow(clippy::too_many_arguments)] // each argument is a distinct input of the restore
pub fn restore<P: Pipeline>(
    pipeline: &P,
    codec: &Codec,
    base: &ClientConfig,
    changelog: &str,
    parts: &BTreeSet<i32>,
    timeout: Duration,
    debug_pause: Duration,
    mut on_record: impl FnMut(),
) -> Result<BTreeMap<i32, PartitionStore<State<P>>>, RestoreError> {
    let mut stores: BTreeMap<i32, PartitionStore<State<P>>> = parts.iter().map(|p| (*p, PartitionStore::default())).collect();
    if parts.is_empty() {
        return Ok(stores);
    }
    let consumer: BaseConsumer<QuietEof> = base
        .clone()
        .set("group.id", format!("{}-restore", pipeline.name()))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("isolation.level", "read_committed")
        .set("auto.offset.reset", "earliest")
        .create_with_context(QuietEof)?;
    let mut tpl = TopicPartitionList::new();
    for p in parts {
        tpl.add_partition_offset(changelog, *p, Offset::Beginning)?;
    }
    consumer.assign(&tpl)?;
    if !debug_pause.is_zero() {
        tracing::info!(pause_ms = debug_pause.as_millis() as u64, "debug: restore consumer assigned, pausing");
        std::thread::sleep(debug_pause);
    }
    let mut pending: BTreeSet<i32> = parts.clone();
    let start = Instant::now();
    while !pending.is_empty() {
        if start.elapsed() > timeout {
            return Err(RestoreError::Timeout(changelog.to_string(), timeout));
        }
        match consumer.poll(Duration::from_millis(200)) {
            None => {}
            Some(Err(KafkaError::PartitionEOF(p))) => {
                pending.remove(&p);
            }
            Some(Err(e)) => return Err(e.into()),
            Some(Ok(m)) => {
                let corrupt = |message: String| RestoreError::Corrupt {
                    topic: changelog.to_string(),
                    partition: m.partition(),
                    offset: m.offset(),
                    message,
                };
                let key = m
                    .key()
                    .and_then(|k| std::str::from_utf8(k).ok())
                    .ok_or_else(|| corrupt("missing or non-UTF-8 key".into()))?
                    .to_string();
                let value = match m.payload() {
                    None => None,
                    Some(v) => Some(pipeline.decode_state(codec, v).map_err(|e| corrupt(e.to_string()))?),
                };
                if let Some(store) = stores.get_mut(&m.partition()) {
                    store.restore(key, value);
                }
                on_record();
            }
        }
    }
    Ok(stores)
}
