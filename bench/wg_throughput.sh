#!/bin/bash
# shellcheck disable=SC2317,SC2154 # functions called indirectly; RATE_* set by printf -v
# shellcheck source-path=SCRIPTDIR
# TCP throughput through WireGuard, in network namespaces, one run:
#
#   baseline  wireguard-go <-> wireguard-go, kernel TCP over both TUNs (iperf3)
#   vole -L   iperf3 client in ns vole -> 127.0.0.1:15201 -> vole -L -> iperf3
#             server in ns srv (behind wireguard-go)
#   vole -R   iperf3 client in ns srv -> vole's overlay port 5201 -> vole -R ->
#             iperf3 server on ns vole's loopback
# each for DURATION seconds (default 10), in both directions (iperf3 -R), then
# a table in Gbit/s with the ratio vole / (wireguard-go baseline in the same
# iperf3 mode).  Prints figures only; never judges speed.
#
#   ns cli (wireguard-go)  198.18.1.2 --veth-- 198.18.1.1  ns srv (wireguard-go, iperf3 -s)
#                                             198.18.2.1  --veth-- 198.18.2.2  ns vole (vole, nobody)
#   overlay: srv 198.19.0.1, cli 198.19.0.2, vole 198.19.0.3
#
# Usage (root): bench/wg_throughput.sh     env: VOLE, DURATION, KEEP_TMP=1
# Sourced (bench/speedtest.sh), it only defines: wgpair_setup (the two
# wireguard-go peers and the iperf3 server), iperf, ratio.

# shellcheck disable=SC2034 # read by lib.sh
LIB_TAG=vole-b # namespace prefix
# shellcheck source=../test/interop/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../test/interop/lib.sh"

need_root
need_cmds ip wg wireguard-go iperf3 ss setpriv timeout "$PYTHON"

DURATION=${DURATION:-10}
NSS="$NS_PREFIX-srv"
NSC="$NS_PREFIX-cli"
NSV="$NS_PREFIX-vole"
IFS_="vbs$$"
IFC="vbc$$"

