//! Golden scenario runner (test-only): reads `scenarios/*.txt`, runs each command through
//! a [`MatchingOperator`] and compares the rendered events with the `>` lines after it.
//!
//! Format, one directive per line (`#` starts a comment):
//! - `calendar 1000 2000`: session closes (ns). Must come first if present.
//! - `time 10`: event time of the following commands.
//! - `list tick=0.01 lot=1 [min=2] [notional=1000] [stp=cancel_newest] [band_bps=500] [ref=100.00]`
//! - `new id=1 acct=1 side=buy type=limit tif=gtc qty=10 [px=100.00] [stop=99.00] [cl=abc]`
//! - `cancel id=1 acct=1`
//! - `replace id=1 new=2 acct=1 [qty=5] [px=100.00] [stop=99.00] [cl=abc]`
//! - `halt` / `resume` / `delist`
//! - `punctuate 1000`: stream-time punctuation at that time.
//! - `depth 3`: renders the book's top levels (an expectation line follows like any event).
//! - `> ...`: the expected events of the directive above, in order, rendered as below.
//!
//! Set `UPDATE_SCENARIOS=1` to rewrite the files with the actual events (then review the
//! diff by hand: a golden file is only as good as its review).

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::str::FromStr;

use rust_decimal::Decimal;

use super::*;
use crate::{Operator, PunctuationKind, Timestamp};

const SYMBOL: &str = "XYZ";

