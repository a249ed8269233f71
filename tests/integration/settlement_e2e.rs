//! Accounts, matching and portfolio across two trading days on a real broker: day orders
//! expire at the session close, sale proceeds settle T+1, and kill -9 changes nothing.
//!
//! The combined trading test stays inside one business day. This one moves event time on
//! purpose (event times come from the commands, not from the wall clock), on a past trade
//! date D whose next business day S = D+1 is also past:
//! 1. D 16:00 UTC: list AAA, open three accounts (a market maker allowed to short, a
//!    buyer, a trader), fund them.
//! 2. D 18:00 UTC (before the 16:00 New York close): the market maker offers 60 @ 100 and
//!    60 @ 101 (GTC, short), the buyer lifts 100 with a day limit at 101 (partial fills at
//!    two prices), the trader bids 10 @ 90 (day), the buyer offers 40 @ 120 (day), and the
//!    market maker asks to withdraw 6,000 while only 5,000 is settled: refused.
//! 3. D+1 03:00 UTC (after the close; still trade date D for the accounts calendar): a
//!    `ResumeInstrument` for AAA moves the venue's stream time past the close, so both day
//!    orders expire by punctuation and the accounts release their holds.
//! 4. S 16:00 UTC: a 1.00 deposit per account moves each account partition's stream time
//!    into S, so the sale proceeds settle; the market maker's 12,000 withdrawal now passes
//!    and its last resting offer is canceled.
//!
//! Each pipeline is SIGKILLed and restarted at least once while records are in flight.
//! Every balance below is exact; the ledger balances per entry; fills carry the settlement
//! date S; positions equal the fills; account snapshots on S carry each account's cash and
//! shares at D's close (the previous close's equity, `last_equity`) and the funding since
//! that close (S's deposits and withdrawal), which makes the day P&L on S exactly 0.

use crate::trading_e2e::{account, decode_all, settle, Api, TOPICS};
use rust_decimal::Decimal;
use schemas::records as w;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;
use tests::{create_prefixed_topics, producer, Processor};

const DAY_NS: i64 = 86_400_000_000_000;
const HOUR_NS: i64 = 3_600_000_000_000;
const PARTITIONS: i32 = 3;

/// Days since 1970-01-01 of the latest Monday..Thursday at least four days ago: D and
/// D+1 are business days and all of D+1 is in the past.
fn trade_date() -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as i64;
    let mut d = now.div_euclid(DAY_NS) - 4;
    // 1970-01-01 was a Thursday: weekday 0 = Monday.
    while (d + 3).rem_euclid(7) > 3 {
        d -= 1;
    }
    d
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn restart(procs: &mut BTreeMap<&'static str, Processor>, name: &'static str, prefix: &str) {
    let p = procs.remove(name).expect("running");
    p.kill9();
    std::thread::sleep(Duration::from_millis(300));
    procs.insert(name, Processor::pipeline(name, prefix, "t", &[]));
}

fn snapshots(api: &Api) -> BTreeMap<String, w::AccountSnapshot> {
    decode_all::<w::AccountSnapshot>(&api.codec, &api.topic("accounts.snapshots")).into_iter().collect()
}

#[derive(Debug, PartialEq)]
struct Cash {
    cash: Decimal,
    held: Decimal,
    unsettled: Decimal,
    withdrawable: Decimal,
}

fn cash(s: &w::AccountSnapshot) -> Cash {
    Cash { cash: s.cash, held: s.held_cash, unsettled: s.unsettled_cash, withdrawable: s.withdrawable_cash }
}

fn c(cash: &str, held: &str, unsettled: &str, withdrawable: &str) -> Cash {
    Cash { cash: dec(cash), held: dec(held), unsettled: dec(unsettled), withdrawable: dec(withdrawable) }
}

/// (qty, held qty) of `symbol` in the snapshot.
fn shares(s: &w::AccountSnapshot, symbol: &str) -> (Decimal, Decimal) {
    s.positions.iter().find(|p| p.symbol == symbol).map_or((Decimal::ZERO, Decimal::ZERO), |p| (p.qty, p.held_qty))
}

