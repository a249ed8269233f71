//! [`NotificationsView`]: the `NotificationFeed` port, derived from events; there is no
//! `notifications` topic. A follower of `orders.events` and `funding.events` (both keyed
//! by account id, `read_committed`, from the beginning) turns the events a user cares
//! about into notifications with [`of_order_event`] / [`of_funding_event`] (pure).
//!
//! What notifies:
//! - orders: the accounts pipeline's events (`origin = ACCOUNTS`: what was booked; the
//!   venue's own events on the same topic would duplicate them) that end or change an
//!   order for the user: partially filled, filled, canceled, expired, rejected;
//! - funding: deposits and withdrawals completed, failed or rejected (not `REQUESTED`:
//!   the user just made the request).
//! - Account and system notifications have no source yet.
//!
//! Invariants: the notification id is `order:<event_id>` / `funding:<event_id>`, so the
//! same event never notifies twice (re-reading is idempotent) and ids are stable across
//! restarts; `at_ns` is the event's; reads are newest first (ties by id, descending, as
//! `api::platform_memory`) and answer `Unavailable` until the follower caught up. The feed
//! is rebuilt from the topics' retention at every start (nothing is marked read).

use crate::api_kafka::follow::{Decoder, Fold};
use api::ports::PortError;
use api::v1::ports::{Notification, NotificationFeed, NotificationKind};
use schemas::records::{FundingDirection, FundingEvent, FundingStatus, OrderEvent, OrderEventOrigin, OrderStatus};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;

/// The followed topics (unprefixed), in the `topic` index order [`Fold::apply`] receives.
pub const TOPICS: [&str; 2] = ["orders.events", "funding.events"];
const ORDERS: usize = 0;
const FUNDING: usize = 1;

/// The notification an order event gives, if any.
pub fn of_order_event(e: &OrderEvent) -> Option<Notification> {
    if e.origin != Some(OrderEventOrigin::Accounts) {
        return None;
    }
    let what = match e.status {
        OrderStatus::PartiallyFilled | OrderStatus::Filled => {
            let verb = if e.status == OrderStatus::Filled { "filled" } else { "partially filled" };
            match &e.fill {
                Some(f) => format!("{verb}: {} at {}", f.qty.normalize(), f.price.normalize()),
                None => verb.to_string(),
            }
        }
        OrderStatus::Canceled => "canceled".to_string(),
        OrderStatus::Expired => "expired".to_string(),
        OrderStatus::Rejected => match &e.reason {
            Some(r) => format!("rejected ({r:?})"),
            None => "rejected".to_string(),
        },
        OrderStatus::PendingNew | OrderStatus::New | OrderStatus::Replaced | OrderStatus::PendingCancel | OrderStatus::PendingReplace => return None,
    };
    let name = e.client_order_id.as_deref().unwrap_or(&e.order_id);
    Some(Notification {
        notification_id: format!("order:{}", e.event_id),
        account_id: e.account_id.clone(),
        at_ns: e.at_ns,
        kind: NotificationKind::Order,
        message: format!("{} order {name} {what}", e.symbol),
    })
}

/// The notification a funding event gives, if any.
pub fn of_funding_event(e: &FundingEvent) -> Option<Notification> {
    let status = match e.status {
        FundingStatus::Requested => return None,
        FundingStatus::Completed => "completed",
        FundingStatus::Failed => "failed",
        FundingStatus::Rejected => "rejected",
    };
    let direction = match e.direction {
        FundingDirection::Deposit => "Deposit",
        FundingDirection::Withdrawal => "Withdrawal",
    };
    let reason = e.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
    Some(Notification {
        notification_id: format!("funding:{}", e.event_id),
        account_id: e.account_id.clone(),
        at_ns: e.at_ns,
        kind: NotificationKind::Funding,
        message: format!("{direction} {} of {} {status}{reason}", e.funding_id, e.amount.normalize()),
    })
}

/// Per account: notifications by `(at_ns, notification_id)`.
type ByAccount = HashMap<String, BTreeMap<(i64, String), Notification>>;

#[derive(Default)]
pub struct NotificationsView {
    by_account: RwLock<ByAccount>,
    ready: AtomicBool,
}

impl NotificationsView {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    /// Adds one notification (idempotent per id and time).
    pub fn add(&self, n: Notification) {
        let mut g = self.by_account.write().unwrap_or_else(|p| p.into_inner());
        g.entry(n.account_id.clone()).or_default().insert((n.at_ns, n.notification_id.clone()), n);
    }
}

