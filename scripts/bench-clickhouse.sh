#!/usr/bin/env bash
# ClickHouse sink figures (BENCHMARKS.md, "ClickHouse sink vs raw insert"): runs
# `tradeflow bench clickhouse` twice on a real Kafka broker and Debian's ClickHouse:
#   shared: the benchmark process (sink or raw client) and the ClickHouse server share every
#           CPU, as the OS schedules them;
#   split:  the ClickHouse server is pinned to the last CPU, and the benchmark process and
#           the Kafka broker (when this script started it) to the others (taskset), so the
#           sink's own work and the broker serving its fetches do not take CPU from the
#           server it feeds, as when ClickHouse has its own host. Affinities are restored
#           afterwards.
# Both modes measure the sink and the raw insert in the same run, alternating. Prints
# figures; asserts nothing. Environment: KAFKA_BROKERS / CLICKHOUSE_URL (else the project's
# scripts start both), TRADEFLOW_CH_DIR (ClickHouse pid file dir, default
# /tmp/tradeflow-clickhouse), BENCH_RECORDS (600000), BENCH_ROUNDS (5), BENCH_MODES
# ("shared split"), BENCH_RAW_ORDER (delivery: the raw peer batches the rows as a consumer
# received them, like the sink; produced: production order).
set -euo pipefail
cd "$(dirname "$0")/.."
records=${BENCH_RECORDS:-600000}
rounds=${BENCH_ROUNDS:-5}
modes=${BENCH_MODES:-shared split}
command -v taskset >/dev/null || { echo "taskset (util-linux) is needed for the split mode" >&2; exit 1; }
cargo build --release -p pipelines 2>&1 | tail -n 1 >&2
started_kafka=0 started_ch=0 ch_pid= kafka_pid=
cleanup() {
  [ -n "$ch_pid" ] && taskset -a -p -c "0-$(($(nproc) - 1))" "$ch_pid" >/dev/null 2>&1 || true
  [ -n "$kafka_pid" ] && taskset -a -p -c "0-$(($(nproc) - 1))" "$kafka_pid" >/dev/null 2>&1 || true
  [ $started_ch = 1 ] && bash scripts/clickhouse.sh stop --clean >&2 || true
  [ $started_kafka = 1 ] && bash scripts/kafka.sh stop --clean >&2 || true
}
trap cleanup EXIT
if [ -z "${KAFKA_BROKERS:-}" ]; then
  eval "$(bash scripts/kafka.sh start)"
  started_kafka=1
  kafka_pid=$(cat "${TRADEFLOW_KAFKA_DIR:-/tmp/tradeflow-kafka}/kafka.pid")
else
  echo "KAFKA_BROKERS given: the split mode cannot pin that broker (it may share ClickHouse's CPU)" >&2
fi
if [ -z "${CLICKHOUSE_URL:-}" ]; then
  eval "$(bash scripts/clickhouse.sh start)"
  started_ch=1
fi
export KAFKA_BROKERS CLICKHOUSE_URL
ch_pid=$(cat "${TRADEFLOW_CH_DIR:-/tmp/tradeflow-clickhouse}/clickhouse.pid" 2>/dev/null || true)
[[ "$ch_pid" =~ ^[0-9]+$ ]] || { echo "no ClickHouse pid file under ${TRADEFLOW_CH_DIR:-/tmp/tradeflow-clickhouse}" >&2; exit 1; }
cpus=$(nproc)
((cpus >= 2)) || { echo "the split mode needs at least 2 CPUs" >&2; exit 1; }
last=$((cpus - 1))
echo "machine: $cpus CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for mode in $modes; do
  case "$mode" in
    shared)
      taskset -a -p -c "0-$last" "$ch_pid" >/dev/null
      [ -z "$kafka_pid" ] || taskset -a -p -c "0-$last" "$kafka_pid" >/dev/null
      pin=() ;;
    split)
      taskset -a -p -c "$last" "$ch_pid" >/dev/null
      [ -z "$kafka_pid" ] || taskset -a -p -c "0-$((last - 1))" "$kafka_pid" >/dev/null
      pin=(taskset -c "0-$((last - 1))") ;;
    *) echo "unknown mode $mode (shared, split)" >&2; exit 1 ;;
  esac
  echo "== $mode: $records records x $rounds rounds" >&2
  RUST_LOG=warn "${pin[@]}" "${CARGO_TARGET_DIR:-target}/release/tradeflow" bench clickhouse --records "$records" --rounds "$rounds" \
    --clickhouse-pid "$ch_pid" ${kafka_pid:+--kafka-pid "$kafka_pid"} --freshness-secs "${BENCH_FRESHNESS_SECS:-15}" --raw-order "${BENCH_RAW_ORDER:-delivery}" | sed "s/^/$mode: /"
done
