//! Tradeflow's HTTP API (axum).
//!
//! - [`ops`]: operational endpoints (`/metrics`, `/healthz`) served by every process.
//! - The Alpaca-compatible Trading API v2: [`app`] builds the router from an [`AppState`];
//!   one module per resource, each with its own `router()`: [`orders`], [`account`],
//!   [`positions`], [`clock`], [`assets`], and the Tradeflow extension [`portfolio`]
//!   (`GET /v2/account/portfolio`). Errors are [`ApiError`] (Alpaca's
//!   `{"code", "message"}` shape). Authentication and roles: [`auth`].
//! - [`ports`]: the traits the Kafka side will implement (command sink, order outcomes,
//!   read views, API keys, clock, live order events); [`memory`]: in-memory implementations
//!   (tests, demo).
//! - [`stream`]: `trade_updates` over Alpaca's WebSocket protocol (`GET /stream`) and as
//!   Server-Sent Events (`GET /v2/events/trades`).
//!
//! Invariants: no Kafka client here; money and quantities are `Decimal` in Rust and exact
//! JSON strings on the wire (never floats); handlers read time only from the `Clock` port.
//! - The platform API `/api/v1` ([`v1`]: users, sessions with JWTs ([`jwt`]), API keys,
//!   funding, administration; its ports in [`v1::ports`], in memory in
//!   [`platform_memory`]), the audit log's hash chain ([`audit`]), request limits and CORS
//!   ([`limits`], configured in [`ApiConfig::limits`]) and `GET /openapi.json`
//!   ([`openapi`]). `/api/v1` needs [`AppState::with_platform`] (else 503).
//! - Account activities ([`activities`], port [`ports::ActivityView`]) and watchlists
//!   ([`watchlists`], port [`ports::WatchlistStore`]): enabled by
//!   [`AppState::with_activities`] / [`AppState::with_watchlists`] (else 503).

pub mod account;
pub mod activities;
pub mod assets;
pub mod audit;
pub mod auth;
pub mod clock;
pub mod error;
pub mod format;
pub mod jwt;
pub mod limits;
pub mod memory;
pub mod openapi;
pub mod ops;
pub mod orders;
pub mod platform_memory;
pub mod portfolio;
pub mod ports;
pub mod positions;
pub mod reports;
pub mod stream;
pub mod v1;
pub mod watchlists;

#[cfg(test)]
mod authz_tests;
#[cfg(test)]
mod testkit;

pub use clock::{Session, TradingCalendar};
pub use error::ApiError;

use axum::Router;
use ports::{AccountView, ApiKeyStore, AssetView, Clock, CommandSink, OrderEventFeed, OrderOutcomes, OrderView, PortfolioView, PositionView};
use std::sync::Arc;
use std::time::Duration;

/// Tunables.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// How long `POST /v2/orders` waits for the accepted / rejected event before answering
    /// with the pending order (`pending_new`).
    pub outcome_wait: Duration,
    /// Body size, rate limits and CORS of every route.
    pub limits: limits::LimitsConfig,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig { outcome_wait: Duration::from_secs(2), limits: limits::LimitsConfig::default() }
    }
}

/// The ports an [`AppState`] is built from.
#[derive(Clone)]
pub struct Ports {
    pub commands: Arc<dyn CommandSink>,
    pub outcomes: Arc<dyn OrderOutcomes>,
    pub accounts: Arc<dyn AccountView>,
    pub positions: Arc<dyn PositionView>,
    /// Portfolio summaries for `GET /v2/account/portfolio` ([`portfolio`]).
    pub portfolios: Arc<dyn PortfolioView>,
    pub orders: Arc<dyn OrderView>,
    pub assets: Arc<dyn AssetView>,
    pub keys: Arc<dyn ApiKeyStore>,
    pub clock: Arc<dyn Clock>,
    /// Live order events for the trade-updates streams ([`stream`]).
    pub feed: Arc<dyn OrderEventFeed>,
}

impl Ports {
    /// Every data port from one in-memory backend.
    pub fn memory(backend: Arc<memory::MemoryBackend>, keys: Arc<dyn ApiKeyStore>, clock: Arc<dyn Clock>) -> Ports {
        Ports {
            commands: backend.clone(),
            outcomes: backend.clone(),
            accounts: backend.clone(),
            positions: backend.clone(),
            portfolios: backend.clone(),
            orders: backend.clone(),
            feed: backend.clone(),
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
    /// The platform API's ports and settings; `None`: `/api/v1` answers 503, no audit log.
    pub platform: Option<Arc<v1::Platform>>,
    /// Rate limiters (built from `config.limits`, shared by clones of this state).
    pub(crate) limiters: Arc<limits::Limiters>,
    /// Account activities ([`activities`]); `None`: those endpoints answer 503.
    pub activities: Option<Arc<dyn ports::ActivityView>>,
    /// Watchlists ([`watchlists`]); `None`: those endpoints answer 503.
    pub watchlists: Option<Arc<dyn ports::WatchlistStore>>,
    /// ClickHouse reports ([`reports`]); `None`: those endpoints answer 503.
    pub reports: Option<Arc<dyn ports::ReportSource>>,
    /// Open WebSocket streams (shared by clones), so a server can wait for their close frames.
    pub streams: Arc<stream::OpenStreams>,
}

impl AppState {
    pub fn new(ports: Ports, calendar: TradingCalendar, config: ApiConfig) -> AppState {
        let limiters = Arc::new(limits::Limiters::new(&config.limits));
        AppState { ports, calendar: Arc::new(calendar), config, submitted: Arc::default(), platform: None, limiters, activities: None, watchlists: None, reports: None, streams: Arc::default() }
    }

    /// Adds the platform API. `ports.api_keys` must write to the backend behind
    /// `self.ports.keys`.
    pub fn with_platform(mut self, ports: v1::PlatformPorts, jwt: jwt::JwtConfig) -> AppState {
        self.platform = Some(Arc::new(v1::Platform { ports, jwt }));
        self
    }

    /// Serves `/v2/account/activities` from `view`.
    pub fn with_activities(mut self, view: Arc<dyn ports::ActivityView>) -> AppState {
        self.activities = Some(view);
        self
    }

    /// Serves the `/api/v1` reports ([`reports`]) from `source`.
    pub fn with_reports(mut self, source: Arc<dyn ports::ReportSource>) -> AppState {
        self.reports = Some(source);
        self
    }

    /// Serves `/v2/watchlists` from `store`.
    pub fn with_watchlists(mut self, store: Arc<dyn ports::WatchlistStore>) -> AppState {
        self.watchlists = Some(store);
        self
    }
}

/// The router: Trading API v2, platform API v1, `/openapi.json`, with the audit, limit and
/// CORS layers.
pub fn app(state: AppState) -> Router {
    let (limits, limiters) = (state.config.limits.clone(), state.limiters.clone());
    let router = Router::new()
        .merge(orders::router())
        .merge(account::router())
        .merge(positions::router())
        .merge(portfolio::router())
        .merge(clock::router())
        .merge(assets::router())
        .merge(stream::router())
        .merge(activities::router())
        .merge(watchlists::router())
        .merge(v1::router())
        .merge(reports::router())
        .route("/openapi.json", axum::routing::get(openapi::serve))
        .fallback(|| async { ApiError::NotFound("endpoint not found".into()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(axum::middleware::from_fn_with_state(state.clone(), v1::audit_layer::audit))
        .with_state(state);
    limits::apply(router, &limits, limiters)
}
