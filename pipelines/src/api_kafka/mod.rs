//! The trading API's ports on Kafka: what `tradeflow api` serves `api::app` from.
//!
//! - [`sink::KafkaCommandSink`]: `CommandSink` (idempotent producer on `orders.commands`).
//! - [`orders::OrdersView`]: `OrderView`, `OrderOutcomes` and `OrderEventFeed` from
//!   `orders.commands` + `orders.events`.
//! - [`snapshots`]: `AccountView` (`accounts.snapshots`), `PositionView`
//!   (`positions.snapshots`), `PortfolioView` (`portfolios.snapshots`), `AssetView` (`instruments.commands` + `book.depth`).
//! - [`follow`]: the consumer loop behind every view (`read_committed`, all partitions
//!   from the beginning, no group commits) and [`ViewHealth`] (readiness and lag).
//!
//! Every topic name carries the `--topic-prefix` like the pipelines' (`catalog::prefixed`).
//! Invariants: views hold the whole (compacted) topic in memory; every process rebuilds
//! its views from the beginning at start and answers `Unavailable` (503) until each view
//! has caught up with the ends it observed at start. Nothing here commits offsets or
//! joins a consumer group, so any number of API processes can run side by side.

pub mod activities;
pub mod follow;
pub mod orders;
pub mod platform;
pub mod reports;
pub mod sink;
pub mod snapshots;
pub mod table;
pub mod watchlists;

pub use follow::{PartitionHealth, ViewHealth};

use crate::catalog::prefixed;
use crate::registry::Registry;
use api::ports::{ApiKeyStore, Clock};
use follow::{Decoder, Fold, Source};
use schemas::Codec;
use std::sync::Arc;

/// Where the views and the sink connect.
#[derive(Clone, Debug, Default)]
pub struct KafkaApiConfig {
    pub brokers: String,
    /// Prefix of every topic name (test isolation), as `tradeflow run --topic-prefix`.
    pub topic_prefix: String,
    /// Extra librdkafka settings for every client.
    pub extra: Vec<(String, String)>,
}

/// Failure to start the Kafka side of the API.
#[derive(Debug, thiserror::Error)]
pub enum ApiKafkaError {
    #[error("creating the order command producer: {0}")]
    Producer(#[from] rdkafka::error::KafkaError),
}

/// The views, the command sink and their follower threads.
pub struct KafkaBackend {
    pub orders: Arc<orders::OrdersView>,
    pub accounts: Arc<snapshots::AccountsView>,
    pub positions: Arc<snapshots::PositionsView>,
    pub portfolios: Arc<snapshots::PortfoliosView>,
    pub assets: Arc<snapshots::AssetsView>,
    pub commands: Arc<sink::KafkaCommandSink>,
    pub activities: Arc<activities::ActivitiesView>,
    pub watchlists: Arc<watchlists::KafkaWatchlists>,
    followers: follow::Followers,
}

impl KafkaBackend {
    /// Creates the producer and starts one follower thread per view. Missing topics or an
    /// unreachable broker are not errors here: the view retries and reports it in its health.
    pub fn start(cfg: &KafkaApiConfig, codec: Arc<Codec>, registry: Registry, rt: tokio::runtime::Handle) -> Result<KafkaBackend, ApiKafkaError> {
        let t = |name: &str| prefixed(&cfg.topic_prefix, name).to_string();
        let commands = Arc::new(sink::KafkaCommandSink::new(&cfg.brokers, &cfg.extra, codec.clone(), t("orders.commands"))?);
        let watchlists = Arc::new(watchlists::KafkaWatchlists::new(&cfg.brokers, &cfg.extra, codec.clone(), watchlists::topic(&cfg.topic_prefix))?);
        let activities = Arc::new(activities::ActivitiesView::default());
        let decoder = Decoder { codec, registry, rt };
        let source = Source { brokers: cfg.brokers.clone(), extra: cfg.extra.clone() };
        let orders = Arc::new(orders::OrdersView::default());
        let accounts = Arc::new(snapshots::AccountsView::default());
        let positions = Arc::new(snapshots::PositionsView::default());
        let portfolios = Arc::new(snapshots::PortfoliosView::default());
        let assets = Arc::new(snapshots::AssetsView::default());
        // Topic order matters: it is the index each Fold receives.
        let views: [(&'static str, Vec<String>, Arc<dyn Fold>); 7] = [
            ("orders", vec![t("orders.commands"), t("orders.events")], orders.clone()),
            ("accounts", vec![t("accounts.snapshots")], accounts.clone()),
            ("positions", vec![t("positions.snapshots")], positions.clone()),
            ("portfolios", vec![t("portfolios.snapshots")], portfolios.clone()),
            ("assets", vec![t("instruments.commands"), t("book.depth")], assets.clone()),
            ("activities", activities::topics(&cfg.topic_prefix), activities.clone()),
            ("watchlists", vec![watchlists::topic(&cfg.topic_prefix)], watchlists.clone()),
        ];
        let followers = follow::Followers::start(&source, &decoder, views);
        Ok(KafkaBackend { orders, accounts, positions, portfolios, assets, commands, activities, watchlists, followers })
    }

    /// The API's ports on these views.
    pub fn ports(&self, keys: Arc<dyn ApiKeyStore>, clock: Arc<dyn Clock>) -> api::Ports {
        api::Ports {
            commands: self.commands.clone(),
            outcomes: self.orders.clone(),
            accounts: self.accounts.clone(),
            positions: self.positions.clone(),
            portfolios: self.portfolios.clone(),
            orders: self.orders.clone(),
            assets: self.assets.clone(),
            keys,
            clock,
            feed: self.orders.clone(),
        }
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
