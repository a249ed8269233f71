//! ClickHouse rows, one struct per raw table of `migrations/001_event_tables.sql`, and the
//! mapping from the Avro records.
//!
//! Field order is column order: the sink inserts `RowBinary` without server-side schema
//! validation (ClickHouse 18.16 has no `RowBinaryWithNamesAndTypes`), so a struct and its
//! table must agree; the integration test round-trips every table. Columns with a DEFAULT
//! (`at`, `ingested_at`) are not sent. Decimals are sent as the `i128` mantissa at scale 8
//! (RowBinary `Decimal128`); Avro enums as their UPPER_CASE symbol.

use rust_decimal::Decimal;
use schemas::records::{DeadLetter, ExecutionReport, FundingEvent, LedgerEntry, OrderEvent, Trade};
use serde::Serialize;
use std::sync::Arc;

/// Scale of every decimal column.
pub const SCALE: u32 = 8;

/// Why a record could not become rows.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum RowError {
    #[error("decimal {0} has more than {SCALE} fractional digits")]
    Scale(Decimal),
    #[error("ledger entry with {0} postings")]
    TooManyPostings(usize),
}

/// `d` as the mantissa of a Decimal(_, 8). Never rounds.
pub fn dec(d: Decimal) -> Result<i128, RowError> {
    if d.scale() > SCALE {
        let n = d.normalize();
        if n.scale() > SCALE {
            return Err(RowError::Scale(d));
        }
        return dec(n);
    }
    Ok(d.mantissa() * 10i128.pow(SCALE - d.scale()))
}

fn opt_dec(d: Option<Decimal>) -> Result<Option<i128>, RowError> {
    d.map(dec).transpose()
}

/// The serde name of a unit enum variant (the Avro symbol).
fn symbol<T: Serialize>(v: &T) -> &'static str {
    use serde::ser::{Error as _, Impossible, Serializer};
    #[derive(Debug)]
    struct E(String);
    impl std::fmt::Display for E {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }
    impl std::error::Error for E {}
    impl serde::ser::Error for E {
        fn custom<M: std::fmt::Display>(m: M) -> Self {
            E(m.to_string())
        }
    }
    struct Sym;
    macro_rules! reject {
        ($($f:ident: $t:ty),*) => {$(
            fn $f(self, _: $t) -> Result<&'static str, E> { Err(E::custom("not a unit variant")) }
        )*};
    }
    impl Serializer for Sym {
        type Ok = &'static str;
        type Error = E;
        type SerializeSeq = Impossible<&'static str, E>;
        type SerializeTuple = Impossible<&'static str, E>;
        type SerializeTupleStruct = Impossible<&'static str, E>;
        type SerializeTupleVariant = Impossible<&'static str, E>;
        type SerializeMap = Impossible<&'static str, E>;
        type SerializeStruct = Impossible<&'static str, E>;
        type SerializeStructVariant = Impossible<&'static str, E>;
        fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<&'static str, E> {
            Ok(variant)
        }
        fn serialize_str(self, _: &str) -> Result<&'static str, E> {
            Err(E::custom("not a unit variant"))
        }
        reject!(serialize_bool: bool, serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
            serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64, serialize_f32: f32,
            serialize_f64: f64, serialize_char: char, serialize_bytes: &[u8], serialize_unit_struct: &'static str);
        fn serialize_none(self) -> Result<&'static str, E> {
            Err(E::custom("none"))
        }
        fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<&'static str, E> {
            Err(E::custom("some"))
        }
        fn serialize_unit(self) -> Result<&'static str, E> {
            Err(E::custom("unit"))
        }
        fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, v: &T) -> Result<&'static str, E> {
            v.serialize(self)
        }
        fn serialize_newtype_variant<T: Serialize + ?Sized>(self, _: &'static str, _: u32, _: &'static str, _: &T) -> Result<&'static str, E> {
            Err(E::custom("newtype variant"))
        }
        fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, E> {
            Err(E::custom("seq"))
        }
        fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, E> {
            Err(E::custom("tuple"))
        }
        fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeTupleStruct, E> {
            Err(E::custom("tuple struct"))
        }
        fn serialize_tuple_variant(self, _: &'static str, _: u32, _: &'static str, _: usize) -> Result<Self::SerializeTupleVariant, E> {
            Err(E::custom("tuple variant"))
        }
        fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, E> {
            Err(E::custom("map"))
        }
        fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, E> {
            Err(E::custom("struct"))
        }
        fn serialize_struct_variant(self, _: &'static str, _: u32, _: &'static str, _: usize) -> Result<Self::SerializeStructVariant, E> {
            Err(E::custom("struct variant"))
        }
    }
    v.serialize(Sym).expect("Avro enums are unit variants")
}

