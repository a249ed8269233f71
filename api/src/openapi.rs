//! `GET /openapi.json`: the OpenAPI document, generated with `utoipa`.
//!
//! - `/api/v1` operations come from the `#[utoipa::path]` annotations on their handlers
//!   (request and response bodies derive `ToSchema`), listed in [`PlatformDoc`].
//! - `/v2` operations (Alpaca-compatible, whose shapes are Alpaca's documented ones) are
//!   described in [`V2_OPERATIONS`]: method, path, summary and statuses; bodies are left
//!   open (`object`). The authorization-matrix test checks every `/v2` route it calls is
//!   listed here.
//! - Every error is [`ErrorBody`]. Security schemes: `bearer` (access JWT) and `apca_key`
//!   (the `APCA-API-KEY-ID` / `APCA-API-SECRET-KEY` pair).
//! - [`V2_BODIES`] types the main `/v2` bodies (orders, account, positions); [`V2_QUERY`]
//!   declares query parameters. Then every operation is completed ([`complete`]): its
//!   `{path}` parameters are declared, and the statuses every route can answer are
//!   documented: 429 (rate limits cover every route), 503 (a view or the platform is not
//!   available) and, for `post` / `put` / `patch`, 400 (body not JSON), 413 (too large) and
//!   422 (JSON that is not a valid request).
//!   Found by schemathesis (`tests/integration/schemathesis.rs`).
//!
//! The document is built once per process.

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::sync::OnceLock;
use utoipa::openapi::path::{HttpMethod, Operation, OperationBuilder, Parameter, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::schema::{Object, Type};
use utoipa::openapi::{RefOr, Required};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, Ref, Response as OaResponse};
use utoipa::{Modify, OpenApi, ToSchema};

/// Every error: `{"code": <HTTP status x 100000 + 10000>, "message": "..."}` (Alpaca's shape).
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// e.g. 40410000 for a 404, 42910000 for a 429.
    pub code: u32,
    pub message: String,
}

/// `/v2` operations: (method, path, summary, success status, other statuses).
pub const V2_OPERATIONS: &[(&str, &str, &str, u16, &[u16])] = &[
    ("post", "/v2/orders", "Place an order", 200, &[401, 403, 413, 422, 429]),
    ("get", "/v2/orders", "List orders", 200, &[401, 422, 429]),
    ("delete", "/v2/orders", "Cancel all open orders", 207, &[401, 403, 429]),
    ("get", "/v2/orders/{order_id}", "Get an order", 200, &[401, 404, 429]),
    ("delete", "/v2/orders/{order_id}", "Cancel an order", 204, &[401, 403, 404, 422, 429]),
    ("patch", "/v2/orders/{order_id}", "Replace an order (returns the new order)", 200, &[401, 403, 404, 413, 422, 429]),
    ("get", "/v2/orders:by_client_order_id", "Get an order by client order id", 200, &[401, 404, 422, 429]),
    ("get", "/v2/account", "Get the account", 200, &[401, 404, 429]),
    ("get", "/v2/account/portfolio", "Portfolio value, P&L and total return (Tradeflow extension, not in Alpaca's API)", 200, &[401, 404, 429]),
    ("get", "/v2/positions", "List open positions", 200, &[401, 429]),
    ("get", "/v2/positions/{symbol}", "Get an open position", 200, &[401, 404, 429]),
    ("delete", "/v2/positions/{symbol}", "Close a position (market order on the opposite side; qty or percentage)", 200, &[401, 403, 404, 422, 429]),
    ("get", "/v2/clock", "Market clock", 200, &[401, 429]),
    ("get", "/v2/assets", "List assets", 200, &[401, 422, 429]),
    ("get", "/v2/assets/{symbol}", "Get an asset", 200, &[401, 404, 429]),
    ("get", "/v2/events/trades", "Trade updates as Server-Sent Events", 200, &[401, 429]),
    ("get", "/v2/account/activities", "List account activities (FILL, CSD, CSW, FEE)", 200, &[401, 422, 429, 503]),
    ("get", "/v2/account/activities/{activity_type}", "List account activities of one type", 200, &[401, 422, 429, 503]),
    ("get", "/v2/watchlists", "List watchlists", 200, &[401, 429, 503]),
    ("post", "/v2/watchlists", "Create a watchlist", 200, &[401, 403, 422, 429, 503]),
    ("get", "/v2/watchlists/{watchlist_id}", "Get a watchlist", 200, &[401, 404, 429, 503]),
    ("put", "/v2/watchlists/{watchlist_id}", "Update a watchlist's name and / or symbols", 200, &[401, 403, 404, 422, 429, 503]),
    ("post", "/v2/watchlists/{watchlist_id}", "Add an asset to a watchlist", 200, &[401, 403, 404, 422, 429, 503]),
    ("delete", "/v2/watchlists/{watchlist_id}", "Delete a watchlist", 204, &[401, 403, 404, 429, 503]),
    ("delete", "/v2/watchlists/{watchlist_id}/{symbol}", "Remove an asset from a watchlist", 200, &[401, 403, 404, 429, 503]),
    ("get", "/v2/watchlists:by_name", "Get a watchlist by name", 200, &[401, 404, 422, 429, 503]),
    ("put", "/v2/watchlists:by_name", "Update a watchlist by name", 200, &[401, 403, 404, 422, 429, 503]),
    ("post", "/v2/watchlists:by_name", "Add an asset to a watchlist by name", 200, &[401, 403, 404, 422, 429, 503]),
    ("delete", "/v2/watchlists:by_name", "Delete a watchlist by name", 204, &[401, 403, 404, 422, 429, 503]),
    ("get", "/stream", "Trade updates over Alpaca's WebSocket protocol (authenticates in-band)", 101, &[429]),
];

