//! Watchlists: `GET/POST /v2/watchlists`, `GET/PUT/POST/DELETE /v2/watchlists/{id}`,
//! `DELETE /v2/watchlists/{id}/{symbol}` and the same by name on
//! `/v2/watchlists:by_name?name=...`, over the [`WatchlistStore`](crate::ports::WatchlistStore).
//!
//! Alpaca's semantics: a Watchlist is `{id, account_id, name, created_at, updated_at,
//! assets}` (the listing leaves `assets` out); `POST /{id}` appends `{"symbol"}`; `PUT`
//! replaces the name and / or the symbols; deleting a list answers 204, removing a
//! symbol answers the updated list.
//!
//! Rules: names are 1..=64 characters (trimmed) and unique per account (422); symbols are
//! upper-cased, must be known, non-delisted assets (422 otherwise), keep insertion order
//! and are de-duplicated on create / replace; appending a symbol already present is a
//! 422, removing one that is absent a 404. Another account's list is indistinguishable
//! from a missing one (404), for every role: watchlists are per account. Analysts
//! (read-only keys) may read but not change them (403). Changes are read-modify-write
//! against the store with `previous` (optimistic: a concurrent change is re-read and
//! re-applied, up to [`RETRIES`] times). Without a store
//! ([`AppState::with_watchlists`](crate::AppState::with_watchlists)) every endpoint
//! answers 503.

pub mod memory;

pub use memory::MemoryWatchlists;

use crate::assets::AssetBody;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::format::{rfc3339, uuid_v4, uuid_v8};
use crate::ports::{Role, WatchlistStore, WatchlistWrite};
use crate::AppState;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use schemas::records::{InstrumentStatus, WatchlistRecord};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Longest watchlist name, in characters.
pub const MAX_NAME: usize = 64;
/// Most symbols in one list.
pub const MAX_SYMBOLS: usize = 1000;
/// Optimistic retries of a change that lost a race.
pub const RETRIES: usize = 5;

/// Alpaca's Watchlist object.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct WatchlistBody {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assets: Option<Vec<AssetBody>>,
}

fn render(state: &AppState, w: &WatchlistRecord, with_assets: bool) -> Result<WatchlistBody, ApiError> {
    let assets = if with_assets {
        let mut out = Vec::with_capacity(w.symbols.len());
        for s in &w.symbols {
            // A symbol whose asset the view no longer knows is left out, never made up.
            if let Some(a) = state.ports.assets.asset(s)? {
                out.push(AssetBody::from_record(&a));
            }
        }
        Some(out)
    } else {
        None
    };
    Ok(WatchlistBody {
        id: w.watchlist_id.clone(),
        account_id: uuid_v8("account", &w.account_id),
        name: w.name.clone(),
        created_at: rfc3339(w.created_at_ns),
        updated_at: rfc3339(w.updated_at_ns),
        assets,
    })
}

fn unprocessable(m: impl Into<String>) -> ApiError {
    ApiError::Unprocessable(m.into())
}

fn not_found() -> ApiError {
    ApiError::NotFound("watchlist not found".into())
}

fn store(state: &AppState) -> Result<&Arc<dyn WatchlistStore>, ApiError> {
    state.watchlists.as_ref().ok_or_else(|| ApiError::Unavailable("no watchlist store configured".into()))
}

fn require_write(who: &Principal) -> Result<(), ApiError> {
    match who.role {
        Role::Trader | Role::Admin => Ok(()),
        Role::Analyst => Err(ApiError::Forbidden("this API key is read-only".into())),
    }
}

fn json_error(e: JsonRejection) -> ApiError {
    match e {
        JsonRejection::JsonDataError(e) => unprocessable(format!("invalid request body: {}", e.body_text())),
        e if e.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        _ => ApiError::BadRequest("request body format is invalid".into()),
    }
}

fn query_error(e: QueryRejection) -> ApiError {
    unprocessable(format!("invalid query: {}", e.body_text()))
}

fn valid_name(name: &str) -> Result<String, ApiError> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > MAX_NAME {
        return Err(unprocessable(format!("name must be 1 to {MAX_NAME} characters")));
    }
    Ok(n.to_string())
}

/// Upper-cased, known, not delisted.
fn valid_symbol(state: &AppState, symbol: &str) -> Result<String, ApiError> {
    let s = symbol.trim().to_ascii_uppercase();
    match state.ports.assets.asset(&s)? {
        Some(a) if a.status != InstrumentStatus::Delisted => Ok(s),
        Some(_) => Err(unprocessable(format!("asset \"{s}\" is not active"))),
        None => Err(unprocessable(format!("asset \"{s}\" not found"))),
    }
}

