//! Consumer context: turns rebalance callbacks into events the driver loop handles, and
//! aborts an open transaction before partitions are revoked.
//!
//! Partition assignment is eager (`range`), so a revoke always takes every partition: the
//! driver drops all state and rebuilds it from the changelog on the next assignment.

use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use rdkafka::producer::{DefaultProducerContext, ThreadedProducer};
use rdkafka::ClientContext;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What happened in rebalance callbacks since the driver last looked.
#[derive(Debug, Default)]
pub struct RebalanceEvents {
    /// Partitions were revoked.
    pub revoked: bool,
    /// The open transaction was aborted by the revoke callback.
    pub aborted: bool,
    /// Aborting failed fatally: the instance must stop.
    pub fatal: Option<String>,
    /// Newly assigned (topic, partition) pairs.
    pub assigned: Vec<(String, i32)>,
}

/// The driver's consumer context.
pub struct DriverContext {
    pub producer: Arc<ThreadedProducer<DefaultProducerContext>>,
    /// Set by the driver while a transaction is open.
    pub txn_open: Arc<AtomicBool>,
    pub events: Mutex<RebalanceEvents>,
    pub transactional: bool,
}

impl DriverContext {
    /// Takes the accumulated events.
    pub fn take(&self) -> RebalanceEvents {
        std::mem::take(&mut *self.events.lock().expect("rebalance events lock"))
    }
}

impl ClientContext for DriverContext {}

impl ConsumerContext for DriverContext {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(_) = rebalance {
            let mut ev = self.events.lock().expect("rebalance events lock");
            ev.revoked = true;
            ev.assigned.clear();
            if self.transactional && self.txn_open.swap(false, Ordering::SeqCst) {
                match super::abort_transaction(&self.producer, Duration::from_secs(30)) {
                    Ok(()) => ev.aborted = true,
                    Err(e) => ev.fatal = Some(format!("abort on revoke failed: {e}")),
                }
            }
            tracing::info!("partitions revoked");
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            let mut ev = self.events.lock().expect("rebalance events lock");
            for e in tpl.elements() {
                ev.assigned.push((e.topic().to_string(), e.partition()));
            }
            tracing::info!(partitions = tpl.count(), "partitions assigned");
        }
    }
}
