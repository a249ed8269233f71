use super::*;
use crate::matching::{SessionCalendar, StpMode};
use crate::{PunctuationKind, PunctuationSchedule};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::str::FromStr;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn rules() -> InstrumentRules {
    let mut r = InstrumentRules::new(d("0.01"), d("0.5"));
    r.stp = StpMode::CancelOldest;
    r
}

#[allow(clippy::too_many_arguments)]
fn place(id: u128, acct: u128, side: Side, ty: OrderType, tif: TimeInForce, qty: &str, limit: Option<&str>, stop: Option<&str>) -> VenueCommand {
    VenueCommand::Place {
        order_id: OrderId(id),
        account: AccountId(acct),
        client_order_id: Some(format!("c{id}")),
        side,
        order_type: ty,
        tif,
        qty: Some(d(qty)),
        limit_price: limit.map(d),
        stop_price: stop.map(d),
    }
}

fn run(op: &VenueOperator, st: &mut Option<VenueState>, cmd: VenueCommand, t: i64) -> Vec<VenueEvent> {
    let mut out = Vec::new();
    op.process(&"SYM".to_string(), st, VenueInput { at_ns: t, command: cmd }, Timestamp(t), &mut out);
    assert!(out.iter().all(|o| o.symbol == "SYM" && o.time == Timestamp(t)));
    out.into_iter().map(|o| o.event).collect()
}

fn orders(ev: &[VenueEvent]) -> Vec<&OrderReport> {
    ev.iter().filter_map(|e| if let VenueEvent::Order(o) = e { Some(o) } else { None }).collect()
}

#[test]
fn off_grid_and_unsupported_inputs_are_rejected_with_a_reason() {
    let op = VenueOperator::new(BookConfig::default(), 5);
    let mut st = None;
    // Before listing: unknown instrument.
    let ev = run(&op, &mut st, place(1, 1, Side::Buy, OrderType::Limit, TimeInForce::Gtc, "1", Some("10.00"), None), 1);
    assert_eq!(orders(&ev)[0].reason, Some(VenueReason::Reject(RejectReason::UnknownInstrument)));
    assert!(st.as_ref().unwrap().book.is_none());
    let ev = run(&op, &mut st, VenueCommand::List(rules()), 2);
    assert!(matches!(ev.as_slice(), [VenueEvent::Depth(DepthReport { seq: 2, status: TradingStatus::Listed, .. })]));
    let cases = [
        (place(2, 1, Side::Buy, OrderType::Limit, TimeInForce::Gtc, "1", Some("10.005"), None), VenueReason::OffTick),
        (place(3, 1, Side::Buy, OrderType::Limit, TimeInForce::Gtc, "0.7", Some("10.00"), None), VenueReason::OffLot),
        (place(4, 1, Side::Buy, OrderType::Limit, TimeInForce::Gtc, "1e20", Some("10.00"), None), VenueReason::OutOfRange),
        (
            VenueCommand::Place {
                order_id: OrderId(5),
                account: AccountId(1),
                client_order_id: None,
                side: Side::Buy,
                order_type: OrderType::Market,
                tif: TimeInForce::Day,
                qty: None,
                limit_price: None,
                stop_price: None,
            },
            VenueReason::NotionalUnsupported,
        ),
    ];
    for (i, (cmd, reason)) in cases.into_iter().enumerate() {
        let ev = run(&op, &mut st, cmd, 3 + i as i64);
        let o = orders(&ev);
        assert_eq!(o.len(), 1, "{ev:?}");
        assert_eq!((o[0].status, o[0].reason), (OrderStatus::Rejected, Some(reason)));
        // Nothing changed on the book: no depth report.
        assert_eq!(ev.len(), 1);
    }
    // A replace with an off-tick price or a new TIF rejects the replacement id.
    run(&op, &mut st, place(10, 1, Side::Buy, OrderType::Limit, TimeInForce::Gtc, "1", Some("10.00"), None), 20);
    let rep = |price: &str, tif| VenueCommand::Replace {
        order_id: OrderId(10),
        new_order_id: OrderId(11),
        account: AccountId(1),
        client_order_id: None,
        qty: None,
        limit_price: Some(d(price)),
        stop_price: None,
        tif,
    };
    for (cmd, reason) in [(rep("10.001", None), VenueReason::OffTick), (rep("10.01", Some(TimeInForce::Day)), VenueReason::TifChange)] {
        let ev = run(&op, &mut st, cmd, 21);
        assert_eq!(orders(&ev)[0].order_id, OrderId(11));
        assert_eq!(orders(&ev)[0].reason, Some(reason));
    }
    // A replace the engine refuses (unknown order) is also reported on the replacement id.
    let ev = run(
        &op,
        &mut st,
        VenueCommand::Replace { order_id: OrderId(99), new_order_id: OrderId(12), account: AccountId(1), client_order_id: None, qty: None, limit_price: None, stop_price: None, tif: None },
        22,
    );
    assert_eq!(orders(&ev)[0].order_id, OrderId(12));
    assert_eq!(orders(&ev)[0].reason, Some(VenueReason::Reject(RejectReason::OrderNotFound)));
    // Report numbers have no gaps.
    let seqs: Vec<u64> = orders(&ev).iter().map(|o| o.seq).collect();
    assert_eq!(seqs, vec![st.as_ref().unwrap().last_report]);
}

