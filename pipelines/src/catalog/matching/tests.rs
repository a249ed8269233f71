use super::*;
use operators::Operator;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use schemas::codec::ALL_SCHEMAS;
use schemas::records::{CancelOrder, HaltInstrument, ListInstrument, PlaceOrder, ReplaceOrder};
use std::str::FromStr;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn codec() -> Codec {
    let mut c = Codec::new();
    for (i, (name, _)) in ALL_SCHEMAS.iter().enumerate() {
        c.set_writer_id_named(name, i as u32 + 1).unwrap();
    }
    c
}

fn uuid(n: u128) -> String {
    format_uuid(0x6f1c_1d52_0000_4000_8000_0000_0000_0000 | n)
}

fn place(id: u128, acct: u128, side: Side, ty: OrderType, t: TimeInForce, qty: &str, limit: Option<&str>) -> RoutedOrder {
    RoutedOrder {
        command_id: format!("c{id}"),
        account_id: uuid(acct),
        symbol: "AAPL".into(),
        routed_at_ns: 1_000 + id as i64,
        body: OrderInstruction::PlaceOrder(PlaceOrder {
            order_id: uuid(id),
            client_order_id: None,
            symbol: "AAPL".into(),
            side,
            order_type: ty,
            time_in_force: t,
            qty: Some(d(qty)),
            notional: None,
            limit_price: limit.map(d),
            stop_price: None,
            instrument: None,
            reference_price: None,
            extended_hours: false,
        }),
        protection_price: None,
    }
}

fn list() -> InstrumentCommand {
    InstrumentCommand {
        command_id: "l".into(),
        symbol: "AAPL".into(),
        issued_at_ns: 5,
        body: InstrumentInstruction::ListInstrument(ListInstrument {
            name: "Apple".into(),
            tick_size: d("0.01"),
            lot_size: d("0.001"),
            min_qty: d("0.001"),
            max_order_notional: None,
            self_trade_prevention: SelfTradePrevention::CancelNewest,
            price_band_pct: Some(d("12.5")),
        }),
    }
}

#[test]
fn uuids_map_bijectively_and_only_canonical_text_is_accepted() {
    for v in [0u128, 1, u128::MAX, 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210] {
        let s = format_uuid(v);
        assert_eq!(s.len(), 36);
        assert_eq!(parse_uuid(&s), Some(v));
    }
    let s = "6f1c1d52-9a3b-4c4d-8e5f-0123456789ab";
    assert_eq!(format_uuid(parse_uuid(s).unwrap()), s);
    for bad in [
        "6F1C1D52-9A3B-4C4D-8E5F-0123456789AB",
        "{6f1c1d52-9a3b-4c4d-8e5f-0123456789ab}",
        "6f1c1d529a3b4c4d8e5f0123456789ab",
        "6f1c1d52-9a3b-4c4d-8e5f-0123456789a",
        "6f1c1d52-9a3b-4c4d-8e5f_0123456789ab",
        "6f1c1d52-9a3b-4c4d-8e5f-0123456789ag",
        "urn:uuid:6f1c1d52-9a3b-4c4d-8e5f-01234567",
        "",
    ] {
        assert_eq!(parse_uuid(bad), None, "{bad}");
    }
}

