//! Pre-trade risk: read-only checks of a new order or a replace against the account and
//! the instrument snapshot. Returns the reservation to make, or the first failing
//! [`RejectReason`] in a fixed order (account, rate, duplicates, instrument, shape,
//! quantity, price, collar, notional, tier limit, funds).
//!
//! Reservation rules (the seed's "deduct buying power (hold)" step):
//! - limit / stop-limit buy: `qty x limit + fee estimate`;
//! - market buy: `qty x ref x collar + fee estimate`; stop buy: `qty x max(stop, ref) x
//!   collar + fee estimate` (`ref x collar` / `max(stop, ref) x collar` rounded down to
//!   the tick: it is also the routed protection price, a limit at the venue); notional
//!   buy: `amount + fee estimate`;
//! - sell: `qty` shares; beyond the position only if the account may short and is active;
//! - replace: the replacement's reservation by the rules above, *added* to the old order's
//!   (see [`OpenOrder::required_cash`]); the addition must fit the buying power (buys) or
//!   the free shares (sells, unless the account may short).
//!
//! Known limitations:
//! - Short sales reserve no cash collateral (no margin model).
//! - The tier limit counts estimated notional at acceptance; cancels do not give it back.
//! - Daily limits count per business day (weekend activity counts towards the next one).
//! - A restricted account cannot replace a buy at all, not even to reduce it (it can cancel).
//! - The price band applies to both sides in both directions, passive orders included.

use rust_decimal::Decimal;

use super::config::AccountsConfig;
use super::input::{PlaceOrder, ReplaceOrder};
use super::reasons::RejectReason;
use super::state::{AccountState, OpenOrder, PendingChange, PendingReplace};
use super::types::{
    AccountStatus, InstrumentSnapshot, InstrumentStatus, KycStatus, OrderSize, OrderType, Side,
};
use crate::Timestamp;

/// What an accepted order reserves and counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reservation {
    /// Per-share reservation price (buys with a quantity).
    pub reserve_price: Decimal,
    /// Estimated notional counted against the tier limit.
    pub est_notional: Decimal,
    /// Cash to hold.
    pub cash: Decimal,
    /// Shares to hold.
    pub shares: Decimal,
    /// Protection price routed with market and stop buys.
    pub protection_price: Option<Decimal>,
}

type Check<T> = Result<T, RejectReason>;

fn ensure(ok: bool, reason: RejectReason) -> Check<()> {
    if ok {
        Ok(())
    } else {
        Err(reason)
    }
}

fn account_gate(state: &AccountState, side: Side) -> Check<()> {
    ensure(
        state.status != AccountStatus::Deactivated,
        RejectReason::AccountNotActive,
    )?;
    ensure(
        state.kyc_status == KycStatus::Verified,
        RejectReason::KycNotVerified,
    )?;
    ensure(
        !(state.status == AccountStatus::Restricted && side == Side::Buy),
        RejectReason::AccountRestricted,
    )
}

fn rate_gate(cfg: &AccountsConfig, state: &AccountState, time: Timestamp) -> Check<()> {
    let since = time.nanos().saturating_sub(cfg.order_window_ns);
    let recent = state
        .recent_orders
        .iter()
        .filter(|t| t.nanos() > since)
        .count();
    ensure(
        recent < cfg.max_orders_per_window as usize,
        RejectReason::OrderRateExceeded,
    )
}

fn instrument_gate<'a>(
    inst: &'a Option<InstrumentSnapshot>,
    symbol: &str,
) -> Check<&'a InstrumentSnapshot> {
    let inst = inst
        .as_ref()
        .filter(|i| i.symbol == symbol)
        .ok_or(RejectReason::UnknownInstrument)?;
    match inst.status {
        InstrumentStatus::Listed => Ok(inst),
        InstrumentStatus::Halted => Err(RejectReason::InstrumentHalted),
        InstrumentStatus::Delisted => Err(RejectReason::InstrumentNotTradable),
    }
}

fn price_shape(order_type: OrderType, limit: Option<Decimal>, stop: Option<Decimal>) -> Check<()> {
    let ok = |p: Option<Decimal>, needed: bool| match p {
        Some(p) => needed && p > Decimal::ZERO,
        None => !needed,
    };
    ensure(
        ok(limit, order_type.needs_limit()) && ok(stop, order_type.needs_stop()),
        RejectReason::InvalidPrice,
    )
}

fn is_multiple(value: Decimal, step: Decimal) -> bool {
    step <= Decimal::ZERO || (value % step).is_zero()
}

fn qty_rules(inst: &InstrumentSnapshot, qty: Decimal) -> Check<()> {
    ensure(qty > Decimal::ZERO, RejectReason::InvalidQuantity)?;
    ensure(qty >= inst.min_qty, RejectReason::BelowMinQuantity)?;
    ensure(
        is_multiple(qty, inst.lot_size),
        RejectReason::LotSizeViolation,
    )
}

