//! Replays one synthetic command stream through our book, lobster 0.7 and obcore 0.1.6.
//!
//! Run: `CARGO_TARGET_DIR=/work/target-matching cargo bench -p operators --bench book_vs_peers`
//! (`BENCH_COMMANDS=100000` for a shorter run).
//!
//! The stream (seeded, so identical on every run): a steady-state book of about 1,000
//! resting orders around a slowly drifting mid; about 40% cancels of resting orders, 15%
//! marketable orders (half market, half crossing limits) and 45% passive limits. It is
//! generated once by simulating it on our own book (so cancels target orders that are
//! really resting), then replayed from scratch by each engine. Semantics coincide here (gtc
//! limits, market orders that never rest, no STP, no band, one account), so the traded
//! quantity must agree exactly.
//!
//! Work per engine: ours emits its full event stream (`new`, `canceled`, maker and taker
//! execution reports, trades: what the runtime consumes) and no depth snapshots (the
//! peers build none either); lobster returns its `OrderEvent` per command; obcore
//! evaluates each op into instructions and applies them. Ours is timed twice: through
//! `run_commands` on prebuilt `Command`s (the engine's real input type, 128 bytes each),
//! and on the same compact `Op` stream the peers read, building each `Command` inside the
//! timed loop like the peers build their own order values.
//!
//! Method: only the replay is timed. After one untimed warm-up pass per engine, the engines
//! run interleaved for `BENCH_ROUNDS` rounds (default 7; the order rotates every round so
//! no engine always runs first). Reported: median and minimum per engine, the ratios of
//! the medians, and the median of the per-round ratios (the box is shared and noisy).

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Instant;

use operators::matching::replay::{run_commands, ReplayConfig};
use operators::matching::{
    AccountId, Book, BookConfig, BookEvent, Command, InstrumentRules, NewOrder, OrderId, OrderType, Side,
    TimeInForce,
};
use operators::Timestamp;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;

#[derive(Clone, Copy, Debug)]
enum Op {
    Limit { id: u64, buy: bool, price: u64, qty: u64 },
    Market { id: u64, buy: bool, qty: u64 },
    Cancel { id: u64 },
}

fn to_command(op: Op) -> Command {
    let new = |id: u64, buy: bool, order_type, qty: u64, limit_price| {
        Command::NewOrder(NewOrder {
            order_id: OrderId(id as u128),
            account: AccountId(0),
            client_order_id: None,
            side: if buy { Side::Buy } else { Side::Sell },
            order_type,
            tif: TimeInForce::Gtc,
            qty: qty as i64,
            limit_price,
            stop_price: None,
        })
    };
    match op {
        Op::Limit { id, buy, price, qty } => new(id, buy, OrderType::Limit, qty, Some(price as i64)),
        Op::Market { id, buy, qty } => new(id, buy, OrderType::Market, qty, None),
        Op::Cancel { id } => Command::Cancel { order_id: OrderId(id as u128), account: AccountId(0) },
    }
}

/// Resting ids with O(1) random removal.
#[derive(Default)]
struct Live {
    ids: Vec<u64>,
    pos: HashMap<u64, usize>,
}

impl Live {
    fn add(&mut self, id: u64) {
        if !self.pos.contains_key(&id) {
            self.pos.insert(id, self.ids.len());
            self.ids.push(id);
        }
    }
    fn remove(&mut self, id: u64) {
        if let Some(i) = self.pos.remove(&id) {
            self.ids.swap_remove(i);
            if let Some(&moved) = self.ids.get(i) {
                self.pos.insert(moved, i);
            }
        }
    }
}

fn generate(n: usize, seed: u64) -> (Vec<Op>, [usize; 3], usize) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut book = Book::new(InstrumentRules::new(Decimal::ONE, Decimal::ONE), BookConfig::default()).unwrap();
    let mut live = Live::default();
    let mut ops = Vec::with_capacity(n);
    let mut mix = [0usize; 3];
    let mut mid: i64 = 100_000;
    let mut events = Vec::new();
    for i in 0..n {
        let id = i as u64 + 1;
        if i % 64 == 0 {
            mid += rng.random_range(-2..=2);
        }
        let mut r = rng.random_range(0..100);
        // Keep the book near 1,000 resting orders by swapping cancels and passive limits.
        if r < 40 && live.ids.len() < 900 {
            r = 99;
        } else if r >= 55 && live.ids.len() > 1_100 {
            r = 0;
        }
        let buy = rng.random_bool(0.5);
        let qty = rng.random_range(1..=20u64);
        let op = if r < 40 && !live.ids.is_empty() {
            mix[0] += 1;
            Op::Cancel { id: live.ids[rng.random_range(0..live.ids.len())] }
        } else if r < 55 {
            mix[1] += 1;
            if rng.random_bool(0.5) {
                Op::Market { id, buy, qty }
            } else {
                let k = rng.random_range(0..=3);
                let price = if buy { mid + k } else { mid - k };
                Op::Limit { id, buy, price: price as u64, qty }
            }
        } else {
            mix[2] += 1;
            let away = 1 + rng.random_range(0..40);
            let price = if buy { mid - away } else { mid + away };
            Op::Limit { id, buy, price: price as u64, qty }
        };
        ops.push(op);
        book.process(to_command(op), Timestamp(i as i64), &mut events);
        for e in events.drain(..) {
            match e {
                BookEvent::Execution(x) if x.leaves_qty == 0 => live.remove(x.order_id.0 as u64),
                BookEvent::Order(u) if u.leaves_qty == 0 => live.remove(u.order_id.0 as u64),
                _ => {}
            }
        }
        if let Op::Limit { id, .. } = op {
            if book.order(OrderId(id as u128)).is_some() {
                live.add(id);
            }
        }
    }
    (ops, mix, book.open_orders())
}