#[test]
fn decode_maps_ids_and_dead_letters_what_cannot_be_mapped() {
    let c = codec();
    let m = Matching::with_prefix("t.");
    let ok = m.decode(&c, "t.orders.routed", &c.encode(&place(1, 2, Side::Buy, OrderType::Limit, TimeInForce::Gtc, "1", Some("10"))).unwrap()).unwrap();
    assert_eq!(ok.at_ns, 1_001);
    assert!(matches!(ok.command, VenueCommand::Place { order_id, account, .. } if order_id == OrderId(parse_uuid(&uuid(1)).unwrap()) && account == AccountId(parse_uuid(&uuid(2)).unwrap())));
    let invalid = |r: RoutedOrder| matches!(m.decode(&c, "t.orders.routed", &c.encode(&r).unwrap()), Err(DecodeFailure::Invalid(_)));
    let mut r = place(1, 2, Side::Buy, OrderType::Limit, TimeInForce::Gtc, "1", Some("10"));
    r.account_id = "acct-7".into();
    assert!(invalid(r));
    let mut r = place(1, 2, Side::Buy, OrderType::Limit, TimeInForce::Gtc, "1", Some("10"));
    if let OrderInstruction::PlaceOrder(p) = &mut r.body {
        p.order_id = p.order_id.to_uppercase();
    }
    assert!(invalid(r));
    let mut r = place(1, 2, Side::Buy, OrderType::Limit, TimeInForce::Gtc, "1", Some("10"));
    if let OrderInstruction::PlaceOrder(p) = &mut r.body {
        p.notional = Some(d("100"));
    }
    assert!(invalid(r));
    let mut r = place(1, 2, Side::Buy, OrderType::Limit, TimeInForce::Gtc, "1", Some("10"));
    r.symbol = "MSFT".into();
    assert!(invalid(r));
    let mut r = place(1, 2, Side::Buy, OrderType::Limit, TimeInForce::Gtc, "1", Some("10"));
    r.body = OrderInstruction::CancelOrder(CancelOrder { order_id: "x".into() });
    assert!(invalid(r));
    // Unknown topic.
    assert!(matches!(m.decode(&c, "t.other", &[0]), Err(DecodeFailure::Invalid(_))));
    // Band: 12.5% = 1250 bps; 0.005% is not a whole basis point.
    let l = m.decode(&c, "t.instruments.commands", &c.encode(&list()).unwrap()).unwrap();
    assert!(matches!(&l.command, VenueCommand::List(r) if r.band_bps == Some(1250) && r.stp == StpMode::CancelNewest));
    let mut bad = list();
    if let InstrumentInstruction::ListInstrument(x) = &mut bad.body {
        x.price_band_pct = Some(d("0.005"));
    }
    assert!(matches!(m.decode(&c, "t.instruments.commands", &c.encode(&bad).unwrap()), Err(DecodeFailure::Invalid(_))));
    let halt = InstrumentCommand { body: InstrumentInstruction::HaltInstrument(HaltInstrument { reason: "news".into() }), ..list() };
    assert_eq!(m.decode(&c, "t.instruments.commands", &c.encode(&halt).unwrap()).unwrap().command, VenueCommand::Halt);
}

#[test]
fn protection_price_caps_market_and_stop_buys() {
    let mut r = place(1, 2, Side::Buy, OrderType::Market, TimeInForce::Day, "1", None);
    r.protection_price = Some(d("10.5"));
    let VenueCommand::Place { order_type, tif, limit_price, .. } = venue_command(r).unwrap() else { panic!() };
    assert_eq!((order_type, tif, limit_price), (EngType::Limit, EngTif::Ioc, Some(d("10.5"))));
    let mut r = place(1, 2, Side::Buy, OrderType::Market, TimeInForce::Fok, "1", None);
    r.protection_price = Some(d("10.5"));
    let VenueCommand::Place { tif, .. } = venue_command(r).unwrap() else { panic!() };
    assert_eq!(tif, EngTif::Fok);
    let mut r = place(1, 2, Side::Sell, OrderType::Market, TimeInForce::Day, "1", None);
    r.protection_price = Some(d("10.5"));
    let VenueCommand::Place { order_type, limit_price, .. } = venue_command(r).unwrap() else { panic!() };
    assert_eq!((order_type, limit_price), (EngType::Market, None));
}