#[test]
fn fills_carry_average_prices_and_the_tape_carries_both_order_ids() {
    let op = VenueOperator::new(BookConfig::default(), 2);
    let mut st = None;
    run(&op, &mut st, VenueCommand::List(rules()), 1);
    run(&op, &mut st, place(1, 1, Side::Sell, OrderType::Limit, TimeInForce::Gtc, "1", Some("10.00"), None), 2);
    run(&op, &mut st, place(2, 2, Side::Sell, OrderType::Limit, TimeInForce::Gtc, "2", Some("10.03"), None), 3);
    let ev = run(&op, &mut st, place(3, 3, Side::Buy, OrderType::Market, TimeInForce::Ioc, "2.5", None, None), 4);
    let fills: Vec<&FillReport> = ev.iter().filter_map(|e| if let VenueEvent::Fill(f) = e { Some(f) } else { None }).collect();
    let trades: Vec<&TradePrint> = ev.iter().filter_map(|e| if let VenueEvent::Trade(t) = e { Some(t) } else { None }).collect();
    assert_eq!(trades.len(), 2);
    assert_eq!((trades[0].trade_id, trades[1].trade_id), (1, 2));
    assert_eq!((trades[1].buy_order_id, trades[1].sell_order_id), (OrderId(3), OrderId(2)));
    let taker: Vec<_> = fills.iter().filter(|f| f.order_id == OrderId(3)).collect();
    // 1 @ 10.00 + 1.5 @ 10.03 = 25.045 / 2.5 = 10.018
    assert_eq!(taker[1].avg_price, d("10.018"));
    assert_eq!(taker[1].cum_qty, d("2.5"));
    let last = orders(&ev).into_iter().find(|o| o.order_id == OrderId(3) && o.status == OrderStatus::Filled).unwrap();
    assert_eq!(last.avg_fill_price, Some(d("10.018")));
    // The filled taker's tally is gone; the partially filled maker's stays.
    let s = st.as_ref().unwrap();
    assert_eq!(s.fill_notional.keys().copied().collect::<Vec<_>>(), vec![OrderId(2)]);
    // Depth changed (two levels consumed) -> one depth report, last.
    assert!(matches!(ev.last(), Some(VenueEvent::Depth(DepthReport { seq: 4, .. }))));
    // A cancel of an unknown order changes nothing and publishes nothing.
    let ev = run(&op, &mut st, VenueCommand::Cancel { order_id: OrderId(77), account: AccountId(1) }, 5);
    assert!(ev.is_empty(), "{ev:?}");
}

