//! Live orders and the price ladders that index them.
//!
//! Layout (chosen for the hot path: enter, cancel, match at the touch):
//! - [`Orders`]: a slab (`Vec` of 64-byte aligned cells with a LIFO free list) holding
//!   every live order, plus `IdIndex`, an open-addressing table from [`OrderId`] to its
//!   [`Slot`] (8-byte buckets; see its doc). The hash is fixed (no random seed), the table
//!   is never iterated, and slot reuse is a pure function of the command history, so the
//!   layout itself is deterministic. Outputs only ever follow the price levels, the stop /
//!   expiry `BTreeMap`s, or explicitly sorted lists.
//! - [`Levels`]: one side's price levels in a `Vec` sorted so that the **best level is
//!   last** (bids ascending, asks descending), with a parallel dense `Vec` of sort keys for
//!   the binary search. The touch, where most activity happens, is the cheap end: the best
//!   level is `last()` (checked before any search), and an emptied best level is a `pop()`.
//! - [`Queue`]: a level's FIFO of slots (`u32`), not ids, so walking a level needs no
//!   lookup. Buffers of removed levels are kept for reuse (no allocation when a price
//!   level reappears).
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
//!   and a shift of `u32` slots).
//! - Inserting or removing a level away from the touch shifts the levels between it and the
//!   touch (cheap for the tens of levels a book has; a very deep book would want a tree).
//! - The id hash is not keyed: ids come from our own API (UUIDs), not from an adversary
//!   choosing them to collide.
//! - The slab never shrinks: it keeps the peak number of live orders' cells.

use std::collections::BTreeMap;
use std::ops::Index;

use super::types::{AccountId, OrderId, OrderType, Side, TimeInForce};

