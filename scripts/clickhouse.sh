#!/usr/bin/env bash
# Local ClickHouse server for tests, CI and development, from Debian's
# packages (clickhouse-server/-client 18.16 on Debian 12). Runs as a plain
# background process with its own config, data and logs; no systemd.
#
# Usage: scripts/clickhouse.sh <command> [args]
#
#   start            Install the Debian packages if missing (apt-get, needs
#                    root), start the server in the background and wait
#                    until `SELECT 1` answers over HTTP.
#                    Prints CLICKHOUSE_URL=http://127.0.0.1:<http port>.
#                    Exits 0 when it is already running.
#   stop [--clean]   Stop it (SIGTERM, SIGKILL after 20 s). --clean also
#                    deletes its data, logs and config.
#   status           Exit 0 if it is up (prints version and where), 1 if not.
#   env [--export]   Print CLICKHOUSE_URL=..., CLICKHOUSE_HOST=...,
#                    CLICKHOUSE_TCP_PORT=... as KEY=value lines.
#   client [ARGS]    Run clickhouse-client against it, e.g.
#                    scripts/clickhouse.sh client --query 'SELECT version()'
#   install          Only install the Debian packages.
#
# Environment:
#   TRADEFLOW_CH_HTTP_PORT      HTTP port                   (18123)
#   TRADEFLOW_CH_TCP_PORT       native protocol port        (19000)
#   TRADEFLOW_CH_DIR            data/log/config/pid dir     (/tmp/tradeflow-clickhouse)
#   TRADEFLOW_CH_START_TIMEOUT  seconds to wait for ready   (60)
#
# Server listens on 127.0.0.1 only; user `default`, no password; server
# time zone UTC. stdout carries only KEY=value lines (eval-friendly);
# progress and errors go to stderr.
set -euo pipefail

readonly HOST=127.0.0.1
HTTP_PORT="${TRADEFLOW_CH_HTTP_PORT:-18123}"
TCP_PORT="${TRADEFLOW_CH_TCP_PORT:-19000}"
BASE="${TRADEFLOW_CH_DIR:-/tmp/tradeflow-clickhouse}"
START_TIMEOUT="${TRADEFLOW_CH_START_TIMEOUT:-60}"
readonly STOP_TIMEOUT=20

DATA="" LOGS="" CONF="" PIDFILE="" SERVER_LOG="" ERR_LOG="" STDOUT_LOG=""
SERVER_BIN="" CLIENT_BIN=""

log() { printf 'clickhouse.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
# seconds since $1 (an $EPOCHREALTIME value), with one decimal
since() { awk -v a="${1/,/.}" -v b="${EPOCHREALTIME/,/.}" 'BEGIN { printf "%.1f", b - a }'; }

validate_env() {
  [[ "$HTTP_PORT" =~ ^[0-9]+$ ]] || die "TRADEFLOW_CH_HTTP_PORT must be a number (got '$HTTP_PORT')"
  [[ "$TCP_PORT" =~ ^[0-9]+$ ]] || die "TRADEFLOW_CH_TCP_PORT must be a number (got '$TCP_PORT')"
  [[ "$HTTP_PORT" != "$TCP_PORT" ]] || die "HTTP and native port are both $HTTP_PORT"
  [[ "$START_TIMEOUT" =~ ^[0-9]+$ ]] || die "TRADEFLOW_CH_START_TIMEOUT must be a number of seconds"
  # Canonical absolute path: it is matched against the server's command line.
  BASE="$(realpath -m -- "$BASE")"
  [[ "$BASE" != "/" ]] || die "TRADEFLOW_CH_DIR must not be /"
  DATA="$BASE/data"
  LOGS="$BASE/logs"
  CONF="$BASE/config"
  PIDFILE="$BASE/clickhouse.pid"
  SERVER_LOG="$LOGS/clickhouse-server.log"
  ERR_LOG="$LOGS/clickhouse-server.err.log"
  STDOUT_LOG="$LOGS/stdout.log"
}

# ------------------------------------------------------------- install ----
find_bins() {
  SERVER_BIN="$(command -v clickhouse-server 2>/dev/null || true)"
  [[ -n "$SERVER_BIN" || ! -x /usr/sbin/clickhouse-server ]] || SERVER_BIN=/usr/sbin/clickhouse-server
  CLIENT_BIN="$(command -v clickhouse-client 2>/dev/null || true)"
  [[ -n "$SERVER_BIN" && -n "$CLIENT_BIN" ]]
}

apt_quiet() {
  # Output goes to a file and is shown only on failure.
  local out rc=0
  out="$(mktemp)"
  apt-get -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0 "$@" >"$out" 2>&1 || rc=$?
  ((rc == 0)) || tail -n 40 "$out" >&2
  rm -f "$out"
  return "$rc"
}

ensure_installed() {
  find_bins && return 0
  [[ "$(id -u)" -eq 0 ]] ||
    die "clickhouse-server/clickhouse-client are not installed and this is not root: run 'sudo apt-get install clickhouse-server clickhouse-client' or rerun as root"
  command -v apt-get >/dev/null 2>&1 || die "clickhouse is not installed and apt-get is not available"
  export DEBIAN_FRONTEND=noninteractive
  local t0=$EPOCHREALTIME
  # No package lists yet (fresh machine) -> update first.
  if ! apt-cache policy clickhouse-server 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    log "apt-get update ..."
    apt_quiet update -q || die "apt-get update failed"
  fi
  log "installing Debian packages clickhouse-server clickhouse-client ..."
  if ! apt_quiet install -y -q --no-install-recommends clickhouse-server clickhouse-client; then
    # Stale lists (404 on a superseded .deb): refresh once and retry.
    log "install failed; running apt-get update and retrying"
    apt_quiet update -q || die "apt-get update failed"
    apt_quiet install -y -q --no-install-recommends clickhouse-server clickhouse-client ||
      die "apt-get install clickhouse-server clickhouse-client failed"
  fi
  find_bins || die "packages installed but clickhouse-server/clickhouse-client not found"
  log "installed $(dpkg-query -W -f='${Version}' clickhouse-server 2>/dev/null) in $(since "$t0") s"
}

# ------------------------------------------------------------- helpers ----
port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null
}