/// Validated and de-duplicated, in first-seen order.
fn valid_symbols(state: &AppState, symbols: &[String]) -> Result<Vec<String>, ApiError> {
    let mut out: Vec<String> = Vec::new();
    for s in symbols {
        let s = valid_symbol(state, s)?;
        if !out.contains(&s) {
            out.push(s);
        }
    }
    if out.len() > MAX_SYMBOLS {
        return Err(unprocessable(format!("a watchlist holds at most {MAX_SYMBOLS} symbols")));
    }
    Ok(out)
}

/// Which list a request names.
enum Target {
    Id(String),
    Name(String),
}

/// The caller's list, or 404 (another account's list is not found either).
fn find(state: &AppState, who: &Principal, target: &Target) -> Result<WatchlistRecord, ApiError> {
    let store = store(state)?;
    let found = match target {
        Target::Id(id) => store.watchlist(id)?.filter(|w| w.account_id == who.account_id),
        Target::Name(name) => store.watchlists_of(&who.account_id)?.into_iter().find(|w| &w.name == name),
    };
    found.ok_or_else(not_found)
}

/// Read-modify-write with optimistic retries.
async fn modify(
    state: &AppState,
    who: &Principal,
    target: &Target,
    change: impl Fn(&WatchlistRecord) -> Result<WatchlistRecord, ApiError>,
) -> Result<WatchlistRecord, ApiError> {
    require_write(who)?;
    for _ in 0..RETRIES {
        let current = find(state, who, target)?;
        let mut next = change(&current)?;
        next.updated_at_ns = state.ports.clock.now_ns().max(current.updated_at_ns);
        match store(state)?.put(next.clone(), Some(current)).await? {
            WatchlistWrite::Written => return Ok(next),
            WatchlistWrite::NameTaken => return Err(unprocessable(format!("watchlist name \"{}\" already exists", next.name))),
            WatchlistWrite::Stale => continue,
        }
    }
    Err(ApiError::Unavailable("watchlist changed concurrently too often".into()))
}

