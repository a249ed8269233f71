//! `accounts`: the accounts operator (ledger, buying-power holds, pre-trade risk) bound to
//! its topics, keyed by account id.
//!
//! Inputs (all keyed by `account_id`, co-partitioned): `accounts.commands`
//! (AccountCommand), `funding.commands` (FundingCommand), `orders.commands` (OrderCommand)
//! and `orders.events` (OrderEvent: the venue's fills and its canceled / expired / rejected
//! / replaced reports). `executions` is **not** an input (see the ordering invariant
//! below); it stays an output of matching for the portfolio pipeline, ClickHouse and
//! clients. Outputs: `orders.routed` (RoutedOrder,
//! key symbol), `orders.events`, `ledger`, `funding.events`, `accounts.snapshots`
//! (compacted), dead letters on `dlq`; state in the compacted `accounts.changelog`
//! (AccountState, key account_id). Every topic name can carry a prefix (test isolation).
//!
//! Design choices (see also the schema docs of the fields added for this pipeline):
//! - **Ordering invariant: fills and closes come from one ordered stream.** Kafka orders
//!   records only within a partition of one topic. The venue publishes every event of an
//!   order (each fill's `PARTIALLY_FILLED` / `FILLED`, then at most one terminal
//!   `CANCELED` / `EXPIRED` / `REJECTED` / `REPLACED`) on `orders.events`, keyed by account,
//!   from the one transaction of the matching instance that owns the symbol, in book order
//!   (see `crate::catalog::matching` and `operators::venue`). Booking fills from those
//!   events (not from `executions`, which has no ordering relative to `orders.events`)
//!   guarantees that a fill is booked before the event that closes its order, so a fill is
//!   never refused as "order ... is not open" because a later close overtook it.
//!   Upgrading from a build that booked `executions`: run the new matching first and let
//!   the old accounts drain its `executions` lag before starting the new one.
//! - **Own events come back.** `orders.events` is both an output and an input. Only events
//!   with `origin = VENUE` are booked: `PARTIALLY_FILLED` / `FILLED` as a fill (needs `fill`,
//!   schema v3: `fill_id` = the execution id, `qty`, `price`, `fee`; its `settlement_date`
//!   is ignored, the operator computes it), `CANCELED`, `EXPIRED`, `REJECTED` (a refused
//!   replace when `replaced_by` is set: the replacement id is reported) and `REPLACED`
//!   (needs `replaced_by` and `new_qty`). Events with `origin = ACCOUNTS` (this pipeline's
//!   own, which also carry a `fill`), without an origin, and venue acks / pending statuses
//!   decode to [`BoundInput::Ignore`], which touches no state and emits nothing. The
//!   matching pipeline must therefore set `origin = VENUE`.
//! - **Ids.** The pure operator's outputs carry no ids of their own besides ledger entry
//!   ids, so [`AccountsBinding`] tags each output with the id of the input that caused it
//!   (the command's `command_id`, the venue event's `event_id`) and
//!   its index among that input's outputs. Order and funding `event_id` = `<source>/<index>`;
//!   routed records carry the order command's `command_id`. Unique as long as input ids
//!   are (the API and the engine generate unique ids). Deterministic on replay.
//! - **Dead letters.** Records the binding cannot express in the operator's closed
//!   vocabulary fail `decode` with [`DecodeFailure::Invalid`] and the runtime dead-letters
//!   them (with partition, offset and headers): a KYC tier outside 1..=3, time in force
//!   `OPG` / `CLS`, not exactly one of qty / notional, a replace without `qty` or with a
//!   `time_in_force` (the operator cannot change it), a venue `REPLACED` without
//!   `replaced_by` / `new_qty`, a venue `PARTIALLY_FILLED` / `FILLED` without `fill` (a
//!   pre-v3 venue: its fill would otherwise be lost silently), a record on an unexpected
//!   topic (`executions` included). Inputs that contradict
//!   state (the operator's `InvalidInput`: unknown order, duplicate fill, unknown funding,
//!   ...) are only known after processing, so they are encoded as a `DeadLetter` value on
//!   the same `dlq` topic inside the same transaction: `error_kind = INVALID`, the raw
//!   input bytes, `source_partition = source_offset = -1` (the runtime does not pass them
//!   to the pipeline), `failed_at_ns` = the input's event time (deterministic), no headers.
//! - **Lossy corners** (documented, deterministic): an absent `client_order_id` becomes the
//!   order id (the operator refuses duplicate client ids among open orders, so an empty
//!   default would refuse every second order); order events of the accounts pipeline
//!   report `leaves_qty = 0` and no `avg_fill_price` (the operator's events do not carry
//!   them; `filled_qty` is set on fills); routed orders carry no instrument snapshot or
//!   reference price (matching keeps its own instrument state); a snapshot's position
//!   `qty` is available + held and `held_qty` the held part.
//! - **Event time** = the command's `issued_at_ns`, the venue event's `at_ns`.
//! - **Close marks** (AccountState v2 / AccountSnapshot v3) and the **funding since the
//!   close** (AccountState v3 / AccountSnapshot v4, `funding_since_close`): the operator's
//!   `CloseMarks`; the snapshot publishes the funding only with a close (`close_at_ns`),
//!   like `close_cash`. A v2 (or v1) changelog record has no funding figure: it is
//!   restored as unknown (`None`, published as `null`, so the API gives no `day_pl`)
//!   until the next close resets it, unless the ledger proves that no funding ever
//!   happened (no entry ever posted: `ledger_seq = 0`), when it is exactly `0`.
//!
//! Invariants: [`Accounts::decode`] / [`Accounts::encode`] are pure functions of their
//! arguments; `encode_state` followed by `decode_state` returns an equal `AccountState`.

use super::{name_list, prefixed};
use crate::spec::{DecodeFailure, OutRecord, Pipeline};
use operators::accounts::{
    self as acc, AccountInput, AccountOutput, AccountState, AccountsOperator, Date, EntrySide, Ledger,
    LedgerAccount, OpenOrder, OrderEventKind, OrderSize, PendingChange, PendingFunding, PendingReplace, Unit,
};
use operators::{Operator, PunctuationKind, PunctuationSchedule, Timestamp};
use rust_decimal::Decimal;
use schemas::records as w;
use schemas::{Codec, CodecError};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

pub const ACCOUNTS_COMMANDS: &str = "accounts.commands";
pub const FUNDING_COMMANDS: &str = "funding.commands";
pub const ORDERS_COMMANDS: &str = "orders.commands";
pub const ORDER_EVENTS: &str = "orders.events";
pub const ROUTED: &str = "orders.routed";
pub const LEDGER: &str = "ledger";
pub const FUNDING_EVENTS: &str = "funding.events";
pub const SNAPSHOTS: &str = "accounts.snapshots";
pub const CHANGELOG: &str = "accounts.changelog";

/// The (possibly prefixed) topic names of one pipeline copy.
#[derive(Clone, Copy, Debug)]
pub struct Topics {
    pub accounts_commands: &'static str,
    pub funding_commands: &'static str,
    pub orders_commands: &'static str,
    pub order_events: &'static str,
    pub routed: &'static str,
    pub ledger: &'static str,
    pub funding_events: &'static str,
    pub snapshots: &'static str,
    pub changelog: &'static str,
}

/// The pipeline. Group id `<prefix>accounts`.
pub struct Accounts {
    op: AccountsBinding,
    name: &'static str,
    inputs: &'static [&'static str],
    topics: Topics,
}

impl Default for Accounts {
    fn default() -> Self {
        Self::with_prefix("")
    }
}

impl Accounts {
    /// Topics `<prefix>accounts.commands` etc., group `<prefix>accounts`, default operator
    /// config with the US-equities session calendar (for the close marks). The names are
    /// leaked once per call: build one per process.
    pub fn with_prefix(prefix: &str) -> Self {
        let sessions = operators::matching::CalendarRules::us_equities().compile().expect("the built-in calendar is valid");
        Self::with_sessions(prefix, sessions)
    }

