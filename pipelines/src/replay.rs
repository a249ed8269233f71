//! `tradeflow book replay`: a command file through the pure order book, timed.

use anyhow::Context;
use operators::matching::replay::{parse_csv, run_commands, ReplayConfig};
use rust_decimal::Decimal;
use std::time::Instant;

#[derive(clap::Args)]
pub struct ReplayArgs {
    /// CSV with header `id,side,type,price,qty`.
    #[arg(long)]
    input: std::path::PathBuf,
    /// Tick size of the instrument.
    #[arg(long, default_value = "0.0001")]
    tick: Decimal,
    /// Lot size of the instrument.
    #[arg(long, default_value = "0.0001")]
    lot: Decimal,
    /// Price band around the last trade in basis points (off when absent).
    #[arg(long)]
    band_bps: Option<u32>,
}

pub fn run(a: ReplayArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&a.input).with_context(|| format!("reading {}", a.input.display()))?;
    let cfg = ReplayConfig { tick_size: a.tick, lot_size: a.lot, band_bps: a.band_bps };
    let commands = parse_csv(&text, &cfg).map_err(|e| anyhow::anyhow!("{}: {e}", a.input.display()))?;
    let n = commands.len().max(1) as u128;
    let started = Instant::now();
    let s = run_commands(commands, &cfg).map_err(|e| anyhow::anyhow!("{e}"))?;
    let elapsed = started.elapsed().as_nanos();
    println!(
        "{}",
        serde_json::json!({
            "commands": s.commands,
            "orders": s.orders,
            "cancels": s.cancels,
            "fills": s.fills,
            "traded_qty": s.traded_qty.normalize().to_string(),
            "elapsed_ns": elapsed as u64,
            "ns_per_command": (elapsed / n) as u64,
        })
    );
    Ok(())
}
