//! Tradeflow's integration tests: real Kafka broker, real processes.
//!
//! Requires `KAFKA_BROKERS` (see `scripts/test.sh`, which starts everything).

mod poison;
mod registry_http;
mod totals_eos;
mod verify;
