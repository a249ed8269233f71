//! Binding tests: decode -> operator -> encode, refusals, rounding, changelog round trip.

use super::*;
use std::str::FromStr;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn codec() -> Codec {
    let mut c = Codec::new();
    for (i, (name, _)) in schemas::codec::ALL_SCHEMAS.iter().enumerate() {
        c.set_writer_id_named(name, i as u32 + 1).unwrap();
    }
    c
}

fn report(exec_id: &str, account: &str, side: w::Side, qty: &str, price: &str, fee: &str, at_ns: i64) -> w::ExecutionReport {
    w::ExecutionReport {
        exec_id: exec_id.into(),
        trade_id: format!("t-{exec_id}"),
        account_id: account.into(),
        order_id: "o".into(),
        client_order_id: None,
        symbol: "AAPL".into(),
        side,
        last_qty: d(qty),
        last_price: d(price),
        cum_qty: d(qty),
        leaves_qty: d("0"),
        avg_price: d(price),
        fee: d(fee),
        liquidity: w::Liquidity::Taker,
        at_ns,
    }
}

/// Feeds one record for key `a1`; checks the changelog round trip; returns the encoded outputs.
fn feed(p: &Portfolio, c: &Codec, st: &mut Option<AccountState>, r: &w::ExecutionReport) -> Vec<OutRecord> {
    let bytes = c.encode(r).unwrap();
    let input = p.decode(c, p.topics().executions, &bytes).unwrap();
    let time = p.event_time(&input, None);
    let mut out = Vec::new();
    p.operator().process(&"a1".to_string(), st, input, time, &mut out);
    if let Some(s) = st.as_ref() {
        assert_eq!(&p.decode_state(c, &p.encode_state(c, s).unwrap()).unwrap(), s);
    }
    out.iter().map(|o| p.encode(c, o).unwrap()).collect()
}

const T0: i64 = 1_704_902_400_000_000_000; // 2024-01-10 16:00 UTC

#[test]
fn fills_become_gains_and_snapshots_and_state_round_trips() {
    let p = Portfolio::with_prefix("t.");
    let c = codec();
    let t = *p.topics();
    let mut st = None;
    // Buy 3 with a fee of 0.01: closing 1 of 3 allocates 0.0033333333 (10 places).
    let out = feed(&p, &c, &mut st, &report("x1", "a1", w::Side::Buy, "3", "100", "0.01", T0));
    let topics: Vec<_> = out.iter().map(|r| (r.topic, r.key.as_str())).collect();
    assert_eq!(topics, vec![(t.positions, "a1|AAPL"), (t.portfolios, "a1")]);
    let out = feed(&p, &c, &mut st, &report("x2", "a1", w::Side::Sell, "1", "110", "0", T0 + 1));
    let topics: Vec<_> = out.iter().map(|r| (r.topic, r.key.as_str())).collect();
    assert_eq!(topics, vec![(t.gains, "a1"), (t.positions, "a1|AAPL"), (t.portfolios, "a1")]);
    let g: w::RealizedGain = c.decode(&out[0].value).unwrap();
    assert_eq!((g.fill_id.as_str(), g.qty, g.proceeds), ("x2", d("1"), d("110")));
    // Exact cost 100.0033333333 -> published rounded to 8 places.
    assert_eq!(g.cost_basis, d("100.00333333"));
    assert_eq!(g.gain, d("9.99666667"));
    assert_eq!(g.disposals.len(), 1);
    assert_eq!((g.disposals[0].lot_id.as_str(), g.disposals[0].term), ("x1", w::HoldingTerm::ShortTerm));
    let pos: w::PositionSnapshot = c.decode(&out[1].value).unwrap();
    assert_eq!((pos.qty, pos.cost_basis), (d("2"), d("200.00666667")));
    assert_eq!(pos.lots.len(), 1);
    assert_eq!((pos.lots[0].qty, pos.lots[0].price, pos.lots[0].acquired_at_ns), (d("2"), d("100"), T0));
    // The exact values survive in the state (and its changelog record).
    let s = st.as_ref().unwrap();
    assert_eq!(s.positions["AAPL"].realized_pnl, d("9.9966666667"));
    let rec = state_record(s);
    assert_eq!(rec.positions[0].lots[0].fee, "0.0066666667");

    // Sell through zero: closes 2, opens a short lot of 1; the flat-then-short position.
    let out = feed(&p, &c, &mut st, &report("x3", "a1", w::Side::Sell, "3", "90", "0", T0 + 2));
    let pos: w::PositionSnapshot = c.decode(&out[1].value).unwrap();
    assert_eq!((pos.qty, pos.cost_basis, pos.avg_cost), (d("-1"), d("-90"), d("90")));
    assert_eq!(pos.lots[0].qty, d("-1"));
    let pf: w::PortfolioSnapshot = c.decode(&out[2].value).unwrap();
    assert_eq!((pf.open_positions, pf.cost_basis, pf.lot_method), (1, d("-90"), w::LotMethod::Fifo));
    // Cover: flat position publishes avg_cost 0 and no lots.
    let out = feed(&p, &c, &mut st, &report("x4", "a1", w::Side::Buy, "1", "95", "0", T0 + 3));
    let pos: w::PositionSnapshot = c.decode(&out[1].value).unwrap();
    assert_eq!((pos.qty, pos.avg_cost, pos.lots.len()), (d("0"), d("0"), 0));
    assert_eq!(pos.realized_pnl, d("9.99666667") + d("-20.00666667") + d("-5"));

    // The same exec id again: nothing.
    assert!(feed(&p, &c, &mut st, &report("x4", "a1", w::Side::Buy, "1", "95", "0", T0 + 3)).is_empty());
}

