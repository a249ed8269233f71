//! Account activities: `GET /v2/account/activities` and
//! `GET /v2/account/activities/{activity_type}`, from the
//! [`ActivityView`](crate::ports::ActivityView) (read only, synchronous).
//!
//! - Types produced: `FILL` (trade activities: the fills the accounts pipeline booked),
//!   `CSD` / `CSW` (completed deposits / withdrawals) and `FEE` (fees booked with fills);
//!   where they come from is in [`book`]. Filters accept every Alpaca type code plus the
//!   groups `TRANS` (CSD + CSW) and `MISC` (here: FEE); known codes Tradeflow never
//!   produces (`DIV`, ...) match nothing; unknown ones are a 422.
//! - Query: `activity_types` (comma list; list endpoint only), `date` (a UTC day,
//!   `YYYY-MM-DD`; not with `after` / `until`), `after` / `until` (RFC 3339 or a date,
//!   both exclusive), `direction` (`desc` default, `asc`), `page_size` (1..=100, default
//!   100), `page_token` (the `id` of the previous page's last item). Invalid values: 422.
//! - Ids are Alpaca's `<YYYYMMDDhhmmssSSS>::<uuid>`, unique, stable across replays and
//!   sorted like time ([`model`]); pages are cut by id ([`query`]), so paging an
//!   unchanging list yields every activity once, without gaps.
//! - Every caller sees only its own account (any role may read). Without an activity view
//!   ([`AppState::with_activities`](crate::AppState::with_activities)) both endpoints
//!   answer 503.

pub mod book;
pub mod memory;
pub mod model;
pub mod query;

pub use book::ActivityBook;
pub use memory::MemoryActivities;
pub use model::{activity_id, Activity, ActivityDetail, ActivityType, CashActivity, FeeActivity, FillActivity};
pub use query::{ActivityQuery, MAX_PAGE_SIZE};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::format::{dec, parse_time, rfc3339};
use crate::ports::Direction;
use crate::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use schemas::records::{OrderStatus, Side};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

const DAY_NS: i64 = 86_400 * 1_000_000_000;

/// Alpaca's activity type codes (filter values); only those in [`expand`]'s first arms
/// are ever produced.
const ALPACA_CODES: &[&str] = &[
    "ACATC", "ACATS", "CFEE", "CIL", "CSD", "CSW", "DIV", "DIVCGL", "DIVCGS", "DIVFEE", "DIVFT", "DIVNRA", "DIVROC", "DIVTW",
    "DIVTXEX", "FEE", "FILL", "INT", "INTNRA", "INTTW", "JNL", "JNLC", "JNLS", "MA", "MISC", "NC", "OPASN", "OPCA", "OPEXC",
    "OPEXP", "OPTRD", "OPXRC", "PTC", "PTR", "REORG", "SC", "SPIN", "SPLIT", "SWP", "TRANS", "TRD",
];

/// The produced types a filter code stands for; 422 for codes Alpaca does not define.
fn expand(code: &str) -> Result<&'static [ActivityType], ApiError> {
    use ActivityType as T;
    let code = code.trim().to_ascii_uppercase();
    Ok(match code.as_str() {
        "FILL" => &[T::Fill],
        "CSD" => &[T::Csd],
        "CSW" => &[T::Csw],
        "FEE" => &[T::Fee],
        "TRANS" => &[T::Csd, T::Csw],
        "MISC" => &[T::Fee],
        c if ALPACA_CODES.contains(&c) => &[],
        _ => return Err(ApiError::Unprocessable(format!("invalid activity type: {code}"))),
    })
}

/// Alpaca's TradeActivity.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TradeActivityBody {
    pub id: String,
    pub activity_type: &'static str,
    pub transaction_time: String,
    #[serde(rename = "type")]
    pub fill_type: &'static str,
    pub price: String,
    pub qty: String,
    pub side: &'static str,
    pub symbol: String,
    pub leaves_qty: String,
    pub order_id: String,
    pub cum_qty: String,
    pub order_status: &'static str,
}

/// Alpaca's NonTradeActivity.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct NonTradeActivityBody {
    pub id: String,
    pub activity_type: &'static str,
    /// The UTC day, `YYYY-MM-DD`.
    pub date: String,
    pub net_amount: String,
    pub description: String,
    pub status: &'static str,
    pub symbol: Option<String>,
    pub qty: Option<String>,
    pub per_share_amount: Option<String>,
}

/// One element of the listing.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(untagged)]
pub enum ActivityBody {
    Trade(TradeActivityBody),
    NonTrade(NonTradeActivityBody),
}

impl ActivityBody {
    pub fn from_activity(a: &Activity) -> ActivityBody {
        let nta = |net, description, symbol| {
            ActivityBody::NonTrade(NonTradeActivityBody {
                id: a.id.clone(),
                activity_type: a.activity_type().code(),
                date: rfc3339(a.at_ns)[..10].to_string(),
                net_amount: dec(net),
                description,
                status: "executed",
                symbol,
                qty: None,
                per_share_amount: None,
            })
        };
        match &a.detail {
            ActivityDetail::Fill(f) => ActivityBody::Trade(TradeActivityBody {
                id: a.id.clone(),
                activity_type: ActivityType::Fill.code(),
                transaction_time: rfc3339(a.at_ns),
                fill_type: if f.order_status == OrderStatus::Filled { "fill" } else { "partial_fill" },
                price: dec(f.price),
                qty: dec(f.qty),
                side: match f.side {
                    Side::Buy => "buy",
                    Side::Sell => "sell",
                },
                symbol: f.symbol.clone(),
                leaves_qty: dec(f.leaves_qty),
                order_id: f.order_id.clone(),
                cum_qty: dec(f.cum_qty),
                order_status: crate::orders::status_name(f.order_status),
            }),
            ActivityDetail::Deposit(c) => nta(c.net_amount, format!("cash deposit {}", c.funding_id), None),
            ActivityDetail::Withdrawal(c) => nta(c.net_amount, format!("cash withdrawal {}", c.funding_id), None),
            ActivityDetail::Fee(f) => nta(f.net_amount, format!("fee on fill {} of order {}", f.fill_id, f.order_id), Some(f.symbol.clone())),
        }
    }
}