/// Off-tick prices become machine-readable rejects on `orders.events`, keyed by account.
#[test]
fn off_tick_orders_are_rejected_on_the_wire() {
    let c = codec();
    let m = Matching::with_prefix("t.");
    let op = m.operator();
    let mut st = None;
    let mut out = Vec::new();
    for (topic, bytes) in [
        ("t.instruments.commands", c.encode(&list()).unwrap()),
        ("t.orders.routed", c.encode(&place(1, 2, Side::Buy, OrderType::Limit, TimeInForce::Gtc, "1", Some("10.001"))).unwrap()),
    ] {
        let input = m.decode(&c, topic, &bytes).unwrap();
        let t = m.event_time(&input, None);
        op.process(&"AAPL".to_string(), &mut st, input, t, &mut out);
    }
    let recs: Vec<OutRecord> = out.iter().map(|o| m.encode(&c, o).unwrap()).collect();
    assert_eq!(recs.iter().map(|r| r.topic).collect::<Vec<_>>(), vec!["t.book.depth", "t.orders.events"]);
    assert_eq!(recs[1].key, uuid(2));
    let e: OrderEvent = c.decode(&recs[1].value).unwrap();
    assert_eq!((e.status, e.reason, e.message.as_deref()), (OrderStatus::Rejected, Some(OrderReason::TickSize), Some("off_tick")));
    assert_eq!((e.event_id.as_str(), e.order_id, e.at_ns, e.origin), ("AAPL.o1", uuid(1), 1_001, Some(OrderEventOrigin::Venue)));
    let b: BookSnapshot = c.decode(&recs[0].value).unwrap();
    assert_eq!((b.status, b.seq, b.as_of_ns), (InstrumentStatus::Listed, 1, 5));
}

/// Fills reach `orders.events` too: each execution record is followed, on the same key
/// (account), by the order's PARTIALLY_FILLED / FILLED venue event carrying that execution
/// (`fill_id` = `exec_id`, no settlement date), which is what the accounts pipeline books.
#[test]
fn fill_events_carry_their_execution() {
    let c = codec();
    let m = Matching::with_prefix("t.");
    let op = m.operator();
    let mut st = None;
    let mut out = Vec::new();
    for (topic, bytes) in [
        ("t.instruments.commands", c.encode(&list()).unwrap()),
        ("t.orders.routed", c.encode(&place(1, 2, Side::Sell, OrderType::Limit, TimeInForce::Gtc, "1", Some("10.00"))).unwrap()),
        ("t.orders.routed", c.encode(&place(2, 3, Side::Buy, OrderType::Limit, TimeInForce::Ioc, "1.5", Some("10.01"))).unwrap()),
    ] {
        let input = m.decode(&c, topic, &bytes).unwrap();
        let t = m.event_time(&input, None);
        op.process(&"AAPL".to_string(), &mut st, input, t, &mut out);
    }
    let recs: Vec<OutRecord> = out.iter().map(|o| m.encode(&c, o).unwrap()).collect();
    let mut checked = 0;
    for (i, r) in recs.iter().enumerate().filter(|(_, r)| r.topic == "t.executions") {
        let x: ExecutionReport = c.decode(&r.value).unwrap();
        let next = &recs[i + 1];
        assert_eq!((next.topic, &next.key), ("t.orders.events", &r.key));
        let e: OrderEvent = c.decode(&next.value).unwrap();
        let want = OrderFill { fill_id: x.exec_id.clone(), qty: x.last_qty, price: x.last_price, fee: Decimal::ZERO, settlement_date: None };
        assert_eq!((e.order_id, e.origin, e.fill), (x.order_id, Some(OrderEventOrigin::Venue), Some(want)));
        assert_eq!(e.status, if x.leaves_qty.is_zero() { OrderStatus::Filled } else { OrderStatus::PartiallyFilled });
        checked += 1;
    }
    assert_eq!(checked, 2, "maker and taker executions");
    // Every other order event has no fill; the taker's IOC rest is canceled after its fill.
    let events: Vec<OrderEvent> = recs.iter().filter(|r| r.topic == "t.orders.events").map(|r| c.decode(&r.value).unwrap()).collect();
    for e in &events {
        assert_eq!(e.fill.is_some(), matches!(e.status, OrderStatus::PartiallyFilled | OrderStatus::Filled), "{e:?}");
    }
    let taker: Vec<OrderStatus> = events.iter().filter(|e| e.order_id == uuid(2)).map(|e| e.status).collect();
    assert_eq!(taker, vec![OrderStatus::New, OrderStatus::PartiallyFilled, OrderStatus::Canceled]);
}

