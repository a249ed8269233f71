//! [`AccountsOperator`]: the [`Operator`] implementation keyed by account id. Dispatches
//! each [`AccountInput`] to its handler, settles due proceeds before and after, pays down
//! any deficit, and publishes an [`AccountSnapshot`](super::output::AccountSnapshot)
//! whenever an input was applied.
//!
//! Invariants:
//! - Deterministic: outputs depend only on config, state, input and event time.
//! - State is created only by `OpenAccount` and never deleted (accounts are deactivated,
//!   not removed, so the ledger sequence never restarts).
//! - Inputs for an absent account: order and funding requests are rejected with
//!   `AccountNotFound`; everything else is `InvalidInput(UnknownAccount)`.
//! - Before anything at event time `t` changes an account (input or punctuation), its
//!   [`CloseMarks`](super::state::CloseMarks) are rolled to `t` (a new account's right
//!   after `OpenAccount`), so snapshots carry the cash and shares of the previous session
//!   close (`AccountsConfig::sessions`) and the net funding since it (reset by the roll,
//!   added to by every funding ledger entry that changes total cash).

use super::config::AccountsConfig;
use super::ctx::Ctx;
use super::input::AccountInput;
use super::output::{AccountOutput, FundingDirection, FundingEventKind, OrderEventKind};
use super::reasons::{AccountsError, FundingRejectReason, RejectReason};
use super::state::AccountState;
use crate::{Operator, PunctuationKind, PunctuationSchedule, Timestamp};

/// The accounts operator (ledger, buying-power holds, pre-trade risk).
#[derive(Clone, Debug, Default)]
pub struct AccountsOperator {
    /// Configuration (must be identical on replay).
    pub config: AccountsConfig,
}

impl AccountsOperator {
    /// An operator with `config`.
    pub fn new(config: AccountsConfig) -> Self {
        AccountsOperator { config }
    }
}

fn absent(ctx: &mut Ctx, state: &mut Option<AccountState>, input: AccountInput) {
    match input {
        AccountInput::OpenAccount {
            owner,
            kyc_status,
            kyc_tier,
            allow_shorting,
        } => {
            *state = Some(AccountState::open(
                owner,
                kyc_status,
                kyc_tier,
                allow_shorting,
            ));
        }
        AccountInput::PlaceOrder(p) => ctx.order_event(
            &p.order_id,
            &p.client_order_id,
            &p.symbol,
            OrderEventKind::Rejected(RejectReason::AccountNotFound),
        ),
        AccountInput::CancelOrder { order_id } => ctx.order_event(
            &order_id,
            "",
            "",
            OrderEventKind::CancelRejected(RejectReason::AccountNotFound),
        ),
        AccountInput::ReplaceOrder(r) => ctx.order_event(
            &r.order_id,
            "",
            "",
            OrderEventKind::ReplaceRejected(RejectReason::AccountNotFound),
        ),
        AccountInput::DepositRequested { funding_id, amount } => super::funding::funding_event(
            ctx,
            &funding_id,
            FundingDirection::Deposit,
            amount,
            FundingEventKind::Rejected(FundingRejectReason::AccountNotFound),
        ),
        AccountInput::WithdrawalRequested { funding_id, amount } => super::funding::funding_event(
            ctx,
            &funding_id,
            FundingDirection::Withdrawal,
            amount,
            FundingEventKind::Rejected(FundingRejectReason::AccountNotFound),
        ),
        _ => ctx.invalid(AccountsError::UnknownAccount(ctx.account_id.to_string())),
    }
}

fn present(ctx: &mut Ctx, s: &mut AccountState, input: AccountInput) {
    match input {
        AccountInput::OpenAccount { .. } => {
            ctx.invalid(AccountsError::AccountExists(ctx.account_id.to_string()))
        }
        AccountInput::SetStatus(status) => s.status = status,
        AccountInput::SetKyc { status, tier } => {
            s.kyc_status = status;
            s.kyc_tier = tier;
        }
        AccountInput::DepositRequested { funding_id, amount } => {
            s.request_funding(ctx, &funding_id, FundingDirection::Deposit, amount)
        }
        AccountInput::WithdrawalRequested { funding_id, amount } => {
            s.request_funding(ctx, &funding_id, FundingDirection::Withdrawal, amount)
        }
        AccountInput::FundingCompleted { funding_id } => s.finish_funding(ctx, &funding_id, None),
        AccountInput::FundingFailed { funding_id, reason } => {
            s.finish_funding(ctx, &funding_id, Some(reason))
        }
        AccountInput::PlaceOrder(p) => s.place_order(ctx, p),
        AccountInput::CancelOrder { order_id } => s.cancel_order(ctx, &order_id),
        AccountInput::ReplaceOrder(r) => s.replace_order(ctx, r),
        AccountInput::Execution(report) => s.on_execution(ctx, report),
    }
}

fn applied(outputs: &[AccountOutput]) -> bool {
    outputs
        .iter()
        .any(|o| !matches!(o, AccountOutput::InvalidInput { .. }))
}

impl Operator for AccountsOperator {
    type Key = String;
    type Input = AccountInput;
    type State = AccountState;
    type Output = AccountOutput;

    fn process(
        &self,
        key: &String,
        state: &mut Option<AccountState>,
        input: AccountInput,
        time: Timestamp,
        out: &mut Vec<AccountOutput>,
    ) {
        let start = out.len();
        let is_account_cmd = matches!(
            input,
            AccountInput::OpenAccount { .. }
                | AccountInput::SetStatus(_)
                | AccountInput::SetKyc { .. }
        );
        {
            let mut ctx = Ctx {
                cfg: &self.config,
                account_id: key,
                time,
                out: &mut *out,
            };
            let today = ctx.today();
            match state {
                None => {
                    absent(&mut ctx, state, input);
                    // A new account: zero at every earlier close.
                    if let Some(s) = state.as_mut() {
                        s.roll_close_marks(&self.config.sessions, time);
                    }
                }
                Some(s) => {
                    s.roll_close_marks(&self.config.sessions, time);
                    s.settle_due(&mut ctx, today);
                    present(&mut ctx, s, input);
                    s.settle_due(&mut ctx, today);
                    s.repay_deficit(&mut ctx);
                }
            }
        }
        let changed = applied(&out[start..]) || (is_account_cmd && out.len() == start);
        if let (Some(s), true) = (state.as_ref(), changed) {
            out.push(AccountOutput::AccountSnapshot(s.snapshot(key, time)));
        }
    }

    fn punctuation(&self) -> PunctuationSchedule {
        PunctuationSchedule {
            stream_time_every_ns: Some(self.config.settlement_punctuation_ns),
            wall_clock_every_ns: None,
        }
    }

    fn punctuate(
        &self,
        key: &String,
        state: &mut Option<AccountState>,
        time: Timestamp,
        kind: PunctuationKind,
        out: &mut Vec<AccountOutput>,
    ) {
        let (PunctuationKind::StreamTime, Some(s)) = (kind, state.as_mut()) else {
            return;
        };
        let start = out.len();
        {
            let mut ctx = Ctx {
                cfg: &self.config,
                account_id: key,
                time,
                out: &mut *out,
            };
            let today = ctx.today();
            s.roll_close_marks(&self.config.sessions, time);
            s.settle_due(&mut ctx, today);
        }
        if out.len() > start {
            out.push(AccountOutput::AccountSnapshot(s.snapshot(key, time)));
        }
    }
}
