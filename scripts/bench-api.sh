#!/usr/bin/env bash
# Trading API load figures (BENCHMARKS.md, "Trading API"): starts `tradeflow demo` (the
# whole platform in one process: pipelines, views, API, market makers and traders) on a
# real Kafka broker with the API's rate limits off, then drives GET /v2/account,
# GET /v2/positions and POST /v2/orders with autocannon (npm, pinned, installed under
# ~/.cache/tradeflow/node) against the peer GET /healthz on the same server.
# Prints figures; asserts nothing. Environment: KAFKA_BROKERS (else scripts/kafka.sh
# starts one), BENCH_SECONDS (default 15), BENCH_PORT (default 18480).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${BENCH_SECONDS:-15}
port=${BENCH_PORT:-18480}
node_dir="$HOME/.cache/tradeflow/node"
if [ ! -x "$node_dir/node_modules/.bin/autocannon" ]; then
  mkdir -p "$node_dir"
  (cd "$node_dir" && npm init -y >/dev/null && npm install --no-audit --no-fund autocannon@8.0.0 >&2)
fi
cargo build --release -p pipelines 2>&1 | tail -n 1 >&2
started_kafka=0
demo_pid=
cleanup() {
  [ -n "$demo_pid" ] && kill -INT "$demo_pid" 2>/dev/null && wait "$demo_pid" 2>/dev/null || true
  [ $started_kafka = 1 ] && bash scripts/kafka.sh stop --clean >&2 || true
}
trap cleanup EXIT
if [ -z "${KAFKA_BROKERS:-}" ]; then
  eval "$(bash scripts/kafka.sh start)"
  started_kafka=1
fi
log=/tmp/tradeflow-bench-api-demo.log
target/release/tradeflow demo --brokers "$KAFKA_BROKERS" --http "127.0.0.1:$port" --seed 7 \
  --rate-limit-per-key 0 --rate-limit-per-ip 0 >"$log" 2>&1 &
demo_pid=$!
for _ in $(seq 1 240); do
  curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  kill -0 "$demo_pid" 2>/dev/null || { echo "demo exited; log: $log" >&2; tail -n 30 "$log" >&2; exit 1; }
  sleep 0.5
done
curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { echo "API not ready after 120 s; log: $log" >&2; exit 1; }
key=$(grep -o 'PKDEMO[0-9A-Z]*TRADER1' "$log" | head -n 1)
secret=$(grep -o 'demo-secret-trader-1' "$log" | head -n 1)
[ -n "$key" ] && [ -n "$secret" ] || { echo "demo credentials not found in $log" >&2; exit 1; }
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); demo log: $log" >&2
NODE_PATH="$node_dir/node_modules" node scripts/bench/api.cjs "http://127.0.0.1:$port" "$key" "$secret" "$seconds"
