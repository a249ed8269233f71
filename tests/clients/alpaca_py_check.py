"""Drives Tradeflow's Alpaca-compatible API with the official alpaca-py client.

Run by tests/integration/alpaca_py.rs against `tradeflow api` on a real broker with the
accounts, matching and portfolio pipelines running. Only the base URL and the keys differ
from a program written for Alpaca itself.

Environment:
  TF_BASE_URL          http://127.0.0.1:PORT (REST; the stream is TF_BASE_URL/stream as ws://)
  TF_KEY_A, TF_SECRET_A  the buyer (funded with cash)
  TF_KEY_B, TF_SECRET_B  the seller (holds shares or may short)
  TF_SYMBOL            a listed symbol with no resting orders
  TF_PRICE             a valid limit price for the symbol (a multiple of its tick)

Exit status 0 and a last line `ALPACA_PY_OK {json}` on success; any failed check raises
with a message naming it.
"""

import json
import os
import sys
import threading
import time
import uuid
from decimal import Decimal

from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, OrderStatus, QueryOrderStatus, TimeInForce
from alpaca.trading.requests import (
    ClosePositionRequest,
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
)
from alpaca.trading.stream import TradingStream

BASE = os.environ["TF_BASE_URL"].rstrip("/")
SYMBOL = os.environ["TF_SYMBOL"]
PRICE = Decimal(os.environ["TF_PRICE"])


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print("ok:", what, flush=True)


