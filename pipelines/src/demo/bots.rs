//! The demo's order flow: market makers and traders submitting orders through the Trading
//! API's ports, exactly as `POST /v2/orders` builds and sends them (`api::orders::validate`,
//! the instrument snapshot and last trade price from the assets view, an `OrderCommand` on
//! the `CommandSink`: the Kafka-backed API's producer on `orders.commands`), minus the HTTP
//! request, the key check and the wait for the outcome.
//!
//! Once a second every reference price takes a step of its random walk and each market
//! maker cancels its previous quotes and places a new bid and ask per symbol; between those
//! beats, traders place `orders_per_sec` random orders ([`super::market`]). Traders cancel
//! their GTC orders still open after [`RESTING_FOR`]. On stop, everything still open is
//! canceled, so a re-run on a real broker starts from empty books.
//!
//! Three RNGs derive from `--seed`: the walks (the same price path every run), the makers'
//! sizes and the traders' choices (the same sequence for the same observed positions).

use super::market::{self, Intent, Kind, MakerStyle, Tif, Walk, LISTINGS};
use super::seed::{self, Participant};
use api::format::uuid_v4;
use api::ports::{is_open, AccountView, AssetView, Clock, CommandSink, OrderView, SystemClock};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use schemas::records::{CancelOrder, InstrumentSnapshot, OrderCommand, OrderInstruction};
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a trader's GTC order may rest before the trader cancels it.
pub const RESTING_FOR: Duration = Duration::from_secs(15);

/// The market makers' quoting styles (maker `i` uses `MAKER_STYLES[i % len]`).
const MAKER_STYLES: [MakerStyle; 2] = [MakerStyle { half_spread_bps: 5, size: 100 }, MakerStyle { half_spread_bps: 12, size: 300 }];

/// The API ports the bots use (the Kafka-backed API's own).
#[derive(Clone)]
pub struct Ports {
    pub commands: Arc<dyn CommandSink>,
    pub assets: Arc<dyn AssetView>,
    /// Shares a trader may sell: `qty - held_qty` of its account snapshot's position.
    pub accounts: Arc<dyn AccountView>,
    pub orders: Arc<dyn OrderView>,
}

/// Counts for the progress lines.
#[derive(Default)]
pub struct Counters {
    /// Orders sent to `orders.commands`.
    pub placed: AtomicU64,
    /// Cancels sent.
    pub cancels: AtomicU64,
    /// Orders the API path refused before sending (validation, unknown asset, broker).
    pub refused: AtomicU64,
}

/// Places one order as `POST /v2/orders` does; returns its order id.
async fn place(ports: &Ports, account_id: &str, intent: &Intent) -> Result<String, String> {
    let mut order = api::orders::validate(&intent.request(), uuid_v4()).map_err(|e| e.to_string())?;
    let asset = ports.assets.asset(&order.symbol).map_err(|e| e.to_string())?.ok_or_else(|| format!("asset {} not found", order.symbol))?;
    order.instrument = Some(InstrumentSnapshot {
        status: asset.status,
        tick_size: asset.listing.tick_size,
        lot_size: asset.listing.lot_size,
        min_qty: asset.listing.min_qty,
        max_order_notional: asset.listing.max_order_notional,
    });
    order.reference_price = asset.last_trade_price;
    let order_id = order.order_id.clone();
    let command = OrderCommand { command_id: uuid_v4(), account_id: account_id.into(), issued_at_ns: SystemClock.now_ns(), body: OrderInstruction::PlaceOrder(order) };
    ports.commands.submit(command).await.map_err(|e| e.to_string())?;
    Ok(order_id)
}

/// The market: walks, makers' live quotes, traders' resting orders.
struct Bots {
    ports: Ports,
    counters: Arc<Counters>,
    makers: Vec<Participant>,
    traders: Vec<Participant>,
    walks: Vec<Walk>,
    walk_rng: StdRng,
    maker_rng: StdRng,
    trader_rng: StdRng,
    /// Live quote ids per (maker index, symbol index).
    quotes: BTreeMap<(usize, usize), Vec<String>>,
    /// Traders' GTC orders: (account, order id, placed at).
    resting: VecDeque<(String, String, Instant)>,
}

impl Bots {
    async fn place(&self, account_id: &str, intent: &Intent) -> Option<String> {
        match place(&self.ports, account_id, intent).await {
            Ok(id) => {
                self.counters.placed.fetch_add(1, Ordering::Relaxed);
                Some(id)
            }
            Err(e) => {
                self.counters.refused.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(account_id, ?intent, error = %e, "demo order not placed");
                None
            }
        }
    }