/// Typed `/v2` bodies: (method, path, request body schema, success body schema, whether
/// the success body is a list of it). Operations not listed here keep open bodies.
pub const V2_BODIES: &[(&str, &str, Option<&str>, &str, bool)] = &[
    ("post", "/v2/orders", Some("OrderRequest"), "OrderBody", false),
    ("get", "/v2/orders", None, "OrderBody", true),
    ("get", "/v2/orders/{order_id}", None, "OrderBody", false),
    ("patch", "/v2/orders/{order_id}", Some("ReplaceRequest"), "OrderBody", false),
    ("get", "/v2/orders:by_client_order_id", None, "OrderBody", false),
    ("get", "/v2/account", None, "AccountBody", false),
    ("get", "/v2/account/portfolio", None, "PortfolioBody", false),
    ("get", "/v2/positions", None, "PositionBody", true),
    ("get", "/v2/positions/{symbol}", None, "PositionBody", false),
    ("delete", "/v2/positions/{symbol}", None, "OrderBody", false),
];

/// `/v2` operations that are Tradeflow extensions (not in Alpaca's API): (method, path,
/// description).
pub const V2_EXTENSIONS: &[(&str, &str, &str)] = &[(
    "get",
    "/v2/account/portfolio",
    "Tradeflow extension, not part of Alpaca's Trading API. The account's portfolio from the \
     compacted `portfolios.snapshots` topic and its positions: market value at the last trade \
     (average cost for symbols that have not traded), cost basis, unrealized, realized and \
     total P&L, closed_cost_basis (cost basis of every lot already closed: sold long lots, \
     covered short lots; 0 before the first fill, null when unknown), total return (total P&L / \
     (sum of |cost basis| of open positions + closed_cost_basis): over the cost of every position \
     ever opened; null when that base is zero or closed_cost_basis is unknown), intraday P&L, \
     cash, equity (as GET /v2/account), last_equity (equity at the previous session close; \
     null when not known exactly) and day_pl (equity - last_equity - net deposits and \
     withdrawals completed since that close; null when either is not known exactly). Amounts \
     are exact \
     decimal strings. Before the account's first fill realized P&L is 0 and as_of / \
     lot_method are null.",
)];

/// Query parameters of `/v2` operations: (method, path, name, required). All strings.
pub const V2_QUERY: &[(&str, &str, &str, bool)] = &[
    ("get", "/v2/orders", "status", false),
    ("get", "/v2/orders", "limit", false),
    ("get", "/v2/orders", "after", false),
    ("get", "/v2/orders", "until", false),
    ("get", "/v2/orders", "direction", false),
    ("get", "/v2/orders", "symbols", false),
    ("get", "/v2/orders", "nested", false),
    ("get", "/v2/orders:by_client_order_id", "client_order_id", true),
    ("get", "/v2/assets", "status", false),
    ("get", "/v2/assets", "asset_class", false),
    ("get", "/v2/assets", "exchange", false),
    ("delete", "/v2/positions/{symbol}", "qty", false),
    ("delete", "/v2/positions/{symbol}", "percentage", false),
];

/// The `/api/v1` operations, from the handlers' annotations.
#[derive(OpenApi)]
#[openapi(
    info(title = "Tradeflow API", description = "Alpaca-compatible Trading API v2 and the Tradeflow platform API v1."),
    paths(
        crate::v1::session::register,
        crate::v1::session::login,
        crate::v1::session::refresh,
        crate::v1::session::logout,
        crate::v1::profile::me,
        crate::v1::profile::kyc,
        crate::v1::keys::create,
        crate::v1::keys::list,
        crate::v1::keys::revoke,
        crate::v1::funding::deposit,
        crate::v1::funding::withdraw,
        crate::v1::funding::transactions,
        crate::v1::funding::notifications,
        crate::v1::admin::users,
        crate::v1::admin::update_user,
        crate::v1::admin::instruments,
        crate::v1::admin::halt,
        crate::v1::admin::resume,
        crate::v1::admin::set_kyc,
        crate::reports::statement,
        crate::reports::gains,
        crate::reports::activity,
    ),
    components(schemas(
        ErrorBody,
        crate::orders::OrderBody,
        crate::orders::OrderRequest,
        crate::orders::replace::ReplaceRequest,
        crate::account::AccountBody,
        crate::portfolio::PortfolioBody,
        crate::positions::PositionBody,
    )),
    modifiers(&V2AndSecurity)
)]
pub struct PlatformDoc;

