//! ClickHouse reports on `/api/v1` (port [`ReportSource`], Kafka side: `sinks::reports`):
//!
//! - `GET /api/v1/accounts/{account_id}/statements/{month}` (`YYYY-MM`, New York months);
//! - `GET /api/v1/accounts/{account_id}/capital-gains/{year}?method=fifo|lifo` (default fifo);
//! - `GET /api/v1/admin/reports/activity?from=YYYY-MM-DD&to=YYYY-MM-DD` (admins only).
//!
//! JSON only (the report structs as `sinks::reports` serializes them); CSV stays with the
//! CLI (`tradeflow report ... --format csv`). Authorization as the other account routes:
//! a trader sees its own account only (others: 404), analysts and admins any account.
//! Without a report source ([`AppState::with_reports`]) every route answers 503.

use crate::error::ApiError;
use crate::ports::{ReportPortError, ReportSource};
use crate::v1::caller::Caller;
use crate::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use std::sync::Arc;
use utoipa::IntoParams;

/// The 503 message when no report source is configured.
pub const NOT_CONFIGURED: &str = "analytics not configured: start tradeflow api with --clickhouse-url";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/accounts/{account_id}/statements/{month}", get(statement))
        .route("/api/v1/accounts/{account_id}/capital-gains/{year}", get(gains))
        .route("/api/v1/admin/reports/activity", get(activity))
}

/// A report error: an [`ApiError`], or a 503 whose message the client sees (unlike
/// `ApiError::Unavailable`'s generic one): "not configured" or the source's reason.
pub enum ReportFail {
    Api(ApiError),
    Unavailable(String),
}

impl From<ApiError> for ReportFail {
    fn from(e: ApiError) -> Self {
        ReportFail::Api(e)
    }
}

impl IntoResponse for ReportFail {
    fn into_response(self) -> Response {
        match self {
            ReportFail::Api(e) => e.into_response(),
            ReportFail::Unavailable(message) => {
                tracing::warn!(%message, "reports unavailable");
                let status = StatusCode::SERVICE_UNAVAILABLE;
                let code = u32::from(status.as_u16()) * 100_000 + 10_000;
                (status, Json(serde_json::json!({ "code": code, "message": message }))).into_response()
            }
        }
    }
}

type Reply = Result<Json<serde_json::Value>, ReportFail>;

fn source(state: &AppState) -> Result<&Arc<dyn ReportSource>, ReportFail> {
    state.reports.as_ref().ok_or_else(|| ReportFail::Unavailable(NOT_CONFIGURED.into()))
}

fn port_error(e: ReportPortError) -> ReportFail {
    match e {
        ReportPortError::Invalid(m) => ApiError::Unprocessable(m).into(),
        ReportPortError::Unavailable(m) => ReportFail::Unavailable(m),
        ReportPortError::Internal(m) => ApiError::Internal(m).into(),
    }
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// `YYYY-MM` with a month 01..=12.
fn valid_month(s: &str) -> bool {
    match s.split_once('-') {
        Some((y, m)) => y.len() == 4 && digits(y) && m.len() == 2 && digits(m) && (1..=12).contains(&m.parse::<u32>().unwrap_or(0)),
        None => false,
    }
}

/// `YYYY-MM-DD` (shape only; the source checks the calendar).
fn valid_date(s: &str) -> bool {
    match s.rsplit_once('-') {
        Some((ym, d)) => valid_month(ym) && d.len() == 2 && digits(d),
        None => false,
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GainsParams {
    /// `fifo` (default) or `lifo`.
    pub method: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActivityParams {
    /// First UTC day, `YYYY-MM-DD`.
    pub from: String,
    /// Last UTC day (inclusive), `YYYY-MM-DD`.
    pub to: String,
}

#[utoipa::path(get, path = "/api/v1/accounts/{account_id}/statements/{month}", tag = "reports", security(("bearer" = []), ("apca_key" = [])),
    params(("account_id" = String, Path), ("month" = String, Path, description = "YYYY-MM")),
    responses((status = 200, description = "the monthly statement (JSON)", body = serde_json::Value), (status = 401, body = crate::openapi::ErrorBody),
        (status = 404, body = crate::openapi::ErrorBody), (status = 422, body = crate::openapi::ErrorBody), (status = 503, body = crate::openapi::ErrorBody)))]
pub async fn statement(State(state): State<AppState>, who: Caller, Path((account_id, month)): Path<(String, String)>) -> Reply {
    who.read(&account_id)?;
    if !valid_month(&month) {
        return Err(ApiError::Unprocessable(format!("invalid month {month:?}: expected YYYY-MM, e.g. 2026-10")).into());
    }
    let src = source(&state)?;
    src.statement(&account_id, &month).await.map(Json).map_err(port_error)
}

#[utoipa::path(get, path = "/api/v1/accounts/{account_id}/capital-gains/{year}", tag = "reports", security(("bearer" = []), ("apca_key" = [])),
    params(("account_id" = String, Path), ("year" = String, Path, description = "tax year, e.g. 2026"), GainsParams),
    responses((status = 200, description = "the realized capital-gains report (JSON)", body = serde_json::Value), (status = 401, body = crate::openapi::ErrorBody),
        (status = 404, body = crate::openapi::ErrorBody), (status = 422, body = crate::openapi::ErrorBody), (status = 503, body = crate::openapi::ErrorBody)))]
