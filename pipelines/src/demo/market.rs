//! The demo's simulated market, as pure decisions: a random-walk reference price per
//! symbol, market makers' two-sided quotes around it and traders' random orders.
//!
//! Everything here is a function of a seeded RNG and its arguments (no clock, no I/O), so
//! one `--seed` gives one sequence of decisions for the same observed positions. Prices are
//! whole ticks (`Decimal`), quantities whole shares; no floating point reaches a price.

use rand::rngs::StdRng;
use rand::Rng;
use rust_decimal::Decimal;

/// A listed instrument of the demo.
#[derive(Clone, Copy, Debug)]
pub struct Listing {
    pub symbol: &'static str,
    pub name: &'static str,
    /// Tick size in cents (every demo instrument trades in whole cents).
    pub tick_cents: i64,
    /// Starting reference price in cents.
    pub reference_cents: i64,
}

impl Listing {
    /// The tick size.
    pub fn tick(&self) -> Decimal {
        Decimal::new(self.tick_cents, 2)
    }

    /// The starting reference price.
    pub fn reference(&self) -> Decimal {
        Decimal::new(self.reference_cents, 2)
    }
}

/// The instruments the demo lists (lot size 1, minimum quantity 1).
pub const LISTINGS: [Listing; 3] = [
    Listing { symbol: "AAPL", name: "Apple Inc. (demo)", tick_cents: 1, reference_cents: 19_000 },
    Listing { symbol: "MSFT", name: "Microsoft Corporation (demo)", tick_cents: 1, reference_cents: 42_000 },
    Listing { symbol: "TSLA", name: "Tesla, Inc. (demo)", tick_cents: 1, reference_cents: 25_000 },
];

/// Largest step of the walk, in basis points of the price.
const STEP_BPS: i64 = 8;
/// Beyond this distance from the start (basis points) every step leans back toward it.
const REVERT_BPS: i64 = 500;

/// A reference price that moves a few basis points per step, in whole ticks, leaning back
/// toward its start beyond [`REVERT_BPS`] (it stays well inside the accounts pipeline's
/// 25 % price band around the last trade).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Walk {
    tick_cents: i64,
    start_ticks: i64,
    ticks: i64,
}

impl Walk {
    pub fn new(listing: &Listing) -> Walk {
        let start_ticks = listing.reference_cents / listing.tick_cents;
        Walk { tick_cents: listing.tick_cents, start_ticks, ticks: start_ticks }
    }

    /// The current reference price.
    #[cfg(test)]
    pub fn price(&self) -> Decimal {
        self.at(self.ticks)
    }

    /// The price `ticks` ticks away from the reference (at least one tick).
    pub fn offset(&self, ticks: i64) -> Decimal {
        self.at((self.ticks + ticks).max(1))
    }

    /// `bps` basis points of the current price, in whole ticks (at least one).
    pub fn ticks_for_bps(&self, bps: i64) -> i64 {
        (self.ticks * bps / 10_000).max(1)
    }

    fn at(&self, ticks: i64) -> Decimal {
        Decimal::new(ticks * self.tick_cents, 2)
    }

    /// One step of the walk.
    pub fn step(&mut self, rng: &mut StdRng) {
        let max = self.ticks_for_bps(STEP_BPS);
        let mut step = rng.random_range(-max..=max);
        let distance_bps = (self.ticks - self.start_ticks) * 10_000 / self.start_ticks;
        if distance_bps.abs() > REVERT_BPS {
            step = -distance_bps.signum() * step.abs();
        }
        self.ticks = (self.ticks + step).max(1);
    }
}

/// Buy or sell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Buy,
    Sell,
}

/// Market or limit at a price.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Market,
    Limit(Decimal),
}

/// Time in force of a generated order: never `day`, so the demo trades at any hour
/// whatever the matching pipeline's session calendar says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tif {
    Gtc,
    Ioc,
}

/// An order to place, in the terms of `POST /v2/orders`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Intent {
    pub symbol: &'static str,
    pub side: Side,
    pub kind: Kind,
    pub tif: Tif,
    pub qty: i64,
}

impl Intent {
    /// The Alpaca request body's fields (decimals as exact strings).
    pub fn request(&self) -> api::orders::OrderRequest {
        let (order_type, limit_price) = match self.kind {
            Kind::Market => ("market", None),
            Kind::Limit(p) => ("limit", Some(serde_json::Value::String(p.to_string()))),
        };
        api::orders::OrderRequest {
            symbol: Some(self.symbol.to_string()),
            qty: Some(serde_json::Value::String(self.qty.to_string())),
            side: Some(match self.side { Side::Buy => "buy", Side::Sell => "sell" }.to_string()),
            order_type: Some(order_type.to_string()),
            time_in_force: Some(match self.tif { Tif::Gtc => "gtc", Tif::Ioc => "ioc" }.to_string()),
            limit_price,
            ..Default::default()
        }
    }
}

/// How a market maker quotes: half-spread and size per side.
#[derive(Clone, Copy, Debug)]
pub struct MakerStyle {
    pub half_spread_bps: i64,
    pub size: i64,
}

