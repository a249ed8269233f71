//! [`ActivitiesView`]: the `ActivityView` port on Kafka: `orders.commands`,
//! `orders.events` and `funding.events` (all keyed by account id), followed
//! `read_committed` from the beginning by [`super::follow`], folded by
//! [`api::activities::ActivityBook`] (which documents why fills come from the accounts
//! pipeline's own fill events and how they are joined with their orders).
//!
//! Invariants: the view holds every activity of every account in memory (bounded by the
//! topics' retention); reads answer `Unavailable` until the follower has caught up with
//! the ends it observed at start (a half-read list would page with gaps); applying a
//! record twice changes nothing, so re-reading from the beginning is always safe.
//! Undecodable records are logged and skipped, as in every view.

use super::follow::{Decoder, Fold};
use api::activities::{Activity, ActivityBook, ActivityQuery};
use api::ports::{ActivityView, PortError};
use schemas::records::{FundingEvent, OrderCommand, OrderEvent};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{RwLock, RwLockWriteGuard};

/// The followed topics (unprefixed), in the order of the `topic` index [`Fold::apply`]
/// receives: pass [`topics`] to `follow::spawn`.
pub const TOPICS: [&str; 3] = ["orders.commands", "orders.events", "funding.events"];
const COMMANDS: usize = 0;
const EVENTS: usize = 1;
const FUNDING: usize = 2;

/// [`TOPICS`] with the `--topic-prefix`.
pub fn topics(prefix: &str) -> Vec<String> {
    TOPICS.iter().map(|t| crate::catalog::prefixed(prefix, t).to_string()).collect()
}

/// Every account's activities.
#[derive(Default)]
pub struct ActivitiesView {
    book: RwLock<ActivityBook>,
    ready: AtomicBool,
}

impl ActivitiesView {
    pub fn new() -> Self {
        Self::default()
    }

    fn book(&self) -> RwLockWriteGuard<'_, ActivityBook> {
        self.book.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Fills still waiting for their order's command (0 once consistent; for health).
    pub fn parked(&self) -> usize {
        self.book.read().unwrap_or_else(|p| p.into_inner()).parked()
    }
}

impl Fold for ActivitiesView {
    fn apply(&self, topic: usize, key: Option<&[u8]>, value: Option<&[u8]>, decoder: &Decoder, stop: &AtomicBool) {
        let Some(v) = value else { return };
        let skipped = |what: &str, e: &dyn std::fmt::Display| {
            tracing::warn!(key = ?key.map(String::from_utf8_lossy), error = %e, "activities view: undecodable {what} skipped")
        };
        match topic {
            COMMANDS => match decoder.decode::<OrderCommand>(v, stop) {
                Ok(c) => self.book().apply_command(&c),
                Err(e) => skipped("order command", &e),
            },
            EVENTS => match decoder.decode::<OrderEvent>(v, stop) {
                Ok(e) => self.book().apply_order_event(&e),
                Err(e) => skipped("order event", &e),
            },
            FUNDING => match decoder.decode::<FundingEvent>(v, stop) {
                Ok(e) => self.book().apply_funding(&e),
                Err(e) => skipped("funding event", &e),
            },
            other => tracing::warn!(topic = other, "activities view: record of an unexpected topic index skipped"),
        }
    }

    fn caught_up(&self) {
        self.ready.store(true, Ordering::SeqCst);
    }
}

