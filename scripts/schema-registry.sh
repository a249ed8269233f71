#!/usr/bin/env bash
# Local Confluent-compatible schema registry for tests: Apicurio Registry
# (io.apicurio:apicurio-registry-app, the "-all" tar.gz distribution from
# Maven Central) with its default in-memory H2 storage, on loopback only.
#
#   scripts/schema-registry.sh start    # install if needed, start, wait until ready
#   scripts/schema-registry.sh stop
#   scripts/schema-registry.sh status   # exit 0 if up and answering, 1 otherwise
#
# On success `start` and `status` print
#   SCHEMA_REGISTRY_URL=http://127.0.0.1:18081/apis/ccompat/v7
# Apicurio serves the Confluent REST API (POST /subjects/{s}/versions,
# GET /schemas/ids/{id}, /compatibility/..., /config/...) under the path
# prefix /apis/ccompat/v7, so the URL includes it; a Confluent client just
# appends "/subjects/..." to it.
#
# State is in memory: every start is a fresh, empty registry.
#
# Environment:
#   TRADEFLOW_SR_PORT             HTTP port (default 18081)
#   TRADEFLOW_SR_APICURIO_VERSION Apicurio version (default 3.0.9; 3.3.x needs Java 21+)
#   TRADEFLOW_SR_COMPATIBILITY    global compatibility at start (default BACKWARD,
#                                 Confluent's default; NONE disables checks)
#   TRADEFLOW_SR_JAVA_OPTS        JVM options (default "-Xms32m -Xmx384m
#                                 -XX:TieredStopAtLevel=1 -XX:+UseSerialGC": C1 only and
#                                 serial GC start faster and use less memory on 2 cores)
#   TRADEFLOW_SR_START_TIMEOUT    seconds to wait for readiness (default 90)
#   JAVA_HOME                     JDK/JRE to use (else `java` on PATH)
set -euo pipefail

PORT="${TRADEFLOW_SR_PORT:-18081}"
VERSION="${TRADEFLOW_SR_APICURIO_VERSION:-3.0.9}"
COMPAT="${TRADEFLOW_SR_COMPATIBILITY:-BACKWARD}"
JAVA_OPTS="${TRADEFLOW_SR_JAVA_OPTS:--Xms32m -Xmx384m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC}"
START_TIMEOUT="${TRADEFLOW_SR_START_TIMEOUT:-90}"
HOST=127.0.0.1
PREFIX=/apis/ccompat/v7

CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/tradeflow/apicurio-registry"
INSTALL_DIR="$CACHE_ROOT/$VERSION"
RUN_DIR="$CACHE_ROOT/run-$PORT"
PID_FILE="$RUN_DIR/pid"
LOG_FILE="$RUN_DIR/registry.log"
URL="http://$HOST:$PORT$PREFIX"

if [[ -n "${JAVA_HOME:-}" ]]; then JAVA="$JAVA_HOME/bin/java"; else JAVA="java"; fi

log() { echo "schema-registry: $*" >&2; }

die() {
  log "$*"
  exit 1
}

# For failures of the registry process itself: also show its log tail.
die_with_log() {
  log "$*"
  if [[ -f "$LOG_FILE" ]]; then
    log "last lines of $LOG_FILE:"
    tail -n 40 "$LOG_FILE" >&2 || true
  fi
  exit 1
}

# Prints the pid of our registry if it is alive (and really is ours).
running_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  grep -qa apicurio "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

ready() {
  curl -sf -m 2 -o /dev/null "$URL/subjects"
}

install() {
  if [[ -d "$INSTALL_DIR" && -f "$INSTALL_DIR/.complete" ]]; then
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found (needed to fetch io.apicurio:apicurio-registry-app:$VERSION from Maven Central)"
  log "installing Apicurio Registry $VERSION into $INSTALL_DIR"
  mkdir -p "$CACHE_ROOT"
  local tmp
  tmp="$(mktemp -d "$CACHE_ROOT/.install.XXXXXX")"
  # Resolved through the local Maven repository (~/.m2); -C fails on a
  # checksum mismatch. maven-dependency-plugin 2.8 is pinned on purpose: newer
  # versions read the artifact's POM, and the parent POM of
  # apicurio-registry-app 3.0.9 (io.apicurio:apicurio-registry:3.0.9) is
  # missing from Maven Central, which makes them fail.
  if ! mvn -B -C org.apache.maven.plugins:maven-dependency-plugin:2.8:copy \
      "-Dartifact=io.apicurio:apicurio-registry-app:$VERSION:tar.gz:all" \
      "-DoutputDirectory=$tmp/dl" >"$tmp/mvn.log" 2>&1; then
    tail -n 30 "$tmp/mvn.log" >&2 || true
    rm -rf "$tmp"
    die "could not fetch io.apicurio:apicurio-registry-app:$VERSION:tar.gz:all"
  fi
  mkdir -p "$tmp/dist"
  tar -xzf "$tmp/dl/apicurio-registry-app-$VERSION-all.tar.gz" -C "$tmp/dist"
  touch "$tmp/dist/.complete"
  rm -rf "$INSTALL_DIR"
  mv "$tmp/dist" "$INSTALL_DIR"
  rm -rf "$tmp"
}