/// Every fill's order report carries that execution and follows it directly; the reports
/// of one order come in book order, so a partial fill's report precedes the cancel of the
/// rest (the accounts pipeline books fills from these reports, see the module doc).
#[test]
fn fill_reports_carry_their_execution_and_precede_the_close() {
    let op = VenueOperator::new(BookConfig::default(), 2);
    let mut st = None;
    run(&op, &mut st, VenueCommand::List(rules()), 1);
    run(&op, &mut st, place(1, 1, Side::Sell, OrderType::Limit, TimeInForce::Gtc, "1", Some("10.00"), None), 2);
    run(&op, &mut st, place(2, 2, Side::Sell, OrderType::Limit, TimeInForce::Gtc, "1", Some("10.03"), None), 3);
    // IOC buy of 3: two fills, then the rest (1) is canceled.
    let mut ev = run(&op, &mut st, place(3, 3, Side::Buy, OrderType::Limit, TimeInForce::Ioc, "3", Some("10.05"), None), 4);
    ev.extend(run(&op, &mut st, VenueCommand::Cancel { order_id: OrderId(1), account: AccountId(1) }, 5));
    for (i, e) in ev.iter().enumerate() {
        if let VenueEvent::Fill(f) = e {
            let Some(VenueEvent::Order(r)) = ev.get(i + 1) else { panic!("fill {} not followed by its report", f.exec_id) };
            let want = ReportFill { exec_id: f.exec_id, qty: f.last_qty, price: f.last_price };
            assert_eq!((r.order_id, r.fill.as_ref()), (f.order_id, Some(&want)));
        }
    }
    for r in orders(&ev) {
        assert_eq!(r.fill.is_some(), matches!(r.status, OrderStatus::PartiallyFilled | OrderStatus::Filled), "{r:?}");
    }
    let taker: Vec<(OrderStatus, Option<u64>)> =
        orders(&ev).into_iter().filter(|o| o.order_id == OrderId(3)).map(|o| (o.status, o.fill.as_ref().map(|f| f.exec_id))).collect();
    assert!(matches!(taker.as_slice(), [.., (OrderStatus::PartiallyFilled, Some(_)), (OrderStatus::PartiallyFilled, Some(_)), (OrderStatus::Canceled, None)]), "{taker:?}");
    let seqs: Vec<u64> = orders(&ev).iter().map(|o| o.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
}

/// Random command streams (every order type and TIF, replaces, cancels, halts, day orders
/// with a calendar); at random points the state goes through its image and back, and the
/// restored copy must equal the original and keep producing identical outputs.
#[test]
fn image_round_trip_preserves_state_and_behaviour() {
    let calendar = SessionCalendar::periodic(Timestamp(5_000), 5_000, 50);
    let op = VenueOperator::new(BookConfig { calendar: calendar.clone() }, 3);
    for seed in 0..12u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut st = None;
        let mut copy = None;
        let mut t = 1;
        run(&op, &mut st, VenueCommand::List(rules()), t);
        let mut next_id = 1u128;
        let mut live: Vec<(u128, u128)> = Vec::new();
        for step in 0..1500 {
            t += rng.random_range(1..40);
            let acct = rng.random_range(1..5u128);
            let cmd = match rng.random_range(0..100) {
                0..=54 => {
                    let side = if rng.random_bool(0.5) { Side::Buy } else { Side::Sell };
                    let ty = [OrderType::Limit, OrderType::Limit, OrderType::Limit, OrderType::Market, OrderType::Stop, OrderType::StopLimit][rng.random_range(0..6)];
                    let tif = [TimeInForce::Gtc, TimeInForce::Day, TimeInForce::Ioc, TimeInForce::Fok][rng.random_range(0..4)];
                    let px = |rng: &mut StdRng| Decimal::new(rng.random_range(990..1010), 2).to_string();
                    let limit = ty.has_limit().then(|| px(&mut rng));
                    let stop = ty.has_stop().then(|| px(&mut rng));
                    let qty = Decimal::new(rng.random_range(1..12) * 5, 1).to_string();
                    next_id += 1;
                    live.push((next_id, acct));
                    place(next_id, acct, side, ty, tif, &qty, limit.as_deref(), stop.as_deref())
                }
                55..=74 if !live.is_empty() => {
                    let (id, a) = live[rng.random_range(0..live.len())];
                    VenueCommand::Cancel { order_id: OrderId(id), account: AccountId(a) }
                }
                75..=94 if !live.is_empty() => {
                    let i = rng.random_range(0..live.len());
                    let (id, a) = live[i];
                    next_id += 1;
                    live[i] = (next_id, a);
                    VenueCommand::Replace {
                        order_id: OrderId(id),
                        new_order_id: OrderId(next_id),
                        account: AccountId(a),
                        client_order_id: None,
                        qty: rng.random_bool(0.5).then(|| Decimal::new(rng.random_range(1..12) * 5, 1)),
                        limit_price: rng.random_bool(0.5).then(|| Decimal::new(rng.random_range(990..1010), 2)),
                        stop_price: None,
                        tif: None,
                    }
                }
                95 => VenueCommand::Halt,
                96 => VenueCommand::Resume,
                _ => place(next_id, acct, Side::Buy, OrderType::Limit, TimeInForce::Gtc, "0.5", Some("9.9"), None),
            };
            let a = run(&op, &mut st, cmd.clone(), t);
            if let Some(c) = copy.as_mut() {
                let b = run(&op, c, cmd, t);
                assert_eq!(a, b, "seed {seed} step {step}: restored copy diverged");
                assert_eq!(c, &st);
            }
            if step % 97 == 0 || rng.random_bool(0.02) {
                let s = st.as_ref().unwrap();
                let image = s.image();
                assert_eq!(s.image(), image, "capture is deterministic");
                let back = VenueState::from_image(image.clone(), BookConfig { calendar: calendar.clone() }).unwrap();
                assert_eq!(&back, s, "seed {seed} step {step}");
                assert_eq!(back.image(), image, "image is canonical");
                copy = Some(Some(back));
            }
        }
        let book = st.as_ref().unwrap().book.as_ref().unwrap();
        assert!(book.open_orders() > 0 || seed > 100, "seed {seed}: the stream should leave live orders");
    }
}

