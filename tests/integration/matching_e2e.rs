//! The matching pipeline end to end on a real broker, exactly once under kill -9.
//!
//! Four instruments are listed (on three partitions, so at least two share one), then a
//! seeded stream of routed orders from several accounts (limits, markets, IOC / FOK, day
//! orders, cancels, replaces, off-tick prices, notional orders that the venue rejects) is
//! produced while `tradeflow run matching` is killed with SIGKILL at random points (once
//! while restoring) and restarted with the same instance id. Event times span 50 hours from
//! two hours before a recent session close of the default US calendar (see [`t0`]), so they
//! cross one or two closes: day orders expire at them by stream-time punctuation, driven by
//! another symbol's record in the same partition.
//!
//! The oracle is a golden run: per partition, the same records in partition order replayed
//! in-process through the pipeline's own decode / operator / encode, punctuating exactly as
//! the runtime does (after a record, when the partition's stream time crosses a multiple of
//! the operator's schedule: every symbol with state, in key order). Read `read_committed`,
//! the topics must hold exactly the golden outputs (no duplicates, no gaps, per-key order
//! kept), the tape and the executions must equal what the bare `MatchingOperator` emits,
//! and the changelog must rebuild the golden books and counters.

use operators::matching::{BookEvent, MatchingConfig, MatchingOperator};
use operators::matching::{CalendarRules, Date, OrderStatus};
use operators::venue::{VenueEvent, VenueOperator, VenueOutput, VenueState};
use operators::{Operator, PunctuationKind, Timestamp};
use pipelines::catalog::matching::{format_uuid, Matching};
use pipelines::runtime::parse_stream_time;
use pipelines::spec::Pipeline;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, TopicPartitionList};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use schemas::records::{
    BookSnapshot, CancelOrder, ExecutionReport, InstrumentCommand, InstrumentInstruction, ListInstrument, OrderEvent,
    OrderInstruction, OrderType, PlaceOrder, ReplaceOrder, RoutedOrder, SelfTradePrevention, Side, TimeInForce, Trade,
};
use schemas::Codec;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tests::{create_matching_topics, producer, read_all, send, wait_caught_up, Processor};

const SYMBOLS: [&str; 4] = ["AAA", "BBB", "CCC", "DDD"];
/// Event time between consecutive routed orders (4,000 orders: 50 hours).
const STEP_NS: i64 = 45_000_000_000;
const HOUR_NS: i64 = 3_600_000_000_000;

/// Event time of the first order: two hours before the latest close of the default US
/// calendar that is at least 48 hours old, so the flow's 50 hours end before now and
/// start less than 7 days ago (output records carry event times as Kafka timestamps, and
/// older ones would fall to the broker's retention; newer than now + 1 h are refused).
/// Order 160 is the first after that close, whatever the date.
fn t0() -> i64 {
    static T0: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *T0.get_or_init(|| {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as i64;
        let rules = CalendarRules::us_equities();
        let today = now.div_euclid(24 * HOUR_NS);
        let close = (today - 10..=today)
            .rev()
            .filter_map(|d| rules.close_on(Date::from_days(d)))
            .find(|c| *c + 48 * HOUR_NS <= now)
            .expect("a weekday close in the last 10 days");
        close - 2 * HOUR_NS
    })
}

fn uuid(kind: u128, n: u128) -> String {
    format_uuid(0x5eed_0000_0000_4000_8000_0000_0000_0000 | kind << 64 | n)
}

fn listing(symbol: &str) -> InstrumentCommand {
    let (tick, lot, stp) = match symbol {
        "AAA" => ("0.01", "1", SelfTradePrevention::CancelOldest),
        _ => ("0.05", "0.001", SelfTradePrevention::None),
    };
    InstrumentCommand {
        command_id: format!("list-{symbol}"),
        symbol: symbol.into(),
        issued_at_ns: t0() - HOUR_NS,
        body: InstrumentInstruction::ListInstrument(ListInstrument {
            name: symbol.into(),
            tick_size: tick.parse().unwrap(),
            lot_size: lot.parse().unwrap(),
            min_qty: lot.parse().unwrap(),
            max_order_notional: Some(Decimal::from(1_000_000)),
            self_trade_prevention: stp,
            price_band_pct: None,
        }),
    }
}

