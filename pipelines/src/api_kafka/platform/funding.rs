//! [`FundingView`]: the `FundingHistory` port from `funding.events` (key = account id),
//! followed `read_committed` from the beginning.
//!
//! Invariants: every account's events are held in memory, ordered by `(at_ns, event_id)`
//! (the port's order, as `api::platform_memory`); an event id seen twice is kept once
//! (defensive: the accounts pipeline writes exactly once, but an at-least-once run could
//! duplicate); reads answer `Unavailable` until the follower caught up with the ends
//! observed at start. Undecodable records are logged and skipped.

use crate::api_kafka::follow::{Decoder, Fold};
use api::ports::PortError;
use api::v1::ports::FundingHistory;
use schemas::records::FundingEvent;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;

/// The topic (unprefixed).
pub const TOPIC: &str = "funding.events";

/// Per account: events by `(at_ns, event_id)`.
type ByAccount = HashMap<String, BTreeMap<(i64, String), FundingEvent>>;

#[derive(Default)]
pub struct FundingView {
    events: RwLock<ByAccount>,
    ready: AtomicBool,
}

impl FundingView {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    /// Adds one event (idempotent per event id).
    pub fn add(&self, e: FundingEvent) {
        let mut g = self.events.write().unwrap_or_else(|p| p.into_inner());
        let events = g.entry(e.account_id.clone()).or_default();
        if !events.values().any(|x| x.event_id == e.event_id) {
            events.insert((e.at_ns, e.event_id.clone()), e);
        }
    }
}

impl Fold for FundingView {
    fn apply(&self, _topic: usize, key: Option<&[u8]>, value: Option<&[u8]>, decoder: &Decoder, stop: &AtomicBool) {
        let Some(v) = value else { return };
        match decoder.decode::<FundingEvent>(v, stop) {
            Ok(e) => self.add(e),
            Err(e) => tracing::warn!(key = ?key.map(String::from_utf8_lossy), error = %e, "funding view: undecodable event skipped"),
        }
    }

    fn caught_up(&self) {
        self.ready.store(true, Ordering::SeqCst);
    }
}

impl FundingHistory for FundingView {
    fn funding_events(&self, account_id: &str) -> Result<Vec<FundingEvent>, PortError> {
        if !self.is_ready() {
            return Err(PortError::Unavailable("funding view is catching up".into()));
        }
        let g = self.events.read().unwrap_or_else(|p| p.into_inner());
        Ok(g.get(account_id).map(|m| m.values().cloned().collect()).unwrap_or_default())
    }
}
