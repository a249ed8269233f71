//! Registration and sessions: `POST /api/v1/auth/register`, `/login`, `/refresh`,
//! `/logout`.
//!
//! - Passwords: 12 to 256 characters, stored only as argon2id PHC hashes with OWASP
//!   parameters ([`crate::auth::hash_secret`]); hashing and verification run on the
//!   blocking pool. A login with an unknown email verifies against a dummy hash, so it
//!   costs the same as a wrong password; both answer the same 401.
//! - Registration creates a trader with a new account and sends `OpenAccount` (KYC
//!   pending) on `accounts.commands`.
//! - Login starts a session family and returns an access token and a refresh token.
//!   Refresh rotates: the presented refresh token must be the family's current one; a
//!   refresh token presented again after rotation is reuse, which revokes the whole family
//!   (its access tokens stop working too). Logout revokes the caller's family.

use super::audit_layer::AuditAction;
use super::caller::{platform, AuditContext, Body, Caller};
use super::ports::{Inserted, Rotation};
use super::Platform;
use crate::auth::{hash_secret, verify_secret};
use crate::error::ApiError;
use crate::format::uuid_v4;
use crate::jwt::{self, TokenKind};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use schemas::records::{AccountCommand, AccountInstruction, KycStatus, OpenAccount, UserRecord, UserRole};
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;
use utoipa::ToSchema;

pub const MIN_PASSWORD: usize = 12;
pub const MAX_PASSWORD: usize = 256;
const MAX_EMAIL: usize = 254;

/// `POST /api/v1/auth/register` and `/login` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Credentials {
    pub email: String,
    pub password: String,
}

/// A registered user.
#[derive(Debug, Serialize, ToSchema)]
pub struct Registered {
    pub user_id: String,
    pub account_id: String,
}

/// An access and a refresh token.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Access token lifetime, seconds.
    pub expires_in: u64,
}

/// `POST /api/v1/auth/refresh` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Lower-cased email if plausible (one `@`, non-empty parts, no spaces, bounded length).
pub fn normalize_email(email: &str) -> Option<String> {
    let e = email.trim().to_ascii_lowercase();
    let (local, domain) = e.split_once('@')?;
    let ok = e.len() <= MAX_EMAIL
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && e.bytes().all(|c| c.is_ascii_graphic());
    ok.then_some(e)
}

fn check_password(p: &str) -> Result<(), ApiError> {
    let n = p.chars().count();
    if !(MIN_PASSWORD..=MAX_PASSWORD).contains(&n) {
        return Err(ApiError::Unprocessable(format!("password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters")));
    }
    Ok(())
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ApiError::Internal(format!("hashing task: {e}")))
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_secret("tradeflow-dummy-password-for-unknown-users"))
}

/// Issues a token pair of `family` for `user_id`; returns it with the refresh token id.
fn pair(p: &Platform, user_id: &str, family: &str, now_ns: i64) -> Result<(TokenPair, String, i64), ApiError> {
    let refresh_jti = uuid_v4();
    let access = jwt::claims(&p.jwt, TokenKind::Access, user_id, family, &uuid_v4(), now_ns);
    let refresh = jwt::claims(&p.jwt, TokenKind::Refresh, user_id, family, &refresh_jti, now_ns);
    let sign = |c| jwt::issue(&p.jwt, c).map_err(|e| ApiError::Internal(e.to_string()));
    let tokens = TokenPair { access_token: sign(&access)?, refresh_token: sign(&refresh)?, token_type: "Bearer", expires_in: p.jwt.access_ttl.as_secs() };
    Ok((tokens, refresh_jti, refresh.exp.saturating_mul(1_000_000_000)))
}

#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth", request_body = Credentials,
    responses((status = 201, body = Registered), (status = 422, body = crate::openapi::ErrorBody)))]
pub async fn register(State(state): State<AppState>, ctx: AuditContext, Body(req): Body<Credentials>) -> Result<impl IntoResponse, ApiError> {
    ctx.update(|n| n.action = Some(AuditAction::AuthRegister));
    let p = platform(&state)?;
    let email = normalize_email(&req.email).ok_or_else(|| ApiError::Unprocessable("email is not valid".into()))?;
    ctx.update(|n| n.actor = Some(format!("email:{email}")));
    check_password(&req.password)?;
    let password = req.password;
    let password_hash = blocking(move || hash_secret(&password)).await?;
    let now = state.ports.clock.now_ns();
    let user = UserRecord {
        user_id: uuid_v4(),
        email,
        password_hash,
        role: UserRole::Trader,
        account_id: uuid_v4(),
        disabled: false,
        created_at_ns: now,
        updated_at_ns: now,
    };
    if p.ports.users.insert(user.clone()).await? == Inserted::EmailTaken {
        ctx.update(|n| n.detail = Some("email_taken".into()));
        return Err(ApiError::Unprocessable("email is already registered".into()));
    }
    let open = AccountCommand {
        command_id: uuid_v4(),
        account_id: user.account_id.clone(),
        issued_at_ns: now,
        // Tier 1 (the lowest limits; the accounts pipeline accepts tiers 1 to 3): KYC pending
        // blocks trading until approved anyway.
        body: AccountInstruction::OpenAccount(OpenAccount { owner_id: user.user_id.clone(), kyc_status: KycStatus::Pending, kyc_tier: 1, allow_shorting: false }),
    };
    p.ports.commands.account(open).await?;
    ctx.update(|n| {
        n.actor = Some(format!("user:{}", user.user_id));
        n.target = Some(user.account_id.clone());
    });
    Ok((StatusCode::CREATED, Json(Registered { user_id: user.user_id, account_id: user.account_id })))
}

