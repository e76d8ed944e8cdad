#!/usr/bin/env bash
# DERP relay figures on loopback: starts `vole derp` (its own process) on a
# free port, then runs vole-bench-derp against it:
#   memory      the server's VmRSS per connected idle client (IDLE clients)
#   throughput  two clients blasting SIZE-byte packets through it for SECONDS,
#               one way, then both ways, then one way over WebSocket
# Prints figures only; never judges speed.
#
# usage: bench/derp.sh [BUILD_DIR]     env: SECONDS_=5 SIZE=1300 IDLE=2000
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
secs=${SECONDS_:-5}
size=${SIZE:-1300}
idle=${IDLE:-2000}

cmake --build "$build" --target vole-bin vole-bench-derp >/dev/null
# Both processes hold one descriptor per idle client.
ulimit -n "$(ulimit -Hn)"

log=$(mktemp)
"$build/vole" derp --listen 127.0.0.1:0 2>"$log" &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -f "$log"' EXIT

port=
for _ in $(seq 50); do
	port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log")
	[ -n "$port" ] && break
	sleep 0.1
done
if [ -z "$port" ]; then
	echo "derp.sh: vole derp did not start:" >&2
	cat "$log" >&2
	exit 1
fi

url="http://127.0.0.1:$port"
echo "vole derp (pid $pid) on $url; $(nproc) CPUs, client and server in separate processes"
"$build/vole-bench-derp" --url "$url" --seconds "$secs" --size "$size" --idle "$idle" --server-pid "$pid"
"$build/vole-bench-derp" --url "$url" --seconds "$secs" --size "$size" --bidir
"$build/vole-bench-derp" --url "$url" --seconds "$secs" --size "$size" --websocket