struct V2AndSecurity;

fn method(m: &str) -> HttpMethod {
    match m {
        "post" => HttpMethod::Post,
        "delete" => HttpMethod::Delete,
        "patch" => HttpMethod::Patch,
        "put" => HttpMethod::Put,
        _ => HttpMethod::Get,
    }
}

fn error_response(status: u16) -> OaResponse {
    let mut r = OaResponse::new(format!("error {status}"));
    r.content.insert("application/json".into(), Content::new(Some(Ref::from_schema_name("ErrorBody"))).into());
    r
}

impl Modify for V2AndSecurity {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()));
        components.add_security_scheme("apca_key", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("APCA-API-KEY-ID"))));
        components.add_security_scheme("apca_secret", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("APCA-API-SECRET-KEY"))));
        for (m, path, summary, ok, errors) in V2_OPERATIONS {
            let body = V2_BODIES.iter().find(|(bm, bp, ..)| bm == m && bp == path);
            let mut success = OaResponse::new("success");
            let mut op = OperationBuilder::new()
                .tag("trading-v2")
                .summary(Some(*summary))
                .description(V2_EXTENSIONS.iter().find(|(em, ep, _)| em == m && ep == path).map(|e| e.2))
                .security(SecurityRequirement::new("apca_key", Vec::<String>::new()));
            if let Some((_, _, request, response, list)) = body {
                let schema: utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> = if *list {
                    utoipa::openapi::schema::Array::new(Ref::from_schema_name(*response)).into()
                } else {
                    Ref::from_schema_name(*response).into()
                };
                success.content.insert("application/json".into(), Content::new(Some(schema)).into());
                if let Some(request) = request {
                    let rb = utoipa::openapi::request_body::RequestBodyBuilder::new()
                        .content("application/json", Content::new(Some(Ref::from_schema_name(*request))))
                        .required(Some(utoipa::openapi::Required::True))
                        .build();
                    op = op.request_body(Some(rb));
                }
            }
            op = op.response(ok.to_string(), success);
            for (_, _, name, required) in V2_QUERY.iter().filter(|(qm, qp, ..)| qm == m && qp == path) {
                op = op.parameter(string_parameter(name, ParameterIn::Query, *required));
            }
            for e in *errors {
                op = op.response(e.to_string(), error_response(*e));
            }
            let item = PathItem::new(method(m), op.build());
            match doc.paths.paths.get_mut(*path) {
                Some(existing) => existing.merge_operations(item),
                None => {
                    doc.paths.paths.insert((*path).to_string(), item);
                }
            }
        }
    }
}

fn string_parameter(name: &str, place: ParameterIn, required: bool) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(place)
        .required(if required { Required::True } else { Required::False })
        .schema(Some(Object::with_type(Type::String)))
        .build()
}

/// Completes one operation of `path` (see the module doc): declares its undeclared `{path}`
/// parameters and documents 429, 503 and, for `post` / `put` / `patch` (which read a JSON
/// body, declared or not), 400, 413 and 422.
pub fn complete(path: &str, reads_body: bool, op: &mut Operation) {
    let declared: Vec<String> = op
        .parameters
        .iter()
        .flatten()
        .filter_map(|p| match p {
            RefOr::T(p) if p.parameter_in == ParameterIn::Path => Some(p.name.clone()),
            _ => None,
        })
        .collect();
    let names = path.split('{').skip(1).filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_string()));
    for name in names.filter(|n| !declared.contains(n)).collect::<Vec<_>>() {
        op.parameters.get_or_insert_with(Vec::new).push(RefOr::T(string_parameter(&name, ParameterIn::Path, true)));
    }
    let mut statuses = vec![429, 503];
    if reads_body || op.request_body.is_some() {
        // 422: a body that is JSON but not a valid request (wrong field types included).
        statuses.extend([400, 413, 422]);
    }
    for status in statuses {
        op.responses.responses.entry(status.to_string()).or_insert_with(|| RefOr::T(error_response(status)));
    }
}

