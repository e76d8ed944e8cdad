#!/bin/bash
# shellcheck disable=SC2317,SC2154 # functions called indirectly; RATE_* set by printf -v
# shellcheck source-path=SCRIPTDIR
# `vole speedtest` throughput next to the wireguard-go baseline, one run:
#
#   direct  vole server, vole agent dev and vole speedtest dev -d on the
#           loopback of one namespace (as scripts/demo.sh, unprivileged)
#   DERP    the same with the server's --block-direct-connections: every
#           packet goes client -> server -> agent over TCP (DERP)
#   wg-go   iperf3 over two wireguard-go peers in namespaces (the baseline
#           of bench/wg_throughput.sh, its setup reused)
#
# each for DURATION seconds (default 5, at most 30), download and upload,
# then a table in Gbit/s with the ratio vole / wireguard-go in the same data
# direction (download: the agent / iperf3 server sends, iperf3 -R; upload:
# the client sends).  vole speedtest reports as Coder does: a download as
# the client received it, an upload as the client wrote it; iperf3 as its
# receiver counted.  Prints figures only; never judges speed.
#
# Usage (root): bench/speedtest.sh     env: VOLE, DURATION, KEEP_TMP=1
# Sourced (bench/run.sh), it only defines its functions (and those of
# wg_throughput.sh): lo_setup, tailnet_up/tailnet_down, speedtest, ping_rtt.

DURATION=${DURATION:-5}
# shellcheck source=wg_throughput.sh
. "$(dirname "${BASH_SOURCE[0]}")/wg_throughput.sh"

need_cmds setpriv timeout "$PYTHON"

NSL="$NS_PREFIX-lo"
TOK_AGENT=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
TOK_CLIENT=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')

grep_log() { grep -qF -- "$2" "$1" 2>/dev/null; }

lo_setup() {
	ns_new "$NSL" || return 1
	cat >"$TMPD/tokens.json" <<-EOF
		{"agents": [{"name": "dev", "token": "$TOK_AGENT"}],
		 "clients": [{"token": "$TOK_CLIENT", "agents": ["dev"]}]}
	EOF
	chmod 644 "$TMPD/tokens.json"
}

# tailnet_up PORT [SERVER_ARG...]: vole server on 127.0.0.1:PORT (STUN on
# PORT+1) and vole agent dev, both as nobody in ns lo; sets VSRV, VAGT
tailnet_up() {
	local port=$1
	shift
	URL="http://127.0.0.1:$port"
	spawn VSRV "$TMPD/server-$port.log" run_unpriv "$NSL" "$VOLE" server --listen "127.0.0.1:$port" \
		--tokens "$TMPD/tokens.json" --stun-listen "127.0.0.1:$((port + 1))" "$@"
	if ! wait_for 10 grep_log "$TMPD/server-$port.log" "listening on"; then
		log "vole server did not start"
		show_log "$TMPD/server-$port.log"
		return 1
	fi
	spawn VAGT "$TMPD/agent-$port.log" run_unpriv "$NSL" "$VOLE" agent --url "$URL" --token "$TOK_AGENT" --name dev
	if ! wait_for 15 grep_log "$TMPD/agent-$port.log" "registered as dev"; then
		log "vole agent did not register"
		show_log "$TMPD/agent-$port.log"
		return 1
	fi
}

tailnet_down() {
	[ -n "${VAGT:-}" ] && stop_pid "$VAGT"
	[ -n "${VSRV:-}" ] && stop_pid "$VSRV"
	VAGT='' VSRV=''
}

# speedtest NAME down|up [ARG...]: one `vole speedtest dev -o json`, its
# overall rate into RATE_<NAME> (Gbit/s, or "n/a") and its path ("via ...")
# into VIA_<NAME>
speedtest() {
	local name=$1 dir=$2 out="$TMPD/st-$1.json" err="$TMPD/st-$1.err" rate via
	shift 2
	run_unpriv "$NSL" timeout $((DURATION + 60)) "$VOLE" speedtest dev --url "$URL" --token "$TOK_CLIENT" \
		-t "${DURATION}s" --direction "$dir" -o json "$@" >"$out" 2>"$err"
	rate=$("$PYTHON" - "$out" <<-'EOF'
		import json, sys
		try:
		    print("%.3f" % (json.load(open(sys.argv[1]))["overall"]["throughput_mbits"] / 1e3))
		except Exception:
		    print("n/a")
	EOF
	)
	via=$(sed -n 's/^[0-9]*ms via //p' "$err" | head -n 1)
	[ "$rate" = n/a ] && log "$name: vole speedtest gave no result: $(tail -n 3 "$err" | tr '\n' ' ')"
	printf -v "RATE_$name" '%s' "$rate"
	printf -v "VIA_$name" '%s' "${via:-?}"
	log "$name: $rate Gbit/s via ${via:-?}"
}

