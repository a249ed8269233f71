//! Matching: price-time priority, FOK pre-check, self-trade prevention, price band and the
//! stop-trigger cascade.
//!
//! Invariants:
//! - A taker meets the opposite side best price first and, within a level, the oldest
//!   order first. Every fill is at the resting (maker) order's price; a taker never fills
//!   beyond its limit. The book is never crossed at rest: a limit order rests only after
//!   matching stopped because the best opposite price is beyond its limit.
//! - Price band: the band is computed from the reference price (last trade, else the
//!   listing's reference) when a taker starts matching; the taker stops before any level
//!   outside the band and its rest is canceled (`PriceBand`), so no fill is ever outside
//!   that band. A triggered stop-limit whose limit is outside the band is canceled.
//! - FOK: a dry run over the same loop (limit, band, STP) decides first; an FOK that
//!   cannot fill completely is canceled with no side effect at all.
//! - Market orders (and triggered stops) never rest: their rest is canceled with
//!   `NoLiquidity` (or `PriceBand` / `SelfTradePrevention`). IOC rests are canceled with
//!   `ImmediateOrCancel`.
//! - Self-trade prevention compares accounts: `CancelNewest` cancels the taker's rest,
//!   `CancelOldest` cancels the resting order and continues, `CancelBoth` cancels both.
//! - Stop triggers fire on the trade tape. After each taker finishes matching, every
//!   pending buy stop with stop price `<=` the highest price it traded at and every sell
//!   stop with stop price `>=` the lowest price it traded at fires. Fired stops are
//!   ordered by their arrival sequence (oldest first), get fresh sequence numbers in that
//!   order, and are queued behind any stops already fired; each then matches as a market
//!   (stop) or limit (stop-limit) order and may fire more stops (a cascade, processed
//!   breadth-first). A new stop whose trigger the last trade already satisfies fires at
//!   once.
//!
//! Known limitations:
//! - No decrement-and-cancel STP mode; STP applies to accounts, not to finer groups.
//! - Stops are not re-checked against the band when they trigger (only stop-limit limits).

use std::collections::VecDeque;

use super::book::{terminal, Book};
use super::events::{BookEvent, CancelReason, ExecutionReport, Liquidity, OrderStatus, StatusDetail, Trade};
use super::ladder::Order;
use super::rules::StpMode;
use super::types::{OrderId, Side, TimeInForce};

/// Why a taker stopped matching.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Halt {
    Filled,
    /// No more opposite liquidity within the limit.
    Exhausted,
    /// The next level is outside the band.
    Band,
    /// Self-trade prevention canceled the taker.
    SelfTrade,
}

impl Book {
    /// Activates `first`, then every stop its trades fire, breadth-first, to completion.
    /// (The queue allocates only when a stop fires.)
    #[inline]
    pub(crate) fn run(&mut self, first: Order, out: &mut Vec<BookEvent>) {
        let Some((lo, hi)) = self.activate(first, out) else { return };
        if self.ladder.buy_stops.is_empty() && self.ladder.sell_stops.is_empty() {
            return;
        }
        let mut queue = VecDeque::new();
        self.fire_stops(lo, hi, &mut queue);
        while let Some(order) = queue.pop_front() {
            if let Some((lo, hi)) = self.activate_cold(order, out) {
                self.fire_stops(lo, hi, &mut queue);
            }
        }
    }

    /// `activate` for fired stops (kept out of line: the common path is `run`'s first call).
    #[inline(never)]
    fn activate_cold(&mut self, o: Order, out: &mut Vec<BookEvent>) -> Option<(i64, i64)> {
        self.activate(o, out)
    }

    /// Matches one active order and rests or cancels its rest. Returns the lowest and
    /// highest trade prices, if it traded.
    #[inline]
    fn activate(&mut self, mut o: Order, out: &mut Vec<BookEvent>) -> Option<(i64, i64)> {
        let band = self.compiled.band(self.reference_price());
        let limit = o.active_limit();
        if o.triggered {
            if let (Some((lo, hi)), Some(l)) = (band, limit) {
                if l < lo || l > hi {
                    out.push(terminal(&o, OrderStatus::Canceled, StatusDetail::Canceled(CancelReason::PriceBand)));
                    return None;
                }
            }
        }
        if o.tif == TimeInForce::Fok && self.fillable(&o, limit, band) < o.leaves {
            out.push(terminal(&o, OrderStatus::Canceled, StatusDetail::Canceled(CancelReason::FillOrKill)));
            return None;
        }
        let (halt, range) = self.take(&mut o, limit, band, out);
        if o.leaves > 0 {
            let reason = match halt {
                Halt::Filled => unreachable!("leaves > 0"),
                Halt::SelfTrade => Some(CancelReason::SelfTradePrevention),
                Halt::Band => Some(CancelReason::PriceBand),
                Halt::Exhausted if limit.is_none() => Some(CancelReason::NoLiquidity),
                Halt::Exhausted if o.tif == TimeInForce::Ioc => Some(CancelReason::ImmediateOrCancel),
                Halt::Exhausted if o.tif == TimeInForce::Fok => Some(CancelReason::FillOrKill),
                Halt::Exhausted => None,
            };
            match reason {
                Some(r) => out.push(terminal(&o, OrderStatus::Canceled, StatusDetail::Canceled(r))),
                None => self.ladder.insert(o),
            }
        }
        range
    }

