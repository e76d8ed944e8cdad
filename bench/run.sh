#!/bin/bash
# shellcheck disable=SC2317,SC2154 # functions called indirectly; RATE_*/PING_* set by printf -v
# shellcheck source-path=SCRIPTDIR
# Issue #8's whole benchmark in one command: one table of figures, ratios and
# targets.  Measures, in one run (DURATION seconds per throughput run, default 5):
#
#   ceiling    iperf3 over the loopback of one namespace (kernel TCP, no tunnel)
#   wg-go      iperf3 over two wireguard-go peers in namespaces (bench/wg_throughput.sh's
#              setup), download (iperf3 -R) and upload
#   vole       vole server, vole agent dev and the clients on the loopback of one
#              namespace, all as nobody (bench/speedtest.sh's setup):
#                idle agent     VmRSS 5 s after the agent started
#                first pong     `vole ping dev -n 1`: its pong line, and its exit
#                direct path    `vole forward`: its "path dev: direct" line
#                speedtest      direct (-d) download and upload; the client's peak
#                               VmRSS (sampled every 100 ms) during the download
#                ping RTT       p50 / p99 of 200 disco pings (-o json)
#              then the same speedtests and pings with the server's
#              --block-direct-connections (every packet through DERP)
#   UDP floor  vole-bench-udprtt (bench/udp_rtt.c): a plain UDP round trip
#              between two processes, pings 10 ms apart: the floor under ping RTT
#   relay      `vole derp` (the DERP server `vole server` embeds; `vole server`
#              itself admits only keys a coordinator session registered, so
#              the bench clients cannot use it) and vole-bench-derp
#              (bench/derp_relay.c): server VmRSS per idle connected client,
#              packets/s relayed one way and both ways
#
# Times are wall clock from just before the command starts (including `ip netns
# exec` and setpriv) to the moment its line is read from its output: every
# output line is stamped with $EPOCHREALTIME as it arrives.
#
# Prints figures only; never judges speed.  Exits 1 when a measurement could
# not run at all (its figure is n/a), 0 otherwise, whatever the figures.
#
# Usage (root): bench/run.sh
#   env: VOLE (default build/vole), BENCH_DERP (default: vole-bench-derp next to
#        VOLE), BENCH_UDPRTT (vole-bench-udprtt next to VOLE), DURATION (5), DERP_CLIENTS (10000), DERP_SECONDS (3),
#        PING_COUNT (200), PING_WAIT (10ms: vole ping --wait), KEEP_TMP=1
# Sourced (bench/profile.sh), it only defines its functions (and those of
# speedtest.sh and wg_throughput.sh).

DURATION=${DURATION:-5}
# shellcheck source=speedtest.sh
. "$(dirname "${BASH_SOURCE[0]}")/speedtest.sh"

BENCH_DERP=${BENCH_DERP:-$(dirname "$VOLE")/vole-bench-derp}
BENCH_UDPRTT=${BENCH_UDPRTT:-$(dirname "$VOLE")/vole-bench-udprtt}
DERP_CLIENTS=${DERP_CLIENTS:-10000}
DERP_SECONDS=${DERP_SECONDS:-3}
DERP_SIZE=1300
LO_PORT=5301 # the ceiling's iperf3 server, on ns lo's loopback
NA=()        # the figures that could not be measured

# ------------------------------------------------------------------ helpers

# stamp_lines: copy stdin to stdout, each line prefixed with the time it
# arrived ($EPOCHREALTIME, seconds with microseconds)
stamp_lines() {
	local l
	while IFS= read -r l; do printf '%s %s\n' "$EPOCHREALTIME" "$l"; done
}

# ms_between T0 T1: milliseconds from T0 to T1 (both $EPOCHREALTIME), 1 decimal
ms_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) * 1000 }'; }