#[test]
fn invalid_images_are_errors_not_panics() {
    let mut b = Book::new(rules(), BookConfig::default()).unwrap();
    let mut ev = Vec::new();
    b.process(
        Command::NewOrder(NewOrder {
            order_id: OrderId(7),
            account: AccountId(1),
            client_order_id: None,
            side: Side::Buy,
            order_type: OrderType::Limit,
            tif: TimeInForce::Gtc,
            qty: 2,
            limit_price: Some(1000),
            stop_price: None,
        }),
        Timestamp(1),
        &mut ev,
    );
    let good = BookImage::capture(&b);
    assert_eq!(good.orders.len(), 1);
    let mut dup = good.clone();
    dup.orders.push(dup.orders[0].clone());
    assert_eq!(dup.restore(BookConfig::default()), Err(ImageError::DuplicateOrder(7)));
    for f in [
        (|o: &mut OrderImage| o.leaves = 0) as fn(&mut OrderImage),
        |o| o.limit = None,
        |o| o.limit = Some(-3),
        |o| {
            o.order_type = OrderType::Stop;
            o.stop = None
        },
    ] {
        let mut bad = good.clone();
        f(&mut bad.orders[0]);
        assert!(matches!(bad.restore(BookConfig::default()), Err(ImageError::BadOrder { id: 7, .. })));
    }
    let mut bad = good.clone();
    bad.rules.tick_size = Decimal::ZERO;
    assert!(matches!(bad.restore(BookConfig::default()), Err(ImageError::Rules(_))));
    assert_eq!(good.restore(BookConfig::default()).unwrap(), b);
}

