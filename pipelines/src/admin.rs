//! Topic administration: create every catalog topic with its partition count and cleanup
//! policy. Idempotent: existing topics are left as they are (and reported).

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::RDKafkaErrorCode;
use schemas::topics::{Cleanup, TOPICS};
use std::time::Duration;

/// What happened to one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicOutcome {
    Created,
    AlreadyExists,
}

/// Topic creation settings.
#[derive(Debug, Clone)]
pub struct TopicSettings {
    pub partitions: i32,
    pub replication: i32,
    /// `segment.ms` for compacted topics, so compaction can run soon (default 10 minutes).
    pub compact_segment_ms: u64,
}

impl Default for TopicSettings {
    fn default() -> Self {
        Self { partitions: 6, replication: 1, compact_segment_ms: 600_000 }
    }
}

/// Creates every topic of the catalog (and only those), returning each outcome.
pub async fn create_topics(brokers: &str, settings: &TopicSettings) -> anyhow::Result<Vec<(&'static str, TopicOutcome)>> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new().set("bootstrap.servers", brokers).create()?;
    let segment = settings.compact_segment_ms.to_string();
    let new: Vec<NewTopic<'_>> = TOPICS
        .iter()
        .map(|t| {
            let mut nt = NewTopic::new(t.name, settings.partitions, TopicReplication::Fixed(settings.replication))
                .set("cleanup.policy", t.cleanup.as_str());
            if t.cleanup == Cleanup::Compact {
                nt = nt.set("segment.ms", &segment).set("min.cleanable.dirty.ratio", "0.1");
            }
            if t.cleanup == Cleanup::Retain {
                nt = nt.set("retention.ms", "-1").set("retention.bytes", "-1");
            }
            nt
        })
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = admin.create_topics(new.iter(), &opts).await?;
    let mut out = Vec::new();
    for (t, r) in TOPICS.iter().zip(results) {
        match r {
            Ok(_) => out.push((t.name, TopicOutcome::Created)),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => out.push((t.name, TopicOutcome::AlreadyExists)),
            Err((name, code)) => anyhow::bail!("creating topic {name}: {code}"),
        }
    }
    Ok(out)
}