/// Random order flow: after every command the state survives the changelog encoding
/// (`decode_state(encode_state(s)) == s`), and the outputs all encode.
#[test]
fn state_survives_the_changelog_codec() {
    let c = codec();
    let m = Matching::with_prefix("");
    let op = m.operator();
    let key = "AAPL".to_string();
    let mut rng = StdRng::seed_from_u64(3);
    let mut st = None;
    let mut out = Vec::new();
    let input = m.decode(&c, "instruments.commands", &c.encode(&list()).unwrap()).unwrap();
    op.process(&key, &mut st, input, Timestamp(5), &mut out);
    let mut ids: Vec<(u128, u128)> = Vec::new();
    let mut max_bytes = 0;
    for n in 10..3000u128 {
        let acct = rng.random_range(1..6u128);
        let r = match rng.random_range(0..10) {
            0..=5 => {
                let side = if rng.random_bool(0.5) { Side::Buy } else { Side::Sell };
                let ty = if rng.random_bool(0.8) { OrderType::Limit } else { OrderType::Market };
                let t = [TimeInForce::Gtc, TimeInForce::Ioc, TimeInForce::Fok][rng.random_range(0..3)];
                // Buys mostly below 10.00, sells mostly above: a deep book with some crossing.
                let px = if side == Side::Buy { rng.random_range(980..1_002) } else { rng.random_range(998..1_020) };
                let px = Decimal::new(px, 2).to_string();
                let qty = Decimal::new(rng.random_range(1..3_000), 3).to_string();
                ids.push((n, acct));
                place(n, acct, side, ty, t, &qty, (ty == OrderType::Limit).then_some(px.as_str()))
            }
            6..=7 if !ids.is_empty() => {
                let (id, a) = ids[rng.random_range(0..ids.len())];
                RoutedOrder { body: OrderInstruction::CancelOrder(CancelOrder { order_id: uuid(id) }), ..place(n, a, Side::Buy, OrderType::Market, TimeInForce::Day, "1", None) }
            }
            _ if !ids.is_empty() => {
                let i = rng.random_range(0..ids.len());
                let (id, a) = ids[i];
                ids[i] = (n, a);
                RoutedOrder {
                    body: OrderInstruction::ReplaceOrder(ReplaceOrder {
                        order_id: uuid(id),
                        new_order_id: uuid(n),
                        qty: Some(Decimal::new(rng.random_range(1..3_000), 3)),
                        limit_price: Some(Decimal::new(rng.random_range(995..1_005), 2)),
                        stop_price: None,
                        time_in_force: None,
                        client_order_id: Some(format!("r{n}")),
                        symbol: Some("AAPL".into()),
                        instrument: None,
                        reference_price: None,
                    }),
                    ..place(n, a, Side::Buy, OrderType::Market, TimeInForce::Day, "1", None)
                }
            }
            _ => continue,
        };
        let input = m.decode(&c, "orders.routed", &c.encode(&r).unwrap()).unwrap();
        let t = m.event_time(&input, None);
        op.process(&key, &mut st, input, t, &mut out);
        for o in out.drain(..) {
            m.encode(&c, &o).unwrap();
        }
        let s = st.as_ref().unwrap();
        let bytes = m.encode_state(&c, s).unwrap();
        max_bytes = max_bytes.max(bytes.len());
        let back = m.decode_state(&c, &bytes).unwrap();
        assert_eq!(&back, s, "after command {n}");
    }
    let s = st.as_ref().unwrap();
    let live = s.book.as_ref().unwrap().open_orders();
    assert!(live > 20 && !s.fill_notional.is_empty(), "the flow should leave a deep book with partial fills ({live})");
    eprintln!("state: {live} live orders, {} bytes now, {max_bytes} bytes max", m.encode_state(&c, s).unwrap().len());
}