# rss_kb PID: VmRSS of PID in kB; fails when the process is gone
rss_kb() {
	local k v _
	while read -r k v _; do
		if [ "$k" = VmRSS: ]; then
			echo "$v"
			return 0
		fi
	done 2>/dev/null <"/proc/$1/status"
	return 1
}

# pongs PING_X: the "N pongs" of "P50 / P99 (N pongs)" (or "n/a")
pongs() {
	local p=${1##*(}
	echo "${p%)}"
}

mib() { awk -v k="$1" 'BEGIN { if (k == "n/a") print "n/a"; else printf "%.1f", k / 1024 }'; }

# vole_pid_in NS WORD: the pid of a vole process in NS whose command line has
# WORD as an argument
vole_pid_in() {
	local p
	for p in $(ip netns pids "$1" 2>/dev/null); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = vole ] || continue
		if tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | grep -qxF -- "$2"; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# await_vole WORD: the pid of the vole process in ns lo with WORD as an
# argument, waiting for it at most 20 s; fails when it never appears
await_vole() {
	local i pid
	for ((i = 0; i < 200; i++)); do
		pid=$(vole_pid_in "$NSL" "$1") && {
			echo "$pid"
			return 0
		}
		sleep 0.1
	done
	return 1
}

# rss_peak WORD LIMIT: waits (at most 20 s) for the vole process in ns lo
# with WORD, then samples its VmRSS every 100 ms until it exits (at most
# LIMIT s); prints "PEAK_KB SAMPLES"
rss_peak() {
	local pid peak=0 n=0 kb i
	if ! pid=$(await_vole "$1"); then
		echo "n/a 0"
		return 1
	fi
	for ((i = 0; i < $2 * 10; i++)); do
		kb=$(rss_kb "$pid") || break
		n=$((n + 1))
		[ "$kb" -gt "$peak" ] && peak=$kb
		sleep 0.1
	done
	echo "$peak $n"
}

# na VAR...: note each VAR that could not be measured (is n/a)
na() {
	local v
	for v in "$@"; do
		[ "${!v}" = n/a ] && NA+=("$v")
	done
	return 0
}

# ------------------------------------------------------------------ measurements

# udp_floor: the plain UDP round trip between two processes on ns lo's
# loopback, pings PING_WAIT apart as ping_rtt's (vole-bench-udprtt, as nobody;
# PING_WAIT in whole ms)
# -> PING_floor "P50 / P99 (N round trips)"; what vole ping cannot beat here
udp_floor() {
	local wait_ms=${PING_WAIT:-10ms}
	wait_ms=${wait_ms%ms}
	PING_floor=$(run_unpriv "$NSL" timeout $((PING_COUNT / 10 + 30)) "$BENCH_UDPRTT" "$PING_COUNT" $((wait_ms * 1000))) ||
		PING_floor=n/a
	log "plain UDP round trip p50 / p99 ms: $PING_floor"
}

# ceiling: iperf3 client and server on ns lo's loopback -> RATE_ceiling
ceiling() {
	local pid
	spawn pid "$TMPD/iperf3-lo.log" nsx "$NSL" iperf3 -s -B 127.0.0.1 -p "$LO_PORT"
	if wait_for 10 tcp_listening "$NSL" "$LO_PORT"; then
		iperf ceiling "$NSL" 127.0.0.1 "$LO_PORT"
	else
		log "iperf3 -s on ns lo's loopback did not start"
	fi
	stop_pid "$pid"
}

# older_than PID S: the process has run for S seconds or more
older_than() { [ "$(ps -o etimes= -p "$1")" -ge "$2" ]; }

# idle_agent: VmRSS of the agent (VAGT) once it is 5 s old -> AGENT_KB
idle_agent() {
	AGENT_KB=n/a
	wait_for 10 older_than "$VAGT" 5 || return 1
	AGENT_KB=$(rss_kb "$VAGT") || AGENT_KB=n/a
	log "idle agent: VmRSS $AGENT_KB kB at $(ps -o etimes= -p "$VAGT" | tr -d ' ') s ($(cat "/proc/$VAGT/comm" 2>/dev/null))"
}

# first_pong: `vole ping dev -n 1` from start to its pong line (FIRST_PONG_MS,
# FIRST_PONG_VIA) and to its exit (PING1_EXIT_MS)
first_pong() {
	local out="$TMPD/ping1.out" t0 t1 line
	FIRST_PONG_MS=n/a PING1_EXIT_MS=n/a FIRST_PONG_VIA='?'
	t0=$EPOCHREALTIME
	run_unpriv "$NSL" timeout 30 "$VOLE" ping dev --url "$URL" --token "$TOK_CLIENT" -n 1 \
		2>"$TMPD/ping1.err" | stamp_lines >"$out"
	t1=$EPOCHREALTIME
	PING1_EXIT_MS=$(ms_between "$t0" "$t1")
	line=$(grep -m1 '^[0-9.]* pong from ' "$out")
	if [ -z "$line" ]; then
		log "vole ping dev -n 1: no pong"
		show_log "$TMPD/ping1.err"
		return 1
	fi
	FIRST_PONG_MS=$(ms_between "$t0" "${line%% *}")
	case $line in
	*" p2p via "*) FIRST_PONG_VIA=direct ;;
	*" via DERP"*) FIRST_PONG_VIA=DERP ;;
	esac
	log "first pong: $FIRST_PONG_MS ms ($FIRST_PONG_VIA; ${line#* }); ping exits at $PING1_EXIT_MS ms"
}