/// Lower-case hex of `b`.
pub fn hex(b: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push(D[(x >> 4) as usize] as char);
        s.push(D[(x & 15) as usize] as char);
    }
    s
}

/// Where a row came from.
#[derive(Clone, Debug)]
pub struct Origin {
    /// Shared by every row of the topic (one allocation per topic, not per row).
    pub topic: Arc<str>,
    pub partition: i32,
    pub offset: i64,
}

#[derive(clickhouse::Row, Serialize, Debug, Clone, PartialEq)]
pub struct OrderEventRow {
    pub event_id: String,
    pub account_id: String,
    pub order_id: String,
    pub client_order_id: Option<String>,
    pub symbol: String,
    pub at_ns: i64,
    pub status: &'static str,
    pub reason: Option<&'static str>,
    pub filled_qty: i128,
    pub leaves_qty: i128,
    pub avg_fill_price: Option<i128>,
    pub replaced_by: Option<String>,
    pub message: Option<String>,
    pub origin: Option<&'static str>,
    pub event_type: Option<&'static str>,
    pub fill_id: Option<String>,
    pub fill_qty: Option<i128>,
    pub fill_price: Option<i128>,
    pub fill_fee: Option<i128>,
    pub fill_settlement_days: Option<i32>,
    pub new_qty: Option<i128>,
    pub new_limit_price: Option<i128>,
    pub new_stop_price: Option<i128>,
    pub kafka_topic: Arc<str>,
    pub kafka_partition: i32,
    pub kafka_offset: i64,
}

impl OrderEventRow {
    pub fn new(e: OrderEvent, o: &Origin) -> Result<Self, RowError> {
        Ok(Self {
            event_id: e.event_id,
            account_id: e.account_id,
            order_id: e.order_id,
            client_order_id: e.client_order_id,
            symbol: e.symbol,
            at_ns: e.at_ns,
            status: symbol(&e.status),
            reason: e.reason.as_ref().map(symbol),
            filled_qty: dec(e.filled_qty)?,
            leaves_qty: dec(e.leaves_qty)?,
            avg_fill_price: opt_dec(e.avg_fill_price)?,
            replaced_by: e.replaced_by,
            message: e.message,
            origin: e.origin.as_ref().map(symbol),
            event_type: e.event_type.as_ref().map(symbol),
            fill_id: e.fill.as_ref().map(|f| f.fill_id.clone()),
            fill_qty: opt_dec(e.fill.as_ref().map(|f| f.qty))?,
            fill_price: opt_dec(e.fill.as_ref().map(|f| f.price))?,
            fill_fee: opt_dec(e.fill.as_ref().map(|f| f.fee))?,
            fill_settlement_days: e.fill.as_ref().and_then(|f| f.settlement_date),
            new_qty: opt_dec(e.new_qty)?,
            new_limit_price: opt_dec(e.new_limit_price)?,
            new_stop_price: opt_dec(e.new_stop_price)?,
            kafka_topic: o.topic.clone(),
            kafka_partition: o.partition,
            kafka_offset: o.offset,
        })
    }
}

#[derive(clickhouse::Row, Serialize, Debug, Clone, PartialEq)]
pub struct ExecutionRow {
    pub exec_id: String,
    pub trade_id: String,
    pub account_id: String,
    pub order_id: String,
    pub client_order_id: Option<String>,
    pub symbol: String,
    pub side: &'static str,
    pub last_qty: i128,
    pub last_price: i128,
    pub cum_qty: i128,
    pub leaves_qty: i128,
    pub avg_price: i128,
    pub fee: i128,
    pub liquidity: &'static str,
    pub at_ns: i64,
    pub kafka_topic: Arc<str>,
    pub kafka_partition: i32,
    pub kafka_offset: i64,
}

