//! Property tests: the real book against the naive reference (`reference.rs`), plus
//! structural invariants checked after every command.

use std::collections::BTreeMap;
use std::str::FromStr;

use proptest::prelude::*;
use rust_decimal::Decimal;

use super::reference::RefBook;
use super::*;
use crate::{Operator, PunctuationKind, Timestamp};

const DEPTH: usize = 3;
const SYMBOLS: [&str; 3] = ["AAA", "BBB", "CCC"];

#[derive(Clone, Debug)]
enum Step {
    Cmd(usize, Command, i64),
    Punctuate(i64),
}

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn rules_strategy() -> impl Strategy<Value = InstrumentRules> {
    (
        prop_oneof![Just(StpMode::Off), Just(StpMode::CancelNewest), Just(StpMode::CancelOldest), Just(StpMode::CancelBoth)],
        prop::option::of(Just(300u32)),
        prop::option::of(Just(d("1.00"))),
        prop::option::weighted(0.2, Just(d("2"))),
        prop::option::weighted(0.2, Just(d("6.00"))),
    )
        .prop_map(|(stp, band_bps, reference_price, min_qty, max_notional)| InstrumentRules {
            tick_size: d("0.01"),
            lot_size: d("1"),
            min_qty,
            max_notional,
            stp,
            band_bps,
            reference_price,
        })
}

fn new_order_strategy() -> impl Strategy<Value = Command> {
    (
        (1u128..=24, 1u128..=3, any::<bool>()),
        prop_oneof![3 => Just(OrderType::Market), 8 => Just(OrderType::Limit), 2 => Just(OrderType::Stop), 2 => Just(OrderType::StopLimit)],
        prop_oneof![4 => Just(TimeInForce::Day), 4 => Just(TimeInForce::Gtc), 2 => Just(TimeInForce::Ioc), 2 => Just(TimeInForce::Fok), 1 => Just(TimeInForce::Opg), 1 => Just(TimeInForce::Cls)],
        prop_oneof![1 => -1i64..=0, 20 => 1i64..=10],
        (94i64..=106, 94i64..=106, prop::bool::weighted(0.04)),
    )
        .prop_map(|((id, acct, buy), order_type, tif, qty, (lp, sp, sloppy))| {
            let limit_price = (order_type.has_limit() ^ sloppy).then_some(lp);
            let stop_price = (order_type.has_stop() ^ sloppy).then_some(sp);
            Command::NewOrder(NewOrder {
                order_id: OrderId(id),
                account: AccountId(acct),
                client_order_id: (id % 3 == 0).then(|| format!("c{id}")),
                side: if buy { Side::Buy } else { Side::Sell },
                order_type,
                tif,
                qty,
                limit_price,
                stop_price,
            })
        })
}

fn command_strategy() -> impl Strategy<Value = Command> {
    prop_oneof![
        30 => new_order_strategy(),
        8 => (1u128..=24, 1u128..=3).prop_map(|(id, a)| Command::Cancel { order_id: OrderId(id), account: AccountId(a) }),
        6 => (
            (1u128..=24, 1u128..=24, 1u128..=3),
            prop::option::of(1i64..=10),
            prop::option::of(94i64..=106),
            prop::option::weighted(0.2, 94i64..=106),
        )
            .prop_map(|((id, new_id, a), qty, limit_price, stop_price)| {
                Command::Replace(ReplaceOrder {
                    order_id: OrderId(id),
                    new_order_id: OrderId(new_id),
                    account: AccountId(a),
                    client_order_id: None,
                    qty,
                    limit_price,
                    stop_price,
                })
            }),
        1 => Just(Command::Halt),
        1 => Just(Command::Resume),
        1 => prop_oneof![Just(Command::Delist), rules_strategy().prop_map(Command::List)],
    ]
}

fn steps_strategy() -> impl Strategy<Value = (Vec<InstrumentRules>, Vec<Step>)> {
    (
        prop::collection::vec(rules_strategy(), SYMBOLS.len()),
        prop::collection::vec(
            prop_oneof![
                20 => (0..SYMBOLS.len(), command_strategy(), 0i64..=3).prop_map(|(s, c, dt)| Step::Cmd(s, c, dt)),
                1 => (0i64..=30).prop_map(Step::Punctuate),
            ],
            1..250,
        ),
    )
}

/// Per-symbol bookkeeping derived from the event stream only.
#[derive(Default)]
struct Tracker {
    /// (ordered, filled, canceled) per live-or-finished incarnation of an order id.
    acct: BTreeMap<OrderId, (i64, i64, i64)>,
    /// Active limit of accepted orders.
    limits: BTreeMap<OrderId, Option<i64>>,
    last_trade: Option<i64>,
    compiled: Option<CompiledRules>,
}

