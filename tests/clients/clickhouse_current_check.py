#!/usr/bin/env python3
"""Runs Tradeflow's ClickHouse SQL on a *current* ClickHouse release (the engine embedded in
the `chdb` package, pinned in tests/clients/requirements.txt), as the test suite's Debian
ClickHouse 18.16 server only covers the old end of "works on 18.16 and on current".

The SQL is never copied here:
- the migrations are read straight from sinks/migrations/*.sql and split the way
  sinks/src/migrate.rs splits them; `tradeflow clickhouse print-sql` (the Rust side's own
  statements, checksums and bookkeeping SQL) must agree, file by file;
- the report queries are the exact SQL that sinks/src/reports/source.rs sends, arguments
  bound, with the ClickHouse types its row structs decode (`print-sql` again).

Steps, each failing loudly (non-zero exit, the statement and ClickHouse's error):
1. a migration run as `tradeflow clickhouse migrate` does it (database, schema_migrations,
   every file's statements in order, each file recorded with its checksum);
2. a second run: every file is recorded with the current checksum (nothing to apply), then
   every statement is executed again anyway (each must be idempotent: IF NOT EXISTS) and
   no table or view definition may change;
3. a few events in every raw table, some inserted twice in separate INSERTs (what a
   re-delivery writes), then every view of the database (found in system.tables, so new
   views are covered without editing this file) is queried: each must answer, have rows,
   and count every event once; a few figures are checked exactly;
4. every report query, in the report source's database: it must answer with rows, with
   exactly the column types its Rust row struct decodes;
5. the Rust code itself over HTTP (the `clickhouse` crate, RowBinary decoded into the row
   structs): `tradeflow clickhouse migrate` into a fresh database, twice, and into the
   checked one (nothing to apply), then `tradeflow report statement|gains|admin` over the
   sample events, with figures checked. The embedded engine has no HTTP server of its own
   (chdb does not wire clickhouse-local's SYSTEM START LISTEN), so `Engine.serve_http`
   puts a minimal one in front of it: the SQL, the engine and the RowBinary bytes are
   ClickHouse 26.9's own; only the HTTP framing is this file's.

Usage: clickhouse_current_check.py [--tradeflow PATH_TO_tradeflow_BINARY] [--url URL | --serve [--port N]]
--tradeflow: default $TRADEFLOW_BIN, else target/debug/tradeflow of this repository.
--url: run the same steps over HTTP against that ClickHouse server instead (e.g. the 18.16 of
scripts/clickhouse.sh: shows the check's expectations hold on both ends), in databases of
its own that are dropped afterwards.
--serve: no checks; serve the embedded engine over HTTP (for the sink's end-to-end test,
tests/integration/clickhouse_current.rs) until SIGTERM or stdin closes.
Last line on success: CLICKHOUSE_CURRENT_OK {json summary}.
"""

import argparse
import decimal
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import tempfile
import threading
import http.server
import urllib.error
import urllib.parse
import urllib.request

DATABASE = "tradeflow_current_check"
ACCOUNT = "acc-cur"
OTHER = "acc-other"
FROM, TO = "2026-10-01", "2026-10-31"
SEC = 1_000_000_000
T0 = 1_790_949_600 * SEC  # 2026-10-02 14:00:00 UTC
DAY = "2026-10-02"

REPO = pathlib.Path(__file__).resolve().parents[2]


