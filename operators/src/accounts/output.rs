//! The operator's single output type, [`AccountOutput`], and its records: routed order
//! commands (re-keyed by symbol for matching), order and funding events, ledger entries,
//! account snapshots (compacted) and invalid-input notices (dead-letter).
//!
//! Invariants:
//! - One closed enum; the pipeline maps each variant to a topic and key.
//! - Routed commands are keyed by `symbol`; everything else by `account_id`.
//! - Maps in records are `BTreeMap`, so encoding order is deterministic.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::ledger::LedgerEntry;
use super::state::CloseMarks;
use super::reasons::{AccountsError, FundingRejectReason, RejectReason};
use super::types::{AccountStatus, KycStatus, KycTier, OrderSize, OrderType, Side, TimeInForce};
use crate::Timestamp;

/// Everything the accounts operator emits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountOutput {
    /// An accepted order for the matching engine (key: symbol).
    RoutedOrder(RoutedOrder),
    /// A cancel request for the matching engine (key: symbol).
    RoutedCancel(RoutedCancel),
    /// A replace request for the matching engine (key: symbol).
    RoutedReplace(RoutedReplace),
    /// Order lifecycle event (key: account).
    OrderEvent(OrderEvent),
    /// Funding lifecycle event (key: account).
    FundingEvent(FundingEvent),
    /// Balanced journal entry (key: account).
    LedgerEntry(LedgerEntry),
    /// Latest account state (compacted, key: account).
    AccountSnapshot(AccountSnapshot),
    /// Input contradicting state; state unchanged (dead-letter, key: account).
    InvalidInput {
        /// Account key.
        account_id: String,
        /// What was wrong.
        error: AccountsError,
    },
}

/// An accepted order as routed to matching.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoutedOrder {
    /// Owning account (execution reports come back keyed by it).
    pub account_id: String,
    /// Order id.
    pub order_id: String,
    /// Client order id.
    pub client_order_id: String,
    /// Symbol (the routing key).
    pub symbol: String,
    /// Side.
    pub side: Side,
    /// Type.
    pub order_type: OrderType,
    /// Time in force.
    pub tif: TimeInForce,
    /// Quantity or notional.
    pub size: OrderSize,
    /// Limit price.
    pub limit_price: Option<Decimal>,
    /// Stop price.
    pub stop_price: Option<Decimal>,
    /// For market and stop buys: the price the reservation covers (`ref x collar`); the
    /// engine should not fill above it. `None` for other orders.
    pub protection_price: Option<Decimal>,
    /// Acceptance time.
    pub time: Timestamp,
}

/// A cancel request routed to matching.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoutedCancel {
    /// Account.
    pub account_id: String,
    /// Order id.
    pub order_id: String,
    /// Symbol (routing key).
    pub symbol: String,
    /// Request time.
    pub time: Timestamp,
}

/// A replace request routed to matching.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoutedReplace {
    /// Account.
    pub account_id: String,
    /// Order to replace.
    pub order_id: String,
    /// Replacement id.
    pub new_order_id: String,
    /// Replacement client id.
    pub new_client_order_id: String,
    /// Symbol (routing key).
    pub symbol: String,
    /// Open quantity of the replacement.
    pub qty: Decimal,
    /// Limit price.
    pub limit_price: Option<Decimal>,
    /// Stop price.
    pub stop_price: Option<Decimal>,
    /// Request time.
    pub time: Timestamp,
}

/// An order lifecycle event for the account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderEvent {
    /// Account.
    pub account_id: String,
    /// Order id.
    pub order_id: String,
    /// Client order id (empty if the order is unknown).
    pub client_order_id: String,
    /// Symbol (empty if unknown).
    pub symbol: String,
    /// Event time.
    pub time: Timestamp,
    /// What happened.
    pub kind: OrderEventKind,
}

/// What happened to an order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrderEventKind {
    /// Passed pre-trade checks, reserved and routed.
    Accepted,
    /// Refused by pre-trade checks.
    Rejected(RejectReason),
    /// Cancel request routed.
    PendingCancel,
    /// Cancel request refused.
    CancelRejected(RejectReason),
    /// Replace request routed (as `new_order_id`).
    PendingReplace {
        /// Replacement id.
        new_order_id: String,
    },
    /// Replace request refused.
    ReplaceRejected(RejectReason),
    /// The venue refused the replace; the original order stays open.
    ReplaceRejectedByVenue {
        /// Replacement id.
        new_order_id: String,
    },
    /// The venue replaced the order.
    Replaced {
        /// Replacement id.
        new_order_id: String,
    },
    /// A fill that leaves the order open.
    PartiallyFilled(FillInfo),
    /// The final fill.
    Filled(FillInfo),
    /// Canceled at the venue.
    Canceled,
    /// Expired at the venue.
    Expired,
    /// Rejected by the venue after routing.
    RejectedByVenue,
}

