//! The accounts pipeline end to end on a real broker, exactly once under kill -9.
//!
//! The test plays the API (account, funding and order commands) and the venue (it reads
//! `orders.routed` read_committed and answers on `orders.events` with venue events, as
//! the matching pipeline does: `partially_filled` / `filled` carrying the fill, and
//! canceled / expired / rejected / replaced). The pipeline does not read `executions`. `tradeflow run accounts` runs as
//! a child process and is killed with SIGKILL at random points (once while restoring) and
//! restarted with the same instance id.
//!
//! Determinism: the workload runs in rounds. In a round every account gets inputs from at
//! most one topic (Kafka keeps their order), and the next round starts only once the
//! pipeline's consumer group has committed past every record of the round, so each
//! account's inputs are processed in exactly the order they are logged here, whatever the
//! interleaving of topics. Event times stay within one trading day, so no settlement comes
//! due and stream-time punctuation emits nothing. The golden run feeds each account's log
//! through the same binding (`Accounts::decode`, the pure `AccountsOperator`, `encode`) in
//! process, and the outputs read back read_committed must equal it byte for byte.

use operators::accounts::AccountState;
use operators::Operator;
use pipelines::catalog::accounts::{self as accts, Accounts};
use pipelines::spec::Pipeline;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rdkafka::config::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rust_decimal::Decimal;
use schemas::records as w;
use schemas::Codec;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tests::{brokers, read_all, GroupOffsets, Processor};

const ACCOUNTS: usize = 48;
const PARTITIONS: i32 = 4;
const SYMBOLS: [(&str, i64); 3] = [("AAPL", 100), ("MSFT", 200), ("TSLA", 50)];

fn dec(units: i64, scale: u32) -> Decimal {
    Decimal::new(units, scale)
}

fn instrument() -> w::InstrumentSnapshot {
    w::InstrumentSnapshot { status: w::InstrumentStatus::Listed, tick_size: dec(1, 2), lot_size: Decimal::ONE, min_qty: Decimal::ONE, max_order_notional: None }
}

fn ref_price(symbol: &str) -> Decimal {
    Decimal::from(SYMBOLS.iter().find(|(s, _)| *s == symbol).unwrap().1)
}

/// One input to send, before ids and times are assigned.
#[derive(Clone, Debug)]
enum Step {
    Account(w::AccountInstruction),
    Funding(w::FundingInstruction),
    Order(w::OrderInstruction),
    /// A venue fill event (exec id, order id, symbol, qty, price, fee, order leaves after it).
    Fill { exec_id: String, order_id: String, symbol: String, qty: Decimal, price: Decimal, fee: Decimal, leaves: Decimal },
    /// A venue order event (status, order id, symbol, leaves, replaced_by, new qty / limit).
    Venue { status: w::OrderStatus, order_id: String, symbol: String, leaves: Decimal, replaced_by: Option<String>, new_qty: Option<Decimal>, new_limit: Option<Decimal> },
}

impl Step {
    fn topic(&self) -> &'static str {
        match self {
            Step::Account(_) => accts::ACCOUNTS_COMMANDS,
            Step::Funding(_) => accts::FUNDING_COMMANDS,
            Step::Order(_) => accts::ORDERS_COMMANDS,
            Step::Fill { .. } => accts::ORDER_EVENTS,
            Step::Venue { .. } => accts::ORDER_EVENTS,
        }
    }
}

/// The venue's view of a routed order.
#[derive(Clone, Debug)]
struct VenueOrder {
    account: String,
    symbol: String,
    side: w::Side,
    leaves: Decimal,
    price: Decimal,
}

