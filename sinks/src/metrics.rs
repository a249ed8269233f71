//! The ClickHouse sink's Prometheus metrics (prometheus-client, the same text exposition
//! and `tradeflow_` prefix as the pipelines' `pipelines::metrics`), served on
//! `tradeflow sink clickhouse --metrics-addr`.
//!
//! Invariants: counters only grow; `rows_written{table}` counts rows of INSERTs ClickHouse
//! acknowledged (a retried INSERT counts once, when it succeeds), `batches` counts batches
//! whose offsets were committed; `consumer_lag` is refreshed from librdkafka's statistics.

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::Arc;

/// Label of `rows_written`: the raw table.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TableLabel {
    pub table: String,
}

/// Counters of one sink instance. Cheap to clone (handles are shared).
#[derive(Clone)]
pub struct SinkMetrics {
    registry: Arc<Registry>,
    /// Kafka records consumed into batches.
    pub records_in: Counter,
    pub rows_written: Family<TableLabel, Counter>,
    /// Records stored in `sink_rejects_raw`.
    pub rejects: Counter,
    pub batches: Counter,
    pub insert_retries: Counter,
    /// Batches dropped (and re-read) after a rebalance.
    pub discarded_batches: Counter,
    /// From the first INSERT of a batch to its offset commit.
    pub batch_latency: Histogram,
    pub consumer_lag: Gauge,
}

impl Default for SinkMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl SinkMetrics {
    /// Registers every metric under `tradeflow_` with the label `pipeline="sink-clickhouse"`.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix_and_labels(
            "tradeflow",
            [(std::borrow::Cow::Borrowed("pipeline"), std::borrow::Cow::Borrowed("sink-clickhouse"))].into_iter(),
        );
        let m = SinkMetrics {
            registry: Arc::new(Registry::default()),
            records_in: Counter::default(),
            rows_written: Family::default(),
            rejects: Counter::default(),
            batches: Counter::default(),
            insert_retries: Counter::default(),
            discarded_batches: Counter::default(),
            batch_latency: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            consumer_lag: Gauge::default(),
        };
        registry.register("records_in", "Kafka records consumed by the sink", m.records_in.clone());
        registry.register("sink_rows_written", "Rows ClickHouse acknowledged, per raw table", m.rows_written.clone());
        registry.register("sink_rejects", "Records written to sink_rejects_raw", m.rejects.clone());
        registry.register("sink_batches", "Batches inserted and committed", m.batches.clone());
        registry.register("sink_insert_retries", "Failed INSERTs retried", m.insert_retries.clone());
        registry.register("sink_discarded_batches", "Open batches dropped on a rebalance (re-read)", m.discarded_batches.clone());
        registry.register("sink_batch_latency_seconds", "Time to insert one batch and commit its offsets", m.batch_latency.clone());
        registry.register("consumer_lag", "Records behind the end of the assigned partitions", m.consumer_lag.clone());
        SinkMetrics { registry: Arc::new(registry), ..m }
    }

    /// Counts `rows` written to `table`.
    pub fn rows(&self, table: &str, rows: usize) {
        self.rows_written.get_or_create(&TableLabel { table: table.to_string() }).inc_by(rows as u64);
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
    fn renders_per_table_rows() {
        let m = super::SinkMetrics::new();
        m.rows("trades_raw", 3);
        m.rows("trades_raw", 2);
        m.batches.inc();
        let text = m.render();
        assert!(text.contains("tradeflow_sink_rows_written_total{pipeline=\"sink-clickhouse\",table=\"trades_raw\"} 5"), "{text}");
        assert!(text.contains("tradeflow_sink_batches_total{pipeline=\"sink-clickhouse\"} 1"), "{text}");
        assert!(text.contains("# TYPE tradeflow_sink_batch_latency_seconds histogram"), "{text}");
    }
}
