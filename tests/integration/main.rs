//! Tradeflow's integration tests: real Kafka broker, real processes.
//!
//! Requires `KAFKA_BROKERS` (see `scripts/test.sh`, which starts everything).

mod accounts_e2e;
mod alpaca_py;
mod api_platform;
mod api_e2e;
mod clickhouse_current;
mod clickhouse_reports;
mod clickhouse_rowbinary;
mod clickhouse_sink;
mod matching_e2e;
mod demo;
mod platform_api;
mod platform_kafka;
mod poison;
mod registry_http;
mod schemathesis;
mod settlement_e2e;
mod topics;
mod totals_eos;
mod trading_e2e;
mod verify;