launcher_jar() {
  # 3.0.x ships a legacy-jar layout (*-runner.jar + lib/), 3.3.x a
  # quarkus fast-jar layout (quarkus-run.jar + lib/ app/ quarkus/).
  if [[ -f "$INSTALL_DIR/quarkus-run.jar" ]]; then
    echo "$INSTALL_DIR/quarkus-run.jar"
  else
    local j
    for j in "$INSTALL_DIR"/*-runner.jar; do
      [[ -f "$j" ]] && { echo "$j"; return 0; }
    done
    die "no runnable jar in $INSTALL_DIR"
  fi
}

cmd_start() {
  local pid
  if pid="$(running_pid)"; then
    if ready; then
      log "already running (pid $pid)"
      echo "SCHEMA_REGISTRY_URL=$URL"
      return 0
    fi
    die_with_log "pid $pid is running but $URL does not answer; run '$0 stop' first"
  fi
  if (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; then
    die "port $HOST:$PORT is already in use by another process (set TRADEFLOW_SR_PORT)"
  fi
  command -v "$JAVA" >/dev/null || die "java not found (set JAVA_HOME)"
  install
  local jar
  jar="$(launcher_jar)"

  mkdir -p "$RUN_DIR"
  : >"$LOG_FILE"
  local t0
  t0="$(date +%s%N)"
  # Only the plain HTTP listener, on loopback (no management interface).
  # shellcheck disable=SC2086
  (
    cd "$RUN_DIR"
    export QUARKUS_HTTP_HOST="$HOST" QUARKUS_HTTP_PORT="$PORT"
    export QUARKUS_MANAGEMENT_ENABLED=false
    # A system property, not an env var: Apicurio reads the default global
    # rules by key prefix, which only sees the dotted form.
    # use-canonical-hash: a schema that differs only in formatting from one
    # already registered gets the existing id/version, as on Confluent
    # (without it Apicurio creates a new id and version).
    exec setsid "$JAVA" $JAVA_OPTS \
      "-Dapicurio.rules.global.compatibility=$COMPAT" \
      -Dapicurio.ccompat.use-canonical-hash=true \
      -jar "$jar" </dev/null >>"$LOG_FILE" 2>&1
  ) &
  local launched=$!
  echo "$launched" >"$PID_FILE"

  local deadline=$((SECONDS + START_TIMEOUT))
  while ! ready; do
    if ! kill -0 "$launched" 2>/dev/null; then
      rm -f "$PID_FILE"
      die_with_log "registry exited during start-up"
    fi
    if ((SECONDS >= deadline)); then
      cmd_stop >/dev/null 2>&1 || true
      die_with_log "registry not ready on $URL after ${START_TIMEOUT}s"
    fi
    sleep 0.2
  done
  # The -D default above is enforced but not shown by GET /config (which
  # says NONE until a global rule is stored); store it so both agree, as on
  # a fresh Confluent registry (GET /config -> BACKWARD).
  if ! curl -sf -m 5 -o /dev/null -X PUT \
      -H 'Content-Type: application/vnd.schemaregistry.v1+json' \
      --data "{\"compatibility\":\"$COMPAT\"}" "$URL/config"; then
    cmd_stop >/dev/null 2>&1 || true
    die_with_log "could not set global compatibility $COMPAT"
  fi
  local ms=$((($(date +%s%N) - t0) / 1000000))
  log "Apicurio Registry $VERSION ready in ${ms} ms (pid $(cat "$PID_FILE"), log $LOG_FILE)"
  echo "SCHEMA_REGISTRY_URL=$URL"
}

cmd_stop() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PID_FILE"
    log "not running"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  local i
  for i in $(seq 1 75); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "pid $pid did not stop after 15s; killing"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PID_FILE"
  log "stopped (pid $pid)"
}

cmd_status() {
  local pid
  if pid="$(running_pid)" && ready; then
    log "running (pid $pid, Apicurio Registry $VERSION)"
    echo "SCHEMA_REGISTRY_URL=$URL"
    return 0
  fi
  if pid="$(running_pid)"; then
    log "pid $pid is running but $URL does not answer"
  else
    log "not running"
  fi
  return 1
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