# forward_stamped: vole forward with stderr stamped line by line into forward.log
forward_stamped() {
	run_unpriv "$NSL" "$VOLE" forward dev --tcp 127.0.0.1:0:9 --url "$URL" --token "$TOK_CLIENT" \
		2> >(stamp_lines >"$TMPD/forward.log")
}

# poke_port PORT: one TCP connection to 127.0.0.1:PORT in ns lo, held 5 s
# shellcheck disable=SC2016 # $1 is the inner shell's
poke_port() { nsx "$NSL" timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && sleep 5' _ "$1"; }

# direct_path: `vole forward` from start to its "path dev: direct" line,
# polled every 10 ms for at most 10 s -> DIRECT_MS (and DERP_LINE_MS).  A
# node looks for a direct path once it sends to the peer (disco's session is
# active), so one connection is made to the forward as soon as it listens,
# as a user's first connection would.
direct_path() {
	local pid poke='' t0 line port i
	DIRECT_MS=n/a DERP_LINE_MS=n/a LISTEN_MS=n/a
	: >"$TMPD/forward.log"
	t0=$EPOCHREALTIME
	spawn pid "$TMPD/forward.out" forward_stamped
	for ((i = 0; i < 1000; i++)); do
		line=$(grep -m1 ' path dev: direct' "$TMPD/forward.log") && break
		if [ -z "$poke" ]; then
			port=$(sed -n 's/.* listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$TMPD/forward.log")
			[ -n "$port" ] && spawn poke "$TMPD/poke.log" poke_port "$port"
		fi
		sleep 0.01
	done
	[ -n "$poke" ] && stop_pid "$poke"
	stop_pid "$pid"
	if [ -z "$line" ]; then
		log "vole forward: no direct path within 10 s"
		show_log "$TMPD/forward.log"
		return 1
	fi
	DIRECT_MS=$(ms_between "$t0" "${line%% *}")
	line=$(grep -m1 ' path dev: derp' "$TMPD/forward.log") && DERP_LINE_MS=$(ms_between "$t0" "${line%% *}")
	line=$(grep -m1 ' listening on ' "$TMPD/forward.log") && LISTEN_MS=$(ms_between "$t0" "${line%% *}")
	log "vole forward: listening at $LISTEN_MS ms, path dev: derp at $DERP_LINE_MS ms, direct at $DIRECT_MS ms"
}

# direct_speedtests: download (the client's VmRSS sampled meanwhile) and upload
direct_speedtests() {
	local sampler
	CLIENT_KB=n/a CLIENT_SAMPLES=0
	spawn sampler "$TMPD/client-rss.txt" rss_peak speedtest $((DURATION + 40))
	speedtest direct_down down -d
	wait_exit "$sampler" 5 || stop_pid "$sampler"
	read -r CLIENT_KB CLIENT_SAMPLES <"$TMPD/client-rss.txt"
	[ "$CLIENT_KB" = 0 ] && CLIENT_KB=n/a
	log "speedtest client: peak VmRSS $CLIENT_KB kB in $CLIENT_SAMPLES samples"
	speedtest direct_up up -d
}

# relay: vole derp (as nobody, ns lo) and vole-bench-derp against it ->
# DERP_MEM_*, DERP_PPS_1, DERP_PPS_2
relay() {
	local pid port out="$TMPD/derp-bench.txt" t0
	DERP_N=n/a DERP_KB0=n/a DERP_KB1=n/a DERP_PPS_1=n/a DERP_PPS_2=n/a DERP_RUN_S=n/a
	if [ ! -x "$BENCH_DERP" ]; then
		log "no vole-bench-derp at $BENCH_DERP (make vole-bench-derp): relay rows are n/a"
		return 1
	fi
	# the server and the bench each hold one descriptor per idle client
	ulimit -n "$(ulimit -Hn)"
	spawn pid "$TMPD/derp.log" run_unpriv "$NSL" "$VOLE" derp --listen 127.0.0.1:0
	if ! wait_for 10 grep_log "$TMPD/derp.log" "listening on"; then
		log "vole derp did not start"
		show_log "$TMPD/derp.log"
		stop_pid "$pid"
		return 1
	fi
	port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMPD/derp.log")
	t0=$EPOCHREALTIME
	run_unpriv "$NSL" timeout 150 "$BENCH_DERP" --url "http://127.0.0.1:$port" --seconds "$DERP_SECONDS" \
		--size "$DERP_SIZE" --idle "$DERP_CLIENTS" --server-pid "$pid" >"$out" 2>"$out.err"
	DERP_RUN_S=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
	run_unpriv "$NSL" timeout 60 "$BENCH_DERP" --url "http://127.0.0.1:$port" --seconds "$DERP_SECONDS" \
		--size "$DERP_SIZE" --bidir >"$out.bidir" 2>>"$out.err"
	stop_pid "$pid"
	sed 's/^/#   /' "$out" "$out.bidir" "$out.err" >&2
	# memory: N idle clients: server VmRSS A kB -> B kB = X KiB per client ...
	read -r DERP_N DERP_KB0 DERP_KB1 < <(sed -n \
		's/^memory: \([0-9]*\) idle clients: server VmRSS \([0-9]*\) kB -> \([0-9]*\) kB.*/\1 \2 \3/p' "$out")
	DERP_N=${DERP_N:-n/a} DERP_KB0=${DERP_KB0:-n/a} DERP_KB1=${DERP_KB1:-n/a}
	DERP_PPS_1=$(sed -n 's/^throughput: .*: \([0-9]*\) packets\/s relayed.*/\1/p' "$out")
	DERP_PPS_2=$(sed -n 's/^throughput: .*: \([0-9]*\) packets\/s relayed.*/\1/p' "$out.bidir")
	DERP_PPS_1=${DERP_PPS_1:-n/a} DERP_PPS_2=${DERP_PPS_2:-n/a}
}

# ------------------------------------------------------------------ the table

# at_least A B / at_most A B: "met" / "not met" / "n/a"
at_least() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "n/a" || b == "n/a") print "n/a"; else print (a + 0 >= b + 0) ? "met" : "not met" }'; }
at_most() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "n/a" || b == "n/a") print "n/a"; else print (a + 0 <= b + 0) ? "met" : "not met" }'; }
both() { if [ "$1" = met ] && [ "$2" = met ]; then echo met; elif [ "$1" = n/a ] || [ "$2" = n/a ]; then echo n/a; else echo "not met"; fi; }