/// The seeded order flow: `n` routed orders over both symbols.
fn order_flow(n: usize, seed: u64) -> Vec<RoutedOrder> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut live: BTreeMap<&str, Vec<(u128, u128)>> = BTreeMap::new();
    let mut out = Vec::with_capacity(n);
    for i in 0..n as u128 {
        let symbol = SYMBOLS[rng.random_range(0..SYMBOLS.len())];
        let acct = rng.random_range(1..7u128);
        let (tick, lot) = if symbol == "AAA" { (Decimal::new(1, 2), Decimal::ONE) } else { (Decimal::new(5, 2), Decimal::new(1, 3)) };
        let side = if rng.random_bool(0.5) { Side::Buy } else { Side::Sell };
        // Buys mostly below 100, sells mostly above; ~1 in 25 prices is off the tick.
        let ticks = |rng: &mut StdRng| -> i64 {
            let base = (Decimal::from(100) / tick).to_i64().expect("small");
            match side {
                Side::Buy => base - rng.random_range(-3..40),
                Side::Sell => base + rng.random_range(-3..40),
            }
        };
        let price = |rng: &mut StdRng| -> Decimal {
            let p = tick * Decimal::from(ticks(rng));
            if rng.random_ratio(1, 25) {
                p + tick / Decimal::from(2)
            } else {
                p
            }
        };
        let qty = |rng: &mut StdRng| lot * Decimal::from(rng.random_range(1..50) * if symbol == "AAA" { 1 } else { 37 });
        let ids = live.entry(symbol).or_default();
        let body = match rng.random_range(0..100) {
            0..=54 | 95..=99 => {
                let kind = rng.random_range(0..100);
                let (order_type, tif, limit, notional) = match kind {
                    0..=44 => (OrderType::Limit, TimeInForce::Gtc, Some(price(&mut rng)), false),
                    45..=59 => (OrderType::Limit, TimeInForce::Day, Some(price(&mut rng)), false),
                    60..=69 => (OrderType::Limit, TimeInForce::Ioc, Some(price(&mut rng)), false),
                    70..=77 => (OrderType::Limit, TimeInForce::Fok, Some(price(&mut rng)), false),
                    78..=89 => (OrderType::Market, TimeInForce::Ioc, None, false),
                    90..=94 => (OrderType::Market, TimeInForce::Gtc, None, false),
                    95..=97 => (OrderType::Market, TimeInForce::Day, None, false),
                    _ => (OrderType::Market, TimeInForce::Day, None, true),
                };
                let q = qty(&mut rng);
                ids.push((i, acct));
                OrderInstruction::PlaceOrder(PlaceOrder {
                    order_id: uuid(1, i),
                    client_order_id: Some(format!("c{i}")),
                    symbol: symbol.into(),
                    side,
                    order_type,
                    time_in_force: tif,
                    qty: (!notional).then_some(q),
                    notional: notional.then(|| Decimal::from(500)),
                    limit_price: limit,
                    stop_price: None,
                    instrument: None,
                    reference_price: None,
                    extended_hours: false,
                })
            }
            55..=74 if !ids.is_empty() => {
                let (id, a) = ids[rng.random_range(0..ids.len())];
                // Mostly the owner; sometimes another account (refused by the venue).
                let acct_id = if rng.random_ratio(1, 10) { acct } else { a };
                push_routed(&mut out, symbol, acct_id, i, OrderInstruction::CancelOrder(CancelOrder { order_id: uuid(1, id) }));
                continue;
            }
            _ if !ids.is_empty() => {
                let k = rng.random_range(0..ids.len());
                let (id, a) = ids[k];
                ids[k] = (i, a);
                let keep_price = rng.random_bool(0.4);
                let body = OrderInstruction::ReplaceOrder(ReplaceOrder {
                    order_id: uuid(1, id),
                    new_order_id: uuid(1, i),
                    qty: Some(qty(&mut rng)),
                    limit_price: (!keep_price).then(|| price(&mut rng)),
                    stop_price: None,
                    time_in_force: None,
                    client_order_id: Some(format!("r{i}")),
                    symbol: Some(symbol.into()),
                    instrument: None,
                    reference_price: None,
                });
                push_routed(&mut out, symbol, a, i, body);
                continue;
            }
            _ => continue,
        };
        push_routed(&mut out, symbol, acct, i, body);
    }
    out
}