/// A live order (resting, or a stop waiting for its trigger), or a taker being matched.
///
/// `repr(C)` with the fields in this order so that, in a 64-byte aligned slab cell,
/// everything a cancel, a fill or an unlink reads sits in the first two cache lines; only
/// the stop price (read for pending stops) is in the third.
#[derive(Clone, Debug, PartialEq, Eq)]
#[repr(C)]
pub(crate) struct Order {
    pub id: OrderId,
    pub account: AccountId,
    pub limit: Option<i64>,
    /// Session close at which a day order expires.
    pub expires_at: Option<i64>,
    pub client_order_id: Option<String>,
    pub order_qty: i64,
    pub leaves: i64,
    pub cum: i64,
    /// Priority: arrival (or trigger) sequence number.
    pub seq: u64,
    pub side: Side,
    pub order_type: OrderType,
    pub tif: TimeInForce,
    /// A stop / stop-limit whose trigger has fired.
    pub triggered: bool,
    pub stop: Option<i64>,
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

/// The id index: order id -> slot, open addressing with linear probing and backward-shift
/// deletion (no tombstones), a power-of-two table at most a third full (short probe runs:
/// the probe loops are branchy, and at half full they mispredicted often).
///
/// Each bucket is 8 bytes: a 32-bit fingerprint (the top half of the id's hash) and the
/// slot. A fingerprint match is confirmed against the id stored in the slab, so the table
/// stays small (32 KiB for a thousand orders, mostly L1-resident), which matters because
/// every command probes it (duplicate check, cancel, resting, filling). The bucket a key starts
/// from is the top bits of the same hash, so it is recomputed from the fingerprint alone
/// when the table grows or an entry shifts back.
///
/// The hash is a fixed (unseeded) multiplicative hash, so the table behaves the same on
/// every run; it is never iterated.
#[derive(Clone, Debug, Default)]
struct IdIndex {
    table: Vec<Bucket>,
    len: usize,
    /// `32 - log2(table.len())`: the fingerprint's top bits pick the home bucket.
    shift: u32,
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    fp: u32,
    /// `VACANT` for an empty bucket.
    slot: u32,
}

const VACANT: u32 = u32::MAX;
const EMPTY: Bucket = Bucket { fp: 0, slot: VACANT };

#[inline]
fn fingerprint(id: &OrderId) -> u32 {
    let (lo, hi) = (id.0 as u64, (id.0 >> 64) as u64);
    ((lo ^ hi.rotate_left(32)).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as u32
}

impl IdIndex {
    #[inline]
    fn home(&self, fp: u32) -> usize {
        (fp >> self.shift) as usize
    }

    #[inline]
    fn mask(&self) -> usize {
        self.table.len() - 1
    }

    /// The bucket whose entry satisfies `is_it` among those with fingerprint `fp`.
    #[inline]
    fn find(&self, fp: u32, mut is_it: impl FnMut(u32) -> bool) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let mut i = self.home(fp);
        loop {
            let b = self.table[i];
            if b.slot == VACANT {
                return None;
            }
            if b.fp == fp && is_it(b.slot) {
                return Some(i);
            }
            i = (i + 1) & self.mask();
        }
    }

    /// Adds an entry (the caller guarantees the id is not present).
    #[inline]
    fn insert(&mut self, fp: u32, slot: u32) {
        if (self.len + 1) * 3 > self.table.len() {
            self.grow();
        }
        let mut i = self.home(fp);
        while self.table[i].slot != VACANT {
            i = (i + 1) & self.mask();
        }
        self.table[i] = Bucket { fp, slot };
        self.len += 1;
    }

    /// Empties bucket `i`, shifting back later entries of its probe run as needed.
    #[inline]
    fn remove_at(&mut self, mut i: usize) {
        let mut j = i;
        loop {
            j = (j + 1) & self.mask();
            let b = self.table[j];
            if b.slot == VACANT {
                break;
            }
            let k = self.home(b.fp);
            // Entry `j` may move back to `i` unless its home lies cyclically in (i, j].
            let stays = if i <= j { i < k && k <= j } else { i < k || k <= j };
            if !stays {
                self.table[i] = b;
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
        self.shift = 32 - cap.trailing_zeros();
        self.len = 0;
        for b in old.into_iter().filter(|b| b.slot != VACANT) {
            self.insert(b.fp, b.slot);
        }
    }
}

/// One slab cell, aligned to a cache line (see [`Order`]'s layout).
#[derive(Clone, Debug)]
#[repr(align(64))]
struct Cell(Option<Order>);

/// Every live order: a slab plus an id index.
#[derive(Clone, Debug, Default)]
pub(crate) struct Orders {
    slots: Vec<Cell>,
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
    fn id_at(&self, slot: u32) -> Option<OrderId> {
        self.slots[slot as usize].0.as_ref().map(|o| o.id)
    }

    #[inline]
    pub fn slot_of(&self, id: &OrderId) -> Option<Slot> {
        let fp = fingerprint(id);
        self.index.find(fp, |s| self.id_at(s) == Some(*id)).map(|i| Slot(self.index.table[i].slot))
    }

    #[inline]
    pub fn contains_key(&self, id: &OrderId) -> bool {
        self.slot_of(id).is_some()
    }

    #[inline]
    pub fn get(&self, id: &OrderId) -> Option<&Order> {
        self.slot_of(id).map(|s| self.at(s))
    }

    #[inline]
    pub fn at(&self, s: Slot) -> &Order {
        self.slots[s.0 as usize].0.as_ref().expect("slot of a live order")
    }

    #[inline]
    pub fn at_mut(&mut self, s: Slot) -> &mut Order {
        self.slots[s.0 as usize].0.as_mut().expect("slot of a live order")
    }

    /// Live orders in slot order (deterministic, but not meaningful: sort before output).
    pub fn values(&self) -> impl Iterator<Item = &Order> {
        self.slots.iter().filter_map(|c| c.0.as_ref())
    }

    /// Stores a live order (whose id must not be live) and indexes it.
    #[inline]
    fn alloc(&mut self, o: Order) -> Slot {
        let fp = fingerprint(&o.id);
        let slot = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize].0 = Some(o);
                i
            }
            None => {
                let i = u32::try_from(self.slots.len()).ok().filter(|&i| i != VACANT).expect("fewer than 2^32 - 1 live orders");
                self.slots.push(Cell(Some(o)));
                i
            }
        };
        self.index.insert(fp, slot);
        Slot(slot)
    }

    /// Unindexes the order in `s` (still in its cell) and frees the slot.
    #[inline]
    fn unindex(&mut self, s: Slot) {
        let fp = fingerprint(&self.at(s).id);
        let i = self.index.find(fp, |x| x == s.0).expect("live orders are indexed");
        self.index.remove_at(i);
        self.free.push(s.0);
    }

    /// Drops the order in `s` in place and frees the slot.
    #[inline]
    fn discard(&mut self, s: Slot) {
        self.unindex(s);
        self.slots[s.0 as usize].0 = None;
    }