# ------------------------------------------------------------------ ping RTT
# >>> PING RTT: p50/p99 of `vole ping NAME`, direct and via DERP <<<
# ping_rtt LABEL: called while the tailnet of one path is up (URL, ns lo);
# sets PING_<LABEL> to "P50 / P99" in ms, or "n/a". Pong lines round to the
# millisecond (Coder's format), so the figures come from `-o json`, whose
# latency_ms is the unrounded round trip of each disco ping.
PING_COUNT=${PING_COUNT:-200}
ping_rtt() {
	local label=$1 out="$TMPD/ping-$1.json" p
	printf -v "PING_$label" '%s' n/a
	run_unpriv "$NSL" timeout $((PING_COUNT / 10 + 60)) "$VOLE" ping dev --url "$URL" --token "$TOK_CLIENT" \
		-n "$PING_COUNT" --wait "${PING_WAIT:-10ms}" -o json >"$out" 2>"$TMPD/ping-$1.err"
	p=$("$PYTHON" - "$out" <<-'EOF'
		import json, sys
		try:
		    pongs = json.load(open(sys.argv[1]))["pongs"]
		except (OSError, ValueError, KeyError):
		    pongs = []
		v = sorted(p["latency_ms"] for p in pongs if "latency_ms" in p)
		pct = lambda q: v[min(len(v) - 1, int(q * len(v)))]
		print("%.3f / %.3f (%d pongs)" % (pct(0.5), pct(0.99), len(v)) if v else "n/a")
	EOF
	)
	printf -v "PING_$label" '%s' "$p"
	log "ping $label: p50 / p99 ms: $p"
}
# <<< PING RTT >>>

# derp_runs: the DERP path (the server's --block-direct-connections), both
# directions, and the ping RTT over it
derp_runs() {
	if tailnet_up 18090 --block-direct-connections; then
		speedtest derp_down down
		speedtest derp_up up
		ping_rtt derp
	fi
	tailnet_down
}

# wggo_runs: iperf3 over the two wireguard-go peers, both directions; 1
# (rows n/a) when they could not be set up
wggo_runs() {
	if ! wgpair_setup; then
		log "wireguard-go setup failed: its rows are n/a"
		return 1
	fi
	iperf wggo_down "$NSC" 198.19.0.1 5201 -R
	iperf wggo_up "$NSC" 198.19.0.1 5201
}

row() { printf '%-50s %8s %11s  %s\n' "$1" "$2" "$3" "${4:-}"; }

main() {
	local v
	for v in direct_down direct_up derp_down derp_up wggo_down wggo_up; do printf -v "RATE_$v" n/a; done
	for v in direct_down direct_up derp_down derp_up; do printf -v "VIA_$v" '?'; done
	PING_direct=n/a PING_derp=n/a
	if [ ! -x "$VOLE" ]; then
		echo "no vole binary at $VOLE" >&2
		exit 1
	fi
	lo_setup || exit 1
	log "${DURATION} s per run, $(nproc) CPUs, $(uname -r), $(wireguard-go --version | head -n1), $("$VOLE" --version 2>&1 | head -n1)"

	if tailnet_up 18080; then
		speedtest direct_down down -d
		speedtest direct_up up -d
		ping_rtt direct
	fi
	tailnet_down
	derp_runs
	wggo_runs

	echo
	row "path (data direction)" "Gbit/s" "vole/wg-go" "path"
	row "vole speedtest direct, download (agent sends)" "$RATE_direct_down" \
		"$(ratio "$RATE_direct_down" "$RATE_wggo_down")" "$VIA_direct_down"
	row "vole speedtest direct, upload (client sends)" "$RATE_direct_up" \
		"$(ratio "$RATE_direct_up" "$RATE_wggo_up")" "$VIA_direct_up"
	row "vole speedtest DERP, download (agent sends)" "$RATE_derp_down" \
		"$(ratio "$RATE_derp_down" "$RATE_wggo_down")" "$VIA_derp_down"
	row "vole speedtest DERP, upload (client sends)" "$RATE_derp_up" \
		"$(ratio "$RATE_derp_up" "$RATE_wggo_up")" "$VIA_derp_up"
	row "wg-go <- wg-go, iperf3 -R (server sends)" "$RATE_wggo_down" ""
	row "wg-go -> wg-go, iperf3 (client sends)" "$RATE_wggo_up" ""
	echo
	printf '%-50s %s\n' "vole ping RTT p50 / p99 (ms), direct" "$PING_direct"
	printf '%-50s %s\n' "vole ping RTT p50 / p99 (ms), DERP" "$PING_derp"
}

# run only when executed, not when sourced
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	main "$@"
fi