fn snake(v: impl Debug) -> String {
    let s = format!("{v:?}");
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

struct Ctx {
    rules: InstrumentRules,
}

impl Ctx {
    fn px(&self, t: i64) -> String {
        self.rules.ticks_to_price(t).normalize().to_string()
    }
    fn qty(&self, l: i64) -> String {
        self.rules.lots_to_qty(l).normalize().to_string()
    }
    fn to_ticks(&self, s: &str) -> i64 {
        self.rules.price_to_ticks(Decimal::from_str(s).unwrap()).unwrap()
    }
    fn to_lots(&self, s: &str) -> i64 {
        self.rules.qty_to_lots(Decimal::from_str(s).unwrap()).unwrap()
    }

    fn render(&self, e: &BookEvent) -> String {
        match e {
            BookEvent::Order(u) => {
                let mut s = format!(
                    "{} id={} acct={} {} qty={} cum={} leaves={}",
                    u.status.as_str(),
                    u.order_id.0,
                    u.account.0,
                    u.side.as_str(),
                    self.qty(u.order_qty),
                    self.qty(u.cum_qty),
                    self.qty(u.leaves_qty)
                );
                if u.canceled_qty != 0 {
                    s += &format!(" canceled={}", self.qty(u.canceled_qty));
                }
                match u.detail {
                    StatusDetail::None => {}
                    StatusDetail::Rejected(r) => s += &format!(" reason={}", snake(r)),
                    StatusDetail::Canceled(r) => s += &format!(" reason={}", snake(r)),
                    StatusDetail::Replaces(id) => s += &format!(" replaces={}", id.0),
                    StatusDetail::ReplacedBy(id) => s += &format!(" by={}", id.0),
                }
                if let Some(c) = &u.client_order_id {
                    s += &format!(" cl={c}");
                }
                s
            }
            BookEvent::Execution(x) => format!(
                "fill exec={} trade={} id={} acct={} {} {} qty={} px={} cum={} leaves={} {}{}",
                x.exec_id,
                x.trade_id,
                x.order_id.0,
                x.account.0,
                snake(x.liquidity),
                x.side.as_str(),
                self.qty(x.fill_qty),
                self.px(x.fill_price),
                self.qty(x.cum_qty),
                self.qty(x.leaves_qty),
                x.status.as_str(),
                x.client_order_id.as_ref().map(|c| format!(" cl={c}")).unwrap_or_default()
            ),
            BookEvent::Trade(t) => format!(
                "trade {} qty={} px={} aggressor={}",
                t.trade_id,
                self.qty(t.qty),
                self.px(t.price),
                t.aggressor.as_str()
            ),
            BookEvent::RequestRejected(r) => format!(
                "request_rejected {}{} reason={}",
                snake(r.kind),
                r.order_id.map(|i| format!(" id={}", i.0)).unwrap_or_default(),
                snake(r.reason)
            ),
            BookEvent::Instrument(s) => format!("instrument {}", s.as_str()),
            BookEvent::Depth(d) => {
                let lv = |l: &[DepthLevel]| {
                    l.iter()
                        .map(|l| format!("{}x{}({})", self.px(l.price), self.qty(l.qty), l.orders))
                        .collect::<Vec<_>>()
                        .join(",")
                };
                format!(
                    "depth bids=[{}] asks=[{}] last={}",
                    lv(&d.bids),
                    lv(&d.asks),
                    d.last_trade.map(|p| self.px(p)).unwrap_or("none".into())
                )
            }
        }
    }
}

fn kv(tokens: &[&str]) -> BTreeMap<String, String> {
    tokens
        .iter()
        .map(|t| {
            let (k, v) = t.split_once('=').unwrap_or_else(|| panic!("expected key=value, got {t}"));
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn parse_rules(a: &BTreeMap<String, String>) -> InstrumentRules {
    let dec = |k: &str| a.get(k).map(|v| Decimal::from_str(v).unwrap());
    InstrumentRules {
        tick_size: dec("tick").expect("tick="),
        lot_size: dec("lot").expect("lot="),
        min_qty: dec("min"),
        max_notional: dec("notional"),
        stp: match a.get("stp").map(String::as_str) {
            None | Some("off") => StpMode::Off,
            Some("cancel_newest") => StpMode::CancelNewest,
            Some("cancel_oldest") => StpMode::CancelOldest,
            Some("cancel_both") => StpMode::CancelBoth,
            Some(x) => panic!("stp={x}"),
        },
        band_bps: a.get("band_bps").map(|v| v.parse().unwrap()),
        reference_price: dec("ref"),
    }
}

fn parse_command(ctx: &Ctx, verb: &str, a: &BTreeMap<String, String>) -> Command {
    let id = |k: &str| OrderId(a[k].parse().unwrap());
    let acct = || AccountId(a["acct"].parse().unwrap());
    match verb {
        "new" => Command::NewOrder(NewOrder {
            order_id: id("id"),
            account: acct(),
            client_order_id: a.get("cl").cloned(),
            side: match a["side"].as_str() {
                "buy" => Side::Buy,
                "sell" => Side::Sell,
                x => panic!("side={x}"),
            },
            order_type: match a["type"].as_str() {
                "market" => OrderType::Market,
                "limit" => OrderType::Limit,
                "stop" => OrderType::Stop,
                "stop_limit" => OrderType::StopLimit,
                x => panic!("type={x}"),
            },
            tif: match a["tif"].as_str() {
                "day" => TimeInForce::Day,
                "gtc" => TimeInForce::Gtc,
                "ioc" => TimeInForce::Ioc,
                "fok" => TimeInForce::Fok,
                "opg" => TimeInForce::Opg,
                "cls" => TimeInForce::Cls,
                x => panic!("tif={x}"),
            },
            qty: ctx.to_lots(&a["qty"]),
            limit_price: a.get("px").map(|p| ctx.to_ticks(p)),
            stop_price: a.get("stop").map(|p| ctx.to_ticks(p)),
        }),
        "cancel" => Command::Cancel { order_id: id("id"), account: acct() },
        "replace" => Command::Replace(ReplaceOrder {
            order_id: id("id"),
            new_order_id: id("new"),
            account: acct(),
            client_order_id: a.get("cl").cloned(),
            qty: a.get("qty").map(|q| ctx.to_lots(q)),
            limit_price: a.get("px").map(|p| ctx.to_ticks(p)),
            stop_price: a.get("stop").map(|p| ctx.to_ticks(p)),
        }),
        "halt" => Command::Halt,
        "resume" => Command::Resume,
        "delist" => Command::Delist,
        x => panic!("unknown directive {x}"),
    }
}

/// Runs one scenario; returns the file text with the actual events as `>` lines.
fn run_scenario(text: &str) -> String {
    let mut op = MatchingOperator::default();
    let mut state: Option<Book> = None;
    let mut ctx = Ctx { rules: InstrumentRules::new(Decimal::ONE, Decimal::ONE) };
    let mut time = 0i64;
    let mut actual = String::new();
    for line in text.lines() {
        if line.starts_with('>') {
            continue;
        }
        actual.push_str(line);
        actual.push('\n');
        let body = line.split('#').next().unwrap().trim();
        let tokens: Vec<&str> = body.split_whitespace().collect();
        let Some((&verb, rest)) = tokens.split_first() else { continue };
        let mut out = Vec::new();
        match verb {
            "calendar" => {
                let closes = rest.iter().map(|t| Timestamp(t.parse().unwrap()));
                op.config.book.calendar = SessionCalendar::new(closes);
                continue;
            }
            "time" => {
                time = rest[0].parse().unwrap();
                continue;
            }
            "punctuate" => {
                time = rest[0].parse().unwrap();
                op.punctuate(&SYMBOL.to_string(), &mut state, Timestamp(time), PunctuationKind::StreamTime, &mut out);
            }
            "depth" => {
                let n: usize = rest[0].parse().unwrap();
                let d = state.as_ref().map(|b| b.depth(n)).unwrap_or_default();
                out.push(MatchingOutput { symbol: SYMBOL.into(), time: Timestamp(time), event: BookEvent::Depth(d) });
            }
            "list" => {
                let rules = parse_rules(&kv(rest));
                ctx.rules = rules.clone();
                op.process(&SYMBOL.to_string(), &mut state, Command::List(rules), Timestamp(time), &mut out);
            }
            _ => {
                let cmd = parse_command(&ctx, verb, &kv(rest));
                op.process(&SYMBOL.to_string(), &mut state, cmd, Timestamp(time), &mut out);
            }
        }
        for o in out {
            actual.push_str("> ");
            actual.push_str(&ctx.render(&o.event));
            actual.push('\n');
        }
    }
    actual
}

#[test]
fn golden_scenarios() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/matching/scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("scenarios dir")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    assert!(files.len() >= 15, "expected the scenario files, found {}", files.len());
    let update = std::env::var_os("UPDATE_SCENARIOS").is_some();
    let mut failures = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let actual = run_scenario(&text);
        if actual != text {
            if update {
                std::fs::write(f, &actual).unwrap();
            } else {
                let first = text.lines().zip(actual.lines()).position(|(a, b)| a != b).unwrap_or(0);
                failures.push(format!(
                    "{}: first difference at line {}\n  expected: {}\n  actual:   {}",
                    f.display(),
                    first + 1,
                    text.lines().nth(first).unwrap_or("<eof>"),
                    actual.lines().nth(first).unwrap_or("<eof>")
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