pub async fn gains(State(state): State<AppState>, who: Caller, Path((account_id, year)): Path<(String, String)>, q: Result<Query<GainsParams>, QueryRejection>) -> Reply {
    who.read(&account_id)?;
    let year: i32 = match year.parse() {
        Ok(y) if digits(&year) && (1970..=9999).contains(&y) => y,
        _ => return Err(ApiError::Unprocessable(format!("invalid year {year:?}: expected 1970..=9999")).into()),
    };
    let Query(p) = q.map_err(|_| ApiError::Unprocessable("invalid query: method must be fifo or lifo".into()))?;
    let method = p.method.unwrap_or_else(|| "fifo".into()).to_ascii_lowercase();
    if method != "fifo" && method != "lifo" {
        return Err(ApiError::Unprocessable(format!("invalid lot method {method:?}: expected fifo or lifo")).into());
    }
    let src = source(&state)?;
    src.gains(&account_id, year, &method).await.map(Json).map_err(port_error)
}

#[utoipa::path(get, path = "/api/v1/admin/reports/activity", tag = "reports", security(("bearer" = []), ("apca_key" = [])),
    params(ActivityParams),
    responses((status = 200, description = "volume, active accounts and order latency per UTC day (JSON)", body = serde_json::Value), (status = 401, body = crate::openapi::ErrorBody),
        (status = 403, body = crate::openapi::ErrorBody), (status = 422, body = crate::openapi::ErrorBody), (status = 503, body = crate::openapi::ErrorBody)))]
