//! Replay of CSV command files through one book (for `tradeflow book replay` and benches).
//!
//! Format: a header line `id,side,type,price,qty`, then one command per line:
//! - `7,buy,limit,101.25,10`: a gtc limit order (price and qty are decimals);
//! - `8,sell,market,,3`: a market order (empty price);
//! - `7,,cancel,,`: cancel order 7 (side, price and qty empty).
//!
//! Invariants:
//! - Parsing never panics: a bad row is an error naming its 1-based line number and why
//!   (wrong field count, bad id / side / type / number, off-tick price, off-lot qty, a
//!   field that must be empty). Blank lines are skipped.
//! - Parsing ([`parse_csv`]) is separate from running ([`run_commands`]) so a caller can
//!   time the run alone. Running is deterministic: command `i` has event time `i`.
//! - All orders belong to one account; band and STP are off unless configured.
//!
//! Known limitations:
//! - No stop orders, replaces or time in force other than gtc in the CSV format.
//! - Because every order has the same account, STP is not offered here.

use std::str::FromStr;

use rust_decimal::Decimal;
use thiserror::Error;

use super::book::{Book, BookConfig};
use super::events::BookEvent;
use super::rules::{InstrumentRules, RulesError};
use super::types::{AccountId, Command, NewOrder, OrderId, OrderType, Side, TimeInForce};
use crate::Timestamp;

/// The header every replay file starts with.
pub const HEADER: &str = "id,side,type,price,qty";

/// Replay settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayConfig {
    /// Tick size (default 0.0001, so any price with up to 4 decimals is on-tick).
    pub tick_size: Decimal,
    /// Lot size (default 0.0001).
    pub lot_size: Decimal,
    /// Price band in basis points (default off).
    pub band_bps: Option<u32>,
}

impl Default for ReplayConfig {
    fn default() -> Self {
        ReplayConfig { tick_size: Decimal::new(1, 4), lot_size: Decimal::new(1, 4), band_bps: None }
    }
}

impl ReplayConfig {
    fn rules(&self) -> InstrumentRules {
        InstrumentRules { band_bps: self.band_bps, ..InstrumentRules::new(self.tick_size, self.lot_size) }
    }
}

/// What a replay did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplaySummary {
    /// Commands processed.
    pub commands: u64,
    /// New orders among them.
    pub orders: u64,
    /// Cancels among them.
    pub cancels: u64,
    /// Trades (one per maker/taker match).
    pub fills: u64,
    /// Total traded quantity in lots.
    pub traded_lots: i64,
    /// Total traded quantity.
    pub traded_qty: Decimal,
}

/// A replay failure.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReplayError {
    /// The configuration's tick / lot is invalid.
    #[error("invalid replay configuration: {0}")]
    Config(#[from] RulesError),
    /// The first line is not the expected header.
    #[error("line 1: expected header `{HEADER}`, found `{found}`")]
    Header {
        /// What the first line held.
        found: String,
    },
    /// A row could not be parsed.
    #[error("line {line}: {reason}")]
    Row {
        /// 1-based line number.
        line: usize,
        /// Why.
        reason: RowError,
    },
}

