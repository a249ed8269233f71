//! Live orders and the price ladders that index them.
//!
//! Layout (chosen for the hot path: enter, cancel, match at the touch):
//! - [`Orders`]: a slab (`Vec` of slots with a LIFO free list) holding every live order,
//!   plus a hash index from [`OrderId`] to its [`Slot`]. The hasher is fixed (no random
//!   seed), and nothing that reaches an output ever iterates the hash index: outputs only
//!   follow the price levels, the stop / expiry `BTreeMap`s, or explicitly sorted lists.
//!   Slot reuse is LIFO and a pure function of the command history, so the layout itself
//!   is deterministic too.
//! - [`Levels`]: one side's price levels in a `Vec` sorted so that the **best level is
//!   last** (bids ascending, asks descending). The touch, where nearly all activity
//!   happens, is the cheap end: the best level is `last()`, and an emptied best level is a
//!   `pop()`. Each level's FIFO queue holds slots (`u32`), not ids, so walking a level
//!   needs no hash lookup. Queues of removed levels are kept for reuse (no allocation when
//!   a price level reappears).
//!
//! Invariants (checked by the property tests after every command):
//! - Every live order is in `orders` and in exactly one index: a price level of its side
//!   (resting) or the stop index of its side (waiting for its trigger). Day orders are
//!   also in `day_expiry`.
//! - A level's `qty` is the sum of its orders' leaves; empty levels are removed.
//! - Within a level, orders are in ascending `seq` (FIFO), except that a replace which
//!   keeps priority keeps its predecessor's place and `seq`.
//! - Every live order has `leaves > 0`.
//! - Equality of two ladders is logical (same orders, same levels with the same queues of
//!   order ids, same indexes), independent of slot numbers and spare capacity.
//!
//! Known limitations:
//! - Removing an order from the middle of a level is linear in the level's length (a scan
//!   of `u32` slots).
//! - Inserting or removing a level away from the touch shifts the levels between it and the
//!   touch (cheap for the tens of levels a book has; a very deep book would want a tree).
//! - The id hash is not keyed: ids come from our own API (UUIDs), not from an adversary
//!   choosing them to collide.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Index;

use super::types::{AccountId, OrderId, OrderType, Side, TimeInForce};

/// A live order (resting, or a stop waiting for its trigger), or a taker being matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Order {
    pub id: OrderId,
    pub account: AccountId,
    pub client_order_id: Option<String>,
    pub side: Side,
    pub order_type: OrderType,
    pub tif: TimeInForce,
    pub order_qty: i64,
    pub limit: Option<i64>,
    pub stop: Option<i64>,
    pub leaves: i64,
    pub cum: i64,
    /// Priority: arrival (or trigger) sequence number.
    pub seq: u64,
    /// Session close at which a day order expires.
    pub expires_at: Option<i64>,
    /// A stop / stop-limit whose trigger has fired.
    pub triggered: bool,
}

impl Order {
    /// A stop or stop-limit still waiting for its trigger.
    #[inline]
    pub fn is_pending_stop(&self) -> bool {
        self.order_type.has_stop() && !self.triggered
    }

    /// The limit the order matches with now (`None` = market).
    #[inline]
    pub fn active_limit(&self) -> Option<i64> {
        match self.order_type {
            OrderType::Limit | OrderType::StopLimit => self.limit,
            OrderType::Market | OrderType::Stop => None,
        }
    }
}

/// Where a live order sits in the [`Orders`] slab.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Slot(u32);

/// Order id -> slot: open addressing with linear probing and backward-shift deletion
/// (no tombstones), sized to a power of two at most half full.
///
/// A fixed (unseeded) multiplicative hash, so it behaves the same on every run. It is never
/// iterated. Written out here rather than using `HashMap` because this index is on every
/// command's path (duplicate check, insert, cancel, fill) and a specialised table for a
/// 128-bit key and a 32-bit value probes a flat array of 24-byte entries with no SIMD
/// group scan or generic hashing.
#[derive(Clone, Debug, Default)]
struct IdIndex {
    table: Vec<Entry>,
    len: usize,
    /// `64 - log2(table.len())`: the hash's top bits pick the home bucket.
    shift: u32,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    lo: u64,
    hi: u64,
    /// `VACANT` for an empty bucket.
    slot: u32,
}