#[test]
fn replaced_reports_carry_the_replacement_terms() {
    let op = VenueOperator::new(BookConfig::default(), 0);
    let mut st = None;
    run(&op, &mut st, VenueCommand::List(rules()), 1);
    run(&op, &mut st, place(1, 1, Side::Buy, OrderType::Limit, TimeInForce::Gtc, "3", Some("10.00"), None), 2);
    let ev = run(
        &op,
        &mut st,
        VenueCommand::Replace { order_id: OrderId(1), new_order_id: OrderId(2), account: AccountId(1), client_order_id: None, qty: None, limit_price: Some(d("10.01")), stop_price: None, tif: None },
        3,
    );
    let o = orders(&ev);
    assert_eq!((o[0].status, o[0].replaced_by), (OrderStatus::Replaced, Some(OrderId(2))));
    assert_eq!(o[0].replacement, Some(ReplacementTerms { qty: d("3"), limit_price: Some(d("10.01")), stop_price: None }));
    assert_eq!((o[1].status, o[1].replaces, o[1].replacement.clone()), (OrderStatus::New, Some(OrderId(1)), None));
}

/// ns of `date` at `hh:mm` UTC.
fn utc(date: &str, hh: i64, mm: i64) -> i64 {
    let days = date.parse::<crate::matching::Date>().unwrap().days();
    ((days * 24 + hh) * 60 + mm) * 60_000_000_000
}

fn punctuate(op: &VenueOperator, st: &mut Option<VenueState>, t: i64) -> Vec<VenueEvent> {
    let mut out = Vec::new();
    op.punctuate(&"SYM".to_string(), st, Timestamp(t), PunctuationKind::StreamTime, &mut out);
    assert!(out.iter().all(|o| o.symbol == "SYM" && o.time == Timestamp(t)));
    out.into_iter().map(|o| o.event).collect()
}

