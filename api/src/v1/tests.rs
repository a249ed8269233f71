//! Platform API proofs: the authorization matrix over every `/api/v1` endpoint x caller,
//! JWT rejections, refresh rotation and reuse detection, API keys across `/v2`, the audit
//! log, body limit, rate limits, CORS and the OpenAPI document.

use super::testkit::*;
use crate::audit;
use crate::jwt::{self, Claims, TokenKind};
use crate::limits::{CorsConfig, LimitsConfig, RateLimit};
use crate::platform_memory::SentCommand;
use crate::ports::Clock;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request};
use schemas::records::{AuditOutcome, FundingDirection, FundingEvent, FundingInstruction, FundingStatus, InstrumentInstruction};
use serde_json::json;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::time::Duration;

struct Row {
    method: Method,
    path: &'static str,
    body: Option<serde_json::Value>,
    /// Expected status for: trader own, trader other, analyst, admin, anonymous.
    expect: [u16; 5],
}

fn row(method: Method, path: &'static str, body: Option<serde_json::Value>, expect: [u16; 5]) -> Row {
    Row { method, path, body, expect }
}

fn rows() -> Vec<Row> {
    let creds = json!({"email": "alice@example.com", "password": PASSWORD});
    let amount = json!({"amount": "100.25"});
    vec![
        row(Method::POST, "/api/v1/auth/register", Some(json!({"email": "new@example.com", "password": "a-long-enough-password"})), [201, 201, 201, 201, 201]),
        row(Method::POST, "/api/v1/auth/login", Some(creds), [200, 200, 200, 200, 200]),
        row(Method::POST, "/api/v1/auth/refresh", Some(json!({"refresh_token": "not-a-token"})), [401, 401, 401, 401, 401]),
        row(Method::POST, "/api/v1/auth/logout", None, [204, 204, 204, 204, 401]),
        row(Method::GET, "/api/v1/me", None, [200, 200, 200, 200, 401]),
        row(Method::GET, "/api/v1/accounts/acc-1/kyc", None, [200, 404, 200, 200, 401]),
        row(Method::GET, "/api/v1/accounts/acc-2/kyc", None, [404, 200, 200, 200, 401]),
        row(Method::POST, "/api/v1/accounts/acc-1/deposits", Some(amount.clone()), [202, 404, 403, 403, 401]),
        row(Method::POST, "/api/v1/accounts/acc-1/withdrawals", Some(amount.clone()), [202, 404, 403, 403, 401]),
        row(Method::POST, "/api/v1/accounts/acc-2/deposits", Some(amount), [404, 202, 403, 403, 401]),
        row(Method::GET, "/api/v1/accounts/acc-1/transactions", None, [200, 404, 200, 200, 401]),
        row(Method::GET, "/api/v1/accounts/acc-1/notifications", None, [200, 404, 200, 200, 401]),
        row(Method::GET, "/api/v1/api-keys", None, [200, 200, 200, 200, 401]),
        row(Method::POST, "/api/v1/api-keys", Some(json!({"label": "bot"})), [201, 201, 201, 201, 401]),
        row(Method::DELETE, "/api/v1/api-keys/PKALICE1", None, [204, 404, 404, 204, 401]),
        row(Method::GET, "/api/v1/admin/users", None, [403, 403, 403, 200, 401]),
        row(Method::PATCH, "/api/v1/admin/users/u-bob", Some(json!({"disabled": true})), [403, 403, 403, 200, 401]),
        row(Method::GET, "/api/v1/admin/instruments", None, [403, 403, 403, 200, 401]),
        row(Method::POST, "/api/v1/admin/instruments/AAPL/halt", Some(json!({"reason": "news pending"})), [403, 403, 403, 202, 401]),
        row(Method::POST, "/api/v1/admin/instruments/HALT/resume", None, [403, 403, 403, 202, 401]),
        row(Method::POST, "/api/v1/admin/accounts/acc-2/kyc", Some(json!({"status": "approved", "tier": 2})), [403, 403, 403, 202, 401]),
        row(Method::POST, "/api/v1/admin/accounts/acc-unknown/kyc", Some(json!({"status": "approved"})), [403, 403, 403, 404, 401]),
        row(Method::POST, "/api/v1/admin/accounts/acc-2/kyc", Some(json!({"status": "maybe"})), [403, 403, 403, 422, 401]),
        row(Method::GET, "/openapi.json", None, [200, 200, 200, 200, 200]),
    ]
}

