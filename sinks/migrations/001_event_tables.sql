-- Raw event tables, one per event topic, written only by `tradeflow sink clickhouse`.
--
-- Exactly-once on ClickHouse 18.16 (which has no insert deduplication token): the sink
-- commits Kafka offsets only after ClickHouse acknowledged the INSERT, so a crash or retry
-- can write a record a second time, never lose it. Each table is a ReplacingMergeTree whose
-- ORDER BY is the record's deterministic id (the id the producing pipeline derived from its
-- per-key sequence), and a re-delivered record is byte-identical (same Kafka record), so
-- its copies share the sorting key AND the partition (derived from the record's own
-- timestamp). Background merges collapse copies eventually; the analyst views in
-- 002_analyst_views.sql read with FINAL, which collapses them at query time, so counts are
-- exact without OPTIMIZE.
--
-- Conventions (ClickHouse 18.16 and current): money, prices and quantities are
-- Decimal(28, 8), the wire contract's Avro decimal (precision 28, scale 8), never floats;
-- times are the event's Int64 Unix nanoseconds (`*_ns`) beside a DateTime (seconds, UTC)
-- computed from it; Avro enum symbols are plain Strings (new symbols need no migration);
-- kafka_topic/kafka_partition/kafka_offset say which record a row came from;
-- ingested_at is when the sink wrote it (a retried row keeps whichever copy survives).
--
-- `{database}` is replaced by the migrate command (--database). Statements end with `;`
-- at the end of a line; every statement is idempotent (IF NOT EXISTS).

CREATE TABLE IF NOT EXISTS {database}.order_events_raw (
    event_id String,
    account_id String,
    order_id String,
    client_order_id Nullable(String),
    symbol String,
    at_ns Int64,
    at DateTime DEFAULT toDateTime(intDiv(at_ns, 1000000000)),
    status String,
    reason Nullable(String),
    filled_qty Decimal(28, 8),
    leaves_qty Decimal(28, 8),
    avg_fill_price Nullable(Decimal(28, 8)),
    replaced_by Nullable(String),
    message Nullable(String),
    origin Nullable(String),
    event_type Nullable(String),
    fill_id Nullable(String),
    fill_qty Nullable(Decimal(28, 8)),
    fill_price Nullable(Decimal(28, 8)),
    fill_fee Nullable(Decimal(28, 8)),
    fill_settlement_days Nullable(Int32),
    new_qty Nullable(Decimal(28, 8)),
    new_limit_price Nullable(Decimal(28, 8)),
    new_stop_price Nullable(Decimal(28, 8)),
    kafka_topic String,
    kafka_partition Int32,
    kafka_offset Int64,
    ingested_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(at)
ORDER BY event_id;

CREATE TABLE IF NOT EXISTS {database}.executions_raw (
    exec_id String,
    trade_id String,
    account_id String,
    order_id String,
    client_order_id Nullable(String),
    symbol String,
    side String,
    last_qty Decimal(28, 8),
    last_price Decimal(28, 8),
    cum_qty Decimal(28, 8),
    leaves_qty Decimal(28, 8),
    avg_price Decimal(28, 8),
    fee Decimal(28, 8),
    liquidity String,
    at_ns Int64,
    at DateTime DEFAULT toDateTime(intDiv(at_ns, 1000000000)),
    kafka_topic String,
    kafka_partition Int32,
    kafka_offset Int64,
    ingested_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(at)
ORDER BY exec_id;

CREATE TABLE IF NOT EXISTS {database}.trades_raw (
    trade_id String,
    symbol String,
    seq Int64,
    price Decimal(28, 8),
    qty Decimal(28, 8),
    aggressor String,
    buy_order_id String,
    sell_order_id String,
    at_ns Int64,
    at DateTime DEFAULT toDateTime(intDiv(at_ns, 1000000000)),
    kafka_topic String,
    kafka_partition Int32,
    kafka_offset Int64,
    ingested_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(at)
ORDER BY trade_id;

-- One row per posting of a journal entry: (entry_id, posting_index) is the id.
CREATE TABLE IF NOT EXISTS {database}.ledger_postings_raw (
    entry_id String,
    posting_index UInt32,
    postings_in_entry UInt32,
    account_id String,
    at_ns Int64,
    at DateTime DEFAULT toDateTime(intDiv(at_ns, 1000000000)),
    kind String,
    reference String,
    ledger_account String,
    asset String,
    debit Decimal(28, 8),
    credit Decimal(28, 8),
    kafka_topic String,
    kafka_partition Int32,
    kafka_offset Int64,
    ingested_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(at)
ORDER BY (entry_id, posting_index);

CREATE TABLE IF NOT EXISTS {database}.funding_events_raw (
    event_id String,
    account_id String,
    funding_id String,
    direction String,
    status String,
    amount Decimal(28, 8),
    reason Nullable(String),
    at_ns Int64,
    at DateTime DEFAULT toDateTime(intDiv(at_ns, 1000000000)),
    kafka_topic String,
    kafka_partition Int32,
    kafka_offset Int64,
    ingested_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(at)
ORDER BY event_id;

-- The `dlq` topic. dead_letter_id = pipeline/source_topic/source_partition/source_offset:
-- an exactly-once pipeline dead-letters a source record at most once.
-- key_hex / value_hex: the kept original bytes (at most 64 KiB), lower-case hex.
CREATE TABLE IF NOT EXISTS {database}.dead_letters_raw (
    dead_letter_id String,
    pipeline String,
    source_topic String,
    source_partition Int32,
    source_offset Int64,
    error_kind String,
    error String,
    key_hex Nullable(String),
    value_hex Nullable(String),
    value_size Int32,
    failed_at_ns Int64,
    failed_at DateTime DEFAULT toDateTime(intDiv(failed_at_ns, 1000000000)),
    kafka_topic String,
    kafka_partition Int32,
    kafka_offset Int64,
    ingested_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(failed_at)
ORDER BY dead_letter_id;

-- Records the sink itself could not decode (bad framing, unknown schema id, undecodable
-- body): kept here instead of being dropped. reject_id = topic/partition/offset.
CREATE TABLE IF NOT EXISTS {database}.sink_rejects_raw (
    reject_id String,
    kafka_topic String,
    kafka_partition Int32,
    kafka_offset Int64,
    error String,
    key_hex Nullable(String),
    value_hex Nullable(String),
    value_size UInt32,
    ingested_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree()
ORDER BY reject_id;
