//! The platform API's ports on Kafka (`pipelines::api_kafka::platform`), against the real
//! broker: what one store instance wrote is what a fresh instance (an API restart) reads;
//! refresh-token reuse is detected across a restart; the audit log's hash chains stay
//! intact across sink lifetimes (and two sinks fencing each other), and a tampered copy of
//! a record makes verification fail.

use api::audit::AuditEntry;
use api::ports::{ApiKeyStore, PortError, Role, StoredKey};
use api::v1::ports::{ApiKeyRegistry, AuditSink, FundingHistory, Inserted, NotificationFeed, NotificationKind, PlatformCommands, Rotation, SessionStore, UserStore};
use pipelines::api_kafka::platform::audit::{partition_for, verify_audit_topic, VerifyError};
use pipelines::api_kafka::platform::{PlatformBackend, PlatformOptions};
use pipelines::api_kafka::KafkaApiConfig;
use pipelines::registry::Registry;
use rust_decimal::Decimal;
use schemas::records::*;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tests::{brokers, create_prefixed_topics, producer, read_all, send, unique_prefix};

/// Every topic the platform backend uses (`true` = compacted), 3 partitions each.
const TOPICS: &[(&str, bool)] = &[
    ("users", true),
    ("api.keys", true),
    ("sessions", true),
    ("audit.log", false),
    ("funding.commands", false),
    ("accounts.commands", false),
    ("instruments.commands", false),
    ("funding.events", false),
    ("orders.events", false),
];

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// Static keys, as `tradeflow api --keys FILE` provides them.
struct StaticKeys;

impl ApiKeyStore for StaticKeys {
    fn key(&self, key_id: &str) -> Result<Option<StoredKey>, PortError> {
        Ok((key_id == "STATIC1").then(|| StoredKey { key_id: key_id.into(), secret_hash: "$argon2id$static".into(), user_id: "ops".into(), account_id: "acc-ops".into(), role: Role::Admin }))
    }
}

