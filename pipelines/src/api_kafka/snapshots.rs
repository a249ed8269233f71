//! Views of compacted state topics: [`AccountsView`] (`accounts.snapshots`),
//! [`PositionsView`] (`positions.snapshots`), [`PortfoliosView`] (`portfolios.snapshots`)
//! and [`AssetsView`] (`instruments.commands`
//! folded per symbol, plus the last trade price from `book.depth`).
//!
//! Invariants: the latest record per key wins (the topics are compacted and every key
//! lives in one partition, so read order per key is write order); a tombstone removes the
//! key; reads fail with `Unavailable` until the view has caught up with the ends observed
//! at start (a half-read view would answer with stale balances).

use super::follow::{Decoder, Fold};
use api::ports::{AccountView, AssetRecord, AssetView, CloseMarks, PortError, PortfolioView, PositionView};
use rust_decimal::Decimal;
use schemas::records::{
    AccountSnapshot, BookSnapshot, InstrumentCommand, InstrumentInstruction, InstrumentStatus, ListInstrument, PortfolioSnapshot,
    PositionSnapshot,
};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{RwLock, RwLockReadGuard};

/// A map plus a readiness flag.
struct Ready<T> {
    map: RwLock<T>,
    ready: AtomicBool,
}

impl<T: Default> Default for Ready<T> {
    fn default() -> Self {
        Ready { map: RwLock::default(), ready: AtomicBool::new(false) }
    }
}

impl<T> Ready<T> {
    fn read(&self, view: &str) -> Result<RwLockReadGuard<'_, T>, PortError> {
        if !self.ready.load(Ordering::SeqCst) {
            return Err(PortError::Unavailable(format!("{view} view is catching up")));
        }
        Ok(self.map.read().unwrap_or_else(|p| p.into_inner()))
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, T> {
        self.map.write().unwrap_or_else(|p| p.into_inner())
    }
}

fn key_text(key: Option<&[u8]>) -> Option<String> {
    key.and_then(|k| std::str::from_utf8(k).ok()).map(str::to_owned)
}

// ---------------------------------------------------------------------------------------

/// A snapshot record keyed by its account id on its compacted topic.
pub trait AccountKeyed: schemas::AvroRecord + Send + Sync {
    /// The view's name in logs and "catching up" errors.
    const VIEW: &'static str;
    fn account_id(&self) -> &str;
}

impl AccountKeyed for AccountSnapshot {
    const VIEW: &'static str = "accounts";
    fn account_id(&self) -> &str {
        &self.account_id
    }
}

impl AccountKeyed for PortfolioSnapshot {
    const VIEW: &'static str = "portfolios";
    fn account_id(&self) -> &str {
        &self.account_id
    }
}

/// Latest snapshot per account id: a tombstone removes the account's entry.
pub struct ByAccount<T>(Ready<BTreeMap<String, T>>);

impl<T> Default for ByAccount<T> {
    fn default() -> Self {
        ByAccount(Ready::default())
    }
}

impl<T: AccountKeyed + Clone> ByAccount<T> {
    fn get(&self, account_id: &str) -> Result<Option<T>, PortError> {
        Ok(self.0.read(T::VIEW)?.get(account_id).cloned())
    }
}

impl<T: AccountKeyed> Fold for ByAccount<T> {
    fn apply(&self, _topic: usize, key: Option<&[u8]>, value: Option<&[u8]>, decoder: &Decoder, stop: &AtomicBool) {
        match value {
            None => {
                if let Some(k) = key_text(key) {
                    self.0.write().remove(&k);
                }
            }
            Some(v) => match decoder.decode::<T>(v, stop) {
                Ok(s) => {
                    self.0.write().insert(s.account_id().to_owned(), s);
                }
                Err(e) => tracing::warn!(error = %e, "{} view: undecodable snapshot skipped", T::VIEW),
            },
        }
    }

    fn caught_up(&self) {
        self.0.ready.store(true, Ordering::SeqCst);
    }
}

/// Latest account snapshot per account id (`accounts.snapshots`).
pub type AccountsView = ByAccount<AccountSnapshot>;

impl AccountView for AccountsView {
    fn account(&self, account_id: &str) -> Result<Option<AccountSnapshot>, PortError> {
        self.get(account_id)
    }
}

/// Latest portfolio summary per account id (`portfolios.snapshots`, as the portfolio
/// pipeline writes it).
pub type PortfoliosView = ByAccount<PortfolioSnapshot>;

impl PortfolioView for PortfoliosView {
    fn portfolio(&self, account_id: &str) -> Result<Option<PortfolioSnapshot>, PortError> {
        self.get(account_id)
    }
}

// ---------------------------------------------------------------------------------------

/// Latest position per (account id, symbol); flat positions are kept but never returned.
#[derive(Default)]
pub struct PositionsView(Ready<BTreeMap<(String, String), PositionSnapshot>>);

