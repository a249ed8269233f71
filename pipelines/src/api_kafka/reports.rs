//! `api::ports::ReportSource` on ClickHouse: the reports of `sinks::reports` (the same
//! functions `tradeflow report` calls), serialized to JSON for `/api/v1`.
//!
//! Errors: bad month / year / lot method / date / range -> `Invalid` (422); ClickHouse
//! unreachable -> `Unavailable` naming the URL (503); anything else -> `Internal` (500,
//! the detail is only logged).

use api::ports::{BoxFuture, ReportPortError, ReportSource};
use sinks::reports::{self, Month, ReportError};

/// Reports read from ClickHouse at `url`, database `database`.
pub struct ClickHouseReports {
    src: reports::ReportSource,
    url: String,
}

impl ClickHouseReports {
    pub fn new(url: &str, database: &str) -> Result<ClickHouseReports, ReportError> {
        Ok(ClickHouseReports { src: reports::ReportSource::new(url, database)?, url: url.to_string() })
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

/// Maps a report error to the port's (see the module doc).
pub fn port_error(e: ReportError) -> ReportPortError {
    match e {
        ReportError::BadMonth(_)
        | ReportError::BadDate(_)
        | ReportError::BadYear(_)
        | ReportError::BadRange { .. }
        | ReportError::BadMethod(_)
        | ReportError::BadFormat(_)
        | ReportError::EmptyAccount => ReportPortError::Invalid(e.to_string()),
        ReportError::Unreachable { url, source } => {
            tracing::warn!(%url, error = %source, "ClickHouse unreachable");
            ReportPortError::Unavailable(format!("analytics unavailable: ClickHouse at {url} is unreachable"))
        }
        other => ReportPortError::Internal(other.to_string()),
    }
}

fn to_json<T: serde::Serialize>(r: Result<T, ReportError>) -> Result<serde_json::Value, ReportPortError> {
    let r = r.map_err(port_error)?;
    serde_json::to_value(&r).map_err(|e| ReportPortError::Internal(format!("serializing a report: {e}")))
}

impl ReportSource for ClickHouseReports {
    fn statement<'a>(&'a self, account_id: &'a str, month: &'a str) -> BoxFuture<'a, Result<serde_json::Value, ReportPortError>> {
        Box::pin(async move {
            let month: Month = month.parse().map_err(port_error)?;
            to_json(reports::statement(&self.src, account_id, month).await)
        })
    }

    fn gains<'a>(&'a self, account_id: &'a str, year: i32, method: &'a str) -> BoxFuture<'a, Result<serde_json::Value, ReportPortError>> {
        Box::pin(async move {
            let method = reports::parse_method(method).map_err(port_error)?;
            to_json(reports::gains(&self.src, account_id, year, method).await)
        })
    }

    fn admin<'a>(&'a self, from: &'a str, to: &'a str) -> BoxFuture<'a, Result<serde_json::Value, ReportPortError>> {
        Box::pin(async move {
            let from = reports::time::parse_date(from).map_err(port_error)?;
            let to = reports::time::parse_date(to).map_err(port_error)?;
            to_json(reports::admin(&self.src, from, to).await)
        })
    }
}
