//! The queries behind the reports: ClickHouse rows in, plain Rust rows out.
//!
//! Rows are fetched as `RowBinary` without schema validation (ClickHouse 18.16 has no
//! `RowBinaryWithNamesAndTypes`), so every struct below lists the selected columns in
//! order with their exact ClickHouse types: `Decimal(28, 8)` columns as `i128` mantissas,
//! computed decimals (sums, products, quotients) as `toString(...)` text parsed exactly.
//! Values are bound client-side (`?`, escaped by the `clickhouse` crate); no query uses a
//! server-side parameter (18.16 has none). A column's type must be the same on 18.16 and
//! current versions: e.g. no scalar subquery as a column (current versions type it
//! `Nullable`). [`ReportSource::queries`] lists every query with its types, which
//! tests/clients/clickhouse_current_check.py checks on both.

use super::ReportError;
use clickhouse::Client;
use operators::portfolio::{Fill, Side, TimeZoneRule, TradeDate};
use operators::Timestamp;
use rust_decimal::Decimal;
use serde::Deserialize;
use std::str::FromStr;

/// Where reports read from: a ClickHouse URL and database, and the time zone whose
/// calendar defines months and tax years.
#[derive(Clone)]
pub struct ReportSource {
    client: Client,
    url: String,
    tz: TimeZoneRule,
}

