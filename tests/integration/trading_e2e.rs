//! The three trading pipelines together on a real broker, exactly once under kill -9.
//!
//! `tradeflow run accounts`, `tradeflow run matching` and `tradeflow run portfolio` run as
//! separate child processes on one topic prefix: accounts routes orders to matching on
//! `orders.routed`; matching's `orders.events` (fills included, one ordered stream per
//! order) feeds accounts back and `executions` feeds portfolio. The test plays the API: it lists two instruments, opens
//! accounts (a market maker allowed to short, traders, an under-funded account), funds
//! them, then sends a seeded stream of orders (crossing limits, markets, IOC, day orders the
//! venue rejects without a session calendar, cancels, orders beyond buying power or shares)
//! while a killer thread SIGKILLs a random processor every few seconds (each at least twice)
//! and restarts it with the same instance id. Finally every still-open order is canceled.
//!
//! Pipelines run asynchronously, so the test compares end states and invariants, not
//! interleavings. After every group has committed past every record (read_committed):
//! - executions: exec ids unique; every trade has exactly one buy and one sell report with
//!   the same symbol, quantity and price; fees are zero (matching charges none);
//! - ledger: entry ids unique, every entry balances per asset;
//! - accounts: each final snapshot's cash = completed deposits - completed withdrawals -
//!   buys + sells (from the executions log), no cash held, no open orders, positions =
//!   net fills; shares are conserved per symbol; total cash = deposits - withdrawals;
//! - portfolio: every position snapshot equals an independent FIFO recomputation from the
//!   account's executions (qty, cost basis, average cost, realized P&L, lots); portfolio
//!   snapshots and realized gains agree with it; and since the portfolio's input per
//!   account is exactly the account's executions in partition order, its outputs must
//!   equal a golden in-process run byte for byte (full sequence on `realized.gains`, latest
//!   value per key on the compacted topics and the changelog);
//! - the scenario really produced partial fills, user cancels, IOC remainders and
//!   buying-power rejections.

use operators::portfolio::AccountState as PortfolioState;
use operators::Operator;
use pipelines::catalog::matching::format_uuid;
use pipelines::catalog::portfolio::Portfolio;
use pipelines::spec::Pipeline;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use schemas::records as w;
use schemas::Codec;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tests::{create_prefixed_topics, producer, read_all, send, GroupOffsets, Processor};

const PARTITIONS: i32 = 3;
/// Symbol, reference price, tick.
const SYMBOLS: [(&str, i64, &str); 2] = [("AAA", 100, "0.01"), ("BBB", 50, "0.05")];
const TRADERS: u128 = 6;
const MM: u128 = 0;
const POOR: u128 = TRADERS + 1;
const PIPELINES: [&str; 3] = ["accounts", "matching", "portfolio"];

/// Input topics of each pipeline's group (unprefixed).
const GROUP_INPUTS: [(&str, &[&str]); 3] = [
    ("accounts", &["accounts.commands", "funding.commands", "orders.commands", "orders.events"]),
    ("matching", &["orders.routed", "instruments.commands"]),
    ("portfolio", &["executions"]),
];

pub(crate) fn account(i: u128) -> String {
    format_uuid(0x7a0d_0000_0000_4000_8000_0000_0000_0000 | i)
}

fn tick(symbol: &str) -> Decimal {
    SYMBOLS.iter().find(|s| s.0 == symbol).unwrap().2.parse().unwrap()
}

fn reference(symbol: &str) -> Decimal {
    Decimal::from(SYMBOLS.iter().find(|s| s.0 == symbol).unwrap().1)
}

fn instrument(symbol: &str) -> w::InstrumentSnapshot {
    w::InstrumentSnapshot { status: w::InstrumentStatus::Listed, tick_size: tick(symbol), lot_size: Decimal::ONE, min_qty: Decimal::ONE, max_order_notional: None }
}

/// Every topic of the three trading pipelines (name, compacted).
pub(crate) const TOPICS: [(&str, bool); 18] = [
    ("accounts.commands", false),
    ("funding.commands", false),
    ("orders.commands", false),
    ("executions", false),
    ("orders.events", false),
    ("orders.routed", false),
    ("ledger", false),
    ("funding.events", false),
    ("accounts.snapshots", true),
    ("accounts.changelog", true),
    ("instruments.commands", false),
    ("trades", false),
    ("book.depth", true),
    ("matching.changelog", true),
    ("positions.snapshots", true),
    ("realized.gains", false),
    ("portfolios.snapshots", true),
    ("portfolio.changelog", true),
    ];

