//! `matching`: the order books on Kafka (the pure [`VenueOperator`], key = symbol).
//!
//! Inputs (co-partitioned, keyed by symbol): `orders.routed` (RoutedOrder) and
//! `instruments.commands` (InstrumentCommand). Outputs: `executions` (ExecutionReport, key
//! account id), `orders.events` (OrderEvent, key account id), `trades` (Trade, key symbol),
//! `book.depth` (BookSnapshot, key symbol, compacted). State: `matching.changelog`
//! (BookState, key symbol, compacted).
//!
//! Mapping rules (each one tested below):
//! - **Ids.** Order and account ids on the wire are UUIDs in canonical form: 36 characters,
//!   lower-case hex, hyphens at 8-4-4-4-12. The engine's `u128` is the UUID's 128 bits, so
//!   the mapping is a bijection and [`format_uuid`] gives back exactly the input string.
//!   Anything else (upper case, braces, URNs, other lengths) is dead-lettered as
//!   `DecodeFailure::Invalid` rather than normalized, so ids never change on the way through.
//! - **Decimals.** Prices and quantities stay decimal until the operator converts them with
//!   the listed rules; off-grid values become `rejected` order events with reason
//!   `TICK_SIZE` / `LOT_SIZE` / `VALUE_OVERFLOW` (see [`operators::venue`]).
//! - **Protection price.** A routed market or stop *buy* with a `protection_price` (the
//!   price its cash hold covers) enters the book capped at that price: market -> limit at
//!   the protection price (IOC unless FOK, so the unfilled rest is canceled as a market
//!   order's would be), stop -> stop-limit at the protection price.
//! - **Rejected structure** (dead-lettered): both or neither of `qty` / `notional`;
//!   a `symbol` in the order that differs from the routed record's; a price band that is
//!   not a whole number of basis points.
//! - **Event ids** are per-symbol counters: `<SYMBOL>.o<n>` (order events), `<SYMBOL>.e<n>`
//!   (executions), `<SYMBOL>.t<n>` (trades; `Trade.seq = n`, gap-free per symbol).
//! - **Event time** (`at_ns`, record timestamp) is the command's `routed_at_ns` /
//!   `issued_at_ns`.
//! - **Depth**: one BookSnapshot (top [`DEPTH_LEVELS`] levels) after every command that
//!   changed the top levels, the status or the last trade; `seq` = commands processed by
//!   the symbol.
//! - Execution reports carry `fee = 0`: fees are the accounts pipeline's business.
//! - **Fills on `orders.events`** (schema v3 of OrderEvent): every `PARTIALLY_FILLED` /
//!   `FILLED` order event carries its execution in `fill` (`fill_id` = the execution's
//!   `exec_id` `<SYMBOL>.e<n>`, `qty` / `price` = its `last_qty` / `last_price`, `fee = 0`,
//!   `settlement_date = null`: the venue does not know the settlement calendar); no other
//!   event has a `fill`.
//! - **Ordering invariant.** All order events of one order are produced by the one
//!   transaction of the one instance that owns the order's symbol, in the operator's output
//!   order, keyed by account: per order (indeed per account and symbol) `orders.events`
//!   holds the fills' events before any later terminal event (`CANCELED` / `EXPIRED` /
//!   `REJECTED` / `REPLACED`). The accounts pipeline relies on this and books fills only
//!   from `orders.events`. `executions` carries the same fills but is a separate topic
//!   with no ordering relative to `orders.events`: it feeds the portfolio pipeline,
//!   ClickHouse and clients, never the accounts pipeline.
//! - **Day orders** belong to the next session close of the configured trading calendar
//!   (`tradeflow run matching --calendar FILE`, see [`crate::calendar`]; default: US
//!   equities, 16:00 New York, weekdays) and expire at it by stream-time punctuation:
//!   `expired` order events stamped with the partition's stream time, even if the symbol
//!   gets no further command. Stream time is per input partition, so expiry timing can
//!   depend on other symbols of the partition; it is deterministic per partition log.

