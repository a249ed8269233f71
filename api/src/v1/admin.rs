//! Administration (admins only; others 403): `GET /api/v1/admin/users`,
//! `PATCH /api/v1/admin/users/{user_id}` (role, disabled), `GET /api/v1/admin/instruments`,
//! `POST /api/v1/admin/instruments/{symbol}/halt` and `/resume` (an `InstrumentCommand`
//! on `instruments.commands`; the venue applies it, the asset view shows it after),
//! `POST /api/v1/admin/accounts/{account_id}/kyc` (a `SetKyc` on `accounts.commands`: the
//! KYC decision that lets a registered user trade; the accounts pipeline applies it, the
//! account view shows it after).
//!
//! Disabling a user revokes its sessions and API keys at once. An admin cannot change its
//! own role or disable itself (422), so the platform never loses its last admin by mistake.

use super::audit_layer::AuditAction;
use super::caller::{platform, AuditContext, Body, Caller};
use super::profile::role_name;
use crate::error::ApiError;
use crate::format::{dec_opt, rfc3339, uuid_v4};
use crate::platform_memory::role_of;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use schemas::records::{
    AccountCommand, AccountInstruction, HaltInstrument, InstrumentCommand, InstrumentInstruction, InstrumentStatus, KycStatus, ResumeInstrument, SetKyc,
    UserRecord, UserRole,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A user as admins see it (never the password hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserInfo {
    pub user_id: String,
    pub email: String,
    pub role: &'static str,
    pub account_id: String,
    pub disabled: bool,
    pub created_at: String,
}

/// `PATCH /api/v1/admin/users/{user_id}` body; absent fields stay.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UserPatch {
    /// `trader`, `analyst` or `admin`.
    pub role: Option<String>,
    pub disabled: Option<bool>,
}

/// An instrument as admins see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct InstrumentInfo {
    pub symbol: String,
    pub name: String,
    /// `listed`, `halted` or `delisted`.
    pub status: &'static str,
    pub last_trade_price: Option<String>,
}

/// Halt body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct HaltRequest {
    pub reason: String,
}

/// An accepted instrument command.
#[derive(Debug, Serialize, ToSchema)]
pub struct InstrumentAccepted {
    pub command_id: String,
    pub symbol: String,
    /// `halt` or `resume`.
    pub action: &'static str,
}

fn user_info(u: UserRecord) -> UserInfo {
    UserInfo { role: role_name(role_of(u.role)), user_id: u.user_id, email: u.email, account_id: u.account_id, disabled: u.disabled, created_at: rfc3339(u.created_at_ns) }
}

#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin", security(("bearer" = []), ("apca_key" = [])),
    responses((status = 200, body = Vec<UserInfo>), (status = 401, body = crate::openapi::ErrorBody), (status = 403, body = crate::openapi::ErrorBody)))]
pub async fn users(State(state): State<AppState>, who: Caller) -> Result<Json<Vec<UserInfo>>, ApiError> {
    who.require_admin()?;
    Ok(Json(platform(&state)?.ports.users.users()?.into_iter().map(user_info).collect()))
}

#[utoipa::path(patch, path = "/api/v1/admin/users/{user_id}", tag = "admin", security(("bearer" = []), ("apca_key" = [])),
    params(("user_id" = String, Path)), request_body = UserPatch,
    responses((status = 200, body = UserInfo), (status = 401, body = crate::openapi::ErrorBody), (status = 403, body = crate::openapi::ErrorBody),
        (status = 404, body = crate::openapi::ErrorBody), (status = 422, body = crate::openapi::ErrorBody)))]
