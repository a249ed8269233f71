//! Tradeflow's HTTP API (axum).
//!
//! - [`ops`]: operational endpoints (`/metrics`, `/healthz`) served by every process.
//! - The Alpaca-compatible Trading API v2: [`app`] builds the router from an [`AppState`];
//!   one module per resource, each with its own `router()`: [`orders`], [`account`],
//!   [`positions`], [`clock`], [`assets`]. Errors are [`ApiError`] (Alpaca's
//!   `{"code", "message"}` shape). Authentication and roles: [`auth`].
//! - [`ports`]: the traits the Kafka side will implement (command sink, order outcomes,
//!   read views, API keys, clock); [`memory`]: in-memory implementations (tests, demo).
//!
//! Invariants: no Kafka client here; money and quantities are `Decimal` in Rust and exact
//! JSON strings on the wire (never floats); handlers read time only from the `Clock` port.
//! Not yet: a configured request body limit layer (axum's default 2 MB applies and answers
//! 413 in Alpaca's shape), CORS, rate limits, audit log.

pub mod account;
pub mod assets;
pub mod auth;
pub mod clock;
pub mod error;
pub mod format;
pub mod memory;
pub mod ops;
pub mod orders;
pub mod ports;
pub mod positions;

#[cfg(test)]
mod authz_tests;
#[cfg(test)]
mod testkit;

pub use clock::{Session, TradingCalendar};
pub use error::ApiError;

use axum::Router;
use ports::{AccountView, ApiKeyStore, AssetView, Clock, CommandSink, OrderOutcomes, OrderView, PositionView};
use std::sync::Arc;
use std::time::Duration;

/// Tunables.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// How long `POST /v2/orders` waits for the accepted / rejected event before answering
    /// with the pending order (`pending_new`).
    pub outcome_wait: Duration,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig { outcome_wait: Duration::from_secs(2) }
    }
}

/// The ports an [`AppState`] is built from.
#[derive(Clone)]
pub struct Ports {
    pub commands: Arc<dyn CommandSink>,
    pub outcomes: Arc<dyn OrderOutcomes>,
    pub accounts: Arc<dyn AccountView>,
    pub positions: Arc<dyn PositionView>,
    pub orders: Arc<dyn OrderView>,
    pub assets: Arc<dyn AssetView>,
    pub keys: Arc<dyn ApiKeyStore>,
    pub clock: Arc<dyn Clock>,
}

impl Ports {
    /// Every data port from one in-memory backend.
    pub fn memory(backend: Arc<memory::MemoryBackend>, keys: Arc<dyn ApiKeyStore>, clock: Arc<dyn Clock>) -> Ports {
        Ports {
            commands: backend.clone(),
            outcomes: backend.clone(),
            accounts: backend.clone(),
            positions: backend.clone(),
            orders: backend.clone(),
            assets: backend,
            keys,
            clock,
        }
    }
}

/// Shared state of the trading API.
#[derive(Clone)]
pub struct AppState {
    pub ports: Ports,
    pub calendar: Arc<TradingCalendar>,
    pub config: ApiConfig,
    /// Orders this process submitted that the views may not show yet.
    pub(crate) submitted: Arc<orders::Submitted>,
}

impl AppState {
    pub fn new(ports: Ports, calendar: TradingCalendar, config: ApiConfig) -> AppState {
        AppState { ports, calendar: Arc::new(calendar), config, submitted: Arc::default() }
    }
}

/// The Trading API v2 router.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(orders::router())
        .merge(account::router())
        .merge(positions::router())
        .merge(clock::router())
        .merge(assets::router())
        .fallback(|| async { ApiError::NotFound("endpoint not found".into()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .with_state(state)
}
