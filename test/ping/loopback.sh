#!/usr/bin/env bash
# `vole ping NAME` end to end on loopback (no root): a vole server and an
# agent, then the command as a user runs it — the checklist, pong lines,
# verdict and summary; -o json; -n 0 ended by SIGINT; direct connections
# disabled; a server without STUN; and the errors that must come within the
# timeout instead of a hang: an agent the token may not reach, an agent that
# is not connected, a server that is not there; and usage errors (exit 2).
# usage: VOLE=build/vole test/ping/loopback.sh
# shellcheck disable=SC2015 # ok() never fails, so A && ok || bad is if-then-else here
set -uo pipefail
VOLE=${VOLE:-$(cd "$(dirname "$0")/../.." && pwd)/build/vole}
PY=${PYTHON:-python3}
dir=$(mktemp -d /tmp/vole-ping-XXXXXX)
pids=()
failed=0 passed=0
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
ok() { echo "ok: $*"; passed=$((passed + 1)); }
bad() { echo "FAIL: $1"; shift; for f in "$@"; do echo "--- $f"; tail -n 40 "$f"; done; failed=$((failed + 1)); }
wait_line() { for _ in $(seq 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }

cat >"$dir/tokens.json" <<JSON
{"agents":[{"name":"dev","token":"agent-token-dev-0123456789"},{"name":"off","token":"agent-token-off-0123456789"}],
 "clients":[{"token":"client-token-0123456789","agents":["dev","off"]}]}
JSON

# start_server LABEL [ARG...]: a server on a random port; sets PORT
start_server() {
  local label=$1
  shift
  PORT=$((20000 + RANDOM % 20000))
  "$VOLE" server -l "127.0.0.1:$PORT" -t "$dir/tokens.json" "$@" 2>"$dir/server-$label.log" &
  pids+=($!)
  SRV_PID=$!
  wait_line "$dir/server-$label.log" "listening on" || { bad "server $label did not start" "$dir/server-$label.log"; exit 1; }
  AGT_LOG="$dir/agent-$label.log"
  VOLE_URL="http://127.0.0.1:$PORT" VOLE_TOKEN=agent-token-dev-0123456789 "$VOLE" agent --name dev 2>"$AGT_LOG" &
  pids+=($!)
  AGT_PID=$!
  wait_line "$AGT_LOG" "registered as dev" || { bad "agent $label did not register" "$AGT_LOG"; exit 1; }
}
stop_server() { kill "$AGT_PID" "$SRV_PID" 2>/dev/null; wait "$AGT_PID" "$SRV_PID" 2>/dev/null; }

# vping LABEL ARG...: vole ping as the client; RC, OUT, ERR, SECS
vping() {
  local label=$1 t0
  shift
  OUT="$dir/$label.out" ERR="$dir/$label.err"
  t0=$(date +%s%N)
  RC=0
  VOLE_URL="http://127.0.0.1:$PORT" VOLE_TOKEN=client-token-0123456789 timeout 60 "$VOLE" ping "$@" >"$OUT" 2>"$ERR" || RC=$?
  SECS=$(( ($(date +%s%N) - t0) / 1000000000 ))
}

start_server main -s 127.0.0.1:0

# ---- the ordinary run: checklist (stderr), pongs + summary (stdout), verdict
vping plain dev -n 3 --wait 200ms
why=()
[ "$RC" = 0 ] || why+=("exit $RC")
for l in '^✔ preferred DERP region: 999 \(' '^✔ sent local data to vole networking coordinator$' \
         '^✔ received remote agent data from vole networking coordinator$' '^    endpoints: 127\.0\.0\.1:[0-9]+' \
         '^✔ Wireguard handshake [0-9]+s ago$' '^✔ You are connected directly \(p2p\)'; do
  grep -Eq "$l" "$ERR" || why+=("stderr lacks /$l/")
done
n=$(grep -Ec '^pong from dev (p2p via 127\.0\.0\.1:[0-9]+|proxied via DERP\(.*\)) in [0-9.]+(ms|µs|s)$' "$OUT")
[ "$n" = 3 ] || why+=("$n well-formed pong lines on stdout, want 3")
grep -Eq '^dev +3 +3 +' "$OUT" || why+=("no summary row 'dev 3 3'")
grep -q '^WORKSPACE  TOTAL  SUCCESSFUL  MIN' "$OUT" || why+=("no summary header")
grep -q 'Possible\|❗' "$ERR" && why+=("an issue on a clean loopback run: $(grep -m1 'Possible\|❗' "$ERR")")
[ ${#why[@]} = 0 ] && ok "plain: checklist, 3 pongs, direct verdict, summary" || bad "plain: ${why[*]}" "$OUT" "$ERR"

# ---- -o json: only the document on stdout
vping json dev -n 2 --wait 100ms -o json
if [ "$RC" = 0 ] && "$PY" - "$OUT" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["workspace"] == "dev", d
assert [p["sequence"] for p in d["pongs"]] == [1, 2], d
assert all("latency_ms" in p and "time" in p for p in d["pongs"]), d
assert d["summary"]["total"] == 2 and d["summary"]["successful"] == 2, d
PY
then ok "json: a document with 2 pongs and the summary"; else bad "json (exit $RC)" "$OUT" "$ERR"; fi
grep -q '^pong from dev' "$ERR" && ok "json: pong lines went to stderr" || bad "json: no pong lines on stderr" "$ERR"

# ---- --utc / --time: an RFC 3339 prefix on each pong line
vping utc dev -n 1 --utc
grep -Eq '^\[[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\] pong from dev ' "$OUT" &&
  ok "--utc: [YYYY-MM-DDThh:mm:ssZ] before the pong" || bad "--utc" "$OUT"
vping time dev -n 1 --time
grep -Eq '^\[[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2})\] pong from dev ' "$OUT" &&
  ok "--time: the local time before the pong" || bad "--time" "$OUT"

# ---- -n 0 until SIGINT: the verdict and the summary still come
OUT="$dir/int.out" ERR="$dir/int.err"
VOLE_URL="http://127.0.0.1:$PORT" VOLE_TOKEN=client-token-0123456789 "$VOLE" ping dev --wait 200ms >"$OUT" 2>"$ERR" &
ipid=$!
pids+=("$ipid")
wait_line "$OUT" '^pong from dev' && sleep 0.5
kill -INT "$ipid"
RC=0
for _ in $(seq 50); do kill -0 "$ipid" 2>/dev/null || break; sleep 0.1; done
wait "$ipid" || RC=$?
if [ "$RC" = 0 ] && grep -q '^✔ You are connected directly' "$ERR" && grep -Eq '^dev +[0-9]+ +[0-9]+ ' "$OUT"; then
  ok "-n 0: Ctrl-C prints the verdict and the summary"
else
  bad "-n 0 + SIGINT: exit $RC" "$OUT" "$ERR"
fi

# ---- direct connections disabled locally: DERP only, and said so
vping nodirect dev -n 2 --wait 100ms --disable-direct-connections
if [ "$RC" = 0 ] && [ "$(grep -c '^pong from dev proxied via DERP(' "$OUT")" = 2 ] &&
   grep -q '^❗ Direct connections are disabled locally' "$ERR" &&
   grep -q '^❗ You are connected via a DERP relay, not directly (p2p)$' "$ERR"; then
  ok "--disable-direct-connections: 2 pongs via DERP, the message and the DERP verdict"
else
  bad "--disable-direct-connections (exit $RC)" "$OUT" "$ERR"
fi

# ---- errors within the timeout, never a hang
vping offline off -n 1 -t 2s
grep -q '^vole ping: error: agent "off" is not connected to the vole coordinator' "$ERR" && [ "$RC" = 1 ] && [ "$SECS" -le 10 ] &&
  ok "an agent that is not connected: said so in ${SECS}s, exit 1" || bad "agent not connected (exit $RC, ${SECS}s)" "$ERR"
vping forbidden prod -n 1 -t 2s
grep -q 'agent "prod": not found or not allowed' "$ERR" && [ "$RC" = 1 ] &&
  ok "an agent the token may not reach: refused, exit 1" || bad "forbidden agent (exit $RC)" "$ERR"
stop_server
deadport=$PORT
vping noserver dev -n 1 -t 2s --url "http://127.0.0.1:$deadport"
grep -q "^vole ping: error: could not reach the vole coordinator at http://127.0.0.1:$deadport within 2s" "$ERR" &&
  [ "$RC" = 1 ] && [ "$SECS" -le 10 ] && ok "no server: said so in ${SECS}s, exit 1" || bad "no server (exit $RC, ${SECS}s)" "$ERR"

# ---- a server without STUN: the map has none, and vole ping says so (-v:
# on loopback the path is direct anyway, and a direct path shows no issues)
start_server nostun -s off
vping nostun dev -n 1 -v
if [ "$RC" = 0 ] && grep -q '^❗ The DERP map is not configured to use STUN$' "$ERR" &&
   grep -q '^   docs/TROUBLESHOOTING.md#no-stun-servers$' "$ERR"; then
  ok "server --stun-listen off: 'The DERP map is not configured to use STUN' with its link"
else
  bad "no STUN (exit $RC)" "$OUT" "$ERR"
fi
stop_server

# ---- usage errors: one line, exit 2
for args in "" "-n x dev" "-o yaml dev" "--wait nope dev" "dev extra" "-t 0s dev" "Bad_Name"; do
  # shellcheck disable=SC2086 # word splitting wanted
  vping usage $args
  [ "$RC" = 2 ] && [ "$(wc -l <"$ERR")" -ge 1 ] && ok "usage: vole ping $args -> exit 2: $(head -n1 "$ERR")" ||
    bad "usage: vole ping $args -> exit $RC" "$ERR"
done
RC=0
VOLE_DISABLE_DIRECT_CONNECTIONS=maybe "$VOLE" ping dev --url http://127.0.0.1:1 --token x >/dev/null 2>"$dir/env.err" || RC=$?
[ "$RC" = 2 ] && grep -q 'VOLE_DISABLE_DIRECT_CONNECTIONS="maybe": want true or false' "$dir/env.err" &&
  ok "a bad VOLE_DISABLE_DIRECT_CONNECTIONS: exit 2" || bad "bad env (exit $RC)" "$dir/env.err"
for sw in VOLE_GRO VOLE_UDP_NO_OFFLOAD; do
  RC=0
  env "$sw=maybe" "$VOLE" ping dev --url http://127.0.0.1:1 --token x >/dev/null 2>"$dir/env.err" || RC=$?
  [ "$RC" = 2 ] && grep -q "vole ping: $sw=\"maybe\": want true or false" "$dir/env.err" &&
    ok "a bad $sw: exit 2" || bad "bad $sw (exit $RC)" "$dir/env.err"
done

echo "vole ping loopback: $passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
