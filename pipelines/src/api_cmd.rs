//! `tradeflow api`: the Alpaca-compatible Trading API served from Kafka.
//!
//! Serves `api::app` (orders, account, positions, clock, assets, the `trade_updates`
//! WebSocket at `/stream` and SSE at `/v2/events/trades`) on the ports of
//! `pipelines::api_kafka`, plus:
//! - `GET /healthz`: 200 while the process runs;
//! - `GET /readyz`: 200 once every view caught up with the topic ends it observed at
//!   start, else 503; the body lists every view's readiness and lag either way;
//! - `GET /metrics`: Prometheus text (`tradeflow_api_view_ready`, `tradeflow_api_view_lag`,
//!   `tradeflow_api_view_records_total`, per view).
//!
//! API keys come from `--keys FILE`, a JSON list of
//! `{"key_id", "secret" | "secret_hash", "user_id", "account_id", "role"}` (role: `trader`,
//! `analyst` or `admin`). Plain secrets are hashed (argon2id) at load and dropped; a
//! `secret_hash` must be an argon2id PHC string (`api::auth::hash_secret`'s format).
//!
//! Sessions for `/v2/clock` come from the trading calendar (`--calendar`, the matching
//! pipeline's file format; default US equities), each opening at 09:30 local time, from a
//! week before start to `CALENDAR_DAYS` after it.
//!
//! SIGTERM / Ctrl-C: stop accepting connections, close the WebSocket and SSE streams
//! (close code 1001 / end of the SSE body), let in-flight requests finish (at most
//! `SHUTDOWN_GRACE`), stop the view threads, exit 0.

use anyhow::{bail, Context};
use api::auth::hash_secret;
use api::ports::{ApiKeyStore, PortError, Role, StoredKey, SystemClock};
use api::{ApiConfig, AppState, Session, TradingCalendar};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use operators::matching::{CalendarRules, Date};
use pipelines::api_kafka::platform::{PlatformBackend, PlatformOptions};
use pipelines::api_kafka::{KafkaApiConfig, KafkaBackend};
use pipelines::registry::Registry;
use serde::Deserialize;
use std::collections::HashMap;
use std::future::IntoFuture;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How long in-flight requests may take to finish after SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Days of sessions compiled for `/v2/clock` after start.
const CALENDAR_DAYS: i64 = 400;

#[derive(clap::Args)]
pub struct ApiArgs {
    #[arg(long, env = "KAFKA_BROKERS", default_value = "127.0.0.1:19092")]
    brokers: String,
    /// `embedded` or the URL of a Confluent-compatible schema registry.
    #[arg(long, env = "SCHEMA_REGISTRY_URL", default_value = "embedded")]
    registry: String,
    /// Prefix of every topic (as the pipelines' `--topic-prefix`).
    #[arg(long, default_value = "")]
    topic_prefix: String,
    /// HTTP listen address (port 0 = any free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:8090")]
    http: String,
    /// API keys file (JSON list; see `tradeflow api --help` and the module doc). Required
    /// without `--jwt-secret`; with it, keys can also be created on `/api/v1/api-keys`.
    #[arg(long)]
    keys: Option<PathBuf>,
    /// Trading-calendar file (as `tradeflow run matching --calendar`); default US equities.
    #[arg(long)]
    calendar: Option<PathBuf>,
    /// How long `POST /v2/orders` waits for the order's outcome before answering `pending_new`.
    #[arg(long, default_value_t = 5000)]
    outcome_wait_ms: u64,
    /// Extra librdkafka settings, `key=value` (repeatable).
    #[arg(long = "kafka-config", value_parser = crate::parse_kv)]
    kafka_config: Vec<(String, String)>,
    #[command(flatten)]
    limits: RateLimitArgs,
    /// HS256 secret for the platform API's (`/api/v1`) JWTs (at least 32 bytes). Without it
    /// `/api/v1` answers 503 and only `/v2` with `--keys` is served.
    #[arg(long, env = "TRADEFLOW_JWT_SECRET", hide_env_values = true)]
    jwt_secret: Option<String>,
    /// ClickHouse HTTP URL of the analytics sink: serves the reports on `/api/v1`
    /// (statements, capital gains, admin activity). Without it those answer 503.
    #[arg(long, env = "CLICKHOUSE_URL")]
    clickhouse_url: Option<String>,
    /// ClickHouse database of the reports (as `tradeflow report --database`).
    #[arg(long, default_value = "tradeflow")]
    clickhouse_database: String,
}

