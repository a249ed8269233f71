#!/usr/bin/env bash
# Single-node Apache Kafka 4.1.1 (KRaft, broker+controller in one JVM) for
# tests, CI and local development. No Docker, no Apache mirrors: the jars
# come from Maven Central through scripts/kafka/pom.xml.
#
# Usage: scripts/kafka.sh <command> [args]
#
#   start            Start the broker in the background (formats storage on
#                    first start) and wait until it serves requests.
#                    Prints KAFKA_BROKERS=127.0.0.1:<port> on stdout.
#                    Exits 0 when it is already running.
#   stop [--clean]   Stop it (SIGTERM, SIGKILL after 20 s). --clean also
#                    deletes its data, logs and config.
#   status           Exit 0 if it is up (prints where), 1 if not.
#   env [--export]   Print KAFKA_BROKERS=..., KAFKA_CLASSPATH=..., ... as
#                    KEY=value lines (with --export: "export KEY=value").
#   tool NAME [ARGS] Run a Kafka command line tool with the cached jars.
#                    NAME: topics, console-producer, console-consumer,
#                    consumer-groups, configs, transactions, get-offsets,
#                    api-versions, metadata-quorum, features, dump-log,
#                    storage, or a fully qualified main class.
#   fetch            Only resolve the jars into the cache (for CI warm-up).
#
# Environment:
#   TRADEFLOW_KAFKA_PORT             client listener port       (19092)
#   TRADEFLOW_KAFKA_CONTROLLER_PORT  KRaft controller port      (19093)
#   TRADEFLOW_KAFKA_DIR              data/log/config/pid dir    (/tmp/tradeflow-kafka)
#   TRADEFLOW_KAFKA_START_TIMEOUT    seconds to wait for ready  (90)
#   TRADEFLOW_KAFKA_HEAP             JVM heap flags             (-Xms256m -Xmx1g)
#   TRADEFLOW_KAFKA_EXTRA_PROPS      extra server.properties lines (newline
#                                    separated key=value; they win)
#   TRADEFLOW_KAFKA_TXN_VERSION      transaction.version at format (1; see format_storage)
#   TRADEFLOW_KAFKA_LIBS             jar dir (~/.cache/tradeflow/kafka-4.1.1/libs)
#   JAVA_HOME                        JDK to use (else `java` on PATH; >= 17)
#
# stdout carries only KEY=value lines, so `eval "$(scripts/kafka.sh start)"`
# works; progress and errors go to stderr.
set -euo pipefail

readonly KAFKA_VERSION=4.1.1
readonly HOST=127.0.0.1
readonly NODE_ID=1

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly SCRIPT_DIR
readonly POM="$SCRIPT_DIR/kafka/pom.xml"

CACHE_ROOT="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/tradeflow/kafka-$KAFKA_VERSION"
LIBS="${TRADEFLOW_KAFKA_LIBS:-$CACHE_ROOT/libs}"
PORT="${TRADEFLOW_KAFKA_PORT:-19092}"
CONTROLLER_PORT="${TRADEFLOW_KAFKA_CONTROLLER_PORT:-19093}"
BASE="${TRADEFLOW_KAFKA_DIR:-/tmp/tradeflow-kafka}"
START_TIMEOUT="${TRADEFLOW_KAFKA_START_TIMEOUT:-90}"
HEAP_OPTS="${TRADEFLOW_KAFKA_HEAP:--Xms256m -Xmx1g}"
readonly STOP_TIMEOUT=20

DATA="$BASE/data"
LOGS="$BASE/logs"
CONF="$BASE/config"
PIDFILE="$BASE/kafka.pid"
SERVER_LOG="$LOGS/server.log"
JVM_OUT="$LOGS/kafka.out"

log() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
# seconds since $1 (an $EPOCHREALTIME value), with one decimal
since() { awk -v a="${1/,/.}" -v b="${EPOCHREALTIME/,/.}" 'BEGIN { printf "%.1f", b - a }'; }