impl ExecutionRow {
    pub fn new(e: ExecutionReport, o: &Origin) -> Result<Self, RowError> {
        Ok(Self {
            exec_id: e.exec_id,
            trade_id: e.trade_id,
            account_id: e.account_id,
            order_id: e.order_id,
            client_order_id: e.client_order_id,
            symbol: e.symbol,
            side: symbol(&e.side),
            last_qty: dec(e.last_qty)?,
            last_price: dec(e.last_price)?,
            cum_qty: dec(e.cum_qty)?,
            leaves_qty: dec(e.leaves_qty)?,
            avg_price: dec(e.avg_price)?,
            fee: dec(e.fee)?,
            liquidity: symbol(&e.liquidity),
            at_ns: e.at_ns,
            kafka_topic: o.topic.clone(),
            kafka_partition: o.partition,
            kafka_offset: o.offset,
        })
    }
}

#[derive(clickhouse::Row, Serialize, Debug, Clone, PartialEq)]
pub struct TradeRow {
    pub trade_id: String,
    pub symbol: String,
    pub seq: i64,
    pub price: i128,
    pub qty: i128,
    pub aggressor: &'static str,
    pub buy_order_id: String,
    pub sell_order_id: String,
    pub at_ns: i64,
    pub kafka_topic: Arc<str>,
    pub kafka_partition: i32,
    pub kafka_offset: i64,
}

impl TradeRow {
    pub fn new(t: Trade, o: &Origin) -> Result<Self, RowError> {
        Ok(Self {
            trade_id: t.trade_id,
            symbol: t.symbol,
            seq: t.seq,
            price: dec(t.price)?,
            qty: dec(t.qty)?,
            aggressor: symbol(&t.aggressor),
            buy_order_id: t.buy_order_id,
            sell_order_id: t.sell_order_id,
            at_ns: t.at_ns,
            kafka_topic: o.topic.clone(),
            kafka_partition: o.partition,
            kafka_offset: o.offset,
        })
    }
}

#[derive(clickhouse::Row, Serialize, Debug, Clone, PartialEq)]
pub struct LedgerPostingRow {
    pub entry_id: String,
    pub posting_index: u32,
    pub postings_in_entry: u32,
    pub account_id: String,
    pub at_ns: i64,
    pub kind: &'static str,
    pub reference: String,
    pub ledger_account: String,
    pub asset: String,
    pub debit: i128,
    pub credit: i128,
    pub kafka_topic: Arc<str>,
    pub kafka_partition: i32,
    pub kafka_offset: i64,
}

impl LedgerPostingRow {
    /// One row per posting, `posting_index` 0-based in the entry's order.
    pub fn rows(e: LedgerEntry, o: &Origin) -> Result<Vec<Self>, RowError> {
        let n = u32::try_from(e.postings.len()).map_err(|_| RowError::TooManyPostings(e.postings.len()))?;
        let kind = symbol(&e.kind);
        e.postings
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                Ok(Self {
                    entry_id: e.entry_id.clone(),
                    posting_index: i as u32,
                    postings_in_entry: n,
                    account_id: e.account_id.clone(),
                    at_ns: e.at_ns,
                    kind,
                    reference: e.reference.clone(),
                    ledger_account: p.ledger_account,
                    asset: p.asset,
                    debit: dec(p.debit)?,
                    credit: dec(p.credit)?,
                    kafka_topic: o.topic.clone(),
                    kafka_partition: o.partition,
                    kafka_offset: o.offset,
                })
            })
            .collect()
    }
}

#[derive(clickhouse::Row, Serialize, Debug, Clone, PartialEq)]
pub struct FundingEventRow {
    pub event_id: String,
    pub account_id: String,
    pub funding_id: String,
    pub direction: &'static str,
    pub status: &'static str,
    pub amount: i128,
    pub reason: Option<String>,
    pub at_ns: i64,
    pub kafka_topic: Arc<str>,
    pub kafka_partition: i32,
    pub kafka_offset: i64,
}

