#!/bin/bash
# shellcheck disable=SC2317,SC2154 # functions called indirectly; RATE_* set by printf -v
# shellcheck source-path=SCRIPTDIR
# Where the direct path's cycles go: `perf record -g` (PERF_SECONDS, default
# 4) of the agent during a direct download speedtest (the agent sends) and of
# the speedtest client during a direct upload (the client sends), on the
# loopback of one namespace as bench/run.sh runs them (all vole processes as
# nobody; perf runs as root and attaches by pid).  Each profile starts 1 s
# after the client process appears, inside a DURATION-second test (default 7).
# Prints each profile's top symbols by self time and the test's rate.
#
# Usage (root): bench/profile.sh
#   env: VOLE, DURATION (7), PERF_SECONDS (4), TOP (10), PERF_DIR (where the
#        perf.data files stay; default: the run's temporary directory, removed
#        at exit unless KEEP_TMP=1)

DURATION=${DURATION:-7}
# shellcheck source=run.sh
. "$(dirname "${BASH_SOURCE[0]}")/run.sh"

need_cmds perf
PERF_SECONDS=${PERF_SECONDS:-4}
TOP=${TOP:-10}
PERF_DIR=${PERF_DIR:-$TMPD}

# profile_of WHO DIRECTION OUT: waits (at most 20 s) for the speedtest client
# in ns lo (the one with --direction DIRECTION), then 1 s, then records WHO
# (agent: the agent VAGT; client: that client) for PERF_SECONDS into OUT
profile_of() {
	local who=$1 dir=$2 out=$3 client pid
	if ! client=$(await_vole "$dir"); then
		log "no speedtest client to profile"
		return 1
	fi
	sleep 1
	pid=$client
	[ "$who" = agent ] && pid=$VAGT
	perf record -q -g -p "$pid" -o "$out" -- sleep "$PERF_SECONDS"
}

# profiled NAME DIRECTION WHO: one direct speedtest with WHO profiled
profiled() {
	local name=$1 dir=$2 who=$3 prof
	spawn prof "$TMPD/perf-$name.log" profile_of "$who" "$dir" "$PERF_DIR/perf-$name.data"
	speedtest "$name" "$dir" -d
	wait_exit "$prof" $((PERF_SECONDS + 30)) || stop_pid "$prof"
	show_log "$TMPD/perf-$name.log"
}

# top_symbols FILE: the share of each binary, then the TOP symbols by self
# time, with their binary
top_symbols() {
	perf report -i "$1" --no-children -F overhead,dso -g none --stdio 2>/dev/null |
		grep -E '^ +[0-9.]+%' | head -n 5 | awk '{ s = s (NR > 1 ? ", " : "") $2 " " $1 } END { print "by binary: " s }'
	perf report -i "$1" --no-children -F overhead,dso,sym -g none --stdio 2>/dev/null |
		grep -E '^ +[0-9.]+%' | head -n "$TOP"
}

main() {
	local name rate
	if [ ! -x "$VOLE" ]; then
		echo "no vole binary at $VOLE" >&2
		exit 1
	fi
	mkdir -p "$PERF_DIR" || exit 1
	lo_setup || exit 1
	log "${DURATION} s per run, perf ${PERF_SECONDS} s from 1 s after the client starts, $(nproc) CPUs," \
		"$(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg), $("$VOLE" --version 2>&1 | head -n1)"
	tailnet_up 18080 || exit 1
	profiled agent_down down agent
	profiled client_up up client
	tailnet_down
	for name in agent_down client_up; do
		echo
		if [ ! -s "$PERF_DIR/perf-$name.data" ]; then
			echo "$name: no profile"
			NA+=("$name")
			continue
		fi
		rate="RATE_$name"
		echo "$name ($PERF_DIR/perf-$name.data), speedtest ${!rate} Gbit/s; self time:"
		top_symbols "$PERF_DIR/perf-$name.data"
	done
	[ ${#NA[@]} -eq 0 ] || exit 1
}

# run only when executed, not when sourced
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	main "$@"
fi