fn seed_history(t: &PlatformApp) {
    t.platform.put_funding_event(FundingEvent {
        event_id: "fe-1".into(),
        account_id: "acc-1".into(),
        funding_id: "fd-own".into(),
        direction: FundingDirection::Deposit,
        status: FundingStatus::Completed,
        amount: crate::testkit::d("500.5"),
        reason: None,
        at_ns: 1,
    });
    t.platform.put_notification(crate::v1::ports::Notification {
        notification_id: "n-own".into(),
        account_id: "acc-1".into(),
        at_ns: 2,
        kind: crate::v1::ports::NotificationKind::Funding,
        message: "deposit fd-own completed".into(),
    });
}

#[tokio::test]
async fn every_platform_endpoint_for_every_kind_of_caller() {
    let mut failures = Vec::new();
    for r in rows() {
        for (i, who) in Who::ALL.into_iter().enumerate() {
            let t = PlatformApp::new();
            seed_history(&t);
            let (status, headers, body) = t.call(who, r.method.clone(), r.path, r.body.clone()).await;
            let cell = format!("{} {} as {who:?}", r.method, r.path);
            if status != r.expect[i] {
                failures.push(format!("{cell}: {status} (expected {}) {body}", r.expect[i]));
            }
            if status >= 400 {
                let code = body["code"].as_u64().unwrap_or(0);
                if code / 100_000 != u64::from(status) || !body["message"].is_string() {
                    failures.push(format!("{cell}: not the error shape: {body}"));
                }
            }
            if !headers.contains_key("x-request-id") {
                failures.push(format!("{cell}: no x-request-id"));
            }
            // Another trader never learns anything about acc-1.
            if who == Who::OtherTrader && r.path.contains("acc-1") && (body.to_string().contains("fd-own") || body.to_string().contains("n-own")) {
                failures.push(format!("{cell}: leaks acc-1 data: {body}"));
            }
            // Every mutating request and every 401 is audited, with the right outcome.
            let log = t.platform.audit_log();
            let audited = r.method != Method::GET || status == 401;
            if audited {
                match log.last() {
                    Some(a) if a.status == i32::from(status) && a.outcome == crate::v1::audit_layer::outcome(status) => {
                        if who != Who::Anonymous && status != 401 && !a.actor.starts_with("user:") {
                            failures.push(format!("{cell}: audit actor {}", a.actor));
                        }
                        if Some(a.request_id.as_str()) != headers.get("x-request-id").and_then(|v| v.to_str().ok()) {
                            failures.push(format!("{cell}: audit request id differs"));
                        }
                    }
                    other => failures.push(format!("{cell}: audit record missing or wrong: {other:?}")),
                }
            }
            if let Err(e) = audit::verify(&log) {
                failures.push(format!("{cell}: audit chain broken: {e}"));
            }
        }
    }
    assert!(failures.is_empty(), "{} cells failed:\n{}", failures.len(), failures.join("\n"));
}

#[tokio::test]
async fn api_keys_get_the_same_answers_except_for_session_operations() {
    let mut failures = Vec::new();
    for r in rows() {
        let session_only = r.path == "/api/v1/auth/logout" || r.path.starts_with("/api/v1/api-keys");
        for (i, who) in Who::ALL.into_iter().enumerate().filter(|(_, w)| *w != Who::Anonymous) {
            let t = PlatformApp::new();
            seed_history(&t);
            let (status, _, body) = t.with_key(who, r.method.clone(), r.path, r.body.clone()).await;
            let expected = if session_only { 403 } else { r.expect[i] };
            if status != expected {
                failures.push(format!("{} {} as {who:?} (key): {status} (expected {expected}) {body}", r.method, r.path));
            }
        }
    }
    assert!(failures.is_empty(), "{} cells failed:\n{}", failures.len(), failures.join("\n"));
}