struct Driver {
    prefix: String,
    codec: Arc<Codec>,
    producer: FutureProducer,
    offsets: GroupOffsets,
    rng: StdRng,
    time_ns: i64,
    seq: u64,
    queues: BTreeMap<String, VecDeque<Step>>,
    scripts: BTreeMap<String, VecDeque<Step>>,
    /// Every input sent, per account, in send order: (unprefixed topic, value).
    log: BTreeMap<String, Vec<(String, Vec<u8>)>>,
    venue: BTreeMap<String, VenueOrder>,
    /// Side of every routed order id (replacements included), for cash accounting.
    sides: BTreeMap<String, w::Side>,
    seen_routed: BTreeSet<(i32, i64)>,
    rounds: usize,
}

impl Driver {
    fn id(&mut self, kind: &str) -> String {
        self.seq += 1;
        format!("{kind}-{}", self.seq)
    }

    fn script(&mut self, account: &str, i: usize) -> VecDeque<Step> {
        let rng = &mut self.rng;
        let mut s = VecDeque::new();
        s.push_back(Step::Account(w::AccountInstruction::OpenAccount(w::OpenAccount {
            owner_id: format!("owner-{i}"),
            kyc_status: if i % 13 == 5 { w::KycStatus::Pending } else { w::KycStatus::Approved },
            kyc_tier: if i.is_multiple_of(3) { 3 } else { 2 },
            allow_shorting: i % 4 == 1,
        })));
        let deposit = Decimal::from(rng.random_range(5_000..20_000));
        s.push_back(Step::Funding(w::FundingInstruction::RequestDeposit(w::RequestDeposit { funding_id: format!("{account}-d1"), amount: deposit })));
        if i % 11 == 7 {
            s.push_back(Step::Funding(w::FundingInstruction::FailFunding(w::FailFunding { funding_id: format!("{account}-d1"), reason: "ach return".into() })));
            s.push_back(Step::Funding(w::FundingInstruction::RequestDeposit(w::RequestDeposit { funding_id: format!("{account}-d2"), amount: deposit })));
            s.push_back(Step::Funding(w::FundingInstruction::CompleteFunding(w::CompleteFunding { funding_id: format!("{account}-d2") })));
        } else {
            s.push_back(Step::Funding(w::FundingInstruction::CompleteFunding(w::CompleteFunding { funding_id: format!("{account}-d1") })));
        }
        for k in 0..rng.random_range(5..9) {
            let (symbol, _) = SYMBOLS[rng.random_range(0..SYMBOLS.len())];
            let r = ref_price(symbol);
            let side = if k >= 2 && rng.random_bool(0.4) { w::Side::Sell } else { w::Side::Buy };
            let market = rng.random_bool(0.3);
            let qty = Decimal::from(rng.random_range(1..8));
            let limit = (!market).then(|| {
                let off = Decimal::new(rng.random_range(-500..500), 2) * r / Decimal::from(100);
                (r + off).round_dp(2)
            });
            let tif = match rng.random_range(0..10) {
                0 if i % 9 == 4 => w::TimeInForce::Opg, // not supported: dead-lettered by decode
                0..=5 => w::TimeInForce::Day,
                _ => w::TimeInForce::Gtc,
            };
            s.push_back(Step::Order(w::OrderInstruction::PlaceOrder(w::PlaceOrder {
                order_id: format!("{account}-o{k}"),
                client_order_id: (k % 2 == 0).then(|| format!("c{k}")),
                symbol: symbol.into(),
                side,
                order_type: if market { w::OrderType::Market } else { w::OrderType::Limit },
                time_in_force: tif,
                qty: Some(qty),
                notional: None,
                limit_price: limit,
                stop_price: None,
                instrument: Some(instrument()),
                reference_price: Some(r),
                extended_hours: k % 3 == 0,
            })));
        }
        if i % 5 == 2 {
            // Completing a funding that does not exist contradicts state: dead-lettered.
            s.push_back(Step::Funding(w::FundingInstruction::CompleteFunding(w::CompleteFunding { funding_id: "no-such-funding".into() })));
        }
        let amount = Decimal::from(rng.random_range(100..3_000));
        s.push_back(Step::Funding(w::FundingInstruction::RequestWithdrawal(w::RequestWithdrawal { funding_id: format!("{account}-w1"), amount })));
        s.push_back(Step::Funding(w::FundingInstruction::CompleteFunding(w::CompleteFunding { funding_id: format!("{account}-w1") })));
        if i % 6 == 3 {
            s.push_back(Step::Account(w::AccountInstruction::SetAccountStatus(w::SetAccountStatus { status: w::AccountStatus::Restricted })));
        }
        s
    }

