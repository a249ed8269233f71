//! Who is calling `/api/v1`: the [`Caller`] extractor, the JSON body extractor [`Body`]
//! and the per-request audit note ([`AuditNote`]) handlers fill in.
//!
//! Authentication order: `Authorization: Bearer` (an access JWT whose session family is
//! still active and whose user exists and is not disabled; the role is the user's current
//! role), else the APCA key headers (the key's role; a disabled owner is refused). Every
//! failure is the same 401; the reason goes to the audit record's `detail`.

use super::Platform;
use crate::auth::{KEY_ID_HEADER, SECRET_HEADER};
use crate::error::ApiError;
use crate::jwt::{self, JwtError, TokenKind};
use crate::platform_memory::role_of;
use crate::ports::Role;
use crate::AppState;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use std::sync::{Arc, Mutex};

/// How the caller authenticated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    /// An access token of this session family.
    Session { family: String },
    ApiKey { key_id: String },
}

/// An authenticated `/api/v1` caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub user_id: String,
    pub account_id: String,
    pub role: Role,
    pub credential: Credential,
}

impl Caller {
    /// The audit actor.
    pub fn actor(&self) -> String {
        format!("user:{}", self.user_id)
    }

    /// Whether `account_id` is visible at all (otherwise: 404, as if missing).
    pub fn can_read(&self, account_id: &str) -> bool {
        account_id == self.account_id || matches!(self.role, Role::Analyst | Role::Admin)
    }

    /// Reading an account: 404 unless visible.
    pub fn read(&self, account_id: &str) -> Result<(), ApiError> {
        if self.can_read(account_id) {
            Ok(())
        } else {
            Err(ApiError::NotFound("account not found".into()))
        }
    }

    /// Moving money on an account: the owner, unless an analyst. 404 if not visible,
    /// 403 if visible but not allowed.
    pub fn write(&self, account_id: &str) -> Result<(), ApiError> {
        self.read(account_id)?;
        if account_id == self.account_id && self.role != Role::Analyst {
            Ok(())
        } else {
            Err(ApiError::Forbidden("not allowed to change this account".into()))
        }
    }

    pub fn require_admin(&self) -> Result<(), ApiError> {
        match self.role {
            Role::Admin => Ok(()),
            Role::Trader | Role::Analyst => Err(ApiError::Forbidden("administrators only".into())),
        }
    }

    /// Key management and logout need a login session, not an API key.
    pub fn session_family(&self) -> Result<&str, ApiError> {
        match &self.credential {
            Credential::Session { family } => Ok(family),
            Credential::ApiKey { .. } => Err(ApiError::Forbidden("this operation needs a login session, not an API key".into())),
        }
    }
}

/// What the handler tells the audit layer about the request (shared with the layer).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditNote {
    pub actor: Option<String>,
    pub action: Option<super::audit_layer::AuditAction>,
    pub target: Option<String>,
    pub detail: Option<String>,
}

/// The request's audit context: its request id and the note (inserted by the audit layer).
#[derive(Clone, Debug, Default)]
pub struct AuditContext {
    pub request_id: String,
    pub note: Arc<Mutex<AuditNote>>,
}

impl AuditContext {
    pub fn update(&self, f: impl FnOnce(&mut AuditNote)) {
        f(&mut self.note.lock().unwrap_or_else(|p| p.into_inner()));
    }

    pub fn note(&self) -> AuditNote {
        self.note.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AuditContext {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<AuditContext>().cloned().unwrap_or_default())
    }
}

/// The platform, or 503 when this state has none.
pub fn platform(state: &AppState) -> Result<&Arc<Platform>, ApiError> {
    state.platform.as_ref().ok_or_else(|| ApiError::Unavailable("platform ports not configured".into()))
}

fn denied(ctx: &AuditContext, reason: &str) -> ApiError {
    ctx.update(|n| n.detail = Some(reason.to_string()));
    ApiError::Unauthorized
}

fn jwt_reason(e: &JwtError) -> &'static str {
    match e {
        JwtError::Expired => "token_expired",
        JwtError::NotYetValid => "token_not_yet_valid",
        JwtError::WrongKind => "wrong_token_kind",
        JwtError::WeakSecret | JwtError::Invalid(_) | JwtError::Sign(_) => "invalid_token",
    }
}

async fn from_bearer(state: &AppState, p: &Platform, token: &str, ctx: &AuditContext) -> Result<Caller, ApiError> {
    let now = state.ports.clock.now_ns();
    let claims = jwt::verify(&p.jwt, token, TokenKind::Access, now).map_err(|e| denied(ctx, jwt_reason(&e)))?;
    ctx.update(|n| n.actor = Some(format!("user:{}", claims.sub)));
    if !p.ports.sessions.is_active(&claims.fam, now)? {
        return Err(denied(ctx, "session_revoked"));
    }
    let user = p.ports.users.user(&claims.sub)?.ok_or_else(|| denied(ctx, "unknown_user"))?;
    if user.disabled {
        return Err(denied(ctx, "user_disabled"));
    }
    Ok(Caller { user_id: user.user_id, account_id: user.account_id, role: role_of(user.role), credential: Credential::Session { family: claims.fam } })
}

async fn from_api_key(state: &AppState, p: &Platform, key_id: String, secret: String, ctx: &AuditContext) -> Result<Caller, ApiError> {
    if key_id.is_empty() || key_id.len() > 256 || secret.len() > 1024 {
        return Err(denied(ctx, "invalid_api_key"));
    }
    let who = crate::auth::authenticate(state.ports.keys.clone(), key_id, secret).await.map_err(|e| match e {
        ApiError::Unauthorized => denied(ctx, "invalid_api_key"),
        other => other,
    })?;
    ctx.update(|n| n.actor = Some(format!("user:{}", who.user_id)));
    if p.ports.users.user(&who.user_id)?.is_some_and(|u| u.disabled) {
        return Err(denied(ctx, "user_disabled"));
    }
    Ok(Caller { user_id: who.user_id, account_id: who.account_id, role: who.role, credential: Credential::ApiKey { key_id: who.key_id } })
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let ctx = parts.extensions.get::<AuditContext>().cloned().unwrap_or_default();
        let p = platform(state)?;
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        if let Some(auth) = header(AUTHORIZATION.as_str()) {
            let token = match auth.split_once(' ') {
                Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
                _ => return Err(denied(&ctx, "unsupported_authorization_scheme")),
            };
            return from_bearer(state, p, token, &ctx).await;
        }
        match (header(KEY_ID_HEADER), header(SECRET_HEADER)) {
            (Some(k), Some(s)) => from_api_key(state, p, k, s, &ctx).await,
            _ => Err(denied(&ctx, "missing_credentials")),
        }
    }
}

/// A JSON request body; rejections in the API's error shape (413, 422, 400).
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Body(v)),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError::PayloadTooLarge),
            Err(JsonRejection::JsonDataError(e)) => Err(ApiError::Unprocessable(format!("invalid request body: {}", e.body_text()))),
            Err(_) => Err(ApiError::BadRequest("request body must be a JSON object (content-type: application/json)".into())),
        }
    }
}
