//! Funding: `POST /api/v1/accounts/{account_id}/deposits` and `/withdrawals` (write a
//! `FundingCommand` on `funding.commands`: the accounts pipeline books it and answers on
//! `funding.events`), `GET .../transactions` (the `funding.events` history) and
//! `GET .../notifications`.
//!
//! Amounts are JSON strings (exact decimals): positive, at most 8 decimal places (the
//! wire's scale). A request answers 202 with the funding id: accepted by the log, not yet
//! by the accounts pipeline (its verdict shows up in the transaction history).

use super::audit_layer::AuditAction;
use super::caller::{platform, AuditContext, Body, Caller};
use super::ports::NotificationKind;
use crate::error::ApiError;
use crate::format::{dec, parse_decimal, rfc3339, uuid_v4};
use crate::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use rust_decimal::Decimal;
use schemas::records::{FundingCommand, FundingDirection, FundingInstruction, FundingStatus, RequestDeposit, RequestWithdrawal};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

const MAX_SCALE: u32 = 8;
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 500;

/// Deposit or withdrawal body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct FundingRequest {
    /// Decimal string, e.g. `"250.00"`.
    pub amount: String,
}

/// An accepted funding request.
#[derive(Debug, Serialize, ToSchema)]
pub struct FundingAccepted {
    pub funding_id: String,
    pub account_id: String,
    /// `deposit` or `withdrawal`.
    pub direction: &'static str,
    pub amount: String,
    /// Always `requested`.
    pub status: &'static str,
}

/// One `funding.events` record.
#[derive(Debug, Serialize, ToSchema)]
pub struct Transaction {
    pub event_id: String,
    pub funding_id: String,
    pub direction: &'static str,
    /// `requested`, `completed`, `failed` or `rejected`.
    pub status: &'static str,
    pub amount: String,
    pub reason: Option<String>,
    pub at: String,
}

/// A notification.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationBody {
    pub id: String,
    pub kind: NotificationKind,
    pub message: String,
    pub at: String,
}

/// Listing parameters.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ListParams {
    /// At most 500; default 100. Newest first.
    pub limit: Option<usize>,
}

fn direction_name(d: FundingDirection) -> &'static str {
    match d {
        FundingDirection::Deposit => "deposit",
        FundingDirection::Withdrawal => "withdrawal",
    }
}

fn status_name(s: FundingStatus) -> &'static str {
    match s {
        FundingStatus::Requested => "requested",
        FundingStatus::Completed => "completed",
        FundingStatus::Failed => "failed",
        FundingStatus::Rejected => "rejected",
    }
}

fn amount(text: &str) -> Result<Decimal, ApiError> {
    let d = parse_decimal(text).ok_or_else(|| ApiError::Unprocessable(format!("amount is not a valid decimal: {text:?}")))?;
    if d <= Decimal::ZERO {
        return Err(ApiError::Unprocessable("amount must be positive".into()));
    }
    if d.normalize().scale() > MAX_SCALE {
        return Err(ApiError::Unprocessable(format!("amount has more than {MAX_SCALE} decimal places")));
    }
    Ok(d.normalize())
}

async fn request(state: AppState, ctx: AuditContext, who: Caller, account_id: String, body: FundingRequest, direction: FundingDirection) -> Result<impl IntoResponse, ApiError> {
    ctx.update(|n| {
        n.action = Some(match direction {
            FundingDirection::Deposit => AuditAction::FundingDeposit,
            FundingDirection::Withdrawal => AuditAction::FundingWithdraw,
        });
        n.target = Some(account_id.chars().take(256).collect());
    });
    who.write(&account_id)?;
    let amount = amount(&body.amount)?;
    let funding_id = uuid_v4();
    let instruction = match direction {
        FundingDirection::Deposit => FundingInstruction::RequestDeposit(RequestDeposit { funding_id: funding_id.clone(), amount }),
        FundingDirection::Withdrawal => FundingInstruction::RequestWithdrawal(RequestWithdrawal { funding_id: funding_id.clone(), amount }),
    };
    let command = FundingCommand { command_id: uuid_v4(), account_id: account_id.clone(), issued_at_ns: state.ports.clock.now_ns(), body: instruction };
    platform(&state)?.ports.commands.funding(command).await?;
    ctx.update(|n| n.detail = Some(format!("funding_id={funding_id}")));
    Ok((
        StatusCode::ACCEPTED,
        Json(FundingAccepted { funding_id, account_id, direction: direction_name(direction), amount: dec(amount), status: "requested" }),
    ))
}