row() { printf '| %-46s | %-16s | %-34s | %-28s | %-7s |\n' "$1" "$2" "$3" "$4" "$5"; }

# direct_row LABEL RATE WGGO: figure, ratios and the ">= 5x wg-go, >= 4" verdict
direct_row() {
	local r
	r=$(ratio "$2" "$3")
	row "$1" "$2 Gbit/s" "${r}x wg-go, $(ratio "$2" "$RATE_ceiling")x ceiling" ">= 5x wg-go and >= 4 Gbit/s" \
		"$(both "$(at_least "$r" 5)" "$(at_least "$2" 4)")"
}

derp_row() {
	row "$1" "$2 Gbit/s" "$(ratio "$2" "$3")x wg-go, $(ratio "$2" "$RATE_ceiling")x ceiling" ">= 1.5 Gbit/s" \
		"$(at_least "$2" 1.5)"
}

print_table() {
	local p50 mem_kb mem_note per
	p50=${PING_direct%% *}
	row "figure" "value" "ratio" "target (issue #8)" "met"
	row "---" "---" "---" "---" "---"
	row "iperf3 on one namespace's loopback (ceiling)" "$RATE_ceiling Gbit/s" "" "" ""
	row "wg-go <- wg-go, iperf3 -R (download)" "$RATE_wggo_down Gbit/s" "" "" ""
	row "wg-go -> wg-go, iperf3 (upload)" "$RATE_wggo_up Gbit/s" "" "" ""
	direct_row "vole speedtest direct, download" "$RATE_direct_down" "$RATE_wggo_down"
	direct_row "vole speedtest direct, upload" "$RATE_direct_up" "$RATE_wggo_up"
	derp_row "vole speedtest DERP, download" "$RATE_derp_down" "$RATE_wggo_down"
	derp_row "vole speedtest DERP, upload" "$RATE_derp_up" "$RATE_wggo_up"
	row "vole ping RTT direct, p50 / p99 (ms)" "${PING_direct% (*}" "$(pongs "$PING_direct")" \
		"p50 <= 0.100 ms" "$(at_most "$p50" 0.100)"
	row "plain UDP round trip, p50 / p99 (ms) (floor)" "${PING_floor% (*}" "two processes, ${PING_WAIT:-10ms} apart" "" ""
	row "vole ping RTT DERP, p50 / p99 (ms)" "${PING_derp% (*}" "$(pongs "$PING_derp")" "" ""
	row "vole ping dev -n 1: start to pong line" "$FIRST_PONG_MS ms" "pong $FIRST_PONG_VIA" "<= 100 ms" \
		"$(at_most "$FIRST_PONG_MS" 100)"
	row "vole ping dev -n 1: start to exit" "$PING1_EXIT_MS ms" "" "" ""
	row "vole forward: start to \"path dev: direct\"" "$DIRECT_MS ms" "listening $LISTEN_MS ms, 1 conn." \
		"<= 1000 ms" "$(at_most "$DIRECT_MS" 1000)"
	row "idle vole agent VmRSS at 5 s" "$(mib "$AGENT_KB") MiB" "" "<= 8 MiB" \
		"$(at_most "$(mib "$AGENT_KB")" 8)"
	row "vole speedtest client peak VmRSS (direct down)" "$(mib "$CLIENT_KB") MiB" \
		"$CLIENT_SAMPLES samples, 100 ms apart" "<= 32 MiB" "$(at_most "$(mib "$CLIENT_KB")" 32)"
	mem_kb=n/a per=n/a mem_note="$DERP_N clients"
	if [ "$DERP_N" != n/a ]; then
		per=$(awk -v a="$DERP_KB0" -v b="$DERP_KB1" -v n="$DERP_N" 'BEGIN { printf "%.1f", (b - a) / n }')
		if [ "$DERP_N" -ge 10000 ]; then
			mem_kb=$DERP_KB1
		else
			# fewer clients measured: the server's base plus 10 000 x the per-client cost
			mem_kb=$(awk -v a="$DERP_KB0" -v p="$per" 'BEGIN { printf "%.0f", a + p * 10000 }')
			mem_note="projected from $DERP_N clients"
		fi
	fi
	row "vole derp: VmRSS with 10 000 idle clients" "$(mib "$mem_kb") MiB" "$per KiB/client, $mem_note" \
		"< 1024 MiB" "$(awk -v m="$(mib "$mem_kb")" 'BEGIN { if (m == "n/a") print "n/a"; else print (m < 1024) ? "met" : "not met" }')"
	row "vole derp: packets/s relayed, A -> B" "$DERP_PPS_1 pkt/s" "$DERP_SIZE B, $DERP_SECONDS s" ">= 500000 pkt/s" \
		"$(at_least "$DERP_PPS_1" 500000)"
	row "vole derp: packets/s relayed, A <-> B" "$DERP_PPS_2 pkt/s" "$DERP_SIZE B, $DERP_SECONDS s" ">= 500000 pkt/s" \
		"$(at_least "$DERP_PPS_2" 500000)"
}