fn price_rules(
    cfg: &AccountsConfig,
    inst: &InstrumentSnapshot,
    prices: [Option<Decimal>; 2],
) -> Check<()> {
    for p in prices.into_iter().flatten() {
        ensure(
            is_multiple(p, inst.tick_size),
            RejectReason::TickSizeViolation,
        )?;
    }
    if let Some(r) = inst.reference_price {
        for p in prices.into_iter().flatten() {
            ensure(
                (p - r).abs() <= cfg.price_band * r,
                RejectReason::PriceOutsideCollar,
            )?;
        }
    }
    Ok(())
}

/// Reservation and notional prices of a quantity order: `(reserve, estimate)`.
fn prices_for(
    cfg: &AccountsConfig,
    inst: &InstrumentSnapshot,
    t: OrderType,
    limit: Option<Decimal>,
    stop: Option<Decimal>,
) -> Check<(Decimal, Decimal)> {
    if let (OrderType::Limit | OrderType::StopLimit, Some(l)) = (t, limit) {
        return Ok((l, l));
    }
    let r = inst
        .reference_price
        .filter(|r| *r > Decimal::ZERO)
        .ok_or(RejectReason::NoReferencePrice)?;
    let worst = stop.map_or(r, |s| s.max(r));
    let collared = worst
        .checked_mul(cfg.market_collar)
        .ok_or(RejectReason::ValueOverflow)?;
    // The reserve price doubles as the routed protection price, which the venue uses as a
    // limit: it must be on the tick. Rounding down keeps it within the collar.
    Ok((floor_to_tick(collared, inst.tick_size), stop.unwrap_or(r)))
}

/// `price` rounded down to a multiple of `tick` (unchanged when the tick is not positive
/// or the result would not be positive).
fn floor_to_tick(price: Decimal, tick: Decimal) -> Decimal {
    if tick <= Decimal::ZERO {
        return price;
    }
    let floored = (price / tick).floor() * tick;
    if floored > Decimal::ZERO { floored.normalize() } else { price }
}

fn notional_gates(
    cfg: &AccountsConfig,
    state: &AccountState,
    inst: &InstrumentSnapshot,
    est: Decimal,
    extra: Decimal,
    today: super::calendar::Date,
) -> Check<()> {
    if let Some(max) = inst.max_order_notional {
        ensure(est <= max, RejectReason::MaxOrderNotionalExceeded)?;
    }
    if let Some(limit) = cfg.tiers.for_tier(state.kyc_tier).daily_order_notional {
        let used = if state.daily.date == today {
            state.daily.order_notional
        } else {
            Decimal::ZERO
        };
        ensure(
            used.checked_add(extra).is_some_and(|total| total <= limit),
            RejectReason::KycTierLimitExceeded,
        )?;
    }
    Ok(())
}

fn shares_gate(state: &AccountState, symbol: &str, needed: Decimal) -> Check<()> {
    if needed <= state.shares_available(symbol).max(Decimal::ZERO) {
        return Ok(());
    }
    ensure(state.allow_shorting, RejectReason::InsufficientShares)?;
    ensure(
        state.status == AccountStatus::Active,
        RejectReason::AccountRestricted,
    )
}

