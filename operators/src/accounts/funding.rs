//! Funding commands: deposits and withdrawals, each `requested -> completed | failed`.
//!
//! - Deposit: checked on request (status, KYC, amount, tier's daily deposit limit); no
//!   ledger movement until the bank completes it (`external:bank -> cash:available`).
//! - Withdrawal: checked on request (status, amount, withdrawable cash, tier's daily
//!   withdrawal limit) and held at once (`cash:available -> cash:withdrawal_pending`);
//!   completion pays it out (`-> external:bank`), failure returns it.
//!
//! Invariants: only settled, unheld cash (`cash:available`) can be withdrawn, so
//! unsettled sale proceeds and order holds never leave the account. Every funding entry
//! adds the change of total customer cash it made to the close marks'
//! `funding_since_close` (a completed deposit `+amount`, a completed withdrawal
//! `-amount`; holds and releases `0`).
//!
//! Known limitations:
//! - Deposited cash is withdrawable immediately (no ACH return window).
//! - A failed request gives its amount back to the daily limit only on the same date.
//! - Withdrawals do not require verified KYC (a customer may always take money out).

use rust_decimal::Decimal;

use super::ctx::Ctx;
use super::ledger::{EntryBuilder, EntryKind, LedgerAccount};
use super::output::{AccountOutput, FundingDirection, FundingEvent, FundingEventKind};
use super::reasons::{AccountsError, FundingRejectReason as R};
use super::state::{AccountState, PendingFunding};
use super::types::{AccountStatus, KycStatus};

/// Publishes a funding event.
pub(crate) fn funding_event(
    ctx: &mut Ctx,
    id: &str,
    direction: FundingDirection,
    amount: Decimal,
    kind: FundingEventKind,
) {
    ctx.out.push(AccountOutput::FundingEvent(FundingEvent {
        account_id: ctx.account_id.to_string(),
        funding_id: id.to_string(),
        direction,
        amount,
        time: ctx.time,
        kind,
    }));
}

fn ensure(ok: bool, reason: R) -> Result<(), R> {
    if ok {
        Ok(())
    } else {
        Err(reason)
    }
}

impl AccountState {
    /// Posts a funding entry and adds the change of total customer cash it made to
    /// [`CloseMarks::funding_since_close`](super::state::CloseMarks::funding_since_close).
    fn post_funding(&mut self, ctx: &mut Ctx, kind: EntryKind, id: &str, b: EntryBuilder) {
        let before = self.total_cash();
        ctx.post(&mut self.ledger, kind, id, b);
        let change = self.total_cash() - before;
        self.close_marks.add_funding(change);
    }

    fn check_funding(
        &self,
        ctx: &Ctx,
        id: &str,
        direction: FundingDirection,
        amount: Decimal,
    ) -> Result<(), R> {
        let deposit = direction == FundingDirection::Deposit;
        ensure(
            self.status != AccountStatus::Deactivated,
            R::AccountNotActive,
        )?;
        ensure(
            !(deposit && self.status == AccountStatus::Restricted),
            R::AccountRestricted,
        )?;
        ensure(
            !deposit || self.kyc_status == KycStatus::Verified,
            R::KycNotVerified,
        )?;
        ensure(amount > Decimal::ZERO, R::InvalidAmount)?;
        ensure(!self.fundings.contains_key(id), R::DuplicateFundingId)?;
        ensure(
            deposit || amount <= self.withdrawable(),
            R::InsufficientWithdrawableCash,
        )?;
        let limits = ctx.cfg.tiers.for_tier(self.kyc_tier);
        let today = ctx.business_day();
        let same_day = self.daily.date == today;
        let (used, limit, reason) = if deposit {
            (
                self.daily.deposits,
                limits.daily_deposit,
                R::DailyDepositLimitExceeded,
            )
        } else {
            (
                self.daily.withdrawals,
                limits.daily_withdrawal,
                R::DailyWithdrawalLimitExceeded,
            )
        };
        let used = if same_day { used } else { Decimal::ZERO };
        ensure(limit.is_none_or(|l| used + amount <= l), reason)
    }

    /// Handles a deposit or withdrawal request.
    pub(crate) fn request_funding(
        &mut self,
        ctx: &mut Ctx,
        id: &str,
        direction: FundingDirection,
        amount: Decimal,
    ) {
        if let Err(reason) = self.check_funding(ctx, id, direction, amount) {
            funding_event(
                ctx,
                id,
                direction,
                amount,
                FundingEventKind::Rejected(reason),
            );
            return;
        }
        let today = ctx.business_day();
        self.daily.roll(today);
        if direction == FundingDirection::Deposit {
            self.daily.deposits += amount;
        } else {
            self.daily.withdrawals += amount;
            let mut b = EntryBuilder::default();
            b.transfer(
                LedgerAccount::CashAvailable,
                LedgerAccount::CashWithdrawalPending,
                amount,
            );
            self.post_funding(ctx, EntryKind::WithdrawalHold, id, b);
        }
        self.fundings.insert(
            id.to_string(),
            PendingFunding {
                direction,
                amount,
                date: today,
            },
        );
        funding_event(ctx, id, direction, amount, FundingEventKind::Requested);
    }

    /// Handles the bank's completion (`failure = None`) or failure of a pending funding.
    pub(crate) fn finish_funding(&mut self, ctx: &mut Ctx, id: &str, failure: Option<String>) {
        let Some(f) = self.fundings.remove(id) else {
            ctx.invalid(AccountsError::UnknownFunding(id.to_string()));
            return;
        };
        let mut b = EntryBuilder::default();
        let kind = match (&failure, f.direction) {
            (None, FundingDirection::Deposit) => {
                b.transfer(
                    LedgerAccount::ExternalBank,
                    LedgerAccount::CashAvailable,
                    f.amount,
                );
                EntryKind::Deposit
            }
            (None, FundingDirection::Withdrawal) => {
                b.transfer(
                    LedgerAccount::CashWithdrawalPending,
                    LedgerAccount::ExternalBank,
                    f.amount,
                );
                EntryKind::Withdrawal
            }
            (Some(_), FundingDirection::Deposit) => EntryKind::Deposit,
            (Some(_), FundingDirection::Withdrawal) => {
                b.transfer(
                    LedgerAccount::CashWithdrawalPending,
                    LedgerAccount::CashAvailable,
                    f.amount,
                );
                EntryKind::WithdrawalRelease
            }
        };
        self.post_funding(ctx, kind, id, b);
        if failure.is_some() && self.daily.date == f.date {
            match f.direction {
                FundingDirection::Deposit => self.daily.deposits -= f.amount,
                FundingDirection::Withdrawal => self.daily.withdrawals -= f.amount,
            }
        }
        let kind = match failure {
            None => FundingEventKind::Completed,
            Some(reason) => FundingEventKind::Failed { reason },
        };
        funding_event(ctx, id, f.direction, f.amount, kind);
    }
}
