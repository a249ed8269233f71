//! The sink's RowBinary encoder (`sinks::rowbinary`) against the `clickhouse` crate's: the
//! same random rows of every raw table, INSERTed once through the crate's typed `Insert` and
//! once as the sink sends them (`Encoded` -> `Body::insert`), into two databases of real
//! ClickHouse, must read back identical, column by column.
//!
//! The rows reach every encoding the tables use: empty, long (multi-byte length) and
//! non-ASCII strings, NULL and non-NULL values of every Nullable column, negative and large
//! Decimal(28, 8) mantissas, Int32/Int64/UInt32 edges.

use crate::clickhouse_sink::{ch, clickhouse_url, database_name, migrate};
use clickhouse::{Client, Row, RowOwned, RowWrite};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use sinks::rowbinary::Encoded;
use sinks::rows::*;
use std::sync::Arc;
use std::time::Duration;

const ROWS: usize = 300;

fn text(r: &mut StdRng) -> String {
    let n = match r.random_range(0..4) {
        0 => 0,
        1 => r.random_range(128..400), // a two-byte LEB128 length
        _ => r.random_range(1..40),
    };
    (0..n)
        .map(|_| match r.random_range(0..12) {
            0 => 'é',
            1 => '€',
            2 => '\t',
            3 => '\n',
            4 => '\\',
            5 => '\'',
            _ => r.random_range(b'a'..=b'z') as char,
        })
        .collect()
}

fn maybe<T>(r: &mut StdRng, f: impl FnOnce(&mut StdRng) -> T) -> Option<T> {
    r.random_bool(0.5).then(|| f(r))
}

/// A Decimal(28, 8) mantissa: anything below 10^28 in magnitude, often small.
fn dec(r: &mut StdRng) -> i128 {
    let bound = if r.random_bool(0.3) { 10i128.pow(28) - 1 } else { 10i128.pow(12) };
    r.random_range(-bound..=bound)
}

