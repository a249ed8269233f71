//! API keys: `POST /api/v1/api-keys` (create; the secret is shown once),
//! `GET /api/v1/api-keys` (the caller's keys, without secrets or hashes),
//! `DELETE /api/v1/api-keys/{key_id}` (revoke).
//!
//! A created key carries its user's account and current role and authenticates with the
//! APCA headers on `/v2` and `/api/v1` at once; a revoked key stops at once. Only a login
//! session manages keys (403 for API keys). A key of another user answers 404, except
//! for admins, who may revoke any key.

use super::audit_layer::AuditAction;
use super::caller::{platform, AuditContext, Body, Caller};
use crate::auth::hash_secret;
use crate::error::ApiError;
use crate::format::rfc3339;
use crate::platform_memory::{role_of, user_role};
use crate::ports::Role;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{delete, get};
use axum::{Json, Router};
use rand::distr::{Alphanumeric, SampleString};
use schemas::records::ApiKeyRecord;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

const MAX_LABEL: usize = 64;

/// `POST /api/v1/api-keys` body.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct NewKey {
    /// Free text, at most 64 characters.
    #[serde(default)]
    pub label: String,
}

/// A key as listed (never the secret nor its hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyInfo {
    pub key_id: String,
    pub label: String,
    pub role: &'static str,
    pub account_id: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// A created key with its secret (shown only here, once).
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKey {
    #[serde(flatten)]
    pub key: KeyInfo,
    pub secret: String,
}

fn info(k: &ApiKeyRecord) -> KeyInfo {
    KeyInfo {
        key_id: k.key_id.clone(),
        label: k.label.clone(),
        role: super::profile::role_name(role_of(k.role)),
        account_id: k.account_id.clone(),
        created_at: rfc3339(k.created_at_ns),
        revoked_at: k.revoked_at_ns.map(rfc3339),
    }
}

#[utoipa::path(post, path = "/api/v1/api-keys", tag = "api-keys", security(("bearer" = [])), request_body = NewKey,
    responses((status = 201, body = CreatedKey), (status = 401, body = crate::openapi::ErrorBody), (status = 403, body = crate::openapi::ErrorBody)))]
pub async fn create(State(state): State<AppState>, ctx: AuditContext, who: Caller, Body(req): Body<NewKey>) -> Result<impl IntoResponse, ApiError> {
    ctx.update(|n| n.action = Some(AuditAction::ApiKeyCreate));
    who.session_family()?;
    if req.label.chars().count() > MAX_LABEL {
        return Err(ApiError::Unprocessable(format!("label must be at most {MAX_LABEL} characters")));
    }
    let (key_id, secret) = {
        let mut rng = rand::rng();
        (format!("PK{}", Alphanumeric.sample_string(&mut rng, 18).to_ascii_uppercase()), Alphanumeric.sample_string(&mut rng, 40))
    };
    let hashed = secret.clone();
    let secret_hash = tokio::task::spawn_blocking(move || hash_secret(&hashed)).await.map_err(|e| ApiError::Internal(format!("hashing task: {e}")))?;
    let record = ApiKeyRecord {
        key_id: key_id.clone(),
        secret_hash,
        user_id: who.user_id.clone(),
        account_id: who.account_id.clone(),
        role: user_role(who.role),
        label: req.label,
        created_at_ns: state.ports.clock.now_ns(),
        revoked_at_ns: None,
    };
    platform(&state)?.ports.api_keys.create(record.clone()).await?;
    ctx.update(|n| n.target = Some(key_id));
    Ok((StatusCode::CREATED, Json(CreatedKey { key: info(&record), secret })))
}

#[utoipa::path(get, path = "/api/v1/api-keys", tag = "api-keys", security(("bearer" = [])),
    responses((status = 200, body = Vec<KeyInfo>), (status = 401, body = crate::openapi::ErrorBody), (status = 403, body = crate::openapi::ErrorBody)))]
pub async fn list(State(state): State<AppState>, who: Caller) -> Result<Json<Vec<KeyInfo>>, ApiError> {
    who.session_family()?;
    let keys = platform(&state)?.ports.api_keys.keys_of(&who.user_id)?;
    Ok(Json(keys.iter().map(info).collect()))
}

#[utoipa::path(delete, path = "/api/v1/api-keys/{key_id}", tag = "api-keys", security(("bearer" = [])),
    params(("key_id" = String, Path)),
    responses((status = 204), (status = 401, body = crate::openapi::ErrorBody), (status = 403, body = crate::openapi::ErrorBody), (status = 404, body = crate::openapi::ErrorBody)))]
pub async fn revoke(State(state): State<AppState>, ctx: AuditContext, who: Caller, Path(key_id): Path<String>) -> Result<StatusCode, ApiError> {
    ctx.update(|n| {
        n.action = Some(AuditAction::ApiKeyRevoke);
        n.target = Some(key_id.chars().take(256).collect());
    });
    who.session_family()?;
    let p = platform(&state)?;
    let visible = p.ports.api_keys.record(&key_id)?.filter(|k| k.user_id == who.user_id || who.role == Role::Admin);
    if visible.is_none() || !p.ports.api_keys.revoke(&key_id, state.ports.clock.now_ns()).await? {
        return Err(ApiError::NotFound("api key not found".into()));
    }
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/api-keys", get(list).post(create)).route("/api/v1/api-keys/{key_id}", delete(revoke))
}