    /// Like [`Accounts::with_prefix`], marking cash and shares at the closes of `sessions`
    /// (the venue's calendar: `tradeflow run accounts --calendar FILE`).
    pub fn with_sessions(prefix: &str, sessions: operators::matching::SessionCalendar) -> Self {
        Self::with_config(prefix, AccountsOperator::new(acc::AccountsConfig { sessions, ..acc::AccountsConfig::default() }))
    }

    /// Like [`Accounts::with_prefix`] with an explicit operator (its config must be the
    /// same on every instance and on replay).
    pub fn with_config(prefix: &str, inner: AccountsOperator) -> Self {
        let leak = |name: &str| prefixed(prefix, name);
        let topics = Topics {
            accounts_commands: leak(ACCOUNTS_COMMANDS),
            funding_commands: leak(FUNDING_COMMANDS),
            orders_commands: leak(ORDERS_COMMANDS),
            order_events: leak(ORDER_EVENTS),
            routed: leak(ROUTED),
            ledger: leak(LEDGER),
            funding_events: leak(FUNDING_EVENTS),
            snapshots: leak(SNAPSHOTS),
            changelog: leak(CHANGELOG),
        };
        let inputs = vec![
            topics.accounts_commands,
            topics.funding_commands,
            topics.orders_commands,
            topics.order_events,
        ];
        Accounts { op: AccountsBinding { inner }, name: leak("accounts"), inputs: name_list(inputs), topics }
    }

    /// The topic names.
    pub fn topics(&self) -> &Topics {
        &self.topics
    }
}

// ---------------------------------------------------------------------------------------
// The binding operator: the pure accounts operator plus input ids.
// ---------------------------------------------------------------------------------------

/// What the binding knows about the input record behind an operator call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// `command_id` or venue `event_id` of the input.
    pub source_id: String,
    /// Event time (ns).
    pub time_ns: i64,
    /// `extended_hours` of a place-order command (copied to the routed order).
    pub extended_hours: bool,
    /// Topic and raw value of the input, kept for dead-lettering an `InvalidInput`.
    pub topic: String,
    pub raw: Vec<u8>,
}

/// A decoded input of the accounts pipeline.
// `Apply` is the variant of nearly every record; boxing it would add an allocation per
// input to save memory only on the rare `Ignore`.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BoundInput {
    /// An input for the operator.
    Apply(Envelope, AccountInput),
    /// A record the accounts operator does not book (its own order events, venue acks).
    /// Touches no state, emits nothing.
    Ignore {
        /// Event time (ns), still advances stream time.
        time_ns: i64,
    },
}

/// An operator output tagged with the input it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoundOutput {
    /// Id of the input (or `punctuation:<account>:<ns>`).
    pub source_id: String,
    /// Index of this output among the input's outputs (0-based).
    pub index: u32,
    /// Event time of the call (ns).
    pub time_ns: i64,
    /// `extended_hours` of the place-order command, for the routed order.
    pub extended_hours: bool,
    /// `(topic, raw value)` of the input, set on `InvalidInput` outputs only.
    pub dead_letter: Option<(String, Vec<u8>)>,
    /// The operator's output.
    pub output: AccountOutput,
}

/// [`AccountsOperator`] with input ids threaded to the outputs. Pure and deterministic:
/// outputs are the inner operator's, in order, each tagged; state is the inner state.
#[derive(Clone, Debug, Default)]
pub struct AccountsBinding {
    pub inner: AccountsOperator,
}

impl Operator for AccountsBinding {
    type Key = String;
    type Input = BoundInput;
    type State = AccountState;
    type Output = BoundOutput;

    fn process(&self, key: &String, state: &mut Option<AccountState>, input: BoundInput, time: Timestamp, out: &mut Vec<BoundOutput>) {
        let BoundInput::Apply(env, input) = input else { return };
        let mut buf = Vec::new();
        self.inner.process(key, state, input, time, &mut buf);
        for (i, output) in buf.into_iter().enumerate() {
            let dead_letter = matches!(output, AccountOutput::InvalidInput { .. }).then(|| (env.topic.clone(), env.raw.clone()));
            out.push(BoundOutput {
                source_id: env.source_id.clone(),
                index: i as u32,
                time_ns: time.nanos(),
                extended_hours: env.extended_hours,
                dead_letter,
                output,
            });
        }
    }

    fn punctuation(&self) -> PunctuationSchedule {
        self.inner.punctuation()
    }

    fn punctuate(&self, key: &String, state: &mut Option<AccountState>, time: Timestamp, kind: PunctuationKind, out: &mut Vec<BoundOutput>) {
        let mut buf = Vec::new();
        self.inner.punctuate(key, state, time, kind, &mut buf);
        let source_id = format!("punctuation:{key}:{}", time.nanos());
        for (i, output) in buf.into_iter().enumerate() {
            out.push(BoundOutput { source_id: source_id.clone(), index: i as u32, time_ns: time.nanos(), extended_hours: false, dead_letter: None, output });
        }
    }
}

// ---------------------------------------------------------------------------------------
// Wire -> domain.
// ---------------------------------------------------------------------------------------

fn invalid(msg: impl Into<String>) -> DecodeFailure {
    DecodeFailure::Invalid(msg.into())
}

fn kyc_status(s: w::KycStatus) -> acc::KycStatus {
    match s {
        w::KycStatus::Pending => acc::KycStatus::Pending,
        w::KycStatus::Approved => acc::KycStatus::Verified,
        w::KycStatus::Rejected => acc::KycStatus::Rejected,
    }
}

fn kyc_tier(t: i32) -> Result<acc::KycTier, DecodeFailure> {
    match t {
        1 => Ok(acc::KycTier::Tier1),
        2 => Ok(acc::KycTier::Tier2),
        3 => Ok(acc::KycTier::Tier3),
        other => Err(invalid(format!("kyc_tier must be 1, 2 or 3, got {other}"))),
    }
}

fn account_status(s: w::AccountStatus) -> acc::AccountStatus {
    match s {
        w::AccountStatus::Active => acc::AccountStatus::Active,
        w::AccountStatus::Restricted => acc::AccountStatus::Restricted,
        w::AccountStatus::Deactivated => acc::AccountStatus::Deactivated,
    }
}

fn side(s: w::Side) -> acc::Side {
    match s {
        w::Side::Buy => acc::Side::Buy,
        w::Side::Sell => acc::Side::Sell,
    }
}

fn order_type(t: w::OrderType) -> acc::OrderType {
    match t {
        w::OrderType::Market => acc::OrderType::Market,
        w::OrderType::Limit => acc::OrderType::Limit,
        w::OrderType::Stop => acc::OrderType::Stop,
        w::OrderType::StopLimit => acc::OrderType::StopLimit,
    }
}

fn tif(t: w::TimeInForce) -> Result<acc::TimeInForce, String> {
    match t {
        w::TimeInForce::Day => Ok(acc::TimeInForce::Day),
        w::TimeInForce::Gtc => Ok(acc::TimeInForce::Gtc),
        w::TimeInForce::Ioc => Ok(acc::TimeInForce::Ioc),
        w::TimeInForce::Fok => Ok(acc::TimeInForce::Fok),
        other => Err(format!("time in force {other:?} is not supported by the accounts operator")),
    }
}

fn instrument_status(s: w::InstrumentStatus) -> acc::InstrumentStatus {
    match s {
        w::InstrumentStatus::Listed => acc::InstrumentStatus::Listed,
        w::InstrumentStatus::Halted => acc::InstrumentStatus::Halted,
        w::InstrumentStatus::Delisted => acc::InstrumentStatus::Delisted,
    }
}