impl ReportSource {
    /// `url` is ClickHouse's HTTP interface, `database` the one `tradeflow clickhouse
    /// migrate` created. Time zone: US/Eastern (the portfolio's trade dates).
    pub fn new(url: &str, database: &str) -> Result<Self, ReportError> {
        if database.is_empty() || !database.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(ReportError::BadDatabase(database.to_string()));
        }
        let client = Client::default().with_url(url).with_database(database).with_validation(false);
        Ok(ReportSource { client, url: url.to_string(), tz: TimeZoneRule::UsEastern })
    }

    /// Same source, another calendar time zone.
    pub fn with_time_zone(mut self, tz: TimeZoneRule) -> Self {
        self.tz = tz;
        self
    }

    pub fn time_zone(&self) -> TimeZoneRule {
        self.tz
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    async fn fetch<T>(&self, what: &'static str, q: clickhouse::query::Query) -> Result<Vec<T>, ReportError>
    where
        T: clickhouse::RowOwned + clickhouse::RowRead,
    {
        q.fetch_all::<T>().await.map_err(|source| self.error(what, source))
    }

    fn error(&self, what: &'static str, source: clickhouse::error::Error) -> ReportError {
        use clickhouse::error::Error as E;
        match source {
            E::Network(_) | E::TimedOut => ReportError::Unreachable { url: self.url.clone(), source },
            other => {
                let text = other.to_string();
                let hint = if text.contains("doesn't exist") || text.contains("UNKNOWN_TABLE") || text.contains("UNKNOWN_DATABASE") {
                    " (run `tradeflow clickhouse migrate` for this database)"
                } else {
                    ""
                };
                ReportError::Query { url: self.url.clone(), what, source: other, hint }
            }
        }
    }

    /// Whether any event of `account` was ever recorded (raw tables: existence only; the
    /// count is of tables holding one, at most 4).
    pub async fn account_exists(&self, account: &str) -> Result<bool, ReportError> {
        #[derive(clickhouse::Row, Deserialize)]
        struct N {
            n: u64,
        }
        let rows: Vec<N> = self.fetch("account lookup", self.account_exists_query(account)).await?;
        Ok(rows.first().is_some_and(|r| r.n > 0))
    }

    /// Balance (debits - credits) of each customer cash ledger account (`cash:*`, USD) from
    /// the postings before `before_ns`.
    pub async fn cash_balances_before(&self, account: &str, before_ns: i64) -> Result<Vec<(String, Decimal)>, ReportError> {
        #[derive(clickhouse::Row, Deserialize)]
        struct B {
            ledger_account: String,
            balance: String,
        }
        let rows: Vec<B> = self.fetch("opening cash balances", self.cash_balances_query(account, before_ns)).await?;
        rows.into_iter().map(|b| Ok((b.ledger_account, text_decimal("cash balance", &b.balance)?))).collect()
    }

    /// Every posting of `account` with `start_ns <= at_ns < end_ns`, by time then entry.
    pub async fn postings(&self, account: &str, start_ns: i64, end_ns: i64) -> Result<Vec<PostingRow>, ReportError> {
        let rows: Vec<RawPosting> = self.fetch("ledger postings", self.postings_query(account, start_ns, end_ns)).await?;
        Ok(rows.into_iter().map(RawPosting::into_row).collect())
    }

    /// The executions of `account` with `at_ns < before_ns`, in log order (Kafka partition,
    /// offset: the order the `portfolio` pipeline applies them in).
    pub async fn executions(&self, account: &str, before_ns: i64) -> Result<Vec<ExecRow>, ReportError> {
        let rows: Vec<RawExec> = self.fetch("executions", self.executions_query(account, before_ns)).await?;
        Ok(rows.into_iter().map(RawExec::into_row).collect())
    }

    /// Funding events of `account` with `start_ns <= at_ns < end_ns`, by time.
    pub async fn funding(&self, account: &str, start_ns: i64, end_ns: i64) -> Result<Vec<FundingRow>, ReportError> {
        let rows: Vec<RawFunding> = self.fetch("funding events", self.funding_query(account, start_ns, end_ns)).await?;
        Ok(rows.into_iter().map(RawFunding::into_row).collect())
    }

    /// `daily_symbol_volume` for `from..=to`.
    pub async fn daily_volume(&self, from: TradeDate, to: TradeDate) -> Result<Vec<VolumeRow>, ReportError> {
        #[derive(clickhouse::Row, Deserialize)]
        struct V {
            day: String,
            symbol: String,
            trades: u64,
            volume: String,
            notional: String,
            vwap: String,
        }
        let rows: Vec<V> = self.fetch("daily volume", self.daily_volume_query(from, to)).await?;
        rows.into_iter()
            .map(|v| {
                Ok(VolumeRow {
                    day: v.day,
                    symbol: v.symbol,
                    trades: v.trades,
                    volume: text_decimal("volume", &v.volume)?,
                    notional: text_decimal("notional", &v.notional)?,
                    vwap: text_decimal("vwap", &v.vwap)?,
                })
            })
            .collect()
    }

    /// `daily_active_accounts` for `from..=to`.
    pub async fn active_accounts(&self, from: TradeDate, to: TradeDate) -> Result<Vec<(String, u64)>, ReportError> {
        #[derive(clickhouse::Row, Deserialize)]
        struct A {
            day: String,
            n: u64,
        }
        let rows: Vec<A> = self.fetch("active accounts", self.active_accounts_query(from, to)).await?;
        Ok(rows.into_iter().map(|a| (a.day, a.n)).collect())
    }

    /// `order_fill_latency_daily` for `from..=to`.
    pub async fn latency(&self, from: TradeDate, to: TradeDate) -> Result<Vec<LatencyRow>, ReportError> {
        self.fetch("order latency", self.latency_query(from, to)).await
    }
}

/// One report query with its arguments bound: the exact SQL [`ReportSource`] sends (the
/// client appends ` FORMAT RowBinary`; table names are unqualified, the database is the
/// source's), and the ClickHouse types its row struct decodes, column by column.
/// `tradeflow clickhouse print-sql` prints these so other ClickHouse versions can be
/// checked with the same SQL (tests/clients/clickhouse_current_check.py).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ReportQuery {
    /// The `what` of the query's error messages, e.g. `ledger postings`.
    pub name: &'static str,
    pub sql: String,
    pub types: &'static [&'static str],
}

const D28_8: &str = "Decimal(28, 8)";

