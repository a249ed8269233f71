//! Schema evolution rules, checked against the stored history of every schema.
//!
//! `schemas/avro/history/<Record>.v<N>.avsc` holds every published version; the highest
//! must equal the current `schemas/avro/<Record>.avsc`. Commands and events must be
//! BACKWARD_TRANSITIVE (the current reader reads every earlier version); state snapshots
//! and changelogs FULL_TRANSITIVE (also every earlier reader reads the current version).
//! `schemas/fixtures/<Record>.v<N>.avro` holds a value written with version N; every
//! fixture must decode with the current schema into the typed record.
//!
//! To add a version: copy the new schema to history with the next number, then run
//! `TRADEFLOW_WRITE_FIXTURES=1 cargo test -p schemas evolution` once to write its fixture.

use crate::codec::{AvroRecord, Codec, ALL_SCHEMAS};
use crate::records::*;
use crate::registry::Compatibility;
use crate::topics::TOPICS;
use apache_avro::types::Value;
use apache_avro::writer::datum::GenericDatumWriter;
use apache_avro::Schema;
use std::path::PathBuf;

fn dir(sub: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(sub)
}

/// All stored versions of `name`, oldest first.
fn history(name: &str) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    for v in 1.. {
        let p = dir("avro/history").join(format!("{name}.v{v}.avsc"));
        match std::fs::read_to_string(&p) {
            Ok(text) => out.push((v, text)),
            Err(_) => break,
        }
    }
    out
}

#[test]
fn latest_history_version_is_the_current_schema() {
    for (name, json) in ALL_SCHEMAS {
        let h = history(name);
        assert!(!h.is_empty(), "{name}: no history file");
        let latest = Schema::parse_str(&h.last().unwrap().1).unwrap();
        let current = Schema::parse_str(json).unwrap();
        assert_eq!(latest.canonical_form(), current.canonical_form(), "{name}: add a new history version");
    }
}

#[test]
fn evolution_rules_hold_for_every_topic() {
    for t in TOPICS {
        let versions: Vec<Schema> = history(t.value).iter().map(|(_, j)| Schema::parse_str(j).unwrap()).collect();
        let (old, new) = versions.split_at(versions.len() - 1);
        t.compatibility.check(old, &new[0]).unwrap_or_else(|e| panic!("{} ({}): {e}", t.name, t.value));
        let expected = match t.cleanup {
            crate::topics::Cleanup::Compact => Compatibility::FullTransitive,
            crate::topics::Cleanup::Delete | crate::topics::Cleanup::Retain => Compatibility::BackwardTransitive,
        };
        assert_eq!(t.compatibility, expected, "{}", t.name);
    }
}

#[test]
fn every_decimal_field_uses_the_house_scale() {
    for (name, json) in ALL_SCHEMAS {
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        let mut stack = vec![&v];
        while let Some(x) = stack.pop() {
            match x {
                serde_json::Value::Object(m) => {
                    if m.get("logicalType").and_then(|l| l.as_str()) == Some("decimal") {
                        assert_eq!(m["scale"], crate::decimal::SCALE, "{name}");
                        assert_eq!(m["precision"], crate::decimal::PRECISION, "{name}");
                        assert_eq!(m["type"], "bytes", "{name}");
                    }
                    assert!(m.get("type") != Some(&serde_json::json!("float")), "{name}: float");
                    assert!(m.get("type") != Some(&serde_json::json!("double")), "{name}: double");
                    stack.extend(m.values());
                }
                serde_json::Value::Array(a) => stack.extend(a.iter()),
                _ => {}
            }
        }
    }
}

/// Rewrites `value` (valid for the current schema) into the shape of an older `schema` by
/// dropping record fields the older schema does not have.
fn project(value: Value, schema: &Schema, names: &apache_avro::schema::NamesRef) -> Value {
    use apache_avro::schema::Schema as S;
    let schema = match schema {
        S::Ref { name } => *names.get(name).expect("named type"),
        s => s,
    };
    match (value, schema) {
        (Value::Record(fields), S::Record(rs)) => Value::Record(
            fields
                .into_iter()
                .filter_map(|(n, v)| {
                    rs.fields.iter().find(|f| f.name == n).map(|f| (n, project(v, &f.schema, names)))
                })
                .collect(),
        ),
        (Value::Union(i, v), S::Union(u)) => {
            let branch = &u.variants()[i as usize];
            Value::Union(i, Box::new(project(*v, branch, names)))
        }
        (Value::Array(items), S::Array(a)) => {
            Value::Array(items.into_iter().map(|v| project(v, &a.items, names)).collect())
        }
        (v, _) => v,
    }
}

