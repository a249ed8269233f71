//! The audit middleware of the whole router (`/v2` and `/api/v1`).
//!
//! Every request gets a request id (a valid `X-Request-Id` is kept, otherwise a UUID v4
//! is generated), echoed in the response. With a platform configured, the request becomes
//! an audit record when it is mutating (not GET / HEAD / OPTIONS), when it answered 401 (a
//! failed authentication) or when its handler named an action (login, refresh, ...):
//! - actor: set by the handler / [`Caller`](super::caller::Caller) (`user:<id>`), else
//!   the claimed `apikey:<id>` from the APCA header, else `anonymous`;
//! - action: the handler's dotted name, else `http:<METHOD> <route template>`;
//! - target: the handler's, else the request path; outcome from the status (2xx/3xx
//!   success, 401/403/404 denied, anything else failure).
//!
//! Known limitations: the record is written after the handler ran, so a failed audit
//! write cannot undo the action: it is logged at error level and the response stands.
//! Successful authentication on read-only requests is not audited (volume); logins,
//! refreshes, logouts, key changes and every failure are.

use super::caller::{platform, AuditContext};
use crate::audit::AuditEntry;
use crate::auth::KEY_ID_HEADER;
use crate::format::uuid_v4;
use crate::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use schemas::records::AuditOutcome;

/// The named actions of `/api/v1` (other mutating requests are `http:<METHOD> <route>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditAction {
    AuthRegister,
    AuthLogin,
    AuthRefresh,
    AuthLogout,
    ApiKeyCreate,
    ApiKeyRevoke,
    FundingDeposit,
    FundingWithdraw,
    AdminUserUpdate,
    AdminInstrumentHalt,
    AdminInstrumentResume,
    AdminAccountKyc,
}

impl AuditAction {
    /// The `action` field of the audit record.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::AuthRegister => "auth.register",
            AuditAction::AuthLogin => "auth.login",
            AuditAction::AuthRefresh => "auth.refresh",
            AuditAction::AuthLogout => "auth.logout",
            AuditAction::ApiKeyCreate => "apikey.create",
            AuditAction::ApiKeyRevoke => "apikey.revoke",
            AuditAction::FundingDeposit => "funding.deposit",
            AuditAction::FundingWithdraw => "funding.withdraw",
            AuditAction::AdminUserUpdate => "admin.user_update",
            AuditAction::AdminInstrumentHalt => "admin.instrument_halt",
            AuditAction::AdminInstrumentResume => "admin.instrument_resume",
            AuditAction::AdminAccountKyc => "admin.account_kyc",
        }
    }
}

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const MAX_FIELD: usize = 256;

fn request_id(req: &Request) -> String {
    req.headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty() && s.len() <= 128 && s.bytes().all(|c| c.is_ascii_alphanumeric() || b"._-".contains(&c)))
        .map_or_else(uuid_v4, str::to_owned)
}

fn capped(s: &str) -> String {
    s.chars().take(MAX_FIELD).collect()
}

/// Outcome of an HTTP status.
pub fn outcome(status: u16) -> AuditOutcome {
    match status {
        200..=399 => AuditOutcome::Success,
        401 | 403 | 404 => AuditOutcome::Denied,
        _ => AuditOutcome::Failure,
    }
}

/// Middleware: request id, then (after the handler) the audit record.
pub async fn audit(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let ctx = AuditContext { request_id: request_id(&req), ..AuditContext::default() };
    req.extensions_mut().insert(ctx.clone());
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", |m| m.as_str()).to_string();
    let path = capped(req.uri().path());
    let claimed_key = req.headers().get(KEY_ID_HEADER).and_then(|v| v.to_str().ok()).map(capped);
    let mut resp = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&ctx.request_id) {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
    let Ok(p) = platform(&state) else { return resp };
    let status = resp.status().as_u16();
    let note = ctx.note();
    let mutating = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
    if !(mutating || status == 401 || note.action.is_some()) {
        return resp;
    }
    let entry = AuditEntry {
        audit_id: uuid_v4(),
        request_id: ctx.request_id.clone(),
        at_ns: state.ports.clock.now_ns(),
        actor: note.actor.or_else(|| claimed_key.map(|k| format!("apikey:{k}"))).unwrap_or_else(|| "anonymous".into()),
        action: note.action.map_or_else(|| format!("http:{method} {route}"), |a| a.as_str().to_owned()),
        target: note.target.unwrap_or(path),
        outcome: outcome(status),
        status,
        detail: note.detail,
    };
    if let Err(e) = p.ports.audit.append(entry.clone()).await {
        tracing::error!(error = %e, action = %entry.action, actor = %entry.actor, request_id = %entry.request_id, "audit record not written");
    }
    resp
}