/// Request rate limits of the API (429 with `Retry-After` beyond them).
#[derive(clap::Args, Clone, Debug)]
pub struct RateLimitArgs {
    /// Sustained requests per second per credential (burst 4x); 0 = no per-credential limit.
    #[arg(long, default_value_t = 10)]
    pub rate_limit_per_key: u32,
    /// Sustained requests per second per client IP (burst 2x); 0 = no per-IP limit.
    #[arg(long, default_value_t = 50)]
    pub rate_limit_per_ip: u32,
}

impl RateLimitArgs {
    /// The API configuration with these limits and `outcome_wait`.
    pub fn config(&self, outcome_wait: Duration) -> ApiConfig {
        use std::num::NonZeroU32;
        let limit = |per_sec: u32, burst_factor: u32| {
            NonZeroU32::new(per_sec).map(|n| {
                let burst = NonZeroU32::new(per_sec.saturating_mul(burst_factor)).unwrap_or(n);
                api::limits::RateLimit::per_second(n, burst)
            })
        };
        let mut config = ApiConfig { outcome_wait, ..ApiConfig::default() };
        config.limits.per_key = limit(self.rate_limit_per_key, 4);
        config.limits.per_ip = limit(self.rate_limit_per_ip, 2);
        config
    }
}

// ---------------------------------------------------------------------------------------
// Keys file

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum FileRole {
    Trader,
    Analyst,
    Admin,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileKey {
    key_id: String,
    secret: Option<String>,
    secret_hash: Option<String>,
    user_id: String,
    account_id: String,
    role: FileRole,
}

/// API keys loaded from a file; only hashes are kept.
pub struct FileKeyStore(HashMap<String, StoredKey>);

impl ApiKeyStore for FileKeyStore {
    fn key(&self, key_id: &str) -> Result<Option<StoredKey>, PortError> {
        Ok(self.0.get(key_id).cloned())
    }
}

/// Reads and validates a keys file; every error names the file and the entry.
pub fn load_keys(path: &Path) -> anyhow::Result<FileKeyStore> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading keys file {}", path.display()))?;
    let entries: Vec<FileKey> = serde_json::from_str(&text).with_context(|| {
        format!(
            "keys file {} is not a JSON list of {{\"key_id\", \"secret\" or \"secret_hash\", \"user_id\", \"account_id\", \"role\": trader|analyst|admin}}",
            path.display()
        )
    })?;
    if entries.is_empty() {
        bail!("keys file {} holds no keys", path.display());
    }
    let mut keys = HashMap::new();
    for (i, k) in entries.into_iter().enumerate() {
        let at = || format!("keys file {}, entry {i} ({:?})", path.display(), k.key_id);
        if k.key_id.is_empty() || k.user_id.is_empty() || k.account_id.is_empty() {
            bail!("{}: key_id, user_id and account_id must not be empty", at());
        }
        let secret_hash = match (&k.secret, &k.secret_hash) {
            (Some(s), None) if !s.is_empty() => hash_secret(s),
            (None, Some(h)) if h.starts_with("$argon2id$") => h.clone(),
            (None, Some(_)) => bail!("{}: secret_hash must be an argon2id PHC string", at()),
            _ => bail!("{}: exactly one of a non-empty secret or secret_hash is required", at()),
        };
        let role = match k.role {
            FileRole::Trader => Role::Trader,
            FileRole::Analyst => Role::Analyst,
            FileRole::Admin => Role::Admin,
        };
        let stored = StoredKey { key_id: k.key_id.clone(), secret_hash, user_id: k.user_id.clone(), account_id: k.account_id.clone(), role };
        if keys.insert(k.key_id.clone(), stored).is_some() {
            bail!("{}: duplicate key_id", at());
        }
    }
    Ok(FileKeyStore(keys))
}