    /// Encodes `step` for `account` with a fresh id and the next event time.
    fn encode(&mut self, account: &str, step: Step) -> Vec<u8> {
        self.time_ns += 1_000_000;
        let t = self.time_ns;
        match step {
            Step::Account(body) => {
                let command_id = self.id("cmd");
                self.codec.encode(&w::AccountCommand { command_id, account_id: account.into(), issued_at_ns: t, body }).unwrap()
            }
            Step::Funding(body) => {
                let command_id = self.id("cmd");
                self.codec.encode(&w::FundingCommand { command_id, account_id: account.into(), issued_at_ns: t, body }).unwrap()
            }
            Step::Order(body) => {
                let command_id = self.id("cmd");
                self.codec.encode(&w::OrderCommand { command_id, account_id: account.into(), issued_at_ns: t, body }).unwrap()
            }
            Step::Fill { exec_id, order_id, symbol, qty, price, fee, leaves } => {
                let event_id = self.id("venue");
                let status = if leaves.is_zero() { w::OrderStatus::Filled } else { w::OrderStatus::PartiallyFilled };
                self.codec
                    .encode(&w::OrderEvent {
                        event_id,
                        account_id: account.into(),
                        order_id,
                        client_order_id: None,
                        symbol,
                        at_ns: t,
                        status,
                        reason: None,
                        filled_qty: qty,
                        leaves_qty: leaves,
                        avg_fill_price: Some(price),
                        replaced_by: None,
                        message: None,
                        origin: Some(w::OrderEventOrigin::Venue),
                        event_type: None,
                        fill: Some(w::OrderFill { fill_id: exec_id, qty, price, fee, settlement_date: None }),
                        new_qty: None,
                        new_limit_price: None,
                        new_stop_price: None,
                    })
                    .unwrap()
            }
            Step::Venue { status, order_id, symbol, leaves, replaced_by, new_qty, new_limit } => {
                let event_id = self.id("venue");
                self.codec
                    .encode(&w::OrderEvent {
                        event_id,
                        account_id: account.into(),
                        order_id,
                        client_order_id: None,
                        symbol,
                        at_ns: t,
                        status,
                        reason: None,
                        filled_qty: Decimal::ZERO,
                        leaves_qty: leaves,
                        avg_fill_price: None,
                        replaced_by,
                        message: None,
                        origin: Some(w::OrderEventOrigin::Venue),
                        event_type: None,
                        fill: None,
                        new_qty,
                        new_limit_price: new_limit,
                        new_stop_price: None,
                    })
                    .unwrap()
            }
        }
    }

