//! Assets: `GET /v2/assets` (`status=active|inactive`, `asset_class=us_equity`) and
//! `GET /v2/assets/{symbol}`, from the [`AssetView`](crate::ports::AssetView).
//!
//! Mapping: listed and halted instruments are `active` (halted ones not `tradable`),
//! delisted ones `inactive`; `fractionable` when the lot size is below 1;
//! `min_order_size` / `min_trade_increment` / `price_increment` are the listing's minimum
//! quantity, lot size and tick size. No margin or shorting yet, so `marginable`,
//! `shortable` and `easy_to_borrow` are false. `exchange` is `OTC`: Alpaca's exchange
//! codes are a closed list with no entry for an internal venue.

use crate::auth::Principal;
use crate::error::ApiError;
use crate::format::{dec, uuid_v8};
use crate::ports::AssetRecord;
use crate::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use rust_decimal::Decimal;
use schemas::records::InstrumentStatus;
use serde::{Deserialize, Serialize};

pub const EXCHANGE: &str = "OTC";

/// Alpaca's Asset object.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct AssetBody {
    pub id: String,
    pub class: &'static str,
    pub exchange: &'static str,
    pub symbol: String,
    pub name: String,
    pub status: &'static str,
    pub tradable: bool,
    pub marginable: bool,
    pub shortable: bool,
    pub easy_to_borrow: bool,
    pub fractionable: bool,
    pub min_order_size: String,
    pub min_trade_increment: String,
    pub price_increment: String,
    pub attributes: Vec<String>,
}

impl AssetBody {
    pub fn from_record(a: &AssetRecord) -> AssetBody {
        AssetBody {
            id: uuid_v8("asset", &a.symbol),
            class: "us_equity",
            exchange: EXCHANGE,
            symbol: a.symbol.clone(),
            name: a.listing.name.clone(),
            status: if a.status == InstrumentStatus::Delisted { "inactive" } else { "active" },
            tradable: a.status == InstrumentStatus::Listed,
            marginable: false,
            shortable: false,
            easy_to_borrow: false,
            fractionable: a.listing.lot_size < Decimal::ONE,
            min_order_size: dec(a.listing.min_qty),
            min_trade_increment: dec(a.listing.lot_size),
            price_increment: dec(a.listing.tick_size),
            attributes: Vec::new(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct AssetParams {
    pub status: Option<String>,
    pub asset_class: Option<String>,
    pub exchange: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    _who: Principal,
    params: Result<Query<AssetParams>, QueryRejection>,
) -> Result<Json<Vec<AssetBody>>, ApiError> {
    let Query(p) = params.map_err(|e| ApiError::Unprocessable(format!("invalid query: {}", e.body_text())))?;
    let status = match p.status.as_deref() {
        None | Some("") => None,
        Some(s @ ("active" | "inactive")) => Some(s),
        Some(other) => return Err(ApiError::Unprocessable(format!("invalid status: {other:?} (active or inactive)"))),
    };
    let class_ok = matches!(p.asset_class.as_deref(), None | Some("") | Some("us_equity"));
    let exchange_ok = matches!(p.exchange.as_deref(), None | Some("") | Some(EXCHANGE));
    let assets = state.ports.assets.assets()?;
    Ok(Json(
        assets
            .iter()
            .map(AssetBody::from_record)
            .filter(|a| class_ok && exchange_ok && status.is_none_or(|s| a.status == s))
            .collect(),
    ))
}

async fn get_one(State(state): State<AppState>, _who: Principal, Path(symbol): Path<String>) -> Result<Json<AssetBody>, ApiError> {
    let symbol = symbol.to_ascii_uppercase();
    let asset = state.ports.assets.asset(&symbol)?.ok_or_else(|| ApiError::NotFound(format!("asset not found for {symbol}")))?;
    Ok(Json(AssetBody::from_record(&asset)))
}

pub fn router() -> Router<AppState> {
    Router::new().route("/v2/assets", get(list)).route("/v2/assets/{symbol}", get(get_one))
}

#[cfg(test)]
mod tests {
    use crate::testkit::*;

    #[tokio::test]
    async fn list_and_get_assets() {
        let t = TestApp::new();
        let (s, b) = t.get(TRADER, "/v2/assets").await;
        assert_eq!(s, 200);
        let symbols: Vec<&str> = b.as_array().unwrap().iter().map(|a| a["symbol"].as_str().unwrap()).collect();
        assert_eq!(symbols, ["AAPL", "HALT", "OLD"]);
        let (_, b) = t.get(TRADER, "/v2/assets?status=inactive").await;
        assert_eq!(b.as_array().unwrap().len(), 1);
        let (_, b) = t.get(TRADER, "/v2/assets?asset_class=crypto").await;
        assert_eq!(b, serde_json::json!([]));
        let (s, b) = t.get(ANALYST, "/v2/assets/aapl").await;
        assert_eq!(s, 200);
        assert_eq!(b["symbol"], "AAPL");
        assert_eq!(b["status"], "active");
        assert_eq!(b["tradable"], true);
        assert_eq!(b["fractionable"], true);
        assert_eq!(b["price_increment"], "0.01");
        assert_eq!(b["min_trade_increment"], "0.001");
        assert_eq!(b["class"], "us_equity");
        assert_eq!(b["id"].as_str().unwrap().len(), 36);
        let (_, b) = t.get(TRADER, "/v2/assets/HALT").await;
        assert_eq!((b["status"].as_str(), b["tradable"].as_bool()), (Some("active"), Some(false)));
        let (s, b) = t.get(TRADER, "/v2/assets/NOPE").await;
        assert_eq!((s, b), (404, serde_json::json!({"code": 40410000, "message": "asset not found for NOPE"})));
        let (s, b) = t.get(TRADER, "/v2/assets?status=sideways").await;
        assert_eq!((s, b["code"].as_u64()), (422, Some(42210000)));
    }
}
