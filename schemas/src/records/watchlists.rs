//! Watchlists (compacted topic `watchlists`, key `watchlist_id`; a tombstone deletes).

use serde::{Deserialize, Serialize};

/// A named, ordered list of symbols owned by one account.
///
/// Invariants (kept by the API, the only writer): `name` is unique among the account's
/// watchlists; `symbols` holds no duplicates and keeps insertion order;
/// `created_at_ns <= updated_at_ns`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchlistRecord {
    pub watchlist_id: String,
    pub account_id: String,
    pub name: String,
    pub symbols: Vec<String>,
    pub created_at_ns: i64,
    pub updated_at_ns: i64,
}
