//! Consumer context: turns rebalance callbacks into events the driver loop handles, and
//! aborts an open transaction before partitions are revoked.
//!
//! Partition assignment is eager (`range`), so a revoke always takes every partition: the
//! driver drops all state and rebuilds it from the changelog on the next assignment.

use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use rdkafka::producer::{DefaultProducerContext, ThreadedProducer};
use prometheus_client::metrics::gauge::Gauge;
use rdkafka::statistics::Statistics;
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
    /// Set from librdkafka's statistics callback (`statistics.interval.ms`), off the
    /// processing loop: records between each assigned partition's position and its end.
    pub lag: Gauge,
}

impl DriverContext {
    /// Takes the accumulated events.
    pub fn take(&self) -> RebalanceEvents {
        std::mem::take(&mut *self.events.lock().expect("rebalance events lock"))
    }
}

impl ClientContext for DriverContext {
    /// Consumer lag: per desired partition, its end (the last stable offset, as a
    /// `read_committed` reader sees it, else the high watermark) minus the position (the
    /// offset after the last record handed to the driver, else the committed offset, else
    /// the low watermark). librdkafka's own `consumer_lag` is measured from the consumer's
    /// committed offset, which transactional offset commits do not update.
    fn stats(&self, stats: Statistics) {
        let mut lag = 0i64;
        for p in stats.topics.values().flat_map(|t| t.partitions.values()).filter(|p| p.partition >= 0 && p.desired) {
            let end = if p.ls_offset >= 0 { p.ls_offset } else { p.hi_offset };
            let position = [p.app_offset, p.committed_offset, p.lo_offset].into_iter().find(|o| *o >= 0);
            if let (true, Some(position)) = (end >= 0, position) {
                lag += (end - position).max(0);
            }
        }
        self.lag.set(lag);
    }
}

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
