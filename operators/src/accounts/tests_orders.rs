//! Unit tests: every order rejection reason, the seed's worked hold example, fills,
//! cancels, replaces, settlement and invalid execution reports.

use super::test_support::*;
use super::*;
use crate::Timestamp;
use std::collections::BTreeMap;

use LedgerAccount as L;
use OrderEventKind as K;
use RejectReason as R;

fn funded(cfg: AccountsConfig) -> Harness {
    let mut h = Harness::new(cfg);
    h.open("a", KycTier::Tier3, false);
    h.fund("a", "f1", "5000");
    h
}

fn rejected(h: &mut Harness, account: &str, order: PlaceOrder) -> RejectReason {
    let outs = h.send(account, AccountInput::PlaceOrder(order));
    match order_kinds(&outs).as_slice() {
        [K::Rejected(r)] => *r,
        other => panic!("expected one rejection, got {other:?}"),
    }
}

fn buy(id: &str, qty: &str, px: &str) -> PlaceOrder {
    limit(id, "AAPL", Side::Buy, qty, px)
}

#[test]
fn seed_example_buy_holds_then_settles_actual_cost() {
    // Seed, Settlement Service: "User buys stock for $1000 - $1000 deducted from buying power".
    let mut h = funded(AccountsConfig::default());
    let outs = h.send("a", AccountInput::PlaceOrder(buy("o1", "10", "100")));
    assert_eq!(order_kinds(&outs), vec![K::Accepted]);
    assert!(outs
        .iter()
        .any(|o| matches!(o, AccountOutput::RoutedOrder(r) if r.symbol == "AAPL")));
    assert_eq!(h.bal("a", L::CashHeld), d("1000"));
    assert_eq!(h.state("a").buying_power(), d("4000"));
    let snap = last_snapshot(&outs).unwrap();
    assert_eq!(
        (snap.buying_power, snap.cash, snap.withdrawable_cash),
        (d("4000"), d("5000"), d("4000"))
    );

    // Seed order flow step 9: release hold, deduct actual. Filled below the limit.
    let outs = h.send("a", fill("o1", "x1", "10", "98", "0"));
    assert!(matches!(order_kinds(&outs).as_slice(), [K::Filled(f)] if f.filled_qty == d("10")));
    assert_eq!(h.bal("a", L::CashHeld), d("0"));
    assert_eq!(h.bal("a", L::CashAvailable), d("4020"));
    assert_eq!(h.shares("a", "AAPL"), d("10"));
    assert!(h.state("a").orders.is_empty());
    let kinds: Vec<_> = entries(&outs).iter().map(|e| e.kind).collect();
    assert_eq!(kinds, vec![EntryKind::Trade, EntryKind::Release]);
    assert!(h
        .log
        .iter()
        .all(|o| !matches!(o, AccountOutput::LedgerEntry(e) if !e.is_balanced())));
}

#[test]
fn market_buy_reserves_reference_times_collar_and_routes_protection() {
    let mut h = funded(AccountsConfig::default());
    let outs = h.send(
        "a",
        AccountInput::PlaceOrder(market("o1", "AAPL", Side::Buy, "10", "100")),
    );
    assert_eq!(h.bal("a", L::CashHeld), d("1050"));
    assert!(outs.iter().any(
        |o| matches!(o, AccountOutput::RoutedOrder(r) if r.protection_price == Some(d("105")))
    ));
    // Stop buys reserve at max(stop, ref) x collar.
    let mut stop = market("o2", "AAPL", Side::Buy, "1", "100");
    stop.order_type = OrderType::Stop;
    stop.stop_price = Some(d("110"));
    h.send("a", AccountInput::PlaceOrder(stop));
    assert_eq!(h.bal("a", L::CashHeld), d("1050") + d("115.5"));
    // Off-tick products are rounded down to the tick: 190.37 x 1.05 = 199.8885 -> 199.88
    // (a protection price above the tick grid would be refused by the venue).
    let outs = h.send("a", AccountInput::PlaceOrder(market("o3", "AAPL", Side::Buy, "2", "190.37")));
    assert!(
        outs.iter().any(|o| matches!(o, AccountOutput::RoutedOrder(r) if r.protection_price == Some(d("199.88")))),
        "{outs:?}"
    );
    assert_eq!(h.bal("a", L::CashHeld), d("1050") + d("115.5") + d("399.76"));
}

#[test]
fn fee_estimate_is_reserved_and_actual_fee_charged() {
    let cfg = AccountsConfig {
        fee_estimate: FeeEstimate {
            rate: d("0.01"),
            minimum: d("1"),
        },
        ..AccountsConfig::default()
    };
    let mut h = funded(cfg);
    h.send("a", AccountInput::PlaceOrder(buy("o1", "10", "100")));
    assert_eq!(h.bal("a", L::CashHeld), d("1010"));
    let outs = h.send("a", fill("o1", "x1", "4", "100", "2.5"));
    assert!(matches!(
        order_kinds(&outs).as_slice(),
        [K::PartiallyFilled(_)]
    ));
    // Remaining 6 x 100 + 1% = 606 held; paid 400 + 2.5.
    assert_eq!(h.bal("a", L::CashHeld), d("606"));
    assert_eq!(h.bal("a", L::RevenueFees), d("2.5"));
    assert_eq!(h.state("a").total_cash(), d("5000") - d("402.5"));
}

