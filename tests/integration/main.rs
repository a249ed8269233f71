//! Tradeflow's integration tests: real Kafka broker, real processes.
//!
//! Requires `KAFKA_BROKERS` (see `scripts/test.sh`, which starts everything).

mod accounts_e2e;
mod clickhouse_sink;
mod matching_e2e;
mod demo;
mod poison;
mod registry_http;
mod topics;
mod totals_eos;
mod trading_e2e;
mod verify;
