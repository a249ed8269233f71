//! [`MemoryActivities`]: the [`ActivityView`] port in memory, fed record by record (tests,
//! the demo) through the same [`ActivityBook`] the Kafka view uses.

use super::book::ActivityBook;
use super::model::Activity;
use super::query::ActivityQuery;
use crate::ports::{ActivityView, PortError};
use schemas::records::{FundingEvent, OrderCommand, OrderEvent};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

#[derive(Default)]
pub struct MemoryActivities {
    book: Mutex<ActivityBook>,
    unavailable: AtomicBool,
}

impl MemoryActivities {
    pub fn new() -> Self {
        Self::default()
    }

    fn book(&self) -> MutexGuard<'_, ActivityBook> {
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn apply_command(&self, c: &OrderCommand) {
        self.book().apply_command(c);
    }

    pub fn apply_order_event(&self, e: &OrderEvent) {
        self.book().apply_order_event(e);
    }

    pub fn apply_funding(&self, e: &FundingEvent) {
        self.book().apply_funding(e);
    }

    pub fn insert(&self, a: Activity) {
        self.book().insert(a);
    }

    /// Makes reads fail with `Unavailable` (to test 503s).
    pub fn set_unavailable(&self, unavailable: bool) {
        self.unavailable.store(unavailable, Ordering::SeqCst);
    }
}

impl ActivityView for MemoryActivities {
    fn activities(&self, query: &ActivityQuery) -> Result<Vec<Activity>, PortError> {
        if self.unavailable.load(Ordering::SeqCst) {
            return Err(PortError::Unavailable("memory activities switched off".into()));
        }
        Ok(self.book().select(query))
    }
}