#[test]
fn partial_fill_then_cancel_releases_the_rest() {
    let mut h = funded(AccountsConfig::default());
    h.send("a", AccountInput::PlaceOrder(buy("o1", "10", "100")));
    h.send("a", fill("o1", "x1", "3", "100", "0"));
    let outs = h.send(
        "a",
        AccountInput::CancelOrder {
            order_id: "o1".into(),
        },
    );
    assert_eq!(order_kinds(&outs), vec![K::PendingCancel]);
    assert!(outs
        .iter()
        .any(|o| matches!(o, AccountOutput::RoutedCancel(_))));
    assert_eq!(
        h.bal("a", L::CashHeld),
        d("700"),
        "hold stays until the venue confirms"
    );
    let outs = h.send(
        "a",
        AccountInput::Execution(ExecutionReport::Canceled {
            order_id: "o1".into(),
            leaves_qty: d("7"),
        }),
    );
    assert_eq!(order_kinds(&outs), vec![K::Canceled]);
    assert_eq!(h.bal("a", L::CashHeld), d("0"));
    assert_eq!(h.bal("a", L::CashAvailable), d("4700"));
}

#[test]
fn expiry_and_venue_reject_release_holds_and_shares() {
    let mut h = funded(AccountsConfig::default());
    h.send("a", AccountInput::PlaceOrder(buy("o1", "10", "100")));
    h.send("a", fill("o1", "x1", "10", "100", "0"));
    h.send(
        "a",
        AccountInput::PlaceOrder(limit("s1", "AAPL", Side::Sell, "4", "100")),
    );
    assert_eq!(h.bal("a", L::SharesHeld("AAPL".into())), d("4"));
    assert_eq!(h.shares("a", "AAPL"), d("6"));
    let outs = h.send(
        "a",
        AccountInput::Execution(ExecutionReport::Expired {
            order_id: "s1".into(),
            leaves_qty: d("4"),
        }),
    );
    assert_eq!(order_kinds(&outs), vec![K::Expired]);
    assert_eq!(h.shares("a", "AAPL"), d("10"));
    h.send("a", AccountInput::PlaceOrder(buy("o2", "1", "100")));
    let outs = h.send(
        "a",
        AccountInput::Execution(ExecutionReport::Rejected {
            order_id: "o2".into(),
            leaves_qty: d("1"),
        }),
    );
    assert_eq!(order_kinds(&outs), vec![K::RejectedByVenue]);
    assert_eq!(h.bal("a", L::CashHeld), d("0"));
}

#[test]
fn replace_reserves_worst_case_then_adjusts() {
    let mut h = funded(AccountsConfig::default());
    h.send("a", AccountInput::PlaceOrder(buy("o1", "10", "100")));
    let replace_of = |old: &str, new: &str, qty: &str, px: &str| {
        AccountInput::ReplaceOrder(ReplaceOrder {
            order_id: old.into(),
            new_order_id: new.into(),
            new_client_order_id: format!("c-{new}"),
            qty: d(qty),
            limit_price: Some(d(px)),
            stop_price: None,
            instrument: Some(inst("AAPL", "100")),
        })
    };
    let replace = |new: &str, qty: &str, px: &str| replace_of("o1", new, qty, px);
    let outs = h.send("a", replace("o1b", "20", "101"));
    assert_eq!(
        order_kinds(&outs),
        vec![K::PendingReplace {
            new_order_id: "o1b".into()
        }]
    );
    // Old leaves plus the whole replacement: 10 x 100 + 20 x 101.
    assert_eq!(h.bal("a", L::CashHeld), d("3020"));
    // Venue refuses: back to the original reservation.
    let outs = h.send(
        "a",
        AccountInput::Execution(ExecutionReport::Rejected {
            order_id: "o1b".into(),
            leaves_qty: d("0"),
        }),
    );
    assert_eq!(
        order_kinds(&outs),
        vec![K::ReplaceRejectedByVenue {
            new_order_id: "o1b".into()
        }]
    );
    assert_eq!(h.bal("a", L::CashHeld), d("1000"));
    // A smaller replace, confirmed: the order is re-keyed and holds 5 x 99.
    h.send("a", replace("o1c", "5", "99"));
    assert_eq!(h.bal("a", L::CashHeld), d("1495"));
    let report = ExecutionReport::Replaced {
        old_order_id: "o1".into(),
        new_order_id: "o1c".into(),
        new_qty: d("5"),
        new_limit_price: Some(d("99")),
        new_stop_price: None,
    };
    let outs = h.send("a", AccountInput::Execution(report));
    assert_eq!(
        order_kinds(&outs),
        vec![K::Replaced {
            new_order_id: "o1c".into()
        }]
    );
    assert_eq!(h.bal("a", L::CashHeld), d("495"));
    assert!(h.state("a").orders.contains_key("o1c"));
    h.send("a", fill("o1c", "x1", "5", "99", "0"));
    assert_eq!(h.bal("a", L::CashHeld), d("0"));
    assert_eq!(h.bal("a", L::CashAvailable), d("4505"));
    // Too much: refused for buying power.
    h.send("a", AccountInput::PlaceOrder(buy("o2", "1", "100")));
    let outs = h.send("a", replace_of("o2", "o2b", "50", "100"));
    assert_eq!(
        order_kinds(&outs),
        vec![K::ReplaceRejected(R::InsufficientBuyingPower)]
    );
}

