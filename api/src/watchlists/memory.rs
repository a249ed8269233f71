//! [`MemoryWatchlists`]: the [`WatchlistStore`] port in memory, and [`admit`], the write
//! rule every implementation applies under its write lock.

use crate::ports::{BoxFuture, PortError, WatchlistStore, WatchlistWrite};
use schemas::records::WatchlistRecord;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Whether `list` may be written over `current` (the stored record with its id), given
/// the caller's `previous` and the account's other lists: `Stale` unless `current ==
/// previous` (so `previous = None` creates only), `NameTaken` if another list of the
/// account has the name.
pub fn admit<'a>(
    current: Option<&WatchlistRecord>,
    previous: Option<&WatchlistRecord>,
    list: &WatchlistRecord,
    all: impl IntoIterator<Item = &'a WatchlistRecord>,
) -> WatchlistWrite {
    if current != previous {
        return WatchlistWrite::Stale;
    }
    let taken = all.into_iter().any(|w| w.account_id == list.account_id && w.watchlist_id != list.watchlist_id && w.name == list.name);
    if taken { WatchlistWrite::NameTaken } else { WatchlistWrite::Written }
}

/// An account's lists from a map by id, by creation time (ties by id).
pub fn of_account<'a>(all: impl IntoIterator<Item = &'a WatchlistRecord>, account_id: &str) -> Vec<WatchlistRecord> {
    let mut out: Vec<WatchlistRecord> = all.into_iter().filter(|w| w.account_id == account_id).cloned().collect();
    out.sort_by(|a, b| (a.created_at_ns, &a.watchlist_id).cmp(&(b.created_at_ns, &b.watchlist_id)));
    out
}

#[derive(Default)]
pub struct MemoryWatchlists {
    lists: Mutex<BTreeMap<String, WatchlistRecord>>,
    unavailable: AtomicBool,
}

impl MemoryWatchlists {
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores `list` as is, without the write rules (test and demo seeding).
    pub fn seed(&self, list: WatchlistRecord) {
        self.lists.lock().unwrap_or_else(|p| p.into_inner()).insert(list.watchlist_id.clone(), list);
    }

    /// Makes every call fail with `Unavailable` (to test 503s).
    pub fn set_unavailable(&self, unavailable: bool) {
        self.unavailable.store(unavailable, Ordering::SeqCst);
    }

    fn lists(&self) -> Result<MutexGuard<'_, BTreeMap<String, WatchlistRecord>>, PortError> {
        if self.unavailable.load(Ordering::SeqCst) {
            return Err(PortError::Unavailable("memory watchlists switched off".into()));
        }
        Ok(self.lists.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl WatchlistStore for MemoryWatchlists {
    fn put(&self, list: WatchlistRecord, previous: Option<WatchlistRecord>) -> BoxFuture<'_, Result<WatchlistWrite, PortError>> {
        Box::pin(async move {
            let mut g = self.lists()?;
            let verdict = admit(g.get(&list.watchlist_id), previous.as_ref(), &list, g.values());
            if verdict == WatchlistWrite::Written {
                g.insert(list.watchlist_id.clone(), list);
            }
            Ok(verdict)
        })
    }

    fn delete(&self, watchlist_id: &str) -> BoxFuture<'_, Result<bool, PortError>> {
        let id = watchlist_id.to_string();
        Box::pin(async move { Ok(self.lists()?.remove(&id).is_some()) })
    }

    fn watchlist(&self, watchlist_id: &str) -> Result<Option<WatchlistRecord>, PortError> {
        Ok(self.lists()?.get(watchlist_id).cloned())
    }

    fn watchlists_of(&self, account_id: &str) -> Result<Vec<WatchlistRecord>, PortError> {
        Ok(of_account(self.lists()?.values(), account_id))
    }
}