    /// Takes the order out of `s` and frees the slot.
    #[inline]
    fn release(&mut self, s: Slot) -> Order {
        self.unindex(s);
        self.slots[s.0 as usize].0.take().expect("slot of a live order")
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

/// A level's FIFO of order slots: a `Vec` whose live part starts at `head`.
///
/// Fills take from the front (`head` advances, no shifting); new orders append; a cancel
/// scans the contiguous live slice and closes the gap by shifting the orders behind it. The dead
/// prefix is dropped when the queue empties or when it outgrows the live part.
#[derive(Clone, Debug, Default)]
pub(crate) struct Queue {
    buf: Vec<Slot>,
    head: usize,
}

impl Queue {
    #[inline]
    pub fn len(&self) -> usize {
        self.buf.len() - self.head
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.head == self.buf.len()
    }

    #[inline]
    pub fn iter(&self) -> std::slice::Iter<'_, Slot> {
        self.buf[self.head..].iter()
    }

    #[inline]
    pub fn front(&self) -> Option<&Slot> {
        self.buf.get(self.head)
    }

    #[inline]
    fn push_back(&mut self, s: Slot) {
        if self.head >= 16 && self.head * 2 >= self.buf.len() {
            self.buf.drain(..self.head);
            self.head = 0;
        }
        self.buf.push(s);
    }

    #[inline]
    fn settle(&mut self) {
        if self.is_empty() {
            self.buf.clear();
            self.head = 0;
        }
    }

    /// Removes `s` (if queued), keeping the others in order.
    #[inline]
    fn remove(&mut self, s: Slot) {
        let live = &mut self.buf[self.head..];
        let Some(pos) = live.iter().position(|x| *x == s) else { return };
        // The front (every fill, some cancels) is O(1); anything else closes the gap from
        // the back (one predictable path rather than a coin-flip between two).
        if pos == 0 {
            self.head += 1;
        } else {
            live.copy_within(pos + 1.., pos);
            self.buf.pop();
        }
        self.settle();
    }

    fn replace(&mut self, old: Slot, new: Slot) {
        if let Some(x) = self.buf[self.head..].iter_mut().find(|x| **x == old) {
            *x = new;
        }
    }

    fn into_buf(mut self) -> Vec<Slot> {
        self.buf.clear();
        self.buf
    }
}

impl<'a> IntoIterator for &'a Queue {
    type Item = &'a Slot;
    type IntoIter = std::slice::Iter<'a, Slot>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// One price level: FIFO queue of order slots and their total leaves.
#[derive(Clone, Debug, Default)]
pub(crate) struct Level {
    pub queue: Queue,
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
    spare: Vec<Vec<Slot>>,
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
                let queue = Queue { buf: self.spare.pop().unwrap_or_default(), head: 0 };
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
        level.queue.remove(slot);
        level.qty -= leaves;
        if level.queue.is_empty() {
            let (_, level) = self.v.remove(i);
            self.keys.remove(i);
            self.spare.push(level.queue.into_buf());
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
            level.queue.replace(old_slot, new_slot);
            level.qty += leaves - o.leaves;
        }
    }
}


#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn order(id: u128) -> Order {
        Order {
            id: OrderId(id),
            account: AccountId(0),
            limit: Some(1),
            expires_at: None,
            client_order_id: None,
            order_qty: 1,
            leaves: 1,
            cum: 0,
            seq: 0,
            side: Side::Buy,
            order_type: OrderType::Limit,
            tif: TimeInForce::Gtc,
            triggered: false,
            stop: None,
        }
    }

    /// The slab and its id index against a `BTreeMap` under random inserts and removes,
    /// with ids varying in the low half, the high half or everywhere (dense probe runs,
    /// wrap-around, growth).
    #[test]
    fn orders_agree_with_a_map() {
        let mut rng = StdRng::seed_from_u64(7);
        for kind in 0..3 {
            let mut orders = Orders::default();
            let mut model: BTreeMap<OrderId, Slot> = BTreeMap::new();
            for n in 0..30_000u32 {
                let id = match kind {
                    0 => rng.random_range(0..2_000u128),
                    1 => rng.random_range(0..2_000u128) << 64 | 5,
                    _ => rng.random(),
                };
                if rng.random_bool(0.55) {
                    if let std::collections::btree_map::Entry::Vacant(e) = model.entry(OrderId(id)) {
                        e.insert(orders.alloc(order(id)));
                    }
                } else if !model.is_empty() {
                    let k = *model.keys().nth(rng.random_range(0..model.len())).unwrap();
                    let s = model.remove(&k).unwrap();
                    if n % 2 == 0 {
                        orders.discard(s);
                    } else {
                        assert_eq!(orders.release(s).id, k);
                    }
                    assert_eq!(orders.slot_of(&k), None);
                }
                assert_eq!(orders.len(), model.len());
                if n % 97 == 0 {
                    for (k, v) in &model {
                        assert_eq!(orders.slot_of(k), Some(*v));
                        assert_eq!(orders.at(*v).id, *k);
                    }
                }
                assert_eq!(orders.slot_of(&OrderId(id)), model.get(&OrderId(id)).copied());
            }
        }
    }
}