fn replace_to(old: &str, new: &str, qty: &str, px: &str) -> AccountInput {
    AccountInput::ReplaceOrder(ReplaceOrder {
        order_id: old.into(),
        new_order_id: new.into(),
        new_client_order_id: format!("c-{new}"),
        qty: d(qty),
        limit_price: Some(d(px)),
        stop_price: None,
        instrument: Some(inst("AAPL", "100")),
    })
}

fn replaced(old: &str, new: &str, qty: &str, px: &str) -> AccountInput {
    AccountInput::Execution(ExecutionReport::Replaced {
        old_order_id: old.into(),
        new_order_id: new.into(),
        new_qty: d(qty),
        new_limit_price: Some(d(px)),
        new_stop_price: None,
    })
}

/// Regression (model test "deficit under consistent fills"): a buy's replace used to hold
/// only `max(old, new)`, but the venue may fill the old order before answering and then
/// still open the replacement in full; each such fill was paid from the hold and the hold
/// topped back up to the replacement's reservation from free cash, or from a deficit.
#[test]
fn buy_fills_before_a_replace_answer_are_covered_by_the_hold() {
    let mut h = funded(AccountsConfig::default());
    h.send("a", AccountInput::PlaceOrder(buy("o1", "40", "100")));
    assert_eq!(h.bal("a", L::CashHeld), d("4000"));
    // 30 x 100 may still fill, then 40 x 110 open: 3000 + 4400 > 5000.
    let outs = h.send("a", replace_to("o1", "o1b", "40", "110"));
    h.send("a", fill("o1", "x1", "30", "100", "0"));
    assert_eq!(h.bal("a", L::CashDeficit), d("0"));
    assert_eq!(
        order_kinds(&outs),
        vec![K::ReplaceRejected(R::InsufficientBuyingPower)]
    );
    assert_eq!(h.bal("a", L::CashHeld), d("1000"));
    assert_eq!(h.bal("a", L::CashAvailable), d("1000"));
    // A replace that fits holds the old leaves plus the replacement: 10 x 100 + 5 x 110.
    let outs = h.send("a", replace_to("o1", "o1c", "5", "110"));
    assert_eq!(
        order_kinds(&outs),
        vec![K::PendingReplace {
            new_order_id: "o1c".into()
        }]
    );
    assert_eq!(h.bal("a", L::CashHeld), d("1550"));
    assert_eq!(h.bal("a", L::CashAvailable), d("450"));
    // The old order fills again before the answer: paid from the hold, nothing drawn.
    h.send("a", fill("o1", "x2", "9", "100", "0"));
    assert_eq!(h.bal("a", L::CashHeld), d("650"));
    assert_eq!(h.bal("a", L::CashAvailable), d("450"));
    let outs = h.send("a", replaced("o1", "o1c", "5", "110"));
    assert_eq!(
        order_kinds(&outs),
        vec![K::Replaced {
            new_order_id: "o1c".into()
        }]
    );
    assert_eq!(h.bal("a", L::CashHeld), d("550"));
    assert_eq!(h.bal("a", L::CashAvailable), d("550"));
    h.send("a", fill("o1c", "x3", "5", "110", "0"));
    assert_eq!(h.bal("a", L::CashHeld), d("0"));
    assert_eq!(h.bal("a", L::CashAvailable), d("550"));
    assert_eq!(h.bal("a", L::CashDeficit), d("0"));
    assert_eq!(h.shares("a", "AAPL"), d("44"));
}

