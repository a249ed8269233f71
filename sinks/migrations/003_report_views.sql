-- Analyst views for reports (issue 6): per-account activity, active accounts per day and
-- order-to-fill latency. Like 002, every view reads the FINAL row views (order_events,
-- executions, funding_events, ledger_entries), so each event counts once whether or not
-- ClickHouse has merged the copies a re-delivery wrote. Days are UTC (`toDate(at)`).
--
-- 18.16 and current: no window functions, no DateTime64; UNION ALL branches cast every
-- column to one explicit type; quantileExact takes the element at index
-- floor(level * n) of the sorted values (no interpolation), an exact Int64 here.

-- One row per (UTC day, account) with any activity: orders placed (an order counts on the
-- day of its first event), fills (executions) with quantity / notional / fees, completed
-- deposits and withdrawals, and journal entries. Money columns are exact decimals.
CREATE VIEW IF NOT EXISTS {database}.account_daily_activity AS
SELECT
    day,
    account_id,
    sum(orders) AS orders,
    sum(fills) AS fills,
    sum(filled_qty) AS filled_qty,
    sum(fill_notional) AS fill_notional,
    sum(fees) AS fees,
    sum(deposits) AS deposits,
    sum(withdrawals) AS withdrawals,
    sum(ledger_entries) AS ledger_entries
FROM (
    SELECT
        day,
        account_id,
        toUInt64(count()) AS orders,
        toUInt64(0) AS fills,
        toDecimal128(0, 8) AS filled_qty,
        toDecimal128(0, 16) AS fill_notional,
        toDecimal128(0, 8) AS fees,
        toDecimal128(0, 8) AS deposits,
        toDecimal128(0, 8) AS withdrawals,
        toUInt64(0) AS ledger_entries
    FROM (
        SELECT order_id, any(account_id) AS account_id, toDate(min(at)) AS day
        FROM {database}.order_events
        GROUP BY order_id
    )
    GROUP BY day, account_id
    UNION ALL
    SELECT
        toDate(at) AS day,
        account_id,
        toUInt64(0) AS orders,
        toUInt64(count()) AS fills,
        toDecimal128(sum(last_qty), 8) AS filled_qty,
        toDecimal128(sum(last_qty * last_price), 16) AS fill_notional,
        toDecimal128(sum(fee), 8) AS fees,
        toDecimal128(0, 8) AS deposits,
        toDecimal128(0, 8) AS withdrawals,
        toUInt64(0) AS ledger_entries
    FROM {database}.executions
    GROUP BY day, account_id
    UNION ALL
    SELECT
        toDate(at) AS day,
        account_id,
        toUInt64(0) AS orders,
        toUInt64(0) AS fills,
        toDecimal128(0, 8) AS filled_qty,
        toDecimal128(0, 16) AS fill_notional,
        toDecimal128(0, 8) AS fees,
        toDecimal128(sumIf(amount, direction = 'DEPOSIT'), 8) AS deposits,
        toDecimal128(sumIf(amount, direction = 'WITHDRAWAL'), 8) AS withdrawals,
        toUInt64(0) AS ledger_entries
    FROM {database}.funding_events
    WHERE status = 'COMPLETED'
    GROUP BY day, account_id
    UNION ALL
    SELECT
        toDate(at) AS day,
        account_id,
        toUInt64(0) AS orders,
        toUInt64(0) AS fills,
        toDecimal128(0, 8) AS filled_qty,
        toDecimal128(0, 16) AS fill_notional,
        toDecimal128(0, 8) AS fees,
        toDecimal128(0, 8) AS deposits,
        toDecimal128(0, 8) AS withdrawals,
        toUInt64(count()) AS ledger_entries
    FROM {database}.ledger_entries
    GROUP BY day, account_id
)
GROUP BY day, account_id;

-- Accounts with any activity (see account_daily_activity) per UTC day.
CREATE VIEW IF NOT EXISTS {database}.daily_active_accounts AS
SELECT day, toUInt64(uniqExact(account_id)) AS active_accounts
FROM {database}.account_daily_activity
GROUP BY day;

-- One row per order that was accepted and filled at least once: accepted_ns is its first
-- accepted event (accounts' ACCEPTED / PENDING_NEW, or the venue's NEW), first / last
-- fill are its first and last event carrying a fill. A fill reported by both the venue
-- and accounts has the same event time, so the copies change neither bound.
CREATE VIEW IF NOT EXISTS {database}.order_fill_latency AS
SELECT
    order_id,
    account_id,
    symbol,
    accepted_ns,
    first_fill_ns,
    last_fill_ns,
    toDate(toDateTime(intDiv(accepted_ns, 1000000000))) AS day,
    first_fill_ns - accepted_ns AS to_first_fill_ns,
    last_fill_ns - accepted_ns AS to_last_fill_ns
FROM (
    SELECT
        order_id,
        any(account_id) AS account_id,
        any(symbol) AS symbol,
        minIf(at_ns, ifNull(event_type, '') = 'ACCEPTED' OR status IN ('PENDING_NEW', 'NEW')) AS accepted_ns,
        minIf(at_ns, isNotNull(fill_id)) AS first_fill_ns,
        maxIf(at_ns, isNotNull(fill_id)) AS last_fill_ns,
        countIf(ifNull(event_type, '') = 'ACCEPTED' OR status IN ('PENDING_NEW', 'NEW')) AS accepted_events,
        countIf(isNotNull(fill_id)) AS fill_events
    FROM {database}.order_events
    GROUP BY order_id
)
WHERE accepted_events > 0 AND fill_events > 0;

-- Order-to-fill latency percentiles per symbol and UTC day of acceptance, in nanoseconds
-- (exact Int64 order statistics: quantileExact, see the header).
CREATE VIEW IF NOT EXISTS {database}.order_fill_latency_daily AS
SELECT
    day,
    symbol,
    toUInt64(count()) AS filled_orders,
    quantileExact(0.5)(to_first_fill_ns) AS first_fill_p50_ns,
    quantileExact(0.9)(to_first_fill_ns) AS first_fill_p90_ns,
    quantileExact(0.99)(to_first_fill_ns) AS first_fill_p99_ns,
    quantileExact(0.5)(to_last_fill_ns) AS last_fill_p50_ns,
    quantileExact(0.9)(to_last_fill_ns) AS last_fill_p90_ns,
    quantileExact(0.99)(to_last_fill_ns) AS last_fill_p99_ns
FROM {database}.order_fill_latency
GROUP BY day, symbol;