pub async fn update_user(State(state): State<AppState>, ctx: AuditContext, who: Caller, Path(user_id): Path<String>, Body(req): Body<UserPatch>) -> Result<Json<UserInfo>, ApiError> {
    ctx.update(|n| {
        n.action = Some(AuditAction::AdminUserUpdate);
        n.target = Some(user_id.chars().take(256).collect());
    });
    who.require_admin()?;
    let p = platform(&state)?;
    let mut user = p.ports.users.user(&user_id)?.ok_or_else(|| ApiError::NotFound("user not found".into()))?;
    if user.user_id == who.user_id {
        return Err(ApiError::Unprocessable("administrators cannot change their own role or status".into()));
    }
    if let Some(r) = &req.role {
        user.role = match r.as_str() {
            "trader" => UserRole::Trader,
            "analyst" => UserRole::Analyst,
            "admin" => UserRole::Admin,
            other => return Err(ApiError::Unprocessable(format!("invalid role: {other:?} (trader, analyst or admin)"))),
        };
    }
    let disabling = req.disabled == Some(true) && !user.disabled;
    if let Some(d) = req.disabled {
        user.disabled = d;
    }
    let now = state.ports.clock.now_ns();
    user.updated_at_ns = now;
    p.ports.users.update(user.clone()).await?;
    if disabling {
        p.ports.sessions.revoke_user(&user.user_id).await?;
        for k in p.ports.api_keys.keys_of(&user.user_id)?.into_iter().filter(|k| k.revoked_at_ns.is_none()) {
            p.ports.api_keys.revoke(&k.key_id, now).await?;
        }
    }
    ctx.update(|n| n.detail = Some(format!("role={} disabled={}", role_name(role_of(user.role)), user.disabled)));
    Ok(Json(user_info(user)))
}

fn status_name(s: InstrumentStatus) -> &'static str {
    match s {
        InstrumentStatus::Listed => "listed",
        InstrumentStatus::Halted => "halted",
        InstrumentStatus::Delisted => "delisted",
    }
}

#[utoipa::path(get, path = "/api/v1/admin/instruments", tag = "admin", security(("bearer" = []), ("apca_key" = [])),
    responses((status = 200, body = Vec<InstrumentInfo>), (status = 401, body = crate::openapi::ErrorBody), (status = 403, body = crate::openapi::ErrorBody)))]
pub async fn instruments(State(state): State<AppState>, who: Caller) -> Result<Json<Vec<InstrumentInfo>>, ApiError> {
    who.require_admin()?;
    let list = state.ports.assets.assets()?;
    Ok(Json(
        list.into_iter()
            .map(|a| InstrumentInfo { status: status_name(a.status), name: a.listing.name, last_trade_price: dec_opt(a.last_trade_price), symbol: a.symbol })
            .collect(),
    ))
}

async fn instrument_command(state: &AppState, ctx: &AuditContext, who: &Caller, symbol: &str, body: InstrumentInstruction) -> Result<impl IntoResponse, ApiError> {
    let (action, audited) = match body {
        InstrumentInstruction::HaltInstrument(_) => ("halt", AuditAction::AdminInstrumentHalt),
        _ => ("resume", AuditAction::AdminInstrumentResume),
    };
    ctx.update(|n| {
        n.action = Some(audited);
        n.target = Some(symbol.chars().take(256).collect());
    });
    who.require_admin()?;
    let symbol = symbol.to_ascii_uppercase();
    let asset = state.ports.assets.asset(&symbol)?.ok_or_else(|| ApiError::NotFound("instrument not found".into()))?;
    if asset.status == InstrumentStatus::Delisted {
        return Err(ApiError::Unprocessable(format!("instrument {symbol} is delisted")));
    }
    let command = InstrumentCommand { command_id: uuid_v4(), symbol: symbol.clone(), issued_at_ns: state.ports.clock.now_ns(), body };
    let command_id = command.command_id.clone();
    platform(state)?.ports.commands.instrument(command).await?;
    Ok((StatusCode::ACCEPTED, Json(InstrumentAccepted { command_id, symbol, action })))
}

#[utoipa::path(post, path = "/api/v1/admin/instruments/{symbol}/halt", tag = "admin", security(("bearer" = []), ("apca_key" = [])),
    params(("symbol" = String, Path)), request_body = HaltRequest,
    responses((status = 202, body = InstrumentAccepted), (status = 401, body = crate::openapi::ErrorBody), (status = 403, body = crate::openapi::ErrorBody),
        (status = 404, body = crate::openapi::ErrorBody), (status = 422, body = crate::openapi::ErrorBody)))]