main() {
	local v t_start
	t_start=$EPOCHREALTIME
	for v in ceiling direct_down direct_up derp_down derp_up wggo_down wggo_up; do printf -v "RATE_$v" n/a; done
	for v in direct_down direct_up derp_down derp_up; do printf -v "VIA_$v" '?'; done
	PING_direct=n/a PING_derp=n/a PING_floor=n/a AGENT_KB=n/a CLIENT_KB=n/a CLIENT_SAMPLES=0
	FIRST_PONG_MS=n/a FIRST_PONG_VIA='?' PING1_EXIT_MS=n/a DIRECT_MS=n/a DERP_LINE_MS=n/a LISTEN_MS=n/a
	DERP_N=n/a DERP_PPS_1=n/a DERP_PPS_2=n/a
	if [ ! -x "$VOLE" ]; then
		echo "no vole binary at $VOLE" >&2
		exit 1
	fi
	lo_setup || exit 1
	if ! lib_check_unpriv "$NSL"; then
		echo "setpriv does not drop to nobody without capabilities" >&2
		exit 1
	fi
	log "${DURATION} s per run, $(nproc) CPUs, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)," \
		"$(wireguard-go --version | head -n1), $("$VOLE" --version 2>&1 | head -n1)"

	ceiling
	if tailnet_up 18080; then
		idle_agent
		first_pong
		direct_path
		direct_speedtests
		ping_rtt direct
	fi
	tailnet_down
	udp_floor
	derp_runs
	if wggo_runs; then
		wggo_stop "$IFS_"
		wggo_stop "$IFC"
		stop_pid "$SRV_IPERF"
	fi
	relay
	log "whole run: $(awk -v a="$t_start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }') s;" \
		"vole derp: $DERP_RUN_S s for $DERP_CLIENTS idle clients and the A -> B run"

	echo
	print_table
	na RATE_ceiling RATE_wggo_down RATE_wggo_up RATE_direct_down RATE_direct_up RATE_derp_down RATE_derp_up \
		PING_direct PING_derp PING_floor FIRST_PONG_MS DIRECT_MS AGENT_KB CLIENT_KB DERP_N DERP_PPS_1 DERP_PPS_2
	if [ ${#NA[@]} -ne 0 ]; then
		echo "could not measure: ${NA[*]}" >&2
		exit 1
	fi
}

# run only when executed, not when sourced
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	main "$@"
fi
