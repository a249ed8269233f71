//! Watchlists through `app().oneshot(...)` on the in-memory store.

use super::*;
use crate::ports::{Clock, WatchlistStore};
use crate::testkit::*;
use axum::http::Method;
use serde_json::json;

/// Seeded list ids (acc-1's "own", acc-2's "other").
pub(crate) const WL_OWN: &str = "6f1c2a00-0000-4000-8000-000000000001";
pub(crate) const WL_OTHER: &str = "6f1c2a00-0000-4000-8000-000000000002";

fn record(id: &str, account: &str, name: &str, symbols: &[&str]) -> WatchlistRecord {
    WatchlistRecord {
        watchlist_id: id.into(),
        account_id: account.into(),
        name: name.into(),
        symbols: symbols.iter().map(|s| s.to_string()).collect(),
        created_at_ns: SESSION1_OPEN,
        updated_at_ns: SESSION1_OPEN,
    }
}

/// acc-1 has "own" [AAPL]; acc-2 has "other" [HALT].
pub(crate) fn seeded() -> Arc<MemoryWatchlists> {
    let m = Arc::new(MemoryWatchlists::new());
    m.seed(record(WL_OWN, "acc-1", "own", &["AAPL"]));
    m.seed(record(WL_OTHER, "acc-2", "other", &["HALT"]));
    m
}

pub(crate) fn app_with(m: Arc<MemoryWatchlists>) -> TestApp {
    let mut t = TestApp::new();
    t.state = t.state.clone().with_watchlists(m);
    t
}