use super::{name_list, prefixed};
use crate::spec::{DecodeFailure, OutRecord, Pipeline};
use operators::matching::{
    AccountId, BookConfig, CalendarRules, CancelReason, InstrumentRules, Liquidity as EngLiquidity, OrderId, OrderStatus as EngStatus,
    OrderType as EngType, RejectReason, SessionMarks, Side as EngSide, StpMode, TimeInForce as EngTif, TradingStatus,
};
use operators::venue::{
    BookImage as EngBook, OrderImage, VenueCommand, VenueEvent, VenueImage, VenueInput, VenueOperator, VenueOutput,
    VenueReason, VenueState,
};
use operators::Timestamp;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use schemas::records::{
    BookImage, BookRules, BookSnapshot, BookState, ExecutionReport, InstrumentCommand, InstrumentInstruction,
    InstrumentStatus, Level, Liquidity, LiveOrder, OrderEvent, OrderEventOrigin, OrderFill, OrderInstruction, OrderReason,
    OrderStatus, OrderType, RoutedOrder, SelfTradePrevention, Side, TimeInForce, Trade,
};
use schemas::{Codec, CodecError};

pub const ORDERS: &str = "orders.routed";
pub const INSTRUMENTS: &str = "instruments.commands";
pub const EXECUTIONS: &str = "executions";
pub const ORDER_EVENTS: &str = "orders.events";
pub const TRADES: &str = "trades";
pub const DEPTH: &str = "book.depth";
pub const CHANGELOG: &str = "matching.changelog";
/// Levels per side in `book.depth`.
pub const DEPTH_LEVELS: usize = 10;

/// The pipeline. Topic names and the group id can carry a prefix (e.g. `test42.`).
pub struct Matching {
    op: VenueOperator,
    name: &'static str,
    inputs: &'static [&'static str],
    orders: &'static str,
    instruments: &'static str,
    executions: &'static str,
    order_events: &'static str,
    trades: &'static str,
    depth: &'static str,
    changelog: &'static str,
}

impl Default for Matching {
    fn default() -> Self {
        Self::with_prefix("")
    }
}

impl Matching {
    /// Topics `<prefix>orders.routed`, ..., group `<prefix>matching`, with the built-in
    /// US-equities session calendar ([`CalendarRules::us_equities`]). The names are leaked
    /// once per call: build one per process.
    pub fn with_prefix(prefix: &str) -> Self {
        let calendar = CalendarRules::us_equities().compile().expect("the built-in calendar is valid");
        Self::with_config(prefix, BookConfig { calendar })
    }

    /// Like [`Matching::with_prefix`], with a book configuration (session calendar; an
    /// empty one rejects every day order with `SESSION_CLOSE`).
    pub fn with_config(prefix: &str, book: BookConfig) -> Self {
        let leak = |name: &str| prefixed(prefix, name);
        let orders = leak(ORDERS);
        let instruments = leak(INSTRUMENTS);
        Matching {
            op: VenueOperator::new(book, DEPTH_LEVELS),
            name: leak("matching"),
            inputs: name_list(vec![orders, instruments]),
            orders,
            instruments,
            executions: leak(EXECUTIONS),
            order_events: leak(ORDER_EVENTS),
            trades: leak(TRADES),
            depth: leak(DEPTH),
            changelog: leak(CHANGELOG),
        }
    }
}

/// Parses a canonical UUID (lower-case, hyphenated 8-4-4-4-12) into its 128 bits.
pub fn parse_uuid(s: &str) -> Option<u128> {
    let b = s.as_bytes();
    if b.len() != 36 {
        return None;
    }
    let mut v: u128 = 0;
    for (i, &c) in b.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            if c != b'-' {
                return None;
            }
            continue;
        }
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => return None,
        };
        v = v << 4 | d as u128;
    }
    Some(v)
}