pub async fn halt(State(state): State<AppState>, ctx: AuditContext, who: Caller, Path(symbol): Path<String>, Body(req): Body<HaltRequest>) -> Result<impl IntoResponse, ApiError> {
    let reason: String = req.reason.chars().take(256).collect();
    instrument_command(&state, &ctx, &who, &symbol, InstrumentInstruction::HaltInstrument(HaltInstrument { reason })).await
}

#[utoipa::path(post, path = "/api/v1/admin/instruments/{symbol}/resume", tag = "admin", security(("bearer" = []), ("apca_key" = [])),
    params(("symbol" = String, Path)),
    responses((status = 202, body = InstrumentAccepted), (status = 401, body = crate::openapi::ErrorBody), (status = 403, body = crate::openapi::ErrorBody),
        (status = 404, body = crate::openapi::ErrorBody)))]
pub async fn resume(State(state): State<AppState>, ctx: AuditContext, who: Caller, Path(symbol): Path<String>) -> Result<impl IntoResponse, ApiError> {
    instrument_command(&state, &ctx, &who, &symbol, InstrumentInstruction::ResumeInstrument(ResumeInstrument {})).await
}

/// `POST /api/v1/admin/accounts/{account_id}/kyc` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct KycDecision {
    /// `approved`, `rejected` or `pending`.
    pub status: String,
    /// Limits tier, 1 to 3 (the seeds' tiers); default 1.
    pub tier: Option<i32>,
}

/// An accepted KYC decision.
#[derive(Debug, Serialize, ToSchema)]
pub struct KycAccepted {
    pub command_id: String,
    pub account_id: String,
    pub kyc_status: String,
    pub kyc_tier: i32,
}

#[utoipa::path(post, path = "/api/v1/admin/accounts/{account_id}/kyc", tag = "admin", security(("bearer" = []), ("apca_key" = [])),
    params(("account_id" = String, Path)), request_body = KycDecision,
    responses((status = 202, body = KycAccepted), (status = 401, body = crate::openapi::ErrorBody), (status = 403, body = crate::openapi::ErrorBody),
        (status = 404, body = crate::openapi::ErrorBody), (status = 422, body = crate::openapi::ErrorBody)))]
pub async fn set_kyc(State(state): State<AppState>, ctx: AuditContext, who: Caller, Path(account_id): Path<String>, Body(req): Body<KycDecision>) -> Result<impl IntoResponse, ApiError> {
    ctx.update(|n| {
        n.action = Some(AuditAction::AdminAccountKyc);
        n.target = Some(account_id.chars().take(256).collect());
    });
    who.require_admin()?;
    let kyc_status = match req.status.as_str() {
        "approved" => KycStatus::Approved,
        "rejected" => KycStatus::Rejected,
        "pending" => KycStatus::Pending,
        other => return Err(ApiError::Unprocessable(format!("status must be approved, rejected or pending, not {other:?}"))),
    };
    let kyc_tier = req.tier.unwrap_or(1);
    if !(1..=3).contains(&kyc_tier) {
        return Err(ApiError::Unprocessable(format!("tier must be 1, 2 or 3, not {kyc_tier}")));
    }
    // Only accounts of registered users (the accounts pipeline would drop the rest anyway).
    let p = platform(&state)?;
    if !p.ports.users.users()?.iter().any(|u| u.account_id == account_id) {
        return Err(ApiError::NotFound("account not found".into()));
    }
    let command = AccountCommand {
        command_id: uuid_v4(),
        account_id: account_id.clone(),
        issued_at_ns: state.ports.clock.now_ns(),
        body: AccountInstruction::SetKyc(SetKyc { kyc_status, kyc_tier }),
    };
    let command_id = command.command_id.clone();
    p.ports.commands.account(command).await?;
    Ok((StatusCode::ACCEPTED, Json(KycAccepted { command_id, account_id, kyc_status: req.status, kyc_tier })))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/users", get(users))
        .route("/api/v1/admin/users/{user_id}", patch(update_user))
        .route("/api/v1/admin/instruments", get(instruments))
        .route("/api/v1/admin/instruments/{symbol}/halt", post(halt))
        .route("/api/v1/admin/instruments/{symbol}/resume", post(resume))
        .route("/api/v1/admin/accounts/{account_id}/kyc", post(set_kyc))
}