fn symbols(b: &serde_json::Value) -> Vec<&str> {
    b["assets"].as_array().unwrap().iter().map(|a| a["symbol"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn crud_in_alpacas_shape() {
    let m = seeded();
    let t = app_with(m.clone());
    let (s, b) = t.post(TRADER, "/v2/watchlists", json!({"name": " tech ", "symbols": ["aapl", "HALT", "AAPL"]})).await;
    assert_eq!(s, 200, "{b}");
    let id = b["id"].as_str().unwrap().to_string();
    assert_eq!((b["name"].as_str(), symbols(&b)), (Some("tech"), vec!["AAPL", "HALT"]), "trimmed, upper-cased, de-duplicated");
    assert_eq!(b["account_id"], crate::format::uuid_v8("account", "acc-1"));
    assert_eq!(b["assets"][0]["exchange"], "OTC");
    assert_eq!((b["created_at"].as_str(), b["updated_at"].as_str()), (Some(rfc(t.clock.now_ns()).as_str()), Some(rfc(t.clock.now_ns()).as_str())));
    // Listing: both of acc-1's lists, oldest first, without assets.
    let (_, l) = t.get(TRADER, "/v2/watchlists").await;
    let names: Vec<&str> = l.as_array().unwrap().iter().map(|w| w["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["own", "tech"]);
    assert!(l[0].get("assets").is_none());
    // Add, remove, rename, replace.
    t.clock.set(t.clock.now_ns() + 1_000);
    let (s, b) = t.post(TRADER, &format!("/v2/watchlists/{id}"), json!({"symbol": "old"})).await;
    assert_eq!((s, b["message"].as_str()), (422, Some("asset \"OLD\" is not active")));
    let (s, b) = t.post(TRADER, &format!("/v2/watchlists/{id}"), json!({"symbol": "HALT"})).await;
    assert_eq!((s, b["message"].as_str()), (422, Some("symbol \"HALT\" is already in the watchlist")));
    let (s, b) = t.delete(TRADER, &format!("/v2/watchlists/{id}/aapl")).await;
    assert_eq!((s, symbols(&b)), (200, vec!["HALT"]));
    assert_eq!(b["updated_at"], rfc(t.clock.now_ns()));
    let (s, b) = t.delete(TRADER, &format!("/v2/watchlists/{id}/AAPL")).await;
    assert_eq!((s, b["message"].as_str()), (404, Some("symbol \"AAPL\" is not in the watchlist")));
    let (s, b) = t.post(TRADER, &format!("/v2/watchlists/{id}"), json!({"symbol": "AAPL"})).await;
    assert_eq!((s, symbols(&b)), (200, vec!["HALT", "AAPL"]));
    let (s, b) = t.request(Method::PUT, TRADER, &format!("/v2/watchlists/{id}"), Some(json!({"name": "tech2"}))).await;
    assert_eq!((s, b["name"].as_str(), symbols(&b)), (200, Some("tech2"), vec!["HALT", "AAPL"]));
    let (s, b) = t.request(Method::PUT, TRADER, &format!("/v2/watchlists/{id}"), Some(json!({"symbols": []}))).await;
    assert_eq!((s, symbols(&b)), (200, Vec::<&str>::new()));
    assert_eq!(t.get(TRADER, &format!("/v2/watchlists/{id}")).await.1["name"], "tech2");
    // Delete: 204, then gone.
    assert_eq!(t.delete(TRADER, &format!("/v2/watchlists/{id}")).await, (204, serde_json::Value::Null));
    assert_eq!(t.get(TRADER, &format!("/v2/watchlists/{id}")).await, (404, json!({"code": 40410000, "message": "watchlist not found"})));
    assert_eq!(m.watchlists_of("acc-1").unwrap().len(), 1);
}

fn rfc(ns: i64) -> String {
    crate::format::rfc3339(ns)
}

#[tokio::test]
async fn by_name_variants() {
    let t = app_with(seeded());
    let (s, b) = t.get(TRADER, "/v2/watchlists:by_name?name=own").await;
    assert_eq!((s, b["id"].as_str(), symbols(&b)), (200, Some(WL_OWN), vec!["AAPL"]));
    let (s, b) = t.post(TRADER, "/v2/watchlists:by_name?name=own", json!({"symbol": "HALT"})).await;
    assert_eq!((s, symbols(&b)), (200, vec!["AAPL", "HALT"]));
    let (s, b) = t.request(Method::PUT, TRADER, "/v2/watchlists:by_name?name=own", Some(json!({"name": "mine", "symbols": ["HALT"]}))).await;
    assert_eq!((s, b["name"].as_str(), symbols(&b)), (200, Some("mine"), vec!["HALT"]));
    assert_eq!(t.get(TRADER, "/v2/watchlists:by_name?name=own").await.0, 404);
    assert_eq!(t.get(TRADER, "/v2/watchlists:by_name").await, (422, json!({"code": 42210000, "message": "name is required"})));
    // Another account's name is not found.
    assert_eq!(t.get(TRADER, "/v2/watchlists:by_name?name=other").await.0, 404);
    assert_eq!(t.delete(TRADER, "/v2/watchlists:by_name?name=mine").await.0, 204);
    assert_eq!(t.get(TRADER, "/v2/watchlists").await.1, json!([]));
}

#[tokio::test]
async fn names_unique_per_account_and_validation() {
    let t = app_with(seeded());
    let taken = (422, json!({"code": 42210000, "message": "watchlist name \"own\" already exists"}));
    assert_eq!(t.post(TRADER, "/v2/watchlists", json!({"name": "own"})).await, taken);
    // Another account may use the same name.
    assert_eq!(t.post(OTHER_TRADER, "/v2/watchlists", json!({"name": "own"})).await.0, 200);
    let (_, b) = t.post(TRADER, "/v2/watchlists", json!({"name": "second"})).await;
    let id = b["id"].as_str().unwrap().to_string();
    assert_eq!(t.request(Method::PUT, TRADER, &format!("/v2/watchlists/{id}"), Some(json!({"name": "own"}))).await, taken);
    for (body, message) in [
        (json!({}), "name is required"),
        (json!({"name": "  "}), "name must be 1 to 64 characters"),
        (json!({"name": "x".repeat(65)}), "name must be 1 to 64 characters"),
        (json!({"name": "n", "symbols": ["NOPE"]}), "asset \"NOPE\" not found"),
        (json!({"name": "n", "symbols": ["OLD"]}), "asset \"OLD\" is not active"),
    ] {
        assert_eq!(t.post(TRADER, "/v2/watchlists", body.clone()).await, (422, json!({"code": 42210000, "message": message})), "{body}");
    }
    let (s, b) = t.post(TRADER, "/v2/watchlists", json!({"name": 5})).await;
    assert_eq!(s, 422, "{b}");
    assert_eq!(t.request(Method::PUT, TRADER, &format!("/v2/watchlists/{id}"), Some(json!({}))).await.1["message"], "name or symbols is required");
    assert_eq!(t.post(TRADER, &format!("/v2/watchlists/{id}"), json!({})).await.1["message"], "symbol is required");
}

#[tokio::test]
async fn other_accounts_lists_are_missing_for_every_operation() {
    let m = seeded();
    let t = app_with(m.clone());
    let missing = "6f1c2a00-0000-4000-8000-0000000000ff";
    for caller in [TRADER, ADMIN] {
        for id in [WL_OTHER, missing] {
            let nf = (404, json!({"code": 40410000, "message": "watchlist not found"}));
            assert_eq!(t.get(caller, &format!("/v2/watchlists/{id}")).await, nf);
            assert_eq!(t.post(caller, &format!("/v2/watchlists/{id}"), json!({"symbol": "AAPL"})).await, nf);
            assert_eq!(t.request(Method::PUT, caller, &format!("/v2/watchlists/{id}"), Some(json!({"name": "x"}))).await, nf);
            assert_eq!(t.delete(caller, &format!("/v2/watchlists/{id}/HALT")).await, nf);
            assert_eq!(t.delete(caller, &format!("/v2/watchlists/{id}")).await, nf);
        }
    }
    assert_eq!(m.watchlist(WL_OTHER).unwrap().unwrap().symbols, vec!["HALT".to_string()], "untouched");
    // Analysts read their account's lists but cannot change them.
    assert_eq!(t.get(ANALYST, &format!("/v2/watchlists/{WL_OWN}")).await.0, 200);
    assert_eq!(t.post(ANALYST, "/v2/watchlists", json!({"name": "a"})).await, (403, json!({"code": 40310000, "message": "this API key is read-only"})));
}

#[tokio::test]
async fn store_rules_and_503s() {
    let m = MemoryWatchlists::new();
    let a = record("w1", "acc-1", "a", &[]);
    assert_eq!(m.put(a.clone(), None).await, Ok(WatchlistWrite::Written));
    assert_eq!(m.put(a.clone(), None).await, Ok(WatchlistWrite::Stale), "create needs a new id");
    let mut b = a.clone();
    b.symbols.push("AAPL".into());
    assert_eq!(m.put(b.clone(), Some(a.clone())).await, Ok(WatchlistWrite::Written));
    assert_eq!(m.put(a.clone(), Some(a.clone())).await, Ok(WatchlistWrite::Stale), "based on an old version");
    assert_eq!(m.put(record("w2", "acc-1", "a", &[]), None).await, Ok(WatchlistWrite::NameTaken));
    assert_eq!(m.put(record("w3", "acc-2", "a", &[]), None).await, Ok(WatchlistWrite::Written));
    assert_eq!(m.watchlist("w1").unwrap(), Some(b));
    assert_eq!(m.delete("w1").await, Ok(true));
    assert_eq!(m.delete("w1").await, Ok(false));
    let m = seeded();
    let t = app_with(m.clone());
    m.set_unavailable(true);
    assert_eq!(t.get(TRADER, "/v2/watchlists").await.0, 503);
    assert_eq!(TestApp::new().post(TRADER, "/v2/watchlists", json!({"name": "x"})).await.0, 503);
}