/// Checks a new order; `Ok` carries what to reserve.
pub fn check_place(
    cfg: &AccountsConfig,
    state: &AccountState,
    cmd: &PlaceOrder,
    time: Timestamp,
) -> Check<Reservation> {
    account_gate(state, cmd.side)?;
    rate_gate(cfg, state, time)?;
    ensure(
        !state.orders.contains_key(&cmd.order_id),
        RejectReason::DuplicateOrderId,
    )?;
    ensure(
        !state
            .orders
            .values()
            .any(|o| o.client_order_id == cmd.client_order_id),
        RejectReason::DuplicateClientOrderId,
    )?;
    let inst = instrument_gate(&cmd.instrument, &cmd.symbol)?;
    price_shape(cmd.order_type, cmd.limit_price, cmd.stop_price)?;
    let res = match cmd.size {
        OrderSize::Notional(n) => {
            ensure(n > Decimal::ZERO, RejectReason::InvalidQuantity)?;
            ensure(
                cmd.side == Side::Buy && cmd.order_type == OrderType::Market,
                RejectReason::UnsupportedOrder,
            )?;
            ensure(
                inst.reference_price.is_some_and(|r| r > Decimal::ZERO),
                RejectReason::NoReferencePrice,
            )?;
            let cash = n
                .checked_add(cfg.fee_estimate.on(n))
                .ok_or(RejectReason::ValueOverflow)?;
            Reservation {
                reserve_price: Decimal::ZERO,
                est_notional: n,
                cash,
                shares: Decimal::ZERO,
                protection_price: None,
            }
        }
        OrderSize::Qty(q) => {
            qty_rules(inst, q)?;
            price_rules(cfg, inst, [cmd.limit_price, cmd.stop_price])?;
            let (reserve, est_price) =
                prices_for(cfg, inst, cmd.order_type, cmd.limit_price, cmd.stop_price)?;
            let est = est_price
                .checked_mul(q)
                .ok_or(RejectReason::ValueOverflow)?;
            let gross = reserve.checked_mul(q).ok_or(RejectReason::ValueOverflow)?;
            let buy = cmd.side == Side::Buy;
            let protect = buy && matches!(cmd.order_type, OrderType::Market | OrderType::Stop);
            Reservation {
                reserve_price: if buy { reserve } else { Decimal::ZERO },
                est_notional: est,
                cash: if buy {
                    gross
                        .checked_add(cfg.fee_estimate.on(gross))
                        .ok_or(RejectReason::ValueOverflow)?
                } else {
                    Decimal::ZERO
                },
                shares: if buy { Decimal::ZERO } else { q },
                protection_price: protect.then_some(reserve),
            }
        }
    };
    notional_gates(
        cfg,
        state,
        inst,
        res.est_notional,
        res.est_notional,
        cfg.calendar.trade_date(time),
    )?;
    ensure(
        res.cash <= state.buying_power(),
        RejectReason::InsufficientBuyingPower,
    )?;
    if cmd.side == Side::Sell {
        shares_gate(state, &cmd.symbol, res.shares)?;
    }
    Ok(res)
}

/// Checks a replace of the open `order`; `Ok` carries the pending replacement and the
/// notional increase to count against the tier limit.
pub fn check_replace(
    cfg: &AccountsConfig,
    state: &AccountState,
    order: &OpenOrder,
    cmd: &ReplaceOrder,
    time: Timestamp,
) -> Check<(PendingReplace, Decimal)> {
    account_gate(state, order.side)?;
    rate_gate(cfg, state, time)?;
    ensure(order.pending.is_none(), RejectReason::OrderPendingChange)?;
    ensure(
        order.order_type != OrderType::Market && matches!(order.size, OrderSize::Qty(_)),
        RejectReason::UnsupportedOrder,
    )?;
    ensure(
        !state.orders.contains_key(&cmd.new_order_id),
        RejectReason::DuplicateOrderId,
    )?;
    ensure(
        !state
            .orders
            .iter()
            .any(|(id, o)| *id != cmd.order_id && o.client_order_id == cmd.new_client_order_id),
        RejectReason::DuplicateClientOrderId,
    )?;
    let inst = instrument_gate(&cmd.instrument, &order.symbol)?;
    price_shape(order.order_type, cmd.limit_price, cmd.stop_price)?;
    qty_rules(inst, cmd.qty)?;
    price_rules(cfg, inst, [cmd.limit_price, cmd.stop_price])?;
    let (reserve, est_price) =
        prices_for(cfg, inst, order.order_type, cmd.limit_price, cmd.stop_price)?;
    let est = est_price
        .checked_mul(cmd.qty)
        .ok_or(RejectReason::ValueOverflow)?;
    let gross = reserve
        .checked_mul(cmd.qty)
        .ok_or(RejectReason::ValueOverflow)?;
    gross
        .checked_add(cfg.fee_estimate.on(gross))
        .ok_or(RejectReason::ValueOverflow)?;
    let old_est = order
        .limit_price
        .or(order.stop_price)
        .unwrap_or(order.reserve_price)
        * order.leaves_qty().unwrap_or_default();
    let extra = (est - old_est).max(Decimal::ZERO);
    notional_gates(cfg, state, inst, est, extra, cfg.calendar.trade_date(time))?;
    let pending = PendingReplace {
        new_order_id: cmd.new_order_id.clone(),
        new_client_order_id: cmd.new_client_order_id.clone(),
        qty: cmd.qty,
        limit_price: cmd.limit_price,
        stop_price: cmd.stop_price,
        reserve_price: if order.side == Side::Buy {
            reserve
        } else {
            Decimal::ZERO
        },
    };
    let mut after = order.clone();
    after.pending = Some(PendingChange::Replace(pending.clone()));
    let more_cash = after.required_cash(&cfg.fee_estimate) - order.cash_hold;
    ensure(
        more_cash <= state.buying_power(),
        RejectReason::InsufficientBuyingPower,
    )?;
    let more_shares = after.required_shares() - order.shares_hold;
    if more_shares > Decimal::ZERO {
        shares_gate(state, &order.symbol, more_shares)?;
    }
    Ok((pending, extra))
}