fn push_routed(out: &mut Vec<RoutedOrder>, symbol: &str, acct: u128, i: u128, body: OrderInstruction) {
    out.push(RoutedOrder {
        command_id: format!("cmd-{i}"),
        account_id: uuid(2, acct),
        symbol: symbol.into(),
        routed_at_ns: t0() + i as i64 * STEP_NS,
        body,
        protection_price: None,
    });
}

/// Produces the flow over about `spread` (so kills land throughout it).
fn spawn_orders(prefix: String, codec: Arc<Codec>, flow: Vec<RoutedOrder>, spread: Duration) -> (std::thread::JoinHandle<()>, Arc<AtomicBool>) {
    let done = Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    let h = std::thread::spawn(move || {
        let p = producer();
        let topic = format!("{prefix}orders.routed");
        let start = Instant::now();
        let n = flow.len();
        for (i, r) in flow.iter().enumerate() {
            send(&p, &topic, &r.symbol, &codec.encode(r).unwrap());
            let due = spread.mul_f64(i as f64 / n as f64);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        rdkafka::producer::Producer::flush(&p, Duration::from_secs(60)).unwrap();
        flag.store(true, Ordering::SeqCst);
    });
    (h, done)
}

/// Golden outputs and final state of one symbol.
#[derive(Default)]
struct Golden {
    by_topic: BTreeMap<&'static str, Vec<Vec<u8>>>,
    state: Option<VenueState>,
    /// Steps of the symbol that were expiry punctuations (not commands).
    punctuation_steps: u64,
    /// `expired` order events emitted by punctuation.
    punctuation_expired: usize,
}

/// Replays one partition's records `(topic, symbol, value)`, in partition order, through
/// the pipeline's own decode / operator / encode, driving punctuation exactly as the runtime
/// does: after each record, when the partition's stream time (largest event time so far)
/// crosses a multiple of the schedule, `punctuate` every symbol with state, in key order.
/// One input record: topic, key (symbol), value.
type Record = (&'static str, String, Vec<u8>);

/// Returns the partition's final stream time.
fn golden_partition(m: &Matching, codec: &Codec, records: &[Record], goldens: &mut BTreeMap<String, Golden>) -> Option<i64> {
    let op = m.operator();
    let every = op.punctuation().stream_time_every_ns.expect("the venue punctuates by stream time");
    let mut states: BTreeMap<String, Option<VenueState>> = BTreeMap::new();
    let mut stream_time: Option<i64> = None;
    let mut out: Vec<VenueOutput> = Vec::new();
    let emit = |out: &mut Vec<VenueOutput>, goldens: &mut BTreeMap<String, Golden>, punctuation: bool| {
        for o in out.drain(..) {
            let g = goldens.entry(o.symbol.clone()).or_default();
            if punctuation && matches!(&o.event, VenueEvent::Order(r) if r.status == OrderStatus::Expired) {
                g.punctuation_expired += 1;
            }
            let r = m.encode(codec, &o).unwrap();
            g.by_topic.entry(r.topic).or_default().push(r.value);
        }
    };
    for (topic, symbol, bytes) in records {
        let input = m.decode(codec, topic, bytes).expect("the flow holds only decodable commands");
        let t = m.event_time(&input, None);
        op.process(symbol, states.entry(symbol.clone()).or_default(), input, t, &mut out);
        emit(&mut out, goldens, false);
        let prev = stream_time;
        let now = prev.map_or(t.nanos(), |p| p.max(t.nanos()));
        stream_time = Some(now);
        if prev.is_some_and(|p| p.div_euclid(every) != now.div_euclid(every)) {
            for (key, state) in states.iter_mut() {
                if state.is_none() || !op.punctuation_due(key, state.as_ref(), Timestamp(now), PunctuationKind::StreamTime) {
                    continue;
                }
                op.punctuate(key, state, Timestamp(now), PunctuationKind::StreamTime, &mut out);
                if !out.is_empty() {
                    goldens.entry(key.clone()).or_default().punctuation_steps += 1;
                }
                emit(&mut out, goldens, true);
            }
        }
    }
    for (k, s) in states {
        goldens.entry(k).or_default().state = s;
    }
    stream_time
}

/// The bare engine's executions and trades for one symbol, as (id, fields) text lines in the
/// wire's units: the pipeline's records must say the same.
fn engine_fills(m: &Matching, codec: &Codec, symbol: &str, inputs: &[(&'static str, Vec<u8>)]) -> (Vec<String>, Vec<String>) {
    // Same calendar; expiry only before each command (the executions are the same).
    let engine = MatchingOperator::new(MatchingConfig { book: m.operator().book_config().clone(), ..MatchingConfig::default() });
    let mut book = None;
    let (mut execs, mut trades) = (Vec::new(), Vec::new());
    for (topic, bytes) in inputs {
        let input = m.decode(codec, topic, bytes).unwrap();
        let rules = book.as_ref().map(|b: &operators::matching::Book| b.rules().clone());
        let Ok(cmd) = VenueOperator::to_command(rules.as_ref(), input.command) else { continue };
        let mut out = Vec::new();
        engine.process(&symbol.to_string(), &mut book, cmd, Timestamp(input.at_ns), &mut out);
        let r = book.as_ref().unwrap().rules().clone();
        for o in out {
            match o.event {
                BookEvent::Execution(e) => execs.push(format!(
                    "{symbol}.e{} {symbol}.t{} {} {:?} {} @ {} cum {} leaves {}",
                    e.exec_id,
                    e.trade_id,
                    format_uuid(e.order_id.0),
                    e.side,
                    r.lots_to_qty(e.fill_qty).normalize(),
                    r.ticks_to_price(e.fill_price).normalize(),
                    r.lots_to_qty(e.cum_qty).normalize(),
                    r.lots_to_qty(e.leaves_qty).normalize()
                )),
                BookEvent::Trade(t) => trades.push(format!(
                    "{symbol}.t{} {} @ {} {:?}",
                    t.trade_id,
                    r.lots_to_qty(t.qty).normalize(),
                    r.ticks_to_price(t.price).normalize(),
                    t.aggressor
                )),
                _ => {}
            }
        }
    }
    (execs, trades)
}

/// Decoded records of `topic`, checking keys with `key_of` and that per partition each
/// symbol's records come in increasing `seq_of` order.
fn read_topic<T: schemas::AvroRecord>(codec: &Codec, topic: &str, key_of: impl Fn(&T) -> String, sym_seq: impl Fn(&T) -> (String, u64)) -> Vec<T> {
    let mut last: BTreeMap<(i32, String), u64> = BTreeMap::new();
    read_all(topic)
        .into_iter()
        .map(|r| {
            let v: T = codec.decode(r.value.as_deref().expect("no tombstones")).unwrap();
            assert_eq!(r.key.as_deref(), Some(key_of(&v).as_bytes()), "{topic}: record key");
            let (sym, seq) = sym_seq(&v);
            let prev = last.insert((r.partition, sym.clone()), seq);
            assert!(prev.is_none_or(|p| p < seq), "{topic}[{}]: {sym} seq {seq} after {prev:?} (order or duplicate)", r.partition);
            v
        })
        .collect()
}

fn seq_of(id: &str, tag: char) -> (String, u64) {
    let (sym, n) = id.split_once('.').unwrap();
    (sym.to_string(), n.strip_prefix(tag).unwrap().parse().unwrap())
}

/// ~4,000 routed orders on two symbols; the processor is killed with SIGKILL at random
/// points at least 6 times (once while restoring) and restarted with the same instance id.
#[test]
fn matching_is_exactly_once_under_kill_minus_nine() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let prefix = tests::unique_prefix("match");
    rt.block_on(create_matching_topics(&prefix, 3));
    let codec = Arc::new(rt.block_on(tests::codec()));
    let group = format!("{prefix}matching");

    // Listings first, consumed and committed before any order exists: each symbol's command
    // order is then its listing followed by its orders in partition order.
    let p = producer();
    for s in SYMBOLS {
        send(&p, &format!("{prefix}instruments.commands"), s, &codec.encode(&listing(s)).unwrap());
    }
    rdkafka::producer::Producer::flush(&p, Duration::from_secs(30)).unwrap();
    let mut first = Processor::pipeline("matching", &prefix, "a", &[]);
    first.wait_for("restore finished", 1, Duration::from_secs(90));
    wait_caught_up(&group, &format!("{prefix}instruments.commands"), Duration::from_secs(60));
    first.kill9();

    let flow = order_flow(4_000, 42);
    let (producer_thread, done) = spawn_orders(prefix.clone(), codec.clone(), flow.clone(), Duration::from_secs(30));
    let mut rng = StdRng::seed_from_u64(9);
    let (mut kills, mut restore_kills) = (1, 0);
    while kills < 7 || !done.load(Ordering::SeqCst) {
        if kills == 3 {
            let mut p = Processor::pipeline("matching", &prefix, "a", &["--debug-restore-pause-ms", "3000"]);
            p.wait_for("debug: restore consumer assigned, pausing", 1, Duration::from_secs(90));
            p.kill9();
            restore_kills += 1;
            kills += 1;
            continue;
        }
        let mut p = Processor::pipeline("matching", &prefix, "a", &[]);
        p.wait_for("restore finished", 1, Duration::from_secs(90));
        std::thread::sleep(Duration::from_millis(rng.random_range(300..3000)));
        p.kill9();
        kills += 1;
    }
    producer_thread.join().unwrap();
    let mut last = Processor::pipeline("matching", &prefix, "a", &[]);
    last.wait_for("restore finished", 1, Duration::from_secs(90));
    wait_caught_up(&group, &format!("{prefix}orders.routed"), Duration::from_secs(180));
    last.stop();
    eprintln!("matching: {} orders, {kills} kills ({restore_kills} during restore)", flow.len());

    // The golden run, per partition in partition order (the listings were consumed and
    // committed before any order was produced). The input topics tell each record's partition.
    let m = Matching::with_prefix(&prefix);
    let mut partitions: BTreeMap<i32, Vec<Record>> = BTreeMap::new();
    let mut inputs: BTreeMap<&str, Vec<(&'static str, Vec<u8>)>> = BTreeMap::new();
    let mut home: BTreeMap<String, i32> = BTreeMap::new();
    for topic in [m.inputs()[1], m.inputs()[0]] {
        for r in read_all(topic) {
            let symbol = String::from_utf8(r.key.unwrap()).unwrap();
            let value = r.value.unwrap();
            assert_eq!(*home.entry(symbol.clone()).or_insert(r.partition), r.partition, "{symbol}: co-partitioned inputs");
            let s = SYMBOLS.iter().find(|s| **s == symbol).unwrap();
            inputs.entry(s).or_default().push((topic, value.clone()));
            partitions.entry(r.partition).or_default().push((topic, symbol, value));
        }
    }
    assert_eq!(inputs.values().map(Vec::len).sum::<usize>(), flow.len() + SYMBOLS.len(), "every command produced once");
    assert!(home.values().collect::<BTreeSet<_>>().len() < SYMBOLS.len(), "some symbols share a partition");
    let mut goldens: BTreeMap<String, Golden> = BTreeMap::new();
    let mut stream_times: BTreeMap<i32, i64> = BTreeMap::new();
    for (p, records) in &partitions {
        stream_times.extend(golden_partition(&m, &codec, records, &mut goldens).map(|st| (*p, st)));
    }
    let expired_by_punctuation: usize = goldens.values().map(|g| g.punctuation_expired).sum();
    assert!(expired_by_punctuation > 0, "some day orders expire by punctuation");
    eprintln!("matching: {expired_by_punctuation} day orders expired by punctuation");
    // The runtime committed each partition's stream time with its input offsets (so a
    // restarted instance punctuates at the same records as one that never stopped).
    let offsets: BaseConsumer = ClientConfig::new().set("bootstrap.servers", tests::brokers()).set("group.id", &group).create().unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in stream_times.keys() {
        tpl.add_partition(&format!("{prefix}orders.routed"), *p);
    }
    for e in offsets.committed_offsets(tpl, Duration::from_secs(30)).unwrap().elements() {
        assert_eq!(parse_stream_time(e.metadata()), Some(stream_times[&e.partition()]), "partition {}: committed stream time", e.partition());
    }
    let expected = |topic: &str| -> Vec<Vec<u8>> {
        goldens.values().flat_map(|g| g.by_topic.get(format!("{prefix}{topic}").as_str()).cloned().unwrap_or_default()).collect()
    };

    // Order events: exactly the golden set, each once, in per-key order.
    let events: Vec<OrderEvent> = read_topic(&codec, &format!("{prefix}orders.events"), |e: &OrderEvent| e.account_id.clone(), |e| seq_of(&e.event_id, 'o'));
    let want: BTreeMap<String, OrderEvent> = expected("orders.events").iter().map(|b| codec.decode::<OrderEvent>(b).unwrap()).map(|e| (e.event_id.clone(), e)).collect();
    let got: BTreeMap<String, OrderEvent> = events.iter().map(|e| (e.event_id.clone(), e.clone())).collect();
    assert_eq!(got.len(), events.len(), "duplicate order events");
    assert_eq!(got.len(), want.len(), "order event count");
    assert!(got == want, "order events differ from the golden run");
    for s in SYMBOLS {
        let n = got.keys().filter(|k| k.starts_with(&format!("{s}."))).count() as u64;
        assert_eq!(goldens[s].state.as_ref().expect("listed").last_report, n, "{s}: order event numbers 1..=n");
    }

    // Executions.
    let execs: Vec<ExecutionReport> = read_topic(&codec, &format!("{prefix}executions"), |e: &ExecutionReport| e.account_id.clone(), |e| seq_of(&e.exec_id, 'e'));
    let want: BTreeMap<String, ExecutionReport> = expected("executions").iter().map(|b| codec.decode::<ExecutionReport>(b).unwrap()).map(|e| (e.exec_id.clone(), e)).collect();
    let got: BTreeMap<String, ExecutionReport> = execs.iter().map(|e| (e.exec_id.clone(), e.clone())).collect();
    assert_eq!(got.len(), execs.len(), "duplicate executions");
    assert!(got == want, "executions differ from the golden run ({} vs {})", got.len(), want.len());

    // Trades: golden, and per symbol seq 1..=n with no gap.
    let trades: Vec<Trade> = read_topic(&codec, &format!("{prefix}trades"), |t: &Trade| t.symbol.clone(), |t| (t.symbol.clone(), t.seq as u64));
    let want: Vec<Trade> = expected("trades").iter().map(|b| codec.decode::<Trade>(b).unwrap()).collect();
    let mut sorted = trades.clone();
    sorted.sort_by_key(|t| (t.symbol.clone(), t.seq));
    assert_eq!(sorted, want, "trades differ from the golden run");
    for s in SYMBOLS {
        let seqs: Vec<i64> = sorted.iter().filter(|t| t.symbol == s).map(|t| t.seq).collect();
        assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>(), "{s}: trade sequence has gaps");
        assert!(seqs.len() > 50, "{s}: the flow should trade ({} trades)", seqs.len());
    }

    // The bare engine agrees with the wire (units, ids, order).
    for s in SYMBOLS {
        let (engine_execs, engine_trades) = engine_fills(&m, &codec, s, &inputs[s]);
        let mut wire_execs: Vec<&ExecutionReport> = execs.iter().filter(|e| e.symbol == s).collect();
        wire_execs.sort_by_key(|e| seq_of(&e.exec_id, 'e').1);
        let wire_execs: Vec<String> = wire_execs
            .iter()
            .map(|e| {
                format!(
                    "{} {} {} {:?} {} @ {} cum {} leaves {}",
                    e.exec_id,
                    e.trade_id,
                    e.order_id,
                    e.side,
                    e.last_qty.normalize(),
                    e.last_price.normalize(),
                    e.cum_qty.normalize(),
                    e.leaves_qty.normalize()
                )
            })
            .collect();
        assert_eq!(wire_execs, engine_execs, "{s}: executions vs the bare engine");
        let wire_trades: Vec<String> = sorted
            .iter()
            .filter(|t| t.symbol == s)
            .map(|t| format!("{} {} @ {} {:?}", t.trade_id, t.qty.normalize(), t.price.normalize(), t.aggressor))
            .collect();
        assert_eq!(wire_trades, engine_trades, "{s}: trades vs the bare engine");
    }

    // Depth: every snapshot is a golden one, and the latest per symbol is the golden last.
    let want_depth: Vec<BookSnapshot> = expected("book.depth").iter().map(|b| codec.decode::<BookSnapshot>(b).unwrap()).collect();
    let depth: Vec<BookSnapshot> = read_topic(&codec, &format!("{prefix}book.depth"), |b: &BookSnapshot| b.symbol.clone(), |b| (b.symbol.clone(), b.seq as u64));
    for s in SYMBOLS {
        let got: Vec<&BookSnapshot> = depth.iter().filter(|b| b.symbol == s).collect();
        let want: Vec<&BookSnapshot> = want_depth.iter().filter(|b| b.symbol == s).collect();
        assert!(got.iter().all(|b| want.contains(b)), "{s}: a depth snapshot not in the golden run");
        assert_eq!(got.last(), want.last(), "{s}: latest depth");
    }

    // The changelog rebuilds the golden state (books, counters: each command applied once).
    let mut latest: BTreeMap<String, Option<Vec<u8>>> = BTreeMap::new();
    for r in read_all(&format!("{prefix}matching.changelog")) {
        latest.insert(String::from_utf8(r.key.unwrap()).unwrap(), r.value);
    }
    assert_eq!(latest.keys().map(String::as_str).collect::<BTreeSet<_>>(), SYMBOLS.into_iter().collect());
    for s in SYMBOLS {
        let state = m.decode_state(&codec, latest[s].as_deref().expect("no tombstone")).unwrap();
        let g = goldens[s].state.as_ref().expect("listed");
        let steps = inputs[s].len() as u64 + goldens[s].punctuation_steps;
        assert_eq!(state.commands, steps, "{s}: commands (and expiry punctuations) applied exactly once");
        assert!(&state == g, "{s}: changelog state differs from the golden run");
        let (a, b) = (state.book.as_ref().unwrap(), g.book.as_ref().unwrap());
        assert_eq!(a.depth(usize::MAX), b.depth(usize::MAX));
        let n_trades = sorted.iter().filter(|t| t.symbol == s).count();
        let n_events = events.iter().filter(|e| e.symbol == s).count();
        let n_execs = execs.iter().filter(|e| e.symbol == s).count();
        let bytes = latest[s].as_ref().map_or(0, Vec::len);
        eprintln!("{s}: {} commands, {n_events} order events, {n_execs} executions, {n_trades} trades, {} live orders, changelog value {bytes} bytes", state.commands, a.open_orders());
    }
}