impl ReportSource {
    /// Every query the reports run, with these arguments bound (`before_ns` queries use
    /// `end_ns`).
    pub fn queries(&self, account: &str, start_ns: i64, end_ns: i64, from: TradeDate, to: TradeDate) -> Vec<ReportQuery> {
        let q = |name: &'static str, query: clickhouse::query::Query, types: &'static [&'static str]| ReportQuery {
            name,
            sql: query.sql_display().to_string(),
            types,
        };
        vec![
            q("account lookup", self.account_exists_query(account), &["UInt64"]),
            q("opening cash balances", self.cash_balances_query(account, end_ns), &["String", "String"]),
            q(
                "ledger postings",
                self.postings_query(account, start_ns, end_ns),
                &["String", "UInt32", "Int64", "String", "String", "String", "String", D28_8, D28_8],
            ),
            q(
                "executions",
                self.executions_query(account, end_ns),
                &["String", "String", "String", "String", "String", D28_8, D28_8, D28_8, "Int64"],
            ),
            q(
                "funding events",
                self.funding_query(account, start_ns, end_ns),
                &["String", "String", "String", "String", D28_8, "Nullable(String)", "Int64"],
            ),
            q("daily volume", self.daily_volume_query(from, to), &["String", "String", "UInt64", "String", "String", "String"]),
            q("active accounts", self.active_accounts_query(from, to), &["String", "UInt64"]),
            q(
                "order latency",
                self.latency_query(from, to),
                &["String", "String", "UInt64", "Int64", "Int64", "Int64", "Int64", "Int64", "Int64"],
            ),
        ]
    }

    fn account_exists_query(&self, account: &str) -> clickhouse::query::Query {
        self.client
            .query(
                // Not a sum of scalar subqueries: current ClickHouse types those
                // Nullable(UInt64), which the UInt64 row would misread (18.16: UInt64).
                "SELECT toUInt64(count()) FROM ( \
                 SELECT 1 FROM ledger_postings_raw WHERE account_id = ? LIMIT 1 \
                 UNION ALL SELECT 1 FROM executions_raw WHERE account_id = ? LIMIT 1 \
                 UNION ALL SELECT 1 FROM funding_events_raw WHERE account_id = ? LIMIT 1 \
                 UNION ALL SELECT 1 FROM order_events_raw WHERE account_id = ? LIMIT 1)",
            )
            .bind(account)
            .bind(account)
            .bind(account)
            .bind(account)
    }

    fn cash_balances_query(&self, account: &str, before_ns: i64) -> clickhouse::query::Query {
        self.client
            .query(
                "SELECT ledger_account, toString(sum(debit) - sum(credit)) FROM ledger_postings \
                 WHERE account_id = ? AND asset = 'USD' AND ledger_account LIKE 'cash:%' AND at_ns < ? \
                 GROUP BY ledger_account ORDER BY ledger_account",
            )
            .bind(account)
            .bind(before_ns)
    }

    fn postings_query(&self, account: &str, start_ns: i64, end_ns: i64) -> clickhouse::query::Query {
        self.client
            .query(
                "SELECT entry_id, posting_index, at_ns, kind, reference, ledger_account, asset, debit, credit \
                 FROM ledger_postings WHERE account_id = ? AND at_ns >= ? AND at_ns < ? \
                 ORDER BY at_ns, entry_id, posting_index",
            )
            .bind(account)
            .bind(start_ns)
            .bind(end_ns)
    }

    fn executions_query(&self, account: &str, before_ns: i64) -> clickhouse::query::Query {
        self.client
            .query(
                "SELECT exec_id, account_id, order_id, symbol, side, last_qty, last_price, fee, at_ns \
                 FROM executions WHERE account_id = ? AND at_ns < ? ORDER BY kafka_partition, kafka_offset, exec_id",
            )
            .bind(account)
            .bind(before_ns)
    }

    fn funding_query(&self, account: &str, start_ns: i64, end_ns: i64) -> clickhouse::query::Query {
        self.client
            .query(
                "SELECT event_id, funding_id, direction, status, amount, reason, at_ns FROM funding_events \
                 WHERE account_id = ? AND at_ns >= ? AND at_ns < ? ORDER BY at_ns, event_id",
            )
            .bind(account)
            .bind(start_ns)
            .bind(end_ns)
    }

