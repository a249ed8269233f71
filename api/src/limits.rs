//! Request limits of every route (`/v2`, `/api/v1`, `/openapi.json`): body size, rate
//! limits per client IP and per credential, and CORS. Configured by [`LimitsConfig`]
//! (`ApiConfig::limits`).
//!
//! - Body limit: `tower-http`'s `RequestBodyLimitLayer` (rejects on `Content-Length` at
//!   once, and caps streamed bodies) plus axum's `DefaultBodyLimit` at the same size, so
//!   extractors agree. Every 413 is answered in the API's error shape
//!   (`{"code": 41310000, "message": "request body too large"}`).
//! - Rate limits: GCRA from the `governor` crate (keyed limiters, std only). Per IP: the
//!   TCP peer (`ConnectInfo<SocketAddr>`; serve with
//!   `into_make_service_with_connect_info`), or the first address of
//!   `client_ip_header` when configured behind a proxy that sets it. A request with
//!   neither is not IP-limited (one shared bucket would let one client lock out all); the
//!   first such request logs a warning, since it means the server was started without
//!   connect info. Per credential: the SHA-256 of the presented credential
//!   (APCA key id and secret, or the `Authorization` header), so only holders of a secret
//!   share its bucket and nobody can exhaust another's budget by sending their key id.
//!   A refused request is answered 429 with `Retry-After` (whole seconds, at least 1) and
//!   is not audited (a flood must not amplify into audit writes). Idle buckets are pruned
//!   every [`PRUNE_EVERY`] requests.
//! - CORS: `tower-http`'s `CorsLayer`, only for the configured origins (none: no CORS
//!   headers, browsers refuse cross-origin calls). It is the outermost layer, so
//!   preflights are answered before authentication and rate limits.

use crate::error::ApiError;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use sha2::{Digest, Sha256};
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Idle rate-limit buckets are dropped once per this many requests.
pub const PRUNE_EVERY: u64 = 4096;

/// A GCRA quota: `burst` requests at once, refilled at one per `period`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub period: Duration,
    pub burst: NonZeroU32,
}

impl RateLimit {
    /// `per_second` sustained with a burst of `burst`.
    pub fn per_second(per_second: NonZeroU32, burst: NonZeroU32) -> RateLimit {
        RateLimit { period: Duration::from_secs(1) / per_second.get(), burst }
    }

    fn quota(&self) -> Quota {
        Quota::with_period(self.period.max(Duration::from_nanos(1))).expect("non-zero period").allow_burst(self.burst)
    }
}

/// CORS settings.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct CorsConfig {
    /// Exact origins (`https://app.example.com`). Empty: CORS off.
    pub allowed_origins: Vec<String>,
    /// How long browsers may cache a preflight answer.
    pub max_age: Duration,
}

/// Limits of the whole router.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LimitsConfig {
    /// Largest request body, bytes.
    pub body_limit_bytes: usize,
    /// `None`: no per-IP limit.
    pub per_ip: Option<RateLimit>,
    /// `None`: no per-credential limit.
    pub per_key: Option<RateLimit>,
    /// Header holding the client address (e.g. `x-real-ip`) when a trusted proxy sets it;
    /// never set this when clients reach the API directly (they could pick their bucket).
    pub client_ip_header: Option<HeaderName>,
    pub cors: CorsConfig,
}

impl Default for LimitsConfig {
    /// 2 MiB bodies; 50 requests/s per IP (burst 100); 10/s per credential (burst 40),
    /// Alpaca's 200 per minute with headroom for bursts; CORS off.
    fn default() -> Self {
        let nz = |n| NonZeroU32::new(n).expect("non-zero");
        LimitsConfig {
            body_limit_bytes: 2 << 20,
            per_ip: Some(RateLimit::per_second(nz(50), nz(100))),
            per_key: Some(RateLimit::per_second(nz(10), nz(40))),
            client_ip_header: None,
            cors: CorsConfig::default(),
        }
    }
}

/// The rate limiters of one [`AppState`](crate::AppState) (shared by its clones).
pub struct Limiters {
    per_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    per_key: Option<DefaultKeyedRateLimiter<[u8; 32]>>,
    client_ip_header: Option<HeaderName>,
    requests: AtomicU64,
    warned_no_ip: AtomicBool,
}

impl Limiters {
    pub fn new(config: &LimitsConfig) -> Limiters {
        Limiters {
            per_ip: config.per_ip.map(|r| DefaultKeyedRateLimiter::keyed(r.quota())),
            per_key: config.per_key.map(|r| DefaultKeyedRateLimiter::keyed(r.quota())),
            client_ip_header: config.client_ip_header.clone(),
            requests: AtomicU64::new(0),
            warned_no_ip: AtomicBool::new(false),
        }
    }

