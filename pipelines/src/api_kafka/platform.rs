//! The platform API's ports (`api::v1::ports`) on Kafka: what `tradeflow api` serves
//! `/api/v1` from, durable across API restarts.
//!
//! | port | type | topic(s) |
//! |---|---|---|
//! | `UserStore` | [`users::KafkaUsers`] | compacted `users` (key `user_id`) |
//! | `ApiKeyRegistry` + `ApiKeyStore` | [`keys::KafkaApiKeys`] | compacted `api.keys` (key `key_id`), plus the static `--keys` file |
//! | `SessionStore` | [`sessions::KafkaSessions`] | compacted `sessions` (key `family_id`) |
//! | `PlatformCommands` | [`commands::KafkaPlatformCommands`] | `funding.commands`, `accounts.commands`, `instruments.commands` |
//! | `FundingHistory` | [`funding::FundingView`] | `funding.events` |
//! | `NotificationFeed` | [`notifications::NotificationsView`] | derived from `orders.events` + `funding.events` |
//! | `AuditSink` | [`audit::KafkaAuditSink`] | `audit.log`, transactional, hash-chained per partition |
//!
//! [`PlatformBackend::start`] builds them all and starts one follower thread per view
//! (`super::follow`, like the trading API's views); [`audit::verify_audit_topic`] checks
//! an audit topic's chains.
//!
//! Invariants:
//! - Writes return `Ok` only once the broker acknowledged them (`acks=all`, idempotent
//!   or transactional producers) and are visible to this process's reads before they
//!   return (read-your-writes, [`table`]).
//! - Every view is rebuilt from its topics at start and answers `Unavailable` (503) until
//!   it has caught up with the ends observed at start ([`PlatformBackend::ready`]).
//! - Single writer: uniqueness (emails), compare-and-set (refresh-token rotation, key
//!   revocation) are decided per process under a lock; two API instances writing the same
//!   users or sessions at the same moment are not coordinated (last write wins). The audit
//!   log is safe with any number of instances (fencing, see [`audit`]).
//! - Topic names carry the `--topic-prefix` (`crate::catalog::prefixed`), as every view's.

pub mod audit;
pub mod commands;
pub mod funding;
pub mod keys;
pub mod notifications;
pub mod sessions;
pub use super::table;
pub mod users;

use super::follow::{self, Decoder, Fold, Source, ViewHealth};
use super::KafkaApiConfig;
use crate::catalog::prefixed;
use crate::registry::Registry;
use api::ports::ApiKeyStore;
use api::v1::PlatformPorts;
use rdkafka::error::KafkaError;
use schemas::Codec;
use std::sync::Arc;
use table::{idempotent_producer, Table};

/// Choices beyond [`KafkaApiConfig`].
#[derive(Clone, Default)]
pub struct PlatformOptions {
    /// Read-only keys consulted before the registry (`tradeflow api --keys FILE`).
    pub static_keys: Option<Arc<dyn ApiKeyStore>>,
    /// The audit sink's `transactional.id`; `None`: [`audit::DEFAULT_TRANSACTIONAL_ID`]
    /// with the topic prefix. Must be the same for every instance writing the audit topic.
    pub audit_transactional_id: Option<String>,
}

/// Failure to start the platform's Kafka side.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    #[error("creating a platform producer: {0}")]
    Producer(#[from] KafkaError),
}

/// Every platform port and their follower threads.
pub struct PlatformBackend {
    pub users: Arc<users::KafkaUsers>,
    pub keys: Arc<keys::KafkaApiKeys>,
    pub sessions: Arc<sessions::KafkaSessions>,
    pub commands: Arc<commands::KafkaPlatformCommands>,
    pub funding: Arc<funding::FundingView>,
    pub notifications: Arc<notifications::NotificationsView>,
    pub audit: Arc<audit::KafkaAuditSink>,
    followers: follow::Followers,
}