/// Regression (model test "non-shorting account short"): a sell's replace used to hold
/// only `max(old leaves, new qty)` shares; fills of the old order before the venue's
/// answer were then re-held from free shares the account did not have.
#[test]
fn sell_fills_before_a_replace_answer_never_short_a_non_shorting_account() {
    let mut h = funded(AccountsConfig::default());
    h.send("a", AccountInput::PlaceOrder(buy("b1", "8", "100")));
    h.send("a", fill("b1", "x1", "8", "100", "0"));
    let sell = limit("s1", "AAPL", Side::Sell, "8", "100");
    h.send("a", AccountInput::PlaceOrder(sell));
    assert_eq!(h.bal("a", L::SharesHeld("AAPL".into())), d("8"));
    // 7 may still fill, then 5 more open: 12 > 8 shares owned.
    let outs = h.send("a", replace_to("s1", "s1b", "5", "101"));
    h.send("a", fill("s1", "x2", "4", "100", "0"));
    assert_eq!(h.shares("a", "AAPL"), d("0"));
    assert_eq!(
        order_kinds(&outs),
        vec![K::ReplaceRejected(R::InsufficientShares)]
    );
    assert_eq!(h.bal("a", L::SharesHeld("AAPL".into())), d("4"));
    // With enough shares the replace holds the old leaves plus the replacement: 4 + 5.
    h.send("a", AccountInput::PlaceOrder(buy("b2", "5", "100")));
    h.send("a", fill("b2", "x3", "5", "100", "0"));
    let outs = h.send("a", replace_to("s1", "s1c", "5", "101"));
    assert_eq!(
        order_kinds(&outs),
        vec![K::PendingReplace {
            new_order_id: "s1c".into()
        }]
    );
    assert_eq!(h.bal("a", L::SharesHeld("AAPL".into())), d("9"));
    assert_eq!(h.shares("a", "AAPL"), d("0"));
    h.send("a", fill("s1", "x4", "3", "100", "0"));
    assert_eq!(h.bal("a", L::SharesHeld("AAPL".into())), d("6"));
    assert_eq!(h.shares("a", "AAPL"), d("0"));
    h.send("a", replaced("s1", "s1c", "5", "101"));
    assert_eq!(h.bal("a", L::SharesHeld("AAPL".into())), d("5"));
    assert_eq!(h.shares("a", "AAPL"), d("1"));
    h.send("a", fill("s1c", "x5", "5", "101", "0"));
    assert_eq!(h.bal("a", L::SharesHeld("AAPL".into())), d("0"));
    assert_eq!(h.shares("a", "AAPL"), d("1"));
}

#[test]
fn sale_proceeds_are_unsettled_until_t_plus_one() {
    let mut h = funded(AccountsConfig::default());
    h.send("a", AccountInput::PlaceOrder(buy("o1", "10", "100")));
    h.send("a", fill("o1", "x1", "10", "100", "0"));
    // Friday sale settles on Monday (T+1 business day).
    h.time = plus_days(monday_10am(), 4);
    h.send(
        "a",
        AccountInput::PlaceOrder(limit("s1", "AAPL", Side::Sell, "10", "110")),
    );
    let outs = h.send("a", fill("s1", "x2", "10", "110", "1"));
    let friday = Date::from_ymd(2024, 1, 12);
    let monday = Date::from_ymd(2024, 1, 15);
    assert!(
        matches!(order_kinds(&outs).as_slice(), [K::Filled(f)] if f.settlement_date == monday.0)
    );
    assert_eq!(h.bal("a", L::CashUnsettled), d("1099"));
    assert_eq!(h.state("a").withdrawable(), d("4000"));
    assert_eq!(h.state("a").buying_power(), d("5099"));
    let outs = h.send(
        "a",
        AccountInput::WithdrawalRequested {
            funding_id: "w1".into(),
            amount: d("4001"),
        },
    );
    assert_eq!(
        funding_kinds(&outs),
        vec![FundingEventKind::Rejected(
            FundingRejectReason::InsufficientWithdrawableCash
        )]
    );
    // Saturday punctuation: nothing settles.
    h.time = plus_days(monday_10am(), 5);
    assert!(h.punctuate().is_empty());
    h.time = plus_days(monday_10am(), 7);
    let outs = h.punctuate();
    assert_eq!(
        entries(&outs).iter().map(|e| e.kind).collect::<Vec<_>>(),
        vec![EntryKind::Settlement]
    );
    assert_eq!(h.bal("a", L::CashUnsettled), d("0"));
    assert_eq!(h.state("a").withdrawable(), d("5099"));
    assert!(h.state("a").settlements.is_empty());
    let _ = friday;
}

#[test]
fn buys_spend_unsettled_first_and_cancels_return_it_unsettled() {
    let mut h = funded(AccountsConfig::default());
    h.send("a", AccountInput::PlaceOrder(buy("o1", "10", "100")));
    h.send("a", fill("o1", "x1", "10", "100", "0"));
    h.send(
        "a",
        AccountInput::PlaceOrder(limit("s1", "AAPL", Side::Sell, "10", "100")),
    );
    h.send("a", fill("s1", "x2", "10", "100", "0"));
    assert_eq!(h.bal("a", L::CashUnsettled), d("1000"));
    h.send("a", AccountInput::PlaceOrder(buy("o2", "15", "100")));
    assert_eq!(h.bal("a", L::CashUnsettled), d("0"));
    assert_eq!(h.bal("a", L::CashAvailable), d("3500"));
    h.send(
        "a",
        AccountInput::Execution(ExecutionReport::Canceled {
            order_id: "o2".into(),
            leaves_qty: d("15"),
        }),
    );
    assert_eq!(
        h.bal("a", L::CashUnsettled),
        d("1000"),
        "canceling must not make unsettled cash withdrawable"
    );
    assert_eq!(h.bal("a", L::CashAvailable), d("4000"));
}