fn check_fixtures<T: AvroRecord + PartialEq + std::fmt::Debug>(sample: T) {
    let write = std::env::var("TRADEFLOW_WRITE_FIXTURES").is_ok();
    for (v, json) in history(T::NAME) {
        let schema = Schema::parse_str(&json).unwrap();
        let path = dir("fixtures").join(format!("{}.v{v}.avro", T::NAME));
        if write && !path.exists() {
            // Encode schema-aware, then read back as a generic value shaped by the schema.
            let current = Codec::encode_body(&sample).unwrap();
            let value = apache_avro::reader::datum::GenericDatumReader::builder(T::schema())
                .build()
                .unwrap()
                .read_value(&mut &current[..])
                .unwrap();
            let resolved = apache_avro::schema::ResolvedSchema::try_from(&schema).unwrap();
            let value = project(value, &schema, resolved.get_names());
            let body = GenericDatumWriter::builder(&schema).build().unwrap().write_value_to_vec(value).unwrap();
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, body).unwrap();
        }
        let body = std::fs::read(&path).unwrap_or_else(|_| panic!("missing fixture {}", path.display()));
        let decoded: T = Codec::decode_body(Some(&schema), &body)
            .unwrap_or_else(|e| panic!("{} v{v} fixture: {e}", T::NAME));
        // Fixtures are written from the sample; fields added later take their defaults.
        if v as usize == history(T::NAME).len() {
            assert_eq!(decoded, sample, "{} v{v}", T::NAME);
        }
    }
}

#[test]
fn fixtures_of_every_version_decode_with_the_current_schema() {
    use crate::codec::tests::{d, sample_place};
    let mut v1_reader_view = sample_place();
    check_fixtures(sample_place());
    // The v1 fixture carries no extended_hours; it must read as the default (false).
    let v1 = std::fs::read(dir("fixtures/OrderCommand.v1.avro")).unwrap();
    let v1_schema = Schema::parse_str(&history("OrderCommand")[0].1).unwrap();
    let decoded: OrderCommand = Codec::decode_body(Some(&v1_schema), &v1).unwrap();
    if let OrderInstruction::PlaceOrder(p) = &mut v1_reader_view.body {
        p.extended_hours = false;
    }
    assert_eq!(decoded, v1_reader_view);

    check_fixtures(AmountEvent { seq: 7, amount: d("12.5"), at_ns: 1 });
    check_fixtures(TotalUpdated { key: "k".into(), input_seq: 7, amount: d("1"), total: d("3"), count: 2, at_ns: 1 });
    check_fixtures(RunningTotal { total: d("-3.25"), count: 4, last_seq: 9 });
    check_fixtures(samples::routed());
    check_fixtures(samples::funding());
    check_fixtures(samples::account());
    check_fixtures(samples::instrument());
    check_fixtures(samples::order_event());
    check_fixtures(samples::execution());
    check_fixtures(samples::trade());
    check_fixtures(samples::ledger());
    check_fixtures(samples::funding_event());
    check_fixtures(samples::account_snapshot());
    check_fixtures(samples::account_state());
    check_fixtures(samples::position());
    check_fixtures(samples::book());
    check_fixtures(samples::book_state());
    check_fixtures(samples::dead_letter());
    check_fixtures(samples::realized_gain());
    check_fixtures(samples::portfolio_snapshot());
    check_fixtures(samples::portfolio_state());
    // Portfolio v1 records carry no closed_cost_basis: it reads as unknown, not as zero.
    let v1 = std::fs::read(dir("fixtures/PortfolioSnapshot.v1.avro")).unwrap();
    let v1_schema = Schema::parse_str(&history("PortfolioSnapshot")[0].1).unwrap();
    let decoded: PortfolioSnapshot = Codec::decode_body(Some(&v1_schema), &v1).unwrap();
    assert_eq!(decoded, PortfolioSnapshot { closed_cost_basis: None, ..samples::portfolio_snapshot() });
    let v1 = std::fs::read(dir("fixtures/PortfolioState.v1.avro")).unwrap();
    let v1_schema = Schema::parse_str(&history("PortfolioState")[0].1).unwrap();
    let decoded: PortfolioState = Codec::decode_body(Some(&v1_schema), &v1).unwrap();
    assert_eq!(decoded, PortfolioState { closed_cost_basis: None, ..samples::portfolio_state() });
    // AccountSnapshot v3 / AccountState v2 carry the close marks but no funding since the
    // close: it reads as unknown, not as zero.
    let v3 = std::fs::read(dir("fixtures/AccountSnapshot.v3.avro")).unwrap();
    let v3_schema = Schema::parse_str(&history("AccountSnapshot")[2].1).unwrap();
    let decoded: AccountSnapshot = Codec::decode_body(Some(&v3_schema), &v3).unwrap();
    assert_eq!(decoded, AccountSnapshot { funding_since_close: None, ..samples::account_snapshot() });
    let v2 = std::fs::read(dir("fixtures/AccountState.v2.avro")).unwrap();
    let v2_schema = Schema::parse_str(&history("AccountState")[1].1).unwrap();
    let decoded: AccountState = Codec::decode_body(Some(&v2_schema), &v2).unwrap();
    assert_eq!(decoded, AccountState { funding_since_close: None, ..samples::account_state() });
    check_fixtures(samples::user());
    check_fixtures(samples::api_key());
    check_fixtures(samples::audit());
    check_fixtures(samples::watchlist());
    check_fixtures(samples::session());
}