    /// Sends one round; returns false when nothing was left to send.
    fn round(&mut self, rt: &tokio::runtime::Runtime) -> bool {
        // Users act when nothing is queued for them.
        let accounts: Vec<String> = self.scripts.keys().cloned().collect();
        for a in &accounts {
            if self.queues[a].is_empty() {
                // The next user action, with any same-topic actions right after it.
                let script = self.scripts.get_mut(a).unwrap();
                let queue = self.queues.get_mut(a).unwrap();
                if let Some(step) = script.pop_front() {
                    let topic = step.topic();
                    queue.push_back(step);
                    while script.front().is_some_and(|s| s.topic() == topic) {
                        queue.push_back(script.pop_front().unwrap());
                    }
                }
            }
        }
        let mut batch: Vec<(String, &'static str, Vec<u8>)> = Vec::new();
        for a in &accounts {
            let Some(topic) = self.queues[a].front().map(Step::topic) else { continue };
            while self.queues[a].front().is_some_and(|s| s.topic() == topic) {
                let step = self.queues.get_mut(a).unwrap().pop_front().unwrap();
                // Same-topic followers (e.g. request + complete) go in the same round.
                let bytes = self.encode(a, step);
                batch.push((a.clone(), topic, bytes));
            }
        }
        if batch.is_empty() {
            return false;
        }
        let mut futures = Vec::new();
        for (a, topic, bytes) in &batch {
            let full = format!("{}{topic}", self.prefix);
            let rec = FutureRecord::to(&full).key(a.as_str()).payload(bytes.as_slice());
            futures.push((full.clone(), self.producer.send_result(rec).map_err(|(e, _)| e).expect("enqueue")));
            self.log.entry(a.clone()).or_default().push((topic.to_string(), bytes.clone()));
        }
        let mut max: BTreeMap<(String, i32), i64> = BTreeMap::new();
        rt.block_on(async {
            for (topic, f) in futures {
                let d = f.await.expect("delivery").map_err(|(e, _)| e).expect("delivered");
                let e = max.entry((topic, d.partition)).or_insert(-1);
                *e = (*e).max(d.offset);
            }
        });
        self.offsets.wait_past(&max, Duration::from_secs(240));
        self.rounds += 1;
        self.answer_routed();
        true
    }

    /// The venue: answers every routed record not seen before.
    fn answer_routed(&mut self) {
        let routed = read_all(&format!("{}{}", self.prefix, accts::ROUTED));
        for r in routed {
            if !self.seen_routed.insert((r.partition, r.offset)) {
                continue;
            }
            let ro: w::RoutedOrder = self.codec.decode(r.value.as_deref().unwrap()).unwrap();
            let a = ro.account_id.clone();
            match ro.body {
                w::OrderInstruction::PlaceOrder(p) => {
                    let qty = p.qty.unwrap();
                    let price = p.limit_price.unwrap_or_else(|| ref_price(&p.symbol));
                    self.sides.insert(p.order_id.clone(), p.side);
                    let o = VenueOrder { account: a.clone(), symbol: p.symbol.clone(), side: p.side, leaves: qty, price };
                    self.venue.insert(p.order_id.clone(), o);
                    let roll = self.rng.random_range(0..100);
                    match roll {
                        0..=34 => self.fill(&p.order_id, qty, true),
                        35..=54 => {
                            let part = (qty / Decimal::TWO).floor().max(Decimal::ONE).min(qty);
                            self.fill(&p.order_id, part, false);
                            if part < qty {
                                self.terminal(&p.order_id, w::OrderStatus::Canceled);
                            }
                        }
                        55..=62 => self.terminal(&p.order_id, w::OrderStatus::Expired),
                        63..=69 => self.terminal(&p.order_id, w::OrderStatus::Rejected),
                        _ => {
                            // Resting: the user cancels or replaces it.
                            let step = if self.rng.random_bool(0.5) {
                                w::OrderInstruction::CancelOrder(w::CancelOrder { order_id: p.order_id.clone() })
                            } else {
                                w::OrderInstruction::ReplaceOrder(w::ReplaceOrder {
                                    order_id: p.order_id.clone(),
                                    new_order_id: format!("{}-r", p.order_id),
                                    qty: Some(qty + Decimal::ONE),
                                    limit_price: p.limit_price.map(|l| l - dec(1, 2)),
                                    stop_price: None,
                                    time_in_force: None,
                                    client_order_id: None,
                                    symbol: Some(p.symbol.clone()),
                                    instrument: Some(instrument()),
                                    reference_price: Some(ref_price(&p.symbol)),
                                })
                            };
                            self.queues.get_mut(&a).unwrap().push_back(Step::Order(step));
                        }
                    }
                }
                w::OrderInstruction::CancelOrder(c) => self.terminal(&c.order_id, w::OrderStatus::Canceled),
                w::OrderInstruction::ReplaceOrder(r) => {
                    let Some(old) = self.venue.get(&r.order_id).cloned() else { continue };
                    if self.rng.random_bool(0.7) {
                        let new_qty = r.qty.unwrap();
                        self.sides.insert(r.new_order_id.clone(), old.side);
                        self.venue.remove(&r.order_id);
                        let price = r.limit_price.unwrap_or(old.price);
                        self.venue.insert(r.new_order_id.clone(), VenueOrder { leaves: new_qty, price, ..old.clone() });
                        self.queues.get_mut(&a).unwrap().push_back(Step::Venue {
                            status: w::OrderStatus::Replaced,
                            order_id: r.order_id.clone(),
                            symbol: old.symbol.clone(),
                            leaves: Decimal::ZERO,
                            replaced_by: Some(r.new_order_id.clone()),
                            new_qty: Some(new_qty),
                            new_limit: r.limit_price,
                        });
                        self.fill(&r.new_order_id, new_qty, true);
                    } else {
                        self.queues.get_mut(&a).unwrap().push_back(Step::Venue {
                            status: w::OrderStatus::Rejected,
                            order_id: r.order_id.clone(),
                            symbol: old.symbol.clone(),
                            leaves: old.leaves,
                            replaced_by: Some(r.new_order_id.clone()),
                            new_qty: None,
                            new_limit: None,
                        });
                        self.queues.get_mut(&a).unwrap().push_back(Step::Order(w::OrderInstruction::CancelOrder(w::CancelOrder { order_id: r.order_id })));
                    }
                }
            }
        }
    }

    /// Queues fills of `qty` (in one or two executions); `dup` sometimes repeats one.
    fn fill(&mut self, order_id: &str, qty: Decimal, may_split: bool) {
        let o = self.venue.get_mut(order_id).unwrap();
        o.leaves -= qty;
        let o = o.clone();
        // Buys fill at or below their price, sells at or above.
        let improve = dec(self.rng.random_range(0..50), 2);
        let price = match o.side {
            w::Side::Buy => (o.price - improve).max(dec(1, 2)),
            w::Side::Sell => o.price + improve,
        };
        let fee = if self.rng.random_bool(0.5) { dec(1, 2) } else { Decimal::ZERO };
        let parts = if may_split && qty > Decimal::ONE && self.rng.random_bool(0.5) { vec![Decimal::ONE, qty - Decimal::ONE] } else { vec![qty] };
        let mut leaves = o.leaves + qty;
        for q in parts {
            let exec_id = self.id("exec");
            leaves -= q;
            let step = Step::Fill { exec_id, order_id: order_id.into(), symbol: o.symbol.clone(), qty: q, price, fee, leaves };
            let dup = self.rng.random_bool(0.05);
            let queue = self.queues.get_mut(&o.account).unwrap();
            queue.push_back(step.clone());
            if dup {
                // The same execution twice (as a second venue event): the operator refuses
                // it (dead letter).
                queue.push_back(step);
            }
        }
    }

    fn terminal(&mut self, order_id: &str, status: w::OrderStatus) {
        let Some(o) = self.venue.remove(order_id) else { return };
        self.queues.get_mut(&o.account).unwrap().push_back(Step::Venue {
            status,
            order_id: order_id.into(),
            symbol: o.symbol,
            leaves: o.leaves,
            replaced_by: None,
            new_qty: None,
            new_limit: None,
        });
    }
}

/// Event times start "now" (so retention never deletes the records), moved back if the
/// trading-day boundary (New York standard time midnight) is less than an hour ahead.
fn base_time_ns() -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as i64;
    let day = 86_400_000_000_000i64;
    let local = now - 5 * 3_600_000_000_000;
    if local.rem_euclid(day) > day - 3_600_000_000_000 {
        now - 2 * 3_600_000_000_000
    } else {
        now
    }
}