#[test]
fn fill_above_protection_beyond_free_cash_books_a_deficit_repaid_by_deposit() {
    let mut h = Harness::new(AccountsConfig::default());
    h.open("a", KycTier::Tier3, false);
    h.fund("a", "f1", "105");
    h.send(
        "a",
        AccountInput::PlaceOrder(market("o1", "AAPL", Side::Buy, "1", "100")),
    );
    h.send("a", fill("o1", "x1", "1", "120", "0"));
    assert_eq!(h.bal("a", L::CashAvailable), d("0"));
    assert_eq!(h.bal("a", L::CashDeficit), d("-15"));
    assert_eq!(h.state("a").buying_power(), d("0"));
    h.fund("a", "f2", "100");
    assert_eq!(h.bal("a", L::CashDeficit), d("0"));
    assert_eq!(h.bal("a", L::CashAvailable), d("85"));
}

#[test]
fn invalid_execution_reports_leave_state_unchanged() {
    let mut h = funded(AccountsConfig::default());
    h.send("a", AccountInput::PlaceOrder(buy("o1", "10", "100")));
    h.send("a", fill("o1", "x1", "1", "100", "0"));
    let before = h.state("a").clone();
    let cases = [
        (
            fill("nope", "x9", "1", "100", "0"),
            AccountsError::UnknownOrder("nope".into()),
        ),
        (
            fill("o1", "x1", "1", "100", "0"),
            AccountsError::DuplicateFill {
                order_id: "o1".into(),
                fill_id: "x1".into(),
            },
        ),
        (
            fill("o1", "x2", "10", "100", "0"),
            AccountsError::InvalidFill {
                order_id: "o1".into(),
                fill_id: "x2".into(),
                detail: "quantity above leaves".into(),
            },
        ),
        (
            AccountInput::FundingCompleted {
                funding_id: "zz".into(),
            },
            AccountsError::UnknownFunding("zz".into()),
        ),
        (
            AccountInput::Execution(ExecutionReport::Replaced {
                old_order_id: "o1".into(),
                new_order_id: "o9".into(),
                new_qty: d("1"),
                new_limit_price: None,
                new_stop_price: None,
            }),
            AccountsError::NoPendingReplace("o1".into()),
        ),
    ];
    for (input, error) in cases {
        let outs = h.send("a", input);
        assert_eq!(errors(&outs), vec![error]);
        assert_eq!(outs.len(), 1, "no snapshot for an invalid input");
        assert_eq!(h.state("a"), &before);
    }
    let outs = h.send("zz", fill("o1", "x1", "1", "1", "0"));
    assert_eq!(
        errors(&outs),
        vec![AccountsError::UnknownAccount("zz".into())]
    );
}

#[test]
fn ledger_entry_ids_are_sequential_per_account() {
    let h = funded(AccountsConfig::default());
    let ids: Vec<_> = entries(&h.log).iter().map(|e| e.entry_id.clone()).collect();
    assert_eq!(ids, vec!["a:1".to_string()]);
    assert_eq!(
        entries(&h.log)[0].postings[0].account.name(),
        "cash:available"
    );
}

// ---- one test per rejection reason ----

#[test]
fn rejects_account_not_found_not_active_restricted_and_kyc() {
    let mut h = funded(AccountsConfig::default());
    assert_eq!(
        rejected(&mut h, "nobody", buy("o1", "1", "100")),
        R::AccountNotFound
    );
    h.send("a", AccountInput::SetStatus(AccountStatus::Restricted));
    assert_eq!(
        rejected(&mut h, "a", buy("o1", "1", "100")),
        R::AccountRestricted
    );
    h.send("a", AccountInput::SetStatus(AccountStatus::Deactivated));
    assert_eq!(
        rejected(&mut h, "a", buy("o2", "1", "100")),
        R::AccountNotActive
    );
    h.send("a", AccountInput::SetStatus(AccountStatus::Active));
    h.send(
        "a",
        AccountInput::SetKyc {
            status: KycStatus::Pending,
            tier: KycTier::Tier3,
        },
    );
    assert_eq!(
        rejected(&mut h, "a", buy("o3", "1", "100")),
        R::KycNotVerified
    );
}

#[test]
fn rejects_kyc_tier_daily_order_notional() {
    // Seed: Tier 1 trade limit $1,000/day.
    let mut h = Harness::new(AccountsConfig::default());
    h.open("a", KycTier::Tier1, false);
    h.fund("a", "f1", "5000");
    h.send("a", AccountInput::PlaceOrder(buy("o1", "6", "100")));
    assert_eq!(
        rejected(&mut h, "a", buy("o2", "5", "100")),
        R::KycTierLimitExceeded
    );
    h.send("a", AccountInput::PlaceOrder(buy("o3", "4", "100")));
    assert_eq!(h.bal("a", L::CashHeld), d("1000"));
    // Next business day the counter resets.
    h.time = plus_days(monday_10am(), 1);
    let outs = h.send("a", AccountInput::PlaceOrder(buy("o4", "10", "100")));
    assert_eq!(order_kinds(&outs), vec![K::Accepted]);
}

