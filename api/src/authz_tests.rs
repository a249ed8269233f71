//! The authorization matrix: every endpoint x (trader own / trader other / analyst / admin
//! / anonymous), each cell on a fresh app. "Own" is the trader of account acc-1, whose
//! resources the rows name; "other" is the trader of acc-2; the analyst reads acc-1; the
//! admin has its own account acc-9 and may read and cancel any order by id.

use crate::testkit::*;
use axum::http::Method;

struct Row {
    method: Method,
    path: String,
    body: Option<serde_json::Value>,
    /// Expected status for: trader own, trader other, analyst, admin, anonymous.
    expect: [u16; 5],
}

fn row(method: Method, path: &str, expect: [u16; 5]) -> Row {
    Row { method, path: path.to_string(), body: None, expect }
}

fn order_body() -> serde_json::Value {
    serde_json::json!({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit", "limit_price": "150", "time_in_force": "day"})
}

#[tokio::test]
async fn every_endpoint_for_every_kind_of_caller() {
    let rows = vec![
        Row { method: Method::POST, path: "/v2/orders".into(), body: Some(order_body()), expect: [200, 200, 403, 200, 401] },
        row(Method::GET, "/v2/orders", [200, 200, 200, 200, 401]),
        row(Method::GET, "/v2/orders?status=all", [200, 200, 200, 200, 401]),
        row(Method::GET, &format!("/v2/orders/{ORDER_OWN}"), [200, 404, 200, 200, 401]),
        row(Method::GET, &format!("/v2/orders/{ORDER_OTHER}"), [404, 200, 404, 200, 401]),
        row(Method::DELETE, &format!("/v2/orders/{ORDER_OWN}"), [204, 404, 403, 204, 401]),
        row(Method::DELETE, &format!("/v2/orders/{ORDER_OTHER}"), [404, 204, 403, 204, 401]),
        Row { method: Method::PATCH, path: format!("/v2/orders/{ORDER_OWN}"), body: Some(serde_json::json!({"qty": "2"})), expect: [200, 404, 403, 403, 401] },
        Row { method: Method::PATCH, path: format!("/v2/orders/{ORDER_OTHER}"), body: Some(serde_json::json!({"qty": "2"})), expect: [404, 200, 403, 403, 401] },
        row(Method::GET, "/v2/orders:by_client_order_id?client_order_id=coid-own", [200, 404, 200, 404, 401]),
        row(Method::DELETE, "/v2/orders", [207, 207, 403, 207, 401]),
        row(Method::GET, "/v2/account", [200, 200, 200, 200, 401]),
        row(Method::GET, "/v2/account/portfolio", [200, 200, 200, 200, 401]),
        row(Method::GET, "/v2/positions", [200, 200, 200, 200, 401]),
        row(Method::GET, "/v2/positions/AAPL", [200, 404, 200, 404, 401]),
        row(Method::DELETE, "/v2/positions/AAPL", [200, 404, 403, 404, 401]),
        row(Method::GET, "/v2/clock", [200, 200, 200, 200, 401]),
        row(Method::GET, "/v2/assets", [200, 200, 200, 200, 401]),
        row(Method::GET, "/v2/assets/AAPL", [200, 200, 200, 200, 401]),
    ];
    let callers = [("trader own", TRADER), ("trader other", OTHER_TRADER), ("analyst", ANALYST), ("admin", ADMIN), ("anonymous", ANONYMOUS)];
    let mut failures = Vec::new();
    for r in &rows {
        for (i, (name, caller)) in callers.iter().enumerate() {
            let t = TestApp::new();
            let (status, body) = t.request(r.method.clone(), *caller, &r.path, r.body.clone()).await;
            if status != r.expect[i] {
                failures.push(format!("{} {} as {name}: {status} (expected {}) {body}", r.method, r.path, r.expect[i]));
            }
            // Every error is in Alpaca's shape.
            if status >= 400 {
                let code = body["code"].as_u64().unwrap_or(0);
                if code / 100_000 != u64::from(status) || !body["message"].is_string() {
                    failures.push(format!("{} {} as {name}: not Alpaca's error shape: {body}", r.method, r.path));
                }
            }
            // A trader never sees another account's data in a listing.
            if *name == "trader other" && status == 200 && r.method == Method::GET {
                assert!(!body.to_string().contains(ORDER_OWN) && !body.to_string().contains("coid-own"), "{}: {body}", r.path);
            }
        }
    }
    assert!(failures.is_empty(), "{} cells failed:\n{}", failures.len(), failures.join("\n"));
}

#[tokio::test]
async fn other_accounts_orders_are_indistinguishable_from_missing_ones() {
    let t = TestApp::new();
    let missing = t.get(TRADER, "/v2/orders/0b7c1a52-0000-4000-8000-0000000000ff").await;
    let other = t.get(TRADER, &format!("/v2/orders/{ORDER_OTHER}")).await;
    assert_eq!(missing, other);
    assert_eq!(other, (404, serde_json::json!({"code": 40410000, "message": "order not found"})));
    // Nor can it be cancelled, and no command is sent.
    assert_eq!(t.delete(TRADER, &format!("/v2/orders/{ORDER_OTHER}")).await.0, 404);
    assert!(t.backend.commands().is_empty());
    // Nor found by the other account's client order id.
    assert_eq!(t.get(TRADER, "/v2/orders:by_client_order_id?client_order_id=coid-other").await.0, 404);
}

#[tokio::test]
async fn wrong_or_partial_credentials_are_the_same_401() {
    let t = TestApp::new();
    let expected = (401, serde_json::json!({"code": 40110000, "message": "request is not authorized"}));
    assert_eq!(t.get(Some(("PKTRADER1", "wrong-secret")), "/v2/account").await, expected);
    assert_eq!(t.get(Some(("PKTRADER1", "")), "/v2/account").await, expected);
    assert_eq!(t.get(Some(("PKNOBODY", "trader-one-secret")), "/v2/account").await, expected);
    assert_eq!(t.get(Some(("PKTRADER1", "trader-two-secret")), "/v2/account").await, expected, "another key's secret");
    let req = axum::http::Request::get("/v2/account").header(crate::auth::KEY_ID_HEADER, "PKTRADER1").body(axum::body::Body::empty()).unwrap();
    let resp = tower::ServiceExt::oneshot(crate::app(t.state.clone()), req).await.unwrap();
    assert_eq!(resp.status(), 401, "secret header missing");
}

#[tokio::test]
async fn unknown_endpoints_answer_in_alpacas_shape() {
    let t = TestApp::new();
    assert_eq!(t.get(TRADER, "/v2/nothing").await, (404, serde_json::json!({"code": 40410000, "message": "endpoint not found"})));
}

#[tokio::test]
async fn wrong_method_and_oversized_body_answer_in_alpacas_shape() {
    let t = TestApp::new();
    assert_eq!(t.request(Method::PUT, TRADER, "/v2/clock", None).await, (405, serde_json::json!({"code": 40510000, "message": "method not allowed"})));
    let big = serde_json::json!({"symbol": "AAPL", "pad": "x".repeat(3 << 20)});
    assert_eq!(t.post(TRADER, "/v2/orders", big).await, (413, serde_json::json!({"code": 41310000, "message": "request body too large"})));
}

/// The activity and watchlist endpoints (fixture: `activities::tests::seeded`, acc-1's
/// watchlist "own" = `WL_OWN`, acc-2's "other" = `WL_OTHER`). Watchlists are per account
/// for every role (the admin's are acc-9's); analysts read but never write them.
#[tokio::test]
async fn activities_and_watchlists_for_every_kind_of_caller() {
    use crate::watchlists::tests::{WL_OTHER, WL_OWN};
    let json = |v: serde_json::Value| Some(v);
    // (method, path, the path as /openapi.json lists it, body, expected per caller)
    type Row<'a> = (Method, String, &'a str, Option<serde_json::Value>, [u16; 5]);
    let rows: Vec<Row> = vec![
        (Method::GET, "/v2/account/activities".into(), "/v2/account/activities", None, [200, 200, 200, 200, 401]),
        (Method::GET, "/v2/account/activities?activity_types=FILL,CSD&direction=asc".into(), "/v2/account/activities", None, [200, 200, 200, 200, 401]),
        (Method::GET, "/v2/account/activities/FILL".into(), "/v2/account/activities/{activity_type}", None, [200, 200, 200, 200, 401]),
        (Method::GET, "/v2/account/activities/NOPE".into(), "/v2/account/activities/{activity_type}", None, [422, 422, 422, 422, 401]),
        (Method::GET, "/v2/watchlists".into(), "/v2/watchlists", None, [200, 200, 200, 200, 401]),
        (Method::POST, "/v2/watchlists".into(), "/v2/watchlists", json(serde_json::json!({"name": "new", "symbols": ["AAPL"]})), [200, 200, 403, 200, 401]),
        (Method::GET, format!("/v2/watchlists/{WL_OWN}"), "/v2/watchlists/{watchlist_id}", None, [200, 404, 200, 404, 401]),
        (Method::GET, format!("/v2/watchlists/{WL_OTHER}"), "/v2/watchlists/{watchlist_id}", None, [404, 200, 404, 404, 401]),
        (Method::PUT, format!("/v2/watchlists/{WL_OWN}"), "/v2/watchlists/{watchlist_id}", json(serde_json::json!({"name": "renamed"})), [200, 404, 403, 404, 401]),
        (Method::POST, format!("/v2/watchlists/{WL_OWN}"), "/v2/watchlists/{watchlist_id}", json(serde_json::json!({"symbol": "HALT"})), [200, 404, 403, 404, 401]),
        (Method::DELETE, format!("/v2/watchlists/{WL_OWN}/AAPL"), "/v2/watchlists/{watchlist_id}/{symbol}", None, [200, 404, 403, 404, 401]),
        (Method::DELETE, format!("/v2/watchlists/{WL_OWN}"), "/v2/watchlists/{watchlist_id}", None, [204, 404, 403, 404, 401]),
        (Method::DELETE, format!("/v2/watchlists/{WL_OTHER}"), "/v2/watchlists/{watchlist_id}", None, [404, 204, 403, 404, 401]),
        (Method::GET, "/v2/watchlists:by_name?name=own".into(), "/v2/watchlists:by_name", None, [200, 404, 200, 404, 401]),
        (Method::PUT, "/v2/watchlists:by_name?name=own".into(), "/v2/watchlists:by_name", json(serde_json::json!({"symbols": ["HALT"]})), [200, 404, 403, 404, 401]),
        (Method::POST, "/v2/watchlists:by_name?name=own".into(), "/v2/watchlists:by_name", json(serde_json::json!({"symbol": "HALT"})), [200, 404, 403, 404, 401]),
        (Method::DELETE, "/v2/watchlists:by_name?name=own".into(), "/v2/watchlists:by_name", None, [204, 404, 403, 404, 401]),
    ];
    let callers = [("trader own", TRADER), ("trader other", OTHER_TRADER), ("analyst", ANALYST), ("admin", ADMIN), ("anonymous", ANONYMOUS)];
    let mut failures = Vec::new();
    for (method, path, spec, body, expect) in &rows {
        let listed = crate::openapi::V2_OPERATIONS.iter().any(|(m, p, ..)| m.eq_ignore_ascii_case(method.as_str()) && p == spec);
        if !listed {
            failures.push(format!("{method} {spec} is not in openapi::V2_OPERATIONS"));
        }
        for (i, (name, caller)) in callers.iter().enumerate() {
            let mut t = TestApp::new();
            t.state = t.state.clone().with_activities(crate::activities::tests::seeded()).with_watchlists(crate::watchlists::tests::seeded());
            let (status, got) = t.request(method.clone(), *caller, path, body.clone()).await;
            if status != expect[i] {
                failures.push(format!("{method} {path} as {name}: {status} (expected {}) {got}", expect[i]));
            }
            if status >= 400 {
                let code = got["code"].as_u64().unwrap_or(0);
                if code / 100_000 != u64::from(status) || !got["message"].is_string() {
                    failures.push(format!("{method} {path} as {name}: not Alpaca's error shape: {got}"));
                }
            }
            // Nothing of acc-1's leaks to acc-2's trader.
            if *name == "trader other" && status == 200 && *method == Method::GET {
                let text = got.to_string();
                assert!(!text.contains(WL_OWN) && !text.contains("o-1") && !text.contains("dep-1") && !text.contains("\"own\""), "{path}: {got}");
            }
        }
    }
    assert!(failures.is_empty(), "{} cells failed:\n{}", failures.len(), failures.join("\n"));
}