impl ActivityView for ActivitiesView {
    fn activities(&self, query: &ActivityQuery) -> Result<Vec<Activity>, PortError> {
        if !self.ready.load(Ordering::SeqCst) {
            return Err(PortError::Unavailable("activities view is catching up".into()));
        }
        Ok(self.book.read().unwrap_or_else(|p| p.into_inner()).select(query))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;
    use rust_decimal::Decimal;
    use schemas::records::*;
    use std::str::FromStr;
    use std::sync::Arc;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    /// A decoder on an embedded registry, as `tradeflow api --registry embedded` has.
    pub(crate) fn decoder(rt: &tokio::runtime::Runtime) -> Decoder {
        let registry = Registry::embedded();
        let codec = Arc::new(rt.block_on(registry.codec()).unwrap());
        Decoder { codec, registry, rt: rt.handle().clone() }
    }

    #[test]
    fn topics_are_prefixed_in_fold_order() {
        assert_eq!(topics("t1."), vec!["t1.orders.commands", "t1.orders.events", "t1.funding.events"]);
    }

    #[test]
    fn folds_encoded_records_and_is_unavailable_until_caught_up() {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let dec = decoder(&rt);
        let stop = AtomicBool::new(false);
        let view = ActivitiesView::new();
        let place = OrderCommand {
            command_id: "c1".into(),
            account_id: "acc-1".into(),
            issued_at_ns: 1_000,
            body: OrderInstruction::PlaceOrder(PlaceOrder {
                order_id: "o1".into(),
                client_order_id: None,
                symbol: "AAPL".into(),
                side: Side::Sell,
                order_type: OrderType::Market,
                time_in_force: TimeInForce::Day,
                qty: Some(d("2")),
                notional: None,
                limit_price: None,
                stop_price: None,
                instrument: None,
                reference_price: None,
                extended_hours: false,
            }),
        };
        let fill = OrderEvent {
            event_id: "e1".into(),
            account_id: "acc-1".into(),
            order_id: "o1".into(),
            client_order_id: None,
            symbol: "AAPL".into(),
            at_ns: 2_000_000,
            status: OrderStatus::Filled,
            reason: None,
            filled_qty: d("2"),
            leaves_qty: Decimal::ZERO,
            avg_fill_price: None,
            replaced_by: None,
            message: None,
            origin: Some(OrderEventOrigin::Accounts),
            event_type: Some(OrderEventType::Filled),
            fill: Some(OrderFill { fill_id: "x1".into(), qty: d("2"), price: d("10.5"), fee: d("0.01"), settlement_date: Some(1) }),
            new_qty: None,
            new_limit_price: None,
            new_stop_price: None,
        };
        let deposit = FundingEvent {
            event_id: "f1".into(),
            account_id: "acc-1".into(),
            funding_id: "dep-1".into(),
            direction: FundingDirection::Deposit,
            status: FundingStatus::Completed,
            amount: d("100"),
            reason: None,
            at_ns: 500,
        };
        let key = Some(&b"acc-1"[..]);
        // The fill is read before its command (different topics): it waits.
        view.apply(EVENTS, key, Some(&dec.codec.encode(&fill).unwrap()), &dec, &stop);
        view.apply(FUNDING, key, Some(&dec.codec.encode(&deposit).unwrap()), &dec, &stop);
        view.apply(COMMANDS, key, Some(&dec.codec.encode(&place).unwrap()), &dec, &stop);
        view.apply(FUNDING, key, Some(b"not avro"), &dec, &stop);
        view.apply(EVENTS, key, None, &dec, &stop);
        let q = ActivityQuery::all("acc-1");
        assert!(matches!(view.activities(&q), Err(PortError::Unavailable(_))));
        view.caught_up();
        let got = view.activities(&q).unwrap();
        let kinds: Vec<&str> = got.iter().map(|a| a.activity_type().code()).collect();
        assert_eq!(kinds.len(), 3);
        assert_eq!(kinds[2], "CSD", "oldest last: {kinds:?}");
        assert!(kinds.contains(&"FILL") && kinds.contains(&"FEE"));
        assert_eq!(view.parked(), 0);
        match &got.iter().find(|a| a.activity_type().code() == "FILL").unwrap().detail {
            api::activities::ActivityDetail::Fill(f) => assert_eq!((f.side, f.qty, f.price), (Side::Sell, d("2"), d("10.5"))),
            other => panic!("{other:?}"),
        }
        assert!(view.activities(&ActivityQuery::all("acc-2")).unwrap().is_empty());
    }
}