#[test]
fn accounts_pipeline_is_exactly_once_under_kill_minus_nine() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let prefix = tests::unique_prefix("accounts");
    let topics: Vec<(&str, bool)> = vec![
        (accts::ACCOUNTS_COMMANDS, false),
        (accts::FUNDING_COMMANDS, false),
        (accts::ORDERS_COMMANDS, false),
        (accts::ORDER_EVENTS, false),
        (accts::ROUTED, false),
        (accts::LEDGER, false),
        (accts::FUNDING_EVENTS, false),
        (accts::SNAPSHOTS, true),
        (accts::CHANGELOG, true),
    ];
    rt.block_on(tests::create_prefixed_topics(&prefix, PARTITIONS, &topics));
    let codec = Arc::new(rt.block_on(tests::codec()));
    let pipeline = Accounts::with_prefix(&prefix);

    let done = Arc::new(AtomicBool::new(false));
    let driver = {
        let (prefix, codec, done) = (prefix.clone(), codec.clone(), done.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let producer: FutureProducer = ClientConfig::new()
                .set("bootstrap.servers", brokers())
                .set("partitioner", "murmur2_random")
                .set("enable.idempotence", "true")
                .set("linger.ms", "5")
                .create()
                .unwrap();
            let mut d = Driver {
                offsets: GroupOffsets::new(&format!("{prefix}accounts")),
                prefix,
                codec,
                producer,
                rng: StdRng::seed_from_u64(42),
                time_ns: base_time_ns(),
                seq: 0,
                queues: BTreeMap::new(),
                scripts: BTreeMap::new(),
                log: BTreeMap::new(),
                venue: BTreeMap::new(),
                sides: BTreeMap::new(),
                seen_routed: BTreeSet::new(),
                rounds: 0,
            };
            for i in 0..ACCOUNTS {
                let a = format!("acct-{i:03}");
                let s = d.script(&a, i);
                d.scripts.insert(a.clone(), s);
                d.queues.insert(a, VecDeque::new());
            }
            while d.round(&rt) {}
            done.store(true, Ordering::SeqCst);
            d
        })
    };

    // Kill -9 at random points while the workload runs; restart with the same instance id.
    let mut rng = StdRng::seed_from_u64(7);
    let (mut kills, mut restore_kills) = (0, 0);
    let started = Instant::now();
    while !done.load(Ordering::SeqCst) && kills < 8 {
        if kills == 2 {
            let mut p = Processor::pipeline("accounts", &prefix, "a", &["--debug-restore-pause-ms", "3000"]);
            p.wait_for("debug: restore consumer assigned, pausing", 1, Duration::from_secs(90));
            p.kill9();
            restore_kills += 1;
            kills += 1;
            continue;
        }
        let mut p = Processor::pipeline("accounts", &prefix, "a", &[]);
        p.wait_for("restore finished", 1, Duration::from_secs(90));
        std::thread::sleep(Duration::from_millis(rng.random_range(500..3500)));
        p.kill9();
        kills += 1;
    }
    let mut last = Processor::pipeline("accounts", &prefix, "a", &[]);
    last.wait_for("restore finished", 1, Duration::from_secs(90));
    let d = driver.join().unwrap();
    // Let the pipeline consume its own last events (ignored) and stop cleanly.
    std::thread::sleep(Duration::from_secs(2));
    last.stop();
    let inputs: usize = d.log.values().map(Vec::len).sum();
    eprintln!("{kills} kills ({restore_kills} during restore), {} rounds, {inputs} inputs, {:?}", d.rounds, started.elapsed());
    assert!(kills >= 4 && restore_kills >= 1, "too few kills: {kills}");

    verify(&prefix, &codec, &pipeline, &d);
}