    fn daily_volume_query(&self, from: TradeDate, to: TradeDate) -> clickhouse::query::Query {
        self.client
            .query(
                "SELECT toString(day), symbol, toUInt64(trades), toString(volume), toString(notional), toString(vwap) \
                 FROM daily_symbol_volume WHERE day >= toDate(?) AND day <= toDate(?) ORDER BY day, symbol",
            )
            .bind(from.to_string())
            .bind(to.to_string())
    }

    fn active_accounts_query(&self, from: TradeDate, to: TradeDate) -> clickhouse::query::Query {
        self.client
            .query(
                "SELECT toString(day), toUInt64(active_accounts) FROM daily_active_accounts \
                 WHERE day >= toDate(?) AND day <= toDate(?) ORDER BY day",
            )
            .bind(from.to_string())
            .bind(to.to_string())
    }

    fn latency_query(&self, from: TradeDate, to: TradeDate) -> clickhouse::query::Query {
        self.client
            .query(
                "SELECT toString(day), symbol, toUInt64(filled_orders), \
                 toInt64(first_fill_p50_ns), toInt64(first_fill_p90_ns), toInt64(first_fill_p99_ns), \
                 toInt64(last_fill_p50_ns), toInt64(last_fill_p90_ns), toInt64(last_fill_p99_ns) \
                 FROM order_fill_latency_daily WHERE day >= toDate(?) AND day <= toDate(?) ORDER BY day, symbol",
            )
            .bind(from.to_string())
            .bind(to.to_string())
    }
}

/// A decimal printed by ClickHouse's `toString`, without trailing zeros.
fn text_decimal(what: &'static str, s: &str) -> Result<Decimal, ReportError> {
    Decimal::from_str(s).map(|d| d.normalize()).map_err(|_| ReportError::Malformed { what, value: s.to_string() })
}

/// A `Decimal(28, 8)` mantissa as a decimal (every such value fits `Decimal`'s 96 bits),
/// without trailing zeros.
pub fn scale8(mantissa: i128) -> Decimal {
    Decimal::from_i128_with_scale(mantissa, crate::rows::SCALE).normalize()
}

/// One posting of a journal entry.
#[derive(Clone, Debug, PartialEq)]
pub struct PostingRow {
    pub entry_id: String,
    pub posting_index: u32,
    pub at_ns: i64,
    pub kind: String,
    pub reference: String,
    pub ledger_account: String,
    pub asset: String,
    pub debit: Decimal,
    pub credit: Decimal,
}

#[derive(clickhouse::Row, Deserialize)]
struct RawPosting {
    entry_id: String,
    posting_index: u32,
    at_ns: i64,
    kind: String,
    reference: String,
    ledger_account: String,
    asset: String,
    debit: i128,
    credit: i128,
}

impl RawPosting {
    fn into_row(self) -> PostingRow {
        PostingRow {
            entry_id: self.entry_id,
            posting_index: self.posting_index,
            at_ns: self.at_ns,
            kind: self.kind,
            reference: self.reference,
            ledger_account: self.ledger_account,
            asset: self.asset,
            debit: scale8(self.debit),
            credit: scale8(self.credit),
        }
    }
}

/// One execution (one side of one fill) of an account.
#[derive(Clone, Debug, PartialEq)]
pub struct ExecRow {
    pub exec_id: String,
    pub account_id: String,
    pub order_id: String,
    pub symbol: String,
    /// `BUY` / `SELL`.
    pub side: String,
    pub qty: Decimal,
    pub price: Decimal,
    pub fee: Decimal,
    pub at_ns: i64,
}

