//! The platform API, `/api/v1`: accounts of users, sessions, API keys, funding,
//! notifications and administration. Mounted by [`crate::app`] next to the Trading API v2
//! when the state has a [`Platform`] ([`crate::AppState::with_platform`]); without one,
//! every `/api/v1` route answers 503.
//!
//! - Modules: [`session`] (register, login, refresh, logout), [`profile`] (profile, KYC),
//!   [`keys`] (API keys), [`funding`] (deposits, withdrawals, history, notifications),
//!   [`admin`] (users, instruments); [`caller`] authenticates; [`audit_layer`] records.
//! - Credentials: `Authorization: Bearer <access JWT>` ([`crate::jwt`]) or the APCA key
//!   headers ([`crate::auth`]); keys created here authenticate on `/v2` too.
//! - Errors: [`crate::ApiError`], the same `{"code", "message"}` shape as `/v2`
//!   (code = HTTP status x 100000 + 10000; 429 is 42910000).
//!
//! Roles on `/api/v1` (a `/v2` key keeps its `/v2` meaning, see [`crate::auth`]):
//! - trader: reads and funds its own account only; any other account answers 404, exactly
//!   like a missing one;
//! - analyst (compliance): reads every account, never writes (403 on writes);
//! - admin: reads every account, funds only its own, manages users and instruments.
//!
//! Only admins reach `/api/v1/admin/*` (others: 403). API keys cannot manage API keys
//! (403): that needs a login session.

pub mod admin;
pub mod audit_layer;
pub mod caller;
pub mod funding;
pub mod keys;
pub mod ports;
pub mod profile;
pub mod session;

#[cfg(test)]
pub(crate) mod testkit;
#[cfg(test)]
mod tests;

use crate::jwt::JwtConfig;
use crate::platform_memory::MemoryPlatform;
use crate::AppState;
use axum::Router;
use ports::{ApiKeyRegistry, AuditSink, FundingHistory, NotificationFeed, PlatformCommands, SessionStore, UserStore};
use std::sync::Arc;

/// The ports the platform API is built from (see [`ports`]).
#[derive(Clone)]
pub struct PlatformPorts {
    pub users: Arc<dyn UserStore>,
    /// Must write to the backend behind `Ports::keys` (created keys authenticate at once).
    pub api_keys: Arc<dyn ApiKeyRegistry>,
    pub sessions: Arc<dyn SessionStore>,
    pub commands: Arc<dyn PlatformCommands>,
    pub funding: Arc<dyn FundingHistory>,
    pub notifications: Arc<dyn NotificationFeed>,
    pub audit: Arc<dyn AuditSink>,
}

impl PlatformPorts {
    /// Every port from one in-memory backend (also pass it as `Ports::keys`).
    pub fn memory(m: Arc<MemoryPlatform>) -> PlatformPorts {
        PlatformPorts {
            users: m.clone(),
            api_keys: m.clone(),
            sessions: m.clone(),
            commands: m.clone(),
            funding: m.clone(),
            notifications: m.clone(),
            audit: m,
        }
    }
}

/// Platform ports and settings.
pub struct Platform {
    pub ports: PlatformPorts,
    pub jwt: JwtConfig,
}

/// The `/api/v1` routes.
pub fn router() -> Router<AppState> {
    Router::new().merge(session::router()).merge(profile::router()).merge(keys::router()).merge(funding::router()).merge(admin::router())
}
