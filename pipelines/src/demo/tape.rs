//! What the progress lines report: trades (count, last price per symbol) from `trades` and
//! rejections from `orders.events`, both `read_committed`, counting only this run's events
//! (`at_ns` at or after the run's start; a real broker may hold earlier runs' events).
//! Reads from the beginning (its own consumer group per run) and commits nothing.

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rust_decimal::Decimal;
use schemas::records::{OrderEvent, OrderEventType, OrderStatus, Trade};
use schemas::Codec;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Counts since the run started.
#[derive(Clone, Debug, Default)]
pub struct Tape {
    pub trades: u64,
    /// Shares traded.
    pub volume: Decimal,
    /// Last trade price per symbol.
    pub last: BTreeMap<String, Decimal>,
    /// Rejected orders by reason (the venue's and the accounts pipeline's; the accounts
    /// pipeline's echo of a venue rejection is not counted twice).
    pub rejected: BTreeMap<String, u64>,
}

impl Tape {
    pub fn rejections(&self) -> u64 {
        self.rejected.values().sum()
    }
}

/// Follows the topics into `tape` until `stop` is set.
pub fn follow(brokers: &str, prefix: &str, codec: &Codec, since_ns: i64, tape: &Arc<Mutex<Tape>>, stop: &AtomicBool) -> anyhow::Result<()> {
    let (trades, events) = (format!("{prefix}trades"), format!("{prefix}orders.events"));
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        // Per run, so two demos on one broker each see every partition; nothing is committed.
        .set("group.id", format!("{prefix}demo-tape-{since_ns}"))
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .set("auto.offset.reset", "earliest")
        .create()?;
    c.subscribe(&[&trades, &events])?;
    while !stop.load(Ordering::SeqCst) {
        let Some(Ok(m)) = c.poll(Duration::from_millis(200)) else { continue };
        let Some(v) = m.payload() else { continue };
        let mut t = tape.lock().unwrap_or_else(|p| p.into_inner());
        if m.topic() == trades {
            if let Ok(x) = codec.decode::<Trade>(v) {
                if x.at_ns >= since_ns {
                    t.trades += 1;
                    t.volume += x.qty;
                    t.last.insert(x.symbol, x.price);
                }
            }
        } else if let Ok(e) = codec.decode::<OrderEvent>(v) {
            if e.at_ns >= since_ns && e.status == OrderStatus::Rejected && e.event_type != Some(OrderEventType::RejectedByVenue) {
                let reason = e.message.or_else(|| e.reason.map(|r| format!("{r:?}"))).unwrap_or_else(|| "unspecified".into());
                *t.rejected.entry(reason).or_default() += 1;
            }
        }
    }
    Ok(())
}