/// Event times start "now", moved back if New York midnight is less than an hour ahead (as
/// in the accounts test), so the whole run is one business day: nothing settles or expires.
fn base_time_ns() -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as i64;
    let day = 86_400_000_000_000i64;
    if (now - 5 * 3_600_000_000_000).rem_euclid(day) > day - 3_600_000_000_000 {
        now - 2 * 3_600_000_000_000
    } else {
        now
    }
}

/// Plays the API: encodes commands with fresh ids and increasing event times (also used
/// by the settlement test, which sets `time_ns` to move between trading days).
pub(crate) struct Api {
    pub(crate) prefix: String,
    pub(crate) codec: Arc<Codec>,
    pub(crate) producer: rdkafka::producer::ThreadedProducer<rdkafka::producer::DefaultProducerContext>,
    pub(crate) time_ns: i64,
    pub(crate) seq: u64,
    pub(crate) orders: u128,
}

impl Api {
    pub(crate) fn next(&mut self) -> (String, i64) {
        self.seq += 1;
        self.time_ns += 50_000_000;
        (format!("cmd-{}", self.seq), self.time_ns)
    }

    pub(crate) fn topic(&self, t: &str) -> String {
        format!("{}{t}", self.prefix)
    }

    pub(crate) fn account_cmd(&mut self, acct: &str, body: w::AccountInstruction) {
        let (command_id, issued_at_ns) = self.next();
        let v = self.codec.encode(&w::AccountCommand { command_id, account_id: acct.into(), issued_at_ns, body }).unwrap();
        send(&self.producer, &self.topic("accounts.commands"), acct, &v);
    }

    pub(crate) fn funding(&mut self, acct: &str, body: w::FundingInstruction) {
        let (command_id, issued_at_ns) = self.next();
        let v = self.codec.encode(&w::FundingCommand { command_id, account_id: acct.into(), issued_at_ns, body }).unwrap();
        send(&self.producer, &self.topic("funding.commands"), acct, &v);
    }

    pub(crate) fn list(&mut self, symbol: &str) {
        let (command_id, issued_at_ns) = self.next();
        let v = self
            .codec
            .encode(&w::InstrumentCommand {
                command_id,
                symbol: symbol.into(),
                issued_at_ns,
                body: w::InstrumentInstruction::ListInstrument(w::ListInstrument {
                    name: symbol.into(),
                    tick_size: tick(symbol),
                    lot_size: Decimal::ONE,
                    min_qty: Decimal::ONE,
                    max_order_notional: None,
                    self_trade_prevention: w::SelfTradePrevention::CancelNewest,
                    price_band_pct: None,
                }),
            })
            .unwrap();
        send(&self.producer, &self.topic("instruments.commands"), symbol, &v);
    }

    /// Places an order; returns its id.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn place(&mut self, acct: &str, symbol: &str, side: w::Side, order_type: w::OrderType, tif: w::TimeInForce, qty: i64, limit: Option<Decimal>) -> String {
        self.orders += 1;
        let order_id = format_uuid(0x0bde_0000_0000_4000_8000_0000_0000_0000 | self.orders);
        let body = w::OrderInstruction::PlaceOrder(w::PlaceOrder {
            order_id: order_id.clone(),
            client_order_id: None,
            symbol: symbol.into(),
            side,
            order_type,
            time_in_force: tif,
            qty: Some(Decimal::from(qty)),
            notional: None,
            limit_price: limit,
            stop_price: None,
            instrument: Some(instrument(symbol)),
            reference_price: Some(reference(symbol)),
            extended_hours: false,
        });
        self.order_cmd(acct, body);
        order_id
    }

    pub(crate) fn cancel(&mut self, acct: &str, order_id: &str) {
        self.order_cmd(acct, w::OrderInstruction::CancelOrder(w::CancelOrder { order_id: order_id.into() }));
    }

    pub(crate) fn order_cmd(&mut self, acct: &str, body: w::OrderInstruction) {
        let (command_id, issued_at_ns) = self.next();
        let v = self.codec.encode(&w::OrderCommand { command_id, account_id: acct.into(), issued_at_ns, body }).unwrap();
        send(&self.producer, &self.topic("orders.commands"), acct, &v);
    }

    pub(crate) fn flush(&self) {
        use rdkafka::producer::Producer;
        self.producer.flush(Duration::from_secs(30)).expect("flush");
    }
}

