#!/usr/bin/env bash
# The main job: install, build, then two vole peers on loopback with fresh keys,
# a ping and a TCP transfer through the tunnel; then a tailnet server, agent and
# client (vole forward) on loopback with a TCP transfer from client to agent.
# Everything stays on 127.0.0.1; the overlays live inside the vole processes.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/install-deps.sh"
VOLE_BUILD_TARGET=vole-bin "$top/scripts/build.sh" "$top/build" >/dev/null
vole="$top/build/vole"

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {  # a random port that no TCP or UDP socket uses yet
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 40000))
    [ -z "$(ss -Htuln "sport = :$p" 2>/dev/null)" ] && { echo "$p"; return; }
  done
  echo "$p"
}
wait_banner() {  # a tunnel prints its banner once its sockets and forwards are up
  for _ in $(seq 100); do grep -q "public key" "$1" 2>/dev/null && return 0; sleep 0.05; done
  echo "demo: the tunnel did not start:" >&2; cat "$1" >&2; exit 1
}
pa=$(free_port); pb=$(free_port); sink=$(free_port); lport=$(free_port)
ka=$("$vole" genkey); kb=$("$vole" genkey)
pub_a=$(echo "$ka" | "$vole" pubkey); pub_b=$(echo "$kb" | "$vole" pubkey)
psk=$("$vole" genkey)

cat > "$work/a.conf" <<CONF
[Interface]
PrivateKey = $ka
Address = 100.64.0.1/32, fd7a:115c:a1e0::1/128
ListenPort = $pa

[Peer]
PublicKey = $pub_b
PresharedKey = $psk
AllowedIPs = 100.64.0.2/32, fd7a:115c:a1e0::2/128
Endpoint = 127.0.0.1:$pb
CONF
cat > "$work/b.conf" <<CONF
[Interface]
PrivateKey = $kb
Address = 100.64.0.2/32, fd7a:115c:a1e0::2/128
ListenPort = $pb

[Peer]
PublicKey = $pub_a
PresharedKey = $psk
AllowedIPs = 100.64.0.1/32, fd7a:115c:a1e0::1/128
Endpoint = 127.0.0.1:$pa
CONF

echo "== two vole peers on loopback"
echo "   A: $pub_a  UDP 127.0.0.1:$pa  overlay 100.64.0.1, fd7a:115c:a1e0::1"
echo "   B: $pub_b  UDP 127.0.0.1:$pb  overlay 100.64.0.2, fd7a:115c:a1e0::2"

# A TCP sink on this machine that A exposes on its overlay port 9000 (-R).
socat -u "TCP-LISTEN:$sink,bind=127.0.0.1,reuseaddr" - | sha256sum | cut -d' ' -f1 > "$work/received.sha" &
pids+=($!)
"$vole" tunnel -c "$work/a.conf" -R "9000:127.0.0.1:$sink" 2> "$work/a.log" &
pids+=($!)
wait_banner "$work/a.log"

echo
echo "== vole ping from B to A's overlay addresses"
"$vole" ping -c "$work/b.conf" -n 3 --wait 200ms 100.64.0.1
"$vole" ping -c "$work/b.conf" -n 3 --wait 200ms fd7a:115c:a1e0::1

echo
echo "== TCP through the tunnel: B listens on 127.0.0.1:$lport (-L), A connects to its local sink (-R)"
"$vole" tunnel -c "$work/b.conf" -L "127.0.0.1:$lport:100.64.0.1:9000" 2> "$work/b.log" &
pids+=($!)
wait_banner "$work/b.log"
mib=256
head -c $((mib * 1024 * 1024)) /dev/urandom > "$work/data"
sent=$(sha256sum "$work/data" | cut -d' ' -f1)
# send_timed PORT SHA_FILE: the data to 127.0.0.1:PORT, then (bounded) the
# sink's SHA-256 from SHA_FILE; sets got, secs and rate (Gbit/s)
send_timed() {
  local start end
  start=$(date +%s.%N)
  timeout 120 socat -u "OPEN:$work/data" "TCP:127.0.0.1:$1"
  for _ in $(seq 100); do [ -s "$2" ] && break; sleep 0.1; done
  end=$(date +%s.%N)
  got=$(cat "$2")
  secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
  rate=$(awk -v m="$mib" -v s="$secs" 'BEGIN { printf "%.2f", m * 8 * 1.048576 / 1000 / s }')
}
send_timed "$lport" "$work/received.sha"
echo "   sent     $mib MiB, sha256 $sent"
echo "   received        sha256 ${got:-nothing}"
echo "   $secs s, $rate Gbit/s"
if [ "$sent" != "$got" ]; then
  echo "demo: FAILED — the data did not arrive intact"; cat "$work/a.log" "$work/b.log" >&2
  exit 1