fn check_book(b: &Book) {
    let l = &b.ladder;
    if let (Some((bid, _)), Some((ask, _))) = (l.best(Side::Buy), l.best(Side::Sell)) {
        assert!(bid < ask, "crossed book at rest: bid {bid} >= ask {ask}");
    }
    let mut resting = 0;
    for (side, levels) in [(Side::Buy, &l.bids), (Side::Sell, &l.asks)] {
        for (price, level) in levels {
            assert!(!level.queue.is_empty(), "empty level kept");
            let mut sum = 0;
            let mut prev_seq = 0;
            for id in &level.queue {
                let o = &l.orders[id];
                assert!(o.seq > prev_seq, "FIFO broken at level {price}");
                prev_seq = o.seq;
                assert_eq!((o.side, o.limit), (side, Some(*price)));
                assert!(o.leaves > 0 && !o.is_pending_stop());
                sum += o.leaves;
            }
            assert_eq!(sum, level.qty, "level qty");
            resting += level.queue.len();
        }
    }
    assert_eq!(resting + l.buy_stops.len() + l.sell_stops.len(), l.orders.len());
    for (&(close, seq), id) in &l.day_expiry {
        let o = &l.orders[id];
        assert_eq!((o.expires_at, o.seq), (Some(close), seq));
    }
}

fn observe(t: &mut Tracker, cmd: Option<&Command>, events: &[BookEvent], book: Option<&Book>) {
    if let Some(Command::List(r)) = cmd {
        if events.iter().any(|e| matches!(e, BookEvent::Instrument(TradingStatus::Listed))) {
            t.compiled = Some(r.compile().unwrap());
            t.last_trade = None;
        }
    }
    let mut taker: Option<OrderId> = None;
    let mut band: Option<(i64, i64)> = None;
    for e in events {
        match e {
            BookEvent::Order(u) if u.status == OrderStatus::New => {
                let prev = t.acct.insert(u.order_id, (u.order_qty, 0, 0));
                if let Some((o, f, c)) = prev {
                    assert_eq!(o, f + c, "id {:?} reused while live", u.order_id);
                }
                let limit = match (cmd, u.detail) {
                    (Some(Command::NewOrder(n)), _) if n.order_type.has_limit() => n.limit_price,
                    (Some(Command::Replace(r)), StatusDetail::Replaces(old)) => {
                        r.limit_price.or(t.limits.get(&old).copied().flatten())
                    }
                    _ => None,
                };
                t.limits.insert(u.order_id, limit);
            }
            BookEvent::Order(u) => {
                if let Some(a) = t.acct.get_mut(&u.order_id) {
                    a.2 += u.canceled_qty;
                }
            }
            BookEvent::Execution(x) => {
                t.acct.get_mut(&x.order_id).expect("fill of an unknown order").1 += x.fill_qty;
                if let Some(Some(l)) = t.limits.get(&x.order_id) {
                    match x.side {
                        Side::Buy => assert!(x.fill_price <= *l, "buy filled above its limit"),
                        Side::Sell => assert!(x.fill_price >= *l, "sell filled below its limit"),
                    }
                }
                if x.liquidity == Liquidity::Taker && taker != Some(x.order_id) {
                    taker = Some(x.order_id);
                    let c = t.compiled.expect("listed");
                    band = c.band(t.last_trade.or(c.reference_ticks));
                }
            }
            BookEvent::Trade(tr) => {
                if let Some((lo, hi)) = band {
                    assert!(lo <= tr.price && tr.price <= hi, "fill {} outside band {lo}..={hi}", tr.price);
                }
                t.last_trade = Some(tr.price);
            }
            _ => {}
        }
    }
    for (id, (ordered, filled, canceled)) in &t.acct {
        let open = book.and_then(|b| b.order(*id)).map_or(0, |o| o.leaves_qty);
        assert_eq!(filled + open + canceled, *ordered, "accounting for {id:?}");
    }
}