/// Waits until every pipeline has committed past every record of its inputs, repeating
/// until no topic grows during a full pass (outputs of one pipeline are inputs of another).
pub(crate) fn settle(prefix: &str) {
    let groups: Vec<(GroupOffsets, Vec<String>)> = GROUP_INPUTS
        .iter()
        .map(|(g, topics)| (GroupOffsets::new(&format!("{prefix}{g}")), topics.iter().map(|t| format!("{prefix}{t}")).collect()))
        .collect();
    let mut previous = None;
    let started = std::time::Instant::now();
    for round in 0..30 {
        let mut counts = BTreeMap::new();
        for (offsets, topics) in &groups {
            let mut last: BTreeMap<(String, i32), i64> = BTreeMap::new();
            for t in topics {
                let records = read_all(t);
                counts.insert(t.clone(), records.len());
                for r in records {
                    let e = last.entry((t.clone(), r.partition)).or_insert(r.offset);
                    *e = (*e).max(r.offset);
                }
            }
            eprintln!("settle: round {round} at {:?}: waiting for {} partitions", started.elapsed(), last.len());
            offsets.wait_past(&last, Duration::from_secs(180));
        }
        if previous.as_ref() == Some(&counts) {
            return;
        }
        previous = Some(counts);
        std::thread::sleep(Duration::from_millis(500));
    }
    panic!("the pipelines did not settle");
}

pub(crate) fn decode_all<T: schemas::AvroRecord>(codec: &Codec, topic: &str) -> Vec<(String, T)> {
    read_all(topic)
        .into_iter()
        .filter_map(|r| {
            let key = String::from_utf8(r.key?).unwrap();
            let v = codec.decode::<T>(r.value.as_deref()?).unwrap_or_else(|e| panic!("{topic}: {e}"));
            Some((key, v))
        })
        .collect()
}

/// Latest raw value per key (partition order; one key lives in one partition).
fn latest_raw(topic: &str) -> BTreeMap<String, Option<Vec<u8>>> {
    read_all(topic).into_iter().map(|r| (String::from_utf8(r.key.unwrap()).unwrap(), r.value)).collect()
}

fn sign_of(d: Decimal) -> Decimal {
    if d.is_sign_negative() { -Decimal::ONE } else { Decimal::ONE }
}

/// An independent FIFO lot book of one (account, symbol), fees zero.
#[derive(Default, Debug)]
struct FifoBook {
    /// (lot id, signed qty, price), oldest first.
    lots: VecDeque<(String, Decimal, Decimal)>,
    realized: Decimal,
    /// Sum of `|closed qty x lot price|` (no fees in this test): the closed cost basis.
    closed: Decimal,
}

impl FifoBook {
    fn apply(&mut self, id: &str, side: w::Side, qty: Decimal, price: Decimal) {
        let sign = if side == w::Side::Buy { Decimal::ONE } else { -Decimal::ONE };
        let mut left = qty;
        while left > Decimal::ZERO && self.lots.front().is_some_and(|l| sign_of(l.1) == -sign) {
            let lot = self.lots.front_mut().unwrap();
            let take = left.min(lot.1.abs());
            // Closing a long lot with a sell: (sell - buy) * qty; a short lot with a buy:
            // (short price - buy) * qty. Both are lot.sign * (price - lot price) * qty.
            self.realized += sign_of(lot.1) * (price - lot.2) * take;
            self.closed += take * lot.2;
            lot.1 += sign * take;
            if lot.1.is_zero() {
                self.lots.pop_front();
            }
            left -= take;
        }
        if left > Decimal::ZERO {
            self.lots.push_back((id.to_string(), sign * left, price));
        }
    }
    fn qty(&self) -> Decimal {
        self.lots.iter().map(|l| l.1).sum()
    }
    fn cost_basis(&self) -> Decimal {
        self.lots.iter().map(|l| l.1 * l.2).sum()
    }
}