impl PlatformBackend {
    /// Creates the producers and starts the followers (users, api-keys, sessions, funding,
    /// notifications). Missing topics or an unreachable broker are not errors here: each
    /// view retries and reports it in its health; the audit sink opens on first use (or
    /// when [`audit::KafkaAuditSink::open`] is called).
    pub fn start(cfg: &KafkaApiConfig, codec: Arc<Codec>, registry: Registry, rt: tokio::runtime::Handle, options: PlatformOptions) -> Result<PlatformBackend, PlatformError> {
        let t = |name: &str| prefixed(&cfg.topic_prefix, name).to_string();
        let decoder = Decoder { codec: codec.clone(), registry, rt };
        let source = Source { brokers: cfg.brokers.clone(), extra: cfg.extra.clone() };
        let producer = idempotent_producer(&cfg.brokers, &cfg.extra)?;
        let users = Arc::new(users::KafkaUsers::new(Table::new("users", producer.clone(), codec.clone(), t(users::TOPIC), users::KafkaUsers::key_of)));
        let keys = Arc::new(keys::KafkaApiKeys::new(
            Table::new("api keys", producer.clone(), codec.clone(), t(keys::TOPIC), keys::KafkaApiKeys::key_of),
            options.static_keys,
        ));
        let sessions = Arc::new(sessions::KafkaSessions::new(Table::new("sessions", producer.clone(), codec.clone(), t(sessions::TOPIC), sessions::KafkaSessions::key_of)));
        let commands = Arc::new(commands::KafkaPlatformCommands::new(producer, codec, commands::CommandTopics::prefixed(&cfg.topic_prefix)));
        let funding = Arc::new(funding::FundingView::new());
        let notifications = Arc::new(notifications::NotificationsView::new());
        let audit = Arc::new(audit::KafkaAuditSink::new(
            audit::AuditSinkConfig {
                brokers: cfg.brokers.clone(),
                extra: cfg.extra.clone(),
                topic: t(audit::TOPIC),
                transactional_id: options.audit_transactional_id.unwrap_or_else(|| t(audit::DEFAULT_TRANSACTIONAL_ID)),
            },
            decoder.clone(),
        ));
        // Topic order matters: it is the index each Fold receives.
        let views: [(&'static str, Vec<String>, Arc<dyn Fold>); 5] = [
            ("users", vec![t(users::TOPIC)], users.clone()),
            ("api-keys", vec![t(keys::TOPIC)], keys.clone()),
            ("sessions", vec![t(sessions::TOPIC)], sessions.clone()),
            ("funding", vec![t(funding::TOPIC)], funding.clone()),
            ("notifications", notifications::TOPICS.iter().map(|n| t(n)).collect(), notifications.clone()),
        ];
        let followers = follow::Followers::start(&source, &decoder, views);
        Ok(PlatformBackend { users, keys, sessions, commands, funding, notifications, audit, followers })
    }

    /// The `/api/v1` ports (`api::AppState::with_platform`).
    pub fn ports(&self) -> PlatformPorts {
        PlatformPorts {
            users: self.users.clone(),
            api_keys: self.keys.clone(),
            sessions: self.sessions.clone(),
            commands: self.commands.clone(),
            funding: self.funding.clone(),
            notifications: self.notifications.clone(),
            audit: self.audit.clone(),
        }
    }

    /// The key store to pass as `api::Ports::keys`: static keys, then the registry's live
    /// keys (so keys created on `/api/v1` authenticate on `/v2` at once).
    pub fn key_store(&self) -> Arc<dyn ApiKeyStore> {
        self.keys.clone()
    }

    /// Every view's health, in start order.
    pub fn health(&self) -> Vec<ViewHealth> {
        self.followers.health()
    }

    /// Whether every view has caught up since start.
    pub fn ready(&self) -> bool {
        self.followers.ready()
    }

    /// Stops the follower threads and waits for them.
    pub fn shutdown(self) {
        self.followers.shutdown();
    }
}