const VACANT: u32 = u32::MAX;
const EMPTY: Entry = Entry { lo: 0, hi: 0, slot: VACANT };

impl IdIndex {
    #[inline]
    fn home(&self, lo: u64, hi: u64) -> usize {
        // Fibonacci hashing of a fold of both halves.
        ((lo ^ hi.rotate_left(32)).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    #[inline]
    fn split(id: &OrderId) -> (u64, u64) {
        (id.0 as u64, (id.0 >> 64) as u64)
    }

    /// The bucket holding `id`, if any.
    #[inline]
    fn find(&self, id: &OrderId) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let (lo, hi) = Self::split(id);
        let mask = self.table.len() - 1;
        let mut i = self.home(lo, hi);
        loop {
            let e = &self.table[i];
            if e.slot == VACANT {
                return None;
            }
            if e.lo == lo && e.hi == hi {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
    }

    #[inline]
    fn get(&self, id: &OrderId) -> Option<Slot> {
        self.find(id).map(|i| Slot(self.table[i].slot))
    }

    /// Inserts `id` (which must not be present).
    #[inline]
    fn insert(&mut self, id: OrderId, slot: Slot) {
        if (self.len + 1) * 2 > self.table.len() {
            self.grow();
        }
        let (lo, hi) = Self::split(&id);
        let mask = self.table.len() - 1;
        let mut i = self.home(lo, hi);
        while self.table[i].slot != VACANT {
            debug_assert!(!(self.table[i].lo == lo && self.table[i].hi == hi), "duplicate id");
            i = (i + 1) & mask;
        }
        self.table[i] = Entry { lo, hi, slot: slot.0 };
        self.len += 1;
    }

    /// Removes `id` if present (backward-shift deletion keeps every probe chain intact).
    #[inline]
    fn remove(&mut self, id: &OrderId) {
        let Some(mut i) = self.find(id) else { return };
        let mask = self.table.len() - 1;
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            let e = self.table[j];
            if e.slot == VACANT {
                break;
            }
            let k = self.home(e.lo, e.hi);
            // Entry `j` may move back to `i` unless its home lies cyclically in (i, j].
            let stays = if i <= j { i < k && k <= j } else { i < k || k <= j };
            if !stays {
                self.table[i] = e;
                i = j;
            }
        }
        self.table[i] = EMPTY;
        self.len -= 1;
    }

    #[cold]
    fn grow(&mut self) {
        let cap = (self.table.len() * 2).max(64);
        let old = std::mem::replace(&mut self.table, vec![EMPTY; cap]);
        self.shift = 64 - cap.trailing_zeros();
        self.len = 0;
        for e in old.into_iter().filter(|e| e.slot != VACANT) {
            self.insert(OrderId((e.hi as u128) << 64 | e.lo as u128), Slot(e.slot));
        }
    }
}

/// Every live order: a slab plus an id index.
#[derive(Clone, Debug, Default)]
pub(crate) struct Orders {
    slots: Vec<Option<Order>>,
    free: Vec<u32>,
    index: IdIndex,
}

impl Orders {
    /// Number of live orders.
    #[inline]
    pub fn len(&self) -> usize {
        self.index.len
    }

    #[inline]
    pub fn slot_of(&self, id: &OrderId) -> Option<Slot> {
        self.index.get(id)
    }

    #[inline]
    pub fn contains_key(&self, id: &OrderId) -> bool {
        self.index.find(id).is_some()
    }

    #[inline]
    pub fn get(&self, id: &OrderId) -> Option<&Order> {
        self.slot_of(id).map(|s| self.at(s))
    }

    #[inline]
    pub fn at(&self, s: Slot) -> &Order {
        self.slots[s.0 as usize].as_ref().expect("slot of a live order")
    }

    #[inline]
    pub fn at_mut(&mut self, s: Slot) -> &mut Order {
        self.slots[s.0 as usize].as_mut().expect("slot of a live order")
    }

    /// Live orders in slot order (deterministic, but not meaningful: sort before output).
    pub fn values(&self) -> impl Iterator<Item = &Order> {
        self.slots.iter().flatten()
    }

    #[inline]
    fn alloc(&mut self, o: Order) -> Slot {
        let id = o.id;
        let slot = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(o);
                Slot(i)
            }
            None => {
                let i = u32::try_from(self.slots.len()).expect("fewer than 2^32 live orders");
                self.slots.push(Some(o));
                Slot(i)
            }
        };
        self.index.insert(id, slot);
        slot
    }