impl ExecRow {
    /// The portfolio fill this execution is, mapped as the `portfolio` pipeline maps an
    /// `ExecutionReport` (`pipelines::catalog::portfolio::fill_of`): exec id -> fill id,
    /// last qty / price / fee, `at_ns` -> execution time. `None` for an unknown side.
    pub fn fill(&self) -> Option<Fill> {
        let side = match self.side.as_str() {
            "BUY" => Side::Buy,
            "SELL" => Side::Sell,
            _ => return None,
        };
        Some(Fill {
            account: self.account_id.clone(),
            symbol: self.symbol.clone(),
            side,
            qty: self.qty,
            price: self.price,
            fee: self.fee,
            fill_id: self.exec_id.clone(),
            executed_at: Timestamp(self.at_ns),
        })
    }
}

#[derive(clickhouse::Row, Deserialize)]
struct RawExec {
    exec_id: String,
    account_id: String,
    order_id: String,
    symbol: String,
    side: String,
    last_qty: i128,
    last_price: i128,
    fee: i128,
    at_ns: i64,
}

impl RawExec {
    fn into_row(self) -> ExecRow {
        ExecRow {
            exec_id: self.exec_id,
            account_id: self.account_id,
            order_id: self.order_id,
            symbol: self.symbol,
            side: self.side,
            qty: scale8(self.last_qty),
            price: scale8(self.last_price),
            fee: scale8(self.fee),
            at_ns: self.at_ns,
        }
    }
}

/// One funding lifecycle event.
#[derive(Clone, Debug, PartialEq)]
pub struct FundingRow {
    pub event_id: String,
    pub funding_id: String,
    /// `DEPOSIT` / `WITHDRAWAL`.
    pub direction: String,
    /// `REQUESTED` / `COMPLETED` / `FAILED` / `REJECTED`.
    pub status: String,
    pub amount: Decimal,
    pub reason: Option<String>,
    pub at_ns: i64,
}

#[derive(clickhouse::Row, Deserialize)]
struct RawFunding {
    event_id: String,
    funding_id: String,
    direction: String,
    status: String,
    amount: i128,
    reason: Option<String>,
    at_ns: i64,
}

impl RawFunding {
    fn into_row(self) -> FundingRow {
        FundingRow {
            event_id: self.event_id,
            funding_id: self.funding_id,
            direction: self.direction,
            status: self.status,
            amount: scale8(self.amount),
            reason: self.reason,
            at_ns: self.at_ns,
        }
    }
}

/// One row of `daily_symbol_volume`.
#[derive(Clone, Debug, PartialEq)]
pub struct VolumeRow {
    pub day: String,
    pub symbol: String,
    pub trades: u64,
    pub volume: Decimal,
    pub notional: Decimal,
    pub vwap: Decimal,
}

/// One row of `order_fill_latency_daily` (nanoseconds).
#[derive(clickhouse::Row, Deserialize, Clone, Debug, PartialEq)]
pub struct LatencyRow {
    pub day: String,
    pub symbol: String,
    pub filled_orders: u64,
    pub first_fill_p50_ns: i64,
    pub first_fill_p90_ns: i64,
    pub first_fill_p99_ns: i64,
    pub last_fill_p50_ns: i64,
    pub last_fill_p90_ns: i64,
    pub last_fill_p99_ns: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_report_query_is_listed_with_its_arguments_bound() {
        let source = ReportSource::new("http://127.0.0.1:1", "db").unwrap();
        let (from, to) = (TradeDate::new(2026, 10, 1).unwrap(), TradeDate::new(2026, 10, 31).unwrap());
        let qs = source.queries("acc-'x", 10, 20, from, to);
        let mut names: Vec<&str> = qs.iter().map(|q| q.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 8, "{names:?}");
        for q in &qs {
            assert!(!q.sql.contains('?'), "{}: unbound argument: {}", q.name, q.sql);
            assert!(!q.types.is_empty(), "{}", q.name);
            for banned in ["DateTime64", "LowCardinality"] {
                assert!(!q.sql.contains(banned) && !q.types.contains(&banned), "{}: {banned}", q.name);
            }
        }
        assert!(qs[0].sql.contains(r"'acc-\'x'"), "strings are escaped: {}", qs[0].sql);
        assert!(qs.iter().any(|q| q.sql.contains("toDate('2026-10-31')")));
    }
}