/// The wire snapshot has no symbol: it is the order's.
fn instrument(i: Option<w::InstrumentSnapshot>, symbol: &str, reference_price: Option<Decimal>) -> Option<acc::InstrumentSnapshot> {
    i.map(|i| acc::InstrumentSnapshot {
        symbol: symbol.to_string(),
        status: instrument_status(i.status),
        tick_size: i.tick_size,
        lot_size: i.lot_size,
        min_qty: i.min_qty,
        max_order_notional: i.max_order_notional,
        reference_price,
    })
}

fn place(p: w::PlaceOrder) -> Result<acc::PlaceOrder, DecodeFailure> {
    let size = match (p.qty, p.notional) {
        (Some(q), None) => OrderSize::Qty(q),
        (None, Some(n)) => OrderSize::Notional(n),
        _ => return Err(invalid(format!("order {}: exactly one of qty / notional must be set", p.order_id))),
    };
    Ok(acc::PlaceOrder {
        client_order_id: p.client_order_id.unwrap_or_else(|| p.order_id.clone()),
        instrument: instrument(p.instrument, &p.symbol, p.reference_price),
        order_id: p.order_id,
        symbol: p.symbol,
        side: side(p.side),
        order_type: order_type(p.order_type),
        tif: tif(p.time_in_force).map_err(invalid)?,
        size,
        limit_price: p.limit_price,
        stop_price: p.stop_price,
    })
}

fn replace(r: w::ReplaceOrder) -> Result<acc::ReplaceOrder, DecodeFailure> {
    let Some(qty) = r.qty else {
        return Err(invalid(format!("replace of {}: qty is required", r.order_id)));
    };
    if let Some(t) = r.time_in_force {
        return Err(invalid(format!("replace of {}: changing the time in force ({t:?}) is not supported", r.order_id)));
    }
    // The operator compares the snapshot's symbol with the open order's: a replace whose
    // snapshot names no symbol is refused as UNKNOWN_INSTRUMENT.
    let symbol = r.symbol.unwrap_or_default();
    Ok(acc::ReplaceOrder {
        new_client_order_id: r.client_order_id.unwrap_or_else(|| r.new_order_id.clone()),
        instrument: instrument(r.instrument, &symbol, r.reference_price),
        order_id: r.order_id,
        new_order_id: r.new_order_id,
        qty,
        limit_price: r.limit_price,
        stop_price: r.stop_price,
    })
}

fn venue_event(e: w::OrderEvent) -> Result<Option<acc::ExecutionReport>, DecodeFailure> {
    use acc::ExecutionReport as X;
    if e.origin != Some(w::OrderEventOrigin::Venue) {
        return Ok(None);
    }
    Ok(match e.status {
        w::OrderStatus::PartiallyFilled | w::OrderStatus::Filled => {
            let Some(f) = e.fill else {
                return Err(invalid(format!("venue {:?} event {} carries no fill", e.status, e.event_id)));
            };
            Some(X::Fill { order_id: e.order_id, fill_id: f.fill_id, qty: f.qty, price: f.price, fee: f.fee })
        }
        w::OrderStatus::Canceled => Some(X::Canceled { order_id: e.order_id, leaves_qty: e.leaves_qty }),
        w::OrderStatus::Expired => Some(X::Expired { order_id: e.order_id, leaves_qty: e.leaves_qty }),
        w::OrderStatus::Rejected => Some(X::Rejected { order_id: e.replaced_by.unwrap_or(e.order_id), leaves_qty: e.leaves_qty }),
        w::OrderStatus::Replaced => {
            let (Some(new_order_id), Some(new_qty)) = (e.replaced_by, e.new_qty) else {
                return Err(invalid(format!("venue REPLACED event {} needs replaced_by and new_qty", e.event_id)));
            };
            Some(X::Replaced {
                old_order_id: e.order_id,
                new_order_id,
                new_qty,
                new_limit_price: e.new_limit_price,
                new_stop_price: e.new_stop_price,
            })
        }
        w::OrderStatus::PendingNew
        | w::OrderStatus::New
        | w::OrderStatus::PendingCancel
        | w::OrderStatus::PendingReplace => None,
    })
}

// ---------------------------------------------------------------------------------------
// Domain -> wire.
// ---------------------------------------------------------------------------------------

fn w_side(s: acc::Side) -> w::Side {
    match s {
        acc::Side::Buy => w::Side::Buy,
        acc::Side::Sell => w::Side::Sell,
    }
}

fn w_order_type(t: acc::OrderType) -> w::OrderType {
    match t {
        acc::OrderType::Market => w::OrderType::Market,
        acc::OrderType::Limit => w::OrderType::Limit,
        acc::OrderType::Stop => w::OrderType::Stop,
        acc::OrderType::StopLimit => w::OrderType::StopLimit,
    }
}

fn w_tif(t: acc::TimeInForce) -> w::TimeInForce {
    match t {
        acc::TimeInForce::Day => w::TimeInForce::Day,
        acc::TimeInForce::Gtc => w::TimeInForce::Gtc,
        acc::TimeInForce::Ioc => w::TimeInForce::Ioc,
        acc::TimeInForce::Fok => w::TimeInForce::Fok,
    }
}

fn w_account_status(s: acc::AccountStatus) -> w::AccountStatus {
    match s {
        acc::AccountStatus::Active => w::AccountStatus::Active,
        acc::AccountStatus::Restricted => w::AccountStatus::Restricted,
        acc::AccountStatus::Deactivated => w::AccountStatus::Deactivated,
    }
}

fn w_kyc_status(s: acc::KycStatus) -> w::KycStatus {
    match s {
        acc::KycStatus::Pending => w::KycStatus::Pending,
        acc::KycStatus::Verified => w::KycStatus::Approved,
        acc::KycStatus::Rejected => w::KycStatus::Rejected,
    }
}

fn w_kyc_tier(t: acc::KycTier) -> i32 {
    match t {
        acc::KycTier::Tier1 => 1,
        acc::KycTier::Tier2 => 2,
        acc::KycTier::Tier3 => 3,
    }
}

fn w_funding_direction(d: acc::FundingDirection) -> w::FundingDirection {
    match d {
        acc::FundingDirection::Deposit => w::FundingDirection::Deposit,
        acc::FundingDirection::Withdrawal => w::FundingDirection::Withdrawal,
    }
}

fn w_reason(r: acc::RejectReason) -> w::OrderReason {
    use acc::RejectReason as R;
    use w::OrderReason as O;
    match r {
        R::AccountNotFound => O::AccountNotFound,
        R::AccountNotActive => O::AccountNotActive,
        R::AccountRestricted => O::AccountRestricted,
        R::KycNotVerified => O::KycNotVerified,
        R::KycTierLimitExceeded => O::KycLimit,
        R::OrderRateExceeded => O::OrderRate,
        R::DuplicateOrderId => O::DuplicateOrderId,
        R::DuplicateClientOrderId => O::DuplicateClientOrderId,
        R::UnknownInstrument => O::UnknownInstrument,
        R::InstrumentHalted => O::InstrumentHalted,
        R::InstrumentNotTradable => O::InstrumentNotTradable,
        R::NoReferencePrice => O::NoReferencePrice,
        R::UnsupportedOrder => O::UnsupportedOrder,
        R::InvalidQuantity => O::InvalidQuantity,
        R::BelowMinQuantity => O::MinQuantity,
        R::LotSizeViolation => O::LotSize,
        R::InvalidPrice => O::InvalidPrice,
        R::TickSizeViolation => O::TickSize,
        R::PriceOutsideCollar => O::PriceCollar,
        R::MaxOrderNotionalExceeded => O::MaxNotional,
        R::InsufficientBuyingPower => O::InsufficientBuyingPower,
        R::InsufficientShares => O::InsufficientShares,
        R::OrderNotFound => O::UnknownOrder,
        R::OrderPendingChange => O::OrderPendingChange,
        R::ValueOverflow => O::ValueOverflow,
    }
}

