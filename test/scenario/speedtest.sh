#!/bin/bash
# shellcheck disable=SC2317 # _st_exec and is_vole are called through spawn and wait_for
# shellcheck source-path=SCRIPTDIR
# `vole speedtest` scenario (issue #6): a server, an agent and the speedtest
# client in network namespaces (test/scenario/topology.sh; both routers
# open), once over a direct path and once over DERP:
#
#   ns srv: vole server on 198.18.0.1:8080, STUN on 198.18.0.1 and .2:3478
#   ns agt: vole agent dev                                  behind router B
#   ns cli: vole speedtest dev ...                          behind router A
#
# direct: -d (wait for the direct path, so the run is known to be direct)
# DERP:   router A drops every UDP packet it forwards (no STUN, no disco
#         between the hosts); the coordinator and DERP are TCP and pass
#
# Per path: the default 5 s download as a table, a 5 s upload with -o json
# (speedtest_check.py checks rows, intervals and that the total is the sum of
# the intervals), a 1 s run with --pcap-file read back by `tshark -r` (a 5 s
# capture at full speed would be hundreds of MB); the path each ran on is its
# "Nms via ..." line: "via IP:PORT" or "via DERP(vole-test)" (REGION_NAME).  Over DERP, -d must
# fail on its own with a clear message (it waits 30 s; it runs alongside the
# other DERP runs).  Speed is printed, never judged.
#
# Usage (root):  test/scenario/speedtest.sh
#   env VOLE=/path/to/vole (default build/vole), KEEP_TMP=1 keeps the logs.
# Output: "ok - NAME" / "not ok - NAME: reason" per check, then
# "N passed, N failed"; exit status non-zero on any failure.

. "$(dirname "${BASH_SOURCE[0]}")/../interop/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/topology.sh"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_root
need_cmds ip nft ss ping setpriv timeout tshark "$PYTHON"

CHECK="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/speedtest_check.py"
DURATION_S=5        # vole speedtest's default, never passed on the command line
RUN_LIMIT=60        # one run of 5 s, path setup included, ends within this (s)
DIRECT_FAIL_MAX=38  # -d without a direct path: vole gives up after 30 s
ERR_NO_DIRECT="vole speedtest: error: no direct connection to dev after 30s (still via DERP($REGION_NAME))"
OUT="$TMPD/out"     # written by vole (nobody): the pcap files

setup() {
	topo_build && tokens_dev || return 1
	mkdir -p "$OUT" && chown nobody:nogroup "$OUT"
}

# ---------------------------------------------------------------- one run

# _st_exec ERRFILE ARG...: (inside spawn) stderr to ERRFILE, then exec the
# unprivileged speedtest in ns cli, so the spawned pid is vole's
_st_exec() {
	exec 2>"$1"
	shift
	run_unpriv "$NS_CLI" "$VOLE" speedtest dev --url "$URL" --token "$TOK_CLI" "$@"
}

ST_N=0
# st_spawn LABEL ARG...: start a speedtest; ST_PID, ST_OUT (stdout), ST_ERR,
# ST_T0.  The first one is checked to run as nobody without capabilities.
st_spawn() {
	local label=$1
	shift
	ST_N=$((ST_N + 1))
	ST_OUT="$TMPD/st-$ST_N-$label.out" ST_ERR="$TMPD/st-$ST_N-$label.err"
	ST_T0=$(now_ms)
	spawn ST_PID "$ST_OUT" _st_exec "$ST_ERR" "$@"
	if [ "$ST_N" = 1 ] && wait_for 5 is_vole "$ST_PID"; then
		check_unpriv speedtest "$ST_PID"
	fi
}

is_vole() { [ "$(cat "/proc/$1/comm" 2>/dev/null)" = vole ]; }

# st_wait LIMIT: wait for the last spawned run; ST_RC (124: killed at LIMIT s),
# ST_SECS
st_wait() {
	wait_exit "$ST_PID" "$1"
	ST_RC=$?
	[ "$ST_RC" = 124 ] && stop_pid "$ST_PID" 1 KILL
	ST_SECS=$(secs_since "$ST_T0")
}

# st_run LABEL ARG...: one whole run, bounded
st_run() {
	st_spawn "$@"
	st_wait "$RUN_LIMIT"
}

# st_via: the path of the last run, from its "Nms via PATH" line
st_via() { sed -n 's/^[0-9]*ms via //p' "$ST_ERR" | head -n 1; }

# st_diag: the last run's stderr and the agent's log (after a failure)
st_diag() {
	show_log "$ST_ERR" 15
	show_log "$AGT_LOG" 15
}