fi

# ---- the tailnet: a server, an agent and a client on loopback ----
echo
echo "== the tailnet on loopback: vole server, vole agent (exposes a sink), vole forward (the client)"
http=$(free_port); stun=$(free_port); sink2=$(free_port); lport2=$(free_port)
atok=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_'); ctok=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
cat > "$work/tokens.json" <<JSON
{"agents": [{"name": "dev", "token": "$atok"}], "clients": [{"token": "$ctok", "agents": ["dev"]}]}
JSON
wait_line() {  # wait_line FILE TEXT: bounded wait for a log line
  for _ in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  echo "demo: no \"$2\" in $1:" >&2; cat "$1" >&2; exit 1
}
socat -u "TCP-LISTEN:$sink2,bind=127.0.0.1,reuseaddr" - | sha256sum | cut -d' ' -f1 > "$work/received2.sha" &
pids+=($!)
"$vole" server --listen "127.0.0.1:$http" --tokens "$work/tokens.json" --stun-listen "127.0.0.1:$stun" 2> "$work/server.log" &
pids+=($!)
wait_line "$work/server.log" "listening on"
"$vole" agent --url "http://127.0.0.1:$http" --token "$atok" --name dev --expose "9000:127.0.0.1:$sink2" 2> "$work/agent.log" &
pids+=($!)
wait_line "$work/agent.log" "registered as dev"
"$vole" forward dev --tcp "127.0.0.1:$lport2:9000" --url "http://127.0.0.1:$http" --token "$ctok" 2> "$work/forward.log" &
pids+=($!)
wait_line "$work/forward.log" "listening on"
sed 's/^/   /' "$work/server.log" "$work/agent.log" "$work/forward.log"
send_timed "$lport2" "$work/received2.sha"
got2=$got
echo "   path lines of the client:"
grep "path dev" "$work/forward.log" | sed 's/^/     /'
echo "   sent     $mib MiB through vole forward, sha256 $sent"
echo "   received        sha256 ${got2:-nothing}"
echo "   $secs s, $rate Gbit/s"
if [ "$sent" != "$got2" ]; then
  echo "demo: FAILED — the data did not arrive intact through the tailnet"; cat "$work/server.log" "$work/agent.log" "$work/forward.log" >&2
  exit 1
fi

# ---- what a user reads on the troubleshooting page: vole ping and vole speedtest ----
echo
echo "== vole ping dev -n 5 (diagnostics on stderr, pongs and the summary on stdout)"
rc=0; timeout 60 "$vole" ping dev -n 5 --url "http://127.0.0.1:$http" --token "$ctok" > "$work/ping.out" 2>&1 || rc=$?
sed 's/^/   /' "$work/ping.out"
[ "$rc" = 0 ] || { echo "demo: FAILED — vole ping exited $rc"; exit 1; }
echo
echo "== vole speedtest dev (5 s download)"
rc=0; timeout 60 "$vole" speedtest dev --url "http://127.0.0.1:$http" --token "$ctok" > "$work/speedtest.out" 2>&1 || rc=$?
sed 's/^/   /' "$work/speedtest.out"
[ "$rc" = 0 ] || { echo "demo: FAILED — vole speedtest exited $rc"; exit 1; }
echo
echo "demo: OK — ping and ${mib} MiB through a WireGuard tunnel, ${mib} MiB from a client to an agent through the tailnet (intact), vole ping and vole speedtest"