#[utoipa::path(post, path = "/api/v1/accounts/{account_id}/deposits", tag = "funding", security(("bearer" = []), ("apca_key" = [])),
    params(("account_id" = String, Path)), request_body = FundingRequest,
    responses((status = 202, body = FundingAccepted), (status = 401, body = crate::openapi::ErrorBody), (status = 403, body = crate::openapi::ErrorBody),
        (status = 404, body = crate::openapi::ErrorBody), (status = 422, body = crate::openapi::ErrorBody)))]
pub async fn deposit(State(state): State<AppState>, ctx: AuditContext, who: Caller, Path(account_id): Path<String>, Body(body): Body<FundingRequest>) -> Result<impl IntoResponse, ApiError> {
    request(state, ctx, who, account_id, body, FundingDirection::Deposit).await
}

#[utoipa::path(post, path = "/api/v1/accounts/{account_id}/withdrawals", tag = "funding", security(("bearer" = []), ("apca_key" = [])),
    params(("account_id" = String, Path)), request_body = FundingRequest,
    responses((status = 202, body = FundingAccepted), (status = 401, body = crate::openapi::ErrorBody), (status = 403, body = crate::openapi::ErrorBody),
        (status = 404, body = crate::openapi::ErrorBody), (status = 422, body = crate::openapi::ErrorBody)))]
pub async fn withdraw(State(state): State<AppState>, ctx: AuditContext, who: Caller, Path(account_id): Path<String>, Body(body): Body<FundingRequest>) -> Result<impl IntoResponse, ApiError> {
    request(state, ctx, who, account_id, body, FundingDirection::Withdrawal).await
}

fn limit(q: Result<Query<ListParams>, QueryRejection>) -> Result<usize, ApiError> {
    let Query(p) = q.map_err(|_| ApiError::Unprocessable(format!("limit must be between 1 and {MAX_LIMIT}")))?;
    match p.limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::Unprocessable(format!("limit must be between 1 and {MAX_LIMIT}"))),
    }
}

#[utoipa::path(get, path = "/api/v1/accounts/{account_id}/transactions", tag = "funding", security(("bearer" = []), ("apca_key" = [])),
    params(("account_id" = String, Path), ListParams),
    responses((status = 200, body = Vec<Transaction>), (status = 401, body = crate::openapi::ErrorBody), (status = 404, body = crate::openapi::ErrorBody)))]
pub async fn transactions(State(state): State<AppState>, who: Caller, Path(account_id): Path<String>, q: Result<Query<ListParams>, QueryRejection>) -> Result<Json<Vec<Transaction>>, ApiError> {
    who.read(&account_id)?;
    let limit = limit(q)?;
    let events = platform(&state)?.ports.funding.funding_events(&account_id)?;
    let out = events
        .into_iter()
        .rev()
        .take(limit)
        .map(|e| Transaction {
            event_id: e.event_id,
            funding_id: e.funding_id,
            direction: direction_name(e.direction),
            status: status_name(e.status),
            amount: dec(e.amount),
            reason: e.reason,
            at: rfc3339(e.at_ns),
        })
        .collect();
    Ok(Json(out))
}

#[utoipa::path(get, path = "/api/v1/accounts/{account_id}/notifications", tag = "funding", security(("bearer" = []), ("apca_key" = [])),
    params(("account_id" = String, Path), ListParams),
    responses((status = 200, body = Vec<NotificationBody>), (status = 401, body = crate::openapi::ErrorBody), (status = 404, body = crate::openapi::ErrorBody)))]
pub async fn notifications(State(state): State<AppState>, who: Caller, Path(account_id): Path<String>, q: Result<Query<ListParams>, QueryRejection>) -> Result<Json<Vec<NotificationBody>>, ApiError> {
    who.read(&account_id)?;
    let limit = limit(q)?;
    let list = platform(&state)?.ports.notifications.notifications(&account_id)?;
    Ok(Json(list.into_iter().take(limit).map(|n| NotificationBody { id: n.notification_id, kind: n.kind, message: n.message, at: rfc3339(n.at_ns) }).collect()))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/accounts/{account_id}/deposits", post(deposit))
        .route("/api/v1/accounts/{account_id}/withdrawals", post(withdraw))
        .route("/api/v1/accounts/{account_id}/transactions", get(transactions))
        .route("/api/v1/accounts/{account_id}/notifications", get(notifications))
}