// ---------------------------------------------------------------------------------------
// Calendar

/// Sessions from a week before `now_ns` to [`CALENDAR_DAYS`] after, opening 09:30 local.
fn sessions(rules: &CalendarRules, now_ns: i64) -> anyhow::Result<TradingCalendar> {
    const DAY_NS: i64 = 86_400_000_000_000;
    let today = now_ns.div_euclid(DAY_NS);
    let mut out = Vec::new();
    for day in today - 7..=today + CALENDAR_DAYS {
        let date = Date::from_days(day);
        let Some(close_ns) = rules.close_on(date) else { continue };
        let offset = rules.offset_on(date).minutes();
        let open_ns = day * DAY_NS + (9 * 60 + 30 - offset) * 60_000_000_000;
        if close_ns > open_ns {
            out.push(Session { open_ns, close_ns, utc_offset_minutes: offset as i32 });
        }
    }
    TradingCalendar::new(out).context("compiling the trading calendar's sessions")
}

// ---------------------------------------------------------------------------------------
// Health and metrics

fn render_metrics(backend: &KafkaBackend) -> String {
    let health = backend.health();
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, value: &dyn Fn(&pipelines::api_kafka::ViewHealth) -> String| {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        for h in &health {
            let metric = if kind == "counter" { format!("{name}_total") } else { name.to_string() };
            out.push_str(&format!("{metric}{{view=\"{}\"}} {}\n", h.view, value(h)));
        }
    };
    family("tradeflow_api_view_ready", "gauge", "1 once the view caught up with the ends observed at start", &|h| u8::from(h.ready).to_string());
    family("tradeflow_api_view_lag", "gauge", "Records behind the latest observed topic ends", &|h| h.lag.to_string());
    family("tradeflow_api_view_records", "counter", "Records applied since start", &|h| h.records.to_string());
    out.push_str("# EOF\n");
    out
}

fn ops_router(backend: Arc<KafkaBackend>, platform: Option<Arc<PlatformBackend>>) -> Router {
    let m = backend.clone();
    let ready = get(move || {
        let (b, p) = (backend.clone(), platform.clone());
        async move {
            let ready = b.ready() && p.as_ref().is_none_or(|p| p.ready());
            let mut views = b.health();
            if let Some(p) = &p {
                views.extend(p.health());
            }
            let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
            (status, Json(serde_json::json!({ "ready": ready, "views": views }))).into_response()
        }
    });
    api::ops::router(Arc::new(move || render_metrics(&m))).route("/readyz", ready)
}

// ---------------------------------------------------------------------------------------

pub async fn run(a: ApiArgs) -> anyhow::Result<()> {
    let keys = Arc::new(match (&a.keys, &a.jwt_secret) {
        (Some(path), _) => load_keys(path)?,
        (None, Some(_)) => FileKeyStore(HashMap::new()),
        (None, None) => bail!("--keys FILE is required without --jwt-secret (no other way to authenticate)"),
    });
    let rules = pipelines::calendar::load(a.calendar.as_deref())?;
    let registry = Registry::from_arg(&a.registry);
    let codec = Arc::new(registry.codec().await.context("registering schemas")?);
    let cfg = KafkaApiConfig { brokers: a.brokers.clone(), topic_prefix: a.topic_prefix.clone(), extra: a.kafka_config.clone() };
    let jwt = a
        .jwt_secret
        .as_deref()
        .map(|s| api::jwt::JwtConfig::new(s.as_bytes(), "tradeflow", "tradeflow-api"))
        .transpose()
        .context("--jwt-secret")?;
    let platform = jwt.is_some();
    let reports = match &a.clickhouse_url {
        Some(url) => {
            let r = pipelines::api_kafka::reports::ClickHouseReports::new(url, &a.clickhouse_database).context("--clickhouse-url / --clickhouse-database")?;
            Some(Arc::new(r) as Arc<dyn api::ports::ReportSource>)
        }
        None => None,
    };
    let api = KafkaApi::start(&cfg, codec, registry, keys, &rules, a.limits.config(Duration::from_millis(a.outcome_wait_ms)), jwt, reports)?;

    let listener = tokio::net::TcpListener::bind(&a.http).await.with_context(|| format!("binding {}", a.http))?;
    let local = listener.local_addr()?;
    let keys_file = a.keys.as_ref().map_or_else(|| "none".to_string(), |p| p.display().to_string());
    println!("api: http://{local}/v2 (keys file: {keys_file}, topic prefix {:?}, brokers {})", a.topic_prefix, a.brokers);
    if platform {
        println!("api: platform API at http://{local}/api/v1 (users, keys, sessions and audit on Kafka)");
    } else {
        println!("api: no --jwt-secret: /api/v1 answers 503 (only /v2 with --keys)");
    }
    match &a.clickhouse_url {
        Some(url) => println!("api: reports from ClickHouse at {url} (database {})", a.clickhouse_database),
        None => println!("api: no --clickhouse-url: the /api/v1 reports answer 503"),
    }
    api.serve(listener, signal()).await?;
    println!("stopped");
    Ok(())
}