fn run(rules: Vec<InstrumentRules>, steps: Vec<Step>) -> Vec<MatchingOutput> {
    let calendar = SessionCalendar::periodic(Timestamp(50), 50, 100);
    let op = MatchingOperator::new(MatchingConfig {
        book: BookConfig { calendar: calendar.clone() },
        depth_levels: DEPTH,
        expiry_every_ns: Some(50),
    });
    let mut real: BTreeMap<String, Option<Book>> = BTreeMap::new();
    let mut refs: BTreeMap<String, Option<RefBook>> = BTreeMap::new();
    let mut trackers: BTreeMap<String, Tracker> = BTreeMap::new();
    let mut all = Vec::new();
    let mut time = 0i64;
    let listing = rules.into_iter().enumerate().map(|(i, r)| Step::Cmd(i, Command::List(r), 0));
    for step in listing.chain(steps) {
        match step {
            Step::Cmd(s, cmd, dt) => {
                time += dt;
                let sym = SYMBOLS[s].to_string();
                let mut out = Vec::new();
                let state = real.entry(sym.clone()).or_default();
                op.process(&sym, state, cmd.clone(), Timestamp(time), &mut out);
                let got: Vec<BookEvent> = out.iter().map(|o| o.event.clone()).collect();
                assert!(out.iter().all(|o| o.symbol == sym && o.time == Timestamp(time)));
                let rstate = refs.entry(sym.clone()).or_default();
                let mut want = Vec::new();
                match (rstate.as_mut(), &cmd) {
                    (Some(b), _) => b.process(cmd.clone(), Timestamp(time), &mut want),
                    (None, Command::List(r)) => match RefBook::new(r, calendar.clone()) {
                        Some(b) => {
                            want.push(BookEvent::Instrument(TradingStatus::Listed));
                            *rstate = Some(b);
                        }
                        None => reject_unlisted(&cmd, &mut want),
                    },
                    (None, _) => reject_unlisted(&cmd, &mut want),
                }
                if let Some(b) = rstate.as_ref() {
                    want.push(BookEvent::Depth(b.depth(DEPTH)));
                }
                assert_eq!(got, want, "command {cmd:?} at t={time}");
                let book = real[&sym].as_ref();
                book.inspect(|b| check_book(b));
                observe(trackers.entry(sym).or_default(), Some(&cmd), &got, book);
                all.extend(out);
            }
            Step::Punctuate(dt) => {
                time += dt;
                for (sym, state) in real.iter_mut() {
                    let mut out = Vec::new();
                    op.punctuate(sym, state, Timestamp(time), PunctuationKind::StreamTime, &mut out);
                    let got: Vec<BookEvent> = out.iter().map(|o| o.event.clone()).collect();
                    let mut want = Vec::new();
                    if let Some(b) = refs.get_mut(sym).and_then(|r| r.as_mut()) {
                        b.expire(Timestamp(time), &mut want);
                        if !want.is_empty() {
                            want.push(BookEvent::Depth(b.depth(DEPTH)));
                        }
                    }
                    assert_eq!(got, want, "punctuation at t={time}");
                    state.as_ref().inspect(|b| check_book(b));
                    observe(trackers.entry(sym.clone()).or_default(), None, &got, state.as_ref());
                    all.extend(out);
                }
            }
        }
    }
    all
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn book_matches_reference_and_keeps_invariants((rules, steps) in steps_strategy()) {
        let first = run(rules.clone(), steps.clone());
        let second = run(rules, steps);
        prop_assert_eq!(first, second, "replay must reproduce every event");
    }
}

/// The generator must reach every feature, or the property above proves little.
#[test]
fn generator_covers_every_feature() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for _ in 0..300 {
        let (rules, steps) = steps_strategy().new_tree(&mut runner).unwrap().current();
        let stops: std::collections::BTreeSet<(usize, OrderId)> = steps
            .iter()
            .filter_map(|s| match s {
                Step::Cmd(i, Command::NewOrder(n), _) if n.order_type.has_stop() => Some((*i, n.order_id)),
                _ => None,
            })
            .collect();
        for o in run(rules, steps) {
            if let BookEvent::Execution(x) = &o.event {
                let sym = SYMBOLS.iter().position(|s| *s == o.symbol).unwrap();
                if x.liquidity == Liquidity::Taker && stops.contains(&(sym, x.order_id)) {
                    *seen.entry("stop-taker".into()).or_default() += 1;
                }
            }
            let key = match o.event {
                BookEvent::Order(u) => format!("{:?}/{:?}", u.status, u.detail),
                BookEvent::Execution(x) => format!("exec/{:?}/{:?}", x.liquidity, x.status),
                BookEvent::RequestRejected(r) => format!("req/{:?}/{:?}", r.kind, r.reason),
                BookEvent::Instrument(s) => format!("instrument/{s:?}"),
                BookEvent::Trade(_) => "trade".into(),
                BookEvent::Depth(_) => "depth".into(),
            };
            let key = key.split("(OrderId").next().unwrap().to_string();
            *seen.entry(key).or_default() += 1;
        }
    }
    let must = [
        "New/None", "New/Replaces", "Replaced/ReplacedBy", "Expired/None", "stop-taker",
        "exec/Maker/PartiallyFilled", "exec/Taker/Filled",
        "Canceled/Canceled(UserRequested)", "Canceled/Canceled(ImmediateOrCancel)",
        "Canceled/Canceled(FillOrKill)", "Canceled/Canceled(NoLiquidity)",
        "Canceled/Canceled(PriceBand)", "Canceled/Canceled(SelfTradePrevention)",
        "Canceled/Canceled(Delisted)", "Rejected/Rejected(UnsupportedTimeInForce)",
        "Rejected/Rejected(OutsidePriceBand)", "Rejected/Rejected(InstrumentHalted)",
        "Rejected/Rejected(MaxNotionalExceeded)", "Rejected/Rejected(BelowMinimumQuantity)",
        "Rejected/Rejected(DuplicateOrderId)", "req/Cancel/OrderNotFound", "req/Replace/AccountMismatch",
        "instrument/Halted", "instrument/Delisted", "trade",
    ];
    let missing: Vec<&str> = must.iter().copied().filter(|m| !seen.keys().any(|k| k.starts_with(m))).collect();
    assert!(missing.is_empty(), "generator never produced {missing:?}; saw {seen:#?}");
}