fn pick(r: &mut StdRng, of: &[&'static str]) -> &'static str {
    of[r.random_range(0..of.len())]
}

fn int32(r: &mut StdRng) -> i32 {
    *[i32::MIN, -1, 0, 1, i32::MAX, r.random()].get(r.random_range(0..6)).unwrap()
}

/// A time in 2026, in Unix nanoseconds (tables are partitioned by month of it, and one
/// INSERT may touch at most 100 partitions).
fn int64(r: &mut StdRng) -> i64 {
    1_767_225_600_000_000_000 + r.random_range(0..300 * 86_400_000_000_000i64)
}

/// Inserts `rows` into `table` of `via_crate`'s and `via_sink`'s databases, then compares
/// the two tables' contents.
async fn compare<T>(url: &str, dbs: (&str, &str), clients: (&Client, &Client), table: &str, rows: &[T])
where
    T: Row + RowOwned + RowWrite + Serialize,
{
    let (via_crate, via_sink) = clients;
    let mut ins = via_crate.insert::<T>(table).await.unwrap();
    for r in rows {
        ins.write(r).await.unwrap();
    }
    ins.end().await.unwrap();
    let mut enc = Encoded::<T>::default();
    enc.extend(rows).unwrap();
    let body = enc.into_body(table);
    assert_eq!(body.rows(), rows.len());
    body.insert(via_sink, Duration::from_secs(60)).await.unwrap_or_else(|e| panic!("{table}: sink INSERT failed: {e}"));
    let cols = T::COLUMN_NAMES.join(",");
    let dump = |db: &str| ch(url, &format!("SELECT {cols} FROM {db}.{table} ORDER BY kafka_offset FORMAT TabSeparated"));
    let (a, b) = (dump(dbs.0), dump(dbs.1));
    assert_eq!(a.lines().count(), rows.len(), "{table}: the crate's INSERT read back");
    if a != b {
        let first = a.lines().zip(b.lines()).position(|(x, y)| x != y);
        panic!("{table}: the sink's encoding reads back differently; first differing row {first:?}\ncrate: {:?}\nsink:  {:?}",
            first.and_then(|i| a.lines().nth(i)), first.and_then(|i| b.lines().nth(i)));
    }
}

#[test]
fn sink_rowbinary_matches_the_clickhouse_crate() {
    let Some(url) = clickhouse_url() else { return };
    let (db_crate, db_sink) = (database_name("rb_crate"), database_name("rb_sink"));
    migrate(&url, &db_crate);
    migrate(&url, &db_sink);
    let client = |db: &str| Client::default().with_url(&url).with_database(db).with_validation(false);
    let (c_crate, c_sink) = (client(&db_crate), client(&db_sink));
    let (dbs, clients) = ((&*db_crate, &*db_sink), (&c_crate, &c_sink));
    let r = &mut StdRng::seed_from_u64(20261122);
    let topic: Arc<str> = Arc::from("rowbinary.topic");
    let statuses = ["NEW", "PARTIALLY_FILLED", "FILLED", "CANCELED", "REJECTED"];
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let orders: Vec<OrderEventRow> = (0..ROWS)
            .map(|i| OrderEventRow {
                event_id: format!("e{i}-{}", text(r)),
                account_id: text(r),
                order_id: text(r),
                client_order_id: maybe(r, text),
                symbol: text(r),
                at_ns: int64(r),
                status: pick(r, &statuses),
                reason: maybe(r, |r| pick(r, &["INSUFFICIENT_FUNDS", "MARKET_CLOSED"])),
                filled_qty: dec(r),
                leaves_qty: dec(r),
                avg_fill_price: maybe(r, dec),
                replaced_by: maybe(r, text),
                message: maybe(r, text),
                origin: maybe(r, |r| pick(r, &["CLIENT", "SYSTEM"])),
                event_type: maybe(r, |r| pick(r, &["FILL", "CANCEL"])),
                fill_id: maybe(r, text),
                fill_qty: maybe(r, dec),
                fill_price: maybe(r, dec),
                fill_fee: maybe(r, dec),
                fill_settlement_days: maybe(r, int32),
                new_qty: maybe(r, dec),
                new_limit_price: maybe(r, dec),
                new_stop_price: maybe(r, dec),
                kafka_topic: topic.clone(),
                kafka_partition: int32(r),
                kafka_offset: i as i64,
            })
            .collect();
        compare(&url, dbs, clients, "order_events_raw", &orders).await;
        let executions: Vec<ExecutionRow> = (0..ROWS)
            .map(|i| ExecutionRow {
                exec_id: format!("x{i}-{}", text(r)),
                trade_id: text(r),
                account_id: text(r),
                order_id: text(r),
                client_order_id: maybe(r, text),
                symbol: text(r),
                side: pick(r, &["BUY", "SELL"]),
                last_qty: dec(r),
                last_price: dec(r),
                cum_qty: dec(r),
                leaves_qty: dec(r),
                avg_price: dec(r),
                fee: dec(r),
                liquidity: pick(r, &["MAKER", "TAKER"]),
                at_ns: int64(r),
                kafka_topic: topic.clone(),
                kafka_partition: int32(r),
                kafka_offset: i as i64,
            })
            .collect();
        compare(&url, dbs, clients, "executions_raw", &executions).await;
        let trades: Vec<TradeRow> = (0..ROWS)
            .map(|i| TradeRow {
                trade_id: format!("t{i}-{}", text(r)),
                symbol: text(r),
                seq: r.random(),
                price: dec(r),
                qty: dec(r),
                aggressor: pick(r, &["BUY", "SELL"]),
                buy_order_id: text(r),
                sell_order_id: text(r),
                at_ns: int64(r),
                kafka_topic: topic.clone(),
                kafka_partition: int32(r),
                kafka_offset: i as i64,
            })
            .collect();
        compare(&url, dbs, clients, "trades_raw", &trades).await;
        let postings: Vec<LedgerPostingRow> = (0..ROWS)
            .map(|i| LedgerPostingRow {
                entry_id: format!("l{i}-{}", text(r)),
                posting_index: r.random(),
                postings_in_entry: *[0, 1, u32::MAX].get(r.random_range(0..3)).unwrap(),
                account_id: text(r),
                at_ns: int64(r),
                kind: pick(r, &["DEPOSIT", "TRADE", "FEE"]),
                reference: text(r),
                ledger_account: text(r),
                asset: text(r),
                debit: dec(r),
                credit: dec(r),
                kafka_topic: topic.clone(),
                kafka_partition: int32(r),
                kafka_offset: i as i64,
            })
            .collect();
        compare(&url, dbs, clients, "ledger_postings_raw", &postings).await;
        let funding: Vec<FundingEventRow> = (0..ROWS)
            .map(|i| FundingEventRow {
                event_id: format!("f{i}-{}", text(r)),
                account_id: text(r),
                funding_id: text(r),
                direction: pick(r, &["DEPOSIT", "WITHDRAWAL"]),
                status: pick(r, &["REQUESTED", "COMPLETED"]),
                amount: dec(r),
                reason: maybe(r, text),
                at_ns: int64(r),
                kafka_topic: topic.clone(),
                kafka_partition: int32(r),
                kafka_offset: i as i64,
            })
            .collect();
        compare(&url, dbs, clients, "funding_events_raw", &funding).await;
        let dead_letters: Vec<DeadLetterRow> = (0..ROWS)
            .map(|i| DeadLetterRow {
                dead_letter_id: format!("d{i}-{}", text(r)),
                pipeline: text(r),
                source_topic: text(r),
                source_partition: int32(r),
                source_offset: r.random(),
                error_kind: text(r),
                error: text(r),
                key_hex: maybe(r, text),
                value_hex: maybe(r, text),
                value_size: int32(r),
                failed_at_ns: int64(r),
                kafka_topic: topic.clone(),
                kafka_partition: int32(r),
                kafka_offset: i as i64,
            })
            .collect();
        compare(&url, dbs, clients, "dead_letters_raw", &dead_letters).await;
        let rejects: Vec<SinkRejectRow> = (0..ROWS)
            .map(|i| SinkRejectRow {
                reject_id: format!("r{i}-{}", text(r)),
                kafka_topic: topic.clone(),
                kafka_partition: int32(r),
                kafka_offset: i as i64,
                error: text(r),
                key_hex: maybe(r, text),
                value_hex: maybe(r, text),
                value_size: r.random(),
            })
            .collect();
        compare(&url, dbs, clients, "sink_rejects_raw", &rejects).await;
    });
    for db in [&db_crate, &db_sink] {
        ch(&url, &format!("DROP DATABASE IF EXISTS {db}"));
    }
}