/// Golden outputs per account, encoded exactly as the pipeline encodes them.
#[derive(Default)]
struct Golden {
    by_topic: BTreeMap<(String, String), Vec<Vec<u8>>>,
    state: BTreeMap<String, AccountState>,
    decode_failures: usize,
}

fn golden(codec: &Codec, pipeline: &Accounts, d: &Driver) -> Golden {
    let mut g = Golden::default();
    let op = pipeline.operator();
    for (account, inputs) in &d.log {
        let mut state = None;
        for (topic, bytes) in inputs {
            let full = format!("{}{topic}", d.prefix);
            let input = match pipeline.decode(codec, &full, bytes) {
                Ok(i) => i,
                Err(_) => {
                    g.decode_failures += 1;
                    continue;
                }
            };
            let time = pipeline.event_time(&input, None);
            let mut out = Vec::new();
            op.process(account, &mut state, input, time, &mut out);
            for o in &out {
                let rec = pipeline.encode(codec, o).unwrap();
                let topic = rec.topic.strip_prefix(d.prefix.as_str()).unwrap_or(rec.topic).to_string();
                g.by_topic.entry((topic, account.clone())).or_default().push(rec.value);
            }
        }
        if let Some(s) = state {
            g.state.insert(account.clone(), s);
        }
    }
    g
}

