//! Double-entry ledger of one account: ledger accounts, postings, journal entries and
//! running balances.
//!
//! Sign convention: a balance is debits minus credits. The customer's own accounts
//! (`cash:*`, `shares:*`) are assets, so a positive balance is value the customer has;
//! counterparties (`external:bank`, `venue:clearing`, `revenue:fees`) carry the opposite
//! sign of what flowed to the customer from them.
//!
//! Invariants:
//! - Every entry balances per unit: for cash and for each symbol's shares, the sum of
//!   debits equals the sum of credits (checked by [`LedgerEntry::is_balanced`] and
//!   asserted in debug builds when posting).
//! - Balances change only through [`Ledger::post`], so state and the published entries
//!   cannot diverge; summing all balances of one unit gives zero.
//! - Entry ids are `"{account_id}:{seq}"` with a per-account sequence starting at 1.
//!
//! Known limitations:
//! - Cash has a single currency (USD).
//! - Zero balances are dropped from the map to keep the state small.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::Timestamp;

/// A ledger account as seen from one customer account's books.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LedgerAccount {
    /// `cash:available`: settled cash free to trade or withdraw.
    CashAvailable,
    /// `cash:held`: cash reserved for open buy orders.
    CashHeld,
    /// `cash:unsettled`: sale proceeds awaiting settlement (tradable, not withdrawable).
    CashUnsettled,
    /// `cash:withdrawal_pending`: cash reserved for requested withdrawals.
    CashWithdrawalPending,
    /// `cash:deficit`: negative when the account owes money (a fill exceeded its free cash).
    CashDeficit,
    /// `shares:SYM:available`: shares free to sell (negative = short).
    SharesAvailable(String),
    /// `shares:SYM:held`: shares reserved for open sell orders.
    SharesHeld(String),
    /// `external:bank`: the customer's bank for deposits and withdrawals.
    ExternalBank,
    /// `venue:clearing`: cash side of trades.
    VenueClearingCash,
    /// `venue:clearing:SYM`: share side of trades.
    VenueClearingShares(String),
    /// `revenue:fees`: fees charged.
    RevenueFees,
}

/// What a posting is denominated in.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Unit {
    /// US dollars.
    Cash,
    /// Shares of a symbol.
    Shares(String),
}

impl LedgerAccount {
    /// The unit the account is kept in.
    pub fn unit(&self) -> Unit {
        match self {
            LedgerAccount::SharesAvailable(s)
            | LedgerAccount::SharesHeld(s)
            | LedgerAccount::VenueClearingShares(s) => Unit::Shares(s.clone()),
            _ => Unit::Cash,
        }
    }

    /// Whether the account belongs to the customer (as opposed to a counterparty).
    pub fn is_customer(&self) -> bool {
        !matches!(
            self,
            LedgerAccount::ExternalBank
                | LedgerAccount::VenueClearingCash
                | LedgerAccount::VenueClearingShares(_)
                | LedgerAccount::RevenueFees
        )
    }

    /// The published name, e.g. `cash:held` or `shares:AAPL:available`.
    pub fn name(&self) -> String {
        match self {
            LedgerAccount::CashAvailable => "cash:available".into(),
            LedgerAccount::CashHeld => "cash:held".into(),
            LedgerAccount::CashUnsettled => "cash:unsettled".into(),
            LedgerAccount::CashWithdrawalPending => "cash:withdrawal_pending".into(),
            LedgerAccount::CashDeficit => "cash:deficit".into(),
            LedgerAccount::SharesAvailable(s) => format!("shares:{s}:available"),
            LedgerAccount::SharesHeld(s) => format!("shares:{s}:held"),
            LedgerAccount::ExternalBank => "external:bank".into(),
            LedgerAccount::VenueClearingCash => "venue:clearing".into(),
            LedgerAccount::VenueClearingShares(s) => format!("venue:clearing:{s}"),
            LedgerAccount::RevenueFees => "revenue:fees".into(),
        }
    }
}

/// Debit or credit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EntrySide {
    /// Increases an asset account.
    Debit,
    /// Decreases an asset account.
    Credit,
}

/// One line of a journal entry; `amount` is strictly positive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Posting {
    /// The account posted to.
    pub account: LedgerAccount,
    /// Debit or credit.
    pub side: EntrySide,
    /// Positive amount in the account's unit.
    pub amount: Decimal,
}

/// Why an entry was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EntryKind {
    /// Completed deposit.
    Deposit,
    /// Cash reserved for a requested withdrawal.
    WithdrawalHold,
    /// Completed withdrawal.
    Withdrawal,
    /// Failed withdrawal returned to available cash.
    WithdrawalRelease,
    /// Cash or shares reserved for an order.
    Hold,
    /// Cash or shares released from an order.
    Release,
    /// An execution: shares against cash.
    Trade,
    /// A fee charged on an execution.
    Fee,
    /// Unsettled proceeds becoming settled cash.
    Settlement,
    /// Available cash paying down a deficit.
    DeficitRepayment,
}

/// A balanced journal entry as published on the ledger topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerEntry {
    /// `"{account_id}:{seq}"`.
    pub entry_id: String,
    /// The customer account.
    pub account_id: String,
    /// Per-account sequence number (1, 2, ...).
    pub seq: u64,
    /// Why.
    pub kind: EntryKind,
    /// Order id, funding id or settlement date the entry belongs to.
    pub reference: String,
    /// Event time of the input that caused it.
    pub time: Timestamp,
    /// Lines; debits equal credits per unit.
    pub postings: Vec<Posting>,
}

