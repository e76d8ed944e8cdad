#!/usr/bin/env bash
# The main job: install, build, then two vole peers on loopback with fresh keys,
# a ping through the tunnel and a TCP transfer through it, checked end to end.
# Everything stays on 127.0.0.1; the overlay lives inside the two processes.
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
start=$(date +%s.%N)
timeout 120 socat -u "OPEN:$work/data" "TCP:127.0.0.1:$lport"
for _ in $(seq 100); do [ -s "$work/received.sha" ] && break; sleep 0.1; done
end=$(date +%s.%N)
got=$(cat "$work/received.sha")
secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
rate=$(awk -v m="$mib" -v s="$secs" 'BEGIN { printf "%.2f", m * 8 * 1.048576 / 1000 / s }')
echo "   sent     $mib MiB, sha256 $sent"
echo "   received        sha256 ${got:-nothing}"
echo "   $secs s, $rate Gbit/s"
if [ "$sent" = "$got" ]; then
  echo
  echo "demo: OK — ping and a ${mib} MiB TCP transfer went through the vole tunnel intact"
else
  echo "demo: FAILED — the data did not arrive intact"; cat "$work/a.log" "$work/b.log" >&2
  exit 1
fi