# HTTP GET of a query on the HTTP interface, pure bash (curl may be
# missing). Prints the body; fails unless the status is 200.
http_query() {
  local sql="$1" enc="" c i
  for ((i = 0; i < ${#sql}; i++)); do
    c="${sql:i:1}"
    case "$c" in
      [A-Za-z0-9._~-]) enc+="$c" ;;
      *) enc+="$(printf '%%%02X' "'$c")" ;;
    esac
  done
  # shellcheck disable=SC2016 # expanded by the inner bash
  timeout 5 bash -c '
    host=$1 port=$2 query=$3 crlf=$4
    exec 3<>"/dev/tcp/$host/$port" || exit 1
    printf "GET /?query=%s HTTP/1.0%sHost: %s%s%s" "$query" "$crlf" "$host" "$crlf" "$crlf" >&3
    resp="$(cat <&3)"
    [[ "$resp" == "HTTP/1."?" 200 "* ]] || exit 1
    printf "%s" "${resp#*"$crlf$crlf"}"
  ' http_query "$HOST" "$HTTP_PORT" "$enc" $'\r\n' 2>/dev/null
}

ready() {
  local out
  out="$(http_query "SELECT 1")" || return 1
  [[ "$out" == 1* ]]
}

running_pid() {
  [[ -f "$PIDFILE" ]] || return 1
  local pid
  pid="$(cat "$PIDFILE" 2>/dev/null || true)"
  if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
     tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "--config-file=$CONF/config.xml"; then
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
    log "(no server log at $SERVER_LOG)"
  fi
  # stdout/stderr: config errors before the logger is up, crashes.
  if grep -qv '^Logging \(information\|errors\) to ' "$STDOUT_LOG" 2>/dev/null; then
    log "---- last 30 lines of server stdout/stderr ($STDOUT_LOG) ----"
    tail -n 30 "$STDOUT_LOG" >&2
  fi
  log "----"
}

stop_pid() {
  local pid="$1" waited=0
  kill -TERM "$pid" 2>/dev/null || return 0
  while kill -0 "$pid" 2>/dev/null; do
    [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" == Z ]] && return 0
    if ((waited >= STOP_TIMEOUT * 10)); then
      log "still alive after ${STOP_TIMEOUT}s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      local _
      for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || return 0
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

# --------------------------------------------------------------- config ----
write_config() {
  mkdir -p "$CONF" "$DATA" "$LOGS"
  cat >"$CONF/config.xml.tmp" <<EOF
<?xml version="1.0"?>
<!-- Generated by scripts/clickhouse.sh on every start; edits are overwritten.
     ClickHouse 18.16 (Debian): root element is <yandex>. -->
<yandex>
    <logger>
        <level>information</level>
        <log>$SERVER_LOG</log>
        <errorlog>$ERR_LOG</errorlog>
        <size>100M</size>
        <count>2</count>
    </logger>

    <listen_host>$HOST</listen_host>
    <http_port>$HTTP_PORT</http_port>
    <tcp_port>$TCP_PORT</tcp_port>
    <!-- no interserver_http_port: no replication, no extra listener -->

    <max_connections>1024</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mark_cache_size>268435456</mark_cache_size>

    <path>$DATA/</path>
    <tmp_path>$DATA/tmp/</tmp_path>
    <user_files_path>$DATA/user_files/</user_files_path>
    <format_schema_path>$DATA/format_schemas/</format_schema_path>

    <users_config>$CONF/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>

    <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
    <max_session_timeout>3600</max_session_timeout>
    <default_session_timeout>60</default_session_timeout>

    <query_log>
        <database>system</database>
        <table>query_log</table>
        <partition_by>toYYYYMM(event_date)</partition_by>
        <flush_interval_milliseconds>7500</flush_interval_milliseconds>
    </query_log>

    <!-- tests drop whatever they like -->
    <max_table_size_to_drop>0</max_table_size_to_drop>
    <max_partition_size_to_drop>0</max_partition_size_to_drop>
</yandex>
EOF
  mv "$CONF/config.xml.tmp" "$CONF/config.xml"

  cat >"$CONF/users.xml" <<'EOF'
<?xml version="1.0"?>
<!-- Generated by scripts/clickhouse.sh: user "default", no password,
     loopback only. -->
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
            <use_uncompressed_cache>0</use_uncompressed_cache>
            <load_balancing>random</load_balancing>
        </default>
        <readonly>
            <readonly>1</readonly>
        </readonly>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks>
                <ip>127.0.0.1</ip>
                <ip>::1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
EOF
}

# ------------------------------------------------------------- commands ----
cmd_env() {
  local prefix=""
  case "${1:-}" in
    "") ;;
    --export) prefix="export " ;;
    *) die "unknown option for env: $1 (expected --export)" ;;
  esac
  printf '%sCLICKHOUSE_URL=%s\n' "$prefix" "http://$HOST:$HTTP_PORT"
  printf '%sCLICKHOUSE_HOST=%s\n' "$prefix" "$HOST"
  printf '%sCLICKHOUSE_HTTP_PORT=%s\n' "$prefix" "$HTTP_PORT"
  printf '%sCLICKHOUSE_TCP_PORT=%s\n' "$prefix" "$TCP_PORT"
}