impl Fold for NotificationsView {
    fn apply(&self, topic: usize, key: Option<&[u8]>, value: Option<&[u8]>, decoder: &Decoder, stop: &AtomicBool) {
        let Some(v) = value else { return };
        let skipped = |what: &str, e: &dyn std::fmt::Display| {
            tracing::warn!(key = ?key.map(String::from_utf8_lossy), error = %e, "notifications view: undecodable {what} skipped")
        };
        let n = match topic {
            ORDERS => match decoder.decode::<OrderEvent>(v, stop) {
                Ok(e) => of_order_event(&e),
                Err(e) => return skipped("order event", &e),
            },
            FUNDING => match decoder.decode::<FundingEvent>(v, stop) {
                Ok(e) => of_funding_event(&e),
                Err(e) => return skipped("funding event", &e),
            },
            other => {
                tracing::warn!(topic = other, "notifications view: record of an unexpected topic index skipped");
                return;
            }
        };
        if let Some(n) = n {
            self.add(n);
        }
    }

    fn caught_up(&self) {
        self.ready.store(true, Ordering::SeqCst);
    }
}

impl NotificationFeed for NotificationsView {
    fn notifications(&self, account_id: &str) -> Result<Vec<Notification>, PortError> {
        if !self.is_ready() {
            return Err(PortError::Unavailable("notifications view is catching up".into()));
        }
        let g = self.by_account.read().unwrap_or_else(|p| p.into_inner());
        Ok(g.get(account_id).map(|m| m.values().rev().cloned().collect()).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;
    use schemas::records::{OrderFill, OrderReason};
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn event(status: OrderStatus, origin: OrderEventOrigin) -> OrderEvent {
        OrderEvent {
            event_id: "e1".into(),
            account_id: "acc-1".into(),
            order_id: "o1".into(),
            client_order_id: Some("mine".into()),
            symbol: "AAPL".into(),
            at_ns: 7,
            status,
            reason: None,
            filled_qty: d("2"),
            leaves_qty: Decimal::ZERO,
            avg_fill_price: None,
            replaced_by: None,
            message: None,
            origin: Some(origin),
            event_type: None,
            fill: Some(OrderFill { fill_id: "x".into(), qty: d("2.00"), price: d("10.50"), fee: Decimal::ZERO, settlement_date: Some(1) }),
            new_qty: None,
            new_limit_price: None,
            new_stop_price: None,
        }
    }

    #[test]
    fn booked_order_events_notify_once_and_venue_ones_not_at_all() {
        let n = of_order_event(&event(OrderStatus::Filled, OrderEventOrigin::Accounts)).unwrap();
        assert_eq!((n.kind, n.notification_id.as_str(), n.at_ns), (NotificationKind::Order, "order:e1", 7));
        assert_eq!(n.message, "AAPL order mine filled: 2 at 10.5");
        assert!(of_order_event(&event(OrderStatus::Filled, OrderEventOrigin::Venue)).is_none());
        assert!(of_order_event(&event(OrderStatus::New, OrderEventOrigin::Accounts)).is_none());
        let mut rejected = event(OrderStatus::Rejected, OrderEventOrigin::Accounts);
        rejected.reason = Some(OrderReason::InsufficientBuyingPower);
        assert!(of_order_event(&rejected).unwrap().message.contains("rejected"));
    }

    #[test]
    fn funding_outcomes_notify_and_requests_do_not() {
        let mut e = FundingEvent {
            event_id: "f1".into(),
            account_id: "acc-1".into(),
            funding_id: "dep-1".into(),
            direction: FundingDirection::Deposit,
            status: FundingStatus::Completed,
            amount: d("100.00"),
            reason: None,
            at_ns: 5,
        };
        assert_eq!(of_funding_event(&e).unwrap().message, "Deposit dep-1 of 100 completed");
        e.status = FundingStatus::Requested;
        assert!(of_funding_event(&e).is_none());
        e.status = FundingStatus::Rejected;
        e.direction = FundingDirection::Withdrawal;
        e.reason = Some("insufficient funds".into());
        assert_eq!(of_funding_event(&e).unwrap().message, "Withdrawal dep-1 of 100 rejected: insufficient funds");
    }

    #[test]
    fn newest_first_per_account_and_idempotent() {
        let v = NotificationsView::new();
        for (id, at) in [("a", 1), ("b", 3), ("c", 2), ("b", 3)] {
            v.add(Notification { notification_id: id.into(), account_id: "x".into(), at_ns: at, kind: NotificationKind::System, message: String::new() });
        }
        assert!(matches!(v.notifications("x"), Err(PortError::Unavailable(_))));
        v.caught_up();
        let ids: Vec<String> = v.notifications("x").unwrap().into_iter().map(|n| n.notification_id).collect();
        assert_eq!(ids, ["b", "c", "a"]);
        assert!(v.notifications("y").unwrap().is_empty());
    }
}
