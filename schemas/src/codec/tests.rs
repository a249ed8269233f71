//! Round trips of every record through its schema, and poison inputs.

use super::*;
use crate::records::*;
use proptest::prelude::*;
use rust_decimal::Decimal;
use std::str::FromStr;

pub(crate) fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn codec() -> Codec {
    let mut c = Codec::new();
    c.set_writer_id::<OrderCommand>(1);
    c.set_writer_id::<AmountEvent>(2);
    c.set_writer_id::<DeadLetter>(3);
    c
}

pub(crate) fn sample_place() -> OrderCommand {
    OrderCommand {
        command_id: "c-1".into(),
        account_id: "acct-1".into(),
        issued_at_ns: 1_700_000_000_000_000_123,
        body: OrderInstruction::PlaceOrder(PlaceOrder {
            order_id: "o-1".into(),
            client_order_id: Some("my-1".into()),
            symbol: "AAPL".into(),
            side: Side::Buy,
            order_type: OrderType::Limit,
            time_in_force: TimeInForce::Gtc,
            qty: Some(d("1.2345")),
            notional: None,
            limit_price: Some(d("187.25")),
            stop_price: None,
            instrument: Some(InstrumentSnapshot {
                status: InstrumentStatus::Listed,
                tick_size: d("0.01"),
                lot_size: d("0.0001"),
                min_qty: d("0.0001"),
                max_order_notional: None,
            }),
            reference_price: Some(d("187.20")),
            extended_hours: true,
        }),
    }
}

#[test]
fn order_command_round_trip() {
    let c = codec();
    let v = sample_place();
    let bytes = c.encode(&v).unwrap();
    assert_eq!(&bytes[..5], &[0, 0, 0, 0, 1]);
    assert_eq!(c.decode::<OrderCommand>(&bytes).unwrap(), v);
    let cancel = OrderCommand {
        body: OrderInstruction::CancelOrder(CancelOrder { order_id: "o-1".into() }),
        ..v
    };
    assert_eq!(c.decode::<OrderCommand>(&c.encode(&cancel).unwrap()).unwrap(), cancel);
}

#[test]
fn dead_letter_round_trip() {
    let c = codec();
    let v = DeadLetter {
        pipeline: "totals".into(),
        source_topic: "totals.input".into(),
        source_partition: 3,
        source_offset: 42,
        error_kind: ErrorKind::BadMagic,
        error: "wrong magic byte".into(),
        key: Some(b"k".to_vec()),
        value: None,
        value_size: 0,
        failed_at_ns: 5,
    };
    assert_eq!(c.decode::<DeadLetter>(&c.encode(&v).unwrap()).unwrap(), v);
}

#[test]
fn poison_inputs_are_classified() {
    let c = codec();
    let good = c.encode(&AmountEvent { seq: 1, amount: d("2.5"), at_ns: 3 }).unwrap();
    assert!(matches!(c.decode::<AmountEvent>(&[]), Err(CodecError::Wire(WireError::Empty))));
    let mut bad_magic = good.clone();
    bad_magic[0] = 7;
    assert!(matches!(c.decode::<AmountEvent>(&bad_magic), Err(CodecError::Wire(WireError::BadMagic(7)))));
    let mut unknown = good.clone();
    unknown[4] = 99;
    assert_eq!(c.decode::<AmountEvent>(&unknown), Err(CodecError::UnknownSchemaId(99)));
    let truncated = &good[..good.len() - 3];
    assert!(matches!(c.decode::<AmountEvent>(truncated), Err(CodecError::Undecodable { .. })));
    let mut trailing = good.clone();
    trailing.push(0);
    assert_eq!(c.decode::<AmountEvent>(&trailing), Err(CodecError::TrailingBytes(1)));
}

#[test]
fn too_precise_money_is_an_encode_error() {
    let c = codec();
    let v = AmountEvent { seq: 1, amount: d("0.000000001"), at_ns: 0 };
    assert!(matches!(c.encode(&v), Err(CodecError::Encode { .. })));
}

fn arb_decimal() -> impl Strategy<Value = Decimal> {
    (any::<i64>(), 0u32..=8).prop_map(|(m, s)| Decimal::new(m, s))
}

proptest! {
    #[test]
    fn amount_event_round_trip(seq in any::<i64>(), amount in arb_decimal(), at in any::<i64>()) {
        let c = codec();
        let v = AmountEvent { seq, amount, at_ns: at };
        prop_assert_eq!(c.decode::<AmountEvent>(&c.encode(&v).unwrap()).unwrap(), v);
    }

    #[test]
    fn order_command_round_trip_any(qty in proptest::option::of(arb_decimal()), px in proptest::option::of(arb_decimal()),
                                    coid in proptest::option::of("[a-z0-9-]{0,12}"), ext in any::<bool>()) {
        let c = codec();
        let mut v = sample_place();
        if let OrderInstruction::PlaceOrder(p) = &mut v.body {
            p.qty = qty; p.limit_price = px; p.client_order_id = coid; p.extended_hours = ext;
        }
        prop_assert_eq!(c.decode::<OrderCommand>(&c.encode(&v).unwrap()).unwrap(), v);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let c = codec();
        let _ = c.decode::<OrderCommand>(&bytes);
        let _ = c.decode::<AmountEvent>(&bytes);
    }
}
