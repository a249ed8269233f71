//! Activities through `app().oneshot(...)` on the in-memory port.

use super::*;
use crate::testkit::*;
use rust_decimal::Decimal;
use schemas::records::*;
use std::sync::Arc;

const MS: i64 = 1_000_000;

fn place(account: &str, order_id: &str, side: Side, qty: &str, at_ns: i64) -> OrderCommand {
    OrderCommand {
        command_id: format!("cmd-{order_id}"),
        account_id: account.into(),
        issued_at_ns: at_ns,
        body: OrderInstruction::PlaceOrder(PlaceOrder {
            order_id: order_id.into(),
            client_order_id: None,
            symbol: "AAPL".into(),
            side,
            order_type: OrderType::Limit,
            time_in_force: TimeInForce::Day,
            qty: Some(d(qty)),
            notional: None,
            limit_price: Some(d("151")),
            stop_price: None,
            instrument: None,
            reference_price: None,
            extended_hours: false,
        }),
    }
}

/// The accounts pipeline's record of a booked fill.
/// `[qty, price, fee, cumulative qty]`.
fn booked_fill(account: &str, order_id: &str, fill_id: &str, [qty, price, fee, cum]: [&str; 4], last: bool, at_ns: i64) -> OrderEvent {
    OrderEvent {
        event_id: format!("ev-{fill_id}"),
        account_id: account.into(),
        order_id: order_id.into(),
        client_order_id: None,
        symbol: "AAPL".into(),
        at_ns,
        status: if last { OrderStatus::Filled } else { OrderStatus::PartiallyFilled },
        reason: None,
        filled_qty: d(cum),
        leaves_qty: Decimal::ZERO,
        avg_fill_price: None,
        replaced_by: None,
        message: None,
        origin: Some(OrderEventOrigin::Accounts),
        event_type: Some(if last { OrderEventType::Filled } else { OrderEventType::PartiallyFilled }),
        fill: Some(OrderFill { fill_id: fill_id.into(), qty: d(qty), price: d(price), fee: d(fee), settlement_date: Some(19_700) }),
        new_qty: None,
        new_limit_price: None,
        new_stop_price: None,
    }
}

pub(crate) fn funding(account: &str, id: &str, direction: FundingDirection, status: FundingStatus, amount: &str, at_ns: i64) -> FundingEvent {
    FundingEvent { event_id: format!("fe-{id}-{status:?}"), account_id: account.into(), funding_id: id.into(), direction, status, amount: d(amount), reason: None, at_ns }
}

/// acc-1: a deposit, a buy of 10 AAPL filled 4 (fee 0.5) + 6, a withdrawal; noise that
/// must not show (venue-origin fill, requested / failed funding); acc-2: one deposit.
pub(crate) fn seeded() -> Arc<MemoryActivities> {
    let m = Arc::new(MemoryActivities::new());
    let t0 = SESSION1_OPEN;
    m.apply_funding(&funding("acc-1", "dep-1", FundingDirection::Deposit, FundingStatus::Requested, "5000", t0));
    m.apply_funding(&funding("acc-1", "dep-1", FundingDirection::Deposit, FundingStatus::Completed, "5000", t0 + MS));
    m.apply_command(&place("acc-1", "o-1", Side::Buy, "10", t0 + 2 * MS));
    let mut venue = booked_fill("acc-1", "o-1", "x-1", ["4", "150.25", "0", "4"], false, t0 + 3 * MS);
    venue.origin = Some(OrderEventOrigin::Venue);
    m.apply_order_event(&venue);
    m.apply_order_event(&booked_fill("acc-1", "o-1", "x-1", ["4", "150.25", "0.5", "4"], false, t0 + 3 * MS));
    m.apply_order_event(&booked_fill("acc-1", "o-1", "x-2", ["6", "150.5", "0", "10"], true, t0 + 4 * MS));
    m.apply_funding(&funding("acc-1", "wd-1", FundingDirection::Withdrawal, FundingStatus::Completed, "200.10", t0 + 5 * MS));
    m.apply_funding(&funding("acc-1", "wd-2", FundingDirection::Withdrawal, FundingStatus::Failed, "99", t0 + 6 * MS));
    m.apply_funding(&funding("acc-2", "dep-9", FundingDirection::Deposit, FundingStatus::Completed, "50", t0 + MS));
    m
}

fn app_with(m: Arc<MemoryActivities>) -> TestApp {
    let mut t = TestApp::new();
    t.state = t.state.clone().with_activities(m);
    t
}

