#!/usr/bin/env bash
# `vole speedtest --pcap-file` on loopback, read back by `tshark -r`: a vole
# server, an agent and a 1 s speedtest in each direction, the capture must
# hold TCP to the agent's overlay port 3 as tshark decodes it. Then
# --disable-direct-connections: the test runs over DERP, and with -d it is a
# usage error.
# usage: VOLE=build/vole test/speedtest/tshark.sh   (exit 77: tshark missing)
set -uo pipefail
VOLE=${VOLE:-$(cd "$(dirname "$0")/../.." && pwd)/build/vole}
command -v tshark >/dev/null || { echo "skip: tshark is not installed"; exit 77; }
dir=$(mktemp -d /tmp/vole-speedtest-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$dir"/*.log; do echo "--- $f"; cat "$f"; done; exit 1; }

port=$((20000 + RANDOM % 20000))
cat > "$dir/tokens.json" <<JSON
{"agents":[{"name":"dev","token":"agent-token-dev-0123456789"}],
 "clients":[{"token":"client-token-0123456789","agents":["dev"]}]}
JSON
"$VOLE" server -l "127.0.0.1:$port" -t "$dir/tokens.json" -s 127.0.0.1:0 2>"$dir/server.log" & pids+=($!)
for _ in $(seq 50); do grep -q "listening on" "$dir/server.log" && break; sleep 0.1; done
export VOLE_URL="http://127.0.0.1:$port"
VOLE_TOKEN=agent-token-dev-0123456789 "$VOLE" agent --name dev 2>"$dir/agent.log" & pids+=($!)
for _ in $(seq 100); do grep -q "registered as dev" "$dir/agent.log" && break; sleep 0.1; done

for dir_ in down up; do
  pcap="$dir/$dir_.pcap"
  VOLE_TOKEN=client-token-0123456789 timeout 60 "$VOLE" speedtest dev -t 1s --direction "$dir_" \
      --pcap-file "$pcap" >"$dir/$dir_.out" 2>"$dir/$dir_.log" || fail "speedtest --direction $dir_"
  grep -q "^Starting a 1s $( [ $dir_ = down ] && echo download || echo upload ) test...$" "$dir/$dir_.log" ||
    fail "no start line"
  grep -q "^0.00-" "$dir/$dir_.out" || fail "no rows"
  n=$(tshark -r "$pcap" -Y "tcp.port == 3" 2>"$dir/tshark.log" | wc -l)
  [ "$n" -gt 100 ] || fail "tshark -r $pcap: $n packets to or from port 3"
  echo "ok: --direction $dir_: tshark read $n packets of port 3"
done
VOLE_TOKEN=client-token-0123456789 timeout 60 "$VOLE" speedtest dev -t 1s --disable-direct-connections \
    >"$dir/derp.out" 2>"$dir/derp.log" || fail "speedtest --disable-direct-connections"
grep -Eq '^[0-9]+ms via DERP\(.+\)$' "$dir/derp.log" || fail "--disable-direct-connections: no 'via DERP(...)' line"
echo "ok: --disable-direct-connections: $(grep -E 'via DERP' "$dir/derp.log")"
rc=0
VOLE_TOKEN=client-token-0123456789 "$VOLE" speedtest dev -d --disable-direct-connections 2>"$dir/usage.log" || rc=$?
if [ "$rc" != 2 ] || ! grep -q 'incompatible with --disable-direct-connections' "$dir/usage.log"; then
  fail "-d with --disable-direct-connections: exit $rc"
fi
echo "ok: -d with --disable-direct-connections: exit 2"
echo "speedtest pcap: all ok"