#[test]
fn rejects_order_rate_within_the_window() {
    let cfg = AccountsConfig {
        max_orders_per_window: 2,
        ..AccountsConfig::default()
    };
    let mut h = funded(cfg);
    h.send("a", AccountInput::PlaceOrder(buy("o1", "1", "100")));
    h.send("a", AccountInput::PlaceOrder(buy("o2", "1", "100")));
    assert_eq!(
        rejected(&mut h, "a", buy("o3", "1", "100")),
        R::OrderRateExceeded
    );
    h.time = Timestamp(h.time.0 + 60_000_000_000);
    let outs = h.send("a", AccountInput::PlaceOrder(buy("o3", "1", "100")));
    assert_eq!(order_kinds(&outs), vec![K::Accepted]);
}

#[test]
fn rejects_duplicates() {
    let mut h = funded(AccountsConfig::default());
    h.send("a", AccountInput::PlaceOrder(buy("o1", "1", "100")));
    assert_eq!(
        rejected(&mut h, "a", buy("o1", "1", "100")),
        R::DuplicateOrderId
    );
    let mut o = buy("o2", "1", "100");
    o.client_order_id = "c-o1".into();
    assert_eq!(rejected(&mut h, "a", o), R::DuplicateClientOrderId);
}

#[test]
fn rejects_instrument_problems() {
    let mut h = funded(AccountsConfig::default());
    let mut o = buy("o1", "1", "100");
    o.instrument = None;
    assert_eq!(rejected(&mut h, "a", o), R::UnknownInstrument);
    let mut o = buy("o1", "1", "100");
    o.instrument = Some(inst("MSFT", "100"));
    assert_eq!(rejected(&mut h, "a", o), R::UnknownInstrument);
    for (status, reason) in [
        (InstrumentStatus::Halted, R::InstrumentHalted),
        (InstrumentStatus::Delisted, R::InstrumentNotTradable),
    ] {
        let mut o = buy("o1", "1", "100");
        o.instrument.as_mut().unwrap().status = status;
        assert_eq!(rejected(&mut h, "a", o), reason);
    }
    let mut o = market("o1", "AAPL", Side::Buy, "1", "100");
    o.instrument.as_mut().unwrap().reference_price = None;
    assert_eq!(rejected(&mut h, "a", o), R::NoReferencePrice);
}

#[test]
fn rejects_shape_quantity_and_price_violations() {
    let mut h = funded(AccountsConfig::default());
    let mut o = market("o1", "AAPL", Side::Sell, "1", "100");
    o.size = OrderSize::Notional(d("50"));
    assert_eq!(rejected(&mut h, "a", o), R::UnsupportedOrder);
    assert_eq!(
        rejected(&mut h, "a", buy("o1", "0", "100")),
        R::InvalidQuantity
    );
    let mut o = buy("o1", "2", "100");
    o.instrument.as_mut().unwrap().min_qty = d("5");
    assert_eq!(rejected(&mut h, "a", o), R::BelowMinQuantity);
    assert_eq!(
        rejected(&mut h, "a", buy("o1", "1.5", "100")),
        R::LotSizeViolation
    );
    let mut o = buy("o1", "1", "100");
    o.limit_price = None;
    assert_eq!(rejected(&mut h, "a", o), R::InvalidPrice);
    let mut o = market("o1", "AAPL", Side::Buy, "1", "100");
    o.limit_price = Some(d("100"));
    assert_eq!(rejected(&mut h, "a", o), R::InvalidPrice);
    let mut o = buy("o1", "1", "100.005");
    o.instrument = Some(inst("AAPL", "100"));
    assert_eq!(rejected(&mut h, "a", o), R::TickSizeViolation);
    let mut o = buy("o1", "1", "130");
    o.instrument = Some(inst("AAPL", "100"));
    assert_eq!(rejected(&mut h, "a", o), R::PriceOutsideCollar);
    let mut o = buy("o1", "10", "100");
    o.instrument.as_mut().unwrap().max_order_notional = Some(d("999.99"));
    assert_eq!(rejected(&mut h, "a", o), R::MaxOrderNotionalExceeded);
    let o = buy("o1", "79228162514264337593543950", "10000");
    assert_eq!(rejected(&mut h, "a", o), R::ValueOverflow);
}

#[test]
fn rejects_insufficient_buying_power_and_shares() {
    let mut h = funded(AccountsConfig::default());
    assert_eq!(
        rejected(&mut h, "a", buy("o1", "51", "100")),
        R::InsufficientBuyingPower
    );
    assert_eq!(
        rejected(&mut h, "a", limit("s1", "AAPL", Side::Sell, "1", "100")),
        R::InsufficientShares
    );
    // A shorting account may sell what it does not have.
    h.open("b", KycTier::Tier3, true);
    let outs = h.send(
        "b",
        AccountInput::PlaceOrder(limit("s1", "AAPL", Side::Sell, "3", "100")),
    );
    assert_eq!(order_kinds(&outs), vec![K::Accepted]);
    assert_eq!(h.shares("b", "AAPL"), d("-3"));
    // ... but not while restricted.
    h.send("b", AccountInput::SetStatus(AccountStatus::Restricted));
    assert_eq!(
        rejected(&mut h, "b", limit("s2", "AAPL", Side::Sell, "1", "100")),
        R::AccountRestricted
    );
}