/// The Kafka-backed Trading API, started but not yet listening: what `tradeflow api` serves
/// and `tradeflow demo` serves in-process (the same views, ports and routes).
pub struct KafkaApi {
    /// The views and the order command sink.
    pub backend: Arc<KafkaBackend>,
    /// The `/api/v1` ports on Kafka (with a JWT configuration only).
    pub platform: Option<Arc<PlatformBackend>>,
    streams: Arc<api::stream::OpenStreams>,
    router: Router,
}

impl KafkaApi {
    /// Starts the views (follower threads) and builds `api::app` plus `/readyz` and
    /// `/metrics` on them. `rules` gives the `/v2/clock` sessions; `reports` serves the
    /// `/api/v1` reports (else 503).
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        cfg: &KafkaApiConfig,
        codec: Arc<schemas::Codec>,
        registry: Registry,
        keys: Arc<dyn ApiKeyStore>,
        rules: &CalendarRules,
        config: ApiConfig,
        jwt: Option<api::jwt::JwtConfig>,
        reports: Option<Arc<dyn api::ports::ReportSource>>,
    ) -> anyhow::Result<KafkaApi> {
        let clock = Arc::new(SystemClock);
        let calendar = sessions(rules, api::ports::Clock::now_ns(clock.as_ref()))?;
        let platform = match &jwt {
            Some(_) => {
                let options = PlatformOptions { static_keys: Some(keys.clone()), audit_transactional_id: None };
                Some(Arc::new(PlatformBackend::start(cfg, codec.clone(), registry.clone(), tokio::runtime::Handle::current(), options)?))
            }
            None => None,
        };
        let keys = platform.as_ref().map_or(keys, |p| p.key_store());
        let backend = Arc::new(KafkaBackend::start(cfg, codec, registry, tokio::runtime::Handle::current())?);
        let ports = backend.ports(keys, clock);
        let mut state = AppState::new(ports, calendar, config)
            .with_activities(backend.activities.clone())
            .with_watchlists(backend.watchlists.clone());
        if let (Some(p), Some(jwt)) = (&platform, jwt) {
            state = state.with_platform(p.ports(), jwt);
        }
        if let Some(r) = reports {
            state = state.with_reports(r);
        }
        let streams = state.streams.clone();
        let router = api::app(state).merge(ops_router(backend.clone(), platform.clone()));
        Ok(KafkaApi { backend, platform, streams, router })
    }

    /// Serves on `listener` until `stop` resolves; then closes the WebSocket and SSE
    /// streams, lets in-flight requests finish (at most [`SHUTDOWN_GRACE`]) and stops the
    /// views. Drop every other clone of [`KafkaApi::backend`] first, or the view threads
    /// are left running (logged).
    pub async fn serve(self, listener: tokio::net::TcpListener, stop: impl std::future::Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let KafkaApi { backend, platform, streams, router } = self;
        tracing::info!(local = %listener.local_addr()?, "api listening");
        let orders = backend.orders.clone();
        let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
        // With the peer address, so the per-IP rate limits (`api::limits`) apply.
        let app = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            stop.await;
            // Open streams never end by themselves: close them so in-flight requests can finish.
            orders.close_feed();
            let _ = stopping_tx.send(());
        });
        tokio::select! {
            r = serve.into_future() => r.context("serving HTTP")?,
            _ = async {
                let _ = stopping_rx.await;
                tokio::time::sleep(SHUTDOWN_GRACE).await;
            } => tracing::warn!("connections still open {SHUTDOWN_GRACE:?} after the shutdown request: leaving them"),
        }
        // Upgraded WebSockets are not connections axum waits for: let them send their 1001.
        if !streams.wait_idle(SHUTDOWN_GRACE).await {
            tracing::warn!(open = streams.open(), "streams still open {SHUTDOWN_GRACE:?} after the shutdown request");
        }
        tracing::info!("api stopped accepting connections; stopping the views");
        match Arc::try_unwrap(backend) {
            Ok(b) => tokio::task::spawn_blocking(move || b.shutdown()).await?,
            Err(_) => tracing::warn!("views still referenced at shutdown: not joined"),
        }
        if let Some(p) = platform {
            match Arc::try_unwrap(p) {
                Ok(p) => tokio::task::spawn_blocking(move || p.shutdown()).await?,
                Err(_) => tracing::warn!("platform views still referenced at shutdown: not joined"),
            }
        }
        Ok(())
    }
}