/// The document as JSON (built once).
pub fn document() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = PlatformDoc::openapi();
        for (path, item) in doc.paths.paths.iter_mut() {
            for (reads_body, op) in [(false, &mut item.get), (true, &mut item.put), (true, &mut item.post), (false, &mut item.delete), (true, &mut item.patch)] {
                if let Some(op) = op {
                    complete(path, reads_body, op);
                }
            }
        }
        doc.to_json().expect("the OpenAPI document serializes")
    })
}

/// `GET /openapi.json` (no authentication).
pub async fn serve() -> Response {
    ([(CONTENT_TYPE, "application/json")], document()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_lists_v1_and_v2_paths_with_error_schema() {
        let doc: serde_json::Value = serde_json::from_str(document()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        let paths = doc["paths"].as_object().unwrap();
        for p in ["/api/v1/auth/login", "/api/v1/accounts/{account_id}/deposits", "/api/v1/admin/instruments/{symbol}/halt", "/v2/orders", "/v2/orders/{order_id}"] {
            assert!(paths.contains_key(p), "{p} missing");
        }
        assert!(paths["/v2/orders"]["post"].is_object() && paths["/v2/orders"]["get"].is_object() && paths["/v2/orders"]["delete"].is_object());
        assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
        assert!(doc["components"]["schemas"]["TokenPair"].is_object());
        assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    }

    #[test]
    fn v2_orders_account_and_positions_have_typed_bodies() {
        let doc: serde_json::Value = serde_json::from_str(document()).unwrap();
        let ok = |m: &str, p: &str, s: &str| doc["paths"][p][m]["responses"][s]["content"]["application/json"]["schema"].clone();
        assert_eq!(ok("get", "/v2/orders/{order_id}", "200")["$ref"], "#/components/schemas/OrderBody");
        assert_eq!(ok("patch", "/v2/orders/{order_id}", "200")["$ref"], "#/components/schemas/OrderBody");
        assert_eq!(ok("get", "/v2/orders", "200")["items"]["$ref"], "#/components/schemas/OrderBody");
        assert_eq!(ok("get", "/v2/account", "200")["$ref"], "#/components/schemas/AccountBody");
        assert_eq!(ok("get", "/v2/positions", "200")["items"]["$ref"], "#/components/schemas/PositionBody");
        assert_eq!(ok("get", "/v2/account/portfolio", "200")["$ref"], "#/components/schemas/PortfolioBody");
        let extension = doc["paths"]["/v2/account/portfolio"]["get"]["description"].as_str().unwrap_or_default();
        assert!(extension.starts_with("Tradeflow extension"), "{extension}");
        let req = &doc["paths"]["/v2/orders/{order_id}"]["patch"]["requestBody"]["content"]["application/json"]["schema"]["$ref"];
        assert_eq!(req, "#/components/schemas/ReplaceRequest");
        for name in ["OrderBody", "OrderRequest", "ReplaceRequest", "AccountBody", "PositionBody", "PortfolioBody"] {
            assert!(doc["components"]["schemas"][name]["properties"].is_object(), "{name}");
        }
        let day_pl = &doc["components"]["schemas"]["PortfolioBody"]["properties"]["day_pl"];
        assert!(day_pl["description"].as_str().is_some_and(|d| d.contains("equity - last_equity - funding_since_close")), "{day_pl}");
        assert!(doc["components"]["schemas"]["AccountBody"]["properties"]["day_pl"].is_null(), "Alpaca's account schema is unchanged");
        let order = &doc["components"]["schemas"]["OrderRequest"]["properties"];
        assert!(order["qty"].to_string().contains("pattern"), "{order}");
        assert_eq!(doc["components"]["schemas"]["TimeInForceName"]["enum"], serde_json::json!(["day", "gtc", "ioc", "fok", "opg", "cls"]));
        assert_eq!(doc["components"]["schemas"]["OrderTypeName"]["enum"], serde_json::json!(["market", "limit", "stop", "stop_limit"]));
        // Path parameters are declared; every operation documents 429 and 503, bodies 400.
        let params = &doc["paths"]["/v2/orders/{order_id}"]["patch"]["parameters"];
        assert_eq!((params[0]["name"].as_str(), params[0]["in"].as_str(), params[0]["required"].as_bool()), (Some("order_id"), Some("path"), Some(true)));
        for (p, item) in doc["paths"].as_object().unwrap() {
            for (m, op) in item.as_object().unwrap() {
                assert!(op["responses"]["429"].is_object() && op["responses"]["503"].is_object(), "{m} {p}");
                if op["requestBody"].is_object() {
                    assert!(op["responses"]["400"].is_object(), "{m} {p}");
                }
            }
        }
        // Every table entry names a listed operation.
        for (m, p, ..) in V2_BODIES.iter().map(|(m, p, ..)| (m, p)).chain(V2_EXTENSIONS.iter().map(|(m, p, _)| (m, p))) {
            assert!(V2_OPERATIONS.iter().any(|(om, op, ..)| om == m && op == p), "{m} {p}");
        }
    }
}
