//! The in-memory state store of one input partition, with a transaction-scoped undo log.
//!
//! Invariants:
//! - Between two commits, every key touched is in the undo log exactly once, with its
//!   pre-transaction value.
//! - [`PartitionStore::rollback`] restores exactly the state at the last commit.
//! - [`PartitionStore::pending`] lists the touched keys in key order with their new values
//!   (`None` = deleted); the runtime writes them to the changelog, and once the transaction
//!   has committed, [`PartitionStore::mark_committed`] starts the next one.
//! - The store is a cache of the changelog: it is rebuilt from it on assignment and holds
//!   nothing the changelog does not.

use std::collections::BTreeMap;

/// State of one partition.
#[derive(Debug)]
pub struct PartitionStore<S> {
    data: BTreeMap<String, S>,
    /// Pre-transaction value of every key touched since the last commit.
    undo: BTreeMap<String, Option<S>>,
}

impl<S> Default for PartitionStore<S> {
    fn default() -> Self {
        Self { data: BTreeMap::new(), undo: BTreeMap::new() }
    }
}

impl<S: Clone> PartitionStore<S> {
    /// Loads a restored value (no undo, not dirty).
    pub fn restore(&mut self, key: String, value: Option<S>) {
        match value {
            Some(v) => {
                self.data.insert(key, v);
            }
            None => {
                self.data.remove(&key);
            }
        }
    }

    /// Runs `f` on the key's state, recording the prior value for rollback.
    pub fn update<R>(&mut self, key: &str, f: impl FnOnce(&mut Option<S>) -> R) -> R {
        let mut slot = self.data.remove(key);
        if !self.undo.contains_key(key) {
            self.undo.insert(key.to_string(), slot.clone());
        }
        let r = f(&mut slot);
        if let Some(v) = slot {
            self.data.insert(key.to_string(), v);
        }
        r
    }

    /// Current value of a key.
    pub fn get(&self, key: &str) -> Option<&S> {
        self.data.get(key)
    }

    /// Keys with state, in order.
    pub fn keys(&self) -> Vec<String> {
        self.data.keys().cloned().collect()
    }

    /// Number of keys with state.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the store holds no key.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The touched keys with their current values (`None` = deleted), in key order.
    pub fn pending(&self) -> Vec<(String, Option<S>)> {
        self.undo.keys().map(|k| (k.clone(), self.data.get(k).cloned())).collect()
    }

    /// Marks the pending changes as committed (after [`PartitionStore::pending`] was written).
    pub fn mark_committed(&mut self) {
        self.undo.clear();
    }

    /// Undoes every change since the last commit.
    pub fn rollback(&mut self) {
        for (k, v) in std::mem::take(&mut self.undo) {
            match v {
                Some(v) => {
                    self.data.insert(k, v);
                }
                None => {
                    self.data.remove(&k);
                }
            }
        }
    }

    /// A copy of all state (tests, debugging).
    pub fn snapshot(&self) -> BTreeMap<String, S> {
        self.data.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Op {
        Add(u8, i64),
        Delete(u8),
        Commit,
        Rollback,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u8..6, -5i64..5).prop_map(|(k, v)| Op::Add(k, v)),
            1 => (0u8..6).prop_map(Op::Delete),
            1 => Just(Op::Commit),
            1 => Just(Op::Rollback),
        ]
    }

    proptest! {
        /// The store equals a model that snapshots the whole map at each commit.
        #[test]
        fn matches_snapshot_model(ops in proptest::collection::vec(op(), 0..80)) {
            let mut store = PartitionStore::<i64>::default();
            let mut live: BTreeMap<String, i64> = BTreeMap::new();
            let mut committed = live.clone();
            let mut changelog: BTreeMap<String, i64> = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Add(k, v) => {
                        let k = format!("k{k}");
                        store.update(&k, |s| *s.get_or_insert(0) += v);
                        *live.entry(k).or_insert(0) += v;
                    }
                    Op::Delete(k) => {
                        let k = format!("k{k}");
                        store.update(&k, |s| *s = None);
                        live.remove(&k);
                    }
                    Op::Commit => {
                        // As the runtime does: write the pending changes, then mark them committed.
                        for (k, v) in store.pending() {
                            match v { Some(v) => { changelog.insert(k, v); } None => { changelog.remove(&k); } }
                        }
                        store.mark_committed();
                        committed = live.clone();
                    }
                    Op::Rollback => {
                        store.rollback();
                        live = committed.clone();
                    }
                }
                prop_assert_eq!(store.snapshot(), live.clone());
                // Replaying the changelog always rebuilds the last committed state.
                prop_assert_eq!(&changelog, &committed);
            }
        }
    }
}