fn types(b: &serde_json::Value) -> Vec<String> {
    b.as_array().unwrap().iter().map(|a| a["activity_type"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn trade_and_non_trade_activities_in_alpacas_shapes() {
    let t = app_with(seeded());
    let (s, b) = t.get(TRADER, "/v2/account/activities").await;
    assert_eq!(s, 200, "{b}");
    // Newest first; the fee shares its fill's time and sorts by id among them.
    let got = types(&b);
    assert_eq!(got.len(), 5, "{b}");
    assert_eq!((got[0].as_str(), got[1].as_str(), got[4].as_str()), ("CSW", "FILL", "CSD"));
    let fills: Vec<&serde_json::Value> = b.as_array().unwrap().iter().filter(|a| a["activity_type"] == "FILL").collect();
    let last = fills[0];
    assert_eq!(last["type"], "fill");
    assert_eq!((last["qty"].as_str(), last["price"].as_str(), last["cum_qty"].as_str(), last["leaves_qty"].as_str()), (Some("6"), Some("150.5"), Some("10"), Some("0")));
    assert_eq!((last["side"].as_str(), last["symbol"].as_str(), last["order_id"].as_str(), last["order_status"].as_str()), (Some("buy"), Some("AAPL"), Some("o-1"), Some("filled")));
    assert_eq!(last["transaction_time"], rfc3339(SESSION1_OPEN + 4 * MS));
    let first = fills[1];
    assert_eq!((first["type"].as_str(), first["leaves_qty"].as_str(), first["order_status"].as_str()), (Some("partial_fill"), Some("6"), Some("partially_filled")));
    let id = first["id"].as_str().unwrap();
    assert!(id.starts_with("20231114143000003::") && id.len() == 19 + 36, "{id}");
    let fee = b.as_array().unwrap().iter().find(|a| a["activity_type"] == "FEE").unwrap();
    assert_eq!((fee["net_amount"].as_str(), fee["symbol"].as_str(), fee["status"].as_str()), (Some("-0.5"), Some("AAPL"), Some("executed")));
    let csw = &b[0];
    assert_eq!((csw["net_amount"].as_str(), csw["date"].as_str()), (Some("-200.1"), Some("2023-11-14")));
    assert!(csw["qty"].is_null() && csw["symbol"].is_null() && csw["description"].as_str().unwrap().contains("wd-1"));
    assert_eq!(b[4]["net_amount"], "5000");
    // Another account sees only its own.
    let (_, b) = t.get(OTHER_TRADER, "/v2/account/activities").await;
    assert_eq!((types(&b), b[0]["net_amount"].as_str()), (vec!["CSD".to_string()], Some("50")));
}

#[tokio::test]
async fn filters_by_type_time_and_direction() {
    let t = app_with(seeded());
    let get = |p: &'static str| t.get(TRADER, p);
    assert_eq!(types(&get("/v2/account/activities/FILL").await.1), ["FILL", "FILL"]);
    assert_eq!(types(&get("/v2/account/activities?activity_types=CSD,CSW").await.1), ["CSW", "CSD"]);
    assert_eq!(types(&get("/v2/account/activities?activity_types=TRANS").await.1), ["CSW", "CSD"]);
    assert_eq!(types(&get("/v2/account/activities/fee").await.1), ["FEE"]);
    assert_eq!(get("/v2/account/activities/DIV").await, (200, serde_json::json!([])), "known type Tradeflow never produces");
    assert_eq!(types(&get("/v2/account/activities?direction=asc").await.1)[0], "CSD");
    assert_eq!(get("/v2/account/activities?date=2023-11-15").await, (200, serde_json::json!([])));
    assert_eq!(types(&get("/v2/account/activities?date=2023-11-14").await.1).len(), 5);
    // after / until are exclusive.
    let after = rfc3339(SESSION1_OPEN + MS);
    let until = rfc3339(SESSION1_OPEN + 5 * MS);
    let (_, b) = t.get(TRADER, &format!("/v2/account/activities?after={after}&until={until}&direction=asc")).await;
    assert_eq!(types(&b).len(), 3, "{b}");
    assert_eq!(types(&b).iter().filter(|x| *x == "FILL").count(), 2);
    assert!(!types(&b).contains(&"CSD".to_string()) && !types(&b).contains(&"CSW".to_string()));
}

#[tokio::test]
async fn bad_parameters_are_clear_422s() {
    let t = app_with(seeded());
    for (path, message) in [
        ("/v2/account/activities/FFFFF", "invalid activity type: FFFFF"),
        ("/v2/account/activities?activity_types=FILL,NOPE", "invalid activity type: NOPE"),
        ("/v2/account/activities?activity_types=,", "activity_types must list at least one activity type"),
        ("/v2/account/activities?page_size=0", "page_size must be an integer from 1 to 100"),
        ("/v2/account/activities?page_size=101", "page_size must be an integer from 1 to 100"),
        ("/v2/account/activities?page_size=ten", "page_size must be an integer from 1 to 100"),
        ("/v2/account/activities?direction=up", "invalid direction: \"up\" (asc or desc)"),
        ("/v2/account/activities?page_token=abc", "invalid page_token: pass the id of the last activity of the previous page"),
        ("/v2/account/activities?date=2023-11-14&after=2023-11-01", "date cannot be combined with after or until"),
        ("/v2/account/activities?date=2023-11-14T10:00:00Z", "date must be a date (YYYY-MM-DD)"),
        ("/v2/account/activities?after=yesterday", "after must be an RFC 3339 timestamp or a date"),
        ("/v2/account/activities?after=2023-11-15&until=2023-11-14", "after must be earlier than until"),
    ] {
        assert_eq!(t.get(TRADER, path).await, (422, serde_json::json!({"code": 42210000, "message": message})), "{path}");
    }
}

async fn walk(t: &TestApp, query: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..100 {
        let path = match &token {
            Some(tok) => format!("/v2/account/activities?{query}&page_token={tok}"),
            None => format!("/v2/account/activities?{query}"),
        };
        let (s, b) = t.get(TRADER, &path).await;
        assert_eq!(s, 200, "{b}");
        let ids: Vec<String> = b.as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap().to_string()).collect();
        match ids.last() {
            None => return seen,
            Some(last) => token = Some(last.clone()),
        }
        seen.extend(ids);
    }
    panic!("paging does not end");
}

#[tokio::test]
async fn paging_visits_every_activity_once_in_both_directions() {
    let m = seeded();
    // 250 more deposits, several per millisecond (ties are ordered by id).
    for i in 0..250 {
        m.apply_funding(&funding("acc-1", &format!("bulk-{i}"), FundingDirection::Deposit, FundingStatus::Completed, "1", SESSION1_OPEN + (10 + i / 3) * MS));
    }
    let t = app_with(m);
    let (_, first) = t.get(TRADER, "/v2/account/activities").await;
    assert_eq!(first.as_array().unwrap().len(), 100, "default page size");
    let desc = walk(&t, "page_size=100").await;
    assert_eq!(desc.len(), 255);
    let mut sorted = desc.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 255, "no duplicates");
    assert!(desc.windows(2).all(|w| w[0] > w[1]), "strictly descending");
    let asc = walk(&t, "direction=asc&page_size=7").await;
    assert_eq!(asc, sorted, "ascending paging sees the same set in order");
    // Paging combined with a type filter.
    assert_eq!(walk(&t, "activity_types=FILL&page_size=1").await.len(), 2);
}

#[tokio::test]
async fn fills_wait_for_their_order_and_replacements_inherit_the_side() {
    let m = Arc::new(MemoryActivities::new());
    m.apply_order_event(&booked_fill("acc-1", "o-7", "x-7", ["1", "10", "0", "1"], false, SESSION1_OPEN));
    let t = app_with(m.clone());
    assert_eq!(t.get(TRADER, "/v2/account/activities").await.1, serde_json::json!([]), "order unknown: parked");
    // The same order id under another account never supplies the side.
    m.apply_command(&place("acc-2", "o-7", Side::Buy, "3", SESSION1_OPEN - MS));
    assert_eq!(t.get(TRADER, "/v2/account/activities").await.1, serde_json::json!([]));
    m.apply_command(&place("acc-1", "o-7", Side::Sell, "3", SESSION1_OPEN - MS));
    let (_, b) = t.get(TRADER, "/v2/account/activities").await;
    assert_eq!((b[0]["side"].as_str(), b[0]["leaves_qty"].as_str()), (Some("sell"), Some("2")));
    m.apply_command(&OrderCommand {
        command_id: "cmd-r".into(),
        account_id: "acc-1".into(),
        issued_at_ns: SESSION1_OPEN + MS,
        body: OrderInstruction::ReplaceOrder(ReplaceOrder {
            order_id: "o-7".into(),
            new_order_id: "o-8".into(),
            qty: Some(d("5")),
            limit_price: None,
            stop_price: None,
            time_in_force: None,
            client_order_id: None,
            symbol: None,
            instrument: None,
            reference_price: None,
        }),
    });
    m.apply_order_event(&booked_fill("acc-1", "o-8", "x-8", ["2", "10", "0", "2"], false, SESSION1_OPEN + 2 * MS));
    let (_, b) = t.get(TRADER, "/v2/account/activities").await;
    assert_eq!((b[0]["order_id"].as_str(), b[0]["side"].as_str(), b[0]["leaves_qty"].as_str()), (Some("o-8"), Some("sell"), Some("3")));
    // Replaying a record changes nothing.
    m.apply_order_event(&booked_fill("acc-1", "o-8", "x-8", ["2", "10", "0", "2"], false, SESSION1_OPEN + 2 * MS));
    assert_eq!(t.get(TRADER, "/v2/account/activities").await.1.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn unavailable_or_missing_view_is_503() {
    let m = seeded();
    let t = app_with(m.clone());
    m.set_unavailable(true);
    assert_eq!(t.get(TRADER, "/v2/account/activities").await.0, 503);
    let bare = TestApp::new();
    assert_eq!(bare.get(TRADER, "/v2/account/activities/FILL").await, (503, serde_json::json!({"code": 50310000, "message": "service unavailable, retry later"})));
}
