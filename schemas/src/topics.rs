//! The topic catalog: every topic, its key, value record, cleanup policy and the schema
//! compatibility level of its value subject. `tradeflow topics create` and schema
//! registration both read this list, so it is the one place a topic is declared.
//!
//! Partitioning: keys are UTF-8 strings and producers use the murmur2 partitioner (Java
//! client compatible), so every client puts a key on the same partition. A pipeline's
//! changelog topic has the same partition count as its input topic and state for input
//! partition `p` lives in changelog partition `p`.

use crate::registry::Compatibility;

/// Kafka `cleanup.policy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cleanup {
    /// Event log: time-based retention.
    Delete,
    /// Event log kept forever (`cleanup.policy=delete`, `retention.ms=-1`,
    /// `retention.bytes=-1`): records whose history must stay complete, e.g. the audit
    /// log, whose hash chain fails to verify once its oldest records are deleted.
    Retain,
    /// Latest value per key (state, snapshots, changelogs).
    Compact,
}

impl Cleanup {
    pub fn as_str(self) -> &'static str {
        match self {
            Cleanup::Delete | Cleanup::Retain => "delete",
            Cleanup::Compact => "compact",
        }
    }
}

/// One topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TopicSpec {
    pub name: &'static str,
    /// What the (UTF-8 string) key is.
    pub key: &'static str,
    /// The value record (schema file stem).
    pub value: &'static str,
    pub cleanup: Cleanup,
    pub compatibility: Compatibility,
}

impl TopicSpec {
    /// The value subject under Confluent's TopicNameStrategy.
    pub fn value_subject(&self) -> String {
        format!("{}-value", self.name)
    }
}

const fn event(name: &'static str, key: &'static str, value: &'static str) -> TopicSpec {
    TopicSpec { name, key, value, cleanup: Cleanup::Delete, compatibility: Compatibility::BackwardTransitive }
}

const fn state(name: &'static str, key: &'static str, value: &'static str) -> TopicSpec {
    TopicSpec { name, key, value, cleanup: Cleanup::Compact, compatibility: Compatibility::FullTransitive }
}

/// Dead-letter topic shared by all pipelines.
pub const DLQ: &str = "dlq";

/// Every topic of the platform.
pub const TOPICS: &[TopicSpec] = &[
    event("orders.commands", "account_id", "OrderCommand"),
    event("funding.commands", "account_id", "FundingCommand"),
    event("accounts.commands", "account_id", "AccountCommand"),
    event("instruments.commands", "symbol", "InstrumentCommand"),
    event("orders.routed", "symbol", "RoutedOrder"),
    event("orders.events", "account_id", "OrderEvent"),
    event("executions", "account_id", "ExecutionReport"),
    event("trades", "symbol", "Trade"),
    event("ledger", "account_id", "LedgerEntry"),
    event("funding.events", "account_id", "FundingEvent"),
    state("accounts.snapshots", "account_id", "AccountSnapshot"),
    state("accounts.changelog", "account_id", "AccountState"),
    state("positions.snapshots", "account_id|symbol", "PositionSnapshot"),
    state("book.depth", "symbol", "BookSnapshot"),
    state("matching.changelog", "symbol", "BookState"),
    event(DLQ, "source key (raw)", "DeadLetter"),
    event("totals.input", "any string", "AmountEvent"),
    event("totals.output", "input key", "TotalUpdated"),
    state("totals.changelog", "input key", "RunningTotal"),
    event("passthrough.input", "any string", "AmountEvent"),
    event("passthrough.output", "input key", "AmountEvent"),
    event("realized.gains", "account_id", "RealizedGain"),
    state("portfolios.snapshots", "account_id", "PortfolioSnapshot"),
    state("portfolio.changelog", "account_id", "PortfolioState"),
    state("users", "user_id", "UserRecord"),
    state("api.keys", "key_id", "ApiKeyRecord"),
    TopicSpec { cleanup: Cleanup::Retain, ..event("audit.log", "actor (user:<id>, apikey:<id>, email:<address> or anonymous)", "AuditRecord") },
    state("watchlists", "watchlist_id", "WatchlistRecord"),
    state("sessions", "family_id", "SessionRecord"),
];

/// Looks a topic up by name.
pub fn topic(name: &str) -> Option<&'static TopicSpec> {
    TOPICS.iter().find(|t| t.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::ALL_SCHEMAS;

    #[test]
    fn every_topic_names_a_known_record_and_every_record_has_a_topic() {
        for t in TOPICS {
            assert!(ALL_SCHEMAS.iter().any(|(n, _)| *n == t.value), "{} -> {}", t.name, t.value);
        }
        for (n, _) in ALL_SCHEMAS {
            assert!(TOPICS.iter().any(|t| t.value == *n), "record {n} has no topic");
        }
        let mut names: Vec<_> = TOPICS.iter().map(|t| t.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), TOPICS.len(), "duplicate topic names");
    }
}