#[test]
fn day_orders_expire_by_stream_time_punctuation_without_another_command() {
    use crate::matching::CalendarRules;
    let key = "SYM".to_string();
    assert_eq!(VenueOperator::new(BookConfig::default(), 3).punctuation().stream_time_every_ns, None);
    let op = VenueOperator::new(BookConfig { calendar: CalendarRules::us_equities().compile().unwrap() }, 3);
    assert_eq!(op.punctuation(), PunctuationSchedule { stream_time_every_ns: Some(EXPIRY_PUNCTUATION_NS), wall_clock_every_ns: None });
    // Friday 6 March 2026 closes at 16:00 EST = 21:00 UTC; Monday 9 March at 16:00 EDT = 20:00 UTC.
    let (fri, mon) = (utc("2026-03-06", 21, 0), utc("2026-03-09", 20, 0));
    assert_eq!(fri % EXPIRY_PUNCTUATION_NS, 0, "closes fall on punctuation boundaries");
    let mut st = None;
    run(&op, &mut st, VenueCommand::List(rules()), fri - 3_600_000_000_000);
    run(&op, &mut st, place(1, 1, Side::Buy, OrderType::Limit, TimeInForce::Day, "2", Some("10.00"), None), fri - 300);
    run(&op, &mut st, place(2, 2, Side::Buy, OrderType::Limit, TimeInForce::Gtc, "1", Some("9.99"), None), fri - 200);
    // Partially fills order 1 (1 of 2 at 10.00).
    let ev = run(&op, &mut st, place(3, 3, Side::Sell, OrderType::Limit, TimeInForce::Ioc, "1", Some("10.00"), None), fri - 150);
    assert_eq!(orders(&ev).iter().filter(|o| o.order_id == OrderId(1)).count(), 1);
    run(&op, &mut st, place(4, 4, Side::Sell, OrderType::Limit, TimeInForce::Day, "1", Some("10.05"), None), fri - 100);
    let before = st.clone();

    // Not due before the close, and never by wall clock.
    assert!(!op.punctuation_due(&key, st.as_ref(), Timestamp(fri - 1), PunctuationKind::StreamTime));
    assert!(!op.punctuation_due(&key, st.as_ref(), Timestamp(fri), PunctuationKind::WallClock));
    assert!(punctuate(&op, &mut st, fri - 1).is_empty());
    let mut out = Vec::new();
    op.punctuate(&key, &mut st, Timestamp(fri + 1), PunctuationKind::WallClock, &mut out);
    assert!(out.is_empty());
    assert_eq!(st, before, "a punctuation with nothing due changes nothing");

    // At the close: both day orders expire (close, then entry order), then one depth report.
    assert!(op.punctuation_due(&key, st.as_ref(), Timestamp(fri), PunctuationKind::StreamTime));
    let commands = st.as_ref().unwrap().commands;
    let last_report = st.as_ref().unwrap().last_report;
    let ev = punctuate(&op, &mut st, fri);
    let o = orders(&ev);
    assert_eq!(o.iter().map(|o| (o.order_id, o.status)).collect::<Vec<_>>(), vec![(OrderId(1), OrderStatus::Expired), (OrderId(4), OrderStatus::Expired)]);
    assert_eq!(o.iter().map(|o| o.seq).collect::<Vec<_>>(), vec![last_report + 1, last_report + 2]);
    assert_eq!((o[0].filled_qty, o[0].leaves_qty, o[0].avg_fill_price), (d("1"), d("0"), Some(d("10"))));
    let s = st.as_ref().unwrap();
    assert_eq!(s.commands, commands + 1, "an expiry punctuation is a step of the symbol");
    assert!(s.fill_notional.is_empty(), "tallies end with the order");
    match ev.last() {
        Some(VenueEvent::Depth(dr)) => {
            assert_eq!(dr.seq, commands + 1);
            assert_eq!(dr.bids, vec![LevelReport { price: d("9.99"), qty: d("1"), orders: 1 }]);
            assert!(dr.asks.is_empty());
        }
        other => panic!("expected depth last, got {other:?}"),
    }
    assert_eq!(ev.len(), 3);
    // Done: no longer due.
    assert!(!op.punctuation_due(&key, st.as_ref(), Timestamp(fri + 1), PunctuationKind::StreamTime));
    assert!(punctuate(&op, &mut st, fri + EXPIRY_PUNCTUATION_NS).is_empty());

    // A day order entered after Friday's close belongs to Monday's session (after the DST
    // change): it survives the weekend and expires at Monday's 20:00 UTC close.
    run(&op, &mut st, place(5, 1, Side::Sell, OrderType::Limit, TimeInForce::Day, "1", Some("10.10"), None), fri + 10);
    assert!(punctuate(&op, &mut st, mon - 1).is_empty());
    let ev = punctuate(&op, &mut st, mon);
    assert_eq!(orders(&ev).iter().map(|o| (o.order_id, o.status)).collect::<Vec<_>>(), vec![(OrderId(5), OrderStatus::Expired)]);

    // The lazy path still holds when punctuation has not fired: the next command expires
    // first, then runs (so the day order cannot trade after its close).
    run(&op, &mut st, place(6, 1, Side::Sell, OrderType::Limit, TimeInForce::Day, "1", Some("10.20"), None), mon + 10);
    let tue = utc("2026-03-10", 20, 0);
    let ev = run(&op, &mut st, place(7, 2, Side::Buy, OrderType::Limit, TimeInForce::Gtc, "1", Some("10.20"), None), tue);
    let o = orders(&ev);
    assert_eq!((o[0].order_id, o[0].status), (OrderId(6), OrderStatus::Expired));
    assert!(ev.iter().all(|e| !matches!(e, VenueEvent::Fill(_))));
}
