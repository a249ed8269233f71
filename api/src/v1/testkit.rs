//! Test fixture of the platform API: the `/v2` fixture ([`crate::testkit::TestApp`]) plus
//! a [`MemoryPlatform`] (also the key store) with four users, a session and an API key
//! each, and request helpers over `app(state).oneshot(request)`.
//!
//! Users: alice (trader, acc-1), bob (trader, acc-2), ann (analyst, acc-3), root (admin,
//! acc-9). Every password and key secret is [`PASSWORD`] (hashed once per test binary).

use crate::auth::{hash_secret, KEY_ID_HEADER, SECRET_HEADER};
use crate::jwt::{self, JwtConfig, TokenKind};
use crate::limits::{Limiters, LimitsConfig};
use crate::memory::FixedClock;
use crate::platform_memory::MemoryPlatform;
use crate::ports::Clock;
use crate::testkit::TestApp;
use crate::v1::PlatformPorts;
use crate::{app, AppState};
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request};
use schemas::records::{ApiKeyRecord, UserRecord, UserRole};
use std::sync::{Arc, OnceLock};
use tower::ServiceExt;

pub const PASSWORD: &str = "correct-horse-battery-staple";
pub const JWT_SECRET: &[u8] = b"test-secret-test-secret-test-secret-0123";

/// Who calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Who {
    /// alice, trader of acc-1 (the "own" account of the matrix).
    Trader,
    /// bob, trader of acc-2.
    OtherTrader,
    /// ann, analyst (own account acc-3).
    Analyst,
    /// root, admin (own account acc-9).
    Admin,
    Anonymous,
}

impl Who {
    pub const ALL: [Who; 5] = [Who::Trader, Who::OtherTrader, Who::Analyst, Who::Admin, Who::Anonymous];

    /// (user id, email, role, account, key id).
    pub fn user(self) -> Option<(&'static str, &'static str, UserRole, &'static str, &'static str)> {
        match self {
            Who::Trader => Some(("u-alice", "alice@example.com", UserRole::Trader, "acc-1", "PKALICE1")),
            Who::OtherTrader => Some(("u-bob", "bob@example.com", UserRole::Trader, "acc-2", "PKBOB1")),
            Who::Analyst => Some(("u-ann", "ann@example.com", UserRole::Analyst, "acc-3", "PKANN1")),
            Who::Admin => Some(("u-root", "root@example.com", UserRole::Admin, "acc-9", "PKROOT1")),
            Who::Anonymous => None,
        }
    }
}

fn hashed() -> &'static str {
    static H: OnceLock<String> = OnceLock::new();
    H.get_or_init(|| hash_secret(PASSWORD))
}

pub fn jwt_config() -> JwtConfig {
    JwtConfig::new(JWT_SECRET, "tradeflow", "tradeflow-api").unwrap()
}

/// A response: status, headers, JSON body (`Null` when empty, a string when not JSON).
pub type Reply = (u16, HeaderMap, serde_json::Value);

pub struct PlatformApp {
    pub platform: Arc<MemoryPlatform>,
    pub clock: Arc<FixedClock>,
    pub state: AppState,
}

impl PlatformApp {
    pub fn new() -> PlatformApp {
        Self::with_limits(LimitsConfig::default())
    }

    pub fn with_limits(limits: LimitsConfig) -> PlatformApp {
        let base = TestApp::new();
        let platform = Arc::new(MemoryPlatform::new(4));
        let now = base.clock.now_ns();
        for who in Who::ALL {
            let Some((user_id, email, role, account_id, key_id)) = who.user() else { continue };
            platform.put_user(UserRecord {
                user_id: user_id.into(),
                email: email.into(),
                password_hash: hashed().into(),
                role,
                account_id: account_id.into(),
                disabled: false,
                created_at_ns: now,
                updated_at_ns: now,
            });
            platform.put_key(ApiKeyRecord {
                key_id: key_id.into(),
                secret_hash: hashed().into(),
                user_id: user_id.into(),
                account_id: account_id.into(),
                role,
                label: "fixture".into(),
                created_at_ns: now,
                revoked_at_ns: None,
            });
        }
        let mut state = base.state.clone();
        state.ports.keys = platform.clone();
        state.limiters = Arc::new(Limiters::new(&limits));
        state.config.limits = limits;
        let state = state.with_platform(PlatformPorts::memory(platform.clone()), jwt_config());
        PlatformApp { platform, clock: base.clock.clone(), state }
    }

    /// A fresh access token of a new session of `who` (no password hashing).
    pub async fn token(&self, who: Who) -> Option<String> {
        use crate::v1::ports::SessionStore;
        let (user_id, ..) = who.user()?;
        let now = self.clock.now_ns();
        let family = crate::format::uuid_v4();
        self.platform.start(&family, user_id, "refresh-jti", now + 86_400 * 1_000_000_000).await.unwrap();
        Some(jwt::issue(&jwt_config(), &jwt::claims(&jwt_config(), TokenKind::Access, user_id, &family, "access-jti", now)).unwrap())
    }

    pub async fn send(&self, method: Method, path: &str, headers: &[(&str, String)], body: Option<serde_json::Value>) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let req = match body {
            Some(b) => req.header("content-type", "application/json").body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        self.raw(req).await
    }

    pub async fn raw(&self, req: Request<Body>) -> Reply {
        let resp = app(self.state.clone()).oneshot(req).await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), 8 << 20).await.unwrap();
        let json = if bytes.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        (status, headers, json)
    }

    /// With a bearer token.
    pub async fn bearer(&self, method: Method, path: &str, token: &str, body: Option<serde_json::Value>) -> Reply {
        self.send(method, path, &[("authorization", format!("Bearer {token}"))], body).await
    }

    /// With a fresh session of `who` (anonymous: no credentials).
    pub async fn call(&self, who: Who, method: Method, path: &str, body: Option<serde_json::Value>) -> Reply {
        match self.token(who).await {
            Some(t) => self.bearer(method, path, &t, body).await,
            None => self.send(method, path, &[], body).await,
        }
    }

    /// With `who`'s fixture API key.
    pub async fn with_key(&self, who: Who, method: Method, path: &str, body: Option<serde_json::Value>) -> Reply {
        let (.., key_id) = who.user().expect("a user");
        self.send(method, path, &[(KEY_ID_HEADER, key_id.to_string()), (SECRET_HEADER, PASSWORD.to_string())], body).await
    }

    /// Logs in with the password; the token pair.
    pub async fn login(&self, email: &str) -> (String, String) {
        let (s, _, b) = self.send(Method::POST, "/api/v1/auth/login", &[], Some(serde_json::json!({"email": email, "password": PASSWORD}))).await;
        assert_eq!(s, 200, "{b}");
        (b["access_token"].as_str().unwrap().to_string(), b["refresh_token"].as_str().unwrap().to_string())
    }
}