#[tokio::test]
async fn mutating_v2_requests_are_audited_with_the_key() {
    let t = PlatformApp::new();
    let order = json!({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit", "limit_price": "150", "time_in_force": "day"});
    let (s, h, _) = t.with_key(Who::Trader, Method::POST, "/v2/orders", Some(order)).await;
    assert_eq!(s, 200);
    let (s, _, _) = t.with_key(Who::Analyst, Method::DELETE, "/v2/orders", None).await;
    assert_eq!(s, 403);
    let log = t.platform.audit_log();
    let placed = log.iter().find(|a| a.action == "http:POST /v2/orders").expect("audited");
    assert_eq!((placed.actor.as_str(), placed.outcome, placed.request_id.as_str()), ("apikey:PKALICE1", AuditOutcome::Success, h["x-request-id"].to_str().unwrap()));
    assert!(log.iter().any(|a| a.action == "http:DELETE /v2/orders" && a.actor == "apikey:PKANN1" && a.outcome == AuditOutcome::Denied));
    // Reads are not audited.
    t.with_key(Who::Trader, Method::GET, "/v2/account", None).await;
    assert_eq!(t.platform.audit_log().len(), log.len());
}

#[tokio::test]
async fn another_accounts_resources_are_indistinguishable_from_missing_ones() {
    let t = PlatformApp::new();
    seed_history(&t);
    for suffix in ["kyc", "transactions", "notifications"] {
        let other = t.call(Who::OtherTrader, Method::GET, &format!("/api/v1/accounts/acc-1/{suffix}"), None).await;
        let missing = t.call(Who::OtherTrader, Method::GET, &format!("/api/v1/accounts/acc-404/{suffix}"), None).await;
        assert_eq!((other.0, &other.2), (missing.0, &missing.2), "{suffix}");
        assert_eq!(other.2, json!({"code": 40410000, "message": "account not found"}));
    }
    // The analyst reads across accounts, and never writes.
    let (s, _, b) = t.call(Who::Analyst, Method::GET, "/api/v1/accounts/acc-1/transactions", None).await;
    assert_eq!(s, 200);
    assert_eq!(b[0]["funding_id"], "fd-own");
    assert_eq!(b[0]["amount"], "500.5");
    assert_eq!(t.call(Who::Analyst, Method::POST, "/api/v1/accounts/acc-3/deposits", Some(json!({"amount": "1"}))).await.0, 403);
    assert!(t.platform.commands().is_empty(), "no command from refused requests");
}

#[tokio::test]
async fn deposits_and_withdrawals_write_funding_commands() {
    let t = PlatformApp::new();
    let (s, _, b) = t.call(Who::Trader, Method::POST, "/api/v1/accounts/acc-1/deposits", Some(json!({"amount": "1000.12345678"}))).await;
    assert_eq!(s, 202, "{b}");
    assert_eq!((b["status"].as_str(), b["direction"].as_str(), b["amount"].as_str()), (Some("requested"), Some("deposit"), Some("1000.12345678")));
    let (s, _, _) = t.call(Who::Trader, Method::POST, "/api/v1/accounts/acc-1/withdrawals", Some(json!({"amount": "5"}))).await;
    assert_eq!(s, 202);
    let cmds = t.platform.commands();
    let [SentCommand::Funding(dep), SentCommand::Funding(wd)] = &cmds[..] else { panic!("{cmds:?}") };
    assert_eq!(dep.account_id, "acc-1");
    assert_eq!(dep.issued_at_ns, t.clock.now_ns());
    match (&dep.body, &wd.body) {
        (FundingInstruction::RequestDeposit(d), FundingInstruction::RequestWithdrawal(w)) => {
            assert_eq!(d.funding_id, b["funding_id"].as_str().unwrap());
            assert_eq!(d.amount, crate::testkit::d("1000.12345678"));
            assert_eq!(w.amount, crate::testkit::d("5"));
        }
        other => panic!("{other:?}"),
    }
    for bad in ["0", "-1", "1.123456789", "abc", "1e3"] {
        let (s, _, b) = t.call(Who::Trader, Method::POST, "/api/v1/accounts/acc-1/deposits", Some(json!({"amount": bad}))).await;
        assert_eq!(s, 422, "{bad}: {b}");
    }
    assert_eq!(t.call(Who::Trader, Method::POST, "/api/v1/accounts/acc-1/deposits", Some(json!({"amount": 5}))).await.0, 422, "numbers are not accepted");
    assert_eq!(t.platform.commands().len(), 2);
}

#[tokio::test]
async fn admin_halts_and_resumes_instruments_through_commands() {
    let t = PlatformApp::new();
    let (s, _, b) = t.call(Who::Admin, Method::POST, "/api/v1/admin/instruments/aapl/halt", Some(json!({"reason": "news"}))).await;
    assert_eq!(s, 202, "{b}");
    assert_eq!(t.call(Who::Admin, Method::POST, "/api/v1/admin/instruments/NOPE/halt", Some(json!({"reason": "x"}))).await.0, 404);
    assert_eq!(t.call(Who::Admin, Method::POST, "/api/v1/admin/instruments/OLD/resume", None).await.0, 422, "delisted");
    let cmds = t.platform.commands();
    let [SentCommand::Instrument(c)] = &cmds[..] else { panic!("{cmds:?}") };
    assert_eq!(c.symbol, "AAPL");
    assert!(matches!(&c.body, InstrumentInstruction::HaltInstrument(h) if h.reason == "news"));
    let (_, _, list) = t.call(Who::Admin, Method::GET, "/api/v1/admin/instruments", None).await;
    assert_eq!(list.as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn registration_login_and_account_opening() {
    let t = PlatformApp::new();
    let (s, _, b) = t.send(Method::POST, "/api/v1/auth/register", &[], Some(json!({"email": " Carol@Example.com ", "password": "carol-password-1"}))).await;
    assert_eq!(s, 201, "{b}");
    let account = b["account_id"].as_str().unwrap().to_string();
    let cmds = t.platform.commands();
    assert!(matches!(&cmds[..], [SentCommand::Account(c)] if c.account_id == account));
    let dup = t.send(Method::POST, "/api/v1/auth/register", &[], Some(json!({"email": "carol@example.com", "password": "another-password"}))).await;
    assert_eq!(dup.0, 422);
    let short = t.send(Method::POST, "/api/v1/auth/register", &[], Some(json!({"email": "dan@example.com", "password": "short"}))).await;
    assert_eq!(short.0, 422);
    let bad = t.send(Method::POST, "/api/v1/auth/register", &[], Some(json!({"email": "not-an-email", "password": "long-enough-password"}))).await;
    assert_eq!(bad.0, 422);
    let user = t.platform.audit_log();
    assert!(user.iter().any(|a| a.action == "auth.register" && a.outcome == AuditOutcome::Success));
    // The stored user holds an argon2id hash, never the password.
    let stored = crate::v1::ports::UserStore::by_email(&*t.platform, "carol@example.com").unwrap().unwrap();
    assert!(stored.password_hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    // Login, profile, KYC of an account not opened yet.
    let (s, _, pair) = t.send(Method::POST, "/api/v1/auth/login", &[], Some(json!({"email": "carol@example.com", "password": "carol-password-1"}))).await;
    assert_eq!(s, 200, "{pair}");
    assert_eq!(pair["token_type"], "Bearer");
    assert_eq!(pair["expires_in"], 900);
    let access = pair["access_token"].as_str().unwrap();
    let (_, _, me) = t.bearer(Method::GET, "/api/v1/me", access, None).await;
    assert_eq!((me["email"].as_str(), me["role"].as_str(), me["account_id"].as_str()), (Some("carol@example.com"), Some("trader"), Some(account.as_str())));
    let (s, _, kyc) = t.bearer(Method::GET, &format!("/api/v1/accounts/{account}/kyc"), access, None).await;
    assert_eq!((s, kyc["kyc_status"].as_str(), kyc["account_open"].as_bool()), (200, Some("pending"), Some(false)));
    // acc-1 is open and approved in the /v2 fixture.
    let (_, _, kyc) = t.call(Who::Trader, Method::GET, "/api/v1/accounts/acc-1/kyc", None).await;
    assert_eq!((kyc["kyc_status"].as_str(), kyc["account_status"].as_str()), (Some("approved"), Some("active")));
}

#[tokio::test]
async fn failed_logins_are_one_401_and_audited() {
    let t = PlatformApp::new();
    let expected = json!({"code": 40110000, "message": "request is not authorized"});
    let wrong = t.send(Method::POST, "/api/v1/auth/login", &[("x-request-id", "req-42".into())], Some(json!({"email": "alice@example.com", "password": "wrong-password!"}))).await;
    let unknown = t.send(Method::POST, "/api/v1/auth/login", &[], Some(json!({"email": "nobody@example.com", "password": PASSWORD}))).await;
    assert_eq!((wrong.0, &wrong.2), (401, &expected));
    assert_eq!((unknown.0, &unknown.2), (401, &expected));
    assert_eq!(wrong.1["x-request-id"], "req-42");
    t.login("alice@example.com").await;
    let log = t.platform.audit_log();
    let logins: Vec<_> = log.iter().filter(|a| a.action == "auth.login").collect();
    assert_eq!(logins.len(), 3);
    assert_eq!((logins[0].actor.as_str(), logins[0].outcome, logins[0].detail.as_deref(), logins[0].request_id.as_str()), ("user:u-alice", AuditOutcome::Denied, Some("wrong_password"), "req-42"));
    assert_eq!((logins[1].actor.as_str(), logins[1].detail.as_deref()), ("email:nobody@example.com", Some("unknown_email")));
    assert_eq!((logins[2].actor.as_str(), logins[2].outcome), ("user:u-alice", AuditOutcome::Success));
    assert!(!format!("{log:?}").contains(PASSWORD), "no secret in the audit log");
    audit::verify(&log).unwrap();
}

fn claims_for(t: &PlatformApp, kind: TokenKind) -> Claims {
    jwt::claims(&jwt_config(), kind, "u-alice", "fam-x", "jti-x", t.clock.now_ns())
}

#[tokio::test]
async fn bad_access_tokens_are_rejected() {
    let t = PlatformApp::new();
    let (access, refresh) = t.login("alice@example.com").await;
    assert_eq!(t.bearer(Method::GET, "/api/v1/me", &access, None).await.0, 200);
    let none = jwt::tests::alg_none(&jwt::verify(&jwt_config(), &access, TokenKind::Access, t.clock.now_ns()).unwrap());
    let other_key = crate::jwt::JwtConfig::new(b"some-other-secret-some-other-secret!", "tradeflow", "tradeflow-api").unwrap();
    let forged = jwt::issue(&other_key, &jwt::verify(&jwt_config(), &access, TokenKind::Access, t.clock.now_ns()).unwrap()).unwrap();
    let wrong_aud = jwt::issue(&jwt_config(), &Claims { aud: "someone-else".into(), ..claims_for(&t, TokenKind::Access) }).unwrap();
    let wrong_iss = jwt::issue(&jwt_config(), &Claims { iss: "evil".into(), ..claims_for(&t, TokenKind::Access) }).unwrap();
    let cases = [("alg none", none), ("wrong signature", forged), ("wrong aud", wrong_aud), ("wrong iss", wrong_iss), ("refresh as access", refresh.clone()), ("garbage", "x.y.z".into())];
    for (name, token) in cases {
        let (s, _, b) = t.bearer(Method::GET, "/api/v1/me", &token, None).await;
        assert_eq!((s, b), (401, json!({"code": 40110000, "message": "request is not authorized"})), "{name}");
    }
    // Expired: 15 minutes later.
    t.clock.set(t.clock.now_ns() + 15 * 60 * 1_000_000_000);
    assert_eq!(t.bearer(Method::GET, "/api/v1/me", &access, None).await.0, 401, "expired");
    let details: Vec<String> = t.platform.audit_log().into_iter().filter_map(|a| a.detail).collect();
    for d in ["invalid_token", "wrong_token_kind", "token_expired"] {
        assert!(details.iter().any(|x| x == d), "{d} not audited: {details:?}");
    }
    // An access token is no refresh token either.
    assert_eq!(t.send(Method::POST, "/api/v1/auth/refresh", &[], Some(json!({"refresh_token": access}))).await.0, 401);
}

async fn refresh(t: &PlatformApp, token: &str) -> super::testkit::Reply {
    t.send(Method::POST, "/api/v1/auth/refresh", &[], Some(json!({"refresh_token": token}))).await
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let t = PlatformApp::new();
    let (access1, refresh1) = t.login("alice@example.com").await;
    t.clock.set(t.clock.now_ns() + 1_000_000_000);
    let (s, _, pair2) = refresh(&t, &refresh1).await;
    assert_eq!(s, 200, "{pair2}");
    let (access2, refresh2) = (pair2["access_token"].as_str().unwrap().to_string(), pair2["refresh_token"].as_str().unwrap().to_string());
    assert_ne!(refresh1, refresh2);
    assert_eq!(t.bearer(Method::GET, "/api/v1/me", &access2, None).await.0, 200);
    // Presenting the rotated-out token again is reuse: the family dies.
    assert_eq!(refresh(&t, &refresh1).await.0, 401);
    assert_eq!(refresh(&t, &refresh2).await.0, 401, "the current refresh token is revoked too");
    assert_eq!(t.bearer(Method::GET, "/api/v1/me", &access2, None).await.0, 401, "and the family's access tokens");
    assert_eq!(t.bearer(Method::GET, "/api/v1/me", &access1, None).await.0, 401);
    assert!(t.platform.audit_log().iter().any(|a| a.action == "auth.refresh" && a.detail.as_deref() == Some("refresh_token_reuse_family_revoked")));
    // Another login is a new family and works.
    let (access3, _) = t.login("alice@example.com").await;
    assert_eq!(t.bearer(Method::GET, "/api/v1/me", &access3, None).await.0, 200);
}

#[tokio::test]
async fn logout_revokes_the_session() {
    let t = PlatformApp::new();
    let (access, refresh_token) = t.login("alice@example.com").await;
    assert_eq!(t.bearer(Method::POST, "/api/v1/auth/logout", &access, None).await.0, 204);
    assert_eq!(t.bearer(Method::GET, "/api/v1/me", &access, None).await.0, 401);
    assert_eq!(refresh(&t, &refresh_token).await.0, 401);
    // An API key cannot log out (it has no session).
    assert_eq!(t.with_key(Who::Trader, Method::POST, "/api/v1/auth/logout", None).await.0, 403);
}

#[tokio::test]
async fn created_api_keys_work_on_v2_until_revoked() {
    let t = PlatformApp::new();
    let (access, _) = t.login("alice@example.com").await;
    let (s, _, key) = t.bearer(Method::POST, "/api/v1/api-keys", &access, Some(json!({"label": "bot"}))).await;
    assert_eq!(s, 201, "{key}");
    let (key_id, secret) = (key["key_id"].as_str().unwrap().to_string(), key["secret"].as_str().unwrap().to_string());
    assert!(key_id.starts_with("PK") && secret.len() == 40);
    let apca = [(crate::auth::KEY_ID_HEADER, key_id.clone()), (crate::auth::SECRET_HEADER, secret.clone())];
    let (s, _, account) = t.send(Method::GET, "/v2/account", &apca, None).await;
    assert_eq!((s, account["account_number"].as_str()), (200, Some("acc-1")), "{account}");
    let (s, _, me) = t.send(Method::GET, "/api/v1/me", &apca, None).await;
    assert_eq!((s, me["authenticated_by"].as_str()), (200, Some("api_key")));
    // Keys cannot manage keys.
    assert_eq!(t.send(Method::POST, "/api/v1/api-keys", &apca, Some(json!({}))).await.0, 403);
    // Listing shows no secret and no hash.
    let (_, _, list) = t.bearer(Method::GET, "/api/v1/api-keys", &access, None).await;
    assert!(list.as_array().unwrap().iter().any(|k| k["key_id"] == key_id.as_str()));
    assert!(!list.to_string().contains(&secret) && !list.to_string().contains("argon2"));
    // Revoked: refused everywhere, the same 401.
    assert_eq!(t.bearer(Method::DELETE, &format!("/api/v1/api-keys/{key_id}"), &access, None).await.0, 204);
    assert_eq!(t.send(Method::GET, "/v2/account", &apca, None).await.0, 401);
    assert_eq!(t.send(Method::GET, "/api/v1/me", &apca, None).await.0, 401);
    assert_eq!(t.bearer(Method::DELETE, &format!("/api/v1/api-keys/{key_id}"), &access, None).await.0, 404, "already revoked");
    let actions: Vec<String> = t.platform.audit_log().into_iter().map(|a| a.action).collect();
    assert!(actions.contains(&"apikey.create".to_string()) && actions.contains(&"apikey.revoke".to_string()));
    // /v2 failures are audited too, with the claimed key.
    assert!(t.platform.audit_log().iter().any(|a| a.actor == format!("apikey:{key_id}") && a.status == 401));
}

#[tokio::test]
async fn disabling_a_user_revokes_sessions_and_keys() {
    let t = PlatformApp::new();
    let bob = t.token(Who::OtherTrader).await.unwrap();
    assert_eq!(t.bearer(Method::GET, "/api/v1/me", &bob, None).await.0, 200);
    let (s, _, b) = t.call(Who::Admin, Method::PATCH, "/api/v1/admin/users/u-bob", Some(json!({"disabled": true}))).await;
    assert_eq!((s, b["disabled"].as_bool()), (200, Some(true)), "{b}");
    assert_eq!(t.bearer(Method::GET, "/api/v1/me", &bob, None).await.0, 401);
    assert_eq!(t.with_key(Who::OtherTrader, Method::GET, "/v2/account", None).await.0, 401);
    assert_eq!(t.send(Method::POST, "/api/v1/auth/login", &[], Some(json!({"email": "bob@example.com", "password": PASSWORD}))).await.0, 401);
    // Role changes apply to the next request; admins cannot change themselves.
    let (s, _, _) = t.call(Who::Admin, Method::PATCH, "/api/v1/admin/users/u-alice", Some(json!({"role": "analyst"}))).await;
    assert_eq!(s, 200);
    assert_eq!(t.call(Who::Trader, Method::POST, "/api/v1/accounts/acc-1/deposits", Some(json!({"amount": "1"}))).await.0, 403);
    assert_eq!(t.call(Who::Admin, Method::PATCH, "/api/v1/admin/users/u-root", Some(json!({"role": "trader"}))).await.0, 422);
    assert_eq!(t.call(Who::Admin, Method::PATCH, "/api/v1/admin/users/u-alice", Some(json!({"role": "king"}))).await.0, 422);
}

#[tokio::test]
async fn without_a_platform_v1_is_503_and_v2_still_works() {
    let t = crate::testkit::TestApp::new();
    assert_eq!(t.get(crate::testkit::TRADER, "/api/v1/me").await, (503, json!({"code": 50310000, "message": "service unavailable, retry later"})));
    assert_eq!(t.get(crate::testkit::TRADER, "/v2/account").await.0, 200);
}

// ---------------------------------------------------------------------------------------
// Limits

fn small_limits() -> LimitsConfig {
    LimitsConfig { body_limit_bytes: 1024, ..LimitsConfig::default() }
}

#[tokio::test]
async fn oversized_bodies_are_413_in_the_error_shape() {
    let t = PlatformApp::with_limits(small_limits());
    let expected = json!({"code": 41310000, "message": "request body too large"});
    let big = json!({"amount": "1", "pad": "x".repeat(2048)});
    let (s, _, b) = t.call(Who::Trader, Method::POST, "/api/v1/accounts/acc-1/deposits", Some(big.clone())).await;
    assert_eq!((s, b), (413, expected.clone()));
    let (s, _, b) = t.with_key(Who::Trader, Method::POST, "/v2/orders", Some(big)).await;
    assert_eq!((s, b), (413, expected.clone()));
    // Without Content-Length (streamed), too.
    let chunks: Vec<Result<String, std::io::Error>> = vec![Ok("{\"amount\": \"1\", \"pad\": \"".into()), Ok("y".repeat(4096)), Ok("\"}".into())];
    let req = Request::post("/api/v1/auth/login").header("content-type", "application/json").body(Body::from_stream(futures_util::stream::iter(chunks))).unwrap();
    let (s, _, b) = t.raw(req).await;
    assert_eq!((s, b), (413, expected));
    assert!(t.platform.commands().is_empty());
    // Under the limit is fine.
    assert_eq!(t.call(Who::Trader, Method::POST, "/api/v1/accounts/acc-1/deposits", Some(json!({"amount": "1"}))).await.0, 202);
}

fn from(ip: [u8; 4], mut req: Request<Body>) -> Request<Body> {
    req.extensions_mut().insert(ConnectInfo(SocketAddr::from((ip, 40_000))));
    req
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after() {
    let per_minute = |burst| Some(RateLimit { period: Duration::from_secs(60), burst: NonZeroU32::new(burst).unwrap() });
    // Per IP: 3 requests, then 429 for that IP only.
    let t = PlatformApp::with_limits(LimitsConfig { per_ip: per_minute(3), per_key: None, ..LimitsConfig::default() });
    let get = |ip| from(ip, Request::get("/openapi.json").body(Body::empty()).unwrap());
    for _ in 0..3 {
        assert_eq!(t.raw(get([10, 0, 0, 1])).await.0, 200);
    }
    let (s, h, b) = t.raw(get([10, 0, 0, 1])).await;
    assert_eq!((s, b), (429, json!({"code": 42910000, "message": "rate limit exceeded, retry later"})));
    let retry: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(t.raw(get([10, 0, 0, 2])).await.0, 200, "another IP");
    // Without a known address there is no per-IP bucket (not one bucket shared by all).
    for _ in 0..4 {
        assert_eq!(t.send(Method::GET, "/openapi.json", &[], None).await.0, 200);
    }
    // Behind a trusted proxy, its header names the client.
    let behind = PlatformApp::with_limits(LimitsConfig {
        per_ip: per_minute(1),
        per_key: None,
        client_ip_header: Some(axum::http::HeaderName::from_static("x-real-ip")),
        ..LimitsConfig::default()
    });
    let via = |ip: &str| from([127, 0, 0, 1], Request::get("/openapi.json").header("x-real-ip", ip).body(Body::empty()).unwrap());
    assert_eq!(behind.raw(via("203.0.113.7")).await.0, 200);
    assert_eq!(behind.raw(via("203.0.113.8")).await.0, 200, "the proxy's own address is not the bucket");
    assert_eq!(behind.raw(via("203.0.113.7")).await.0, 429);

    // Per credential: 2 requests per key, whatever the IP.
    let t = PlatformApp::with_limits(LimitsConfig { per_ip: None, per_key: per_minute(2), ..LimitsConfig::default() });
    let key = |who: Who, ip| {
        let (.., key_id) = who.user().unwrap();
        let req = Request::get("/v2/clock").header(crate::auth::KEY_ID_HEADER, key_id).header(crate::auth::SECRET_HEADER, PASSWORD).body(Body::empty()).unwrap();
        from(ip, req)
    };
    assert_eq!(t.raw(key(Who::Trader, [10, 0, 0, 1])).await.0, 200);
    assert_eq!(t.raw(key(Who::Trader, [10, 0, 0, 2])).await.0, 200);
    let (s, h, _) = t.raw(key(Who::Trader, [10, 0, 0, 3])).await;
    assert_eq!(s, 429);
    assert!(h.contains_key("retry-after"));
    assert_eq!(t.raw(key(Who::OtherTrader, [10, 0, 0, 1])).await.0, 200, "another key");
    // A wrong secret for the same key id has its own bucket: it cannot exhaust the owner's.
    let t2 = PlatformApp::with_limits(LimitsConfig { per_ip: None, per_key: per_minute(2), ..LimitsConfig::default() });
    for _ in 0..3 {
        let req = Request::get("/v2/clock").header(crate::auth::KEY_ID_HEADER, "PKALICE1").header(crate::auth::SECRET_HEADER, "guess").body(Body::empty()).unwrap();
        t2.raw(req).await;
    }
    assert_eq!(t2.raw(key(Who::Trader, [10, 0, 0, 1])).await.0, 200);
}

#[tokio::test]
async fn cors_preflight_allows_only_configured_origins() {
    let cors = CorsConfig { allowed_origins: vec!["https://app.example.com".into()], max_age: Duration::from_secs(600) };
    let t = PlatformApp::with_limits(LimitsConfig { cors, ..LimitsConfig::default() });
    let preflight = |origin: &str| {
        Request::builder()
            .method(Method::OPTIONS)
            .uri("/api/v1/accounts/acc-1/deposits")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization,content-type")
            .body(Body::empty())
            .unwrap()
    };
    let (s, h, _) = t.raw(preflight("https://app.example.com")).await;
    assert_eq!(s, 200);
    assert_eq!(h["access-control-allow-origin"], "https://app.example.com");
    let methods = h["access-control-allow-methods"].to_str().unwrap().to_string();
    assert!(methods.contains("POST") && methods.contains("DELETE"), "{methods}");
    assert!(h["access-control-allow-headers"].to_str().unwrap().contains("authorization"));
    assert_eq!(h["access-control-max-age"], "600");
    let (_, h, _) = t.raw(preflight("https://evil.example.com")).await;
    assert!(!h.contains_key("access-control-allow-origin"));
    // Actual requests carry the header too, errors included.
    let req = Request::get("/api/v1/me").header("origin", "https://app.example.com").body(Body::empty()).unwrap();
    let (s, h, _) = t.raw(req).await;
    assert_eq!((s, h["access-control-allow-origin"].to_str().unwrap()), (401, "https://app.example.com"));
    // Off by default.
    let (_, h, _) = PlatformApp::new().raw(preflight("https://app.example.com")).await;
    assert!(!h.contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn openapi_json_lists_every_route_of_both_apis() {
    let t = PlatformApp::new();
    let (s, h, doc) = t.send(Method::GET, "/openapi.json", &[], None).await;
    assert_eq!(s, 200);
    assert_eq!(h["content-type"], "application/json");
    let paths = doc["paths"].as_object().unwrap();
    let template = |p: &str| {
        p.split('?')
            .next()
            .unwrap()
            .replace("/acc-1/", "/{account_id}/")
            .replace("/acc-2/", "/{account_id}/")
            .replace("/acc-unknown/", "/{account_id}/")
            .replace("/PKALICE1", "/{key_id}")
            .replace("/u-bob", "/{user_id}")
            .replace("/AAPL/", "/{symbol}/")
            .replace("/HALT/", "/{symbol}/")
    };
    for r in rows().into_iter().filter(|r| r.path != "/openapi.json") {
        let p = template(r.path);
        let op = paths.get(&p).and_then(|item| item.get(r.method.as_str().to_ascii_lowercase()));
        assert!(op.is_some(), "{} {p} not documented", r.method);
    }
    for (m, p, ..) in crate::openapi::V2_OPERATIONS {
        assert!(paths[*p][*m].is_object(), "{m} {p}");
    }
    for (m, p) in [("get", "/v2/orders/{order_id}"), ("delete", "/v2/orders"), ("get", "/v2/positions/{symbol}"), ("get", "/v2/orders:by_client_order_id")] {
        assert!(paths[p][m].is_object(), "{m} {p}");
    }
    // Every documented error uses the error schema.
    let login = &paths["/api/v1/auth/login"]["post"]["responses"]["401"]["content"]["application/json"]["schema"]["$ref"];
    assert_eq!(login, "#/components/schemas/ErrorBody");
}

#[tokio::test]
async fn listings_validate_limit_and_accept_any_bearer_case() {
    let t = PlatformApp::new();
    seed_history(&t);
    let token = t.token(Who::Trader).await.unwrap();
    for bad in ["0", "501", "abc", "-1"] {
        let (s, _, b) = t.bearer(Method::GET, &format!("/api/v1/accounts/acc-1/transactions?limit={bad}"), &token, None).await;
        assert_eq!((s, b["code"].as_u64()), (422, Some(42210000)), "{bad}");
    }
    let (s, _, b) = t.bearer(Method::GET, "/api/v1/accounts/acc-1/notifications?limit=1", &token, None).await;
    assert_eq!((s, b.as_array().map(Vec::len)), (200, Some(1)));
    assert_eq!(b[0]["kind"], "funding");
    assert_eq!(t.send(Method::GET, "/api/v1/me", &[("authorization", format!("bearer {token}"))], None).await.0, 200);
    assert_eq!(t.send(Method::GET, "/api/v1/me", &[("authorization", format!("Basic {token}"))], None).await.0, 401);
}