impl LedgerEntry {
    /// Whether debits equal credits for every unit and all amounts are positive.
    pub fn is_balanced(&self) -> bool {
        let mut net: BTreeMap<Unit, Decimal> = BTreeMap::new();
        for p in &self.postings {
            if p.amount <= Decimal::ZERO {
                return false;
            }
            let signed = match p.side {
                EntrySide::Debit => p.amount,
                EntrySide::Credit => -p.amount,
            };
            *net.entry(p.account.unit()).or_default() += signed;
        }
        net.values().all(|v| v.is_zero())
    }
}

/// Running balances and the entry sequence of one account.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ledger {
    balances: BTreeMap<LedgerAccount, Decimal>,
    last_seq: u64,
}

/// Builds the postings of one entry.
#[derive(Debug, Default)]
pub struct EntryBuilder {
    postings: Vec<Posting>,
}

impl EntryBuilder {
    /// Adds a debit (skipped if `amount` is zero).
    pub fn debit(&mut self, account: LedgerAccount, amount: Decimal) -> &mut Self {
        self.push(account, EntrySide::Debit, amount)
    }

    /// Adds a credit (skipped if `amount` is zero).
    pub fn credit(&mut self, account: LedgerAccount, amount: Decimal) -> &mut Self {
        self.push(account, EntrySide::Credit, amount)
    }

    /// Debits `to` and credits `from` by `amount`.
    pub fn transfer(
        &mut self,
        from: LedgerAccount,
        to: LedgerAccount,
        amount: Decimal,
    ) -> &mut Self {
        self.debit(to, amount).credit(from, amount)
    }

    fn push(&mut self, account: LedgerAccount, side: EntrySide, amount: Decimal) -> &mut Self {
        debug_assert!(
            amount >= Decimal::ZERO,
            "negative posting {amount} to {account:?}"
        );
        if !amount.is_zero() {
            self.postings.push(Posting {
                account,
                side,
                amount,
            });
        }
        self
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.postings.is_empty()
    }
}

impl Ledger {
    /// Rebuilds a ledger from balances and the last entry sequence, as written to a
    /// changelog from [`Ledger::balances`] and [`Ledger::last_seq`]. Only for restoring
    /// state that was itself produced by [`Ledger::post`]; zero balances are dropped, so
    /// the result equals the ledger it was taken from.
    pub fn from_parts(balances: BTreeMap<LedgerAccount, Decimal>, last_seq: u64) -> Ledger {
        let balances = balances.into_iter().filter(|(_, v)| !v.is_zero()).collect();
        Ledger { balances, last_seq }
    }

    /// The balance of `account` (debits minus credits).
    pub fn balance(&self, account: &LedgerAccount) -> Decimal {
        self.balances.get(account).copied().unwrap_or_default()
    }

    /// All non-zero balances, in account order.
    pub fn balances(&self) -> &BTreeMap<LedgerAccount, Decimal> {
        &self.balances
    }

    /// The sequence number of the last entry posted (0 if none).
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Applies the builder's postings as one entry and returns it, or `None` if empty.
    pub fn post(
        &mut self,
        account_id: &str,
        kind: EntryKind,
        reference: &str,
        time: Timestamp,
        builder: EntryBuilder,
    ) -> Option<LedgerEntry> {
        if builder.is_empty() {
            return None;
        }
        self.last_seq += 1;
        let entry = LedgerEntry {
            entry_id: format!("{account_id}:{}", self.last_seq),
            account_id: account_id.to_string(),
            seq: self.last_seq,
            kind,
            reference: reference.to_string(),
            time,
            postings: builder.postings,
        };
        debug_assert!(entry.is_balanced(), "unbalanced entry {entry:?}");
        for p in &entry.postings {
            let signed = match p.side {
                EntrySide::Debit => p.amount,
                EntrySide::Credit => -p.amount,
            };
            let bal = self.balances.entry(p.account.clone()).or_default();
            *bal += signed;
            if bal.is_zero() {
                self.balances.remove(&p.account);
            }
        }
        Some(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_updates_balances_and_sequences_ids() {
        let mut ledger = Ledger::default();
        let mut b = EntryBuilder::default();
        b.transfer(
            LedgerAccount::ExternalBank,
            LedgerAccount::CashAvailable,
            Decimal::new(100, 0),
        );
        let e = ledger
            .post("acc", EntryKind::Deposit, "f1", Timestamp(1), b)
            .unwrap();
        assert_eq!(e.entry_id, "acc:1");
        assert!(e.is_balanced());
        assert_eq!(
            ledger.balance(&LedgerAccount::CashAvailable),
            Decimal::new(100, 0)
        );
        assert_eq!(
            ledger.balance(&LedgerAccount::ExternalBank),
            Decimal::new(-100, 0)
        );
        assert!(ledger
            .post(
                "acc",
                EntryKind::Deposit,
                "f2",
                Timestamp(2),
                EntryBuilder::default()
            )
            .is_none());
        assert_eq!(ledger.last_seq(), 1);
    }

    #[test]
    fn balance_is_checked_per_unit() {
        let mut b = EntryBuilder::default();
        b.debit(LedgerAccount::SharesAvailable("A".into()), Decimal::ONE)
            .credit(LedgerAccount::VenueClearingCash, Decimal::ONE);
        let e = LedgerEntry {
            entry_id: "x:1".into(),
            account_id: "x".into(),
            seq: 1,
            kind: EntryKind::Trade,
            reference: "o".into(),
            time: Timestamp(0),
            postings: b.postings,
        };
        assert!(!e.is_balanced());
        assert_eq!(
            LedgerAccount::SharesHeld("AAPL".into()).name(),
            "shares:AAPL:held"
        );
    }
}