fn run_ours(cmds: &[Command]) -> (u64, i64) {
    let cfg = ReplayConfig { tick_size: Decimal::ONE, lot_size: Decimal::ONE, band_bps: None };
    let cmds = cmds.to_vec();
    let t = Instant::now();
    let s = run_commands(black_box(cmds), &cfg).unwrap();
    (t.elapsed().as_nanos() as u64, s.traded_lots)
}

/// Ours on the same compact `Op` stream the peers read (32 bytes per command instead of a
/// prebuilt 128-byte `Command`): the `Command` is built inside the timed loop, just as the
/// peers build their own order values there. Same loop as `run_commands` otherwise.
fn run_ours_ops(ops: &[Op]) -> (u64, i64) {
    let rules = InstrumentRules::new(Decimal::ONE, Decimal::ONE);
    let t = Instant::now();
    let mut book = Book::new(rules, BookConfig::default()).unwrap();
    let mut events = Vec::with_capacity(64);
    let mut traded = 0i64;
    for (i, op) in ops.iter().enumerate() {
        book.process(to_command(*op), Timestamp(i as i64), &mut events);
        for e in &events {
            if let BookEvent::Trade(t) = e {
                traded += t.qty;
            }
        }
        events.clear();
    }
    black_box(&book);
    (t.elapsed().as_nanos() as u64, traded)
}

