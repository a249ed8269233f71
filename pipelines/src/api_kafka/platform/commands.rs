//! [`KafkaPlatformCommands`]: the `PlatformCommands` port: funding commands onto
//! `funding.commands` and account commands onto `accounts.commands` (key = account id),
//! instrument commands onto `instruments.commands` (key = symbol).
//!
//! Invariants (as `super::super::sink::KafkaCommandSink`): one idempotent producer
//! (`enable.idempotence`, `acks=all`), so a retried send never duplicates or reorders a
//! command; the murmur2 partitioner (the pipelines' placement); values in the Confluent
//! wire format with the schema ids the codec registered; `Ok` only once the broker
//! acknowledged the record, `Unavailable` (503) on any failure or after the delivery
//! timeout.

use super::table::DELIVERY_TIMEOUT;
use api::ports::{BoxFuture, PortError};
use api::v1::ports::PlatformCommands;
use rdkafka::producer::{FutureProducer, FutureRecord};
use schemas::records::{AccountCommand, FundingCommand, InstrumentCommand};
use schemas::{AvroRecord, Codec};
use std::sync::Arc;

/// The topics (unprefixed).
pub const FUNDING: &str = "funding.commands";
pub const ACCOUNTS: &str = "accounts.commands";
pub const INSTRUMENTS: &str = "instruments.commands";

/// Prefixed topic names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandTopics {
    pub funding: String,
    pub accounts: String,
    pub instruments: String,
}

impl CommandTopics {
    pub fn prefixed(prefix: &str) -> Self {
        let t = |n: &str| crate::catalog::prefixed(prefix, n).to_string();
        CommandTopics { funding: t(FUNDING), accounts: t(ACCOUNTS), instruments: t(INSTRUMENTS) }
    }
}

pub struct KafkaPlatformCommands {
    producer: FutureProducer,
    codec: Arc<Codec>,
    topics: CommandTopics,
}

impl KafkaPlatformCommands {
    pub fn new(producer: FutureProducer, codec: Arc<Codec>, topics: CommandTopics) -> Self {
        KafkaPlatformCommands { producer, codec, topics }
    }

    async fn send<T: AvroRecord>(&self, topic: &str, key: &str, command_id: &str, command: &T) -> Result<(), PortError> {
        let value = self.codec.encode(command).map_err(|e| PortError::Internal(format!("encoding a {}: {e}", T::NAME)))?;
        let record = FutureRecord::<str, [u8]>::to(topic).key(key).payload(value.as_slice());
        match self.producer.send(record, DELIVERY_TIMEOUT).await {
            Ok(_) => Ok(()),
            Err((e, _)) => {
                tracing::warn!(command_id, topic, error = %e, "platform command not delivered");
                Err(PortError::Unavailable(format!("{topic}: {e}")))
            }
        }
    }
}

impl PlatformCommands for KafkaPlatformCommands {
    fn funding(&self, command: FundingCommand) -> BoxFuture<'_, Result<(), PortError>> {
        Box::pin(async move { self.send(&self.topics.funding, &command.account_id, &command.command_id, &command).await })
    }

    fn account(&self, command: AccountCommand) -> BoxFuture<'_, Result<(), PortError>> {
        Box::pin(async move { self.send(&self.topics.accounts, &command.account_id, &command.command_id, &command).await })
    }

    fn instrument(&self, command: InstrumentCommand) -> BoxFuture<'_, Result<(), PortError>> {
        Box::pin(async move { self.send(&self.topics.instruments, &command.symbol, &command.command_id, &command).await })
    }
}