#[test]
fn refusals_are_dead_letters() {
    let p = Portfolio::default();
    let c = codec();
    // Malformed fills fail decode (the runtime dead-letters them with their offsets).
    let bad = c.encode(&report("x1", "a1", w::Side::Buy, "0", "100", "0", T0)).unwrap();
    assert!(matches!(p.decode(&c, EXECUTIONS, &bad), Err(DecodeFailure::Invalid(_))));
    let fine = c.encode(&report("x1", "a1", w::Side::Buy, "1", "100", "0", T0)).unwrap();
    assert!(matches!(p.decode(&c, "ledger", &fine), Err(DecodeFailure::Invalid(_))));
    // A report for another account under key a1: refused by the operator, dead-lettered
    // in the transaction, and no state is created.
    let mut st = None;
    let other = report("x2", "zz", w::Side::Buy, "1", "100", "0", T0);
    let out = feed(&p, &c, &mut st, &other);
    assert!(st.is_none());
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].topic, out[0].key.as_str()), (schemas::topics::DLQ, "a1"), "keyed by the source record's key");
    let dl: w::DeadLetter = c.decode(&out[0].value).unwrap();
    assert_eq!((dl.error_kind, dl.failed_at_ns, dl.source_topic.as_str()), (w::ErrorKind::Invalid, T0, EXECUTIONS));
    assert_eq!(dl.value.unwrap(), c.encode(&other).unwrap());
}

#[test]
fn exact_state_text_is_validated() {
    let mut r = state_record(&AccountState::new("a1", LotMethod::Lifo));
    assert_eq!(from_state_record(r.clone()).unwrap(), AccountState::new("a1", LotMethod::Lifo));
    r.positions.push(w::PositionState { symbol: "X".into(), realized_pnl: "1.5e3".into(), lots: vec![] });
    assert!(matches!(from_state_record(r), Err(CodecError::Undecodable { .. })));
}

#[test]
fn closed_cost_basis_is_published_and_restored_from_v1_records_only_when_provable() {
    let p = Portfolio::default();
    let c = codec();
    let mut st = None;
    // Buy 3 @ 100, fee 0.01; sell 1 @ 110: closes 100 + 0.0033333333 (exact in the state).
    feed(&p, &c, &mut st, &report("x1", "a1", w::Side::Buy, "3", "100", "0.01", T0));
    let out = feed(&p, &c, &mut st, &report("x2", "a1", w::Side::Sell, "1", "110", "0", T0 + 1));
    let pf: w::PortfolioSnapshot = c.decode(&out[2].value).unwrap();
    assert_eq!(pf.closed_cost_basis, Some(d("100.00333333")));
    let s = st.clone().unwrap();
    assert_eq!(s.closed_cost_basis, Some(d("100.0033333333")));
    let text = state_record(&s).closed_cost_basis.unwrap();
    assert_eq!(Decimal::from_str_exact(&text).unwrap(), d("100.0033333333"), "{text}");
    // A v1 record (no field) of this state: it closed a lot, so the total is unknown.
    let mut v1 = state_record(&s);
    v1.closed_cost_basis = None;
    assert_eq!(from_state_record(v1).unwrap().closed_cost_basis, None);
    // A v1 record of a state that only ever opened lots: provably zero.
    let mut opened = None;
    feed(&p, &c, &mut opened, &report("y1", "a1", w::Side::Buy, "3", "100", "0.01", T0));
    let mut v1 = state_record(opened.as_ref().unwrap());
    v1.closed_cost_basis = None;
    assert_eq!(from_state_record(v1).unwrap().closed_cost_basis, Some(Decimal::ZERO));
}