def wait_for(pred, what, timeout=30.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = pred()
        if value:
            print("ok:", what, flush=True)
            return value
        time.sleep(0.2)
    raise AssertionError("timed out: " + what)


def client(which):
    return TradingClient(
        os.environ["TF_KEY_" + which], os.environ["TF_SECRET_" + which], url_override=BASE
    )


class Updates:
    """Collects trade_updates of one account over the WebSocket, in a thread."""

    def __init__(self, which):
        ws = BASE.replace("http://", "ws://").replace("https://", "wss://") + "/stream"
        self.stream = TradingStream(
            os.environ["TF_KEY_" + which], os.environ["TF_SECRET_" + which], url_override=ws
        )
        self.events = []
        self.lock = threading.Lock()

        async def handler(update):
            with self.lock:
                self.events.append((str(update.event), str(update.order.id), update))

        self.stream.subscribe_trade_updates(handler)
        self.thread = threading.Thread(target=self.stream.run, daemon=True)
        self.thread.start()

    def seen(self, event, order_id):
        with self.lock:
            return [u for (e, o, u) in self.events if e.endswith(event) and o == str(order_id)]


def main():
    a, b = client("A"), client("B")
    summary = {}

    account = a.get_account()
    check(str(account.status).endswith("ACTIVE"), "account is ACTIVE: %s" % account.status)
    cash0 = Decimal(str(account.cash))
    check(cash0 > PRICE * 10, "buyer has cash: %s" % cash0)
    clock = a.get_clock()
    check(clock.next_open is not None and clock.next_close is not None, "clock has next open and close")
    assets = a.get_all_assets()
    check(any(x.symbol == SYMBOL for x in assets), "%s among %d assets" % (SYMBOL, len(assets)))
    check(a.get_asset(SYMBOL).tradable, "%s is tradable" % SYMBOL)

    updates = Updates("A")
    time.sleep(1.0)  # let the stream authenticate and listen before the first order

    # A resting limit buy, well below the price, with our own client_order_id.
    coid = "py-" + uuid.uuid4().hex[:12]
    low = PRICE * Decimal("0.9")
    req = LimitOrderRequest(
        symbol=SYMBOL, qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.GTC,
        limit_price=float(low), client_order_id=coid,
    )
    order = a.submit_order(req)
    check(order.client_order_id == coid, "submit_order keeps client_order_id")
    check(order.status in (OrderStatus.NEW, OrderStatus.ACCEPTED, OrderStatus.PENDING_NEW),
          "limit order accepted: %s" % order.status)
    again = a.submit_order(req)
    check(str(again.id) == str(order.id), "a retried POST with the same client_order_id returns the same order")
    check(str(a.get_order_by_client_id(coid).id) == str(order.id), "get_order_by_client_id")
    check(str(a.get_order_by_id(order.id).id) == str(order.id), "get_order_by_id")
    open_orders = a.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN, symbols=[SYMBOL]))
    check(any(str(o.id) == str(order.id) for o in open_orders), "get_orders(open) lists it")
    wait_for(lambda: updates.seen("new", order.id), "trade_updates: new")

    # Replace: a new order id, the old one replaced.
    replaced = a.replace_order_by_id(order.id, ReplaceOrderRequest(qty=2, limit_price=float(low)))
    check(str(replaced.id) != str(order.id), "replace_order_by_id gives a new order")
    check(str(replaced.replaces) == str(order.id), "the new order replaces the old one: %s" % replaced.replaces)
    check(Decimal(str(replaced.qty)) == 2 and Decimal(str(replaced.limit_price)) == low,
          "the new order has the new qty and the limit price: %s @ %s" % (replaced.qty, replaced.limit_price))
    check(replaced.client_order_id != coid, "the new order has its own client_order_id")
    wait_for(lambda: updates.seen("replaced", order.id), "trade_updates: replaced")
    old = a.get_order_by_id(order.id)
    check(str(old.status).endswith("REPLACED") and str(old.replaced_by) == str(replaced.id),
          "the old order is replaced, by the new one: %s %s" % (old.status, old.replaced_by))
    try:
        a.replace_order_by_id(order.id, ReplaceOrderRequest(qty=3))
        raise AssertionError("a replaced order was replaced again")
    except APIError as e:
        check(e.status_code == 422, "replacing a replaced order is refused with 422: %s" % e)
    wait_for(lambda: str(a.get_order_by_id(replaced.id).status).endswith("NEW"), "replacement is new")

    # Cancel.
    a.cancel_order_by_id(replaced.id)
    wait_for(lambda: updates.seen("canceled", replaced.id), "trade_updates: canceled")
    wait_for(lambda: str(a.get_order_by_id(replaced.id).status).endswith("CANCELED"), "order is canceled")

    # A fill: B offers 3 at the price, A buys 3 at market.
    sell = b.submit_order(LimitOrderRequest(
        symbol=SYMBOL, qty=3, side=OrderSide.SELL, time_in_force=TimeInForce.GTC, limit_price=float(PRICE)))
    check(str(sell.status).endswith("NEW") or str(sell.status).endswith("ACCEPTED"), "seller's offer accepted: %s" % sell.status)
    wait_for(lambda: str(b.get_order_by_id(sell.id).status).endswith("NEW"), "offer rests")
    buy = a.submit_order(MarketOrderRequest(symbol=SYMBOL, qty=3, side=OrderSide.BUY, time_in_force=TimeInForce.DAY))
    fills = wait_for(lambda: updates.seen("fill", buy.id), "trade_updates: fill")
    check(Decimal(str(fills[-1].price)) == PRICE, "fill price %s" % fills[-1].price)
    filled = wait_for(lambda: (lambda o: o if str(o.status).endswith("FILLED") else None)(a.get_order_by_id(buy.id)), "order filled")
    check(Decimal(str(filled.filled_qty)) == 3, "filled_qty 3")
    check(Decimal(str(filled.filled_avg_price)) == PRICE, "filled_avg_price")

    position = wait_for(lambda: next((p for p in a.get_all_positions() if p.symbol == SYMBOL), None), "get_all_positions")
    check(Decimal(str(position.qty)) == 3, "position qty 3")
    check(Decimal(str(position.avg_entry_price)) == PRICE, "avg_entry_price")
    check(Decimal(str(a.get_open_position(SYMBOL).qty)) == 3, "get_open_position")
    account = wait_for(lambda: (lambda x: x if Decimal(str(x.cash)) == cash0 - 3 * PRICE else None)(a.get_account()),
                       "cash reduced by exactly 3 x price")

    # Activities (alpaca-py has no typed call for them: its raw GET, as clients do).
    # The activities view follows the accounts pipeline's bookings, which may land a moment
    # after the order shows filled: wait for it as a client of an eventually consistent
    # API would.
    activities = a.get("/account/activities")
    check(isinstance(activities, list), "account activities is a list")
    activities = wait_for(
        lambda: (lambda xs: xs if any(x.get("activity_type") == "FILL" for x in xs) else None)(a.get("/account/activities")),
        "a FILL activity")
    fills = [x for x in activities if x.get("activity_type") == "FILL"]
    check(sum(Decimal(str(x["qty"])) for x in fills) == 3, "FILL activities add up to 3 shares")

    # Closing part of the position: a market sell of 1 share, answered with the order. No
    # bid rests on the book, so it ends canceled and the position stays 3 (checked below and
    # by the Rust side).
    closing = a.close_position(SYMBOL, ClosePositionRequest(qty="1"))
    check(str(closing.side).endswith("SELL") and Decimal(str(closing.qty)) == 1, "close_position(qty=1) is a sell of 1: %s %s" % (closing.side, closing.qty))
    wait_for(lambda: not str(a.get_order_by_id(closing.id).status).endswith("NEW"), "the close order is decided")
    check(Decimal(str(a.get_open_position(SYMBOL).qty)) == 3, "no bid: the position is still 3")

    # A clear error: an unknown symbol is refused with Alpaca's error shape.
    try:
        a.submit_order(MarketOrderRequest(symbol="NOPE", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY))
        raise AssertionError("unknown symbol accepted")
    except APIError as e:
        check(e.status_code in (403, 404, 422), "unknown symbol refused with %s: %s" % (e.status_code, e))

    updates.stream.stop()
    summary.update(
        order=str(order.id), replaced=str(replaced.id), buy=str(buy.id), cash=str(account.cash),
        position=str(position.qty), updates=len(updates.events),
    )
    print("ALPACA_PY_OK " + json.dumps(summary), flush=True)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - report any failure with its type
        print("ALPACA_PY_FAILED %s: %s" % (type(e).__name__, e), file=sys.stderr, flush=True)
        sys.exit(1)