#[test]
fn day_orders_expire_at_the_close_and_proceeds_settle_t_plus_one_under_kill_minus_nine() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let prefix = tests::unique_prefix("settle");
    rt.block_on(create_prefixed_topics(&prefix, PARTITIONS, &TOPICS));
    let codec = Arc::new(rt.block_on(tests::codec()));
    let d = trade_date();
    let s_date = d + 1;
    eprintln!("settlement_e2e: prefix {prefix}, trade date {d} (days since epoch), settlement {s_date}");
    let mut api = Api { prefix: prefix.clone(), codec, producer: producer(), time_ns: d * DAY_NS + 16 * HOUR_NS, seq: 0, orders: 0 };
    let mut procs: BTreeMap<&'static str, Processor> =
        ["accounts", "matching", "portfolio"].into_iter().map(|p| (p, Processor::pipeline(p, &prefix, "t", &[]))).collect();
    let (mm, buyer, trader) = (account(0x51), account(0x52), account(0x53));

    // 1. Set-up on D.
    api.list("AAA");
    for (acct, short) in [(&mm, true), (&buyer, false), (&trader, false)] {
        let body = w::AccountInstruction::OpenAccount(w::OpenAccount { owner_id: format!("owner-{acct}"), kyc_status: w::KycStatus::Approved, kyc_tier: 3, allow_shorting: short });
        api.account_cmd(acct, body);
    }
    api.flush();
    settle(&prefix);
    for (acct, amount) in [(&mm, 5_000), (&buyer, 20_000), (&trader, 5_000)] {
        let funding_id = format!("{acct}-d1");
        api.funding(acct, w::FundingInstruction::RequestDeposit(w::RequestDeposit { funding_id: funding_id.clone(), amount: Decimal::from(amount) }));
        api.funding(acct, w::FundingInstruction::CompleteFunding(w::CompleteFunding { funding_id }));
    }
    api.flush();
    settle(&prefix);

    // 2. Trading on D, before the close. One command per step, each after the previous one
    // took effect where the order matters (the offers must rest before the buyer lifts them).
    api.time_ns = d * DAY_NS + 18 * HOUR_NS;
    use w::{OrderType::Limit, Side::*, TimeInForce::*};
    api.place(&mm, "AAA", Sell, Limit, Gtc, 60, Some(dec("100")));
    let mm_rest = api.place(&mm, "AAA", Sell, Limit, Gtc, 60, Some(dec("101")));
    api.flush();
    settle(&prefix);
    let buyer_buy = api.place(&buyer, "AAA", Buy, Limit, Day, 100, Some(dec("101")));
    api.flush();
    restart(&mut procs, "accounts", &prefix);
    settle(&prefix);
    let trader_bid = api.place(&trader, "AAA", Buy, Limit, Day, 10, Some(dec("90")));
    let buyer_offer = api.place(&buyer, "AAA", Sell, Limit, Day, 40, Some(dec("120")));
    api.funding(&mm, w::FundingInstruction::RequestWithdrawal(w::RequestWithdrawal { funding_id: format!("{mm}-w1"), amount: dec("6000") }));
    api.flush();
    restart(&mut procs, "portfolio", &prefix);
    settle(&prefix);

    let snap = snapshots(&api);
    assert_eq!(cash(&snap[&mm]), c("15040", "0", "10040", "5000"), "market maker on D: proceeds unsettled");
    assert_eq!(cash(&snap[&buyer]), c("9960", "0", "0", "9960"), "buyer on D");
    assert_eq!(cash(&snap[&trader]), c("5000", "900", "0", "4100"), "trader on D: 10 @ 90 held");
    assert_eq!(snap[&trader].buying_power, dec("4100"));
    assert_eq!(shares(&snap[&buyer], "AAA"), (dec("100"), dec("40")), "buyer: 40 of 100 held for the day offer");
    assert_eq!(shares(&snap[&mm], "AAA").0, dec("-100"));
    let refused: Vec<w::FundingEvent> = decode_all::<w::FundingEvent>(&api.codec, &api.topic("funding.events"))
        .into_iter()
        .map(|(_, e)| e)
        .filter(|e| e.funding_id == format!("{mm}-w1"))
        .collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].status, w::FundingStatus::Rejected, "only settled cash is withdrawable: {refused:?}");

    // 3. After the close: the venue's stream time passes it and the day orders expire.
    api.time_ns = (d + 1) * DAY_NS + 3 * HOUR_NS;
    let (command_id, issued_at_ns) = api.next();
    let resume = w::InstrumentCommand { command_id, symbol: "AAA".into(), issued_at_ns, body: w::InstrumentInstruction::ResumeInstrument(w::ResumeInstrument {}) };
    tests::send(&api.producer, &api.topic("instruments.commands"), "AAA", &api.codec.encode(&resume).unwrap());
    api.flush();
    restart(&mut procs, "matching", &prefix);
    settle(&prefix);

    let events: Vec<w::OrderEvent> = decode_all::<w::OrderEvent>(&api.codec, &api.topic("orders.events")).into_iter().map(|(_, e)| e).collect();
    for id in [&trader_bid, &buyer_offer] {
        for origin in [w::OrderEventOrigin::Venue, w::OrderEventOrigin::Accounts] {
            let n = events.iter().filter(|e| &e.order_id == id && e.origin == Some(origin) && e.status == w::OrderStatus::Expired).count();
            assert_eq!(n, 1, "order {id}: one EXPIRED event from {origin:?}");
        }
    }
    let snap = snapshots(&api);
    assert_eq!(cash(&snap[&trader]), c("5000", "0", "0", "5000"), "trader after the close: hold released");
    assert_eq!(shares(&snap[&buyer], "AAA"), (dec("100"), dec("0")), "buyer after the close: shares released");
    assert_eq!(cash(&snap[&mm]), c("15040", "0", "10040", "5000"), "still trade date D: nothing settled");

    // 4. Settlement date: a deposit per account moves its partition into S.
    api.time_ns = s_date * DAY_NS + 16 * HOUR_NS;
    for acct in [&mm, &buyer, &trader] {
        let funding_id = format!("{acct}-d2");
        api.funding(acct, w::FundingInstruction::RequestDeposit(w::RequestDeposit { funding_id: funding_id.clone(), amount: Decimal::ONE }));
        api.funding(acct, w::FundingInstruction::CompleteFunding(w::CompleteFunding { funding_id }));
    }
    api.flush();
    restart(&mut procs, "accounts", &prefix);
    settle(&prefix);
    let snap = snapshots(&api);
    assert_eq!(cash(&snap[&mm]), c("15041", "0", "0", "15041"), "market maker on S: proceeds settled");
    api.funding(&mm, w::FundingInstruction::RequestWithdrawal(w::RequestWithdrawal { funding_id: format!("{mm}-w2"), amount: dec("12000") }));
    api.funding(&mm, w::FundingInstruction::CompleteFunding(w::CompleteFunding { funding_id: format!("{mm}-w2") }));
    api.cancel(&mm, &mm_rest);
    api.flush();
    settle(&prefix);

    // Final state.
    let snap = snapshots(&api);
    assert_eq!(cash(&snap[&mm]), c("3041", "0", "0", "3041"), "market maker at the end");
    assert_eq!(cash(&snap[&buyer]), c("9961", "0", "0", "9961"), "buyer at the end");
    assert_eq!(cash(&snap[&trader]), c("5001", "0", "0", "5001"), "trader at the end");
    let total: Decimal = [&mm, &buyer, &trader].iter().map(|a| snap[*a].cash).sum();
    assert_eq!(total, dec("18003"), "cash = deposits 30,003 - withdrawals 12,000");
    assert_eq!(shares(&snap[&mm], "AAA"), (dec("-100"), dec("0")));
    assert_eq!(shares(&snap[&buyer], "AAA"), (dec("100"), dec("0")));
    for a in [&mm, &buyer, &trader] {
        assert_eq!(snap[a].open_orders, Some(0), "{a}: no open orders");
    }

    // Fills: accounts' FILLED / PARTIALLY_FILLED events carry trade date D's settlement date.
    let events: Vec<w::OrderEvent> = decode_all::<w::OrderEvent>(&api.codec, &api.topic("orders.events")).into_iter().map(|(_, e)| e).collect();
    let booked: Vec<&w::OrderFill> = events.iter().filter(|e| e.origin == Some(w::OrderEventOrigin::Accounts)).filter_map(|e| e.fill.as_ref()).collect();
    assert_eq!(booked.len(), 4, "two partial fills, each booked on both sides");
    assert!(booked.iter().all(|f| f.settlement_date == Some(s_date as i32)), "{booked:?}");
    let buyer_fills: Vec<(Decimal, Decimal)> = events
        .iter()
        .filter(|e| e.order_id == buyer_buy && e.origin == Some(w::OrderEventOrigin::Accounts))
        .filter_map(|e| e.fill.as_ref().map(|f| (f.qty, f.price)))
        .collect();
    assert_eq!(buyer_fills, vec![(dec("60"), dec("100")), (dec("40"), dec("101"))]);
    let canceled = events.iter().filter(|e| e.order_id == mm_rest && e.origin == Some(w::OrderEventOrigin::Accounts) && e.status == w::OrderStatus::Canceled).count();
    assert_eq!(canceled, 1);

    // Ledger: unique ids, every entry balanced per asset.
    let ledger: Vec<w::LedgerEntry> = decode_all::<w::LedgerEntry>(&api.codec, &api.topic("ledger")).into_iter().map(|(_, e)| e).collect();
    let ids: BTreeSet<&str> = ledger.iter().map(|e| e.entry_id.as_str()).collect();
    assert_eq!(ids.len(), ledger.len(), "duplicate ledger entries");
    for e in &ledger {
        let mut net: BTreeMap<&str, Decimal> = BTreeMap::new();
        for p in &e.postings {
            *net.entry(&p.asset).or_default() += p.debit - p.credit;
        }
        assert!(net.values().all(|v| v.is_zero()), "unbalanced {e:?}");
    }

    // Portfolio: positions from the executions (FIFO; the buyer's two lots).
    let positions: BTreeMap<String, w::PositionSnapshot> = decode_all(&api.codec, &api.topic("positions.snapshots")).into_iter().collect();
    let b = &positions[&format!("{buyer}|AAA")];
    assert_eq!((b.qty, b.cost_basis, b.avg_cost), (dec("100"), dec("10040"), dec("100.4")));
    let m = &positions[&format!("{mm}|AAA")];
    assert_eq!((m.qty, m.cost_basis), (dec("-100"), dec("-10040")));

    // Session marks on book.depth (default US calendar). The last depth change is the
    // cancel on S, so the snapshot sits in S's session: its previous close is D's close at
    // the last trade of D (101); once S closes, the last trade (still 101) is the close.
    let calendar = operators::matching::CalendarRules::us_equities().compile().expect("built-in calendar");
    let d_close = calendar.next_close_after(operators::Timestamp(d * DAY_NS + 18 * HOUR_NS)).expect("a close after D 18:00");
    let s_close = calendar.next_close_after(operators::Timestamp(s_date * DAY_NS + 16 * HOUR_NS)).expect("a close after S 16:00");
    assert!(d_close < s_date * DAY_NS + 16 * HOUR_NS && s_close > d_close);
    let depth: BTreeMap<String, w::BookSnapshot> = decode_all(&api.codec, &api.topic("book.depth")).into_iter().collect();
    let aaa = &depth["AAA"];
    assert_eq!((aaa.session_close_ns, aaa.previous_close_ns, aaa.previous_close_price), (Some(s_close), Some(d_close), Some(dec("101"))), "{aaa:?}");
    assert_eq!(aaa.previous_close(s_close - 1), Some((d_close, Some(dec("101")))));
    assert_eq!(aaa.previous_close(s_close + HOUR_NS), Some((s_close, Some(dec("101")))));

    // Accounts' close marks (same calendar): every snapshot on S carries the account's cash
    // and shares at D's close, through a kill -9 of the accounts pipeline on S (restored
    // from the changelog); with the venue's previous close (101) they give the equity at
    // D's close, which is what GET /v2/account serves as `last_equity` during S.
    // The funding since D's close is S's 1.00 deposit (and the market maker's 12,000
    // withdrawal), carried through the kill -9 on S; it is what keeps the day P&L exact:
    // nothing traded on S and AAA's last trade is still D's close (101), so equity -
    // last_equity - funding is exactly 0 for every account, deposits and withdrawal
    // notwithstanding.
    for (acct, cash, qty, last_equity, funding) in
        [(&mm, "15040", Some("-100"), "4940", "-11999"), (&buyer, "9960", Some("100"), "20060", "1"), (&trader, "5000", None, "5000", "1")]
    {
        let s = &snap[acct];
        assert_eq!((s.session_close_ns, s.close_at_ns, s.close_cash), (Some(s_close), Some(d_close), Some(dec(cash))), "{acct}: {s:?}");
        assert_eq!(s.funding_since_close, Some(dec(funding)), "{acct}: funding since D's close");
        let want: Vec<w::CloseQty> = qty.map(|q| w::CloseQty { symbol: "AAA".into(), qty: dec(q) }).into_iter().collect();
        assert_eq!(s.close_positions.as_ref(), Some(&want), "{acct}");
        let at_close = s.at_previous_close(s_close - 1).expect("close marks");
        assert_eq!((at_close.valid_from_ns, at_close.valid_to_ns), (d_close, d_close));
        let mut equity = at_close.cash;
        for (symbol, q) in &at_close.positions {
            let (at, price) = depth[symbol].previous_close(s_close - 1).expect("a previous close");
            assert_eq!(at, d_close, "{symbol}: the same close as the account's marks");
            equity += q * price.expect("traded by D's close");
        }
        assert_eq!(equity, dec(last_equity), "{acct}: equity at D's close");
        assert_eq!(at_close.funding_since_close, Some(dec(funding)));
        let equity_now = s.cash + s.positions.iter().map(|p| p.qty * dec("101")).sum::<Decimal>();
        let day_pl = equity_now - equity - dec(funding);
        assert_eq!((equity_now - equity, day_pl), (dec(funding), Decimal::ZERO), "{acct}: equity now {equity_now}, day P&L on S");
        // After S's close nothing changed since: the current values, no funding since.
        assert_eq!(s.at_previous_close(s_close).map(|v| (v.cash, v.funding_since_close)), Some((s.cash, Some(Decimal::ZERO))));
    }
    for (_, p) in procs {
        p.stop();
    }
}
