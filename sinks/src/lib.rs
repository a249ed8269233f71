//! Sinks: consumers that copy Tradeflow's event topics into external stores.
//!
//! Today there is one: ClickHouse ([`sink`]), run by `tradeflow sink clickhouse`, with
//! its schema managed by [`migrate`] (`tradeflow clickhouse migrate`).
//!
//! # Delivery guarantee
//! The sink is at-least-once towards ClickHouse and exactly-once for readers of the analyst
//! views:
//! - It reads the event topics `read_committed` in one consumer group and commits Kafka
//!   offsets only after ClickHouse acknowledged every INSERT of a batch. A crash (kill -9),
//!   a ClickHouse outage or a failed commit can therefore write a record again, never lose
//!   one.
//! - Every table is a `ReplacingMergeTree` ordered by the record's deterministic id, and a
//!   re-delivered record is the same Kafka record (same id, same partition key), so copies
//!   collapse. The analyst views read with `FINAL`, which collapses them at query time on
//!   ClickHouse 18.16 (no insert deduplication token there) and on current versions, so
//!   `count()` through a view is the number of distinct events without `OPTIMIZE`.
//!
//! Records the sink cannot decode go to the `sink_rejects_raw` table (never dropped);
//! records on the `dlq` topic go to `dead_letters_raw`.
//!
//! [`reports`] reads the analyst views back: monthly statements, the capital-gains report
//! (with `operators::portfolio`'s lot engine) and admin reports, as JSON or CSV.
//! [`rowbinary`] encodes rows as the sink polls them, so a batch is one ready INSERT body per
//! table. [`metrics`] is the sink's Prometheus registry; [`bench`] compares the sink with a
//! raw RowBinary insert (`tradeflow bench clickhouse`).
//!
//! Not built yet: snapshot topics (`accounts.snapshots`, `positions.snapshots`,
//! `book.depth`), TLS/auth to ClickHouse.

pub mod sink;
pub mod migrate;
pub mod rows;
pub mod rowbinary;
pub mod reports;
pub mod metrics;
pub mod bench;

pub use sink::{run, LookupError, SchemaLookup, SinkConfig, SinkError, SinkSummary};
pub use metrics::SinkMetrics;
pub use migrate::{migrate, MigrateError, Migration, MIGRATIONS};