/// The canonical UUID text of 128 bits (inverse of [`parse_uuid`]).
pub fn format_uuid(v: u128) -> String {
    let h = format!("{v:032x}");
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

fn order_id(s: &str) -> Result<OrderId, DecodeFailure> {
    parse_uuid(s).map(OrderId).ok_or_else(|| DecodeFailure::Invalid(format!("order id {s:?} is not a canonical lower-case UUID")))
}

fn account_id(s: &str) -> Result<AccountId, DecodeFailure> {
    parse_uuid(s).map(AccountId).ok_or_else(|| DecodeFailure::Invalid(format!("account id {s:?} is not a canonical lower-case UUID")))
}

fn side(s: Side) -> EngSide {
    match s {
        Side::Buy => EngSide::Buy,
        Side::Sell => EngSide::Sell,
    }
}

fn wire_side(s: EngSide) -> Side {
    match s {
        EngSide::Buy => Side::Buy,
        EngSide::Sell => Side::Sell,
    }
}

fn order_type(t: OrderType) -> EngType {
    match t {
        OrderType::Market => EngType::Market,
        OrderType::Limit => EngType::Limit,
        OrderType::Stop => EngType::Stop,
        OrderType::StopLimit => EngType::StopLimit,
    }
}

fn wire_order_type(t: EngType) -> OrderType {
    match t {
        EngType::Market => OrderType::Market,
        EngType::Limit => OrderType::Limit,
        EngType::Stop => OrderType::Stop,
        EngType::StopLimit => OrderType::StopLimit,
    }
}

fn tif(t: TimeInForce) -> EngTif {
    match t {
        TimeInForce::Day => EngTif::Day,
        TimeInForce::Gtc => EngTif::Gtc,
        TimeInForce::Ioc => EngTif::Ioc,
        TimeInForce::Fok => EngTif::Fok,
        TimeInForce::Opg => EngTif::Opg,
        TimeInForce::Cls => EngTif::Cls,
    }
}

fn wire_tif(t: EngTif) -> TimeInForce {
    match t {
        EngTif::Day => TimeInForce::Day,
        EngTif::Gtc => TimeInForce::Gtc,
        EngTif::Ioc => TimeInForce::Ioc,
        EngTif::Fok => TimeInForce::Fok,
        EngTif::Opg => TimeInForce::Opg,
        EngTif::Cls => TimeInForce::Cls,
    }
}

fn stp(s: SelfTradePrevention) -> StpMode {
    match s {
        SelfTradePrevention::None => StpMode::Off,
        SelfTradePrevention::CancelNewest => StpMode::CancelNewest,
        SelfTradePrevention::CancelOldest => StpMode::CancelOldest,
        SelfTradePrevention::CancelBoth => StpMode::CancelBoth,
    }
}

fn wire_stp(s: StpMode) -> SelfTradePrevention {
    match s {
        StpMode::Off => SelfTradePrevention::None,
        StpMode::CancelNewest => SelfTradePrevention::CancelNewest,
        StpMode::CancelOldest => SelfTradePrevention::CancelOldest,
        StpMode::CancelBoth => SelfTradePrevention::CancelBoth,
    }
}

fn status(s: TradingStatus) -> InstrumentStatus {
    match s {
        TradingStatus::Listed => InstrumentStatus::Listed,
        TradingStatus::Halted => InstrumentStatus::Halted,
        TradingStatus::Delisted => InstrumentStatus::Delisted,
    }
}

fn eng_status(s: InstrumentStatus) -> TradingStatus {
    match s {
        InstrumentStatus::Listed => TradingStatus::Listed,
        InstrumentStatus::Halted => TradingStatus::Halted,
        InstrumentStatus::Delisted => TradingStatus::Delisted,
    }
}

fn order_status(s: EngStatus) -> OrderStatus {
    match s {
        EngStatus::New => OrderStatus::New,
        EngStatus::PartiallyFilled => OrderStatus::PartiallyFilled,
        EngStatus::Filled => OrderStatus::Filled,
        EngStatus::Canceled => OrderStatus::Canceled,
        EngStatus::Expired => OrderStatus::Expired,
        EngStatus::Rejected => OrderStatus::Rejected,
        EngStatus::Replaced => OrderStatus::Replaced,
    }
}

/// The wire reason and a precise machine-readable code (the `message`) for a venue reason.
pub fn wire_reason(r: VenueReason) -> (OrderReason, &'static str) {
    use OrderReason as W;
    match r {
        VenueReason::Reject(r) => match r {
            RejectReason::UnknownInstrument => (W::UnknownInstrument, "unknown_instrument"),
            RejectReason::AlreadyListed => (W::Other, "already_listed"),
            RejectReason::InvalidRules => (W::Other, "invalid_rules"),
            RejectReason::InvalidTransition => (W::Other, "invalid_transition"),
            RejectReason::InstrumentHalted => (W::InstrumentHalted, "instrument_halted"),
            RejectReason::InstrumentDelisted => (W::InstrumentNotTradable, "instrument_delisted"),
            RejectReason::UnsupportedTimeInForce => (W::UnsupportedTimeInForce, "unsupported_time_in_force"),
            RejectReason::InvalidQuantity => (W::InvalidQuantity, "invalid_quantity"),
            RejectReason::BelowMinimumQuantity => (W::MinQuantity, "below_minimum_quantity"),
            RejectReason::InvalidPrice => (W::InvalidPrice, "invalid_price"),
            RejectReason::MissingLimitPrice => (W::InvalidPrice, "missing_limit_price"),
            RejectReason::MissingStopPrice => (W::InvalidPrice, "missing_stop_price"),
            RejectReason::UnexpectedPrice => (W::InvalidPrice, "unexpected_price"),
            RejectReason::MaxNotionalExceeded => (W::MaxNotional, "max_notional_exceeded"),
            RejectReason::OutsidePriceBand => (W::PriceBand, "outside_price_band"),
            RejectReason::DuplicateOrderId => (W::DuplicateOrderId, "duplicate_order_id"),
            RejectReason::OrderNotFound => (W::UnknownOrder, "order_not_found"),
            RejectReason::AccountMismatch => (W::UnknownOrder, "account_mismatch"),
            RejectReason::NoSessionClose => (W::SessionClose, "no_session_close"),
        },
        VenueReason::Cancel(c) => match c {
            CancelReason::UserRequested => (W::UserCanceled, "user_requested"),
            CancelReason::ImmediateOrCancel => (W::IocRemainder, "immediate_or_cancel"),
            CancelReason::FillOrKill => (W::FokUnfillable, "fill_or_kill"),
            CancelReason::NoLiquidity => (W::NoLiquidity, "no_liquidity"),
            CancelReason::PriceBand => (W::PriceBand, "price_band"),
            CancelReason::SelfTradePrevention => (W::SelfTradePrevention, "self_trade_prevention"),
            CancelReason::Delisted => (W::InstrumentNotTradable, "delisted"),
        },
        VenueReason::OffTick => (W::TickSize, "off_tick"),
        VenueReason::OffLot => (W::LotSize, "off_lot"),
        VenueReason::OutOfRange => (W::ValueOverflow, "out_of_range"),
        VenueReason::NotionalUnsupported => (W::UnsupportedOrder, "notional_unsupported"),
        VenueReason::TifChange => (W::UnsupportedTimeInForce, "time_in_force_change_unsupported"),
    }
}

/// Maps a routed order (see the module doc for the rules).
pub fn venue_command(r: RoutedOrder) -> Result<VenueCommand, DecodeFailure> {
    let account = account_id(&r.account_id)?;
    Ok(match r.body {
        OrderInstruction::PlaceOrder(p) => {
            if p.symbol != r.symbol {
                return Err(DecodeFailure::Invalid(format!("order symbol {} differs from routed symbol {}", p.symbol, r.symbol)));
            }
            let qty = match (p.qty, p.notional) {
                (Some(q), None) => Some(q),
                (None, Some(_)) => None,
                _ => return Err(DecodeFailure::Invalid("exactly one of qty / notional must be set".into())),
            };
            let (mut ty, mut time_in_force, mut limit) = (order_type(p.order_type), tif(p.time_in_force), p.limit_price);
            if let (Side::Buy, Some(cap)) = (p.side, r.protection_price) {
                match ty {
                    EngType::Market => {
                        ty = EngType::Limit;
                        limit = Some(cap);
                        if time_in_force != EngTif::Fok {
                            time_in_force = EngTif::Ioc;
                        }
                    }
                    EngType::Stop => {
                        ty = EngType::StopLimit;
                        limit = Some(cap);
                    }
                    EngType::Limit | EngType::StopLimit => {}
                }
            }
            VenueCommand::Place {
                order_id: order_id(&p.order_id)?,
                account,
                client_order_id: p.client_order_id,
                side: side(p.side),
                order_type: ty,
                tif: time_in_force,
                qty,
                limit_price: limit,
                stop_price: p.stop_price,
            }
        }
        OrderInstruction::CancelOrder(c) => VenueCommand::Cancel { order_id: order_id(&c.order_id)?, account },
        OrderInstruction::ReplaceOrder(x) if x.symbol.as_ref().is_some_and(|s| *s != r.symbol) => {
            return Err(DecodeFailure::Invalid(format!("replace symbol {:?} differs from routed symbol {}", x.symbol, r.symbol)));
        }
        OrderInstruction::ReplaceOrder(x) => VenueCommand::Replace {
            order_id: order_id(&x.order_id)?,
            new_order_id: order_id(&x.new_order_id)?,
            account,
            client_order_id: x.client_order_id,
            qty: x.qty,
            limit_price: x.limit_price,
            stop_price: x.stop_price,
            tif: x.time_in_force.map(tif),
        },
    })
}

/// Maps an instrument command.
pub fn instrument_command(c: InstrumentCommand) -> Result<VenueCommand, DecodeFailure> {
    Ok(match c.body {
        InstrumentInstruction::ListInstrument(l) => {
            let band_bps = match l.price_band_pct {
                None => None,
                Some(pct) => {
                    let bps = pct * Decimal::ONE_HUNDRED;
                    if !bps.fract().is_zero() || bps.is_sign_negative() {
                        return Err(DecodeFailure::Invalid(format!("price band {pct}% is not a whole number of basis points")));
                    }
                    Some(bps.to_u32().ok_or_else(|| DecodeFailure::Invalid(format!("price band {pct}% out of range")))?)
                }
            };
            VenueCommand::List(InstrumentRules {
                tick_size: l.tick_size,
                lot_size: l.lot_size,
                min_qty: Some(l.min_qty),
                max_notional: l.max_order_notional,
                stp: stp(l.self_trade_prevention),
                band_bps,
                reference_price: None,
            })
        }
        InstrumentInstruction::HaltInstrument(_) => VenueCommand::Halt,
        InstrumentInstruction::ResumeInstrument(_) => VenueCommand::Resume,
        InstrumentInstruction::DelistInstrument(_) => VenueCommand::Delist,
    })
}

/// The wire record of one venue output: (topic suffix, key, value).
pub enum WireOutput {
    Execution(ExecutionReport),
    OrderEvent(OrderEvent),
    Trade(Trade),
    Depth(BookSnapshot),
}

/// Maps one operator output to its wire record (pure; used by `encode` and by tests).
pub fn wire_output(o: &VenueOutput) -> WireOutput {
    let sym = &o.symbol;
    let at_ns = o.time.nanos();
    match &o.event {
        VenueEvent::Order(r) => {
            let (reason, message) = match r.reason.map(wire_reason) {
                Some((w, m)) => (Some(w), Some(m.to_string())),
                None => (None, r.replaces.map(|id| format!("replaces {}", format_uuid(id.0)))),
            };
            let terms = r.replacement.as_ref();
            WireOutput::OrderEvent(OrderEvent {
                event_id: format!("{sym}.o{}", r.seq),
                account_id: format_uuid(r.account.0),
                order_id: format_uuid(r.order_id.0),
                client_order_id: r.client_order_id.clone(),
                symbol: sym.clone(),
                at_ns,
                status: order_status(r.status),
                reason,
                filled_qty: r.filled_qty,
                leaves_qty: r.leaves_qty,
                avg_fill_price: r.avg_fill_price,
                replaced_by: r.replaced_by.map(|id| format_uuid(id.0)),
                message,
                origin: Some(OrderEventOrigin::Venue),
                event_type: None,
                fill: r.fill.as_ref().map(|f| OrderFill {
                    fill_id: format!("{sym}.e{}", f.exec_id),
                    qty: f.qty,
                    price: f.price,
                    fee: Decimal::ZERO,
                    settlement_date: None,
                }),
                new_qty: terms.map(|t| t.qty),
                new_limit_price: terms.and_then(|t| t.limit_price),
                new_stop_price: terms.and_then(|t| t.stop_price),
            })
        }
        VenueEvent::Fill(f) => WireOutput::Execution(ExecutionReport {
            exec_id: format!("{sym}.e{}", f.exec_id),
            trade_id: format!("{sym}.t{}", f.trade_id),
            account_id: format_uuid(f.account.0),
            order_id: format_uuid(f.order_id.0),
            client_order_id: f.client_order_id.clone(),
            symbol: sym.clone(),
            side: wire_side(f.side),
            last_qty: f.last_qty,
            last_price: f.last_price,
            cum_qty: f.cum_qty,
            leaves_qty: f.leaves_qty,
            avg_price: f.avg_price,
            fee: Decimal::ZERO,
            liquidity: match f.liquidity {
                EngLiquidity::Maker => Liquidity::Maker,
                EngLiquidity::Taker => Liquidity::Taker,
            },
            at_ns,
        }),
        VenueEvent::Trade(t) => WireOutput::Trade(Trade {
            trade_id: format!("{sym}.t{}", t.trade_id),
            symbol: sym.clone(),
            seq: t.trade_id as i64,
            price: t.price,
            qty: t.qty,
            aggressor: wire_side(t.aggressor),
            buy_order_id: format_uuid(t.buy_order_id.0),
            sell_order_id: format_uuid(t.sell_order_id.0),
            at_ns,
        }),
        VenueEvent::Depth(d) => {
            let lvl = |l: &operators::venue::LevelReport| Level { price: l.price, qty: l.qty, orders: l.orders.min(i32::MAX as usize) as i32 };
            WireOutput::Depth(BookSnapshot {
                symbol: sym.clone(),
                status: status(d.status),
                bids: d.bids.iter().map(lvl).collect(),
                asks: d.asks.iter().map(lvl).collect(),
                last_trade_price: d.last_trade_price,
                seq: d.seq as i64,
                as_of_ns: at_ns,
                session_close_ns: d.session_close_ns,
                previous_close_ns: d.previous_close_ns,
                previous_close_price: d.previous_close_price,
            })
        }
    }
}

fn long(v: u64, what: &'static str) -> Result<i64, CodecError> {
    i64::try_from(v).map_err(|_| CodecError::Encode { record: "BookState", message: format!("{what} {v} exceeds i64") })
}

/// The changelog record of a state.
pub fn state_record(s: &VenueState) -> Result<BookState, CodecError> {
    let VenueImage { commands, last_report, book, fill_notional } = s.image();
    let notional: std::collections::BTreeMap<OrderId, i128> = fill_notional.into_iter().collect();
    let book = match book {
        None => None,
        Some(b) => {
            let mut orders = Vec::with_capacity(b.orders.len());
            for o in &b.orders {
                let n = notional.get(&o.order_id).copied().unwrap_or(0);
                orders.push(LiveOrder {
                    order_id: format_uuid(o.order_id.0),
                    account_id: format_uuid(o.account.0),
                    client_order_id: o.client_order_id.clone(),
                    side: wire_side(o.side),
                    order_type: wire_order_type(o.order_type),
                    time_in_force: wire_tif(o.tif),
                    order_lots: o.order_qty,
                    leaves_lots: o.leaves,
                    cum_lots: o.cum,
                    limit_ticks: o.limit,
                    stop_ticks: o.stop,
                    seq: long(o.seq, "seq")?,
                    expires_at_ns: o.expires_at,
                    triggered: o.triggered,
                    fill_notional: i64::try_from(n).map_err(|_| CodecError::Encode { record: "BookState", message: format!("fill notional {n} exceeds i64") })?,
                });
            }
            // Every tally belongs to a live order (tallies end with the order).
            if let Some(id) = notional.keys().find(|id| !b.orders.iter().any(|o| o.order_id == **id)) {
                return Err(CodecError::Encode { record: "BookState", message: format!("fill tally of order {} that is not live", format_uuid(id.0)) });
            }
            Some(BookImage {
                rules: BookRules {
                    tick_size: b.rules.tick_size,
                    lot_size: b.rules.lot_size,
                    min_qty: b.rules.min_qty,
                    max_notional: b.rules.max_notional,
                    self_trade_prevention: wire_stp(b.rules.stp),
                    band_bps: b.rules.band_bps.map(i64::from),
                    reference_price: b.rules.reference_price,
                },
                status: status(b.status),
                last_trade_ticks: b.last_trade,
                next_seq: long(b.next_seq, "next_seq")?,
                next_exec_id: long(b.next_exec_id, "next_exec_id")?,
                next_trade_id: long(b.next_trade_id, "next_trade_id")?,
                orders,
                session_close_ns: b.marks.session_close,
                previous_close_ns: b.marks.previous_close_at,
                previous_close_ticks: b.marks.previous_close,
            })
        }
    };
    Ok(BookState { commands: long(commands, "commands")?, last_report: long(last_report, "last_report")?, book })
}

/// The state of a changelog record.
pub fn state_from_record(r: BookState, config: &BookConfig) -> Result<VenueState, CodecError> {
    let bad = |message: String| CodecError::Undecodable { record: "BookState", message };
    let unsigned = |v: i64, what: &str| u64::try_from(v).map_err(|_| bad(format!("negative {what} {v}")));
    let mut fill_notional = Vec::new();
    let book = match r.book {
        None => None,
        Some(b) => {
            let mut orders = Vec::with_capacity(b.orders.len());
            for o in b.orders {
                let id = OrderId(parse_uuid(&o.order_id).ok_or_else(|| bad(format!("order id {:?}", o.order_id)))?);
                if o.fill_notional != 0 {
                    fill_notional.push((id, o.fill_notional as i128));
                }
                orders.push(OrderImage {
                    order_id: id,
                    account: AccountId(parse_uuid(&o.account_id).ok_or_else(|| bad(format!("account id {:?}", o.account_id)))?),
                    client_order_id: o.client_order_id,
                    side: side(o.side),
                    order_type: order_type(o.order_type),
                    tif: tif(o.time_in_force),
                    order_qty: o.order_lots,
                    leaves: o.leaves_lots,
                    cum: o.cum_lots,
                    limit: o.limit_ticks,
                    stop: o.stop_ticks,
                    seq: unsigned(o.seq, "seq")?,
                    expires_at: o.expires_at_ns,
                    triggered: o.triggered,
                });
            }
            fill_notional.sort();
            let band_bps = b.rules.band_bps.map(|v| u32::try_from(v).map_err(|_| bad(format!("band {v} bps")))).transpose()?;
            Some(EngBook {
                rules: InstrumentRules {
                    tick_size: b.rules.tick_size,
                    lot_size: b.rules.lot_size,
                    min_qty: b.rules.min_qty,
                    max_notional: b.rules.max_notional,
                    stp: stp(b.rules.self_trade_prevention),
                    band_bps,
                    reference_price: b.rules.reference_price,
                },
                status: eng_status(b.status),
                last_trade: b.last_trade_ticks,
                marks: SessionMarks {
                    session_close: b.session_close_ns,
                    previous_close_at: b.previous_close_ns,
                    previous_close: b.previous_close_ticks,
                },
                next_seq: unsigned(b.next_seq, "next_seq")?,
                next_exec_id: unsigned(b.next_exec_id, "next_exec_id")?,
                next_trade_id: unsigned(b.next_trade_id, "next_trade_id")?,
                orders,
            })
        }
    };
    let image = VenueImage {
        commands: unsigned(r.commands, "commands")?,
        last_report: unsigned(r.last_report, "last_report")?,
        book,
        fill_notional,
    };
    VenueState::from_image(image, config.clone()).map_err(|e| bad(e.to_string()))
}

impl Pipeline for Matching {
    type Op = VenueOperator;

    fn name(&self) -> &'static str {
        self.name
    }
    fn inputs(&self) -> &'static [&'static str] {
        self.inputs
    }
    fn changelog(&self) -> Option<&'static str> {
        Some(self.changelog)
    }
    fn operator(&self) -> &VenueOperator {
        &self.op
    }
    fn decode(&self, codec: &Codec, topic: &str, value: &[u8]) -> Result<VenueInput, DecodeFailure> {
        if topic == self.orders {
            let r: RoutedOrder = codec.decode(value)?;
            let at_ns = r.routed_at_ns;
            Ok(VenueInput { at_ns, command: venue_command(r)? })
        } else if topic == self.instruments {
            let c: InstrumentCommand = codec.decode(value)?;
            let at_ns = c.issued_at_ns;
            Ok(VenueInput { at_ns, command: instrument_command(c)? })
        } else {
            Err(DecodeFailure::Invalid(format!("matching does not read topic {topic}")))
        }
    }
    fn event_time(&self, input: &VenueInput, _record_ms: Option<i64>) -> Timestamp {
        Timestamp(input.at_ns)
    }
    fn encode(&self, codec: &Codec, o: &VenueOutput) -> Result<OutRecord, CodecError> {
        let (topic, key, value) = match wire_output(o) {
            WireOutput::Execution(e) => (self.executions, e.account_id.clone(), codec.encode(&e)?),
            WireOutput::OrderEvent(e) => (self.order_events, e.account_id.clone(), codec.encode(&e)?),
            WireOutput::Trade(t) => (self.trades, o.symbol.clone(), codec.encode(&t)?),
            WireOutput::Depth(d) => (self.depth, o.symbol.clone(), codec.encode(&d)?),
        };
        Ok(OutRecord { topic, key, value, partition: None })
    }
    fn encode_state(&self, codec: &Codec, s: &VenueState) -> Result<Vec<u8>, CodecError> {
        codec.encode(&state_record(s)?)
    }
    fn decode_state(&self, codec: &Codec, bytes: &[u8]) -> Result<VenueState, CodecError> {
        state_from_record(codec.decode(bytes)?, self.op.book_config())
    }
}

#[cfg(test)]
mod tests;
