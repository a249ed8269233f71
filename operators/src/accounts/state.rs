//! Per-account state: status, KYC, ledger balances, open orders with their
//! reservations, pending fundings, the settlement schedule, daily usage and the
//! order-rate window. `Clone`, restored from the changelog by the runtime.
//!
//! Invariants (checked by the model tests):
//! - `cash:held` equals the sum of open orders' `cash_hold`, and each open order's
//!   `cash_hold` equals [`OpenOrder::required_cash`]; likewise for `shares:SYM:held`.
//! - While a replace is in flight an order holds for its own leaves *plus* the whole
//!   replacement (the venue may fill the old order first and still open the replacement
//!   in full), so fills within the order's limit are always covered by its hold: no
//!   deficit, and no short position in an account that may not short.
//! - `cash:unsettled` never exceeds the sum of the settlement schedule.
//! - `cash:available` is never negative (a shortfall goes to `cash:deficit`).
//!
//! Known limitations:
//! - Closed orders and completed fundings are dropped, so a duplicate order id or funding
//!   id is detected only while the original is still open or pending.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use rust_decimal::Decimal;

use super::calendar::Date;
use super::config::FeeEstimate;
use super::ledger::{Ledger, LedgerAccount};
use super::output::{AccountSnapshot, FundingDirection, PositionSnapshot};
use super::types::{AccountStatus, KycStatus, KycTier, OrderSize, OrderType, Side, TimeInForce};
use crate::matching::SessionCalendar;
use crate::Timestamp;

/// State of one account (the operator's `State`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountState {
    /// Owning user.
    pub owner: String,
    /// Status.
    pub status: AccountStatus,
    /// KYC status.
    pub kyc_status: KycStatus,
    /// KYC tier.
    pub kyc_tier: KycTier,
    /// Whether short sales are allowed.
    pub allow_shorting: bool,
    /// Balances and entry sequence.
    pub ledger: Ledger,
    /// Open orders by order id.
    pub orders: BTreeMap<String, OpenOrder>,
    /// Pending deposits and withdrawals by funding id.
    pub fundings: BTreeMap<String, PendingFunding>,
    /// Gross sale proceeds by settlement date.
    pub settlements: BTreeMap<Date, Decimal>,
    /// Usage against the KYC tier's daily limits.
    pub daily: DailyUsage,
    /// Times of recent order placements and replaces (rate limit).
    pub recent_orders: VecDeque<Timestamp>,
    /// Cash and shares at the latest session close crossed, and funding since.
    pub close_marks: CloseMarks,
}

/// The account's cash and share quantities as they stood at the latest session close the
/// operator has crossed, like the venue's `SessionMarks` for prices.
///
/// Rolled lazily: before every input (and punctuation) at `time`, if `time` is at or past
/// `session_close`, the values are taken from the state *before* the input is applied
/// (no input came between that close and `time`, so they are the close's) at the latest
/// close `<= time`, and `session_close` moves to the next close after `time`.
///
/// Invariant: `cash` and `shares` are the account's at `close_at`, and no session close
/// lies strictly between `close_at` and `session_close`. So a reader holding the latest
/// snapshot finds the account's values at the previous close at `now`: the current ones
/// once `now >= session_close`, these before.
///
/// Invariant (funding): when `funding_since_close` is `Some(f)`, `f` is the sum of every
/// change of total customer cash ([`AccountState::total_cash`]) made by funding inputs
/// since `close_at` (since the account was opened when there is no close yet): completed
/// deposits (`+amount`) and completed withdrawals (`-amount`). Withdrawal holds and their
/// release on failure move cash between `cash:*` accounts only and do not count. So at
/// any time `total_cash - cash == f + (cash effect of trades and fees since close_at)`,
/// which is what makes `equity - last_equity - f` an exact day P&L. It is reset to
/// `Some(0)` when the marks roll to a new close. `None` means unknown: the state was
/// restored from a changelog record that predates the field (and funding may have
/// happened since the close); it stays `None` until the next roll, never a guessed zero
/// (the binding restores `Some(0)` only when the record proves no ledger entry was ever
/// posted).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CloseMarks {
    /// Close of the session of the latest input (`None`: no calendar, or past its end).
    pub session_close: Option<i64>,
    /// The latest close before that session, when `cash` and `shares` were taken.
    pub close_at: Option<i64>,
    /// Total customer cash (as [`AccountState::total_cash`]) at `close_at`.
    pub cash: Decimal,
    /// Non-zero share quantities (available + held) at `close_at`, by symbol.
    pub shares: BTreeMap<String, Decimal>,
    /// Net change of total customer cash from funding since `close_at`; `None` when
    /// unknown (see the type docs).
    pub funding_since_close: Option<Decimal>,
}

