//! Avro schemas, typed records and the Confluent wire format for every Tradeflow topic.
//!
//! - `schemas/avro/*.avsc` are the source of truth; each typed record in [`records`] names
//!   its schema file and a test checks that the two agree by round-tripping values.
//! - Money, prices and quantities are Avro `decimal` (bytes, precision 28, scale 8) and
//!   `rust_decimal::Decimal` in Rust ([`decimal`]). No floats anywhere.
//! - Times are `long` Unix epoch nanoseconds (fields ending in `_ns`).
//! - Kafka keys are plain UTF-8 strings (Kafka's `StringSerializer`); values use the
//!   Confluent wire format ([`wire`]): magic byte 0, big-endian 4-byte schema id, Avro body.
//! - [`topics`] lists every topic with its value record, partitioning key and cleanup policy.
//! - [`registry::EmbeddedRegistry`] is the in-process schema registry (tests, demo); the
//!   HTTP one lives in `pipelines` because it needs an async runtime.
//!
//! This crate does no I/O.

pub mod codec;
pub mod decimal;
pub mod records;
pub mod registry;
pub mod topics;
pub mod wire;

#[cfg(test)]
mod evolution;

pub use codec::{AvroRecord, Codec, CodecError};
pub use registry::{EmbeddedRegistry, RegistryError, SchemaId};
pub use wire::{WireError, MAGIC_BYTE};
