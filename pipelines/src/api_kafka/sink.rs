//! [`KafkaCommandSink`]: order commands onto `orders.commands`.
//!
//! Invariants: an idempotent producer (`enable.idempotence`, `acks=all`), so a retried
//! send never duplicates or reorders a command; key = account id with the murmur2
//! partitioner (the accounts pipeline's partitioning); values in the Confluent wire format
//! written with the schema id the codec registered; `submit` returns `Ok` only once the
//! broker acknowledged the record, and `Unavailable` (503) on any failure or after
//! [`DELIVERY_TIMEOUT`].

use api::ports::{BoxFuture, CommandSink, PortError};
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, FutureRecord};
use schemas::records::OrderCommand;
use schemas::Codec;
use std::sync::Arc;
use std::time::Duration;

/// Longest wait for the broker's acknowledgement of one command.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

pub struct KafkaCommandSink {
    producer: FutureProducer,
    codec: Arc<Codec>,
    topic: String,
}

impl KafkaCommandSink {
    pub fn new(brokers: &str, extra: &[(String, String)], codec: Arc<Codec>, topic: String) -> Result<Self, KafkaError> {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", brokers)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("partitioner", "murmur2_random")
            .set("linger.ms", "1")
            .set("message.timeout.ms", DELIVERY_TIMEOUT.as_millis().to_string());
        for (k, v) in extra {
            c.set(k, v);
        }
        Ok(KafkaCommandSink { producer: c.create()?, codec, topic })
    }
}

impl CommandSink for KafkaCommandSink {
    fn submit(&self, command: OrderCommand) -> BoxFuture<'_, Result<(), PortError>> {
        Box::pin(async move {
            let value = self.codec.encode(&command).map_err(|e| PortError::Internal(format!("encoding an order command: {e}")))?;
            let record = FutureRecord::to(&self.topic).key(&command.account_id).payload(&value);
            match self.producer.send(record, DELIVERY_TIMEOUT).await {
                Ok(_) => Ok(()),
                Err((e, _)) => {
                    tracing::warn!(command_id = %command.command_id, error = %e, "order command not delivered");
                    Err(PortError::Unavailable(format!("orders.commands: {e}")))
                }
            }
        })
    }
}
