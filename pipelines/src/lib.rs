//! The runtime that drives Tradeflow's pure operators over Kafka, and everything the
//! `tradeflow` binary needs: topic administration, schema registries, metrics.
//!
//! - [`runtime`]: the exactly-once consume-process-produce loop.
//! - [`spec::Pipeline`]: binds an `operators::Operator` to topics and codecs; [`catalog`]
//!   holds one binding per pipeline.
//! - [`store`]: per-partition state with rollback; restored from compacted changelogs.
//! - [`registry`]: embedded or HTTP (Confluent-compatible) schema registry.
//! - [`admin`]: `tradeflow topics create`.
//! - [`api_kafka`]: the trading API's ports on Kafka (command sink, materialized views).

pub mod admin;
pub mod api_kafka;
pub mod calendar;
pub mod catalog;
pub mod config;
pub mod dlq;
pub mod metrics;
pub mod registry;
pub mod runtime;
pub mod spec;
pub mod store;
