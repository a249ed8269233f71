#!/usr/bin/env bash
# The whole test suite, from a fresh machine: starts a real Kafka 4.x broker (jars from
# Maven Central), a Confluent-compatible schema registry (Apicurio, Maven Central) and
# ClickHouse (Debian's clickhouse-server 18.16, scripts/clickhouse.sh),
# builds the workspace, runs every unit, property and integration test, then lints the
# workspace with clippy (warnings are errors), and stops what it started. `.ci/run` calls
# exactly this.
#
# Environment: KAFKA_BROKERS / SCHEMA_REGISTRY_URL / CLICKHOUSE_URL to use already-running
# services instead.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

step() { printf '\n==> %s\n' "$*" >&2; }
started_kafka=0
started_registry=0
started_clickhouse=0
cleanup() {
  status=$?
  if [ $status -ne 0 ]; then
    echo >&2
    echo "test.sh: FAILED (exit $status). Service logs follow." >&2
    klog="${TRADEFLOW_KAFKA_DIR:-/tmp/tradeflow-kafka}/logs/server.log"
    [ -f "$klog" ] && { echo "--- last 40 lines of the Kafka log" >&2; tail -n 40 "$klog" >&2; }
    chlog="${TRADEFLOW_CH_DIR:-/tmp/tradeflow-clickhouse}/logs/clickhouse-server.err.log"
    [ -s "$chlog" ] && { echo "--- last 40 lines of the ClickHouse error log" >&2; tail -n 40 "$chlog" >&2; }
  fi
  [ $started_clickhouse = 1 ] && bash scripts/clickhouse.sh stop --clean >&2 || true
  [ $started_registry = 1 ] && bash scripts/schema-registry.sh stop >&2 || true
  [ $started_kafka = 1 ] && bash scripts/kafka.sh stop --clean >&2 || true
  exit $status
}
trap cleanup EXIT

step "toolchain"
if ! command -v cargo >/dev/null; then
  [ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
fi
command -v cargo >/dev/null || { echo "cargo not found: install Rust (rustup) first" >&2; exit 1; }
cargo --version >&2
command -v java >/dev/null || { echo "java not found: a JDK 17+ is needed for the Kafka broker" >&2; exit 1; }
command -v mvn >/dev/null || { echo "mvn not found: Maven is needed to fetch the Kafka jars" >&2; exit 1; }

step "python test clients (alpaca-py, schemathesis, chdb; tests/clients/requirements.txt)"
command -v python3 >/dev/null || { echo "python3 not found: the client acceptance tests need Python 3.9+" >&2; exit 1; }
req_hash=$(sha256sum tests/clients/requirements.txt | cut -c1-12)
venv="$HOME/.cache/tradeflow/venv-clients-$req_hash"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import alpaca, schemathesis, chdb' 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv" >&2 || { echo "python3 -m venv failed (Debian: apt-get install python3-venv)" >&2; exit 1; }
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/clients/requirements.txt >&2 \
    || { echo "pip install of tests/clients/requirements.txt failed (PyPI reachable?)" >&2; exit 1; }
fi
export TRADEFLOW_PYTHON="$venv/bin/python"
"$TRADEFLOW_PYTHON" -c 'import alpaca, schemathesis; print("alpaca-py", alpaca.__version__ if hasattr(alpaca, "__version__") else "?", "schemathesis", schemathesis.__version__ if hasattr(schemathesis, "__version__") else "?")' >&2
"$TRADEFLOW_PYTHON" -c 'import chdb; print("chdb", chdb.__version__, "= ClickHouse", chdb.query("SELECT version()", "TSV").bytes().decode().strip())' >&2

step "build (workspace, all targets)"
cargo build --workspace --all-targets --locked 2>&1 | tail -n 3 >&2

if [ -z "${KAFKA_BROKERS:-}" ]; then
  step "start Kafka 4.1.1 (KRaft, single node)"
  eval "$(bash scripts/kafka.sh start)"
  started_kafka=1
fi
export KAFKA_BROKERS
if [ -z "${SCHEMA_REGISTRY_URL:-}" ]; then
  step "start the schema registry (Apicurio, Confluent-compatible API)"
  eval "$(bash scripts/schema-registry.sh start)"
  started_registry=1
fi
export SCHEMA_REGISTRY_URL
if [ -z "${CLICKHOUSE_URL:-}" ]; then
  step "start ClickHouse (Debian's clickhouse-server 18.16)"
  eval "$(bash scripts/clickhouse.sh start)"
  started_clickhouse=1
fi
export CLICKHOUSE_URL

step "tests (KAFKA_BROKERS=$KAFKA_BROKERS SCHEMA_REGISTRY_URL=$SCHEMA_REGISTRY_URL CLICKHOUSE_URL=$CLICKHOUSE_URL)"
# Unit and property tests in parallel; integration tests one at a time (each runs broker
# clients and `tradeflow` child processes, and kill tests should not starve each other).
set +e
{
  cargo test --workspace --exclude tests --locked 2>&1 && \
  cargo test -p tests --locked -- --test-threads=1 2>&1
} | tee /tmp/tradeflow-test.log \
  | { grep --line-buffered -E '^(test |     Running|test result|failures:)|panicked' >&2 || true; }
status=${PIPESTATUS[0]}
set -e
awk '/^test result:/ { gsub(";", ""); p += $4; f += $6; i += $8 } END { printf "\n%d passed, %d failed, %d skipped\n", p, f, i }' /tmp/tradeflow-test.log
if [ "$status" -ne 0 ]; then
  echo "--- failures (full log: /tmp/tradeflow-test.log)" >&2
  sed -n '/^failures:$/,/^test result/p' /tmp/tradeflow-test.log | head -n 300 >&2
  exit "$status"
fi

step "lint (cargo clippy --workspace --all-targets, warnings are errors)"
if ! cargo clippy --workspace --all-targets --locked -- -D warnings >/tmp/tradeflow-clippy.log 2>&1; then
  grep -E -A14 '^(warning|error)' /tmp/tradeflow-clippy.log | head -n 200 >&2
  echo "clippy found problems (full log: /tmp/tradeflow-clippy.log)" >&2
  exit 1
fi
echo "clippy: no warnings" >&2