# wgpair_setup: ns srv and ns cli, a wireguard-go peer in each, iperf3 -s on
# srv's overlay address 198.19.0.1:5201 (the baseline); srv also lists the
# vole peer (198.19.0.3), which only vole_setup brings up
wgpair_setup() {
	ns_new "$NSS" && ns_new "$NSC" || return 1
	veth_pair "$NSS" us 198.18.1.1/24 "$NSC" uc 198.18.1.2/24 || return 1
	genkeys S && genkeys C && genkeys V || return 1
	cat >"$TMPD/srv.conf" <<-EOF
		[Interface]
		PrivateKey = $S_PRIV
		ListenPort = 51820

		[Peer]
		PublicKey = $C_PUB
		Endpoint = 198.18.1.2:51820
		AllowedIPs = 198.19.0.2/32

		[Peer]
		PublicKey = $V_PUB
		AllowedIPs = 198.19.0.3/32
	EOF
	cat >"$TMPD/cli.conf" <<-EOF
		[Interface]
		PrivateKey = $C_PRIV
		ListenPort = 51820

		[Peer]
		PublicKey = $S_PUB
		Endpoint = 198.18.1.1:51820
		AllowedIPs = 198.19.0.0/24
	EOF
	chmod 644 "$TMPD"/*.conf
	wggo_start "$NSS" "$IFS_" "$TMPD/srv.conf" 198.19.0.1/24 || return 1
	wggo_start "$NSC" "$IFC" "$TMPD/cli.conf" 198.19.0.2/24 || return 1
	spawn SRV_IPERF "$TMPD/iperf3-srv.log" nsx "$NSS" iperf3 -s -B 198.19.0.1 -p 5201
	wait_for 10 tcp_listening "$NSS" 5201
}

# vole_setup: ns vole, linked to ns srv, and vole's config (the peer of srv)
vole_setup() {
	ns_new "$NSV" || return 1
	veth_pair "$NSS" usv 198.18.2.1/24 "$NSV" uv 198.18.2.2/24 || return 1
	cat >"$TMPD/vole.conf" <<-EOF
		[Interface]
		PrivateKey = $V_PRIV
		Address = 198.19.0.3/24
		ListenPort = 51821
		MTU = 1420

		[Peer]
		PublicKey = $S_PUB
		Endpoint = 198.18.2.1:51820
		AllowedIPs = 198.19.0.0/24
	EOF
	chmod 644 "$TMPD/vole.conf"
}

# iperf NAME NS HOST PORT [-R]: one iperf3 run, receiver's rate into RATE_<NAME>
# (Gbit/s, or "n/a")
iperf() {
	local name=$1 ns=$2 host=$3 port=$4 json="$TMPD/iperf-$1.json" rate
	shift 4
	nsx "$ns" timeout $((DURATION + 30)) iperf3 -c "$host" -p "$port" -t "$DURATION" -J "$@" >"$json" 2>"$json.err"
	rate=$("$PYTHON" - "$json" <<-'EOF'
		import json, sys
		try:
		    d = json.load(open(sys.argv[1]))
		    print("%.3f" % (d["end"]["sum_received"]["bits_per_second"] / 1e9))
		except Exception:
		    print("n/a")
	EOF
	)
	if [ "$rate" = n/a ]; then
		log "$name: iperf3 gave no result: $(grep -o '"error":.*' "$json" | head -c 200)$(head -c 200 "$json.err")"
	fi
	printf -v "RATE_$name" '%s' "$rate"
	log "$name: $rate Gbit/s"
}

run_vole() {
	local pid
	if [ ! -x "$VOLE" ]; then
		log "no vole binary at $VOLE: vole rows are n/a"
		return 1
	fi
	spawn pid "$TMPD/vole.log" run_unpriv "$NSV" "$VOLE" tunnel -v -c "$TMPD/vole.conf" \
		-L 127.0.0.1:15201:198.19.0.1:5201 -R 5201:127.0.0.1:5202
	spawn LOC_IPERF "$TMPD/iperf3-vole.log" nsx "$NSV" iperf3 -s -B 127.0.0.1 -p 5202
	if ! wait_for 10 udp_bound "$NSV" 51821 || ! wait_for 10 tcp_listening "$NSV" 15201; then
		log "vole did not start"
		show_log "$TMPD/vole.log"
		stop_pid "$pid"
		return 1
	fi
	iperf vole_L_up "$NSV" 127.0.0.1 15201
	iperf vole_L_down "$NSV" 127.0.0.1 15201 -R
	iperf vole_R_up "$NSS" 198.19.0.3 5201
	iperf vole_R_down "$NSS" 198.19.0.3 5201 -R
	stop_pid "$pid"
	stop_pid "$LOC_IPERF"
	log "vole's counters:"
	grep -E "udp:|drops" "$TMPD/vole.log" | sed 's/^/#   /' >&2
}

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "n/a" || b == "n/a" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'
}

row() { printf '%-46s %10s %12s\n' "$1" "$2" "$3"; }

main() {
	if ! wgpair_setup || ! vole_setup; then
		echo "setup failed" >&2
		exit 1
	fi
	log "iperf3 TCP, ${DURATION} s per run, $(nproc) CPUs, $(uname -r), $(wireguard-go --version | head -n1)"
	iperf wggo_up "$NSC" 198.19.0.1 5201
	iperf wggo_down "$NSC" 198.19.0.1 5201 -R
	for v in vole_L_up vole_L_down vole_R_up vole_R_down; do printf -v "RATE_$v" n/a; done
	run_vole

	echo
	row "path (data direction)" "Gbit/s" "vole/wg-go"
	row "wg-go -> wg-go (iperf3 client sends)" "$RATE_wggo_up" ""
	row "wg-go <- wg-go (iperf3 -R, server sends)" "$RATE_wggo_down" ""
	row "vole -L: vole -> wg-go (client sends)" "$RATE_vole_L_up" "$(ratio "$RATE_vole_L_up" "$RATE_wggo_up")"
	row "vole -L: vole <- wg-go (-R, server sends)" "$RATE_vole_L_down" "$(ratio "$RATE_vole_L_down" "$RATE_wggo_down")"
	row "vole -R: wg-go -> vole (client sends)" "$RATE_vole_R_up" "$(ratio "$RATE_vole_R_up" "$RATE_wggo_up")"
	row "vole -R: wg-go <- vole (-R, server sends)" "$RATE_vole_R_down" "$(ratio "$RATE_vole_R_down" "$RATE_wggo_down")"
}

# run only when executed, not when sourced
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	main "$@"
fi