impl Fold for PositionsView {
    fn apply(&self, _topic: usize, key: Option<&[u8]>, value: Option<&[u8]>, decoder: &Decoder, stop: &AtomicBool) {
        match value {
            None => {
                // Key `account_id|symbol`.
                if let Some((a, s)) = key_text(key).as_deref().and_then(|k| k.split_once('|')) {
                    self.0.write().remove(&(a.to_string(), s.to_string()));
                }
            }
            Some(v) => match decoder.decode::<PositionSnapshot>(v, stop) {
                Ok(p) => {
                    self.0.write().insert((p.account_id.clone(), p.symbol.clone()), p);
                }
                Err(e) => tracing::warn!(error = %e, "positions view: undecodable snapshot skipped"),
            },
        }
    }

    fn caught_up(&self) {
        self.0.ready.store(true, Ordering::SeqCst);
    }
}

impl PositionView for PositionsView {
    fn positions(&self, account_id: &str) -> Result<Vec<PositionSnapshot>, PortError> {
        let g = self.0.read("positions")?;
        let from = (account_id.to_string(), String::new());
        Ok(g.range(from..).take_while(|((a, _), _)| a == account_id).map(|(_, p)| p).filter(|p| !p.qty.is_zero()).cloned().collect())
    }

    fn position(&self, account_id: &str, symbol: &str) -> Result<Option<PositionSnapshot>, PortError> {
        let g = self.0.read("positions")?;
        Ok(g.get(&(account_id.to_string(), symbol.to_string())).filter(|p| !p.qty.is_zero()).cloned())
    }
}

// ---------------------------------------------------------------------------------------

/// Topic indexes of [`AssetsView`].
pub const INSTRUMENTS: usize = 0;
pub const DEPTH: usize = 1;

#[derive(Default)]
struct Assets {
    /// Listing and status per symbol (symbols never listed are absent).
    listed: BTreeMap<String, (ListInstrument, InstrumentStatus)>,
    last_trade: BTreeMap<String, Decimal>,
    /// Session marks of the latest snapshot that has a last trade (they belong together).
    marks: BTreeMap<String, CloseMarks>,
}

/// Instruments: `ListInstrument` sets the listing (status listed), halt / resume / delist
/// change the status; commands for a symbol never listed are ignored (the matching
/// pipeline rejects them too). The last trade price comes from the latest `book.depth`
/// snapshot that has one.
#[derive(Default)]
pub struct AssetsView(Ready<Assets>);

impl AssetsView {
    fn apply_instrument(&self, c: InstrumentCommand) {
        let mut g = self.0.write();
        match c.body {
            InstrumentInstruction::ListInstrument(l) => {
                g.listed.insert(c.symbol, (l, InstrumentStatus::Listed));
            }
            other => {
                if let Some(entry) = g.listed.get_mut(&c.symbol) {
                    entry.1 = match other {
                        InstrumentInstruction::HaltInstrument(_) => InstrumentStatus::Halted,
                        InstrumentInstruction::ResumeInstrument(_) => InstrumentStatus::Listed,
                        InstrumentInstruction::DelistInstrument(_) => InstrumentStatus::Delisted,
                        InstrumentInstruction::ListInstrument(_) => unreachable!("handled above"),
                    };
                }
            }
        }
    }

    fn record(a: &Assets, symbol: &str) -> Option<AssetRecord> {
        let (listing, status) = a.listed.get(symbol)?;
        Some(AssetRecord {
            symbol: symbol.to_string(),
            listing: listing.clone(),
            status: *status,
            last_trade_price: a.last_trade.get(symbol).copied(),
            marks: a.marks.get(symbol).copied().unwrap_or_default(),
        })
    }
}

impl Fold for AssetsView {
    fn apply(&self, topic: usize, _key: Option<&[u8]>, value: Option<&[u8]>, decoder: &Decoder, stop: &AtomicBool) {
        let Some(v) = value else { return };
        match topic {
            INSTRUMENTS => match decoder.decode::<InstrumentCommand>(v, stop) {
                Ok(c) => self.apply_instrument(c),
                Err(e) => tracing::warn!(error = %e, "assets view: undecodable instrument command skipped"),
            },
            _ => match decoder.decode::<BookSnapshot>(v, stop) {
                Ok(b) => {
                    if let Some(p) = b.last_trade_price {
                        let marks = CloseMarks {
                            session_close_ns: b.session_close_ns,
                            previous_close_ns: b.previous_close_ns,
                            previous_close_price: b.previous_close_price,
                        };
                        let mut g = self.0.write();
                        g.marks.insert(b.symbol.clone(), marks);
                        g.last_trade.insert(b.symbol, p);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "assets view: undecodable book snapshot skipped"),
            },
        }
    }

    fn caught_up(&self) {
        self.0.ready.store(true, Ordering::SeqCst);
    }
}

impl AssetView for AssetsView {
    fn assets(&self) -> Result<Vec<AssetRecord>, PortError> {
        let g = self.0.read("assets")?;
        Ok(g.listed.keys().filter_map(|s| Self::record(&g, s)).collect())
    }

    fn asset(&self, symbol: &str) -> Result<Option<AssetRecord>, PortError> {
        let g = self.0.read("assets")?;
        Ok(Self::record(&g, symbol))
    }
}