cmd_status() {
  local pid
  if pid="$(running_pid)"; then
    if ready; then
      log "running (pid $pid), ClickHouse $(http_query 'SELECT version()' | tr -d '\n'), http://$HOST:$HTTP_PORT, native $HOST:$TCP_PORT, data in $DATA"
      return 0
    fi
    log "process $pid is alive but http://$HOST:$HTTP_PORT does not answer SELECT 1"
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
    if ready; then
      log "already running (pid $pid) at http://$HOST:$HTTP_PORT"
      echo "CLICKHOUSE_URL=http://$HOST:$HTTP_PORT"
      return 0
    fi
    log "process $pid is alive but not answering yet; waiting for it"
  else
    port_open "$HTTP_PORT" && die "port $HTTP_PORT on $HOST is already in use by another process (set TRADEFLOW_CH_HTTP_PORT)"
    port_open "$TCP_PORT" && die "port $TCP_PORT on $HOST is already in use by another process (set TRADEFLOW_CH_TCP_PORT)"
    ensure_installed
    write_config
    local f
    for f in "$SERVER_LOG" "$ERR_LOG"; do
      [[ -f "$f" ]] && mv -f "$f" "$f.prev"
    done
    : >"$STDOUT_LOG"
    log "starting ClickHouse on http://$HOST:$HTTP_PORT (native $HOST:$TCP_PORT), dir $BASE ..."
    # Foreground mode (no --daemon) under setsid+nohup; the lock fd and the
    # caller's stdout must not leak into it.
    # The server resolves a relative users_config etc. against its cwd.
    (cd "$CONF" && exec setsid nohup "$SERVER_BIN" \
      --config-file="$CONF/config.xml" \
      </dev/null >"$STDOUT_LOG" 2>&1 9>&-) &
    pid=$!
    echo "$pid" >"$PIDFILE"
  fi

  local deadline=$((SECONDS + START_TIMEOUT))
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PIDFILE"
      log "ClickHouse exited during startup"
      print_failure_logs
      exit 1
    fi
    ready && break
    if ((SECONDS >= deadline)); then
      log "ClickHouse did not answer SELECT 1 within ${START_TIMEOUT}s; stopping it"
      print_failure_logs
      stop_pid "$pid" || true
      rm -f "$PIDFILE"
      exit 1
    fi
    sleep 0.2
  done
  log "ready in $(since "$t_start") s: ClickHouse $(http_query 'SELECT version()' | tr -d '\n') (pid $pid, log $SERVER_LOG)"
  echo "CLICKHOUSE_URL=http://$HOST:$HTTP_PORT"
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
    log "stopping ClickHouse (pid $pid) ..."
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
      "$BASE/.lock" "$PIDFILE"
    rmdir "$BASE" 2>/dev/null || true
    log "removed data, logs and config under $BASE"
  fi
}

cmd_client() {
  find_bins || die "clickhouse-client is not installed (run: $0 install)"
  exec "$CLIENT_BIN" --host "$HOST" --port "$TCP_PORT" "$@"
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
    client) cmd_client "$@" ;;
    install) ensure_installed; log "installed: $SERVER_BIN, $CLIENT_BIN" ;;
    -h | --help | help) usage ;;
    "") usage; exit 2 ;;
    *) log "unknown command '$cmd'"; usage; exit 2 ;;
  esac
}

main "$@"