    /// Drops the order in `s` in place and frees the slot.
    #[inline]
    fn discard(&mut self, s: Slot) {
        let slot = &mut self.slots[s.0 as usize];
        let id = slot.as_ref().expect("slot of a live order").id;
        *slot = None;
        self.index.remove(&id);
        self.free.push(s.0);
    }

    #[inline]
    fn release(&mut self, s: Slot) -> Order {
        let o = self.slots[s.0 as usize].take().expect("slot of a live order");
        self.index.remove(&o.id);
        self.free.push(s.0);
        o
    }
}

impl Index<&OrderId> for Orders {
    type Output = Order;
    fn index(&self, id: &OrderId) -> &Order {
        self.get(id).expect("live order id")
    }
}

impl Index<&Slot> for Orders {
    type Output = Order;
    fn index(&self, s: &Slot) -> &Order {
        self.at(*s)
    }
}

impl PartialEq for Orders {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.values().all(|o| other.get(&o.id) == Some(o))
    }
}

impl Eq for Orders {}

/// One price level: FIFO queue of order slots and their total leaves.
#[derive(Clone, Debug, Default)]
pub(crate) struct Level {
    pub queue: VecDeque<Slot>,
    pub qty: i64,
}

/// One side's price levels, sorted so that the best level is last.
#[derive(Clone, Debug)]
pub(crate) struct Levels {
    /// Bids ascending, asks descending (best last).
    v: Vec<(i64, Level)>,
    /// `rank` of each price in `v` (ascending): a dense array for the binary search.
    keys: Vec<i64>,
    is_bid: bool,
    /// Emptied queues kept for reuse.
    spare: Vec<VecDeque<Slot>>,
}

impl Levels {
    fn new(is_bid: bool) -> Self {
        Levels { v: Vec::new(), keys: Vec::new(), is_bid, spare: Vec::new() }
    }

    /// Sort key: ascending towards the best price. Prices are positive (validated), so
    /// the negation cannot overflow.
    #[inline]
    fn rank(&self, price: i64) -> i64 {
        if self.is_bid {
            price
        } else {
            -price
        }
    }

    /// `Ok(index)` of the level at `price`, or `Err(insertion index)`.
    #[inline]
    fn find(&self, price: i64) -> Result<usize, usize> {
        // The touch is by far the most frequent target: check it before searching.
        if let Some((p, _)) = self.v.last() {
            if *p == price {
                return Ok(self.v.len() - 1);
            }
        }
        self.keys.binary_search(&self.rank(price))
    }

    /// The best level.
    #[inline]
    pub fn best(&self) -> Option<(i64, &Level)> {
        self.v.last().map(|(p, l)| (*p, l))
    }

    /// The level at `price`.
    pub fn get(&self, price: i64) -> Option<&Level> {
        self.find(price).ok().map(|i| &self.v[i].1)
    }

    /// Levels from the best outwards.
    pub fn best_first(&self) -> impl Iterator<Item = (i64, &Level)> {
        self.v.iter().rev().map(|(p, l)| (*p, l))
    }

