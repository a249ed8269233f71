//! Unit tests: the funding lifecycle and every funding rejection reason.

use super::test_support::*;
use super::*;

use FundingEventKind as F;
use FundingRejectReason as R;
use LedgerAccount as L;

fn deposit(id: &str, amount: &str) -> AccountInput {
    AccountInput::DepositRequested {
        funding_id: id.into(),
        amount: d(amount),
    }
}

fn withdraw(id: &str, amount: &str) -> AccountInput {
    AccountInput::WithdrawalRequested {
        funding_id: id.into(),
        amount: d(amount),
    }
}

fn reason(h: &mut Harness, account: &str, input: AccountInput) -> FundingRejectReason {
    match funding_kinds(&h.send(account, input)).as_slice() {
        [F::Rejected(r)] => *r,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn deposit_lifecycle_credits_on_completion_only() {
    let mut h = Harness::new(AccountsConfig::default());
    h.open("a", KycTier::Tier2, false);
    let outs = h.send("a", deposit("f1", "1000"));
    assert_eq!(funding_kinds(&outs), vec![F::Requested]);
    assert!(entries(&outs).is_empty());
    assert_eq!(h.bal("a", L::CashAvailable), d("0"));
    let outs = h.send(
        "a",
        AccountInput::FundingCompleted {
            funding_id: "f1".into(),
        },
    );
    assert_eq!(funding_kinds(&outs), vec![F::Completed]);
    assert_eq!(h.bal("a", L::CashAvailable), d("1000"));
    assert_eq!(h.bal("a", L::ExternalBank), d("-1000"));
    h.send("a", deposit("f2", "500"));
    let outs = h.send(
        "a",
        AccountInput::FundingFailed {
            funding_id: "f2".into(),
            reason: "NSF".into(),
        },
    );
    assert_eq!(
        funding_kinds(&outs),
        vec![F::Failed {
            reason: "NSF".into()
        }]
    );
    assert_eq!(h.bal("a", L::CashAvailable), d("1000"));
}

#[test]
fn withdrawal_lifecycle_holds_then_pays_or_returns() {
    let mut h = Harness::new(AccountsConfig::default());
    h.open("a", KycTier::Tier2, false);
    h.fund("a", "f1", "1000");
    h.send("a", withdraw("w1", "300"));
    assert_eq!(h.bal("a", L::CashAvailable), d("700"));
    assert_eq!(h.bal("a", L::CashWithdrawalPending), d("300"));
    h.send(
        "a",
        AccountInput::FundingCompleted {
            funding_id: "w1".into(),
        },
    );
    assert_eq!(h.bal("a", L::CashWithdrawalPending), d("0"));
    assert_eq!(h.state("a").total_cash(), d("700"));
    h.send("a", withdraw("w2", "200"));
    h.send(
        "a",
        AccountInput::FundingFailed {
            funding_id: "w2".into(),
            reason: "closed".into(),
        },
    );
    assert_eq!(h.bal("a", L::CashAvailable), d("700"));
    let snap = last_snapshot(&h.log).unwrap();
    assert_eq!(
        (snap.cash, snap.withdrawable_cash, snap.pending_withdrawals),
        (d("700"), d("700"), d("0"))
    );
}

#[test]
fn rejects_every_funding_reason() {
    let mut h = Harness::new(AccountsConfig::default());
    assert_eq!(
        reason(&mut h, "nobody", deposit("f1", "1")),
        R::AccountNotFound
    );
    h.open("a", KycTier::Tier1, false);
    assert_eq!(reason(&mut h, "a", deposit("f1", "0")), R::InvalidAmount);
    h.send("a", deposit("f1", "4000"));
    assert_eq!(
        reason(&mut h, "a", deposit("f1", "10")),
        R::DuplicateFundingId
    );
    // Tier 1 default: $5,000 of deposits per business day.
    assert_eq!(
        reason(&mut h, "a", deposit("f2", "1000.01")),
        R::DailyDepositLimitExceeded
    );
    h.send(
        "a",
        AccountInput::FundingCompleted {
            funding_id: "f1".into(),
        },
    );
    assert_eq!(
        reason(&mut h, "a", withdraw("w1", "4000.01")),
        R::InsufficientWithdrawableCash
    );
    h.time = plus_days(monday_10am(), 1);
    h.fund("a", "f3", "5000");
    h.send("a", withdraw("w1", "4000"));
    assert_eq!(
        reason(&mut h, "a", withdraw("w2", "1000.01")),
        R::DailyWithdrawalLimitExceeded
    );
    h.send("a", AccountInput::SetStatus(AccountStatus::Restricted));
    assert_eq!(
        reason(&mut h, "a", deposit("f4", "1")),
        R::AccountRestricted
    );
    h.send("a", AccountInput::SetStatus(AccountStatus::Deactivated));
    assert_eq!(
        reason(&mut h, "a", withdraw("w3", "1")),
        R::AccountNotActive
    );
    h.send("a", AccountInput::SetStatus(AccountStatus::Active));
    h.send(
        "a",
        AccountInput::SetKyc {
            status: KycStatus::Rejected,
            tier: KycTier::Tier1,
        },
    );
    assert_eq!(reason(&mut h, "a", deposit("f5", "1")), R::KycNotVerified);
}

#[test]
fn failed_request_gives_back_the_daily_limit_same_day() {
    let mut h = Harness::new(AccountsConfig::default());
    h.open("a", KycTier::Tier1, false);
    h.send("a", deposit("f1", "5000"));
    h.send(
        "a",
        AccountInput::FundingFailed {
            funding_id: "f1".into(),
            reason: "x".into(),
        },
    );
    assert_eq!(
        funding_kinds(&h.send("a", deposit("f2", "5000"))),
        vec![F::Requested]
    );
}

#[test]
fn account_commands_and_snapshot() {
    let mut h = Harness::new(AccountsConfig::default());
    let outs = h.send(
        "a",
        AccountInput::OpenAccount {
            owner: "u".into(),
            kyc_status: KycStatus::Pending,
            kyc_tier: KycTier::Tier1,
            allow_shorting: false,
        },
    );
    let snap = last_snapshot(&outs).expect("snapshot on open");
    assert_eq!(
        (snap.status, snap.kyc_status, snap.cash),
        (AccountStatus::Active, KycStatus::Pending, d("0"))
    );
    let outs = h.send(
        "a",
        AccountInput::SetKyc {
            status: KycStatus::Verified,
            tier: KycTier::Tier2,
        },
    );
    assert_eq!(last_snapshot(&outs).unwrap().kyc_tier, KycTier::Tier2);
    let outs = h.send(
        "a",
        AccountInput::OpenAccount {
            owner: "u".into(),
            kyc_status: KycStatus::Pending,
            kyc_tier: KycTier::Tier1,
            allow_shorting: false,
        },
    );
    assert_eq!(
        errors(&outs),
        vec![AccountsError::AccountExists("a".into())]
    );
    let outs = h.send("zz", AccountInput::SetStatus(AccountStatus::Active));
    assert_eq!(
        errors(&outs),
        vec![AccountsError::UnknownAccount("zz".into())]
    );
    assert!(h.states["zz"].is_none());
    let every = crate::Operator::punctuation(&h.op).stream_time_every_ns;
    assert_eq!(every, Some(3_600_000_000_000));
}