fn verify(prefix: &str, codec: &Codec, pipeline: &Accounts, d: &Driver) {
    let mut g = golden(codec, pipeline, d);
    let mut actual: BTreeMap<(String, String), Vec<Vec<u8>>> = BTreeMap::new();
    for topic in [accts::LEDGER, accts::FUNDING_EVENTS, accts::SNAPSHOTS, accts::ORDER_EVENTS, accts::ROUTED] {
        for r in read_all(&format!("{prefix}{topic}")) {
            let v = r.value.expect("value");
            let account = match topic {
                accts::ORDER_EVENTS => {
                    let e: w::OrderEvent = codec.decode(&v).unwrap();
                    if e.origin != Some(w::OrderEventOrigin::Accounts) {
                        continue; // the test's own venue events
                    }
                    e.account_id
                }
                accts::ROUTED => codec.decode::<w::RoutedOrder>(&v).unwrap().account_id,
                _ => String::from_utf8(r.key.expect("key")).unwrap(),
            };
            actual.entry((topic.to_string(), account)).or_default().push(v);
        }
    }
    let pipeline_name = format!("{prefix}accounts");
    let mut runtime_dead_letters = 0;
    for r in read_all("dlq") {
        let v = r.value.expect("value");
        // The dead-letter topic is shared with other tests and builds (other schema ids):
        // ours decode; a missing or altered one of ours fails the comparison below.
        let Ok(dl) = codec.decode::<w::DeadLetter>(&v) else { continue };
        if dl.pipeline != pipeline_name {
            continue;
        }
        if dl.source_partition == -1 {
            let account = String::from_utf8(dl.key.clone().unwrap()).unwrap();
            actual.entry(("dlq".to_string(), account)).or_default().push(v);
        } else {
            assert_eq!(dl.error_kind, w::ErrorKind::Invalid, "{dl:?}");
            runtime_dead_letters += 1;
        }
    }
    assert_eq!(runtime_dead_letters, g.decode_failures, "records dead-lettered by decode");

    // Routed records are keyed by symbol: one account's records span partitions, so their
    // relative order as read back is not the processing order. Compare those as multisets.
    // `accounts.snapshots` is compacted (and compacts within seconds here): compare the
    // final snapshot per account.
    for ((topic, _), v) in actual.iter_mut().chain(g.by_topic.iter_mut()) {
        if topic == accts::ROUTED {
            v.sort();
        }
        if topic == accts::SNAPSHOTS {
            v.drain(..v.len().saturating_sub(1));
        }
    }
    // Identical outputs, per account, in order (a duplicate or a loss shows up here).
    let keys: BTreeSet<_> = g.by_topic.keys().chain(actual.keys()).cloned().collect();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for k in &keys {
        let want = g.by_topic.get(k).map(Vec::as_slice).unwrap_or_default();
        let got = actual.get(k).map(Vec::as_slice).unwrap_or_default();
        if want != got {
            let first = want.iter().zip(got).position(|(a, b)| a != b).unwrap_or(want.len().min(got.len()));
            panic!("{} of {}: {} golden vs {} read back, first difference at #{first}", k.0, k.1, want.len(), got.len());
        }
        *counts.entry(k.0.clone()).or_default() += want.len();
    }
    eprintln!("identical outputs per topic: {counts:?}; {} decode dead letters", g.decode_failures);
    for t in [accts::LEDGER, accts::ORDER_EVENTS, accts::SNAPSHOTS, accts::ROUTED, accts::FUNDING_EVENTS, "dlq"] {
        assert!(counts.get(t).copied().unwrap_or(0) > 0, "the workload produced no {t} records");
    }

    // Every ledger entry balances per asset; balances and money flows agree with snapshots.
    for (account, state) in &g.state {
        let none = Vec::new();
        let entries = actual.get(&(accts::LEDGER.to_string(), account.clone())).unwrap_or(&none);
        let mut customer_cash = Decimal::ZERO;
        for bytes in entries {
            let e: w::LedgerEntry = codec.decode(bytes).unwrap();
            let mut net: BTreeMap<&str, Decimal> = BTreeMap::new();
            for p in &e.postings {
                assert!(p.debit >= Decimal::ZERO && p.credit >= Decimal::ZERO && (p.debit.is_zero() != p.credit.is_zero()), "{e:?}");
                *net.entry(&p.asset).or_default() += p.debit - p.credit;
                if p.ledger_account.starts_with("cash:") {
                    customer_cash += p.debit - p.credit;
                }
            }
            assert!(net.values().all(|v| v.is_zero()), "unbalanced entry {e:?}");
        }
        let snaps = &actual[&(accts::SNAPSHOTS.to_string(), account.clone())];
        let snap: w::AccountSnapshot = codec.decode(snaps.last().unwrap()).unwrap();
        assert_eq!(snap.cash, customer_cash, "{account}: snapshot cash vs ledger");
        let (pending, deficit) = (snap.pending_withdrawals.unwrap(), snap.deficit.unwrap());
        assert_eq!(snap.cash, snap.withdrawable_cash + snap.held_cash + snap.unsettled_cash + pending - deficit, "{account}: cash buckets");

        // Conservation: cash = deposits - withdrawals - fees - bought + sold.
        let mut flows = Decimal::ZERO;
        for bytes in actual.get(&(accts::FUNDING_EVENTS.to_string(), account.clone())).into_iter().flatten() {
            let f: w::FundingEvent = codec.decode(bytes).unwrap();
            match (f.status, f.direction) {
                (w::FundingStatus::Completed, w::FundingDirection::Deposit) => flows += f.amount,
                (w::FundingStatus::Completed, w::FundingDirection::Withdrawal) => flows -= f.amount,
                _ => {}
            }
        }
        for bytes in actual.get(&(accts::ORDER_EVENTS.to_string(), account.clone())).unwrap_or(&none) {
            let e: w::OrderEvent = codec.decode(bytes).unwrap();
            if let Some(f) = e.fill {
                let notional = f.qty * f.price;
                match d.sides[&e.order_id] {
                    w::Side::Buy => flows -= notional,
                    w::Side::Sell => flows += notional,
                }
                flows -= f.fee;
            }
        }
        assert_eq!(snap.cash, flows, "{account}: cash conservation");
        assert_eq!(snap.version as u64, state.ledger.last_seq(), "{account}: snapshot version");
    }

    // The changelog rebuilds the golden state.
    let mut rebuilt: BTreeMap<String, AccountState> = BTreeMap::new();
    for r in read_all(&format!("{prefix}{}", accts::CHANGELOG)) {
        let key = String::from_utf8(r.key.expect("changelog key")).unwrap();
        match r.value {
            Some(v) => {
                rebuilt.insert(key, pipeline.decode_state(codec, &v).expect("decode changelog"));
            }
            None => {
                rebuilt.remove(&key);
            }
        }
    }
    assert_eq!(rebuilt.len(), g.state.len(), "accounts in the changelog");
    for (account, state) in &g.state {
        assert_eq!(rebuilt.get(account), Some(state), "{account}: state rebuilt from the changelog");
    }
}