    /// Cancels `order_id` unless the orders view already shows it closed.
    async fn cancel(&self, account_id: &str, order_id: &str) {
        if let Ok(Some(r)) = self.ports.orders.order(order_id) {
            if !is_open(r.status()) {
                return;
            }
        }
        let body = OrderInstruction::CancelOrder(CancelOrder { order_id: order_id.into() });
        let command = OrderCommand { command_id: uuid_v4(), account_id: account_id.into(), issued_at_ns: SystemClock.now_ns(), body };
        if self.ports.commands.submit(command).await.is_ok() {
            self.counters.cancels.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// One beat: every walk steps, every maker requotes every symbol.
    async fn requote(&mut self) {
        for w in &mut self.walks {
            w.step(&mut self.walk_rng);
        }
        for m in 0..self.makers.len() {
            let account = self.makers[m].account_id.clone();
            for (s, listing) in LISTINGS.iter().enumerate() {
                for id in self.quotes.remove(&(m, s)).unwrap_or_default() {
                    self.cancel(&account, &id).await;
                }
                let style = MAKER_STYLES[m % MAKER_STYLES.len()];
                let mut live = Vec::new();
                for q in market::quotes(&mut self.maker_rng, listing.symbol, &self.walks[s], style) {
                    live.extend(self.place(&account, &q).await);
                }
                self.quotes.insert((m, s), live);
            }
        }
    }

    /// One trader order, and the cancels of GTC orders that rested too long.
    async fn trade(&mut self) {
        if self.traders.is_empty() {
            return;
        }
        let t = self.trader_rng.random_range(0..self.traders.len());
        let s = self.trader_rng.random_range(0..LISTINGS.len());
        let (account, symbol) = (self.traders[t].account_id.clone(), LISTINGS[s].symbol);
        let held = match self.ports.accounts.account(&account) {
            Ok(Some(a)) => a.positions.iter().find(|p| p.symbol == symbol).map_or(0, |p| (p.qty - p.held_qty).trunc().try_into().unwrap_or(0i64).max(0)),
            _ => 0,
        };
        let has_traded = matches!(self.ports.assets.asset(symbol), Ok(Some(a)) if a.last_trade_price.is_some());
        let intent = market::trader_order(&mut self.trader_rng, symbol, &self.walks[s], held, has_traded);
        if let Some(id) = self.place(&account, &intent).await {
            if intent.tif == Tif::Gtc && matches!(intent.kind, Kind::Limit(_)) {
                self.resting.push_back((account, id, Instant::now()));
            }
        }
        while self.resting.front().is_some_and(|r| r.2.elapsed() >= RESTING_FOR) {
            let (account, id, _) = self.resting.pop_front().expect("checked");
            self.cancel(&account, &id).await;
        }
    }

    /// Cancels every quote and resting order still open.
    async fn cancel_all(&mut self) {
        for ((m, _), ids) in std::mem::take(&mut self.quotes) {
            let account = self.makers[m].account_id.clone();
            for id in ids {
                self.cancel(&account, &id).await;
            }
        }
        for (account, id, _) in std::mem::take(&mut self.resting) {
            self.cancel(&account, &id).await;
        }
    }
}

/// Runs the market until `stop` is set, then cancels what is still open.
pub async fn run(ports: Ports, people: Vec<Participant>, seed: u64, orders_per_sec: u32, stop: Arc<AtomicBool>, counters: Arc<Counters>) {
    let (makers, traders) = people.into_iter().partition(|p| p.kind == seed::Kind::MarketMaker);
    let mut bots = Bots {
        ports,
        counters,
        makers,
        traders,
        walks: LISTINGS.iter().map(Walk::new).collect(),
        walk_rng: StdRng::seed_from_u64(seed),
        maker_rng: StdRng::seed_from_u64(seed.wrapping_add(1)),
        trader_rng: StdRng::seed_from_u64(seed.wrapping_add(2)),
        quotes: BTreeMap::new(),
        resting: VecDeque::new(),
    };
    let slots = orders_per_sec.max(1);
    'beats: while !stop.load(Ordering::SeqCst) {
        let beat = Instant::now();
        bots.requote().await;
        for k in 0..slots {
            if stop.load(Ordering::SeqCst) {
                break 'beats;
            }
            if orders_per_sec > 0 {
                bots.trade().await;
            }
            tokio::time::sleep_until((beat + Duration::from_secs(1) * (k + 1) / slots).into()).await;
        }
    }
    bots.cancel_all().await;
}