/// A market maker's two GTC quotes around the walk: bid below, ask above, each at least one
/// tick away, sizes jittered by up to a quarter.
pub fn quotes(rng: &mut StdRng, symbol: &'static str, walk: &Walk, style: MakerStyle) -> [Intent; 2] {
    let half = walk.ticks_for_bps(style.half_spread_bps);
    let mut size = || (style.size + rng.random_range(-style.size / 4..=style.size / 4)).max(1);
    [
        Intent { symbol, side: Side::Buy, kind: Kind::Limit(walk.offset(-half)), tif: Tif::Gtc, qty: size() },
        Intent { symbol, side: Side::Sell, kind: Kind::Limit(walk.offset(half)), tif: Tif::Gtc, qty: size() },
    ]
}

/// A trader's next order on `symbol`, given the shares it holds there and whether the
/// symbol has traded yet (a market order needs a last trade price as its reference).
///
/// Sells only what it holds (traders cannot short); otherwise buys 1-10 shares. Market IOC
/// (40 % once the symbol has traded), else a limit order priced from 8 bps passive to 15
/// bps aggressive around the walk, half GTC, half IOC.
pub fn trader_order(rng: &mut StdRng, symbol: &'static str, walk: &Walk, held: i64, has_traded: bool) -> Intent {
    let side = if held > 0 && rng.random_bool(0.5) { Side::Sell } else { Side::Buy };
    let mut qty = rng.random_range(1..=10);
    if side == Side::Sell {
        qty = qty.min(held);
    }
    let market = has_traded && rng.random_bool(0.4);
    let (kind, tif) = if market {
        (Kind::Market, Tif::Ioc)
    } else {
        let bps: i64 = rng.random_range(-8..=15);
        let ticks = walk.ticks_for_bps(bps.abs()) * bps.signum();
        let ticks = if side == Side::Buy { ticks } else { -ticks };
        let tif = if rng.random_bool(0.5) { Tif::Gtc } else { Tif::Ioc };
        (Kind::Limit(walk.offset(ticks)), tif)
    };
    Intent { symbol, side, kind, tif, qty }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn run(seed: u64) -> Vec<Intent> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut walk = Walk::new(&LISTINGS[0]);
        let mut out = Vec::new();
        for i in 0..200 {
            walk.step(&mut rng);
            out.extend(quotes(&mut rng, "AAPL", &walk, MakerStyle { half_spread_bps: 5, size: 100 }));
            out.push(trader_order(&mut rng, "AAPL", &walk, i % 7, i > 3));
        }
        out
    }

    #[test]
    fn one_seed_gives_one_sequence_of_orders() {
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn prices_are_on_tick_and_quotes_straddle_the_walk() {
        let mut rng = StdRng::seed_from_u64(1);
        for l in &LISTINGS {
            let mut walk = Walk::new(l);
            assert_eq!(walk.price(), l.reference());
            for _ in 0..5_000 {
                walk.step(&mut rng);
                let p = walk.price();
                assert!((p - l.reference()).abs() <= l.reference() * Decimal::new(6, 2), "{} wandered to {p}", l.symbol);
                let [bid, ask] = quotes(&mut rng, l.symbol, &walk, MakerStyle { half_spread_bps: 5, size: 100 });
                let (Kind::Limit(b), Kind::Limit(a)) = (bid.kind, ask.kind) else { panic!("quotes are limits") };
                assert!(b < p && p < a && (bid.side, ask.side) == (Side::Buy, Side::Sell));
                assert!(bid.qty >= 75 && ask.qty <= 125);
                for x in [b, a, p] {
                    assert!((x % l.tick()).is_zero() && x.scale() <= 2, "{x} off tick");
                }
            }
        }
    }

    #[test]
    fn traders_never_sell_more_than_they_hold_and_market_orders_wait_for_a_trade() {
        let mut rng = StdRng::seed_from_u64(3);
        let walk = Walk::new(&LISTINGS[1]);
        for held in [0, 1, 4, 50] {
            for _ in 0..500 {
                let o = trader_order(&mut rng, "MSFT", &walk, held, false);
                assert!(o.qty >= 1 && o.qty <= 10 && matches!(o.kind, Kind::Limit(_)));
                if o.side == Side::Sell {
                    assert!(o.qty <= held);
                }
                if held == 0 {
                    assert_eq!(o.side, Side::Buy);
                }
            }
        }
        assert!((0..200).any(|_| trader_order(&mut rng, "MSFT", &walk, 0, true).kind == Kind::Market));
    }

    #[test]
    fn intents_become_valid_api_orders() {
        for o in run(11) {
            let p = api::orders::validate(&o.request(), "00000000-0000-4000-8000-000000000001".into()).expect("valid request");
            assert_eq!(p.qty, Some(Decimal::from(o.qty)));
            assert_eq!(p.limit_price, match o.kind { Kind::Limit(x) => Some(x.normalize()), Kind::Market => None });
        }
    }
}