#[test]
fn rejects_cancel_and_replace_of_unknown_or_pending_orders() {
    let mut h = funded(AccountsConfig::default());
    let outs = h.send(
        "a",
        AccountInput::CancelOrder {
            order_id: "nope".into(),
        },
    );
    assert_eq!(
        order_kinds(&outs),
        vec![K::CancelRejected(R::OrderNotFound)]
    );
    h.send("a", AccountInput::PlaceOrder(buy("o1", "1", "100")));
    h.send(
        "a",
        AccountInput::CancelOrder {
            order_id: "o1".into(),
        },
    );
    let outs = h.send(
        "a",
        AccountInput::CancelOrder {
            order_id: "o1".into(),
        },
    );
    assert_eq!(
        order_kinds(&outs),
        vec![K::CancelRejected(R::OrderPendingChange)]
    );
    let outs = h.send(
        "a",
        AccountInput::ReplaceOrder(ReplaceOrder {
            order_id: "o1".into(),
            new_order_id: "o1b".into(),
            new_client_order_id: "c".into(),
            qty: d("1"),
            limit_price: Some(d("100")),
            stop_price: None,
            instrument: Some(inst("AAPL", "100")),
        }),
    );
    assert_eq!(
        order_kinds(&outs),
        vec![K::ReplaceRejected(R::OrderPendingChange)]
    );
}

#[test]
fn notional_buy_reserves_the_amount_and_completes_at_the_amount() {
    let mut h = funded(AccountsConfig::default());
    let mut o = market("o1", "AAPL", Side::Buy, "1", "100");
    o.size = OrderSize::Notional(d("250"));
    h.send("a", AccountInput::PlaceOrder(o));
    assert_eq!(h.bal("a", L::CashHeld), d("250"));
    h.send("a", fill("o1", "x1", "1.5", "100", "0"));
    assert_eq!(h.bal("a", L::CashHeld), d("100"));
    let outs = h.send("a", fill("o1", "x2", "1", "100", "0"));
    assert!(matches!(order_kinds(&outs).as_slice(), [K::Filled(_)]));
    assert_eq!(h.bal("a", L::CashHeld), d("0"));
    assert_eq!(h.shares("a", "AAPL"), d("2.5"));
}

#[test]
fn release_after_the_sale_settled_returns_settled_cash() {
    let mut h = funded(AccountsConfig::default());
    h.send("a", AccountInput::PlaceOrder(buy("o1", "10", "100")));
    h.send("a", fill("o1", "x1", "10", "100", "0"));
    h.send(
        "a",
        AccountInput::PlaceOrder(limit("s1", "AAPL", Side::Sell, "10", "100")),
    );
    h.send("a", fill("s1", "x2", "10", "100", "0"));
    h.send("a", AccountInput::PlaceOrder(buy("o2", "10", "100")));
    assert_eq!(h.state("a").orders["o2"].cash_hold_unsettled, d("1000"));
    // Tuesday: the Monday sale has settled while its proceeds sat in the hold.
    h.time = plus_days(monday_10am(), 1);
    h.punctuate();
    assert!(h.state("a").settlements.is_empty());
    h.send(
        "a",
        AccountInput::Execution(ExecutionReport::Canceled {
            order_id: "o2".into(),
            leaves_qty: d("10"),
        }),
    );
    assert_eq!(h.bal("a", L::CashUnsettled), d("0"));
    assert_eq!(h.bal("a", L::CashAvailable), d("5000"));
}

const HOUR: i64 = 3_600_000_000_000;

/// A calendar of two sessions closing Monday and Tuesday 16:00 New York (21:00 UTC; the
/// harness starts Monday 10:00), and those two closes.
fn monday_and_tuesday_closes() -> (AccountsConfig, i64, i64) {
    let monday_close = monday_10am().0 + 6 * HOUR;
    let tuesday_close = monday_close + 24 * HOUR;
    let cfg = AccountsConfig {
        sessions: crate::matching::SessionCalendar::new([Timestamp(monday_close), Timestamp(tuesday_close)]),
        ..AccountsConfig::default()
    };
    (cfg, monday_close, tuesday_close)
}

