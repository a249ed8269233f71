//! [`ActivityBook`]: the pure fold from the platform's topics to per-account activity
//! lists, shared by the in-memory port and the Kafka view (which only feeds it records).
//!
//! Sources (why these):
//! - **FILL and FEE** come from the accounts pipeline's own fill events on `orders.events`
//!   (`origin = ACCOUNTS`, status `PARTIALLY_FILLED` / `FILLED`, with `fill`). The accounts
//!   pipeline emits one in the same transaction in which it books the fill in the ledger,
//!   so an activity exists exactly when the account's cash and position moved: venue fills
//!   it refused (dead-lettered) never appear, which `executions` or the venue-origin
//!   events could not guarantee. The event's `fill` is the booked one (`fee` included, so
//!   FEE activities need no ledger parsing); `filled_qty` is the cumulative quantity.
//! - Those events carry no side and report `leaves_qty = 0`, so the book joins them with
//!   the order's command on `orders.commands` (side, ordered quantity; a replace inherits
//!   the side of the order it replaces). A fill read before its order's command is parked
//!   until the command arrives; the command is committed before any fill of its order, so
//!   once a view has caught up nothing it can show is parked. Known gap: for notional
//!   orders (no quantity) `leaves_qty` of a partial fill is reported as 0.
//! - **CSD / CSW** come from `funding.events` with status `COMPLETED` (requested, failed
//!   and rejected funding moved no money).
//!
//! Invariants: applying the same record twice changes nothing (activities are keyed by
//! their deterministic id); iteration is in ascending id order; an activity's account is
//! the account of the record it comes from (orders are joined per account, so another
//! account's command never supplies a side).

use super::model::{activity_id, Activity, ActivityDetail, ActivityType, CashActivity, FeeActivity, FillActivity};
use super::query::ActivityQuery;
use rust_decimal::Decimal;
use schemas::records::{
    FundingDirection, FundingEvent, FundingStatus, OrderCommand, OrderEvent, OrderEventOrigin, OrderInstruction, OrderStatus, Side,
};
use std::collections::{BTreeMap, HashMap};

/// What a fill needs from its order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct OrderFacts {
    side: Side,
    /// Ordered quantity; `None` for notional orders.
    qty: Option<Decimal>,
}

type OrderKey = (String, String);

/// Per-account activities, in memory.
#[derive(Default, Debug)]
pub struct ActivityBook {
    orders: HashMap<OrderKey, OrderFacts>,
    /// Booked fills whose order command has not been read yet.
    parked: HashMap<OrderKey, Vec<OrderEvent>>,
    accounts: HashMap<String, BTreeMap<String, Activity>>,
}

/// Is this the accounts pipeline's record of a booked fill?
fn is_booked_fill(e: &OrderEvent) -> bool {
    e.origin == Some(OrderEventOrigin::Accounts) && matches!(e.status, OrderStatus::PartiallyFilled | OrderStatus::Filled) && e.fill.is_some()
}

impl ActivityBook {
    pub fn new() -> Self {
        Self::default()
    }

    /// Folds an `orders.commands` record (places and replaces give fills their side).
    pub fn apply_command(&mut self, c: &OrderCommand) {
        let (order_id, facts) = match &c.body {
            OrderInstruction::PlaceOrder(p) => (p.order_id.clone(), OrderFacts { side: p.side, qty: p.qty }),
            OrderInstruction::ReplaceOrder(r) => {
                let Some(old) = self.orders.get(&(c.account_id.clone(), r.order_id.clone())).copied() else { return };
                (r.new_order_id.clone(), OrderFacts { side: old.side, qty: r.qty.or(old.qty) })
            }
            OrderInstruction::CancelOrder(_) => return,
        };
        let key = (c.account_id.clone(), order_id);
        self.orders.insert(key.clone(), facts);
        for e in self.parked.remove(&key).unwrap_or_default() {
            self.book_fill(&e, facts);
        }
    }

    /// Folds an `orders.events` record; only the accounts pipeline's booked fills count.
    pub fn apply_order_event(&mut self, e: &OrderEvent) {
        if !is_booked_fill(e) {
            return;
        }
        let key = (e.account_id.clone(), e.order_id.clone());
        match self.orders.get(&key).copied() {
            Some(facts) => self.book_fill(e, facts),
            None => self.parked.entry(key).or_default().push(e.clone()),
        }
    }

    /// Folds a `funding.events` record; only completed funding moved money.
    pub fn apply_funding(&mut self, e: &FundingEvent) {
        if e.status != FundingStatus::Completed {
            return;
        }
        let cash = |net_amount| CashActivity { funding_id: e.funding_id.clone(), net_amount };
        let (kind, detail) = match e.direction {
            FundingDirection::Deposit => (ActivityType::Csd, ActivityDetail::Deposit(cash(e.amount))),
            FundingDirection::Withdrawal => (ActivityType::Csw, ActivityDetail::Withdrawal(cash(-e.amount))),
        };
        self.insert(Activity { id: activity_id(kind, &e.funding_id, e.at_ns), account_id: e.account_id.clone(), at_ns: e.at_ns, detail });
    }

    /// Adds (or replaces, by id) one activity.
    pub fn insert(&mut self, a: Activity) {
        self.accounts.entry(a.account_id.clone()).or_default().insert(a.id.clone(), a);
    }

    /// One page per `query`.
    pub fn select(&self, query: &ActivityQuery) -> Vec<Activity> {
        self.accounts.get(&query.account_id).map_or_else(Vec::new, |m| query.select(m.values()))
    }

    /// Fills waiting for their order's command (should be 0 once caught up).
    pub fn parked(&self) -> usize {
        self.parked.values().map(Vec::len).sum()
    }

    fn book_fill(&mut self, e: &OrderEvent, facts: OrderFacts) {
        let Some(fill) = &e.fill else { return };
        let (order_status, leaves_qty) = if e.status == OrderStatus::Filled {
            (OrderStatus::Filled, Decimal::ZERO)
        } else {
            let leaves = facts.qty.and_then(|q| q.checked_sub(e.filled_qty)).map_or(e.leaves_qty, |l| l.max(Decimal::ZERO));
            (OrderStatus::PartiallyFilled, leaves)
        };
        self.insert(Activity {
            id: activity_id(ActivityType::Fill, &fill.fill_id, e.at_ns),
            account_id: e.account_id.clone(),
            at_ns: e.at_ns,
            detail: ActivityDetail::Fill(FillActivity {
                order_id: e.order_id.clone(),
                fill_id: fill.fill_id.clone(),
                symbol: e.symbol.clone(),
                side: facts.side,
                qty: fill.qty,
                price: fill.price,
                cum_qty: e.filled_qty,
                leaves_qty,
                order_status,
            }),
        });
        if !fill.fee.is_zero() {
            self.insert(Activity {
                id: activity_id(ActivityType::Fee, &fill.fill_id, e.at_ns),
                account_id: e.account_id.clone(),
                at_ns: e.at_ns,
                detail: ActivityDetail::Fee(FeeActivity {
                    order_id: e.order_id.clone(),
                    fill_id: fill.fill_id.clone(),
                    symbol: e.symbol.clone(),
                    net_amount: -fill.fee.abs(),
                }),
            });
        }
    }
}