/// Resolves on SIGTERM or Ctrl-C.
async fn signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "no SIGTERM handler: stop with Ctrl-C");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {},
        _ = tokio::signal::ctrl_c() => {},
    }
    tracing::info!("shutdown requested");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("tradeflow-keys-{}.json", rand::random::<u64>()));
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn keys_files_load_hashed_and_bad_ones_say_why() {
        let p = write(r#"[{"key_id": "K1", "secret": "s1", "user_id": "u", "account_id": "a", "role": "trader"}]"#);
        let store = load_keys(&p).unwrap();
        let k = store.key("K1").unwrap().unwrap();
        assert!(k.secret_hash.starts_with("$argon2id$") && api::auth::verify_secret("s1", &k.secret_hash));
        assert_eq!(k.role, Role::Trader);
        for (bad, why) in [
            ("{}", "not a JSON list"),
            ("[]", "holds no keys"),
            (r#"[{"key_id": "K", "secret": "s", "user_id": "u", "account_id": "a", "role": "boss"}]"#, "not a JSON list"),
            (r#"[{"key_id": "K", "user_id": "u", "account_id": "a", "role": "admin"}]"#, "exactly one of"),
            (r#"[{"key_id": "K", "secret_hash": "plain", "user_id": "u", "account_id": "a", "role": "admin"}]"#, "argon2id PHC"),
            (r#"[{"key_id": "K", "secret": "s", "user_id": "u", "account_id": "a", "role": "admin"},
                 {"key_id": "K", "secret": "t", "user_id": "u", "account_id": "a", "role": "admin"}]"#, "duplicate key_id"),
        ] {
            let err = format!("{:#}", load_keys(&write(bad)).err().unwrap_or_else(|| panic!("{bad} loaded")));
            assert!(err.contains(why), "{bad}: {err}");
        }
        assert!(format!("{:#}", load_keys(Path::new("/nonexistent/keys.json")).err().unwrap()).contains("reading keys file"));
    }

    #[test]
    fn sessions_open_at_half_past_nine_new_york() {
        // Friday 2026-11-20 12:00 UTC; EST (-05:00): 14:30..21:00 UTC.
        let now = 1_795_176_000_000_000_000;
        let cal = sessions(&CalendarRules::us_equities(), now).unwrap();
        let c = cal.clock_at(now).unwrap();
        assert!(!c.is_open);
        assert_eq!((c.next_open_ns - now) / 1_000_000_000, 2 * 3600 + 30 * 60);
        assert_eq!((c.next_close_ns - now) / 1_000_000_000, 9 * 3600);
        assert_eq!(c.utc_offset_minutes, -300);
    }
}