validate_env() {
  [[ "$PORT" =~ ^[0-9]+$ ]] || die "TRADEFLOW_KAFKA_PORT must be a number (got '$PORT')"
  [[ "$CONTROLLER_PORT" =~ ^[0-9]+$ ]] ||
    die "TRADEFLOW_KAFKA_CONTROLLER_PORT must be a number (got '$CONTROLLER_PORT')"
  [[ "$PORT" != "$CONTROLLER_PORT" ]] || die "listener and controller port are both $PORT"
  [[ "$START_TIMEOUT" =~ ^[0-9]+$ ]] || die "TRADEFLOW_KAFKA_START_TIMEOUT must be a number of seconds"
  # Canonical absolute path: it is matched against the broker's command line.
  BASE="$(realpath -m -- "$BASE")"
  [[ "$BASE" != "/" ]] || die "TRADEFLOW_KAFKA_DIR must not be /"
  DATA="$BASE/data" LOGS="$BASE/logs" CONF="$BASE/config" PIDFILE="$BASE/kafka.pid"
  SERVER_LOG="$LOGS/server.log" JVM_OUT="$LOGS/kafka.out"
}

# ---------------------------------------------------------------- java ----
JAVA=""
find_java() {
  if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
    JAVA="$JAVA_HOME/bin/java"
  elif command -v java >/dev/null 2>&1; then
    JAVA="$(command -v java)"
  else
    die "java not found (install a JDK >= 17 or set JAVA_HOME)"
  fi
  local spec
  spec="$("$JAVA" -XshowSettings:properties -version 2>&1 |
    awk -F'= ' '/java.specification.version/ {print $2; exit}')"
  [[ "${spec%%.*}" =~ ^[0-9]+$ && "${spec%%.*}" -ge 17 ]] ||
    die "Kafka $KAFKA_VERSION needs Java >= 17, $JAVA is '${spec:-unknown}'"
}

# ---------------------------------------------------------------- jars ----
libs_ready() { [[ -f "$LIBS/.complete" && -f "$LIBS/kafka_2.13-$KAFKA_VERSION.jar" ]]; }

ensure_libs() {
  libs_ready && return 0
  command -v mvn >/dev/null 2>&1 || die "mvn not found: needed once to fetch the Kafka jars into $LIBS"
  [[ -f "$POM" ]] || die "missing $POM"
  mkdir -p "$(dirname "$LIBS")"
  # Serialise concurrent first starts on the same cache.
  exec 8>"$(dirname "$LIBS")/.fetch.lock"
  flock 8
  if libs_ready; then exec 8>&-; return 0; fi
  local tmp t0=$EPOCHREALTIME
  tmp="$(mktemp -d "$(dirname "$LIBS")/libs.tmp.XXXXXX")"
  log "fetching Kafka $KAFKA_VERSION jars from Maven Central into $LIBS (one-time) ..."
  # -q: only errors. Maven 3.8 emits stray ANSI resets even with -B -q, and
  # prints on stdout (reserved for KEY=value lines here): capture, strip,
  # and show whatever is left on stderr.
  local rc=0 out
  mvn -B -q -f "$POM" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$tmp" >"$tmp.log" 2>&1 || rc=$?
  out="$(sed -e 's/\x1b\[[0-9;]*[A-Za-z]//g' "$tmp.log" | grep -v '^[[:space:]]*$' || true)"
  rm -f "$tmp.log"
  [[ -z "$out" ]] || printf '%s\n' "$out" >&2
  if ((rc != 0)); then
    rm -rf "$tmp"
    die "maven could not resolve the Kafka jars (exit $rc, errors above)"
  fi
  [[ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ]] || { rm -rf "$tmp"; die "maven ran but kafka_2.13-$KAFKA_VERSION.jar is missing"; }
  touch "$tmp/.complete"
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
  log "jars ready ($(find "$LIBS" -name '*.jar' | wc -l) jars, $(since "$t0") s)"
  exec 8>&-
}

# ------------------------------------------------------------- helpers ----
# Is something accepting TCP connections on HOST:$1?
port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null
}

# Send a Kafka ApiVersions v0 request (correlation id 1) and check that the
# answer carries correlation id 1 and error code 0. Pure bash, no JVM.
api_versions_ok() {
  local reply
  # shellcheck disable=SC2016 # expanded by the inner bash
  reply="$(timeout 3 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    # size=12 | api_key=18 | api_version=0 | correlation_id=1 | client_id="tf"
    printf "\x00\x00\x00\x0c\x00\x12\x00\x00\x00\x00\x00\x01\x00\x02tf" >&3
    head -c 10 <&3 | od -An -tx1 | tr -d " \n"
  ' "$HOST" "$PORT" 2>/dev/null)" || return 1
  # bytes 4..9: correlation id 00000001, error code 0000
  [[ "${reply:8:12}" == "000000010000" ]]
}