pub async fn activity(State(state): State<AppState>, who: Caller, q: Result<Query<ActivityParams>, QueryRejection>) -> Reply {
    who.require_admin()?;
    let Query(p) = q.map_err(|_| ApiError::Unprocessable("from and to are required: YYYY-MM-DD".into()))?;
    for d in [&p.from, &p.to] {
        if !valid_date(d) {
            return Err(ApiError::Unprocessable(format!("invalid date {d:?}: expected YYYY-MM-DD, e.g. 2026-10-01")).into());
        }
    }
    let src = source(&state)?;
    src.admin(&p.from, &p.to).await.map(Json).map_err(port_error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::BoxFuture;
    use crate::v1::testkit::{PlatformApp, Who};
    use axum::http::Method;
    use serde_json::json;

    struct Fake;

    impl ReportSource for Fake {
        fn statement<'a>(&'a self, account_id: &'a str, month: &'a str) -> BoxFuture<'a, Result<serde_json::Value, ReportPortError>> {
            Box::pin(async move { Ok(json!({"account": account_id, "month": month, "closing_cash": "12.50"})) })
        }
        fn gains<'a>(&'a self, account_id: &'a str, year: i32, method: &'a str) -> BoxFuture<'a, Result<serde_json::Value, ReportPortError>> {
            Box::pin(async move { Ok(json!({"account": account_id, "year": year, "method": method})) })
        }
        fn admin<'a>(&'a self, from: &'a str, to: &'a str) -> BoxFuture<'a, Result<serde_json::Value, ReportPortError>> {
            Box::pin(async move {
                if from == "2026-01-01" {
                    return Err(ReportPortError::Unavailable("ClickHouse at http://x is unreachable".into()));
                }
                Ok(json!({"from": from, "to": to}))
            })
        }
    }

    fn with_fake() -> PlatformApp {
        let mut a = PlatformApp::new();
        a.state = a.state.clone().with_reports(Arc::new(Fake));
        a
    }

    #[tokio::test]
    async fn reports_503_when_not_configured() {
        let a = PlatformApp::new();
        let (s, _, b) = a.with_key(Who::Trader, Method::GET, "/api/v1/accounts/acc-1/statements/2026-10", None).await;
        assert_eq!(s, 503, "{b}");
        assert_eq!(b["message"], NOT_CONFIGURED);
        assert_eq!(b["code"], 50310000);
    }

    #[tokio::test]
    async fn reports_pass_json_through() {
        let a = with_fake();
        let (s, _, b) = a.with_key(Who::Trader, Method::GET, "/api/v1/accounts/acc-1/statements/2026-10", None).await;
        assert_eq!((s, b), (200, json!({"account": "acc-1", "month": "2026-10", "closing_cash": "12.50"})));
        let (s, _, b) = a.call(Who::Analyst, Method::GET, "/api/v1/accounts/acc-1/capital-gains/2026?method=LIFO", None).await;
        assert_eq!((s, b), (200, json!({"account": "acc-1", "year": 2026, "method": "lifo"})));
        let (s, _, b) = a.call(Who::Trader, Method::GET, "/api/v1/accounts/acc-1/capital-gains/2026", None).await;
        assert_eq!((s, b["method"].clone()), (200, json!("fifo")));
        let (s, _, b) = a.call(Who::Admin, Method::GET, "/api/v1/admin/reports/activity?from=2026-10-01&to=2026-10-31", None).await;
        assert_eq!((s, b), (200, json!({"from": "2026-10-01", "to": "2026-10-31"})));
        let (s, _, b) = a.call(Who::Admin, Method::GET, "/api/v1/admin/reports/activity?from=2026-01-01&to=2026-10-31", None).await;
        assert_eq!(s, 503, "{b}");
    }

    #[tokio::test]
    async fn reports_validate_and_authorize() {
        let a = with_fake();
        for path in ["/api/v1/accounts/acc-1/statements/2026-13", "/api/v1/accounts/acc-1/statements/oct", "/api/v1/accounts/acc-1/capital-gains/20x6", "/api/v1/accounts/acc-1/capital-gains/2026?method=hifo"] {
            let (s, _, b) = a.with_key(Who::Trader, Method::GET, path, None).await;
            assert_eq!(s, 422, "{path}: {b}");
        }
        let (s, ..) = a.with_key(Who::Admin, Method::GET, "/api/v1/admin/reports/activity?from=2026-10&to=2026-10-31", None).await;
        assert_eq!(s, 422);
        let (s, ..) = a.with_key(Who::OtherTrader, Method::GET, "/api/v1/accounts/acc-1/statements/2026-10", None).await;
        assert_eq!(s, 404);
        let (s, ..) = a.with_key(Who::OtherTrader, Method::GET, "/api/v1/accounts/acc-1/capital-gains/2026", None).await;
        assert_eq!(s, 404);
        for who in [Who::Trader, Who::Analyst] {
            let (s, ..) = a.with_key(who, Method::GET, "/api/v1/admin/reports/activity?from=2026-10-01&to=2026-10-31", None).await;
            assert_eq!(s, 403, "{who:?}");
        }
        let (s, ..) = a.send(Method::GET, "/api/v1/accounts/acc-1/statements/2026-10", &[], None).await;
        assert_eq!(s, 401);
    }
}