impl CloseMarks {
    /// Marks of a freshly opened account: no close yet, no funding yet.
    pub fn opened() -> Self {
        CloseMarks {
            funding_since_close: Some(Decimal::ZERO),
            ..CloseMarks::default()
        }
    }

    /// Adds `cash_change`, the change of total customer cash one funding ledger entry
    /// made, to `funding_since_close` (an unknown total stays unknown).
    pub fn add_funding(&mut self, cash_change: Decimal) {
        self.funding_since_close = self.funding_since_close.map(|f| f + cash_change);
    }
}

/// An accepted, not yet terminal order and what it reserves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenOrder {
    /// Client order id.
    pub client_order_id: String,
    /// Symbol.
    pub symbol: String,
    /// Side.
    pub side: Side,
    /// Type.
    pub order_type: OrderType,
    /// Time in force.
    pub tif: TimeInForce,
    /// Quantity or notional of this order (after a replace: the replacement's quantity).
    pub size: OrderSize,
    /// Limit price.
    pub limit_price: Option<Decimal>,
    /// Stop price.
    pub stop_price: Option<Decimal>,
    /// Per-share price the cash reservation of a buy is computed at.
    pub reserve_price: Decimal,
    /// Quantity filled so far.
    pub filled_qty: Decimal,
    /// Cost (qty x price, fees excluded) filled so far.
    pub filled_cost: Decimal,
    /// Fill ids booked (duplicate detection).
    pub fill_ids: BTreeSet<String>,
    /// Cash currently in `cash:held` for this order.
    pub cash_hold: Decimal,
    /// Part of `cash_hold` that came from unsettled proceeds.
    pub cash_hold_unsettled: Decimal,
    /// Shares currently in `shares:SYM:held` for this order.
    pub shares_hold: Decimal,
    /// Cancel or replace in flight.
    pub pending: Option<PendingChange>,
}

/// A cancel or replace request routed but not yet answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PendingChange {
    /// Cancel requested.
    Cancel,
    /// Replace requested.
    Replace(PendingReplace),
}

/// The replacement's parameters while the replace is in flight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingReplace {
    /// Replacement id.
    pub new_order_id: String,
    /// Replacement client id.
    pub new_client_order_id: String,
    /// Open quantity of the replacement. The venue opens the replacement with this whole
    /// quantity and nothing filled, whatever the old order filled meanwhile.
    pub qty: Decimal,
    /// Limit price.
    pub limit_price: Option<Decimal>,
    /// Stop price.
    pub stop_price: Option<Decimal>,
    /// Reservation price of the replacement (buys).
    pub reserve_price: Decimal,
}

/// Cash a buy of `qty` at `price` reserves: notional plus the fee estimate.
pub fn buy_reservation(fee: &FeeEstimate, price: Decimal, qty: Decimal) -> Decimal {
    let notional = price * qty;
    notional + fee.on(notional)
}

impl OpenOrder {
    /// Open quantity (`None` for notional orders).
    pub fn leaves_qty(&self) -> Option<Decimal> {
        match self.size {
            OrderSize::Qty(q) => Some((q - self.filled_qty).max(Decimal::ZERO)),
            OrderSize::Notional(_) => None,
        }
    }

