//! `tradeflow report statement|gains|admin`: the reports of `sinks::reports`, read from
//! ClickHouse and printed as JSON (default) or CSV on stdout.

use anyhow::Context;
use clap::{Args, Subcommand};
use sinks::reports::{self, render, Format, Month, ReportSource};

#[derive(Args)]
pub struct Source {
    /// ClickHouse HTTP URL.
    #[arg(long, env = "CLICKHOUSE_URL")]
    url: String,
    #[arg(long, default_value = "tradeflow")]
    database: String,
    /// `json` or `csv`.
    #[arg(long, default_value = "json")]
    format: String,
}

#[derive(Subcommand)]
pub enum ReportCmd {
    /// Monthly account statement (months in New York time).
    Statement {
        #[arg(long)]
        account: String,
        /// YYYY-MM.
        #[arg(long)]
        month: String,
        #[command(flatten)]
        source: Source,
    },
    /// Realized capital gains of a tax year, per lot, short / long term.
    Gains {
        #[arg(long)]
        account: String,
        #[arg(long)]
        year: String,
        /// `fifo` (default) or `lifo`.
        #[arg(long, default_value = "fifo")]
        method: String,
        #[command(flatten)]
        source: Source,
    },
    /// Volume per symbol and day, active accounts per day, order-to-fill latency (UTC days).
    Admin {
        /// First day, YYYY-MM-DD.
        #[arg(long)]
        from: String,
        /// Last day (inclusive), YYYY-MM-DD.
        #[arg(long)]
        to: String,
        #[command(flatten)]
        source: Source,
    },
}

impl Source {
    fn open(&self) -> anyhow::Result<(ReportSource, Format)> {
        let format: Format = self.format.parse()?;
        Ok((ReportSource::new(&self.url, &self.database)?, format))
    }
}

pub async fn run(cmd: ReportCmd) -> anyhow::Result<()> {
    let text = match cmd {
        ReportCmd::Statement { account, month, source } => {
            let month: Month = month.parse()?;
            let (src, format) = source.open()?;
            let st = reports::statement(&src, &account, month).await.context("statement")?;
            match format {
                Format::Json => render::json(&st),
                Format::Csv => render::statement_csv(&st),
            }
        }
        ReportCmd::Gains { account, year, method, source } => {
            let year: i32 = year.parse().map_err(|_| reports::ReportError::BadYear(year.clone()))?;
            let method = reports::parse_method(&method)?;
            let (src, format) = source.open()?;
            let r = reports::gains(&src, &account, year, method).await.context("capital-gains report")?;
            match format {
                Format::Json => render::json(&r),
                Format::Csv => render::gains_csv(&r),
            }
        }
        ReportCmd::Admin { from, to, source } => {
            let from = reports::time::parse_date(&from)?;
            let to = reports::time::parse_date(&to)?;
            let (src, format) = source.open()?;
            let r = reports::admin(&src, from, to).await.context("admin report")?;
            match format {
                Format::Json => render::json(&r),
                Format::Csv => render::admin_csv(&r),
            }
        }
    };
    print!("{text}");
    if !text.ends_with('\n') {
        println!();
    }
    Ok(())
}