/// Kills a random processor (one with the fewest kills so far) every 1.5 to 3 s and
/// restarts it after a short pause, until `stop` is set and each was killed `min_kills`
/// times. Returns the running processors and the kill counts.
fn killer(prefix: String, mut procs: Vec<Processor>, stop: Arc<AtomicBool>, seed: u64, min_kills: usize) -> std::thread::JoinHandle<(Vec<Processor>, Vec<usize>)> {
    std::thread::spawn(move || {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut kills = vec![0usize; procs.len()];
        loop {
            std::thread::sleep(Duration::from_millis(rng.random_range(1_500..3_000)));
            if stop.load(Ordering::SeqCst) && kills.iter().all(|k| *k >= min_kills) {
                return (procs, kills);
            }
            let fewest = *kills.iter().min().unwrap();
            let candidates: Vec<usize> = (0..procs.len()).filter(|i| kills[*i] == fewest).collect();
            let i = candidates[rng.random_range(0..candidates.len())];
            let p = procs.remove(i);
            p.kill9();
            kills[i] += 1;
            std::thread::sleep(Duration::from_millis(rng.random_range(200..1_200)));
            procs.insert(i, Processor::pipeline(PIPELINES[i], &prefix, "t", &[]));
        }
    })
}

#[test]
fn accounts_matching_and_portfolio_are_consistent_under_kill_minus_nine() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let prefix = tests::unique_prefix("trading");
    let seed: u64 = std::env::var("TRADEFLOW_IT_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random);
    eprintln!("trading_e2e: prefix {prefix} seed {seed}");
    rt.block_on(create_prefixed_topics(&prefix, PARTITIONS, &TOPICS));
    let codec = Arc::new(rt.block_on(tests::codec()));
    let mut api = Api { prefix: prefix.clone(), codec: codec.clone(), producer: producer(), time_ns: base_time_ns(), seq: 0, orders: 0 };
    let mut rng = StdRng::seed_from_u64(seed);

    let procs: Vec<Processor> = PIPELINES.iter().map(|p| Processor::pipeline(p, &prefix, "t", &[])).collect();

    // Set-up: instruments, accounts, then funding (different topics: wait in between).
    for (s, _, _) in SYMBOLS {
        api.list(s);
    }
    for i in MM..=POOR {
        let body = w::AccountInstruction::OpenAccount(w::OpenAccount { owner_id: format!("owner-{i}"), kyc_status: w::KycStatus::Approved, kyc_tier: 3, allow_shorting: i == MM });
        api.account_cmd(&account(i), body);
    }
    api.flush();
    settle(&prefix);
    for i in MM..=POOR {
        let acct = account(i);
        let amount = match i {
            MM => Decimal::from(1_000_000),
            POOR => Decimal::from(100),
            _ => Decimal::from(rng.random_range(5_000..30_000)),
        };
        api.funding(&acct, w::FundingInstruction::RequestDeposit(w::RequestDeposit { funding_id: format!("{acct}-d1"), amount }));
        api.funding(&acct, w::FundingInstruction::CompleteFunding(w::CompleteFunding { funding_id: format!("{acct}-d1") }));
        if i == 1 || i == 2 {
            let amount = Decimal::from(rng.random_range(100..1_000));
            api.funding(&acct, w::FundingInstruction::RequestWithdrawal(w::RequestWithdrawal { funding_id: format!("{acct}-w1"), amount }));
            api.funding(&acct, w::FundingInstruction::CompleteFunding(w::CompleteFunding { funding_id: format!("{acct}-w1") }));
        }
    }
    api.flush();
    settle(&prefix);

    // Trading, with kills.
    let stop = Arc::new(AtomicBool::new(false));
    let killer = killer(prefix.clone(), procs, stop.clone(), seed ^ 0x5eed, 2);
    let mm = account(MM);
    let mut resting: Vec<(String, String)> = Vec::new();
    let quote = |api: &mut Api, rng: &mut StdRng, level: i64| {
        for (s, _, _) in SYMBOLS {
            let step = tick(s) * Decimal::from(10 * level);
            api.place(&mm, s, w::Side::Sell, w::OrderType::Limit, w::TimeInForce::Gtc, rng.random_range(3..12), Some(reference(s) + step));
            api.place(&mm, s, w::Side::Buy, w::OrderType::Limit, w::TimeInForce::Gtc, rng.random_range(3..12), Some(reference(s) - step));
        }
    };
    for level in 1..=4 {
        quote(&mut api, &mut rng, level);
    }
    let poor = account(POOR);
    api.place(&poor, "AAA", w::Side::Buy, w::OrderType::Limit, w::TimeInForce::Gtc, 50, Some(Decimal::from(100)));
    api.place(&poor, "BBB", w::Side::Buy, w::OrderType::Market, w::TimeInForce::Day, 40, None);
    for step in 0..150 {
        if step % 25 == 24 {
            let level = rng.random_range(1..4);
            quote(&mut api, &mut rng, level);
        }
        let acct = account(rng.random_range(1..=TRADERS));
        let (s, _, _) = SYMBOLS[rng.random_range(0..SYMBOLS.len())];
        let (r, t10) = (reference(s), tick(s) * Decimal::TEN);
        match rng.random_range(0..12) {
            0..=2 => {
                let limit = r + t10 * Decimal::from(rng.random_range(-3..5));
                let id = api.place(&acct, s, w::Side::Buy, w::OrderType::Limit, w::TimeInForce::Gtc, rng.random_range(1..15), Some(limit));
                resting.push((acct, id));
            }
            3 => {
                api.place(&acct, s, w::Side::Buy, w::OrderType::Market, w::TimeInForce::Day, rng.random_range(1..6), None);
            }
            4 => {
                api.place(&acct, s, w::Side::Buy, w::OrderType::Limit, w::TimeInForce::Ioc, rng.random_range(5..20), Some(r + t10 * Decimal::TWO));
            }
            5 => {
                api.place(&acct, s, w::Side::Sell, w::OrderType::Market, w::TimeInForce::Day, rng.random_range(1..5), None);
            }
            6 => {
                let id = api.place(&acct, s, w::Side::Sell, w::OrderType::Limit, w::TimeInForce::Gtc, rng.random_range(1..5), Some(r - t10 * Decimal::from(rng.random_range(-2..3))));
                resting.push((acct, id));
            }
            7 => {
                // Day limit: the venue has no session calendar and rejects it.
                api.place(&acct, s, w::Side::Buy, w::OrderType::Limit, w::TimeInForce::Day, 1, Some(r));
            }
            8 | 9 => {
                let id = api.place(&acct, s, w::Side::Buy, w::OrderType::Limit, w::TimeInForce::Gtc, rng.random_range(1..5), Some(r - t10 * Decimal::from(6)));
                resting.push((acct, id));
            }
            _ => {
                if !resting.is_empty() {
                    let (a, id) = resting.swap_remove(rng.random_range(0..resting.len()));
                    api.cancel(&a, &id);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(40..160)));
    }
    api.flush();
    stop.store(true, Ordering::SeqCst);
    let (procs, kills) = killer.join().expect("killer thread");
    eprintln!("trading_e2e: kills per pipeline {:?} = {kills:?}", PIPELINES);
    settle(&prefix);

    // Cancel every order still open (accounts' view), so no cash stays held.
    let events: Vec<(String, w::OrderEvent)> = decode_all(&codec, &format!("{prefix}orders.events"));
    let mut open: BTreeMap<String, String> = BTreeMap::new();
    for (_, e) in &events {
        if e.origin != Some(w::OrderEventOrigin::Accounts) {
            continue;
        }
        use w::OrderEventType as T;
        match e.event_type {
            Some(T::Accepted) | Some(T::PartiallyFilled) => {
                open.insert(e.order_id.clone(), e.account_id.clone());
            }
            Some(T::Rejected | T::Filled | T::Canceled | T::Expired | T::RejectedByVenue | T::Replaced) => {
                open.remove(&e.order_id);
            }
            _ => {}
        }
    }
    for (order, acct) in &open {
        api.cancel(acct, order);
    }
    api.flush();
    settle(&prefix);
    eprintln!("trading_e2e: {} orders placed, {} canceled at the end", api.orders, open.len());
    verify(&prefix, &codec);
    for p in procs {
        p.stop();
    }
    assert!(kills.iter().all(|k| *k >= 2), "{kills:?}");
}

fn verify(prefix: &str, codec: &Codec) {
    let t = |name: &str| format!("{prefix}{name}");
    // Executions: unique ids, two matching sides per trade, no fees.
    let execs: Vec<(String, w::ExecutionReport)> = decode_all(codec, &t("executions"));
    assert!(!execs.is_empty());
    let ids: BTreeSet<&str> = execs.iter().map(|(_, x)| x.exec_id.as_str()).collect();
    assert_eq!(ids.len(), execs.len(), "duplicate execution ids");
    let mut trades: BTreeMap<&str, Vec<&w::ExecutionReport>> = BTreeMap::new();
    for (key, x) in &execs {
        assert_eq!(key, &x.account_id);
        assert!(x.fee.is_zero());
        trades.entry(&x.trade_id).or_default().push(x);
    }
    for (id, sides) in &trades {
        assert_eq!(sides.len(), 2, "trade {id}");
        let (a, b) = (sides[0], sides[1]);
        assert_ne!(a.side, b.side, "trade {id}");
        assert_eq!((&a.symbol, a.last_qty, a.last_price), (&b.symbol, b.last_qty, b.last_price), "trade {id}");
    }
    let tape: Vec<(String, w::Trade)> = decode_all(codec, &t("trades"));
    assert_eq!(tape.len(), trades.len(), "trade tape vs executions");

    // Ledger: unique ids, balanced entries.
    let ledger: Vec<(String, w::LedgerEntry)> = decode_all(codec, &t("ledger"));
    let ids: BTreeSet<&str> = ledger.iter().map(|(_, e)| e.entry_id.as_str()).collect();
    assert_eq!(ids.len(), ledger.len(), "duplicate ledger entry ids");
    for (_, e) in &ledger {
        let mut net: BTreeMap<&str, Decimal> = BTreeMap::new();
        for p in &e.postings {
            *net.entry(&p.asset).or_default() += p.debit - p.credit;
        }
        assert!(net.values().all(|v| v.is_zero()), "unbalanced {e:?}");
    }

    // Dead letters of this run (commands the accounts refused are expected; executions not).
    let dead: Vec<w::DeadLetter> = read_all("dlq")
        .into_iter()
        .filter_map(|r| codec.decode::<w::DeadLetter>(r.value.as_deref()?).ok())
        .filter(|d| d.source_topic.starts_with(prefix))
        .collect();
    for d in &dead {
        eprintln!("trading_e2e: dead letter from {} on {}: {:?} {}", d.pipeline, d.source_topic, d.error_kind, d.error);
    }
    // Accounts: cash and positions from the executions log and completed fundings.
    let mut expected_cash: BTreeMap<String, Decimal> = BTreeMap::new();
    let mut funded = Decimal::ZERO;
    for (_, f) in decode_all::<w::FundingEvent>(codec, &t("funding.events")) {
        if f.status == w::FundingStatus::Completed {
            let signed = if f.direction == w::FundingDirection::Deposit { f.amount } else { -f.amount };
            *expected_cash.entry(f.account_id).or_default() += signed;
            funded += signed;
        }
    }
    let mut expected_shares: BTreeMap<(String, String), Decimal> = BTreeMap::new();
    let mut books: BTreeMap<(String, String), FifoBook> = BTreeMap::new();
    for (_, x) in &execs {
        let notional = x.last_qty * x.last_price;
        let (cash, shares) = if x.side == w::Side::Buy { (-notional, x.last_qty) } else { (notional, -x.last_qty) };
        *expected_cash.entry(x.account_id.clone()).or_default() += cash - x.fee;
        *expected_shares.entry((x.account_id.clone(), x.symbol.clone())).or_default() += shares;
        books.entry((x.account_id.clone(), x.symbol.clone())).or_default().apply(&x.exec_id, x.side, x.last_qty, x.last_price);
    }
    // Portfolio: positions equal an independent FIFO recomputation.
    let positions: BTreeMap<String, w::PositionSnapshot> = decode_all(codec, &t("positions.snapshots")).into_iter().collect();
    assert_eq!(positions.len(), books.len());
    let mut realized_by_account: BTreeMap<String, Decimal> = BTreeMap::new();
    let mut closed_by_account: BTreeMap<String, Decimal> = BTreeMap::new();
    for ((acct, sym), book) in &books {
        let p = &positions[&format!("{acct}|{sym}")];
        assert_eq!((p.qty, p.cost_basis, p.realized_pnl), (book.qty(), book.cost_basis(), book.realized), "{acct} {sym}");
        let avg = if book.qty().is_zero() { Decimal::ZERO } else { book.cost_basis().abs() / book.qty().abs() };
        assert_eq!(p.avg_cost, avg.round_dp(8), "{acct} {sym}");
        let lots: Vec<(&str, Decimal, Decimal)> = p.lots.iter().map(|l| (l.lot_id.as_str(), l.qty, l.price)).collect();
        let want: Vec<(&str, Decimal, Decimal)> = book.lots.iter().map(|l| (l.0.as_str(), l.1, l.2)).collect();
        assert_eq!(lots, want, "{acct} {sym}");
        *realized_by_account.entry(acct.clone()).or_default() += book.realized;
        *closed_by_account.entry(acct.clone()).or_default() += book.closed;
    }
    let portfolios: BTreeMap<String, w::PortfolioSnapshot> = decode_all(codec, &t("portfolios.snapshots")).into_iter().collect();
    assert_eq!(portfolios.len(), realized_by_account.len());
    for (acct, s) in &portfolios {
        assert_eq!(s.realized_pnl, realized_by_account[acct], "{acct}");
        assert_eq!(s.closed_cost_basis, Some(closed_by_account[acct]), "{acct}");
        let open = books.iter().filter(|((a, _), b)| a == acct && !b.lots.is_empty()).count();
        assert_eq!(s.open_positions as usize, open, "{acct}");
    }
    let gains: Vec<(String, w::RealizedGain)> = decode_all(codec, &t("realized.gains"));
    let ids: BTreeSet<&str> = gains.iter().map(|(_, g)| g.fill_id.as_str()).collect();
    assert_eq!(ids.len(), gains.len(), "duplicate realized gains");
    let mut summed: BTreeMap<String, Decimal> = BTreeMap::new();
    for (_, g) in &gains {
        *summed.entry(g.account_id.clone()).or_default() += g.gain;
    }
    for (acct, r) in &realized_by_account {
        assert_eq!(summed.get(acct).copied().unwrap_or_default(), *r, "{acct}");
    }

    golden_portfolio(prefix, codec);

    // Accounts (checked last: the portfolio checks above do not depend on them).
    // Fills reach accounts only as venue events on `orders.events`, ordered per order with
    // the closes: none may be refused, and every execution is booked exactly once.
    assert!(
        !dead.iter().any(|d| d.source_topic.ends_with("executions") || d.source_topic.ends_with("orders.events")),
        "a venue event was dead-lettered: the pipelines disagree on a fill or a close"
    );
    let order_events: Vec<(String, w::OrderEvent)> = decode_all(codec, &t("orders.events"));
    let fills_of = |origin: w::OrderEventOrigin| -> Vec<String> {
        let mut v: Vec<String> = order_events.iter().filter(|(_, e)| e.origin == Some(origin)).filter_map(|(_, e)| e.fill.as_ref().map(|f| f.fill_id.clone())).collect();
        v.sort();
        v
    };
    let mut exec_ids: Vec<String> = execs.iter().map(|(_, x)| x.exec_id.clone()).collect();
    exec_ids.sort();
    assert_eq!(fills_of(w::OrderEventOrigin::Venue), exec_ids, "venue fill events vs executions");
    assert_eq!(fills_of(w::OrderEventOrigin::Accounts), exec_ids, "fills booked by accounts vs executions");

    let snapshots: BTreeMap<String, w::AccountSnapshot> = decode_all(codec, &t("accounts.snapshots")).into_iter().collect();
    assert_eq!(snapshots.len() as u128, POOR + 1);
    let mut total_cash = Decimal::ZERO;
    let mut net_shares: BTreeMap<String, Decimal> = BTreeMap::new();
    for (acct, s) in &snapshots {
        assert_eq!(s.cash, expected_cash.get(acct).copied().unwrap_or_default(), "cash of {acct}: {s:?}");
        assert!(s.held_cash.is_zero(), "held cash of {acct}: {s:?}");
        assert_eq!(s.open_orders, Some(0), "{acct}");
        total_cash += s.cash;
        let held: BTreeMap<&str, Decimal> = s.positions.iter().map(|p| (p.symbol.as_str(), p.qty)).collect();
        for (sym, _, _) in SYMBOLS {
            let want = expected_shares.get(&(acct.clone(), sym.to_string())).copied().unwrap_or_default();
            assert_eq!(held.get(sym).copied().unwrap_or_default(), want, "{acct} {sym}");
            *net_shares.entry(sym.to_string()).or_default() += want;
        }
    }
    assert_eq!(total_cash, funded, "cash is conserved (no fees)");
    assert!(net_shares.values().all(|q| q.is_zero()), "shares conserved: {net_shares:?}");


    // The scenario exercised what it claims to.
    let events: Vec<(String, w::OrderEvent)> = decode_all(codec, &t("orders.events"));
    let count = |f: &dyn Fn(&w::OrderEvent) -> bool| events.iter().filter(|(_, e)| f(e)).count();
    let partial = count(&|e| e.status == w::OrderStatus::PartiallyFilled);
    let canceled = count(&|e| e.origin == Some(w::OrderEventOrigin::Venue) && e.reason == Some(w::OrderReason::UserCanceled));
    let ioc = count(&|e| e.reason == Some(w::OrderReason::IocRemainder));
    let bp = count(&|e| e.reason == Some(w::OrderReason::InsufficientBuyingPower));
    let rejected = count(&|e| e.status == w::OrderStatus::Rejected);
    eprintln!(
        "trading_e2e: {} executions, {} trades, {} ledger entries, {partial} partial fills, {canceled} user cancels, {ioc} IOC remainders, {rejected} rejections ({bp} buying power), {} gains",
        execs.len(),
        trades.len(),
        ledger.len(),
        gains.len()
    );
    assert!(partial > 0 && canceled > 0 && bp > 0 && rejected > bp, "scenario too tame");
}

/// Replays each account's executions (partition order) through the portfolio binding in
/// process and compares with what the pipeline committed.
fn golden_portfolio(prefix: &str, codec: &Codec) {
    let p = Portfolio::with_prefix(prefix);
    let mut states: BTreeMap<String, Option<PortfolioState>> = BTreeMap::new();
    let mut outputs: BTreeMap<(&str, String), Vec<Vec<u8>>> = BTreeMap::new();
    for r in read_all(p.topics().executions) {
        let key = String::from_utf8(r.key.unwrap()).unwrap();
        let input = p.decode(codec, p.topics().executions, r.value.as_deref().unwrap()).unwrap();
        let time = p.event_time(&input, None);
        let mut out = Vec::new();
        p.operator().process(&key, states.entry(key.clone()).or_default(), input, time, &mut out);
        for o in out {
            let rec = p.encode(codec, &o).unwrap();
            outputs.entry((rec.topic, rec.key)).or_default().push(rec.value);
        }
    }
    // realized.gains is an event log: the exact sequence per key.
    let mut gains: BTreeMap<(&str, String), Vec<Vec<u8>>> = BTreeMap::new();
    for r in read_all(p.topics().gains) {
        gains.entry((p.topics().gains, String::from_utf8(r.key.unwrap()).unwrap())).or_default().push(r.value.unwrap());
    }
    let golden_gains: BTreeMap<_, _> = outputs.iter().filter(|((t, _), _)| *t == p.topics().gains).map(|(k, v)| (k.clone(), v.clone())).collect();
    assert!(gains == golden_gains, "realized.gains differs from the golden run");
    // Compacted topics: the latest value per key.
    for topic in [p.topics().positions, p.topics().portfolios] {
        let got = latest_raw(topic);
        let want: BTreeMap<String, Option<Vec<u8>>> =
            outputs.iter().filter(|((t, _), _)| *t == topic).map(|((_, k), v)| (k.clone(), v.last().cloned())).collect();
        assert!(got == want, "{topic} differs from the golden run");
    }
    let changelog = latest_raw(p.topics().changelog);
    assert_eq!(changelog.len(), states.len());
    for (acct, bytes) in changelog {
        let restored = p.decode_state(codec, &bytes.expect("no tombstones")).unwrap();
        assert_eq!(Some(&restored), states[&acct].as_ref(), "changelog of {acct}");
    }
}
