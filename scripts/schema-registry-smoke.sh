#!/usr/bin/env bash
# Exercises a Confluent-compatible schema registry over HTTP with curl and
# checks the answers; prints every exchange (request body, status, response
# body) so the output doubles as a recorded transcript.
#
#   eval "$(scripts/schema-registry.sh start)"       # sets SCHEMA_REGISTRY_URL
#   SCHEMA_REGISTRY_URL=$SCHEMA_REGISTRY_URL scripts/schema-registry-smoke.sh
#
# Wants a subject that does not exist yet (TRADEFLOW_SR_SUBJECT, default
# trades-value), i.e. normally a freshly started registry. Checks only what
# Confluent Schema Registry and Apicurio's ccompat API both do (e.g. PUT
# /config answers {"compatibility":..} on Confluent, {"compatibilityLevel":..}
# on Apicurio: either is accepted).
set -euo pipefail

URL="${SCHEMA_REGISTRY_URL:-http://127.0.0.1:18081/apis/ccompat/v7}"
SUBJECT="${TRADEFLOW_SR_SUBJECT:-trades-value}"
CT='application/vnd.schemaregistry.v1+json'
ACCEPT='application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json; qs=0.9, application/json; qs=0.5'

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failures=0
checks=0

# json_get FILE EXPR: evaluates a Python expression over the parsed body `b`.
json_get() {
  python3 - "$1" "$2" <<'PY'
import json, sys
b = json.load(open(sys.argv[1]))
v = eval(sys.argv[2], {"b": b, "json": json})
print(json.dumps(v) if not isinstance(v, str) else v)
PY
}

# Wraps an Avro schema (JSON text) as {"schema": "<escaped>"}.
wrap() {
  python3 -c 'import json,sys; print(json.dumps({"schema": sys.argv[1]}, separators=(",", ":")))' "$1"
}

# ex METHOD PATH BODY|"" EXPECTED_STATUS [PYTHON_CHECK]
ex() {
  local method=$1 path=$2 body=$3 want=$4 check=${5:-}
  local args=(-s -o "$work/body" -w '%{http_code}' -X "$method" -H "Accept: $ACCEPT")
  [[ -n "$body" ]] && args+=(-H "Content-Type: $CT" --data "$body")
  local status
  status="$(curl "${args[@]}" "$URL$path")"
  echo "$method $path"
  [[ -n "$body" ]] && echo "> $body"
  echo "< $status $(cat "$work/body")"
  checks=$((checks + 1))
  local ok=1
  [[ "$status" == "$want" ]] || ok=0
  if ((ok)) && [[ -n "$check" ]]; then
    [[ "$(json_get "$work/body" "$check" 2>/dev/null || echo False)" == "true" ]] || ok=0
  fi
  if ((ok)); then
    echo "  ok"
  else
    echo "  FAILED: wanted status $want${check:+ and $check}"
    failures=$((failures + 1))
  fi
  echo
}

V1='{"type":"record","name":"Trade","namespace":"io.tradeflow","fields":[{"name":"trade_id","type":"string"},{"name":"price","type":"double"}]}'
# Formatting-only variant of V1: must map to V1's id and version.
V1_PRETTY='{ "type": "record", "name": "Trade", "namespace": "io.tradeflow",
  "fields": [ {"name": "trade_id", "type": "string"}, {"name": "price", "type": "double"} ] }'
# Compatible evolution: a new field with a default.
V2='{"type":"record","name":"Trade","namespace":"io.tradeflow","fields":[{"name":"trade_id","type":"string"},{"name":"price","type":"double"},{"name":"venue","type":"string","default":"XNAS"}]}'
# BACKWARD-incompatible: a new field without a default.
BAD='{"type":"record","name":"Trade","namespace":"io.tradeflow","fields":[{"name":"trade_id","type":"string"},{"name":"price","type":"double"},{"name":"qty","type":"long"}]}'
# Compatible with V2 but not with V1 (venue loses its default): passes
# BACKWARD, fails BACKWARD_TRANSITIVE.
V3_TRANSITIVE_BAD='{"type":"record","name":"Trade","namespace":"io.tradeflow","fields":[{"name":"trade_id","type":"string"},{"name":"price","type":"double"},{"name":"venue","type":"string"}]}'
S="/subjects/$SUBJECT"

echo "# registry: $URL, subject: $SUBJECT"
echo
ex GET /config "" 200 'b.get("compatibilityLevel") == "BACKWARD"'
ex GET "$S/versions/latest" "" 404 'b["error_code"] == 40401'

ex POST "$S/versions" "$(wrap "$V1")" 200 'isinstance(b["id"], int)'
id1="$(json_get "$work/body" 'b["id"]')"
ex POST "$S/versions" "$(wrap "$V1")" 200 "b == {\"id\": $id1}"
ex POST "$S/versions" "$(wrap "$V1_PRETTY")" 200 "b == {\"id\": $id1}"
ex GET "/schemas/ids/$id1" "" 200 "json.loads(b[\"schema\"]) == json.loads('''$V1''')"
ex GET "$S/versions/latest" "" 200 "b[\"subject\"] == \"$SUBJECT\" and b[\"version\"] == 1 and b[\"id\"] == $id1"
ex POST "$S" "$(wrap "$V1_PRETTY")" 200 "b[\"version\"] == 1 and b[\"id\"] == $id1"

ex POST "/compatibility$S/versions/latest" "$(wrap "$V2")" 200 'b["is_compatible"] is True'
ex POST "/compatibility$S/versions/latest" "$(wrap "$BAD")" 200 'b["is_compatible"] is False'
ex POST "$S/versions" "$(wrap "$BAD")" 409 'b["error_code"] == 409'
ex POST "$S/versions" "$(wrap "$V2")" 200 "b[\"id\"] != $id1"
ex GET "$S/versions" "" 200 'b == [1, 2]'

ex PUT "/config/$SUBJECT" '{"compatibility":"BACKWARD_TRANSITIVE"}' 200 \
  '(b.get("compatibility") or b.get("compatibilityLevel")) == "BACKWARD_TRANSITIVE"'
ex GET "/config/$SUBJECT" "" 200 'b["compatibilityLevel"] == "BACKWARD_TRANSITIVE"'
ex POST "/compatibility$S/versions/latest" "$(wrap "$V3_TRANSITIVE_BAD")" 200 'b["is_compatible"] is True'
ex POST "/compatibility$S/versions" "$(wrap "$V3_TRANSITIVE_BAD")" 200 'b["is_compatible"] is False'
ex POST "$S/versions" "$(wrap "$V3_TRANSITIVE_BAD")" 409 'b["error_code"] == 409'

ex GET /schemas/ids/999999 "" 404 'b["error_code"] == 40403'
ex GET "$S/versions/99" "" 404 'b["error_code"] == 40402'
ex POST "$S" "$(wrap "$BAD")" 404 'b["error_code"] == 40403'
ex POST "$S/versions" '{"schema":"{\"type\":\"record\",\"name\":\"Broken\"}"}' 422 'b["error_code"] == 42201'

echo "$((checks - failures)) passed, $failures failed"
((failures == 0))