# st_expect_ok NAME KIND: the last run exited 0, ran on KIND (direct: IP:PORT
# of the agent's host; derp: DERP(vole-test)), printed its starting line
st_expect_ok() {
	local name=$1 kind=$2 via want dir
	via=$(st_via)
	case $kind in
	direct) want="^($TOPO_AGT|$TOPO_WAN_B):[0-9]+\$" ;;
	derp) want="^DERP\($REGION_NAME\)$" ;;
	esac
	dir=download
	[ "${3:-}" = up ] && dir=upload
	if [ "$ST_RC" != 0 ]; then
		fail "$name" "exit status $ST_RC after $ST_SECS s ($(tail -n 1 "$ST_ERR" 2>/dev/null))"
		st_diag
		return 1
	fi
	if [[ $via =~ $want ]]; then
		pass "$name: ran via $via ($ST_SECS s)"
	else
		fail "$name: path" "want $kind, the 'via' line says '${via:-nothing}'"
		st_diag
		return 1
	fi
	if ! grep -qxF "Starting a ${4:-$DURATION_S}s $dir test..." "$ST_ERR"; then
		fail "$name: starting line" "no 'Starting a ${4:-$DURATION_S}s $dir test...' on stderr"
		st_diag
		return 1
	fi
}

# st_check NAME table|json: speedtest_check.py on the last run's stdout
st_check() {
	local out
	out=$("$PYTHON" "$CHECK" "$2" "$ST_OUT" "$DURATION_S" 2>&1)
	if [[ $out == ok:* ]]; then
		pass "$1: ${out#ok: }"
	else
		fail "$1" "${out#bad: }"
		show_log "$ST_OUT" 12
	fi
}

# st_table NAME: the table's rows, for the log
st_table() { sed 's/^/#   /' "$ST_OUT" >&2; }

# pcap_check NAME FILE: tshark reads FILE and finds TCP to port 3
pcap_check() {
	local n
	n=$(timeout 60 tshark -r "$2" -Y 'tcp.dstport == 3' 2>"$TMPD/tshark.err" | wc -l)
	if [ "$n" -gt 0 ]; then
		pass "$1: tshark -r reads $(stat -c %s "$2") bytes, $n TCP packets to port 3"
	else
		fail "$1" "tshark -r $2: no TCP packet to port 3 ($(snip "$TMPD/tshark.err"))"
	fi
}

# ---------------------------------------------------------------- the paths

# runs NAME KIND [-d]: the table, the JSON and the capture runs on one path
runs() {
	local p=$1 kind=$2 d=${3:-}
	st_run "$p-table" ${d:+"$d"}
	if st_expect_ok "$p: table (default 5 s download)" "$kind"; then
		st_table
		st_check "$p: table" table
	fi
	st_run "$p-json" ${d:+"$d"} -o json --direction up
	if st_expect_ok "$p: -o json (5 s upload)" "$kind" up; then
		st_check "$p: -o json" json
	fi
	st_run "$p-pcap" ${d:+"$d"} -t 1s --pcap-file "$OUT/$p.pcap"
	if st_expect_ok "$p: --pcap-file (1 s)" "$kind" down 1; then
		pcap_check "$p: --pcap-file" "$OUT/$p.pcap"
	fi
}

t_direct() {
	if ! router_mode A open || ! router_mode B open; then
		fail direct "could not set the routers"
		return
	fi
	runs direct direct -d
}

# DERP only: router A drops UDP; the -d run gives up while the others run
t_derp() {
	local pid err out t0
	router_udp A cut || {
		fail derp "could not cut UDP on router A"
		return
	}
	st_spawn derp-direct-flag -d
	pid=$ST_PID err=$ST_ERR out=$ST_OUT t0=$ST_T0
	runs derp derp
	ST_PID=$pid ST_ERR=$err ST_OUT=$out ST_T0=$t0
	st_wait "$DIRECT_FAIL_MAX"
	if [ "$ST_RC" = 1 ] && grep -qxF "$ERR_NO_DIRECT" "$ST_ERR" && [ ! -s "$ST_OUT" ]; then
		pass "derp: -d fails (exit 1, ended $ST_SECS s after it started, alongside the other runs), '$ERR_NO_DIRECT'"
	else
		fail "derp: -d without a direct path" "exit status $ST_RC after $ST_SECS s (124: still running at ${DIRECT_FAIL_MAX} s), want 1 and the line '$ERR_NO_DIRECT' and no table"
		st_diag
	fi
	if grep -q "^Waiting for a direct connection\.\.\. ([0-9]*ms via DERP($REGION_NAME))\$" "$ST_ERR"; then
		pass "derp: -d says it is waiting: $(grep -m1 '^Waiting' "$ST_ERR")"
	else
		fail "derp: -d" "no 'Waiting for a direct connection... (Nms via DERP($REGION_NAME))' line"
	fi
	router_udp A restore
}

# ---------------------------------------------------------------- main

if ! "$VOLE" speedtest -h 2>&1 | grep -q -- '--pcap-file'; then
	fail speedtest "$VOLE has no speedtest command with --pcap-file"
	finish
fi
# shellcheck disable=SC2119 # the server without --block-direct-connections
if ! setup || ! server_start || ! agent_start "$NS_AGT" dev "$TOK_DEV"; then
	fail setup "topology, server or agent could not be started"
	finish
fi
T_START=$(now_ms)
t_direct
t_derp
stop_pid "$AGT_PID" 5
server_stop
log "scenario time $(secs_since "$T_START") s"
finish
