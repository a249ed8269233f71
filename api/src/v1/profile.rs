//! `GET /api/v1/me` (the caller's profile) and `GET /api/v1/accounts/{account_id}/kyc`
//! (KYC and account status, from the account snapshot: `accounts.snapshots` is the source
//! of truth; an account not opened yet reads `pending` with `account_open: false`).

use super::caller::{platform, Caller};
use crate::error::ApiError;
use crate::format::rfc3339;
use crate::ports::Role;
use crate::AppState;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use schemas::records::{AccountStatus, KycStatus};
use serde::Serialize;
use utoipa::ToSchema;

/// Wire name of a role.
pub fn role_name(r: Role) -> &'static str {
    match r {
        Role::Trader => "trader",
        Role::Analyst => "analyst",
        Role::Admin => "admin",
    }
}

pub fn kyc_name(k: KycStatus) -> &'static str {
    match k {
        KycStatus::Pending => "pending",
        KycStatus::Approved => "approved",
        KycStatus::Rejected => "rejected",
    }
}

/// The caller's profile.
#[derive(Debug, Serialize, ToSchema)]
pub struct Profile {
    pub user_id: String,
    /// Absent for API keys whose user is not a platform user.
    pub email: Option<String>,
    /// `trader`, `analyst` or `admin`.
    pub role: &'static str,
    pub account_id: String,
    pub created_at: Option<String>,
    /// `session` or `api_key`.
    pub authenticated_by: &'static str,
}

/// KYC and account status.
#[derive(Debug, Serialize, ToSchema)]
pub struct Kyc {
    pub account_id: String,
    pub account_open: bool,
    /// `pending`, `approved` or `rejected`.
    pub kyc_status: &'static str,
    pub kyc_tier: i32,
    /// `active`, `restricted`, `deactivated`, or `pending` before the account opens.
    pub account_status: &'static str,
}

#[utoipa::path(get, path = "/api/v1/me", tag = "profile", security(("bearer" = []), ("apca_key" = [])),
    responses((status = 200, body = Profile), (status = 401, body = crate::openapi::ErrorBody)))]
pub async fn me(State(state): State<AppState>, who: Caller) -> Result<Json<Profile>, ApiError> {
    let user = platform(&state)?.ports.users.user(&who.user_id)?;
    Ok(Json(Profile {
        user_id: who.user_id.clone(),
        email: user.as_ref().map(|u| u.email.clone()),
        role: role_name(who.role),
        account_id: who.account_id.clone(),
        created_at: user.map(|u| rfc3339(u.created_at_ns)),
        authenticated_by: match who.credential {
            super::caller::Credential::Session { .. } => "session",
            super::caller::Credential::ApiKey { .. } => "api_key",
        },
    }))
}

#[utoipa::path(get, path = "/api/v1/accounts/{account_id}/kyc", tag = "profile", security(("bearer" = []), ("apca_key" = [])),
    params(("account_id" = String, Path)),
    responses((status = 200, body = Kyc), (status = 401, body = crate::openapi::ErrorBody), (status = 404, body = crate::openapi::ErrorBody)))]
pub async fn kyc(State(state): State<AppState>, who: Caller, Path(account_id): Path<String>) -> Result<Json<Kyc>, ApiError> {
    who.read(&account_id)?;
    let snapshot = state.ports.accounts.account(&account_id)?;
    let own_unopened = snapshot.is_none() && account_id == who.account_id;
    let Some(a) = snapshot else {
        return if own_unopened {
            Ok(Json(Kyc { account_id, account_open: false, kyc_status: "pending", kyc_tier: 0, account_status: "pending" }))
        } else {
            Err(ApiError::NotFound("account not found".into()))
        };
    };
    Ok(Json(Kyc {
        account_id,
        account_open: true,
        kyc_status: kyc_name(a.kyc_status),
        kyc_tier: a.kyc_tier,
        account_status: match a.status {
            AccountStatus::Active => "active",
            AccountStatus::Restricted => "restricted",
            AccountStatus::Deactivated => "deactivated",
        },
    }))
}

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/me", get(me)).route("/api/v1/accounts/{account_id}/kyc", get(kyc))
}
