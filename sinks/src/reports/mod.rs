//! Reports read from ClickHouse: the monthly account statement, the yearly realized
//! capital-gains report and the admin reports (volume, active accounts, order latency).
//!
//! Shape: one library function per report ([`statement`], [`gains`], [`admin`]) that runs
//! the queries ([`source`]) and hands plain rows to a *pure* builder
//! ([`statement::build_statement`], [`gains::build_gains`], [`admin::build_admin`]) that
//! the unit tests drive without a database. [`render`] turns a report into JSON or CSV.
//! The API and the CLI (`tradeflow report ...`) call the same functions.
//!
//! Invariants:
//! - Every query reads the FINAL analyst views (migrations 002 / 003), never the raw
//!   tables, so a record the sink wrote twice counts once. (The one exception is the
//!   "does this account exist at all" probe, which only asks whether a row exists.)
//! - Money and quantities are `rust_decimal::Decimal` end to end: raw columns travel as
//!   their scale-8 `Decimal128` mantissa, computed aggregates as ClickHouse's exact
//!   decimal text; nothing passes through a float.
//! - Capital gains and month-end positions are computed by `operators::portfolio` (the
//!   pure lot engine the `portfolio` pipeline runs), fed the account's executions in log
//!   order (Kafka partition, offset): the same fills in the same order as the pipeline.
//! - Months and tax years are calendar periods in the report's time zone (US/Eastern by
//!   default, the portfolio's trade-date zone); the admin reports use the views' UTC days.

pub mod admin;
pub mod gains;
pub mod render;
pub mod source;
pub mod statement;
pub mod time;

pub use admin::{build_admin, AdminReport};
pub use gains::{build_gains, GainsReport};
pub use render::Format;
pub use source::ReportSource;
pub use statement::{build_statement, Statement};
pub use time::Month;

use operators::portfolio::{LotMethod, TradeDate};

/// Why a report could not be produced. Bad arguments are the caller's; ClickHouse errors
/// name the server URL.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("invalid month {0:?}: expected YYYY-MM, e.g. 2026-10")]
    BadMonth(String),
    #[error("invalid date {0:?}: expected YYYY-MM-DD, e.g. 2026-10-01")]
    BadDate(String),
    #[error("invalid year {0:?}: expected 1970..=9999")]
    BadYear(String),
    #[error("invalid range: from {from} is after to {to}")]
    BadRange { from: String, to: String },
    #[error("invalid lot method {0:?}: expected fifo or lifo")]
    BadMethod(String),
    #[error("invalid format {0:?}: expected json or csv")]
    BadFormat(String),
    #[error("invalid database name {0:?} (letters, digits and _ only)")]
    BadDatabase(String),
    #[error("account id is empty")]
    EmptyAccount,
    #[error("ClickHouse at {url} is unreachable ({source}); is it running? (scripts/clickhouse.sh start)")]
    Unreachable { url: String, source: clickhouse::error::Error },
    #[error("ClickHouse at {url}: {what} failed: {source}{hint}")]
    Query { url: String, what: &'static str, source: clickhouse::error::Error, hint: &'static str },
    #[error("ClickHouse returned a malformed {what}: {value:?}")]
    Malformed { what: &'static str, value: String },
}

/// Parses `fifo` / `lifo` (case-insensitive).
pub fn parse_method(s: &str) -> Result<LotMethod, ReportError> {
    match s.to_ascii_lowercase().as_str() {
        "fifo" => Ok(LotMethod::Fifo),
        "lifo" => Ok(LotMethod::Lifo),
        _ => Err(ReportError::BadMethod(s.to_string())),
    }
}

/// The monthly statement of `account` for `month` (see [`statement`](mod@statement)).
/// An account without any recorded event gets an empty statement with a note, not an error.
pub async fn statement(src: &ReportSource, account: &str, month: Month) -> Result<Statement, ReportError> {
    if account.is_empty() {
        return Err(ReportError::EmptyAccount);
    }
    let tz = src.time_zone();
    let (start, end) = month.bounds(tz);
    let input = statement::StatementInput {
        account: account.to_string(),
        month,
        time_zone: tz,
        period_start_ns: start,
        period_end_ns: end,
        known_account: src.account_exists(account).await?,
        opening_cash: src.cash_balances_before(account, start).await?,
        postings: src.postings(account, start, end).await?,
        history: src.executions(account, end).await?,
        funding: src.funding(account, start, end).await?,
        method: LotMethod::Fifo,
    };
    Ok(build_statement(input))
}

/// The realized capital-gains report of `account` for tax `year` with `method` (FIFO is
/// the default elsewhere; `SpecificLot` without instructions behaves as FIFO).
pub async fn gains(src: &ReportSource, account: &str, year: i32, method: LotMethod) -> Result<GainsReport, ReportError> {
    if account.is_empty() {
        return Err(ReportError::EmptyAccount);
    }
    if !(1970..=9999).contains(&year) {
        return Err(ReportError::BadYear(year.to_string()));
    }
    let known = src.account_exists(account).await?;
    let fills = src.executions(account, i64::MAX).await?;
    Ok(build_gains(account, known, &fills, method, year, src.time_zone()))
}

/// Admin reports for the UTC days `from..=to`.
pub async fn admin(src: &ReportSource, from: TradeDate, to: TradeDate) -> Result<AdminReport, ReportError> {
    if from > to {
        return Err(ReportError::BadRange { from: from.to_string(), to: to.to_string() });
    }
    let volume = src.daily_volume(from, to).await?;
    let active = src.active_accounts(from, to).await?;
    let latency = src.latency(from, to).await?;
    Ok(build_admin(from, to, volume, active, latency))
}