    fn client_ip(&self, req: &Request) -> Option<IpAddr> {
        let from_header = self.client_ip_header.as_ref().and_then(|h| req.headers().get(h)).and_then(|v| v.to_str().ok()).and_then(|v| {
            v.split(',').next().and_then(|s| s.trim().parse::<IpAddr>().ok())
        });
        let ip = from_header.or_else(|| req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()));
        if ip.is_none() && !self.warned_no_ip.swap(true, Ordering::Relaxed) {
            tracing::warn!("no client address (serve with into_make_service_with_connect_info): per-IP rate limit not applied");
        }
        ip
    }

    /// SHA-256 of the presented credential, if any.
    fn credential(req: &Request) -> Option<[u8; 32]> {
        let h = req.headers();
        let apca = (h.get(crate::auth::KEY_ID_HEADER), h.get(crate::auth::SECRET_HEADER));
        let mut d = Sha256::new();
        match (apca, h.get(AUTHORIZATION)) {
            ((Some(k), Some(s)), _) => {
                d.update(b"apca\0");
                d.update(k.as_bytes());
                d.update(b"\0");
                d.update(s.as_bytes());
            }
            (_, Some(a)) => {
                d.update(b"authorization\0");
                d.update(a.as_bytes());
            }
            _ => return None,
        }
        Some(d.finalize().into())
    }

    /// `Err(wait)` if the request must be refused.
    fn check(&self, req: &Request) -> Result<(), Duration> {
        if self.requests.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            for l in self.per_ip.iter() {
                l.retain_recent();
                l.shrink_to_fit();
            }
            for l in self.per_key.iter() {
                l.retain_recent();
                l.shrink_to_fit();
            }
        }
        let now = DefaultClock::default().now();
        if let (Some(l), Some(ip)) = (&self.per_ip, self.client_ip(req)) {
            l.check_key(&ip).map_err(|n| n.wait_time_from(now))?;
        }
        if let (Some(l), Some(c)) = (&self.per_key, Self::credential(req)) {
            l.check_key(&c).map_err(|n| n.wait_time_from(now))?;
        }
        Ok(())
    }
}

/// 429 in the API's error shape with `Retry-After`.
pub fn too_many_requests(wait: Duration) -> Response {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let body = serde_json::json!({ "code": 42_910_000, "message": "rate limit exceeded, retry later" });
    let mut resp = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
    resp.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs.max(1)));
    resp
}

/// Middleware: refuses requests over the per-IP or per-credential quota.
pub async fn rate_limit(State(limiters): State<Arc<Limiters>>, req: Request, next: Next) -> Response {
    match limiters.check(&req) {
        Ok(()) => next.run(req).await,
        Err(wait) => {
            tracing::info!(path = %req.uri().path(), ?wait, "rate limited");
            too_many_requests(wait)
        }
    }
}

/// Middleware: a 413 from the body-limit layer (plain text) becomes the JSON error.
pub async fn json_payload_too_large(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let is_json = resp.headers().get(CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if resp.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_json {
        return ApiError::PayloadTooLarge.into_response();
    }
    resp
}

/// The CORS layer for `config`, or `None` when no origin is allowed.
pub fn cors(config: &CorsConfig) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = config.allowed_origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
            .allow_headers([
                AUTHORIZATION,
                CONTENT_TYPE,
                HeaderName::from_static("apca-api-key-id"),
                HeaderName::from_static("apca-api-secret-key"),
                HeaderName::from_static("x-request-id"),
            ])
            .expose_headers([RETRY_AFTER, HeaderName::from_static("x-request-id")])
            .max_age(config.max_age),
    )
}

/// Applies body limit, rate limits and CORS (outermost) to the finished router.
pub fn apply(router: axum::Router, config: &LimitsConfig, limiters: Arc<Limiters>) -> axum::Router {
    let router = router
        .layer(axum::extract::DefaultBodyLimit::max(config.body_limit_bytes))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(config.body_limit_bytes))
        .layer(axum::middleware::from_fn(json_payload_too_large))
        .layer(axum::middleware::from_fn_with_state(limiters, rate_limit));
    match cors(&config.cors) {
        Some(layer) => router.layer(layer),
        None => router,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let r = too_many_requests(Duration::from_millis(1_200));
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()[RETRY_AFTER], "2");
        assert_eq!(too_many_requests(Duration::ZERO).headers()[RETRY_AFTER], "1");
    }

    #[test]
    fn credentials_hash_apart() {
        let req = |k: &str, s: &str| {
            Request::builder().header(crate::auth::KEY_ID_HEADER, k).header(crate::auth::SECRET_HEADER, s).body(axum::body::Body::empty()).unwrap()
        };
        assert_eq!(Limiters::credential(&req("PK1", "a")), Limiters::credential(&req("PK1", "a")));
        assert_ne!(Limiters::credential(&req("PK1", "a")), Limiters::credential(&req("PK1", "b")));
        assert_eq!(Limiters::credential(&Request::new(axum::body::Body::empty())), None);
    }
}