fn run_lobster(ops: &[Op]) -> (u64, i64) {
    use lobster::{OrderBook, OrderEvent, OrderType as L, Side as LS};
    let mut ob = OrderBook::default();
    let side = |buy: bool| if buy { LS::Bid } else { LS::Ask };
    let mut traded = 0u64;
    let t = Instant::now();
    for op in ops {
        let ev = match *op {
            Op::Limit { id, buy, price, qty } => {
                ob.execute(L::Limit { id: id as u128, side: side(buy), qty, price })
            }
            Op::Market { id, buy, qty } => ob.execute(L::Market { id: id as u128, side: side(buy), qty }),
            Op::Cancel { id } => ob.execute(L::Cancel { id: id as u128 }),
        };
        if let OrderEvent::Filled { filled_qty, .. } | OrderEvent::PartiallyFilled { filled_qty, .. } = black_box(ev) {
            traded += filled_qty;
        }
    }
    (t.elapsed().as_nanos() as u64, traded as i64)
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct ObOrder {
    id: u64,
    buy: bool,
    price: u64,
    qty: u64,
    remaining: u64,
    tif: obcore::TIF,
    owner: u64,
}

impl obcore::OrderInterface for ObOrder {
    type I = u64;
    type N = u64;
    type O = u64;
    fn id(&self) -> &u64 {
        &self.id
    }
    fn is_buy(&self) -> bool {
        self.buy
    }
    fn price(&self) -> u64 {
        self.price
    }
    fn quantity(&self) -> u64 {
        self.qty
    }
    fn remaining(&self) -> u64 {
        self.remaining
    }
    fn fill(&mut self, q: u64) {
        self.remaining -= q;
    }
    fn owner(&self) -> &u64 {
        &self.owner
    }
    fn tif(&self) -> obcore::TIF {
        self.tif
    }
}

fn run_obcore(ops: &[Op]) -> (u64, i64) {
    use obcore::{Evaluator, Instruction, Op as O, OrderBook};
    let mut ob: OrderBook<ObOrder> = OrderBook::default();
    let mut eval: Evaluator<ObOrder> = Evaluator::default();
    let order = |id, buy, price, qty, tif| ObOrder { id, buy, price, qty, remaining: qty, tif, owner: 0 };
    let mut traded = 0u64;
    let mut buf = Vec::with_capacity(64);
    let t = Instant::now();
    for op in ops {
        let o = match *op {
            Op::Limit { id, buy, price, qty } => O::Insert(order(id, buy, price, qty, obcore::TIF::GTC)),
            // A market order is an IOC limit at the most aggressive price.
            Op::Market { id, buy, qty } => {
                O::Insert(order(id, buy, if buy { u64::MAX } else { 0 }, qty, obcore::TIF::IOC))
            }
            Op::Cancel { id } => O::Delete(id),
        };
        buf.extend(eval.eval(&ob, o));
        eval.reset();
        for ins in buf.drain(..) {
            if let Instruction::Fill(_, _, _, q, true) = ins {
                traded += q;
            }
            black_box(ob.apply(ins));
        }
    }
    (t.elapsed().as_nanos() as u64, traded as i64)
}

/// Median of the timings (ns) and the traded quantity, which must agree across runs.
fn summarize(runs: &[(u64, i64)]) -> (u64, u64, i64) {
    assert!(runs.windows(2).all(|w| w[0].1 == w[1].1), "non-deterministic traded quantity");
    let mut ns: Vec<u64> = runs.iter().map(|r| r.0).collect();
    ns.sort_unstable();
    (ns[ns.len() / 2], ns[0], runs[0].1)
}

fn main() {
    let n: usize = std::env::var("BENCH_COMMANDS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    eprintln!("generating {n} commands (seed 42)...");
    let (ops, mix, resting) = generate(n, 42);
    let pct = |k: usize| 100.0 * k as f64 / n as f64;
    println!(
        "stream: {n} commands: {:.1}% cancels, {:.1}% marketable, {:.1}% passive limits; {resting} orders resting at the end",
        pct(mix[0]),
        pct(mix[1]),
        pct(mix[2])
    );
    let cmds: Vec<Command> = ops.iter().map(|&o| to_command(o)).collect();
    if std::env::var("BENCH_DIGEST").is_ok_and(|v| v == "1") {
        // A digest of our full event stream (every field, via `Debug`), to compare two
        // builds of the engine on the same stream: an optimisation must not change it.
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        let mut book = Book::new(InstrumentRules::new(Decimal::ONE, Decimal::ONE), BookConfig::default()).unwrap();
        let (mut events, mut count) = (Vec::new(), 0u64);
        for (i, cmd) in cmds.iter().enumerate() {
            book.process(cmd.clone(), Timestamp(i as i64), &mut events);
            for e in events.drain(..) {
                format!("{e:?}").hash(&mut h);
                count += 1;
            }
        }
        println!("event digest: {count} events, {:016x}", h.finish());
    }
    let rounds: usize = std::env::var("BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(7).max(1);
    eprintln!("replaying: {rounds} interleaved rounds (engine order rotates every round)...");
    const ENGINES: usize = 4;
    let run = |engine: usize| match engine {
        0 => run_ours(&cmds),
        1 => run_ours_ops(&ops),
        2 => run_lobster(&ops),
        _ => run_obcore(&ops),
    };
    // One warm-up pass per engine (page faults, allocator growth), not recorded.
    (0..ENGINES).for_each(|e| {
        let _ = run(e);
    });
    let mut runs: [Vec<(u64, i64)>; ENGINES] = Default::default();
    for round in 0..rounds {
        for k in 0..ENGINES {
            let engine = (round + k) % ENGINES;
            runs[engine].push(run(engine));
        }
    }
    let [ours, ours_ops, lob, obc] = [0, 1, 2, 3].map(|e| summarize(&runs[e]));
    let per = |ns: u64| ns as f64 / n as f64;
    println!("{:<34} {:>18} {:>14} {:>12}", "engine", "median ns/command", "min ns/command", "traded qty");
    for (name, (med, min, qty)) in [
        ("tradeflow (ours, Vec<Command>)", ours),
        ("tradeflow (ours, Op stream)", ours_ops),
        ("lobster 0.7", lob),
        ("obcore 0.1.6", obc),
    ] {
        println!("{name:<34} {:>18.1} {:>14.1} {qty:>12}", per(med), per(min));
    }
    // Ratios of the medians, and the median of the per-round ratios (each round runs the
    // engines back to back, so a per-round ratio cancels slow swings in the machine's load).
    let paired = |a: usize, b: usize| {
        let mut r: Vec<f64> = (0..rounds).map(|i| runs[a][i].0 as f64 / runs[b][i].0 as f64).collect();
        r.sort_by(f64::total_cmp);
        r[r.len() / 2]
    };
    println!(
        "ratio ours/obcore   = {:.2} (Vec<Command>), {:.2} (Op stream); median per-round ratio {:.2}, {:.2}",
        ours.0 as f64 / obc.0 as f64,
        ours_ops.0 as f64 / obc.0 as f64,
        paired(0, 3),
        paired(1, 3)
    );
    println!(
        "ratio lobster/ours  = {:.2} (Vec<Command>), {:.2} (Op stream); median per-round ratio {:.2}, {:.2}",
        lob.0 as f64 / ours.0 as f64,
        lob.0 as f64 / ours_ops.0 as f64,
        paired(2, 0),
        paired(2, 1)
    );
    for (name, q) in [("ours (Op stream)", ours_ops.2), ("lobster", lob.2), ("obcore", obc.2)] {
        assert_eq!(ours.2, q, "traded quantity differs: ours vs {name}");
    }
    let ours_qty = ours.2;
    println!("traded quantity agrees across all three engines: {ours_qty}");
}