mod samples {
    use crate::codec::tests::{d, sample_place};
    use crate::records::*;

    pub fn user() -> UserRecord {
        UserRecord {
            user_id: "u-1".into(),
            email: "alice@example.com".into(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA".into(),
            role: UserRole::Trader,
            account_id: "a".into(),
            disabled: false,
            created_at_ns: 1,
            updated_at_ns: 2,
        }
    }
    pub fn api_key() -> ApiKeyRecord {
        ApiKeyRecord {
            key_id: "PKTEST".into(),
            secret_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA".into(),
            user_id: "u-1".into(),
            account_id: "a".into(),
            role: UserRole::Analyst,
            label: "ci".into(),
            created_at_ns: 3,
            revoked_at_ns: Some(4),
        }
    }
    pub fn session() -> SessionRecord {
        SessionRecord {
            family_id: "f-1".into(),
            user_id: "u-1".into(),
            current_jti: "j-3".into(),
            retired_jtis: vec!["j-1".into(), "j-2".into()],
            expires_at_ns: 8,
            revoked: false,
        }
    }
    pub fn watchlist() -> WatchlistRecord {
        WatchlistRecord {
            watchlist_id: "w-1".into(),
            account_id: "a".into(),
            name: "tech".into(),
            symbols: vec!["AAPL".into(), "MSFT".into()],
            created_at_ns: 6,
            updated_at_ns: 7,
        }
    }
    pub fn audit() -> AuditRecord {
        AuditRecord {
            audit_id: "au-1".into(),
            request_id: "r-1".into(),
            at_ns: 5,
            actor: "user:u-1".into(),
            action: "funding.deposit".into(),
            target: "a".into(),
            outcome: AuditOutcome::Denied,
            status: 404,
            detail: Some("not_found".into()),
            partition: 0,
            seq: 0,
            prev_hash: "0".repeat(64),
            hash: "ab".repeat(32),
        }
    }

    pub fn routed() -> RoutedOrder {
        let c = sample_place();
        RoutedOrder {
            command_id: c.command_id,
            account_id: c.account_id,
            symbol: "AAPL".into(),
            routed_at_ns: 2,
            body: c.body,
            protection_price: Some(d("196.56")),
        }
    }
    pub fn funding() -> FundingCommand {
        FundingCommand {
            command_id: "f-1".into(),
            account_id: "a".into(),
            issued_at_ns: 1,
            body: FundingInstruction::RequestDeposit(RequestDeposit { funding_id: "fd-1".into(), amount: d("1000.00") }),
        }
    }
    pub fn account() -> AccountCommand {
        AccountCommand {
            command_id: "ac-1".into(),
            account_id: "a".into(),
            issued_at_ns: 1,
            body: AccountInstruction::OpenAccount(OpenAccount {
                owner_id: "u".into(),
                kyc_status: KycStatus::Approved,
                kyc_tier: 2,
                allow_shorting: false,
            }),
        }
    }
    pub fn instrument() -> InstrumentCommand {
        InstrumentCommand {
            command_id: "i-1".into(),
            symbol: "AAPL".into(),
            issued_at_ns: 1,
            body: InstrumentInstruction::ListInstrument(ListInstrument {
                name: "Apple Inc.".into(),
                tick_size: d("0.01"),
                lot_size: d("0.0001"),
                min_qty: d("0.0001"),
                max_order_notional: Some(d("1000000")),
                self_trade_prevention: SelfTradePrevention::CancelNewest,
                price_band_pct: Some(d("10")),
            }),
        }
    }
    pub fn order_event() -> OrderEvent {
        OrderEvent {
            event_id: "e-1".into(),
            account_id: "a".into(),
            order_id: "o-1".into(),
            client_order_id: None,
            symbol: "AAPL".into(),
            at_ns: 5,
            status: OrderStatus::Rejected,
            reason: Some(OrderReason::InsufficientBuyingPower),
            filled_qty: d("0"),
            leaves_qty: d("0"),
            avg_fill_price: None,
            replaced_by: None,
            message: Some("needs 100.00, has 50.00".into()),
            origin: Some(OrderEventOrigin::Accounts),
            event_type: Some(OrderEventType::Rejected),
            fill: Some(OrderFill { fill_id: "x-1".into(), qty: d("0.5"), price: d("187.25"), fee: d("0.01"), settlement_date: Some(19_733) }),
            new_qty: Some(d("2")),
            new_limit_price: Some(d("187.30")),
            new_stop_price: None,
        }
    }
    pub fn execution() -> ExecutionReport {
        ExecutionReport {
            exec_id: "x-1".into(),
            trade_id: "t-1".into(),
            account_id: "a".into(),
            order_id: "o-1".into(),
            client_order_id: Some("c".into()),
            symbol: "AAPL".into(),
            side: Side::Sell,
            last_qty: d("0.5"),
            last_price: d("187.25"),
            cum_qty: d("0.5"),
            leaves_qty: d("0.5"),
            avg_price: d("187.25"),
            fee: d("0.01"),
            liquidity: Liquidity::Maker,
            at_ns: 6,
        }
    }
    pub fn trade() -> Trade {
        Trade {
            trade_id: "t-1".into(),
            symbol: "AAPL".into(),
            seq: 1,
            price: d("187.25"),
            qty: d("0.5"),
            aggressor: Side::Buy,
            buy_order_id: "o-2".into(),
            sell_order_id: "o-1".into(),
            at_ns: 6,
        }
    }
    pub fn ledger() -> LedgerEntry {
        LedgerEntry {
            entry_id: "a:1".into(),
            account_id: "a".into(),
            at_ns: 1,
            kind: EntryKind::Deposit,
            reference: "fd-1".into(),
            postings: vec![
                Posting { ledger_account: "cash:available".into(), asset: "USD".into(), debit: d("1000"), credit: d("0") },
                Posting { ledger_account: "external:bank".into(), asset: "USD".into(), debit: d("0"), credit: d("1000") },
            ],
        }
    }
    pub fn funding_event() -> FundingEvent {
        FundingEvent {
            event_id: "fe-1".into(),
            account_id: "a".into(),
            funding_id: "fd-1".into(),
            direction: FundingDirection::Withdrawal,
            status: FundingStatus::Rejected,
            amount: d("5000"),
            reason: Some("above withdrawable cash".into()),
            at_ns: 1,
        }
    }
    pub fn account_snapshot() -> AccountSnapshot {
        AccountSnapshot {
            account_id: "a".into(),
            owner_id: "u".into(),
            status: AccountStatus::Active,
            kyc_status: KycStatus::Approved,
            kyc_tier: 2,
            cash: d("1000"),
            held_cash: d("100"),
            unsettled_cash: d("0"),
            buying_power: d("900"),
            withdrawable_cash: d("900"),
            positions: vec![PositionQty { symbol: "AAPL".into(), qty: d("2"), held_qty: d("1") }],
            version: 3,
            as_of_ns: 9,
            pending_withdrawals: Some(d("25")),
            deficit: Some(d("0")),
            open_orders: Some(1),
            session_close_ns: Some(1_763_758_800_000_000_000),
            close_at_ns: Some(1_763_672_400_000_000_000),
            close_cash: Some(d("1250.5")),
            close_positions: Some(vec![CloseQty { symbol: "AAPL".into(), qty: d("1.5") }]),
            funding_since_close: Some(d("-99.5")),
        }
    }
    pub fn account_state() -> AccountState {
        AccountState {
            owner_id: "u".into(),
            status: AccountStatus::Active,
            kyc_status: KycStatus::Approved,
            kyc_tier: 2,
            allow_shorting: false,
            ledger_seq: 7,
            balances: vec![
                LedgerBalance { ledger_account: "cash:available".into(), balance: d("900") },
                LedgerBalance { ledger_account: "external:bank".into(), balance: d("-1000") },
            ],
            orders: vec![OpenOrderState {
                order_id: "o-1".into(),
                client_order_id: "c-1".into(),
                symbol: "AAPL".into(),
                side: Side::Buy,
                order_type: OrderType::Limit,
                time_in_force: TimeInForce::Day,
                qty: Some(d("1")),
                notional: None,
                limit_price: Some(d("100")),
                stop_price: None,
                reserve_price: d("100"),
                filled_qty: d("0"),
                filled_cost: d("0"),
                fill_ids: vec!["x-1".into()],
                cash_hold: d("100"),
                cash_hold_unsettled: d("0"),
                shares_hold: d("0"),
                pending_cancel: false,
                pending_replace: Some(PendingReplaceState {
                    new_order_id: "o-2".into(),
                    new_client_order_id: "c-2".into(),
                    qty: d("2"),
                    limit_price: Some(d("99")),
                    stop_price: None,
                    reserve_price: d("99"),
                }),
            }],
            fundings: vec![PendingFundingState { funding_id: "f-1".into(), direction: FundingDirection::Deposit, amount: d("50"), date: 19_733 }],
            settlements: vec![SettlementState { date: 19_734, amount: d("10.5") }],
            daily_date: 19_733,
            daily_deposits: d("50"),
            daily_withdrawals: d("0"),
            daily_order_notional: d("100"),
            recent_orders_ns: vec![1, 2],
            session_close_ns: Some(1_763_758_800_000_000_000),
            close_at_ns: Some(1_763_672_400_000_000_000),
            close_cash: Some(d("800")),
            close_positions: Some(vec![CloseQty { symbol: "AAPL".into(), qty: d("-3") }]),
            funding_since_close: Some(d("1000.25")),
        }
    }
    pub fn position() -> PositionSnapshot {
        PositionSnapshot {
            account_id: "a".into(),
            symbol: "AAPL".into(),
            qty: d("2"),
            avg_cost: d("100.5"),
            cost_basis: d("201"),
            realized_pnl: d("-3.5"),
            lots: vec![TaxLot { lot_id: "l-1".into(), qty: d("2"), price: d("100.5"), acquired_at_ns: 1, fee: Some(d("0.35")) }],
            as_of_ns: 9,
        }
    }
    pub fn book() -> BookSnapshot {
        BookSnapshot {
            symbol: "AAPL".into(),
            status: InstrumentStatus::Listed,
            bids: vec![Level { price: d("187.20"), qty: d("3"), orders: 2 }],
            asks: vec![Level { price: d("187.30"), qty: d("1.5"), orders: 1 }],
            last_trade_price: Some(d("187.25")),
            seq: 12,
            as_of_ns: 9,
            session_close_ns: Some(1_763_758_800_000_000_000),
            previous_close_ns: Some(1_763_672_400_000_000_000),
            previous_close_price: Some(d("186.90")),
        }
    }
    pub fn book_state() -> BookState {
        BookState {
            commands: 42,
            last_report: 17,
            book: Some(BookImage {
                rules: BookRules {
                    tick_size: d("0.01"),
                    lot_size: d("0.0001"),
                    min_qty: Some(d("0.001")),
                    max_notional: None,
                    self_trade_prevention: SelfTradePrevention::CancelNewest,
                    band_bps: Some(500),
                    reference_price: None,
                },
                status: InstrumentStatus::Listed,
                last_trade_ticks: Some(18725),
                next_seq: 9,
                next_exec_id: 5,
                next_trade_id: 3,
                orders: vec![LiveOrder {
                    order_id: "6f1c1d52-0000-4000-8000-000000000001".into(),
                    account_id: "6f1c1d52-0000-4000-8000-0000000000aa".into(),
                    client_order_id: Some("c-1".into()),
                    side: Side::Buy,
                    order_type: OrderType::StopLimit,
                    time_in_force: TimeInForce::Gtc,
                    order_lots: 30000,
                    leaves_lots: 10000,
                    cum_lots: 20000,
                    limit_ticks: Some(18720),
                    stop_ticks: Some(18700),
                    seq: 4,
                    expires_at_ns: None,
                    triggered: true,
                    fill_notional: 374_400_000,
                }],
                session_close_ns: Some(1_763_758_800_000_000_000),
                previous_close_ns: Some(1_763_672_400_000_000_000),
                previous_close_ticks: Some(18690),
            }),
        }
    }
    pub fn dead_letter() -> DeadLetter {
        DeadLetter {
            pipeline: "totals".into(),
            source_topic: "totals.input".into(),
            source_partition: 0,
            source_offset: 17,
            error_kind: ErrorKind::UnknownSchemaId,
            error: "unknown schema id 99".into(),
            key: Some(b"k".to_vec()),
            value: Some(vec![0, 0, 0, 0, 99]),
            value_size: 5,
            failed_at_ns: 3,
        }
    }
    pub fn realized_gain() -> RealizedGain {
        RealizedGain {
            account_id: "a".into(),
            symbol: "AAPL".into(),
            fill_id: "x-2".into(),
            side: Side::Sell,
            executed_at_ns: 7,
            trade_date: 19_733,
            qty: d("1.5"),
            proceeds: d("280.87"),
            cost_basis: d("270.01"),
            gain: d("10.86"),
            short_term_gain: d("10.86"),
            long_term_gain: d("0"),
            disposals: vec![LotDisposal {
                lot_id: "x-1".into(),
                lot_side: LotSide::Long,
                qty: d("1.5"),
                opened_at_ns: 6,
                acquired_on: 19_700,
                disposed_on: 19_733,
                holding_days: 33,
                proceeds: d("280.87"),
                cost_basis: d("270.01"),
                gain: d("10.86"),
                term: HoldingTerm::ShortTerm,
            }],
        }
    }
    pub fn portfolio_snapshot() -> PortfolioSnapshot {
        PortfolioSnapshot {
            account_id: "a".into(),
            as_of_ns: 9,
            lot_method: LotMethod::Fifo,
            open_positions: 1,
            cost_basis: d("-199"),
            realized_pnl: d("10.86"),
            closed_cost_basis: Some(d("400.12")),
        }
    }
    pub fn portfolio_state() -> PortfolioState {
        PortfolioState {
            account_id: "a".into(),
            lot_method: LotMethod::SpecificLot,
            positions: vec![PositionState {
                symbol: "AAPL".into(),
                realized_pnl: "10.8599999999".into(),
                lots: vec![LotState {
                    lot_id: "x-3".into(),
                    side: LotSide::Short,
                    opened_at_ns: 8,
                    original_qty: d("2"),
                    qty: d("1"),
                    price: d("200"),
                    fee: "0.0033333333".into(),
                }],
            }],
            applied_fills: vec!["x-1".into(), "x-2".into(), "x-3".into()],
            pending_instructions: vec![LotInstructionState { fill_id: "x-4".into(), lots: vec!["x-3".into()] }],
            marks: vec![MarkState { symbol: "AAPL".into(), last: d("187.25"), previous_close: d("186") }],
            closed_cost_basis: Some("400.1233333334".into()),
        }
    }
}