/// A backend on `prefix`, once every view has caught up (one "API process lifetime").
async fn start(prefix: &str) -> PlatformBackend {
    let registry = Registry::embedded();
    let codec = Arc::new(registry.codec().await.expect("embedded registry"));
    let cfg = KafkaApiConfig { brokers: brokers(), topic_prefix: prefix.to_string(), extra: vec![] };
    let options = PlatformOptions { static_keys: Some(Arc::new(StaticKeys)), audit_transactional_id: None };
    let backend = PlatformBackend::start(&cfg, codec, registry, tokio::runtime::Handle::current(), options).expect("platform backend");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !backend.ready() {
        assert!(Instant::now() < deadline, "platform views not ready: {:?}", backend.health());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    backend
}

async fn stop(b: PlatformBackend) {
    tokio::task::spawn_blocking(move || b.shutdown()).await.unwrap();
}

fn user(id: &str, email: &str) -> UserRecord {
    UserRecord {
        user_id: id.into(),
        email: email.into(),
        password_hash: "$argon2id$hash".into(),
        role: UserRole::Trader,
        account_id: format!("acc-{id}"),
        disabled: false,
        created_at_ns: 1,
        updated_at_ns: 1,
    }
}

fn key(id: &str, user_id: &str, at: i64) -> ApiKeyRecord {
    ApiKeyRecord {
        key_id: id.into(),
        secret_hash: "$argon2id$secret".into(),
        user_id: user_id.into(),
        account_id: format!("acc-{user_id}"),
        role: UserRole::Trader,
        label: "ci".into(),
        created_at_ns: at,
        revoked_at_ns: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_keys_and_sessions_survive_a_restart_with_reuse_detection() {
    let prefix = unique_prefix("platform-stores");
    create_prefixed_topics(&prefix, 3, TOPICS).await;

    // Lifetime 1.
    let a = start(&prefix).await;
    assert_eq!(a.users.insert(user("u1", "alice@example.com")).await.unwrap(), Inserted::Created);
    assert_eq!(a.users.insert(user("u2", "alice@example.com")).await.unwrap(), Inserted::EmailTaken);
    assert_eq!(a.users.insert(user("u3", "carol@example.com")).await.unwrap(), Inserted::Created);
    let mut disabled = user("u3", "carol@example.com");
    disabled.disabled = true;
    a.users.update(disabled.clone()).await.unwrap();
    assert_eq!(a.users.user("u3").unwrap(), Some(disabled.clone()), "read-your-writes");

    a.keys.create(key("PK1", "u1", 10)).await.unwrap();
    a.keys.create(key("PK2", "u1", 20)).await.unwrap();
    let store = a.key_store();
    assert_eq!(store.key("PK1").unwrap().map(|k| k.user_id), Some("u1".to_string()), "a created key authenticates at once");
    assert!(a.keys.revoke("PK2", 30).await.unwrap());
    assert!(!a.keys.revoke("PK2", 31).await.unwrap(), "already revoked");
    assert!(!a.keys.revoke("STATIC1", 31).await.unwrap(), "static keys are not registry records");
    assert_eq!(store.key("PK2").unwrap(), None, "a revoked key stops at once");
    assert_eq!(store.key("STATIC1").unwrap().map(|k| k.role), Some(Role::Admin));

    let far = i64::MAX / 2;
    a.sessions.start("fam1", "u1", "j1", far).await.unwrap();
    assert_eq!(a.sessions.rotate("fam1", "j1", "j2", 1, far).await.unwrap(), Rotation::Rotated);
    a.sessions.start("fam2", "u1", "k1", far).await.unwrap();
    a.sessions.revoke("fam2").await.unwrap();
    a.sessions.start("fam3", "u1", "m1", far).await.unwrap();
    a.sessions.start("fam4", "u1", "n1", 5).await.unwrap();
    stop(a).await;

    // Lifetime 2: a fresh process reads everything back.
    let b = start(&prefix).await;
    assert_eq!(b.users.user("u1").unwrap().map(|u| u.email), Some("alice@example.com".to_string()));
    assert_eq!(b.users.by_email("alice@example.com").unwrap().map(|u| u.user_id), Some("u1".to_string()));
    assert_eq!(b.users.user("u3").unwrap(), Some(disabled));
    assert_eq!(b.users.users().unwrap().iter().map(|u| u.user_id.as_str()).collect::<Vec<_>>(), ["u1", "u3"]);
    assert_eq!(b.users.insert(user("u4", "alice@example.com")).await.unwrap(), Inserted::EmailTaken, "uniqueness survives a restart");

    let keys: Vec<(String, Option<i64>)> = b.keys.keys_of("u1").unwrap().into_iter().map(|k| (k.key_id, k.revoked_at_ns)).collect();
    assert_eq!(keys, [("PK1".to_string(), None), ("PK2".to_string(), Some(30))]);
    let store = b.key_store();
    assert!(store.key("PK1").unwrap().is_some());
    assert_eq!(store.key("PK2").unwrap(), None);

    assert!(b.sessions.is_active("fam1", 2).unwrap(), "a session started before the restart is still active");
    assert!(!b.sessions.is_active("fam2", 2).unwrap(), "logout survives the restart");
    assert!(!b.sessions.is_active("fam4", 6).unwrap(), "expired");
    assert_eq!(b.sessions.rotate("fam3", "m1", "m2", 2, far).await.unwrap(), Rotation::Rotated, "refresh after the restart");
    assert_eq!(b.sessions.rotate("fam1", "j1", "j9", 3, far).await.unwrap(), Rotation::Reused, "reuse of a token retired before the restart");
    assert!(!b.sessions.is_active("fam1", 3).unwrap());
    b.sessions.revoke_user("u1").await.unwrap();
    assert!(!b.sessions.is_active("fam3", 3).unwrap());
    stop(b).await;

    // Lifetime 3: the reuse verdict and the revocations were durable too.
    let c = start(&prefix).await;
    assert_eq!(c.sessions.rotate("fam1", "j2", "j10", 4, far).await.unwrap(), Rotation::Inactive, "family revoked for reuse");
    assert!(!c.sessions.is_active("fam3", 4).unwrap());
    stop(c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_are_written_and_funding_and_notifications_follow_events() {
    let prefix = unique_prefix("platform-cmds");
    create_prefixed_topics(&prefix, 3, TOPICS).await;
    let codec = tests::codec().await;
    let p = start(&prefix).await;

    let funding = FundingCommand {
        command_id: "fc1".into(),
        account_id: "acc-1".into(),
        issued_at_ns: 1,
        body: FundingInstruction::RequestDeposit(RequestDeposit { funding_id: "dep-1".into(), amount: d("100.25") }),
    };
    p.commands.funding(funding.clone()).await.unwrap();
    let open = AccountCommand {
        command_id: "ac1".into(),
        account_id: "acc-1".into(),
        issued_at_ns: 2,
        body: AccountInstruction::OpenAccount(OpenAccount { owner_id: "u1".into(), kyc_status: KycStatus::Pending, kyc_tier: 0, allow_shorting: false }),
    };
    p.commands.account(open.clone()).await.unwrap();
    let halt = InstrumentCommand { command_id: "ic1".into(), symbol: "AAPL".into(), issued_at_ns: 3, body: InstrumentInstruction::HaltInstrument(HaltInstrument { reason: "maintenance".into() }) };
    p.commands.instrument(halt.clone()).await.unwrap();
    let one = |topic: &str| {
        let rs = read_all(&format!("{prefix}{topic}"));
        assert_eq!(rs.len(), 1, "{topic}");
        rs.into_iter().next().unwrap()
    };
    let r = one("funding.commands");
    assert_eq!((r.key.as_deref(), codec.decode::<FundingCommand>(r.value.as_deref().unwrap()).unwrap()), (Some(&b"acc-1"[..]), funding));
    assert_eq!(r.partition, partition_for("acc-1", 3), "murmur2 placement");
    let r = one("accounts.commands");
    assert_eq!(codec.decode::<AccountCommand>(r.value.as_deref().unwrap()).unwrap(), open);
    let r = one("instruments.commands");
    assert_eq!((r.key.as_deref(), codec.decode::<InstrumentCommand>(r.value.as_deref().unwrap()).unwrap()), (Some(&b"AAPL"[..]), halt));

    // Events the pipelines would write.
    let deposit = FundingEvent {
        event_id: "fe1".into(),
        account_id: "acc-1".into(),
        funding_id: "dep-1".into(),
        direction: FundingDirection::Deposit,
        status: FundingStatus::Completed,
        amount: d("100.25"),
        reason: None,
        at_ns: 10,
    };
    let requested = FundingEvent { event_id: "fe0".into(), status: FundingStatus::Requested, at_ns: 5, ..deposit.clone() };
    let fill = OrderEvent {
        event_id: "oe1".into(),
        account_id: "acc-1".into(),
        order_id: "o1".into(),
        client_order_id: None,
        symbol: "AAPL".into(),
        at_ns: 20,
        status: OrderStatus::Filled,
        reason: None,
        filled_qty: d("2"),
        leaves_qty: Decimal::ZERO,
        avg_fill_price: Some(d("10.5")),
        replaced_by: None,
        message: None,
        origin: Some(OrderEventOrigin::Accounts),
        event_type: Some(OrderEventType::Filled),
        fill: Some(OrderFill { fill_id: "x1".into(), qty: d("2"), price: d("10.5"), fee: d("0.01"), settlement_date: Some(1) }),
        new_qty: None,
        new_limit_price: None,
        new_stop_price: None,
    };
    let venue_fill = OrderEvent { event_id: "oe0".into(), origin: Some(OrderEventOrigin::Venue), event_type: None, ..fill.clone() };
    let pr = producer();
    for e in [&requested, &deposit] {
        send(&pr, &format!("{prefix}funding.events"), "acc-1", &codec.encode(e).unwrap());
    }
    for e in [&venue_fill, &fill] {
        send(&pr, &format!("{prefix}orders.events"), "acc-1", &codec.encode(e).unwrap());
    }
    rdkafka::producer::Producer::flush(&pr, Duration::from_secs(10)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (f, n) = (p.funding.funding_events("acc-1").unwrap(), p.notifications.notifications("acc-1").unwrap());
        if f.len() == 2 && n.len() == 2 {
            assert_eq!(f, [requested.clone(), deposit.clone()], "oldest first");
            let got: Vec<(NotificationKind, &str)> = n.iter().map(|n| (n.kind, n.notification_id.as_str())).collect();
            assert_eq!(got, [(NotificationKind::Order, "order:oe1"), (NotificationKind::Funding, "funding:fe1")], "newest first");
            assert_eq!(n[1].message, "Deposit dep-1 of 100.25 completed");
            break;
        }
        assert!(Instant::now() < deadline, "views did not follow: funding {f:?}, notifications {n:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(p.funding.funding_events("acc-2").unwrap().is_empty());
    stop(p).await;
}

fn entry(i: usize, actor: &str) -> AuditEntry {
    AuditEntry {
        audit_id: format!("a{i}"),
        request_id: format!("r{i}"),
        at_ns: i as i64,
        actor: actor.into(),
        action: "funding.deposit".into(),
        target: "acc-1".into(),
        outcome: AuditOutcome::Success,
        status: 202,
        detail: i.is_multiple_of(3).then(|| format!("d{i}")),
    }
}

const ACTORS: [&str; 5] = ["user:u1", "user:u2", "apikey:PK1", "email:x@example.com", "anonymous"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_chains_verify_across_lifetimes_and_fencing_and_tampering_fails() {
    let prefix = unique_prefix("platform-audit");
    create_prefixed_topics(&prefix, 3, TOPICS).await;
    let topic = format!("{prefix}audit.log");
    let mut written = 0u64;

    // Lifetime 1.
    let a = start(&prefix).await;
    a.audit.open().await.unwrap();
    assert_eq!(a.audit.heads().await.unwrap(), Default::default(), "empty topic: every head is genesis");
    for i in 0..8 {
        let r = a.audit.append(entry(i, ACTORS[i % ACTORS.len()])).await.unwrap();
        assert_eq!(r.partition, partition_for(ACTORS[i % ACTORS.len()], 3));
        written += 1;
    }
    let after_a = a.audit.heads().await.unwrap();
    stop(a).await;

    // Lifetime 2: the new sink continues each chain from its partition's last record.
    let b = start(&prefix).await;
    b.audit.open().await.unwrap();
    assert_eq!(b.audit.heads().await.unwrap(), after_a, "heads restored from the partitions' last records");
    for i in 8..14 {
        b.audit.append(entry(i, ACTORS[i % ACTORS.len()])).await.unwrap();
        written += 1;
    }
    // A second live instance (same transactional id) fences the first; they take turns
    // without forking a chain.
    let c = start(&prefix).await;
    for i in 14..18 {
        c.audit.append(entry(i, ACTORS[i % ACTORS.len()])).await.unwrap();
        written += 1;
    }
    let fenced = b.audit.append(entry(18, ACTORS[0])).await;
    assert!(matches!(fenced, Err(PortError::Unavailable(_))), "a fenced sink fails its append: {fenced:?}");
    b.audit.append(entry(19, ACTORS[0])).await.expect("the fenced sink re-opens (fencing the other) and continues");
    written += 1;
    assert!(c.audit.append(entry(20, ACTORS[1])).await.is_err(), "now the other one is fenced");
    c.audit.append(entry(21, ACTORS[1])).await.unwrap();
    written += 1;
    stop(b).await;
    stop(c).await;

    let report = verify_audit_topic(&brokers(), &topic).await.expect("intact chains verify");
    assert_eq!(report.records(), written);
    assert_eq!(report.partitions.len(), 3);
    assert!(report.partitions.values().filter(|p| p.records > 0).count() > 1, "spread over partitions");
    for (p, chain) in &report.partitions {
        assert_eq!(chain.head.next_seq, chain.records as i64, "partition {p}");
    }

    // Tampering: a modified copy of a record, produced with the same key (so the same
    // partition, by the standard partitioner).
    let codec = tests::codec().await;
    let original = read_all(&topic)
        .into_iter()
        .map(|r| (r.partition, codec.decode::<AuditRecord>(r.value.as_deref().unwrap()).unwrap()))
        .find(|(_, r)| r.seq == 1)
        .expect("a partition with two records");
    let mut forged = original.1.clone();
    forged.target = "acc-evil".into();
    let pr = producer();
    send(&pr, &topic, &forged.actor, &codec.encode(&forged).unwrap());
    rdkafka::producer::Producer::flush(&pr, Duration::from_secs(10)).unwrap();
    let landed = read_all(&topic).into_iter().filter(|r| r.partition == original.0).count() as u64;
    assert_eq!(landed, report.partitions[&original.0].records + 1, "the copy landed on the original's partition (murmur2 agrees)");
    match verify_audit_topic(&brokers(), &topic).await {
        Err(VerifyError::Chain(e)) => println!("tampering detected: {e}"),
        other => panic!("a tampered audit log verified: {other:?}"),
    }
}