    /// Whether nothing is left to fill.
    pub fn is_complete(&self) -> bool {
        match self.size {
            OrderSize::Qty(q) => self.filled_qty >= q,
            OrderSize::Notional(n) => self.filled_cost >= n,
        }
    }

    /// The cash this order must hold now: the reservation of its own leaves plus, while a
    /// replace is in flight, the reservation of the replacement in full.
    ///
    /// Sum, not maximum: the venue may fill the old order before it answers the replace,
    /// and the replacement then still opens with its whole quantity (it starts with no
    /// filled quantity, see [`PendingReplace::qty`]). Each such fill is paid from this hold
    /// and lowers only the own-leaves term, so under fills within the order's limit (fees
    /// within the estimate) the hold never has to be topped up from free cash after the
    /// replace was accepted here, and no deficit can arise.
    pub fn required_cash(&self, fee: &FeeEstimate) -> Decimal {
        if self.side == Side::Sell {
            return Decimal::ZERO;
        }
        let own = match self.size {
            OrderSize::Qty(_) => buy_reservation(
                fee,
                self.reserve_price,
                self.leaves_qty().unwrap_or_default(),
            ),
            OrderSize::Notional(n) => {
                let left = (n - self.filled_cost).max(Decimal::ZERO);
                left + fee.on(left)
            }
        };
        match &self.pending {
            Some(PendingChange::Replace(r)) => own + buy_reservation(fee, r.reserve_price, r.qty),
            _ => own,
        }
    }

    /// The shares this order must hold now (sells): its own leaves plus, while a replace
    /// is in flight, the replacement's whole quantity (sum, for the reason given at
    /// [`OpenOrder::required_cash`]: fills of the old order before the venue answers do
    /// not shrink the replacement). So a sell fill never needs shares beyond the hold and
    /// a non-shorting account cannot be driven short by fills within its orders.
    pub fn required_shares(&self) -> Decimal {
        if self.side == Side::Buy {
            return Decimal::ZERO;
        }
        let own = self.leaves_qty().unwrap_or_default();
        match &self.pending {
            Some(PendingChange::Replace(r)) => own + r.qty,
            _ => own,
        }
    }
}

/// A deposit or withdrawal awaiting the bank.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingFunding {
    /// Direction.
    pub direction: FundingDirection,
    /// Amount.
    pub amount: Decimal,
    /// Business date of the request (for refunding daily usage on failure).
    pub date: Date,
}

/// Amounts counted against the daily limits of the current business date.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DailyUsage {
    /// Date the counters belong to.
    pub date: Date,
    /// Deposits requested.
    pub deposits: Decimal,
    /// Withdrawals requested.
    pub withdrawals: Decimal,
    /// Estimated notional of accepted orders.
    pub order_notional: Decimal,
}

impl DailyUsage {
    /// Resets the counters if `today` is a new date.
    pub fn roll(&mut self, today: Date) {
        if self.date != today {
            *self = DailyUsage {
                date: today,
                ..DailyUsage::default()
            };
        }
    }
}

impl AccountState {
    /// A freshly opened account with zero balances.
    pub fn open(
        owner: String,
        kyc_status: KycStatus,
        kyc_tier: KycTier,
        allow_shorting: bool,
    ) -> Self {
        AccountState {
            owner,
            status: AccountStatus::Active,
            kyc_status,
            kyc_tier,
            allow_shorting,
            ledger: Ledger::default(),
            orders: BTreeMap::new(),
            fundings: BTreeMap::new(),
            settlements: BTreeMap::new(),
            daily: DailyUsage::default(),
            recent_orders: VecDeque::new(),
            close_marks: CloseMarks::opened(),
        }
    }