impl FundingEventRow {
    pub fn new(f: FundingEvent, o: &Origin) -> Result<Self, RowError> {
        Ok(Self {
            event_id: f.event_id,
            account_id: f.account_id,
            funding_id: f.funding_id,
            direction: symbol(&f.direction),
            status: symbol(&f.status),
            amount: dec(f.amount)?,
            reason: f.reason,
            at_ns: f.at_ns,
            kafka_topic: o.topic.clone(),
            kafka_partition: o.partition,
            kafka_offset: o.offset,
        })
    }
}

#[derive(clickhouse::Row, Serialize, Debug, Clone, PartialEq)]
pub struct DeadLetterRow {
    pub dead_letter_id: String,
    pub pipeline: String,
    pub source_topic: String,
    pub source_partition: i32,
    pub source_offset: i64,
    pub error_kind: String,
    pub error: String,
    pub key_hex: Option<String>,
    pub value_hex: Option<String>,
    pub value_size: i32,
    pub failed_at_ns: i64,
    pub kafka_topic: Arc<str>,
    pub kafka_partition: i32,
    pub kafka_offset: i64,
}

impl DeadLetterRow {
    pub fn new(d: DeadLetter, o: &Origin) -> Self {
        Self {
            dead_letter_id: format!("{}/{}/{}/{}", d.pipeline, d.source_topic, d.source_partition, d.source_offset),
            pipeline: d.pipeline,
            source_topic: d.source_topic,
            source_partition: d.source_partition,
            source_offset: d.source_offset,
            error_kind: d.error_kind.as_str().to_string(),
            error: d.error,
            key_hex: d.key.as_deref().map(hex),
            value_hex: d.value.as_deref().map(hex),
            value_size: d.value_size,
            failed_at_ns: d.failed_at_ns,
            kafka_topic: o.topic.clone(),
            kafka_partition: o.partition,
            kafka_offset: o.offset,
        }
    }
}

/// Bytes kept from a rejected record's key / value.
pub const MAX_REJECT_BYTES: usize = 64 * 1024;

#[derive(clickhouse::Row, Serialize, Debug, Clone, PartialEq)]
pub struct SinkRejectRow {
    pub reject_id: String,
    pub kafka_topic: Arc<str>,
    pub kafka_partition: i32,
    pub kafka_offset: i64,
    pub error: String,
    pub key_hex: Option<String>,
    pub value_hex: Option<String>,
    pub value_size: u32,
}

impl SinkRejectRow {
    pub fn new(o: &Origin, error: String, key: Option<&[u8]>, value: Option<&[u8]>) -> Self {
        let cut = |b: &[u8]| hex(&b[..b.len().min(MAX_REJECT_BYTES)]);
        Self {
            reject_id: format!("{}/{}/{}", o.topic, o.partition, o.offset),
            kafka_topic: o.topic.clone(),
            kafka_partition: o.partition,
            kafka_offset: o.offset,
            error,
            key_hex: key.map(cut),
            value_hex: value.map(cut),
            value_size: value.map_or(0, |v| u32::try_from(v.len()).unwrap_or(u32::MAX)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::records::{OrderStatus, Side};

    #[test]
    fn decimals_become_scale_8_mantissas_without_rounding() {
        assert_eq!(dec(Decimal::new(15, 1)).unwrap(), 150_000_000);
        assert_eq!(dec(Decimal::new(-123_456_789, 8)).unwrap(), -123_456_789);
        assert_eq!(dec(Decimal::new(7, 0)).unwrap(), 700_000_000);
        // Trailing zeros beyond scale 8 are not a loss.
        assert_eq!(dec(Decimal::new(1_000, 10)).unwrap(), 10);
        assert!(matches!(dec(Decimal::new(1, 9)), Err(RowError::Scale(_))));
    }

    #[test]
    fn enums_are_avro_symbols() {
        assert_eq!(symbol(&OrderStatus::PartiallyFilled), "PARTIALLY_FILLED");
        assert_eq!(symbol(&Side::Sell), "SELL");
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
    }
}
