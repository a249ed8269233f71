-- Analyst-facing views. Query these, not the *_raw tables: each event appears once.
--
-- The row views read the raw tables with FINAL, which on ClickHouse 18.16 and current
-- versions collapses rows with equal sorting key within a partition at query time, whether
-- or not a merge has happened (no OPTIMIZE needed). Copies of one Kafka record always share
-- the partition (it is derived from the record's own timestamp), so each event id is
-- counted exactly once. Aggregate views are built on the row views.

CREATE VIEW IF NOT EXISTS {database}.order_events AS
SELECT * FROM {database}.order_events_raw FINAL;

CREATE VIEW IF NOT EXISTS {database}.executions AS
SELECT * FROM {database}.executions_raw FINAL;

CREATE VIEW IF NOT EXISTS {database}.trades AS
SELECT * FROM {database}.trades_raw FINAL;

CREATE VIEW IF NOT EXISTS {database}.ledger_postings AS
SELECT * FROM {database}.ledger_postings_raw FINAL;

CREATE VIEW IF NOT EXISTS {database}.funding_events AS
SELECT * FROM {database}.funding_events_raw FINAL;

CREATE VIEW IF NOT EXISTS {database}.dead_letters AS
SELECT * FROM {database}.dead_letters_raw FINAL;

CREATE VIEW IF NOT EXISTS {database}.sink_rejects AS
SELECT * FROM {database}.sink_rejects_raw FINAL;

-- One row per journal entry (postings summed; a balanced entry has total_debit = total_credit
-- per asset, which this view does not split by asset).
CREATE VIEW IF NOT EXISTS {database}.ledger_entries AS
SELECT
    entry_id,
    any(account_id) AS account_id,
    any(at_ns) AS at_ns,
    any(at) AS at,
    any(kind) AS kind,
    any(reference) AS reference,
    count() AS postings,
    sum(debit) AS total_debit,
    sum(credit) AS total_credit
FROM {database}.ledger_postings
GROUP BY entry_id;

-- Daily volume and VWAP per symbol from the public trade tape (UTC days).
-- notional and vwap are exact decimals (scale 16), not floats.
CREATE VIEW IF NOT EXISTS {database}.daily_symbol_volume AS
SELECT
    toDate(at) AS day,
    symbol,
    count() AS trades,
    sum(qty) AS volume,
    sum(price * qty) AS notional,
    sum(price * qty) / sum(qty) AS vwap
FROM {database}.trades
GROUP BY day, symbol;

-- Order outcomes per symbol and UTC day of the order's first event. An order counts as
-- filled / canceled / expired / rejected if any of its events has that status (an order can
-- be partially filled and then canceled: it counts in both). Rates are ratios of counts
-- (Float64), not money.
CREATE VIEW IF NOT EXISTS {database}.order_outcome_rates AS
SELECT
    day,
    symbol,
    count() AS orders,
    sum(filled) AS filled,
    sum(canceled) AS canceled,
    sum(expired) AS expired,
    sum(rejected) AS rejected,
    filled / orders AS fill_rate,
    canceled / orders AS cancel_rate,
    rejected / orders AS reject_rate
FROM (
    SELECT
        order_id,
        any(symbol) AS symbol,
        toDate(min(at)) AS day,
        max(status = 'FILLED') AS filled,
        max(status = 'CANCELED') AS canceled,
        max(status = 'EXPIRED') AS expired,
        max(status = 'REJECTED') AS rejected
    FROM {database}.order_events
    GROUP BY order_id
)
GROUP BY day, symbol;
