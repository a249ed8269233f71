//! Pipeline metrics in the Prometheus text format (prometheus-client).

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::Arc;

/// Counters and gauges of one pipeline instance. Cheap to clone (all handles are shared).
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    pub records_in: Counter,
    pub records_out: Counter,
    pub dlq: Counter,
    pub commits: Counter,
    pub aborts: Counter,
    pub restored: Counter,
    pub lag: Gauge,
    pub assigned_partitions: Gauge,
    pub commit_latency: Histogram,
}

impl Metrics {
    /// Registers every metric under the `tradeflow_` prefix with a `pipeline` label.
    pub fn new(pipeline: &str) -> Self {
        let mut registry = Registry::with_prefix_and_labels(
            "tradeflow",
            [(std::borrow::Cow::Borrowed("pipeline"), std::borrow::Cow::Owned(pipeline.to_string()))].into_iter(),
        );
        let m = Metrics {
            registry: Arc::new(Registry::default()),
            records_in: Counter::default(),
            records_out: Counter::default(),
            dlq: Counter::default(),
            commits: Counter::default(),
            aborts: Counter::default(),
            restored: Counter::default(),
            lag: Gauge::default(),
            assigned_partitions: Gauge::default(),
            commit_latency: Histogram::new(exponential_buckets(0.0005, 2.0, 14)),
        };
        registry.register("records_in", "Input records consumed", m.records_in.clone());
        registry.register("records_out", "Output records produced (excluding changelog)", m.records_out.clone());
        registry.register("dlq_records", "Records sent to the dead-letter topic", m.dlq.clone());
        registry.register("transaction_commits", "Committed transactions or offset commits", m.commits.clone());
        registry.register("transaction_aborts", "Aborted transactions", m.aborts.clone());
        registry.register("state_restored_records", "Changelog records read while restoring state", m.restored.clone());
        registry.register("consumer_lag", "Records behind the end of the assigned input partitions", m.lag.clone());
        registry.register("assigned_partitions", "Input partitions assigned to this instance", m.assigned_partitions.clone());
        registry.register("commit_latency_seconds", "Time to commit one transaction", m.commit_latency.clone());
        Metrics { registry: Arc::new(registry), ..m }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_prometheus_text() {
        let m = super::Metrics::new("totals");
        m.records_in.inc_by(3);
        let text = m.render();
        assert!(text.contains("tradeflow_records_in_total{pipeline=\"totals\"} 3"), "{text}");
        assert!(text.contains("# TYPE tradeflow_commit_latency_seconds histogram"), "{text}");
    }
}