/// Fill details on an order event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FillInfo {
    /// Fill id.
    pub fill_id: String,
    /// Quantity.
    pub qty: Decimal,
    /// Price.
    pub price: Decimal,
    /// Fee.
    pub fee: Decimal,
    /// Cumulative filled quantity.
    pub filled_qty: Decimal,
    /// Settlement date of the trade (days since epoch, see `calendar::Date`).
    pub settlement_date: i32,
}

/// Deposit or withdrawal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FundingDirection {
    /// Money in.
    Deposit,
    /// Money out.
    Withdrawal,
}

/// A funding lifecycle event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FundingEvent {
    /// Account.
    pub account_id: String,
    /// Funding id.
    pub funding_id: String,
    /// Direction.
    pub direction: FundingDirection,
    /// Amount.
    pub amount: Decimal,
    /// Event time.
    pub time: Timestamp,
    /// What happened.
    pub kind: FundingEventKind,
}

/// What happened to a funding request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FundingEventKind {
    /// Accepted and pending at the bank.
    Requested,
    /// Refused.
    Rejected(FundingRejectReason),
    /// Completed by the bank.
    Completed,
    /// Failed at the bank.
    Failed {
        /// Gateway reason.
        reason: String,
    },
}

/// Share position of one symbol.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PositionSnapshot {
    /// Free to sell (negative = short).
    pub available: Decimal,
    /// Reserved by open sell orders.
    pub held: Decimal,
}

/// The account's state for the compacted snapshot topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountSnapshot {
    /// Account.
    pub account_id: String,
    /// Owner.
    pub owner: String,
    /// Status.
    pub status: AccountStatus,
    /// KYC status.
    pub kyc_status: KycStatus,
    /// KYC tier.
    pub kyc_tier: KycTier,
    /// All customer cash: available + held + unsettled + withdrawal pending + deficit.
    pub cash: Decimal,
    /// Settled cash minus holds and pending withdrawals (= `cash:available`).
    pub withdrawable_cash: Decimal,
    /// What a new buy may reserve: available + unsettled + deficit, floored at zero.
    pub buying_power: Decimal,
    /// Cash held for open buys.
    pub cash_held: Decimal,
    /// Unsettled sale proceeds.
    pub unsettled_cash: Decimal,
    /// Cash held for pending withdrawals.
    pub pending_withdrawals: Decimal,
    /// Amount owed (positive), if a fill exceeded free cash.
    pub deficit: Decimal,
    /// Positions by symbol.
    pub positions: BTreeMap<String, PositionSnapshot>,
    /// Number of open orders.
    pub open_orders: u32,
    /// Last ledger sequence number reflected.
    pub ledger_seq: u64,
    /// Event time of the change.
    pub time: Timestamp,
    /// Cash and shares at the latest session close crossed, and the net funding since
    /// (see [`CloseMarks`]).
    pub close_marks: CloseMarks,
}

/// An account's cash and share quantities at a session close, from
/// [`AccountSnapshot::at_previous_close`].
///
/// Invariant: they are the account's values at every session close `t` with
/// `valid_from <= t <= valid_to` (exactly one close when read from the marks).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseValues {
    /// First close the values hold at (ns).
    pub valid_from: i64,
    /// Last close they may hold at (ns): the marks' close, or the reader's `now`.
    pub valid_to: i64,
    /// Total customer cash.
    pub cash: Decimal,
    /// Non-zero share quantities, by symbol.
    pub shares: BTreeMap<String, Decimal>,
    /// Net change of total cash from funding since that close (`cash` now minus `cash`
    /// there is this plus the cash effect of trades and fees); `Some(0)` when read from
    /// the current values (no input since), `None` when unknown.
    pub funding_since_close: Option<Decimal>,
}

impl AccountSnapshot {
    /// The account's values at the previous session close as seen at `now`: the current
    /// values once `now` reaches `session_close` (no input since), the marks before.
    /// `None` without marks. Readers of the wire record apply the same rule
    /// (`schemas::records::AccountSnapshot::at_previous_close`).
    pub fn at_previous_close(&self, now: i64) -> Option<CloseValues> {
        let m = &self.close_marks;
        match m.session_close {
            Some(c) if now >= c => {
                let shares = self
                    .positions
                    .iter()
                    .map(|(s, p)| (s.clone(), p.available + p.held))
                    .filter(|(_, q)| !q.is_zero())
                    .collect();
                Some(CloseValues { valid_from: c, valid_to: now, cash: self.cash, shares, funding_since_close: Some(Decimal::ZERO) })
            }
            _ => m.close_at.map(|at| CloseValues {
                valid_from: at,
                valid_to: at,
                cash: m.cash,
                shares: m.shares.clone(),
                funding_since_close: m.funding_since_close,
            }),
        }
    }
}