# Prints the pid of our broker if it is running, else returns 1 (and
# removes a stale pid file).
running_pid() {
  [[ -f "$PIDFILE" ]] || return 1
  local pid
  pid="$(cat "$PIDFILE" 2>/dev/null || true)"
  if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
     tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "kafka.Kafka $CONF/server.properties"; then
    echo "$pid"
    return 0
  fi
  rm -f "$PIDFILE"
  return 1
}

print_failure_logs() {
  if [[ -s "$SERVER_LOG" ]]; then
    log "---- last 60 lines of $SERVER_LOG ----"
    tail -n 60 "$SERVER_LOG" >&2
  else
    log "(no broker log at $SERVER_LOG)"
  fi
  if [[ -s "$JVM_OUT" ]]; then
    log "---- last 20 lines of JVM stdout/stderr ($JVM_OUT) ----"
    tail -n 20 "$JVM_OUT" >&2
  fi
  log "----"
}

# Kafka's cluster id: 16 random bytes, URL-safe base64 without padding
# (same format as `kafka-storage random-uuid`, without starting a JVM).
random_cluster_id() {
  local id
  while :; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    [[ "$id" != -* && ${#id} -eq 22 ]] && { echo "$id"; return; }
  done
}

# --------------------------------------------------------------- config ----
write_config() {
  mkdir -p "$CONF" "$DATA" "$LOGS"
  cat >"$CONF/server.properties.tmp" <<EOF
# Generated by scripts/kafka.sh on every start; edits are overwritten.
# Use TRADEFLOW_KAFKA_EXTRA_PROPS for overrides.
process.roles=broker,controller
node.id=$NODE_ID
controller.quorum.voters=$NODE_ID@$HOST:$CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$DATA

# single node: everything replicated once
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1

# tests create their topics explicitly
auto.create.topics.enable=false
delete.topic.enable=true
group.initial.rebalance.delay.ms=0
# allow (not impose) short client/group session timeouts for failover tests
group.min.session.timeout.ms=1000
group.consumer.min.session.timeout.ms=1000
group.consumer.min.heartbeat.interval.ms=500
transaction.max.timeout.ms=3600000
# abort transactions past their transaction.timeout.ms within ~1 s (10 s)
transaction.abort.timed.out.transaction.cleanup.interval.ms=1000

# compaction: keep the cleaner on and polling often; topics that want quick
# compaction must still set segment.ms / min.cleanable.dirty.ratio
# themselves (the active segment is never cleaned).
log.cleaner.enable=true
log.cleaner.threads=1
log.cleaner.backoff.ms=1000
log.cleaner.dedupe.buffer.size=33554432
log.retention.check.interval.ms=5000
log.initial.task.delay.ms=1000

num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
EOF
  if [[ -n "${TRADEFLOW_KAFKA_EXTRA_PROPS:-}" ]]; then
    printf '\n# TRADEFLOW_KAFKA_EXTRA_PROPS\n%s\n' "$TRADEFLOW_KAFKA_EXTRA_PROPS" >>"$CONF/server.properties.tmp"
  fi
  mv "$CONF/server.properties.tmp" "$CONF/server.properties"

  cat >"$CONF/log4j2.properties" <<EOF
# Generated by scripts/kafka.sh. Broker log (log4j2; Kafka 4.x has no log4j 1).
status = warn
name = tradeflow-kafka
appender.file.type = RollingFile
appender.file.name = FILE
appender.file.fileName = $SERVER_LOG
appender.file.filePattern = $SERVER_LOG.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 64MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 2
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.requestlog.name = kafka.request.logger
logger.requestlog.level = WARN
EOF

  write_tools_log4j
}

write_tools_log4j() {
  mkdir -p "$CONF"
  cat >"$CONF/tools-log4j2.properties" <<'EOF'
# Generated by scripts/kafka.sh. Command line tools: warnings to stderr.
status = warn
name = tradeflow-kafka-tools
appender.err.type = Console
appender.err.name = STDERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = STDERR
EOF
}

format_storage() {
  [[ -f "$DATA/meta.properties" ]] && return 0
  local cid
  cid="$(random_cluster_id)"
  log "formatting storage in $DATA (cluster id $cid) ..."
  local out
  # Static voter set (controller.quorum.voters), so neither --standalone
  # nor --initial-controllers applies.
  # transaction.version=1: with the v2 protocol (KIP-890, the 4.x default)
  # librdkafka's abort_transaction intermittently fails with INVALID_TXN_STATE
  # (confluentinc/librdkafka#4849), which is fatal for the producer. Tradeflow
  # stays exactly-once either way (the instance exits and its restart fences
  # and resumes), but the abort test would flap. Override with
  # TRADEFLOW_KAFKA_TXN_VERSION=2 to test against v2.
  if ! out="$("$JAVA" -Xmx256m -Dlog4j2.configurationFile="$CONF/tools-log4j2.properties" \
        -cp "$LIBS/*" kafka.tools.StorageTool format \
        --config "$CONF/server.properties" --cluster-id "$cid" \
        --feature "transaction.version=${TRADEFLOW_KAFKA_TXN_VERSION:-1}" 2>&1)"; then
    printf '%s\n' "$out" >&2
    die "formatting storage in $DATA failed"
  fi
  echo "$cid" >"$BASE/cluster.id"
}

# ------------------------------------------------------------- commands ----
cmd_env() {
  local prefix=""
  case "${1:-}" in
    "") ;;
    --export) prefix="export " ;;
    *) die "unknown option for env: $1 (expected --export)" ;;
  esac
  # Plain KEY=value (usable as an env file and by eval: assignments are not
  # globbed); shell-quoted only if a value has unusual characters.
  local kv key val
  for kv in "KAFKA_BROKERS=$HOST:$PORT" "KAFKA_CLASSPATH=$LIBS/*" \
            "KAFKA_DIR=$BASE" "KAFKA_LOG=$SERVER_LOG"; do
    key="${kv%%=*}" val="${kv#*=}"
    if [[ "$val" =~ ^[A-Za-z0-9_./:@*+,-]*$ ]]; then
      printf '%s%s=%s\n' "$prefix" "$key" "$val"
    else
      printf '%s%s=%q\n' "$prefix" "$key" "$val"
    fi
  done
}

cmd_status() {
  local pid
  if pid="$(running_pid)"; then
    if api_versions_ok; then
      log "running (pid $pid) at $HOST:$PORT, data in $DATA"
      return 0
    fi
    log "process $pid is alive but $HOST:$PORT does not answer Kafka requests"
    return 1
  fi
  log "not running (dir $BASE)"
  return 1
}

cmd_start() {
  local t_start=$EPOCHREALTIME
  mkdir -p "$BASE"
  exec 9>"$BASE/.lock"
  flock 9
  local pid
  if pid="$(running_pid)"; then
    if api_versions_ok; then
      log "already running (pid $pid) at $HOST:$PORT"
      echo "KAFKA_BROKERS=$HOST:$PORT"
      return 0
    fi
    log "process $pid is alive but not answering yet; waiting for it"
  else
    port_open "$PORT" && die "port $PORT on $HOST is already in use by another process (set TRADEFLOW_KAFKA_PORT)"
    port_open "$CONTROLLER_PORT" &&
      die "port $CONTROLLER_PORT on $HOST is already in use by another process (set TRADEFLOW_KAFKA_CONTROLLER_PORT)"
    find_java
    ensure_libs
    write_config
    format_storage
    [[ -f "$SERVER_LOG" ]] && mv -f "$SERVER_LOG" "$SERVER_LOG.prev"
    : >"$JVM_OUT"
    log "starting Kafka $KAFKA_VERSION (KRaft) on $HOST:$PORT, controller $HOST:$CONTROLLER_PORT, dir $BASE ..."
    # setsid+nohup: survive the calling shell/terminal. fds 8/9 (locks) and
    # the caller's stdout/stderr must not leak into the daemon, or
    # `$(scripts/kafka.sh start)` would never return.
    # shellcheck disable=SC2086
    setsid nohup "$JAVA" $HEAP_OPTS -server \
      -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
      -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError \
      -Djava.awt.headless=true \
      -Dlog4j2.configurationFile="$CONF/log4j2.properties" \
      -Dkafka.logs.dir="$LOGS" \
      -cp "$LIBS/*" kafka.Kafka "$CONF/server.properties" \
      </dev/null >"$JVM_OUT" 2>&1 8>&- 9>&- &
    pid=$!
    echo "$pid" >"$PIDFILE"
  fi

  local deadline=$((SECONDS + START_TIMEOUT))
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PIDFILE"
      log "Kafka exited during startup"
      print_failure_logs
      exit 1
    fi
    if grep -q "Kafka Server started" "$SERVER_LOG" 2>/dev/null && api_versions_ok; then
      break
    fi
    if ((SECONDS >= deadline)); then
      log "Kafka did not become ready within ${START_TIMEOUT}s; stopping it"
      print_failure_logs
      stop_pid "$pid" >/dev/null 2>&1 || true
      rm -f "$PIDFILE"
      exit 1
    fi
    sleep 0.3
  done
  log "ready in $(since "$t_start") s (pid $pid, log $SERVER_LOG)"
  echo "KAFKA_BROKERS=$HOST:$PORT"
}

stop_pid() {
  local pid="$1" waited=0
  kill -TERM "$pid" 2>/dev/null || return 0
  while kill -0 "$pid" 2>/dev/null; do
    if ((waited >= STOP_TIMEOUT * 10)); then
      log "still alive after ${STOP_TIMEOUT}s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      local _
      for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        # a zombie (not yet reaped by its new parent) is dead enough
        [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" == Z ]] && return 0
        sleep 0.1
      done
      log "error: pid $pid survived SIGKILL"
      return 1
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
}

cmd_stop() {
  local clean=false
  case "${1:-}" in
    "") ;;
    --clean) clean=true ;;
    *) die "unknown option for stop: $1 (expected --clean)" ;;
  esac
  local pid
  if pid="$(running_pid)"; then
    log "stopping Kafka (pid $pid) ..."
    local t0=$EPOCHREALTIME
    stop_pid "$pid" || die "could not stop pid $pid"
    rm -f "$PIDFILE"
    log "stopped ($(since "$t0") s)"
  else
    log "not running"
  fi
  if $clean; then
    # Only what this script creates; never the whole directory blindly.
    rm -rf "${BASE:?}/data" "${BASE:?}/logs" "${BASE:?}/config" \
      "$BASE/cluster.id" "$BASE/.lock" "$PIDFILE"
    rmdir "$BASE" 2>/dev/null || true
    log "removed data, logs and config under $BASE"
  fi
}

cmd_tool() {
  [[ $# -ge 1 ]] || die "usage: kafka.sh tool NAME [ARGS...]"
  local name="$1" cls
  shift
  case "$name" in
    topics) cls=org.apache.kafka.tools.TopicCommand ;;
    console-producer) cls=org.apache.kafka.tools.ConsoleProducer ;;
    console-consumer) cls=org.apache.kafka.tools.consumer.ConsoleConsumer ;;
    consumer-groups) cls=org.apache.kafka.tools.consumer.group.ConsumerGroupCommand ;;
    configs) cls=kafka.admin.ConfigCommand ;;
    transactions) cls=org.apache.kafka.tools.TransactionsCommand ;;
    get-offsets) cls=org.apache.kafka.tools.GetOffsetShell ;;
    api-versions) cls=org.apache.kafka.tools.BrokerApiVersionsCommand ;;
    metadata-quorum) cls=org.apache.kafka.tools.MetadataQuorumCommand ;;
    features) cls=org.apache.kafka.tools.FeatureCommand ;;
    dump-log) cls=kafka.tools.DumpLogSegments ;;
    storage) cls=kafka.tools.StorageTool ;;
    *.*) cls="$name" ;;
    *) die "unknown tool '$name' (see the header of $0)" ;;
  esac
  find_java
  ensure_libs
  write_tools_log4j
  exec "$JAVA" -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dlog4j2.configurationFile="$CONF/tools-log4j2.properties" \
    -cp "$LIBS/*" "$cls" "$@"
}

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
}

main() {
  local cmd="${1:-}"
  [[ $# -gt 0 ]] && shift
  validate_env
  case "$cmd" in
    start) [[ $# -eq 0 ]] || die "start takes no arguments"; cmd_start ;;
    stop) cmd_stop "$@" ;;
    status) cmd_status ;;
    env) cmd_env "$@" ;;
    tool) cmd_tool "$@" ;;
    fetch) find_java; ensure_libs; log "jars in $LIBS" ;;
    -h | --help | help) usage ;;
    "") usage; exit 2 ;;
    *) log "unknown command '$cmd'"; usage; exit 2 ;;
  esac
}

main "$@"