/// Query parameters (all optional, validated by [`parse_query`]).
#[derive(Debug, Default, Deserialize)]
pub struct ActivityParams {
    pub activity_types: Option<String>,
    pub date: Option<String>,
    pub after: Option<String>,
    pub until: Option<String>,
    pub direction: Option<String>,
    pub page_size: Option<String>,
    pub page_token: Option<String>,
}

fn unprocessable(m: impl Into<String>) -> ApiError {
    ApiError::Unprocessable(m.into())
}

/// Validates the parameters into a query; `path_type` is the `{activity_type}` segment.
pub fn parse_query(account_id: &str, p: &ActivityParams, path_type: Option<&str>) -> Result<ActivityQuery, ApiError> {
    let types: BTreeSet<ActivityType> = match (path_type, p.activity_types.as_deref()) {
        (Some(t), _) => expand(t)?.iter().copied().collect(),
        (None, None) => ActivityType::ALL.into_iter().collect(),
        (None, Some(list)) => {
            let codes: Vec<&str> = list.split(',').map(str::trim).filter(|c| !c.is_empty()).collect();
            if codes.is_empty() {
                return Err(unprocessable("activity_types must list at least one activity type"));
            }
            let mut set = BTreeSet::new();
            for c in codes {
                set.extend(expand(c)?.iter().copied());
            }
            set
        }
    };
    let time = |name: &str, v: &Option<String>| -> Result<Option<i64>, ApiError> {
        v.as_deref().map(|s| parse_time(s).ok_or_else(|| unprocessable(format!("{name} must be an RFC 3339 timestamp or a date")))).transpose()
    };
    let (after, until) = (time("after", &p.after)?, time("until", &p.until)?);
    let (from_ns, to_ns) = match p.date.as_deref() {
        Some(_) if after.is_some() || until.is_some() => return Err(unprocessable("date cannot be combined with after or until")),
        Some(d) => {
            let day = (d.len() == 10).then(|| parse_time(d)).flatten().ok_or_else(|| unprocessable("date must be a date (YYYY-MM-DD)"))?;
            (Some(day), Some(day + DAY_NS))
        }
        None => (after.map(|t| t.saturating_add(1)), until),
    };
    if let (Some(a), Some(u)) = (after, until) {
        if a >= u {
            return Err(unprocessable("after must be earlier than until"));
        }
    }
    let direction = match p.direction.as_deref() {
        None | Some("desc") => Direction::Desc,
        Some("asc") => Direction::Asc,
        Some(other) => return Err(unprocessable(format!("invalid direction: {other:?} (asc or desc)"))),
    };
    let page_size = match p.page_size.as_deref() {
        None => MAX_PAGE_SIZE,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => n,
            _ => return Err(unprocessable(format!("page_size must be an integer from 1 to {MAX_PAGE_SIZE}"))),
        },
    };
    let page_token = match p.page_token.as_deref() {
        None | Some("") => None,
        Some(t) if model::is_activity_id(t) => Some(t.to_string()),
        Some(_) => return Err(unprocessable("invalid page_token: pass the id of the last activity of the previous page")),
    };
    Ok(ActivityQuery { account_id: account_id.to_string(), types, from_ns, to_ns, direction, page_size, page_token })
}

fn respond(state: &AppState, query: &ActivityQuery) -> Result<Json<Vec<ActivityBody>>, ApiError> {
    let view = state.activities.as_ref().ok_or_else(|| ApiError::Unavailable("no activity view configured".into()))?;
    Ok(Json(view.activities(query)?.iter().map(ActivityBody::from_activity).collect()))
}

fn query_error(e: QueryRejection) -> ApiError {
    unprocessable(format!("invalid query: {}", e.body_text()))
}

async fn list(
    State(state): State<AppState>,
    who: Principal,
    params: Result<Query<ActivityParams>, QueryRejection>,
) -> Result<Json<Vec<ActivityBody>>, ApiError> {
    let Query(params) = params.map_err(query_error)?;
    respond(&state, &parse_query(&who.account_id, &params, None)?)
}

async fn by_type(
    State(state): State<AppState>,
    who: Principal,
    Path(activity_type): Path<String>,
    params: Result<Query<ActivityParams>, QueryRejection>,
) -> Result<Json<Vec<ActivityBody>>, ApiError> {
    let Query(params) = params.map_err(query_error)?;
    respond(&state, &parse_query(&who.account_id, &params, Some(&activity_type))?)
}

pub fn router() -> Router<AppState> {
    Router::new().route("/v2/account/activities", get(list)).route("/v2/account/activities/{activity_type}", get(by_type))
}

#[cfg(test)]
pub(crate) mod tests;
