//! Test harness: drives [`AccountsOperator`] over several accounts like the runtime
//! would, with builders for commands and extractors for outputs.

use std::collections::BTreeMap;
use std::str::FromStr;

use rust_decimal::Decimal;

use super::*;
use crate::{Operator, PunctuationKind, Timestamp};

/// Exact decimal from a literal.
pub fn d(s: &str) -> Decimal {
    Decimal::from_str(s).expect("decimal literal")
}

/// 2024-01-08 (a Monday) 15:00 UTC = 10:00 New York.
pub fn monday_10am() -> Timestamp {
    Timestamp(i64::from(Date::from_ymd(2024, 1, 8).0) * 86_400_000_000_000 + 15 * 3_600_000_000_000)
}

/// `days` calendar days later.
pub fn plus_days(t: Timestamp, days: i64) -> Timestamp {
    Timestamp(t.0 + days * 86_400_000_000_000)
}

/// A listed instrument with tick 0.01, lot 1, min qty 1 and the given last trade.
pub fn inst(symbol: &str, reference: &str) -> InstrumentSnapshot {
    InstrumentSnapshot {
        symbol: symbol.into(),
        status: InstrumentStatus::Listed,
        tick_size: d("0.01"),
        lot_size: d("1"),
        min_qty: d("1"),
        max_order_notional: None,
        reference_price: Some(d(reference)),
    }
}

/// A limit order with a quantity.
pub fn limit(id: &str, symbol: &str, side: Side, qty: &str, px: &str) -> PlaceOrder {
    PlaceOrder {
        order_id: id.into(),
        client_order_id: format!("c-{id}"),
        symbol: symbol.into(),
        side,
        order_type: OrderType::Limit,
        tif: TimeInForce::Day,
        size: OrderSize::Qty(d(qty)),
        limit_price: Some(d(px)),
        stop_price: None,
        instrument: Some(inst(symbol, px)),
    }
}

/// A market order with a quantity; the instrument's last trade is `reference`.
pub fn market(id: &str, symbol: &str, side: Side, qty: &str, reference: &str) -> PlaceOrder {
    PlaceOrder {
        order_type: OrderType::Market,
        limit_price: None,
        instrument: Some(inst(symbol, reference)),
        ..limit(id, symbol, side, qty, reference)
    }
}

/// A fill report.
pub fn fill(order: &str, fill_id: &str, qty: &str, px: &str, fee: &str) -> AccountInput {
    AccountInput::Execution(ExecutionReport::Fill {
        order_id: order.into(),
        fill_id: fill_id.into(),
        qty: d(qty),
        price: d(px),
        fee: d(fee),
    })
}

/// Drives the operator like the runtime: one state per key, outputs appended.
pub struct Harness {
    /// The operator under test.
    pub op: AccountsOperator,
    /// State per account.
    pub states: BTreeMap<String, Option<AccountState>>,
    /// Every output so far.
    pub log: Vec<AccountOutput>,
    /// Event time of the next input.
    pub time: Timestamp,
}

impl Harness {
    /// A harness with `config` at Monday 10:00 New York.
    pub fn new(config: AccountsConfig) -> Self {
        Harness {
            op: AccountsOperator::new(config),
            states: BTreeMap::new(),
            log: Vec::new(),
            time: monday_10am(),
        }
    }

    /// Processes one input; returns its outputs.
    pub fn send(&mut self, account: &str, input: AccountInput) -> Vec<AccountOutput> {
        let state = self.states.entry(account.to_string()).or_default();
        let mut out = Vec::new();
        self.op
            .process(&account.to_string(), state, input, self.time, &mut out);
        self.log.extend(out.iter().cloned());
        out
    }

    /// Fires stream-time punctuation for every account in key order.
    pub fn punctuate(&mut self) -> Vec<AccountOutput> {
        let mut out = Vec::new();
        for (key, state) in self.states.iter_mut() {
            self.op
                .punctuate(key, state, self.time, PunctuationKind::StreamTime, &mut out);
        }
        self.log.extend(out.iter().cloned());
        out
    }

    /// Opens a verified account.
    pub fn open(&mut self, account: &str, tier: KycTier, allow_shorting: bool) {
        let input = AccountInput::OpenAccount {
            owner: format!("user-{account}"),
            kyc_status: KycStatus::Verified,
            kyc_tier: tier,
            allow_shorting,
        };
        self.send(account, input);
    }

    /// Requests and completes a deposit.
    pub fn fund(&mut self, account: &str, funding_id: &str, amount: &str) {
        self.send(
            account,
            AccountInput::DepositRequested {
                funding_id: funding_id.into(),
                amount: d(amount),
            },
        );
        self.send(
            account,
            AccountInput::FundingCompleted {
                funding_id: funding_id.into(),
            },
        );
    }

    /// The account's state.
    pub fn state(&self, account: &str) -> &AccountState {
        self.states[account].as_ref().expect("account exists")
    }

    /// A ledger balance of the account.
    pub fn bal(&self, account: &str, ledger_account: LedgerAccount) -> Decimal {
        self.state(account).bal(&ledger_account)
    }

    /// Shares available of `symbol`.
    pub fn shares(&self, account: &str, symbol: &str) -> Decimal {
        self.bal(account, LedgerAccount::SharesAvailable(symbol.into()))
    }
}

/// The order event kinds among `outs`.
pub fn order_kinds(outs: &[AccountOutput]) -> Vec<OrderEventKind> {
    outs.iter()
        .filter_map(|o| match o {
            AccountOutput::OrderEvent(e) => Some(e.kind.clone()),
            _ => None,
        })
        .collect()
}

/// The funding event kinds among `outs`.
pub fn funding_kinds(outs: &[AccountOutput]) -> Vec<FundingEventKind> {
    outs.iter()
        .filter_map(|o| match o {
            AccountOutput::FundingEvent(e) => Some(e.kind.clone()),
            _ => None,
        })
        .collect()
}

/// The ledger entries among `outs`.
pub fn entries(outs: &[AccountOutput]) -> Vec<LedgerEntry> {
    outs.iter()
        .filter_map(|o| match o {
            AccountOutput::LedgerEntry(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

/// The invalid-input errors among `outs`.
pub fn errors(outs: &[AccountOutput]) -> Vec<AccountsError> {
    outs.iter()
        .filter_map(|o| match o {
            AccountOutput::InvalidInput { error, .. } => Some(error.clone()),
            _ => None,
        })
        .collect()
}

/// The last snapshot among `outs`.
pub fn last_snapshot(outs: &[AccountOutput]) -> Option<AccountSnapshot> {
    outs.iter().rev().find_map(|o| match o {
        AccountOutput::AccountSnapshot(s) => Some(s.clone()),
        _ => None,
    })
}