    /// How much `o` would fill now (dry run of `take`, no side effects).
    fn fillable(&self, o: &Order, limit: Option<i64>, band: Option<(i64, i64)>) -> i64 {
        let opp = o.side.opposite();
        let mut acc = 0i64;
        for (price, level) in self.ladder.levels(opp).best_first() {
            if !within_limit(o.side, price, limit) || !within_band(price, band) {
                break;
            }
            for slot in &level.queue {
                let m = self.ladder.orders.at(*slot);
                if self.compiled.stp != StpMode::Off && m.account == o.account {
                    match self.compiled.stp {
                        StpMode::CancelOldest => continue,
                        _ => return acc,
                    }
                }
                acc += m.leaves;
                if acc >= o.leaves {
                    return acc;
                }
            }
        }
        acc
    }

    /// The matching loop.
    #[inline]
    fn take(
        &mut self,
        o: &mut Order,
        limit: Option<i64>,
        band: Option<(i64, i64)>,
        out: &mut Vec<BookEvent>,
    ) -> (Halt, Option<(i64, i64)>) {
        let opp = o.side.opposite();
        // Lowest and highest trade prices (empty while lo > hi): min / max, not a branch.
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        let halt = loop {
            if o.leaves == 0 {
                break Halt::Filled;
            }
            let Some((price, level)) = self.ladder.best(opp) else {
                break Halt::Exhausted;
            };
            if !within_limit(o.side, price, limit) {
                break Halt::Exhausted;
            }
            if !within_band(price, band) {
                break Halt::Band;
            }
            let maker_slot = *level.queue.front().expect("levels are never empty");
            let maker = self.ladder.orders.at_mut(maker_slot);
            if self.compiled.stp != StpMode::Off && maker.account == o.account {
                match self.compiled.stp {
                    StpMode::CancelNewest => break Halt::SelfTrade,
                    StpMode::CancelOldest | StpMode::CancelBoth => {
                        let m = self.ladder.remove_slot(maker_slot);
                        out.push(terminal(
                            &m,
                            OrderStatus::Canceled,
                            StatusDetail::Canceled(CancelReason::SelfTradePrevention),
                        ));
                        if self.compiled.stp == StpMode::CancelBoth {
                            break Halt::SelfTrade;
                        }
                        continue;
                    }
                    StpMode::Off => unreachable!(),
                }
            }
            let qty = o.leaves.min(maker.leaves);
            maker.leaves -= qty;
            maker.cum += qty;
            o.leaves -= qty;
            o.cum += qty;
            let trade_id = self.next_trade_id;
            self.next_trade_id += 1;
            let maker_exec = self.next_exec_id;
            self.next_exec_id += 2;
            out.push(report(maker, maker_exec, trade_id, Liquidity::Maker, qty, price));
            out.push(report(o, maker_exec + 1, trade_id, Liquidity::Taker, qty, price));
            out.push(BookEvent::Trade(Trade { trade_id, price, qty, aggressor: o.side }));
            let maker_done = maker.leaves == 0;
            self.last_trade = Some(price);
            lo = lo.min(price);
            hi = hi.max(price);
            self.ladder.levels_mut(opp).reduce_best(qty);
            if maker_done {
                self.ladder.discard_slot(maker_slot);
            }
        };
        (halt, (lo <= hi).then_some((lo, hi)))
    }

    /// Removes the stops fired by trades in `[lo, hi]` and queues them (see module doc).
    fn fire_stops(&mut self, lo: i64, hi: i64, queue: &mut VecDeque<Order>) {
        let mut fired: Vec<(u64, OrderId)> = Vec::new();
        fired.extend(self.ladder.buy_stops.range(..=(hi, u64::MAX)).map(|(&(_, s), &id)| (s, id)));
        fired.extend(self.ladder.sell_stops.range((lo, 0)..).map(|(&(_, s), &id)| (s, id)));
        if fired.is_empty() {
            return;
        }
        fired.sort_unstable();
        for (_, id) in fired {
            let mut o = self.ladder.remove(id).expect("indexed stop is live");
            o.triggered = true;
            o.seq = self.take_seq();
            queue.push_back(o);
        }
    }
}

fn within_limit(side: Side, price: i64, limit: Option<i64>) -> bool {
    match (side, limit) {
        (_, None) => true,
        (Side::Buy, Some(l)) => price <= l,
        (Side::Sell, Some(l)) => price >= l,
    }
}

fn within_band(price: i64, band: Option<(i64, i64)>) -> bool {
    band.is_none_or(|(lo, hi)| lo <= price && price <= hi)
}

#[inline]
fn report(o: &Order, exec_id: u64, trade_id: u64, liquidity: Liquidity, qty: i64, price: i64) -> BookEvent {
    BookEvent::Execution(ExecutionReport {
        exec_id,
        trade_id,
        order_id: o.id,
        account: o.account,
        client_order_id: o.client_order_id.clone(),
        side: o.side,
        liquidity,
        fill_qty: qty,
        fill_price: price,
        leaves_qty: o.leaves,
        cum_qty: o.cum,
        status: if o.leaves == 0 { OrderStatus::Filled } else { OrderStatus::PartiallyFilled },
    })
}