#[derive(Debug, Default, Deserialize)]
pub struct CreateRequest {
    pub name: Option<String>,
    #[serde(default)]
    pub symbols: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct UpdateRequest {
    pub name: Option<String>,
    pub symbols: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct AddRequest {
    pub symbol: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ByName {
    pub name: Option<String>,
}

fn by_name(q: Result<Query<ByName>, QueryRejection>) -> Result<Target, ApiError> {
    let Query(q) = q.map_err(query_error)?;
    let name = q.name.filter(|n| !n.trim().is_empty()).ok_or_else(|| unprocessable("name is required"))?;
    Ok(Target::Name(name.trim().to_string()))
}

async fn list(State(state): State<AppState>, who: Principal) -> Result<Json<Vec<WatchlistBody>>, ApiError> {
    let lists = store(&state)?.watchlists_of(&who.account_id)?;
    Ok(Json(lists.iter().map(|w| render(&state, w, false)).collect::<Result<_, _>>()?))
}

async fn create(
    State(state): State<AppState>,
    who: Principal,
    body: Result<Json<CreateRequest>, JsonRejection>,
) -> Result<Json<WatchlistBody>, ApiError> {
    require_write(&who)?;
    let Json(req) = body.map_err(json_error)?;
    let name = valid_name(req.name.as_deref().ok_or_else(|| unprocessable("name is required"))?)?;
    let symbols = valid_symbols(&state, req.symbols.as_deref().unwrap_or_default())?;
    let now = state.ports.clock.now_ns();
    let list = WatchlistRecord { watchlist_id: uuid_v4(), account_id: who.account_id.clone(), name, symbols, created_at_ns: now, updated_at_ns: now };
    match store(&state)?.put(list.clone(), None).await? {
        WatchlistWrite::Written => Ok(Json(render(&state, &list, true)?)),
        WatchlistWrite::NameTaken => Err(unprocessable(format!("watchlist name \"{}\" already exists", list.name))),
        WatchlistWrite::Stale => Err(ApiError::Internal(format!("fresh watchlist id {} already exists", list.watchlist_id))),
    }
}

async fn get_target(state: &AppState, who: &Principal, target: Target) -> Result<Json<WatchlistBody>, ApiError> {
    Ok(Json(render(state, &find(state, who, &target)?, true)?))
}

async fn update_target(state: &AppState, who: &Principal, target: Target, body: Result<Json<UpdateRequest>, JsonRejection>) -> Result<Json<WatchlistBody>, ApiError> {
    require_write(who)?;
    let Json(req) = body.map_err(json_error)?;
    if req.name.is_none() && req.symbols.is_none() {
        return Err(unprocessable("name or symbols is required"));
    }
    let name = req.name.as_deref().map(valid_name).transpose()?;
    let symbols = req.symbols.as_deref().map(|s| valid_symbols(state, s)).transpose()?;
    let next = modify(state, who, &target, |cur| {
        let mut next = cur.clone();
        if let Some(n) = &name {
            next.name = n.clone();
        }
        if let Some(s) = &symbols {
            next.symbols = s.clone();
        }
        Ok(next)
    })
    .await?;
    Ok(Json(render(state, &next, true)?))
}

async fn add_target(state: &AppState, who: &Principal, target: Target, body: Result<Json<AddRequest>, JsonRejection>) -> Result<Json<WatchlistBody>, ApiError> {
    require_write(who)?;
    let Json(req) = body.map_err(json_error)?;
    let symbol = valid_symbol(state, req.symbol.as_deref().ok_or_else(|| unprocessable("symbol is required"))?)?;
    let next = modify(state, who, &target, |cur| {
        if cur.symbols.contains(&symbol) {
            return Err(unprocessable(format!("symbol \"{symbol}\" is already in the watchlist")));
        }
        if cur.symbols.len() >= MAX_SYMBOLS {
            return Err(unprocessable(format!("a watchlist holds at most {MAX_SYMBOLS} symbols")));
        }
        let mut next = cur.clone();
        next.symbols.push(symbol.clone());
        Ok(next)
    })
    .await?;
    Ok(Json(render(state, &next, true)?))
}

async fn delete_target(state: &AppState, who: &Principal, target: Target) -> Result<StatusCode, ApiError> {
    require_write(who)?;
    let current = find(state, who, &target)?;
    // Gone in between (a concurrent delete) is still gone: 204 either way.
    store(state)?.delete(&current.watchlist_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn get_one(State(state): State<AppState>, who: Principal, Path(id): Path<String>) -> Result<Json<WatchlistBody>, ApiError> {
    get_target(&state, &who, Target::Id(id)).await
}

async fn update_one(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    body: Result<Json<UpdateRequest>, JsonRejection>,
) -> Result<Json<WatchlistBody>, ApiError> {
    update_target(&state, &who, Target::Id(id), body).await
}

async fn add_one(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    body: Result<Json<AddRequest>, JsonRejection>,
) -> Result<Json<WatchlistBody>, ApiError> {
    add_target(&state, &who, Target::Id(id), body).await
}

async fn delete_one(State(state): State<AppState>, who: Principal, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    delete_target(&state, &who, Target::Id(id)).await
}

async fn remove_symbol(State(state): State<AppState>, who: Principal, Path((id, symbol)): Path<(String, String)>) -> Result<Json<WatchlistBody>, ApiError> {
    let symbol = symbol.trim().to_ascii_uppercase();
    let next = modify(&state, &who, &Target::Id(id), |cur| {
        if !cur.symbols.contains(&symbol) {
            return Err(ApiError::NotFound(format!("symbol \"{symbol}\" is not in the watchlist")));
        }
        let mut next = cur.clone();
        next.symbols.retain(|s| s != &symbol);
        Ok(next)
    })
    .await?;
    Ok(Json(render(&state, &next, true)?))
}

async fn get_by_name(State(state): State<AppState>, who: Principal, q: Result<Query<ByName>, QueryRejection>) -> Result<Json<WatchlistBody>, ApiError> {
    get_target(&state, &who, by_name(q)?).await
}

async fn update_by_name(
    State(state): State<AppState>,
    who: Principal,
    q: Result<Query<ByName>, QueryRejection>,
    body: Result<Json<UpdateRequest>, JsonRejection>,
) -> Result<Json<WatchlistBody>, ApiError> {
    update_target(&state, &who, by_name(q)?, body).await
}

async fn add_by_name(
    State(state): State<AppState>,
    who: Principal,
    q: Result<Query<ByName>, QueryRejection>,
    body: Result<Json<AddRequest>, JsonRejection>,
) -> Result<Json<WatchlistBody>, ApiError> {
    add_target(&state, &who, by_name(q)?, body).await
}

async fn delete_by_name(State(state): State<AppState>, who: Principal, q: Result<Query<ByName>, QueryRejection>) -> Result<StatusCode, ApiError> {
    delete_target(&state, &who, by_name(q)?).await
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v2/watchlists", get(list).post(create))
        .route("/v2/watchlists:by_name", get(get_by_name).put(update_by_name).post(add_by_name).delete(delete_by_name))
        .route("/v2/watchlists/{watchlist_id}", get(get_one).put(update_one).post(add_one).delete(delete_one))
        .route("/v2/watchlists/{watchlist_id}/{symbol}", delete(remove_symbol))
}

#[cfg(test)]
pub(crate) mod tests;