    /// Levels from the worst to the best.
    pub fn iter(&self) -> LevelIter<'_> {
        self.v.iter().map(pair as fn(&(i64, Level)) -> (&i64, &Level))
    }

    /// Appends `slot` (with `leaves` open lots) to the back of the level at `price`.
    #[inline]
    fn push_back(&mut self, price: i64, slot: Slot, leaves: i64) {
        let i = match self.find(price) {
            Ok(i) => i,
            Err(i) => {
                let queue = self.spare.pop().unwrap_or_default();
                self.v.insert(i, (price, Level { queue, qty: 0 }));
                self.keys.insert(i, self.rank(price));
                i
            }
        };
        let level = &mut self.v[i].1;
        level.queue.push_back(slot);
        level.qty += leaves;
    }

    /// Removes `slot` (with `leaves` open lots) from the level at `price`; drops the level
    /// if it becomes empty.
    #[inline]
    fn remove(&mut self, price: i64, slot: Slot, leaves: i64) {
        let Ok(i) = self.find(price) else { return };
        let level = &mut self.v[i].1;
        if level.queue.front() == Some(&slot) {
            level.queue.pop_front();
        } else if let Some(pos) = level.queue.iter().position(|x| *x == slot) {
            level.queue.remove(pos);
        }
        level.qty -= leaves;
        if level.queue.is_empty() {
            let (_, level) = self.v.remove(i);
            self.keys.remove(i);
            self.spare.push(level.queue);
        }
    }

    /// Reduces the best level's quantity (a fill of one of its orders).
    #[inline]
    pub fn reduce_best(&mut self, qty: i64) {
        if let Some((_, l)) = self.v.last_mut() {
            l.qty -= qty;
        }
    }

    #[inline]
    fn level_mut(&mut self, price: i64) -> Option<&mut Level> {
        self.find(price).ok().map(|i| &mut self.v[i].1)
    }
}

fn pair(e: &(i64, Level)) -> (&i64, &Level) {
    (&e.0, &e.1)
}

/// Iterator over `(price, level)`, worst to best.
pub(crate) type LevelIter<'a> =
    std::iter::Map<std::slice::Iter<'a, (i64, Level)>, fn(&'a (i64, Level)) -> (&'a i64, &'a Level)>;