def fail(msg):
    print(f"CLICKHOUSE_CURRENT_FAILED: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def split_statements(sql, database):
    """sinks/src/migrate.rs `statements`: `;` at the end of a line ends a statement; blank and
    `--` lines are dropped; `{database}` is replaced."""
    out, cur = [], []
    for line in sql.splitlines():
        t = line.strip()
        if not t or t.startswith("--"):
            continue
        cur.append(line + "\n")
        if t.endswith(";"):
            out.append("".join(cur).strip().rstrip(";").strip().replace("{database}", database))
            cur = []
    rest = "".join(cur).strip()
    if rest:
        out.append(rest.replace("{database}", database))
    return out


def fnv1a64(text):
    h = 0xCBF29CE484222325
    for b in text.encode():
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def print_sql(tradeflow):
    cmd = [tradeflow, "clickhouse", "print-sql", "--database", DATABASE, "--account", ACCOUNT, "--from", FROM, "--to", TO]
    try:
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        fail(f"{tradeflow} not found: build it (cargo build -p pipelines) or pass --tradeflow")
    except subprocess.CalledProcessError as e:
        fail(f"{' '.join(cmd)} exited {e.returncode}:\n{e.stderr}")
    return json.loads(out.stdout)


def decode(data, fmt):
    if fmt == "JSONCompact":
        return json.loads(data, parse_float=decimal.Decimal) if data.strip() else {"meta": [], "data": []}
    return data


class Rows:
    def rows(self, sql, what):
        return self.run(sql, what)["data"]

    def scalar(self, sql, what):
        rows = self.rows(sql, what)
        if len(rows) != 1 or len(rows[0]) != 1:
            fail(f"{what}: expected one value, got {rows}\n{sql}")
        return rows[0][0]


class Http(Rows):
    """A ClickHouse server's HTTP interface; `USE db` sets the `database` parameter, as the
    report source's client does."""

    def __init__(self, url):
        self.url = url.rstrip("/") + "/"
        self.database = None
        self.count = 0

    def run(self, sql, what, fmt="JSONCompact"):
        self.count += 1
        if sql.startswith("USE "):
            self.database = sql[4:].strip()
            return b""
        params = {"default_format": fmt}
        if self.database:
            params["database"] = self.database
        req = urllib.request.Request(self.url + "?" + urllib.parse.urlencode(params), data=sql.encode(), method="POST")
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                data = r.read()
        except urllib.error.HTTPError as e:
            fail(f"{what}: ClickHouse error (HTTP {e.code}):\n{e.read().decode(errors='replace')}\n--- statement:\n{sql}")
        except OSError as e:
            fail(f"{what}: {self.url} unreachable: {e}")
        return decode(data, fmt)


class Engine(Rows):
    """One chdb session (an embedded ClickHouse with on-disk databases in a temp dir)."""

    def __init__(self, path):
        try:
            import chdb
        except ImportError:
            fail("cannot import chdb: install tests/clients/requirements.txt into this Python")
        self.chdb = chdb
        self.conn = chdb.connect(path)
        self.count = 0
        self.lock = threading.Lock()

    def insert_row_binary(self, database, sql, data):
        """`INSERT INTO t(cols) FORMAT RowBinary` with `data` (the sink's inserts): through a
        temp file and file(), with the columns' types from system.columns."""
        m = re.match(r"\s*INSERT\s+INTO\s+([`\w.]+)\s*\((.*)\)\s*FORMAT\s+RowBinary\s*$", sql, re.S | re.I)
        if not m:
            raise ValueError(f"the check's HTTP bridge only takes INSERT ... (columns) FORMAT RowBinary data, not: {sql}")
        table = m.group(1).replace("`", "")
        db, table = table.split(".", 1) if "." in table else (database or "default", table)
        cols = [c.strip().strip("`") for c in m.group(2).split(",")]
        types = dict(
            (n, t)
            for n, t in json.loads(
                self.conn.query(
                    f"SELECT name, type FROM system.columns WHERE database = '{db}' AND table = '{table}'", "JSONCompact"
                ).bytes()
            )["data"]
        )
        missing = [c for c in cols if c not in types]
        if missing:
            raise ValueError(f"Code: 16. DB::Exception: No such column {missing[0]} in table {db}.{table}")
        with tempfile.NamedTemporaryFile(prefix="tradeflow-rowbinary-", suffix=".bin") as f:
            f.write(data)
            f.flush()
            structure = ", ".join(f"`{c}` {types[c]}" for c in cols)
            collist = ", ".join(f"`{c}`" for c in cols)
            self.conn.query(f"INSERT INTO `{db}`.`{table}` ({collist}) SELECT * FROM file('{f.name}', 'RowBinary', '{structure}')", "CSV")

    def serve_http(self, port=0):
        """A minimal ClickHouse HTTP interface in front of this session, on a loopback port
        (0: a free one), enough for the `clickhouse` crate and the tests' raw HTTP helper:
        the query in the `query` URL parameter and/or the POST body, URL parameters
        `database` and `default_format` (TabSeparated without one); `INSERT ... FORMAT
        RowBinary` with the rows in the body (plain or chunked); 200 with the result, or
        500 with ClickHouse's error text and X-ClickHouse-Exception-Code. Returns (url, server)."""
        engine = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def answer(self, code, body, headers=()):
                self.send_response(code)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                self.do_POST()

            def body(self):
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    out = bytearray()
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass  # trailers
                            return bytes(out)
                        out += self.rfile.read(size)
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def do_POST(self):
                url = urllib.parse.urlsplit(self.path)
                params = dict(urllib.parse.parse_qsl(url.query))
                body = self.body() if self.command == "POST" else b""
                query = params.get("query")
                sql = query if query else body.decode()
                if url.path not in ("", "/") or not sql.strip():
                    return self.answer(200, b"Ok.\n")  # the ping
                with engine.lock:
                    engine.count += 1
                    try:
                        engine.conn.query(f"USE {params.get('database') or 'default'}", "CSV")
                        if query and body:
                            engine.insert_row_binary(params.get("database"), query, body)
                            data = b""
                        else:
                            res = engine.conn.query(sql, params.get("default_format") or "TabSeparated")
                            data = res.bytes() if hasattr(res, "bytes") else bytes(res)
                    except Exception as e:
                        text = str(e)
                        code = text.split("Code: ", 1)[1].split(".", 1)[0] if "Code: " in text else "1000"
                        return self.answer(500, text.encode() + b"\n", [("X-ClickHouse-Exception-Code", code)])
                self.answer(200, data, [("Content-Type", "application/octet-stream")])

        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{server.server_address[1]}", server

    def run(self, sql, what, fmt="JSONCompact"):
        self.count += 1
        try:
            with self.lock:
                res = self.conn.query(sql, fmt)
        except Exception as e:  # chdb raises on any ClickHouse error
            fail(f"{what}: ClickHouse error:\n{e}\n--- statement:\n{sql}")
        return decode(res.bytes() if hasattr(res, "bytes") else bytes(res), fmt)


def check_migration_sources(doc):
    """The files on disk, split here, are what the Rust side sends."""
    files = sorted(p for p in (REPO / "sinks" / "migrations").glob("*.sql"))
    if not files:
        fail("no sinks/migrations/*.sql")
    rust = doc["migrate"]["files"]
    if [p.name for p in files] != [f["name"] for f in rust]:
        fail(f"migration files {[p.name for p in files]} != tradeflow's {[f['name'] for f in rust]} (rebuild tradeflow?)")
    out = []
    for path, r in zip(files, rust):
        text = path.read_text()
        stmts = split_statements(text, DATABASE)
        if fnv1a64(text) != r["checksum"]:
            fail(f"{path.name}: checksum {fnv1a64(text)} here, {r['checksum']} in tradeflow (rebuild tradeflow?)")
        if stmts != r["statements"]:
            fail(f"{path.name}: statements split here differ from sinks::migrate::statements")
        out.append((path.name, r["checksum"], stmts, r["record"]))
    return out


def migrate_like_tradeflow(ch, doc, files):
    """sinks/src/migrate.rs `migrate`: returns the names applied."""
    m = doc["migrate"]
    ch.run(m["create_database"], "create database")
    ch.run(m["schema_migrations"], "create schema_migrations")
    applied = {name: checksum for name, checksum in ch.rows(m["applied"], "read schema_migrations")}
    done = []
    for name, checksum, stmts, record in files:
        if name in applied:
            if applied[name] != checksum:
                fail(f"{name} recorded with checksum {applied[name]}, file has {checksum}")
            continue
        for i, s in enumerate(stmts, 1):
            ch.run(s, f"{name}: statement {i}")
        ch.run(record, f"{name}: record")
        done.append(name)
    return done


def definitions(ch):
    rows = ch.rows(
        f"SELECT name, engine, create_table_query FROM system.tables WHERE database = '{DATABASE}' ORDER BY name",
        "list tables",
    )
    return {name: (engine, create) for name, engine, create in rows}


def same(got, want):
    """Equal as text, or as decimals (18.16 prints decimals with trailing zeros)."""
    if str(got) == str(want):
        return True
    try:
        return decimal.Decimal(str(got)) == decimal.Decimal(str(want))
    except decimal.InvalidOperation:
        return False


def q(v):
    if v is None:
        return "NULL"
    if isinstance(v, str):
        return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return str(v)


def insert(ch, table, cols, rows):
    values = ", ".join("(" + ", ".join(q(v) for v in r) + ")" for r in rows)
    ch.run(f"INSERT INTO {DATABASE}.{table} ({', '.join(cols)}) VALUES {values}", f"insert into {table}", fmt="CSV")


def load_events(ch):
    """A small event set on 2026-10-02 UTC; rows marked dup are inserted again afterwards, in
    a separate INSERT (another part), as a re-delivery would. Returns distinct ids per table."""
    oe_cols = ["event_id", "account_id", "order_id", "symbol", "at_ns", "status", "event_type", "fill_id", "fill_qty",
               "fill_price", "fill_fee", "filled_qty", "leaves_qty", "kafka_topic", "kafka_partition", "kafka_offset"]
    oe = [
        ("e1", ACCOUNT, "o1", "SYM1", T0, "NEW", "ACCEPTED", None, None, None, None, "0", "10", "orders.events", 0, 1),
        ("e2", ACCOUNT, "o1", "SYM1", T0 + 1 * SEC, "PARTIALLY_FILLED", "FILL", "x1", "4", "10.5", "0.01", "4", "6", "orders.events", 0, 2),
        ("e3", ACCOUNT, "o1", "SYM1", T0 + 3 * SEC, "FILLED", "FILL", "x2", "6", "10.25", "0.02", "10", "0", "orders.events", 0, 3),
        ("e4", ACCOUNT, "o2", "SYM1", T0 + 10 * SEC, "NEW", "ACCEPTED", None, None, None, None, "0", "5", "orders.events", 0, 4),
        ("e5", ACCOUNT, "o2", "SYM1", T0 + 20 * SEC, "CANCELED", "CANCELED", None, None, None, None, "0", "0", "orders.events", 0, 5),
        ("e6", OTHER, "o3", "SYM1", T0 + 5 * SEC, "PENDING_NEW", None, None, None, None, None, "0", "1", "orders.events", 1, 1),
        ("e7", OTHER, "o3", "SYM1", T0 + 6 * SEC, "REJECTED", "REJECTED", None, None, None, None, "0", "0", "orders.events", 1, 2),
    ]
    ex_cols = ["exec_id", "trade_id", "account_id", "order_id", "symbol", "side", "last_qty", "last_price", "cum_qty",
               "leaves_qty", "avg_price", "fee", "liquidity", "at_ns", "kafka_topic", "kafka_partition", "kafka_offset"]
    ex = [
        ("x1", "t1", ACCOUNT, "o1", "SYM1", "BUY", "4", "10.5", "4", "6", "10.5", "0.01", "TAKER", T0 + 1 * SEC, "executions", 0, 1),
        ("x2", "t2", ACCOUNT, "o1", "SYM1", "BUY", "6", "10.25", "10", "0", "10.35", "0.02", "TAKER", T0 + 3 * SEC, "executions", 0, 2),
    ]
    tr_cols = ["trade_id", "symbol", "seq", "price", "qty", "aggressor", "buy_order_id", "sell_order_id", "at_ns",
               "kafka_topic", "kafka_partition", "kafka_offset"]
    tr = [
        ("t1", "SYM1", 1, "10.5", "4", "BUY", "o1", "s1", T0 + 1 * SEC, "trades", 0, 1),
        ("t2", "SYM1", 2, "10.25", "6", "BUY", "o1", "s2", T0 + 3 * SEC, "trades", 0, 2),
    ]
    lp_cols = ["entry_id", "posting_index", "postings_in_entry", "account_id", "at_ns", "kind", "reference",
               "ledger_account", "asset", "debit", "credit", "kafka_topic", "kafka_partition", "kafka_offset"]
    lp = [
        ("j1", 0, 2, ACCOUNT, T0 - 3600 * SEC, "DEPOSIT", "f-1", f"cash:{ACCOUNT}", "USD", "1000", "0", "ledger", 0, 1),
        ("j1", 1, 2, ACCOUNT, T0 - 3600 * SEC, "DEPOSIT", "f-1", "bank:omnibus", "USD", "0", "1000", "ledger", 0, 1),
        ("j2", 0, 2, ACCOUNT, T0 + 1 * SEC, "FILL", "x1", f"cash:{ACCOUNT}", "USD", "0", "42.01", "ledger", 0, 2),
        ("j2", 1, 2, ACCOUNT, T0 + 1 * SEC, "FILL", "x1", "clearing:SYM1", "USD", "42.01", "0", "ledger", 0, 2),
    ]
    fe_cols = ["event_id", "account_id", "funding_id", "direction", "status", "amount", "reason", "at_ns",
               "kafka_topic", "kafka_partition", "kafka_offset"]
    fe = [
        ("fe1", ACCOUNT, "f-1", "DEPOSIT", "REQUESTED", "1000", None, T0 - 7200 * SEC, "funding", 0, 1),
        ("fe2", ACCOUNT, "f-1", "DEPOSIT", "COMPLETED", "1000", None, T0 - 3600 * SEC, "funding", 0, 2),
        ("fe3", ACCOUNT, "f-2", "WITHDRAWAL", "REJECTED", "5000", "INSUFFICIENT_FUNDS", T0 + 3600 * SEC, "funding", 0, 3),
    ]
    dl_cols = ["dead_letter_id", "pipeline", "source_topic", "source_partition", "source_offset", "error_kind", "error",
               "key_hex", "value_hex", "value_size", "failed_at_ns", "kafka_topic", "kafka_partition", "kafka_offset"]
    dl = [("accounts/orders.commands/0/7", "accounts", "orders.commands", 0, 7, "DECODE", "bad magic byte", "6b", "00ff", 2, T0, "dlq", 0, 1)]
    sr_cols = ["reject_id", "kafka_topic", "kafka_partition", "kafka_offset", "error", "key_hex", "value_hex", "value_size"]
    sr = [("trades/0/9", "trades", 0, 9, "unknown schema id 999", None, "0000000003e7", 6)]

    tables = [
        ("order_events_raw", "order_events", oe_cols, oe, [2]),
        ("executions_raw", "executions", ex_cols, ex, [1]),
        ("trades_raw", "trades", tr_cols, tr, [0]),
        ("ledger_postings_raw", "ledger_postings", lp_cols, lp, [0]),
        ("funding_events_raw", "funding_events", fe_cols, fe, [1]),
        ("dead_letters_raw", "dead_letters", dl_cols, dl, [0]),
        ("sink_rejects_raw", "sink_rejects", sr_cols, sr, [0]),
    ]
    distinct = {}
    for raw, view, cols, rows, dups in tables:
        insert(ch, raw, cols, rows)
        insert(ch, raw, cols, [rows[i] for i in dups])  # the re-delivered copies: a second part
        distinct[view] = (raw, len(rows), len(rows) + len(dups))
    return distinct


def check_views(ch, distinct):
    tables = definitions(ch)
    views = sorted(n for n, (engine, _) in tables.items() if engine == "View")
    if not views:
        fail("no views in the database")
    counts = {}
    for v in views:
        res = ch.run(f"SELECT * FROM {DATABASE}.{v}", f"view {v}")
        counts[v] = len(res["data"])
        if counts[v] == 0:
            fail(f"view {v} returned no rows (every view should see the sample events)")
        print(f"view {v}: {counts[v]} rows, columns " + ", ".join(f"{m['name']} {m['type']}" for m in res["meta"]), flush=True)
    # Each event once through its row view (FINAL collapses the re-delivered copies).
    for view, (raw, n, n_raw) in distinct.items():
        got_raw = int(ch.scalar(f"SELECT count() FROM {DATABASE}.{raw}", f"count {raw}"))
        if got_raw != n_raw:
            fail(f"{raw}: {got_raw} rows, expected {n_raw} (copies included)")
        if counts.get(view) != n:
            fail(f"view {view}: {counts.get(view)} rows, expected {n} (each event once)")

    def one(sql, what):
        rows = ch.rows(sql, what)
        if len(rows) != 1:
            fail(f"{what}: expected one row, got {rows}\n{sql}")
        return rows[0]

    def expect(what, got, want):
        if len(got) != len(want) or not all(same(g, w) for g, w in zip(got, want)):
            fail(f"{what}: got {got}, expected {want}")

    expect("daily_symbol_volume", one(
        f"SELECT toString(day), symbol, toUInt64(trades), toString(volume), toString(notional), toString(vwap) "
        f"FROM {DATABASE}.daily_symbol_volume", "daily_symbol_volume"),
        [DAY, "SYM1", 2, "10", "103.5", "10.35"])
    expect("order_outcome_rates", one(
        f"SELECT toString(day), symbol, toUInt64(orders), toUInt64(filled), toUInt64(canceled), toUInt64(expired), "
        f"toUInt64(rejected), round(fill_rate, 6) FROM {DATABASE}.order_outcome_rates", "order_outcome_rates"),
        [DAY, "SYM1", 3, 1, 1, 0, 1, 0.333333])
    expect("ledger_entries j2", one(
        f"SELECT toUInt64(postings), toString(total_debit), toString(total_credit) FROM {DATABASE}.ledger_entries "
        f"WHERE entry_id = 'j2'", "ledger_entries"),
        [2, "42.01", "42.01"])
    expect("account_daily_activity", one(
        f"SELECT toString(day), toUInt64(orders), toUInt64(fills), toString(filled_qty), toString(fill_notional), "
        f"toString(fees), toString(deposits), toString(withdrawals), toUInt64(ledger_entries) "
        f"FROM {DATABASE}.account_daily_activity WHERE account_id = '{ACCOUNT}'", "account_daily_activity"),
        [DAY, 2, 2, "10", "103.5", "0.03", "1000", "0", 2])
    expect("daily_active_accounts", one(
        f"SELECT toString(day), toUInt64(active_accounts) FROM {DATABASE}.daily_active_accounts", "daily_active_accounts"),
        [DAY, 2])
    expect("order_fill_latency_daily", one(
        f"SELECT toString(day), symbol, toUInt64(filled_orders), toInt64(first_fill_p50_ns), toInt64(last_fill_p99_ns) "
        f"FROM {DATABASE}.order_fill_latency_daily", "order_fill_latency_daily"),
        [DAY, "SYM1", 1, 1 * SEC, 3 * SEC])
    return counts


def check_reports(ch, doc):
    ch.run(f"USE {DATABASE}", "USE the report database", fmt="CSV")  # the client's `database`
    out = {}
    for r in doc["reports"]:
        res = ch.run(r["sql"], f"report query '{r['name']}'")
        types = [m["type"] for m in res["meta"]]
        if types != r["types"]:
            fail(f"report query '{r['name']}': columns are {types}, its Rust row struct decodes {r['types']}\n{r['sql']}")
        if not res["data"]:
            fail(f"report query '{r['name']}' returned no rows for the sample events\n{r['sql']}")
        out[r["name"]] = len(res["data"])
        print(f"report query '{r['name']}': {len(res['data'])} rows, types ok", flush=True)
    def first(name):
        return ch.rows(next(r["sql"] for r in doc["reports"] if r["name"] == name), name)

    balances = first("opening cash balances")
    if len(balances) != 1 or balances[0][0] != f"cash:{ACCOUNT}" or not same(balances[0][1], "957.99"):
        fail(f"opening cash balances: {balances}, expected cash:{ACCOUNT} 957.99")
    if not same(first("account lookup")[0][0], 4):
        fail(f"account lookup: {first('account lookup')}, expected 4 (the account is in 4 raw tables)")
    return out


def tradeflow_cmd(tradeflow, args, what):
    try:
        r = subprocess.run([tradeflow, *args], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        fail(f"{what}: `tradeflow {' '.join(args)}` still running after 120 s")
    if r.returncode != 0:
        fail(f"{what}: `tradeflow {' '.join(args)}` exited {r.returncode}:\n{r.stderr}{r.stdout}")
    return r.stdout


def check_rust_over_http(ch, tradeflow, files, url):
    """The Rust code itself (the `clickhouse` crate: HTTP, RowBinary decoding into the row
    structs) against `url` (the server, or Engine.serve_http in front of the embedded
    engine): `tradeflow clickhouse migrate` into a fresh database (twice) and into the
    checked one (nothing to apply: the same bookkeeping), and every `tradeflow report` over
    the sample events."""
    out = {}
    fresh = f"{DATABASE}_rust"
    names = [f[0] for f in files]
    first = tradeflow_cmd(tradeflow, ["clickhouse", "migrate", "--url", url, "--database", fresh], "migrate (Rust)")
    if [l for l in first.splitlines() if "applied" in l] != [f"{fresh}: applied {n}" for n in names]:
        fail(f"tradeflow clickhouse migrate into {fresh}: {first!r}")
    for db in (fresh, DATABASE):
        again = tradeflow_cmd(tradeflow, ["clickhouse", "migrate", "--url", url, "--database", db], "migrate again (Rust)")
        if again.strip() != f"{db}: up to date ({len(names)} migrations)":
            fail(f"tradeflow clickhouse migrate into {db} again: {again!r}")
    if definitions_of(ch, fresh) != definitions_of(ch, DATABASE, rename=(DATABASE, fresh)):
        fail("the Rust migrate and this script's made different definitions")
    print(f"tradeflow clickhouse migrate over HTTP: applied {len(names)} files, then up to date", flush=True)

    src = ["--url", url, "--database", DATABASE]
    for name, args in [
        ("statement", ["report", "statement", "--account", ACCOUNT, "--month", "2026-10", *src]),
        ("statement_unknown", ["report", "statement", "--account", "acc-nobody", "--month", "2026-10", *src]),
        ("gains", ["report", "gains", "--account", ACCOUNT, "--year", "2026", *src]),
        ("admin", ["report", "admin", "--from", FROM, "--to", TO, *src]),
        ("admin_csv", ["report", "admin", "--from", FROM, "--to", TO, "--format", "csv", *src]),
    ]:
        text = tradeflow_cmd(tradeflow, args, f"report {name} (Rust)")
        out[name] = text if name.endswith("csv") else json.loads(text)
        print(f"tradeflow {' '.join(args[:2])} over HTTP: ok ({len(text)} bytes)", flush=True)

    st = out["statement"]
    got = (st["closing_cash"], len(st["fills"]), len(st["funding"]), len(st["ledger_entries"]),
           [(p["symbol"], p["qty"]) for p in st["positions"]], st["totals"]["fees"])
    want = ("957.99", 2, 3, 2, [("SYM1", "10")], "0.03")
    if not all(same(g, w) if not isinstance(w, list) else g == w for g, w in zip(got, want)):
        fail(f"tradeflow report statement: {got}, expected {want}\n{json.dumps(st)}")
    if out["statement_unknown"]["fills"] or not out["statement_unknown"]["notes"]:
        fail(f"tradeflow report statement for an unknown account: {json.dumps(out['statement_unknown'])}")
    if out["gains"]["lines"] or out["gains"]["rejected"]:
        fail(f"tradeflow report gains (buys only): {json.dumps(out['gains'])}")
    ad = out["admin"]
    got = ([(v["day"], v["symbol"], v["trades"], v["volume"], v["notional"], v["vwap"]) for v in ad["volume"]],
           [(a["day"], a["active_accounts"]) for a in ad["active_accounts"]],
           [(l["symbol"], l["filled_orders"], l["first_fill_p50_ms"], l["last_fill_p99_ms"]) for l in ad["latency"]])
    want = ([(DAY, "SYM1", 2, "10", "103.5", "10.35")], [(DAY, 2)], [("SYM1", 1, "1000", "3000")])
    if got != want:
        fail(f"tradeflow report admin: {got}, expected {want}")
    return out


def definitions_of(ch, database, rename=None):
    rows = ch.rows(
        f"SELECT name, engine, create_table_query FROM system.tables WHERE database = '{database}' ORDER BY name",
        f"list tables of {database}",
    )
    out = {}
    for name, engine, create in rows:
        if rename:
            create = create.replace(rename[0] + ".", rename[1] + ".")
        out[name] = (engine, create)
    return out


def run_checks(ch, doc, files, version, engine):
    first = migrate_like_tradeflow(ch, doc, files)
    if first != [f[0] for f in files]:
        fail(f"first migration run applied {first}, expected every file")
    print(f"migrate run 1: applied {', '.join(first)}", flush=True)
    before = definitions(ch)

    second = migrate_like_tradeflow(ch, doc, files)
    if second:
        fail(f"second migration run applied {second}, expected nothing")
    for name, _, stmts, _ in files:
        for i, s in enumerate(stmts, 1):
            ch.run(s, f"{name}: statement {i} (again: must be idempotent)")
    after = definitions(ch)
    if before != after:
        changed = sorted(set(before) ^ set(after) | {k for k in before if k in after and before[k] != after[k]})
        fail(f"re-running the migrations changed {changed}")
    recorded = ch.rows(doc["migrate"]["applied"], "schema_migrations")
    if [r[0] for r in recorded] != [f[0] for f in files]:
        fail(f"schema_migrations holds {recorded}")
    print(f"migrate run 2: nothing to apply; every statement re-run, {len(after)} definitions unchanged", flush=True)

    distinct = load_events(ch)
    views = check_views(ch, distinct)
    reports = check_reports(ch, doc)
    summary = {
        "clickhouse": version,
        "engine": engine,
        "database": DATABASE,
        "migrations": [f[0] for f in files],
        "statements": sum(len(f[2]) for f in files),
        "views": views,
        "reports": reports,
    }
    return summary


def main():
    global DATABASE
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tradeflow", default=os.environ.get("TRADEFLOW_BIN") or str(REPO / "target" / "debug" / "tradeflow"))
    ap.add_argument("--url", help="a ClickHouse HTTP URL to check instead of the embedded engine")
    ap.add_argument("--serve", action="store_true", help="no checks: serve the embedded engine over HTTP on "
                    "127.0.0.1 (--port), print `SERVING <url> <version>`, run until SIGTERM or stdin closes")
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()

    if args.serve:
        with tempfile.TemporaryDirectory(prefix="tradeflow-chdb-serve-") as tmp:
            ch = Engine(tmp)
            version = ch.scalar("SELECT version()", "version")
            url, server = ch.serve_http(args.port)
            stop = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
            print(f"SERVING {url} {version}", flush=True)
            while not stop.wait(0.5):
                pass
            server.shutdown()
        return

    if args.url:
        DATABASE = f"{DATABASE}_{os.getpid()}"  # a shared server: a database of its own
        doc = print_sql(args.tradeflow)
        files = check_migration_sources(doc)
        ch = Http(args.url)
        version = ch.scalar("SELECT version()", "version")
        print(f"ClickHouse {version} (server at {args.url}, database {DATABASE})", flush=True)
        try:
            summary = run_checks(ch, doc, files, version, "http")
            summary["rust_over_http"] = sorted(check_rust_over_http(ch, args.tradeflow, files, args.url))
            summary["queries_run"] = ch.count
            print("CLICKHOUSE_CURRENT_OK " + json.dumps(summary, sort_keys=True), flush=True)
        finally:
            for db in (DATABASE, f"{DATABASE}_rust"):
                Http(args.url).run(f"DROP DATABASE IF EXISTS {db}", "drop the check's databases", fmt="CSV")
        return

    doc = print_sql(args.tradeflow)
    files = check_migration_sources(doc)
    with tempfile.TemporaryDirectory(prefix="tradeflow-chdb-") as tmp:
        ch = Engine(tmp)
        chdb = ch.chdb
        version = ch.scalar("SELECT version()", "version")
        print(f"ClickHouse {version} (chdb {chdb.__version__}, embedded)", flush=True)
        summary = run_checks(ch, doc, files, version, f"chdb {chdb.__version__}")
        url, server = ch.serve_http()
        try:
            summary["rust_over_http"] = sorted(check_rust_over_http(ch, args.tradeflow, files, url))
        finally:
            server.shutdown()
        summary["queries_run"] = ch.count
        print("CLICKHOUSE_CURRENT_OK " + json.dumps(summary, sort_keys=True), flush=True)


if __name__ == "__main__":
    main()