/// Why one row is invalid.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RowError {
    /// Not exactly five comma-separated fields.
    #[error("expected 5 fields, found {0}")]
    FieldCount(usize),
    /// The id is not a non-negative integer.
    #[error("invalid id `{0}`")]
    Id(String),
    /// Side is not `buy` or `sell`.
    #[error("invalid side `{0}` (expected buy or sell)")]
    Side(String),
    /// Type is not `limit`, `market` or `cancel`.
    #[error("invalid type `{0}` (expected limit, market or cancel)")]
    Type(String),
    /// A number does not parse as a decimal.
    #[error("invalid {field} `{value}`")]
    Number {
        /// `price` or `qty`.
        field: &'static str,
        /// The text.
        value: String,
    },
    /// A required field is empty.
    #[error("missing {0}")]
    Missing(&'static str),
    /// A field that must be empty is not.
    #[error("{0} must be empty for this type")]
    NotEmpty(&'static str),
    /// Off-tick price, off-lot quantity or out of range.
    #[error(transparent)]
    Grid(#[from] RulesError),
}

/// Parses a replay file into commands (see the module doc for the format).
pub fn parse_csv(text: &str, cfg: &ReplayConfig) -> Result<Vec<Command>, ReplayError> {
    let rules = cfg.rules();
    rules.compile()?;
    let mut lines = text.lines().enumerate();
    let header = lines.next().map(|(_, l)| l.trim()).unwrap_or("");
    if header != HEADER {
        return Err(ReplayError::Header { found: header.to_string() });
    }
    let mut out = Vec::new();
    for (i, line) in lines {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let cmd = parse_row(line, &rules).map_err(|reason| ReplayError::Row { line: i + 1, reason })?;
        out.push(cmd);
    }
    Ok(out)
}

fn parse_row(line: &str, rules: &InstrumentRules) -> Result<Command, RowError> {
    let f: Vec<&str> = line.split(',').map(str::trim).collect();
    let [id, side, kind, price, qty] = f[..] else {
        return Err(RowError::FieldCount(f.len()));
    };
    let order_id = OrderId(id.parse().map_err(|_| RowError::Id(id.to_string()))?);
    let number = |field: &'static str, v: &str| {
        Decimal::from_str(v).map_err(|_| RowError::Number { field, value: v.to_string() })
    };
    let side_of = |s: &str| match s {
        "buy" => Ok(Side::Buy),
        "sell" => Ok(Side::Sell),
        "" => Err(RowError::Missing("side")),
        other => Err(RowError::Side(other.to_string())),
    };
    let lots = |q: &str| -> Result<i64, RowError> {
        if q.is_empty() {
            return Err(RowError::Missing("qty"));
        }
        Ok(rules.qty_to_lots(number("qty", q)?)?)
    };
    let order = |order_type, limit_price| NewOrder {
        order_id,
        account: AccountId(0),
        client_order_id: None,
        side: Side::Buy,
        order_type,
        tif: TimeInForce::Gtc,
        qty: 0,
        limit_price,
        stop_price: None,
    };
    match kind {
        "limit" => {
            if price.is_empty() {
                return Err(RowError::Missing("price"));
            }
            let ticks = rules.price_to_ticks(number("price", price)?)?;
            let o = order(OrderType::Limit, Some(ticks));
            Ok(Command::NewOrder(NewOrder { side: side_of(side)?, qty: lots(qty)?, ..o }))
        }
        "market" => {
            if !price.is_empty() {
                return Err(RowError::NotEmpty("price"));
            }
            let o = order(OrderType::Market, None);
            Ok(Command::NewOrder(NewOrder { side: side_of(side)?, qty: lots(qty)?, ..o }))
        }
        "cancel" => {
            for (name, v) in [("side", side), ("price", price), ("qty", qty)] {
                if !v.is_empty() {
                    return Err(RowError::NotEmpty(name));
                }
            }
            Ok(Command::Cancel { order_id, account: AccountId(0) })
        }
        other => Err(RowError::Type(other.to_string())),
    }
}

/// Runs parsed commands through a fresh book and counts what happened.
pub fn run_commands(commands: Vec<Command>, cfg: &ReplayConfig) -> Result<ReplaySummary, ReplayError> {
    let rules = cfg.rules();
    let mut book = Book::new(rules.clone(), BookConfig::default())?;
    let mut s = ReplaySummary::default();
    let mut events = Vec::with_capacity(64);
    for (i, cmd) in commands.into_iter().enumerate() {
        s.commands += 1;
        match cmd {
            Command::NewOrder(_) => s.orders += 1,
            Command::Cancel { .. } => s.cancels += 1,
            _ => {}
        }
        book.process(cmd, Timestamp(i as i64), &mut events);
        // Read in place, then drop in place (no move of each event out of the buffer).
        for e in &events {
            if let BookEvent::Trade(t) = e {
                s.fills += 1;
                s.traded_lots += t.qty;
            }
        }
        events.clear();
    }
    s.traded_qty = rules.lots_to_qty(s.traded_lots);
    Ok(s)
}

/// Parses and runs a replay file.
pub fn replay_csv(text: &str, cfg: &ReplayConfig) -> Result<ReplaySummary, ReplayError> {
    run_commands(parse_csv(text, cfg)?, cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn replays_a_small_file() {
        let text = "id,side,type,price,qty\n1,sell,limit,10.5,2.5\n2,sell,limit,10.75,1\n\n3,buy,market,,3\n2,,cancel,,\n4,buy,limit,10.5,1\n";
        let s = replay_csv(text, &ReplayConfig::default()).unwrap();
        assert_eq!(
            s,
            ReplaySummary { commands: 5, orders: 4, cancels: 1, fills: 2, traded_lots: 30_000, traded_qty: d("3") }
        );
    }

    #[test]
    fn bad_rows_name_their_line() {
        let cfg = ReplayConfig::default();
        let err = |text: &str| parse_csv(text, &cfg).unwrap_err();
        assert_eq!(err("id,side\n"), ReplayError::Header { found: "id,side".into() });
        assert_eq!(err(""), ReplayError::Header { found: "".into() });
        let row = |line, reason| ReplayError::Row { line, reason };
        assert_eq!(err("id,side,type,price,qty\n1,buy,limit,1\n"), row(2, RowError::FieldCount(4)));
        assert_eq!(err("id,side,type,price,qty\nx,buy,limit,1,1\n"), row(2, RowError::Id("x".into())));
        assert_eq!(err("id,side,type,price,qty\n1,up,limit,1,1\n"), row(2, RowError::Side("up".into())));
        assert_eq!(err("id,side,type,price,qty\n1,buy,stop,1,1\n"), row(2, RowError::Type("stop".into())));
        assert_eq!(err("id,side,type,price,qty\n1,buy,limit,,1\n"), row(2, RowError::Missing("price")));
        assert_eq!(err("id,side,type,price,qty\n1,buy,market,1,1\n"), row(2, RowError::NotEmpty("price")));
        assert_eq!(err("id,side,type,price,qty\n1,buy,cancel,,\n"), row(2, RowError::NotEmpty("side")));
        assert_eq!(
            err("id,side,type,price,qty\n\n1,buy,limit,1.x,1\n"),
            row(3, RowError::Number { field: "price", value: "1.x".into() })
        );
        assert_eq!(
            err("id,side,type,price,qty\n1,buy,limit,1.00001,1\n"),
            row(2, RowError::Grid(RulesError::OffTick { price: d("1.00001"), tick: d("0.0001") }))
        );
        let e = err("id,side,type,price,qty\n1,buy,limit,1,0.00001\n");
        assert_eq!(e.to_string(), "line 2: quantity 0.00001 is not a multiple of the lot size 0.0001");
    }
}