/// The funding reject reason as the `reason` string of a REJECTED funding event.
pub fn funding_reject_reason(r: acc::FundingRejectReason) -> &'static str {
    use acc::FundingRejectReason as F;
    match r {
        F::AccountNotFound => "ACCOUNT_NOT_FOUND",
        F::AccountNotActive => "ACCOUNT_NOT_ACTIVE",
        F::AccountRestricted => "ACCOUNT_RESTRICTED",
        F::KycNotVerified => "KYC_NOT_VERIFIED",
        F::InvalidAmount => "INVALID_AMOUNT",
        F::DuplicateFundingId => "DUPLICATE_FUNDING_ID",
        F::DailyDepositLimitExceeded => "DAILY_DEPOSIT_LIMIT_EXCEEDED",
        F::DailyWithdrawalLimitExceeded => "DAILY_WITHDRAWAL_LIMIT_EXCEEDED",
        F::InsufficientWithdrawableCash => "INSUFFICIENT_WITHDRAWABLE_CASH",
    }
}

fn w_entry_kind(k: acc::EntryKind) -> w::EntryKind {
    use acc::EntryKind as K;
    match k {
        K::Deposit => w::EntryKind::Deposit,
        K::WithdrawalHold => w::EntryKind::WithdrawalHold,
        K::Withdrawal => w::EntryKind::Withdrawal,
        K::WithdrawalRelease => w::EntryKind::WithdrawalRelease,
        K::Hold => w::EntryKind::Hold,
        K::Release => w::EntryKind::Release,
        K::Trade => w::EntryKind::Trade,
        K::Fee => w::EntryKind::Fee,
        K::Settlement => w::EntryKind::Settlement,
        K::DeficitRepayment => w::EntryKind::DeficitRepayment,
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

fn size_fields(size: OrderSize) -> (Option<Decimal>, Option<Decimal>) {
    match size {
        OrderSize::Qty(q) => (Some(q), None),
        OrderSize::Notional(n) => (None, Some(n)),
    }
}

/// The wire order event of an accounts-origin event (`origin = ACCOUNTS`).
pub fn order_event_record(e: &acc::OrderEvent, event_id: String) -> w::OrderEvent {
    use w::{OrderEventType as T, OrderStatus as S};
    let mut reason = None;
    let mut replaced_by = None;
    let mut fill = None;
    let mut filled_qty = Decimal::ZERO;
    let (status, event_type) = match &e.kind {
        OrderEventKind::Accepted => (S::PendingNew, T::Accepted),
        OrderEventKind::Rejected(r) => {
            reason = Some(w_reason(*r));
            (S::Rejected, T::Rejected)
        }
        OrderEventKind::PendingCancel => (S::PendingCancel, T::PendingCancel),
        OrderEventKind::CancelRejected(r) => {
            reason = Some(w_reason(*r));
            (S::New, T::CancelRejected)
        }
        OrderEventKind::PendingReplace { new_order_id } => {
            replaced_by = Some(new_order_id.clone());
            (S::PendingReplace, T::PendingReplace)
        }
        OrderEventKind::ReplaceRejected(r) => {
            reason = Some(w_reason(*r));
            (S::New, T::ReplaceRejected)
        }
        OrderEventKind::ReplaceRejectedByVenue { new_order_id } => {
            replaced_by = Some(new_order_id.clone());
            (S::New, T::ReplaceRejectedByVenue)
        }
        OrderEventKind::Replaced { new_order_id } => {
            replaced_by = Some(new_order_id.clone());
            reason = Some(w::OrderReason::ReplacedByNewOrder);
            (S::Replaced, T::Replaced)
        }
        OrderEventKind::PartiallyFilled(f) | OrderEventKind::Filled(f) => {
            filled_qty = f.filled_qty;
            fill = Some(w::OrderFill { fill_id: f.fill_id.clone(), qty: f.qty, price: f.price, fee: f.fee, settlement_date: Some(f.settlement_date) });
            if matches!(e.kind, OrderEventKind::Filled(_)) {
                (S::Filled, T::Filled)
            } else {
                (S::PartiallyFilled, T::PartiallyFilled)
            }
        }
        OrderEventKind::Canceled => (S::Canceled, T::Canceled),
        OrderEventKind::Expired => (S::Expired, T::Expired),
        OrderEventKind::RejectedByVenue => (S::Rejected, T::RejectedByVenue),
    };
    w::OrderEvent {
        event_id,
        account_id: e.account_id.clone(),
        order_id: e.order_id.clone(),
        client_order_id: non_empty(&e.client_order_id),
        symbol: e.symbol.clone(),
        at_ns: e.time.nanos(),
        status,
        reason,
        filled_qty,
        leaves_qty: Decimal::ZERO,
        avg_fill_price: None,
        replaced_by,
        message: None,
        origin: Some(w::OrderEventOrigin::Accounts),
        event_type: Some(event_type),
        fill,
        new_qty: None,
        new_limit_price: None,
        new_stop_price: None,
    }
}

/// The wire ledger entry.
pub fn ledger_record(e: &acc::LedgerEntry) -> w::LedgerEntry {
    w::LedgerEntry {
        entry_id: e.entry_id.clone(),
        account_id: e.account_id.clone(),
        at_ns: e.time.nanos(),
        kind: w_entry_kind(e.kind),
        reference: e.reference.clone(),
        postings: e
            .postings
            .iter()
            .map(|p| {
                let (debit, credit) = match p.side {
                    EntrySide::Debit => (p.amount, Decimal::ZERO),
                    EntrySide::Credit => (Decimal::ZERO, p.amount),
                };
                let asset = match p.account.unit() {
                    Unit::Cash => "USD".to_string(),
                    Unit::Shares(s) => s,
                };
                w::Posting { ledger_account: p.account.name(), asset, debit, credit }
            })
            .collect(),
    }
}

/// The wire account snapshot.
pub fn snapshot_record(s: &acc::AccountSnapshot) -> w::AccountSnapshot {
    w::AccountSnapshot {
        account_id: s.account_id.clone(),
        owner_id: s.owner.clone(),
        status: w_account_status(s.status),
        kyc_status: w_kyc_status(s.kyc_status),
        kyc_tier: w_kyc_tier(s.kyc_tier),
        cash: s.cash,
        held_cash: s.cash_held,
        unsettled_cash: s.unsettled_cash,
        buying_power: s.buying_power,
        withdrawable_cash: s.withdrawable_cash,
        positions: s
            .positions
            .iter()
            .map(|(sym, p)| w::PositionQty { symbol: sym.clone(), qty: p.available + p.held, held_qty: p.held })
            .collect(),
        version: s.ledger_seq as i64,
        as_of_ns: s.time.nanos(),
        pending_withdrawals: Some(s.pending_withdrawals),
        deficit: Some(s.deficit),
        open_orders: Some(i32::try_from(s.open_orders).unwrap_or(i32::MAX)),
        session_close_ns: s.close_marks.session_close,
        close_at_ns: s.close_marks.close_at,
        close_cash: s.close_marks.close_at.map(|_| s.close_marks.cash),
        close_positions: s.close_marks.close_at.map(|_| close_qtys(&s.close_marks)),
        funding_since_close: s.close_marks.close_at.and(s.close_marks.funding_since_close),
    }
}

fn close_qtys(m: &acc::CloseMarks) -> Vec<w::CloseQty> {
    m.shares.iter().map(|(symbol, qty)| w::CloseQty { symbol: symbol.clone(), qty: *qty }).collect()
}

fn funding_record(f: &acc::FundingEvent, event_id: String) -> w::FundingEvent {
    let (status, reason) = match &f.kind {
        acc::FundingEventKind::Requested => (w::FundingStatus::Requested, None),
        acc::FundingEventKind::Rejected(r) => (w::FundingStatus::Rejected, Some(funding_reject_reason(*r).to_string())),
        acc::FundingEventKind::Completed => (w::FundingStatus::Completed, None),
        acc::FundingEventKind::Failed { reason } => (w::FundingStatus::Failed, Some(reason.clone())),
    };
    w::FundingEvent {
        event_id,
        account_id: f.account_id.clone(),
        funding_id: f.funding_id.clone(),
        direction: w_funding_direction(f.direction),
        status,
        amount: f.amount,
        reason,
        at_ns: f.time.nanos(),
    }
}

// ---------------------------------------------------------------------------------------
// State <-> changelog record.
// ---------------------------------------------------------------------------------------

/// Parses a published ledger account name (inverse of `LedgerAccount::name`).
pub fn parse_ledger_account(name: &str) -> Option<LedgerAccount> {
    Some(match name {
        "cash:available" => LedgerAccount::CashAvailable,
        "cash:held" => LedgerAccount::CashHeld,
        "cash:unsettled" => LedgerAccount::CashUnsettled,
        "cash:withdrawal_pending" => LedgerAccount::CashWithdrawalPending,
        "cash:deficit" => LedgerAccount::CashDeficit,
        "external:bank" => LedgerAccount::ExternalBank,
        "venue:clearing" => LedgerAccount::VenueClearingCash,
        "revenue:fees" => LedgerAccount::RevenueFees,
        other => {
            if let Some(sym) = other.strip_prefix("venue:clearing:") {
                LedgerAccount::VenueClearingShares(sym.to_string())
            } else if let Some(sym) = other.strip_prefix("shares:").and_then(|r| r.strip_suffix(":available")) {
                LedgerAccount::SharesAvailable(sym.to_string())
            } else if let Some(sym) = other.strip_prefix("shares:").and_then(|r| r.strip_suffix(":held")) {
                LedgerAccount::SharesHeld(sym.to_string())
            } else {
                return None;
            }
        }
    })
}

fn state_record(s: &AccountState) -> w::AccountState {
    w::AccountState {
        owner_id: s.owner.clone(),
        status: w_account_status(s.status),
        kyc_status: w_kyc_status(s.kyc_status),
        kyc_tier: w_kyc_tier(s.kyc_tier),
        allow_shorting: s.allow_shorting,
        ledger_seq: s.ledger.last_seq() as i64,
        balances: s
            .ledger
            .balances()
            .iter()
            .map(|(a, b)| w::LedgerBalance { ledger_account: a.name(), balance: *b })
            .collect(),
        orders: s
            .orders
            .iter()
            .map(|(id, o)| {
                let (qty, notional) = size_fields(o.size);
                let pending_replace = match &o.pending {
                    Some(PendingChange::Replace(r)) => Some(w::PendingReplaceState {
                        new_order_id: r.new_order_id.clone(),
                        new_client_order_id: r.new_client_order_id.clone(),
                        qty: r.qty,
                        limit_price: r.limit_price,
                        stop_price: r.stop_price,
                        reserve_price: r.reserve_price,
                    }),
                    _ => None,
                };
                w::OpenOrderState {
                    order_id: id.clone(),
                    client_order_id: o.client_order_id.clone(),
                    symbol: o.symbol.clone(),
                    side: w_side(o.side),
                    order_type: w_order_type(o.order_type),
                    time_in_force: w_tif(o.tif),
                    qty,
                    notional,
                    limit_price: o.limit_price,
                    stop_price: o.stop_price,
                    reserve_price: o.reserve_price,
                    filled_qty: o.filled_qty,
                    filled_cost: o.filled_cost,
                    fill_ids: o.fill_ids.iter().cloned().collect(),
                    cash_hold: o.cash_hold,
                    cash_hold_unsettled: o.cash_hold_unsettled,
                    shares_hold: o.shares_hold,
                    pending_cancel: matches!(o.pending, Some(PendingChange::Cancel)),
                    pending_replace,
                }
            })
            .collect(),
        fundings: s
            .fundings
            .iter()
            .map(|(id, f)| w::PendingFundingState {
                funding_id: id.clone(),
                direction: w_funding_direction(f.direction),
                amount: f.amount,
                date: f.date.0,
            })
            .collect(),
        settlements: s.settlements.iter().map(|(d, a)| w::SettlementState { date: d.0, amount: *a }).collect(),
        daily_date: s.daily.date.0,
        daily_deposits: s.daily.deposits,
        daily_withdrawals: s.daily.withdrawals,
        daily_order_notional: s.daily.order_notional,
        recent_orders_ns: s.recent_orders.iter().map(|t| t.nanos()).collect(),
        session_close_ns: s.close_marks.session_close,
        close_at_ns: s.close_marks.close_at,
        close_cash: s.close_marks.close_at.map(|_| s.close_marks.cash),
        close_positions: s.close_marks.close_at.map(|_| close_qtys(&s.close_marks)),
        funding_since_close: s.close_marks.funding_since_close,
    }
}

fn corrupt(message: String) -> CodecError {
    CodecError::Undecodable { record: "AccountState", message }
}

fn from_state_record(r: w::AccountState) -> Result<AccountState, CodecError> {
    let tier = kyc_tier(r.kyc_tier).map_err(|e| corrupt(e.to_string()))?;
    let mut balances = BTreeMap::new();
    for b in r.balances {
        let a = parse_ledger_account(&b.ledger_account).ok_or_else(|| corrupt(format!("unknown ledger account {}", b.ledger_account)))?;
        balances.insert(a, b.balance);
    }
    let ledger_seq = u64::try_from(r.ledger_seq).map_err(|_| corrupt(format!("negative ledger_seq {}", r.ledger_seq)))?;
    let mut orders = BTreeMap::new();
    for o in r.orders {
        let size = match (o.qty, o.notional) {
            (Some(q), None) => OrderSize::Qty(q),
            (None, Some(n)) => OrderSize::Notional(n),
            _ => return Err(corrupt(format!("order {}: exactly one of qty / notional", o.order_id))),
        };
        let pending = match (o.pending_cancel, o.pending_replace) {
            (false, None) => None,
            (true, None) => Some(PendingChange::Cancel),
            (false, Some(p)) => Some(PendingChange::Replace(PendingReplace {
                new_order_id: p.new_order_id,
                new_client_order_id: p.new_client_order_id,
                qty: p.qty,
                limit_price: p.limit_price,
                stop_price: p.stop_price,
                reserve_price: p.reserve_price,
            })),
            (true, Some(_)) => return Err(corrupt(format!("order {}: both a cancel and a replace pending", o.order_id))),
        };
        let order = OpenOrder {
            client_order_id: o.client_order_id,
            symbol: o.symbol,
            side: side(o.side),
            order_type: order_type(o.order_type),
            tif: tif(o.time_in_force).map_err(corrupt)?,
            size,
            limit_price: o.limit_price,
            stop_price: o.stop_price,
            reserve_price: o.reserve_price,
            filled_qty: o.filled_qty,
            filled_cost: o.filled_cost,
            fill_ids: o.fill_ids.into_iter().collect::<BTreeSet<_>>(),
            cash_hold: o.cash_hold,
            cash_hold_unsettled: o.cash_hold_unsettled,
            shares_hold: o.shares_hold,
            pending,
        };
        orders.insert(o.order_id, order);
    }
    let fundings = r
        .fundings
        .into_iter()
        .map(|f| {
            let direction = match f.direction {
                w::FundingDirection::Deposit => acc::FundingDirection::Deposit,
                w::FundingDirection::Withdrawal => acc::FundingDirection::Withdrawal,
            };
            (f.funding_id, PendingFunding { direction, amount: f.amount, date: Date(f.date) })
        })
        .collect();
    let mut state = AccountState::open(r.owner_id, kyc_status(r.kyc_status), tier, r.allow_shorting);
    state.status = account_status(r.status);
    state.ledger = Ledger::from_parts(balances, ledger_seq);
    state.orders = orders;
    state.fundings = fundings;
    state.settlements = r.settlements.into_iter().map(|s| (Date(s.date), s.amount)).collect();
    state.daily = acc::DailyUsage {
        date: Date(r.daily_date),
        deposits: r.daily_deposits,
        withdrawals: r.daily_withdrawals,
        order_notional: r.daily_order_notional,
    };
    state.recent_orders = r.recent_orders_ns.into_iter().map(Timestamp).collect::<VecDeque<_>>();
    // v1 changelogs carry no marks: the first input after the upgrade marks the current
    // values at the latest close (exact unless that session already had inputs).
    // v1 / v2 changelogs carry no funding since the close: unknown (until the next close
    // resets it), unless the ledger proves no funding ever happened (no entry posted).
    let funding_since_close = r.funding_since_close.or_else(|| (ledger_seq == 0).then_some(Decimal::ZERO));
    state.close_marks = acc::CloseMarks {
        session_close: r.session_close_ns,
        close_at: r.close_at_ns,
        cash: r.close_cash.unwrap_or_default(),
        shares: r.close_positions.unwrap_or_default().into_iter().filter(|p| !p.qty.is_zero()).map(|p| (p.symbol, p.qty)).collect(),
        funding_since_close,
    };
    Ok(state)
}

// ---------------------------------------------------------------------------------------
// The Pipeline.
// ---------------------------------------------------------------------------------------

fn envelope(source_id: String, time_ns: i64, topic: &str, raw: &[u8]) -> Envelope {
    Envelope { source_id, time_ns, extended_hours: false, topic: topic.to_string(), raw: raw.to_vec() }
}

impl Pipeline for Accounts {
    type Op = AccountsBinding;

    fn name(&self) -> &'static str {
        self.name
    }
    fn inputs(&self) -> &'static [&'static str] {
        self.inputs
    }
    fn changelog(&self) -> Option<&'static str> {
        Some(self.topics.changelog)
    }
    fn operator(&self) -> &AccountsBinding {
        &self.op
    }

    fn decode(&self, codec: &Codec, topic: &str, value: &[u8]) -> Result<BoundInput, DecodeFailure> {
        let t = &self.topics;
        if topic == t.accounts_commands {
            let c: w::AccountCommand = codec.decode(value)?;
            let input = match c.body {
                w::AccountInstruction::OpenAccount(o) => AccountInput::OpenAccount {
                    owner: o.owner_id,
                    kyc_status: kyc_status(o.kyc_status),
                    kyc_tier: kyc_tier(o.kyc_tier)?,
                    allow_shorting: o.allow_shorting,
                },
                w::AccountInstruction::SetAccountStatus(s) => AccountInput::SetStatus(account_status(s.status)),
                w::AccountInstruction::SetKyc(k) => AccountInput::SetKyc { status: kyc_status(k.kyc_status), tier: kyc_tier(k.kyc_tier)? },
            };
            Ok(BoundInput::Apply(envelope(c.command_id, c.issued_at_ns, topic, value), input))
        } else if topic == t.funding_commands {
            let c: w::FundingCommand = codec.decode(value)?;
            let input = match c.body {
                w::FundingInstruction::RequestDeposit(d) => AccountInput::DepositRequested { funding_id: d.funding_id, amount: d.amount },
                w::FundingInstruction::RequestWithdrawal(d) => AccountInput::WithdrawalRequested { funding_id: d.funding_id, amount: d.amount },
                w::FundingInstruction::CompleteFunding(f) => AccountInput::FundingCompleted { funding_id: f.funding_id },
                w::FundingInstruction::FailFunding(f) => AccountInput::FundingFailed { funding_id: f.funding_id, reason: f.reason },
            };
            Ok(BoundInput::Apply(envelope(c.command_id, c.issued_at_ns, topic, value), input))
        } else if topic == t.orders_commands {
            let c: w::OrderCommand = codec.decode(value)?;
            let mut env = envelope(c.command_id, c.issued_at_ns, topic, value);
            let input = match c.body {
                w::OrderInstruction::PlaceOrder(p) => {
                    env.extended_hours = p.extended_hours;
                    AccountInput::PlaceOrder(place(p)?)
                }
                w::OrderInstruction::CancelOrder(x) => AccountInput::CancelOrder { order_id: x.order_id },
                w::OrderInstruction::ReplaceOrder(r) => AccountInput::ReplaceOrder(replace(r)?),
            };
            Ok(BoundInput::Apply(env, input))
        } else if topic == t.order_events {
            let e: w::OrderEvent = codec.decode(value)?;
            let (id, at) = (e.event_id.clone(), e.at_ns);
            Ok(match venue_event(e)? {
                Some(report) => BoundInput::Apply(envelope(id, at, topic, value), AccountInput::Execution(report)),
                None => BoundInput::Ignore { time_ns: at },
            })
        } else {
            Err(invalid(format!("topic {topic} is not an input of {}", self.name)))
        }
    }

    fn event_time(&self, input: &BoundInput, _record_ms: Option<i64>) -> Timestamp {
        match input {
            BoundInput::Apply(env, _) => Timestamp(env.time_ns),
            BoundInput::Ignore { time_ns } => Timestamp(*time_ns),
        }
    }

    fn encode(&self, codec: &Codec, o: &BoundOutput) -> Result<OutRecord, CodecError> {
        let t = &self.topics;
        let event_id = || format!("{}/{}", o.source_id, o.index);
        let rec = |topic: &'static str, key: &str, value: Vec<u8>| OutRecord { topic, key: key.to_string(), value, partition: None };
        Ok(match &o.output {
            AccountOutput::RoutedOrder(r) => {
                let (qty, notional) = size_fields(r.size);
                let v = w::RoutedOrder {
                    command_id: o.source_id.clone(),
                    account_id: r.account_id.clone(),
                    symbol: r.symbol.clone(),
                    routed_at_ns: r.time.nanos(),
                    body: w::OrderInstruction::PlaceOrder(w::PlaceOrder {
                        order_id: r.order_id.clone(),
                        client_order_id: non_empty(&r.client_order_id),
                        symbol: r.symbol.clone(),
                        side: w_side(r.side),
                        order_type: w_order_type(r.order_type),
                        time_in_force: w_tif(r.tif),
                        qty,
                        notional,
                        limit_price: r.limit_price,
                        stop_price: r.stop_price,
                        instrument: None,
                        reference_price: None,
                        extended_hours: o.extended_hours,
                    }),
                    protection_price: r.protection_price,
                };
                rec(t.routed, &r.symbol, codec.encode(&v)?)
            }
            AccountOutput::RoutedCancel(c) => {
                let v = w::RoutedOrder {
                    command_id: o.source_id.clone(),
                    account_id: c.account_id.clone(),
                    symbol: c.symbol.clone(),
                    routed_at_ns: c.time.nanos(),
                    body: w::OrderInstruction::CancelOrder(w::CancelOrder { order_id: c.order_id.clone() }),
                    protection_price: None,
                };
                rec(t.routed, &c.symbol, codec.encode(&v)?)
            }
            AccountOutput::RoutedReplace(r) => {
                let v = w::RoutedOrder {
                    command_id: o.source_id.clone(),
                    account_id: r.account_id.clone(),
                    symbol: r.symbol.clone(),
                    routed_at_ns: r.time.nanos(),
                    body: w::OrderInstruction::ReplaceOrder(w::ReplaceOrder {
                        order_id: r.order_id.clone(),
                        new_order_id: r.new_order_id.clone(),
                        qty: Some(r.qty),
                        limit_price: r.limit_price,
                        stop_price: r.stop_price,
                        time_in_force: None,
                        client_order_id: non_empty(&r.new_client_order_id),
                        symbol: None,
                        instrument: None,
                        reference_price: None,
                    }),
                    protection_price: None,
                };
                rec(t.routed, &r.symbol, codec.encode(&v)?)
            }
            AccountOutput::OrderEvent(e) => rec(t.order_events, &e.account_id, codec.encode(&order_event_record(e, event_id()))?),
            AccountOutput::FundingEvent(f) => rec(t.funding_events, &f.account_id, codec.encode(&funding_record(f, event_id()))?),
            AccountOutput::LedgerEntry(e) => rec(t.ledger, &e.account_id, codec.encode(&ledger_record(e))?),
            AccountOutput::AccountSnapshot(s) => rec(t.snapshots, &s.account_id, codec.encode(&snapshot_record(s))?),
            AccountOutput::InvalidInput { account_id, error } => {
                let (topic, raw) = o.dead_letter.clone().unwrap_or_default();
                let v = w::DeadLetter {
                    pipeline: self.name.to_string(),
                    source_topic: topic,
                    source_partition: -1,
                    source_offset: -1,
                    error_kind: w::ErrorKind::Invalid,
                    error: error.to_string(),
                    key: Some(account_id.as_bytes().to_vec()),
                    value_size: i32::try_from(raw.len()).unwrap_or(i32::MAX),
                    value: Some(raw[..raw.len().min(crate::dlq::MAX_KEPT_BYTES)].to_vec()),
                    failed_at_ns: o.time_ns,
                };
                rec(schemas::topics::DLQ, account_id, codec.encode(&v)?)
            }
        })
    }

    fn encode_state(&self, codec: &Codec, state: &AccountState) -> Result<Vec<u8>, CodecError> {
        codec.encode(&state_record(state))
    }

    fn decode_state(&self, codec: &Codec, bytes: &[u8]) -> Result<AccountState, CodecError> {
        from_state_record(codec.decode(bytes)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn codec() -> Codec {
        let mut c = Codec::new();
        for (i, (name, _)) in schemas::codec::ALL_SCHEMAS.iter().enumerate() {
            c.set_writer_id_named(name, i as u32 + 1).unwrap();
        }
        c
    }

    fn run(p: &Accounts, c: &Codec, state: &mut Option<AccountState>, topic: &str, bytes: Vec<u8>) -> Vec<BoundOutput> {
        let input = p.decode(c, topic, &bytes).unwrap();
        let time = p.event_time(&input, None);
        let mut out = Vec::new();
        p.operator().process(&"a1".to_string(), state, input, time, &mut out);
        out
    }

    fn inst() -> w::InstrumentSnapshot {
        w::InstrumentSnapshot { status: w::InstrumentStatus::Listed, tick_size: d("0.01"), lot_size: d("1"), min_qty: d("1"), max_order_notional: None }
    }

    /// The close marks survive the changelog (AccountState v2, funding since the close
    /// v3) and reach the snapshot (AccountSnapshot v3 / v4); a v1 changelog record reads
    /// as no marks, a v2 one as marks with an unknown funding figure.
    #[test]
    fn close_marks_round_trip_and_are_published() {
        let p = Accounts::with_prefix("t.");
        let c = codec();
        let mut s = AccountState::open("u".into(), acc::KycStatus::Verified, acc::KycTier::Tier2, true);
        s.close_marks = acc::CloseMarks {
            session_close: Some(2_000),
            close_at: Some(1_000),
            cash: d("1234.56789"),
            shares: BTreeMap::from([("AAPL".to_string(), d("-2.5")), ("MSFT".to_string(), d("3"))]),
            funding_since_close: Some(d("-120.75")),
        };
        s.ledger = Ledger::from_parts(BTreeMap::from([(LedgerAccount::CashAvailable, d("500"))]), 3);
        assert_eq!(p.decode_state(&c, &p.encode_state(&c, &s).unwrap()).unwrap(), s);
        let snap = snapshot_record(&s.snapshot("a1", Timestamp(1_500)));
        assert_eq!((snap.session_close_ns, snap.close_at_ns, snap.close_cash), (Some(2_000), Some(1_000), Some(d("1234.56789"))));
        assert_eq!(snap.close_positions, Some(vec![w::CloseQty { symbol: "AAPL".into(), qty: d("-2.5") }, w::CloseQty { symbol: "MSFT".into(), qty: d("3") }]));
        assert_eq!(snap.funding_since_close, Some(d("-120.75")));
        // A v2 record (marks, no funding figure) of an account with ledger entries: unknown.
        let mut r = state_record(&s);
        r.funding_since_close = None;
        let restored = from_state_record(r).unwrap();
        assert_eq!((restored.close_marks.close_at, restored.close_marks.funding_since_close), (Some(1_000), None));
        assert_eq!(snapshot_record(&restored.snapshot("a1", Timestamp(1_500))).funding_since_close, None);
        // ... of an account that never posted a ledger entry: provably no funding.
        let mut fresh = AccountState::open("u".into(), acc::KycStatus::Verified, acc::KycTier::Tier2, true);
        fresh.close_marks = acc::CloseMarks { funding_since_close: None, ..s.close_marks.clone() };
        let r = state_record(&fresh);
        assert_eq!(r.funding_since_close, None);
        assert_eq!(from_state_record(r).unwrap().close_marks.funding_since_close, Some(Decimal::ZERO));
        // Without a calendar (no close yet) the snapshot publishes no funding figure.
        s.close_marks.close_at = None;
        assert_eq!(snapshot_record(&s.snapshot("a1", Timestamp(1_500))).funding_since_close, None);
        let mut r = state_record(&s);
        (r.session_close_ns, r.close_at_ns, r.close_cash, r.close_positions, r.funding_since_close) = (None, None, None, None, None);
        assert_eq!(from_state_record(r).unwrap().close_marks, acc::CloseMarks::default());
    }

    /// Drives a full order life through decode / operator / encode and checks that the
    /// state survives the changelog round trip at every step.
    #[test]
    fn commands_reports_and_state_round_trip() {
        let p = Accounts::with_prefix("t.");
        let c = codec();
        let t = *p.topics();
        let mut st = None;
        let t0 = 1_704_902_400_000_000_000i64; // 2024-01-10 16:00 UTC, a Wednesday
        let steps: Vec<(&str, Vec<u8>)> = vec![
            (t.accounts_commands, c.encode(&w::AccountCommand { command_id: "c1".into(), account_id: "a1".into(), issued_at_ns: t0,
                body: w::AccountInstruction::OpenAccount(w::OpenAccount { owner_id: "u".into(), kyc_status: w::KycStatus::Approved, kyc_tier: 2, allow_shorting: false }) }).unwrap()),
            (t.funding_commands, c.encode(&w::FundingCommand { command_id: "c2".into(), account_id: "a1".into(), issued_at_ns: t0 + 1,
                body: w::FundingInstruction::RequestDeposit(w::RequestDeposit { funding_id: "f1".into(), amount: d("1000") }) }).unwrap()),
            (t.funding_commands, c.encode(&w::FundingCommand { command_id: "c3".into(), account_id: "a1".into(), issued_at_ns: t0 + 2,
                body: w::FundingInstruction::CompleteFunding(w::CompleteFunding { funding_id: "f1".into() }) }).unwrap()),
            (t.orders_commands, c.encode(&w::OrderCommand { command_id: "c4".into(), account_id: "a1".into(), issued_at_ns: t0 + 3,
                body: w::OrderInstruction::PlaceOrder(w::PlaceOrder { order_id: "o1".into(), client_order_id: None, symbol: "AAPL".into(), side: w::Side::Buy,
                    order_type: w::OrderType::Limit, time_in_force: w::TimeInForce::Day, qty: Some(d("2")), notional: None, limit_price: Some(d("100")),
                    stop_price: None, instrument: Some(inst()), reference_price: Some(d("100")), extended_hours: true }) }).unwrap()),
            (t.orders_commands, c.encode(&w::OrderCommand { command_id: "c5".into(), account_id: "a1".into(), issued_at_ns: t0 + 4,
                body: w::OrderInstruction::ReplaceOrder(w::ReplaceOrder { order_id: "o1".into(), new_order_id: "o2".into(), qty: Some(d("3")), limit_price: Some(d("99")),
                    stop_price: None, time_in_force: None, client_order_id: None, symbol: Some("AAPL".into()), instrument: Some(inst()), reference_price: Some(d("100")) }) }).unwrap()),
        ];
        let mut all = Vec::new();
        for (topic, bytes) in steps {
            all.extend(run(&p, &c, &mut st, topic, bytes));
            let s = st.clone().unwrap();
            assert_eq!(p.decode_state(&c, &p.encode_state(&c, &s).unwrap()).unwrap(), s);
        }
        let routed: Vec<_> = all.iter().filter(|o| matches!(o.output, AccountOutput::RoutedOrder(_))).collect();
        assert_eq!(routed.len(), 1);
        let rec = p.encode(&c, routed[0]).unwrap();
        assert_eq!((rec.topic, rec.key.as_str()), (t.routed, "AAPL"));
        let r: w::RoutedOrder = c.decode(&rec.value).unwrap();
        assert_eq!(r.command_id, "c4");
        let w::OrderInstruction::PlaceOrder(body) = r.body else { panic!() };
        assert!(body.extended_hours);
        assert_eq!(body.client_order_id.as_deref(), Some("o1"));
        assert!(all.iter().any(|o| matches!(&o.output, AccountOutput::OrderEvent(e) if matches!(e.kind, OrderEventKind::PendingReplace { .. }))));

        // The venue replaces o1 with o2; our own echo of an event is ignored.
        let venue = |status, origin, id: &str| w::OrderEvent {
            event_id: id.into(), account_id: "a1".into(), order_id: "o1".into(), client_order_id: None, symbol: "AAPL".into(), at_ns: t0 + 5,
            status, reason: None, filled_qty: d("0"), leaves_qty: d("0"), avg_fill_price: None, replaced_by: Some("o2".into()), message: None,
            origin, event_type: None, fill: None, new_qty: Some(d("3")), new_limit_price: Some(d("99")), new_stop_price: None,
        };
        let echo = c.encode(&venue(w::OrderStatus::Replaced, Some(w::OrderEventOrigin::Accounts), "e0")).unwrap();
        assert_eq!(p.decode(&c, t.order_events, &echo).unwrap(), BoundInput::Ignore { time_ns: t0 + 5 });
        let out = run(&p, &c, &mut st, t.order_events, c.encode(&venue(w::OrderStatus::Replaced, Some(w::OrderEventOrigin::Venue), "e1")).unwrap());
        assert!(out.iter().any(|o| matches!(&o.output, AccountOutput::OrderEvent(e) if matches!(e.kind, OrderEventKind::Replaced { .. }))));
        assert!(st.as_ref().unwrap().orders.contains_key("o2"));

        // A venue fill event of o2 (the only way fills arrive), then the same fill again: the
        // duplicate is dead-lettered.
        let venue_fill = |id: &str, status, fill: Option<w::OrderFill>| w::OrderEvent {
            event_id: id.into(), account_id: "a1".into(), order_id: "o2".into(), client_order_id: None, symbol: "AAPL".into(), at_ns: t0 + 6,
            status, reason: None, filled_qty: d("3"), leaves_qty: d("0"), avg_fill_price: Some(d("98.5")), replaced_by: None, message: None,
            origin: Some(w::OrderEventOrigin::Venue), event_type: None, fill, new_qty: None, new_limit_price: None, new_stop_price: None,
        };
        let x1 = w::OrderFill { fill_id: "x1".into(), qty: d("3"), price: d("98.5"), fee: d("0.01"), settlement_date: None };
        let fill = c.encode(&venue_fill("e2", w::OrderStatus::Filled, Some(x1.clone()))).unwrap();
        let out = run(&p, &c, &mut st, t.order_events, fill.clone());
        assert_eq!(out[0].source_id, "e2");
        let events: Vec<w::OrderEvent> = out.iter().filter(|o| matches!(o.output, AccountOutput::OrderEvent(_)))
            .map(|o| c.decode(&p.encode(&c, o).unwrap().value).unwrap()).collect();
        assert_eq!(events[0].status, w::OrderStatus::Filled);
        assert_eq!(events[0].origin, Some(w::OrderEventOrigin::Accounts));
        let booked = events[0].fill.as_ref().unwrap();
        assert_eq!((booked.fill_id.as_str(), booked.qty, booked.price, booked.fee), ("x1", d("3"), d("98.5"), d("0.01")));
        assert!(booked.settlement_date.is_some(), "the accounts pipeline sets the settlement date");
        // Our own echo of the fill event is ignored.
        let echo = p.encode(&c, out.iter().find(|o| matches!(o.output, AccountOutput::OrderEvent(_))).unwrap()).unwrap();
        assert_eq!(p.decode(&c, t.order_events, &echo.value).unwrap(), BoundInput::Ignore { time_ns: t0 + 6 });
        let dup_bytes = c.encode(&venue_fill("e3", w::OrderStatus::Filled, Some(x1))).unwrap();
        let dup = run(&p, &c, &mut st, t.order_events, dup_bytes.clone());
        assert_eq!(dup.len(), 1);
        let rec = p.encode(&c, &dup[0]).unwrap();
        assert_eq!(rec.topic, schemas::topics::DLQ);
        let dl: w::DeadLetter = c.decode(&rec.value).unwrap();
        assert_eq!((dl.error_kind, dl.value.as_deref(), dl.failed_at_ns), (w::ErrorKind::Invalid, Some(&dup_bytes[..]), t0 + 6));
        assert_eq!(dl.source_topic, t.order_events);
        // A venue fill event without its fill (a pre-v3 venue) is refused, never ignored.
        let bare = c.encode(&venue_fill("e4", w::OrderStatus::PartiallyFilled, None)).unwrap();
        assert!(matches!(p.decode(&c, t.order_events, &bare), Err(DecodeFailure::Invalid(_))));
        // `executions` is no input: fills are booked from `orders.events` only.
        assert!(!p.inputs().iter().any(|i| i.ends_with("executions")));
        assert!(matches!(p.decode(&c, "t.executions", &fill), Err(DecodeFailure::Invalid(_))));

        // Every ledger entry balances on the wire.
        for o in &all {
            if let AccountOutput::LedgerEntry(e) = &o.output {
                let r = ledger_record(e);
                let mut net: BTreeMap<String, Decimal> = BTreeMap::new();
                for p in &r.postings {
                    *net.entry(p.asset.clone()).or_default() += p.debit - p.credit;
                }
                assert!(net.values().all(|v| v.is_zero()), "{r:?}");
            }
        }
    }

    #[test]
    fn unsupported_wire_values_are_invalid() {
        let p = Accounts::default();
        let c = codec();
        let open = |tier| c.encode(&w::AccountCommand { command_id: "c".into(), account_id: "a".into(), issued_at_ns: 1,
            body: w::AccountInstruction::OpenAccount(w::OpenAccount { owner_id: "u".into(), kyc_status: w::KycStatus::Approved, kyc_tier: tier, allow_shorting: false }) }).unwrap();
        assert!(matches!(p.decode(&c, "accounts.commands", &open(4)), Err(DecodeFailure::Invalid(_))));
        assert!(p.decode(&c, "accounts.commands", &open(3)).is_ok());
        assert!(matches!(p.decode(&c, "ledger", &open(3)), Err(DecodeFailure::Invalid(_))));
        let opg = c.encode(&w::OrderCommand { command_id: "c".into(), account_id: "a".into(), issued_at_ns: 1,
            body: w::OrderInstruction::PlaceOrder(w::PlaceOrder { order_id: "o".into(), client_order_id: None, symbol: "A".into(), side: w::Side::Buy,
                order_type: w::OrderType::Market, time_in_force: w::TimeInForce::Opg, qty: Some(d("1")), notional: None, limit_price: None,
                stop_price: None, instrument: None, reference_price: None, extended_hours: false }) }).unwrap();
        assert!(matches!(p.decode(&c, "orders.commands", &opg), Err(DecodeFailure::Invalid(_))));
        for name in ["cash:available", "cash:deficit", "shares:BRK:A:held", "shares:X:available", "venue:clearing", "venue:clearing:X", "revenue:fees", "external:bank"] {
            assert_eq!(parse_ledger_account(name).unwrap().name(), name);
        }
        assert!(parse_ledger_account("cash:nope").is_none());
    }
}