#[test]
fn close_marks_keep_cash_and_shares_of_the_previous_close() {
    let (cfg, monday_close, tuesday_close) = monday_and_tuesday_closes();
    let mut h = funded(cfg);
    h.send("a", AccountInput::PlaceOrder(buy("o1", "10", "100")));
    let outs = h.send("a", fill("o1", "x1", "4", "99.5", "1.25"));
    // Monday: no close before the account: marks without a close time.
    let snap = last_snapshot(&outs).unwrap();
    assert_eq!((snap.close_marks.session_close, snap.close_marks.close_at), (Some(monday_close), None));
    assert_eq!(snap.at_previous_close(monday_close - 1), None);
    // After Monday's close with no input since: the current values are Monday's close.
    let monday = (d("4600.75"), BTreeMap::from([("AAPL".to_string(), d("4"))]));
    let v = snap.at_previous_close(monday_close + HOUR).unwrap();
    assert_eq!(((v.valid_from, v.valid_to), (v.cash, v.shares)), ((monday_close, monday_close + HOUR), monday.clone()));
    // Tuesday: the rest fills; the snapshot now marks Monday's close and moves on.
    h.time = Timestamp(monday_close + 13 * HOUR);
    let outs = h.send("a", fill("o1", "x2", "6", "101", "0"));
    let snap = last_snapshot(&outs).unwrap();
    assert_eq!(snap.close_marks.close_at, Some(monday_close));
    assert_eq!(snap.close_marks.session_close, Some(tuesday_close));
    let v = snap.at_previous_close(h.time.0).unwrap();
    assert_eq!(((v.valid_from, v.valid_to), (v.cash, v.shares)), ((monday_close, monday_close), monday));
    // After Tuesday's close: Tuesday's values (4600.75 - 606 = 3994.75 and 10 shares).
    let v = snap.at_previous_close(tuesday_close).unwrap();
    assert_eq!((v.valid_from, v.cash, v.shares), (tuesday_close, d("3994.75"), BTreeMap::from([("AAPL".to_string(), d("10"))])));
    // The calendar's end: no next close, the marks stay at the last one.
    h.time = Timestamp(tuesday_close + 20 * HOUR);
    let outs = h.send("a", AccountInput::PlaceOrder(limit("o2", "AAPL", Side::Sell, "10", "120")));
    let snap = last_snapshot(&outs).unwrap();
    assert_eq!((snap.close_marks.session_close, snap.close_marks.close_at, snap.close_marks.cash), (None, Some(tuesday_close), d("3994.75")));
}

#[test]
fn close_marks_count_funding_since_the_close_but_not_holds() {
    let (cfg, monday_close, tuesday_close) = monday_and_tuesday_closes();
    let funding = |h: &Harness| h.state("a").close_marks.funding_since_close;
    // Monday, no close before the account: funding since it was opened.
    let mut h = funded(cfg);
    assert_eq!(funding(&h), Some(d("5000")));
    // A withdrawal hold and its release on failure leave total cash alone: not counted.
    h.send("a", AccountInput::WithdrawalRequested { funding_id: "w1".into(), amount: d("100") });
    assert_eq!((h.state("a").total_cash(), funding(&h)), (d("5000"), Some(d("5000"))));
    h.send("a", AccountInput::FundingFailed { funding_id: "w1".into(), reason: "bank".into() });
    assert_eq!(funding(&h), Some(d("5000")));
    h.send("a", AccountInput::PlaceOrder(buy("o1", "10", "100")));
    h.send("a", fill("o1", "x1", "4", "99.5", "1.25"));
    // Tuesday: the first input rolls the marks to Monday's close and resets the funding.
    h.time = Timestamp(monday_close + 13 * HOUR);
    h.fund("a", "f2", "250");
    assert_eq!((h.state("a").close_marks.close_at, funding(&h)), (Some(monday_close), Some(d("250"))));
    // A requested withdrawal counts only once it is paid out.
    h.send("a", AccountInput::WithdrawalRequested { funding_id: "w2".into(), amount: d("40") });
    assert_eq!(funding(&h), Some(d("250")));
    let outs = h.send("a", AccountInput::FundingCompleted { funding_id: "w2".into() });
    assert_eq!(funding(&h), Some(d("210")));
    let outs_fill = h.send("a", fill("o1", "x2", "6", "101", "0.5"));
    // Cash now - cash at Monday's close = funding 210 + trades (-606 - 0.5).
    let snap = last_snapshot(&outs_fill).unwrap();
    let v = snap.at_previous_close(h.time.0).unwrap();
    assert_eq!((v.cash, v.funding_since_close), (d("4600.75"), Some(d("210"))));
    assert_eq!(snap.cash - v.cash, d("210") + d("-606.5"));
    assert_eq!(last_snapshot(&outs).unwrap().close_marks.funding_since_close, Some(d("210")));
    // After Tuesday's close nothing happened since: zero funding since that close.
    assert_eq!(snap.at_previous_close(tuesday_close).unwrap().funding_since_close, Some(d("0")));
    // The next input after Tuesday's close resets it.
    h.time = Timestamp(tuesday_close + HOUR);
    h.send("a", AccountInput::PlaceOrder(limit("o2", "AAPL", Side::Sell, "1", "120")));
    assert_eq!((h.state("a").close_marks.close_at, funding(&h)), (Some(tuesday_close), Some(d("0"))));
}