    /// Rolls [`CloseMarks`] to `time`; call before anything at `time` changes the state.
    pub fn roll_close_marks(&mut self, sessions: &SessionCalendar, time: Timestamp) {
        let m = &self.close_marks;
        if sessions.is_empty() || m.session_close.is_some_and(|c| time.nanos() < c) {
            return;
        }
        let last = sessions.last_close_at_or_before(time);
        if last > self.close_marks.close_at {
            // Nothing changed the state since that close: its values are the current ones.
            self.close_marks.close_at = last;
            self.close_marks.cash = self.total_cash();
            self.close_marks.shares = self.share_quantities();
            self.close_marks.funding_since_close = Some(Decimal::ZERO);
        }
        self.close_marks.session_close = sessions.next_close_after(time);
    }

    /// Non-zero share quantities (available + held), by symbol.
    pub fn share_quantities(&self) -> BTreeMap<String, Decimal> {
        let mut out: BTreeMap<String, Decimal> = BTreeMap::new();
        for (acct, bal) in self.ledger.balances() {
            if let LedgerAccount::SharesAvailable(s) | LedgerAccount::SharesHeld(s) = acct {
                *out.entry(s.clone()).or_default() += *bal;
            }
        }
        out.retain(|_, q| !q.is_zero());
        out
    }

    /// Balance of a ledger account.
    pub fn bal(&self, account: &LedgerAccount) -> Decimal {
        self.ledger.balance(account)
    }

    /// What a new buy may reserve: available + unsettled + deficit, floored at zero.
    pub fn buying_power(&self) -> Decimal {
        (self.bal(&LedgerAccount::CashAvailable)
            + self.bal(&LedgerAccount::CashUnsettled)
            + self.bal(&LedgerAccount::CashDeficit))
        .max(Decimal::ZERO)
    }

    /// Settled cash not held by orders or withdrawals.
    pub fn withdrawable(&self) -> Decimal {
        self.bal(&LedgerAccount::CashAvailable).max(Decimal::ZERO)
    }

    /// Total customer cash over all `cash:*` accounts.
    pub fn total_cash(&self) -> Decimal {
        self.ledger
            .balances()
            .iter()
            .filter(|(a, _)| a.is_customer() && a.unit() == super::ledger::Unit::Cash)
            .map(|(_, v)| *v)
            .sum()
    }

    /// Sum of the settlement schedule.
    pub fn scheduled_proceeds(&self) -> Decimal {
        self.settlements.values().copied().sum()
    }

    /// Free shares of `symbol`.
    pub fn shares_available(&self, symbol: &str) -> Decimal {
        self.bal(&LedgerAccount::SharesAvailable(symbol.to_string()))
    }

    /// The compacted snapshot of this account.
    pub fn snapshot(&self, account_id: &str, time: Timestamp) -> AccountSnapshot {
        let mut positions: BTreeMap<String, PositionSnapshot> = BTreeMap::new();
        for (acct, bal) in self.ledger.balances() {
            match acct {
                LedgerAccount::SharesAvailable(s) => {
                    positions.entry(s.clone()).or_default().available = *bal
                }
                LedgerAccount::SharesHeld(s) => positions.entry(s.clone()).or_default().held = *bal,
                _ => {}
            }
        }
        AccountSnapshot {
            account_id: account_id.to_string(),
            owner: self.owner.clone(),
            status: self.status,
            kyc_status: self.kyc_status,
            kyc_tier: self.kyc_tier,
            cash: self.total_cash(),
            withdrawable_cash: self.withdrawable(),
            buying_power: self.buying_power(),
            cash_held: self.bal(&LedgerAccount::CashHeld),
            unsettled_cash: self.bal(&LedgerAccount::CashUnsettled),
            pending_withdrawals: self.bal(&LedgerAccount::CashWithdrawalPending),
            deficit: -self.bal(&LedgerAccount::CashDeficit),
            positions,
            open_orders: self.orders.len() as u32,
            ledger_seq: self.ledger.last_seq(),
            time,
            close_marks: self.close_marks.clone(),
        }
    }
}