impl<'a> IntoIterator for &'a Levels {
    type Item = (&'a i64, &'a Level);
    type IntoIter = LevelIter<'a>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// All live orders and their indexes.
#[derive(Clone, Debug)]
pub(crate) struct Ladder {
    pub orders: Orders,
    pub bids: Levels,
    pub asks: Levels,
    /// Pending buy stops by (stop price, seq).
    pub buy_stops: BTreeMap<(i64, u64), OrderId>,
    /// Pending sell stops by (stop price, seq).
    pub sell_stops: BTreeMap<(i64, u64), OrderId>,
    /// Day orders by (session close, seq).
    pub day_expiry: BTreeMap<(i64, u64), OrderId>,
}

impl Default for Ladder {
    fn default() -> Self {
        Ladder {
            orders: Orders::default(),
            bids: Levels::new(true),
            asks: Levels::new(false),
            buy_stops: BTreeMap::new(),
            sell_stops: BTreeMap::new(),
            day_expiry: BTreeMap::new(),
        }
    }
}

impl PartialEq for Ladder {
    fn eq(&self, other: &Self) -> bool {
        let ids = |l: &Ladder, levels: &Levels| -> Vec<(i64, i64, Vec<OrderId>)> {
            levels.v.iter().map(|(p, lv)| (*p, lv.qty, lv.queue.iter().map(|s| l.orders.at(*s).id).collect())).collect()
        };
        self.orders == other.orders
            && ids(self, &self.bids) == ids(other, &other.bids)
            && ids(self, &self.asks) == ids(other, &other.asks)
            && self.buy_stops == other.buy_stops
            && self.sell_stops == other.sell_stops
            && self.day_expiry == other.day_expiry
    }
}

impl Eq for Ladder {}

impl Ladder {
    #[inline]
    pub fn levels(&self, side: Side) -> &Levels {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    #[inline]
    pub fn levels_mut(&mut self, side: Side) -> &mut Levels {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    fn stops_mut(&mut self, side: Side) -> &mut BTreeMap<(i64, u64), OrderId> {
        match side {
            Side::Buy => &mut self.buy_stops,
            Side::Sell => &mut self.sell_stops,
        }
    }

    /// Best price on `side` (highest bid, lowest ask).
    #[inline]
    pub fn best(&self, side: Side) -> Option<(i64, &Level)> {
        self.levels(side).best()
    }

    /// Inserts a live order at the back of its level, or into the stop index.
    #[inline]
    pub fn insert(&mut self, o: Order) {
        if let Some(close) = o.expires_at {
            self.day_expiry.insert((close, o.seq), o.id);
        }
        if o.is_pending_stop() {
            let stop = o.stop.expect("stop orders carry a stop price");
            self.stops_mut(o.side).insert((stop, o.seq), o.id);
            self.orders.alloc(o);
        } else {
            let price = o.limit.expect("resting orders carry a limit price");
            let (side, leaves) = (o.side, o.leaves);
            let slot = self.orders.alloc(o);
            self.levels_mut(side).push_back(price, slot, leaves);
        }
    }

    /// Removes a live order from every index and returns it.
    pub fn remove(&mut self, id: OrderId) -> Option<Order> {
        let slot = self.orders.slot_of(&id)?;
        Some(self.remove_slot(slot))
    }

    /// Removes the live order in `slot` from every index and returns it.
    pub fn remove_slot(&mut self, slot: Slot) -> Order {
        self.unlink(slot);
        self.orders.release(slot)
    }

    /// Removes the live order in `slot` from every index and drops it in place (no move
    /// of the order: use this when the caller has already read what it needs).
    #[inline]
    pub fn discard_slot(&mut self, slot: Slot) {
        self.unlink(slot);
        self.orders.discard(slot);
    }

    /// Removes the order in `slot` from the level / stop and expiry indexes (not from
    /// `orders`).
    #[inline]
    fn unlink(&mut self, slot: Slot) {
        let o = self.orders.at(slot);
        let (side, seq, leaves, expires_at, limit, stop) = (o.side, o.seq, o.leaves, o.expires_at, o.limit, o.stop);
        let pending = o.is_pending_stop();
        if let Some(close) = expires_at {
            self.day_expiry.remove(&(close, seq));
        }
        if pending {
            let stop = stop.expect("stop orders carry a stop price");
            self.stops_mut(side).remove(&(stop, seq));
        } else {
            let price = limit.expect("resting orders carry a limit price");
            self.levels_mut(side).remove(price, slot, leaves);
        }
    }

    /// Swaps `old` for `new` in place (same level position or stop slot, same `seq`),
    /// adjusting the level quantity. `new` must have the same side, prices and `seq`.
    pub fn swap_in_place(&mut self, old: OrderId, new: Order) {
        let old_slot = self.orders.slot_of(&old).expect("swap of a live order");
        let o = self.orders.release(old_slot);
        debug_assert_eq!((o.seq, o.side, o.limit, o.stop), (new.seq, new.side, new.limit, new.stop));
        if let Some(close) = new.expires_at {
            self.day_expiry.insert((close, new.seq), new.id);
        }
        let pending = new.is_pending_stop();
        let (side, limit, stop, seq, id, leaves) = (new.side, new.limit, new.stop, new.seq, new.id, new.leaves);
        let new_slot = self.orders.alloc(new);
        if pending {
            let stop = stop.expect("stop orders carry a stop price");
            self.stops_mut(side).insert((stop, seq), id);
        } else {
            let price = limit.expect("resting orders carry a limit price");
            let level = self.levels_mut(side).level_mut(price).expect("level of a live order");
            if let Some(x) = level.queue.iter_mut().find(|x| **x == old_slot) {
                *x = new_slot;
            }
            level.qty += leaves - o.leaves;
        }
    }
}


#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// The id index against a `BTreeMap` under random inserts and removes, with ids drawn
    /// from a small range (dense probe chains, wrap-around, growth).
    #[test]
    fn id_index_agrees_with_a_map() {
        let mut rng = StdRng::seed_from_u64(7);
        for range in [50u128, 1_000, u128::MAX] {
            let mut idx = IdIndex::default();
            let mut model = BTreeMap::new();
            for n in 0..20_000u32 {
                let id = OrderId(if range == u128::MAX { rng.random() } else { rng.random_range(0..range) << 64 | 3 });
                if rng.random_bool(0.55) {
                    if !model.contains_key(&id) {
                        idx.insert(id, Slot(n));
                        model.insert(id, Slot(n));
                    }
                } else if let Some(&k) = model.keys().nth(rng.random_range(0..model.len().max(1)).min(model.len().saturating_sub(1))) {
                    idx.remove(&k);
                    model.remove(&k);
                    assert_eq!(idx.get(&k), None);
                }
                assert_eq!(idx.len, model.len());
                if n % 97 == 0 {
                    for (k, v) in &model {
                        assert_eq!(idx.get(k), Some(*v));
                    }
                }
                assert_eq!(idx.get(&id), model.get(&id).copied());
            }
        }
    }
}