#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = Credentials,
    responses((status = 200, body = TokenPair), (status = 401, body = crate::openapi::ErrorBody)))]
pub async fn login(State(state): State<AppState>, ctx: AuditContext, Body(req): Body<Credentials>) -> Result<Json<TokenPair>, ApiError> {
    ctx.update(|n| n.action = Some(AuditAction::AuthLogin));
    let p = platform(&state)?;
    let email = normalize_email(&req.email).unwrap_or_default();
    ctx.update(|n| n.actor = Some(if email.is_empty() { "anonymous".into() } else { format!("email:{email}") }));
    let user = if email.is_empty() { None } else { p.ports.users.by_email(&email)? };
    let (password, stored) = (req.password, user.as_ref().map(|u| u.password_hash.clone()));
    let verified = blocking(move || match stored {
        Some(h) if password.len() <= 4 * MAX_PASSWORD => verify_secret(&password, &h),
        _ => {
            let _ = verify_secret(&password, dummy_hash());
            false
        }
    })
    .await?;
    let user = match user {
        Some(u) if verified && !u.disabled => u,
        Some(u) => {
            ctx.update(|n| {
                n.actor = Some(format!("user:{}", u.user_id));
                n.detail = Some(if verified { "user_disabled" } else { "wrong_password" }.into());
            });
            return Err(ApiError::Unauthorized);
        }
        None => {
            ctx.update(|n| n.detail = Some("unknown_email".into()));
            return Err(ApiError::Unauthorized);
        }
    };
    ctx.update(|n| n.actor = Some(format!("user:{}", user.user_id)));
    let now = state.ports.clock.now_ns();
    let family = uuid_v4();
    let (tokens, jti, expires) = pair(p, &user.user_id, &family, now)?;
    p.ports.sessions.start(&family, &user.user_id, &jti, expires).await?;
    Ok(Json(tokens))
}

#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = crate::openapi::ErrorBody)))]
pub async fn refresh(State(state): State<AppState>, ctx: AuditContext, Body(req): Body<RefreshRequest>) -> Result<Json<TokenPair>, ApiError> {
    ctx.update(|n| n.action = Some(AuditAction::AuthRefresh));
    let p = platform(&state)?;
    let now = state.ports.clock.now_ns();
    let claims = jwt::verify(&p.jwt, &req.refresh_token, TokenKind::Refresh, now).map_err(|e| {
        ctx.update(|n| n.detail = Some(format!("invalid_refresh_token: {e}")));
        ApiError::Unauthorized
    })?;
    ctx.update(|n| n.actor = Some(format!("user:{}", claims.sub)));
    let user = p.ports.users.user(&claims.sub)?.filter(|u| !u.disabled);
    let Some(user) = user else {
        ctx.update(|n| n.detail = Some("unknown_or_disabled_user".into()));
        return Err(ApiError::Unauthorized);
    };
    let (tokens, next, expires) = pair(p, &user.user_id, &claims.fam, now)?;
    match p.ports.sessions.rotate(&claims.fam, &claims.jti, &next, now, expires).await? {
        Rotation::Rotated => Ok(Json(tokens)),
        Rotation::Reused => {
            tracing::warn!(user_id = %user.user_id, "refresh token reuse: session family revoked");
            ctx.update(|n| n.detail = Some("refresh_token_reuse_family_revoked".into()));
            Err(ApiError::Unauthorized)
        }
        Rotation::Inactive => {
            ctx.update(|n| n.detail = Some("session_inactive".into()));
            Err(ApiError::Unauthorized)
        }
    }
}

#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = crate::openapi::ErrorBody), (status = 403, body = crate::openapi::ErrorBody)))]
pub async fn logout(State(state): State<AppState>, ctx: AuditContext, who: Caller) -> Result<StatusCode, ApiError> {
    ctx.update(|n| n.action = Some(AuditAction::AuthLogout));
    let family = who.session_family()?.to_string();
    platform(&state)?.ports.sessions.revoke(&family).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/register", post(register))
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/refresh", post(refresh))
        .route("/api/v1/auth/logout", post(logout))
}
