# shellcheck shell=bash
# What the tailnet scenario scripts share (sourced after test/interop/lib.sh
# and test/scenario/topology.sh): tokens, the vole server in ns srv, an agent
# in any namespace, the once-per-label privilege check, small text helpers.
#
# The server reads $TMPD/tokens.json and keeps its key in $TMPD/state (the
# caller writes the one and creates the other, owned by nobody); every vole
# process runs as nobody with no capabilities (run_unpriv).

URL="http://$TOPO_SRV1:8080"
REGION_NAME=vole-test   # the server's region 999, as pong and path lines name it

# token: 32 random hex digits
token() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }

# grep_log FILE PATTERN: a fixed string is in FILE
grep_log() { grep -qF -- "$2" "$1" 2>/dev/null; }

# secs_since MS: seconds (one decimal) since the now_ms reading MS
secs_since() { awk -v ms=$(($(now_ms) - $1)) 'BEGIN { printf "%.1f", ms / 1000 }'; }

# snip FILE: the first 200 bytes on one line (for failure reasons)
snip() { head -c 200 -- "$1" 2>/dev/null | tr -s '\n\t' '  '; }

declare -A UNPRIV_SEEN
# check_unpriv LABEL PID: once per LABEL, the running vole is nobody without caps
check_unpriv() {
	local out
	[ -n "${UNPRIV_SEEN[$1]:-}" ] && return 0
	UNPRIV_SEEN[$1]=1
	if out=$(proc_unpriv "$2") && [[ $out == vole* ]]; then
		pass "unprivileged: vole $1 ($out)"
	else
		fail "unprivileged: vole $1" "${out:-pid $2 gone}"
	fi
}

SRV_PID='' SRV_N=0
# server_start [ARG...]: `vole server` on 198.18.0.1:8080 with these flags,
# STUN on both server addresses unless the flags start with --stun-listen
# (which then replace them); waits until it listens
server_start() {
	local stun=(--stun-listen "$TOPO_SRV1:3478" --stun-listen "$TOPO_SRV2:3478")
	[ "${1:-}" = --stun-listen ] && stun=()
	SRV_N=$((SRV_N + 1))
	SRV_LOG="$TMPD/server-$SRV_N.log"
	spawn SRV_PID "$SRV_LOG" run_unpriv "$NS_SRV" "$VOLE" server --listen "$TOPO_SRV1:8080" \
		--tokens "$TMPD/tokens.json" "${stun[@]}" --state-dir "$TMPD/state" --region-name "$REGION_NAME" "$@"
	if ! wait_for 10 grep_log "$SRV_LOG" "server: listening on" || ! tcp_listening "$NS_SRV" 8080; then
		log "vole server did not start"
		show_log "$SRV_LOG"
		return 1
	fi
	check_unpriv server "$SRV_PID"
}

server_stop() {
	[ -n "$SRV_PID" ] && stop_pid "$SRV_PID" 5
	SRV_PID=
}

AGT_PID='' AGT_N=0
# agent_start NS NAME TOKEN [ARG...]: `vole agent NAME -v ARG...` in NS; waits
# until it has registered
agent_start() {
	local ns=$1 name=$2 tok=$3
	shift 3
	AGT_N=$((AGT_N + 1))
	AGT_LOG="$TMPD/agent-$AGT_N-$name.log"
	spawn AGT_PID "$AGT_LOG" run_unpriv "$ns" "$VOLE" agent --url "$URL" --token "$tok" --name "$name" -v "$@"
	if ! wait_for 15 grep_log "$AGT_LOG" "agent: registered as $name"; then
		log "vole agent $name did not register"
		show_log "$AGT_LOG"
		return 1
	fi
	check_unpriv agent "$AGT_PID"
}

# tokens_dev: $TMPD/tokens.json with agent "dev" (token TOK_DEV) and one
# client token (TOK_CLI) that may reach it, readable by nobody, and the
# server's state directory
tokens_dev() {
	TOK_DEV=$(token) TOK_CLI=$(token)
	cat >"$TMPD/tokens.json" <<-EOF
		{"agents": [{"name": "dev", "token": "$TOK_DEV"}],
		 "clients": [{"token": "$TOK_CLI", "agents": ["dev"]}]}
	EOF
	chmod 644 "$TMPD/tokens.json"
	mkdir -p "$TMPD/state" && chown nobody:nogroup "$TMPD/state"
}

# run_cases [CASE...]: each case t_CASE in turn, every one of ALL when none
# is named; an unknown name fails. RAN_<CASE>=1 once a case has run.
run_cases() {
	local c cases=("$@")
	[ ${#cases[@]} -eq 0 ] && cases=("${ALL[@]}")
	for c in "${cases[@]}"; do
		if [ "$(type -t "t_$c")" != function ]; then
			fail "$c" "no such case (cases: ${ALL[*]})"
			continue
		fi
		"t_$c"
		printf -v "RAN_$c" 1
	done
}

# ---------------------------------------------------------------- agent and forward
# (the scripts set FWD_PORT, where vole forward listens in ns cli, and
# SINK_PORT, the sink an agent exposes as overlay port 8000)

agent_stop() {
	[ -n "$AGT_PID" ] && stop_pid "$AGT_PID" 5
	AGT_PID=''
}

FWD_PID='' FWD_N=0
# forward_start NAME TOKEN: `vole forward NAME -v`; waits for its listener
forward_start() {
	forward_spawn "$@"
	if ! wait_for 20 grep_log "$FWD_LOG" "forward: listening on 127.0.0.1:$FWD_PORT -> $1:8000"; then
		log "vole forward $1 is not listening"
		show_log "$FWD_LOG"
		return 1
	fi
	check_unpriv forward "$FWD_PID"
}

forward_spawn() {
	FWD_N=$((FWD_N + 1))
	# shellcheck disable=SC2034 # read by tailnet.sh (time to a direct path)
	FWD_T0=$(now_ms)
	FWD_LOG="$TMPD/forward-$FWD_N-$1.log"
	spawn FWD_PID "$FWD_LOG" run_unpriv "$NS_CLI" "$VOLE" forward "$1" --tcp "127.0.0.1:$FWD_PORT:8000" \
		--url "$URL" --token "$2" -v
}

nodes_stop() {
	[ -n "$FWD_PID" ] && stop_pid "$FWD_PID" 5
	FWD_PID=''
	agent_stop
}

# ---------------------------------------------------------------- paths

# path_lines LOG NAME [FROM]: the "path NAME:" values (e.g. "direct IP:PORT",
# "derp 999") of LOG, from line FROM on (default 1)
path_lines() {
	tail -n +"${3:-1}" "$1" 2>/dev/null | sed -n "s/.*path $2: //p"
}

path_last() { path_lines "$@" | tail -n 1; }

# path_is_kind LOG NAME KIND [FROM]: the last path (from line FROM on)
# starts with KIND (direct or derp)
path_is_kind() { [[ $(path_last "$1" "$2" "${4:-1}") == "$3"* ]]; }

log_lines() { wc -l <"$1" 2>/dev/null || echo 0; }

# paths_summary LOG NAME: every path line, joined (for failure reasons)
paths_summary() {
	local s
	s=$(path_lines "$1" "$2" | tr '\n' ',' | sed 's/,$//; s/,/, /g')
	echo "${s:-none}"
}


# ---------------------------------------------------------------- transfers
# (TCPBLOB, PACED: the sender and sink scripts; blobs in $TMPD)

XF_N=0
# xfer_start SINK_NS [RATE]: a sink on 127.0.0.1:9000 in SINK_NS storing
# what arrives, and a sender through the forward (127.0.0.1:7000 in ns cli):
# the whole file at once, or paced at RATE bytes/s (the larger file)
xfer_start() {
	local ns=$1 rate=${2:-}
	XF_N=$((XF_N + 1))
	XF_SRC="$TMPD/blob"
	[ -n "$rate" ] && XF_SRC="$TMPD/blob-paced"
	XF_DST="$TMPD/recv-$XF_N"
	XF_BYTES=$(stat -c %s "$XF_SRC")
	spawn XF_SINK "$TMPD/sink-$XF_N.log" nsx "$ns" "$PYTHON" "$TCPBLOB" listen 127.0.0.1 "$SINK_PORT" \
		recv "$XF_DST" --bytes "$XF_BYTES" --timeout 100
	if ! wait_for 5 tcp_listening "$ns" "$SINK_PORT"; then
		stop_pid "$XF_SINK" 1
		XF_SEND='' XF_WHY="the sink did not start: $(snip "$TMPD/sink-$XF_N.log")"
		return 1
	fi
	if [ -n "$rate" ]; then
		spawn XF_SEND "$TMPD/send-$XF_N.log" nsx "$NS_CLI" "$PYTHON" "$PACED" 127.0.0.1 "$FWD_PORT" \
			"$XF_SRC" --rate "$rate" --timeout 100
	else
		spawn XF_SEND "$TMPD/send-$XF_N.log" nsx "$NS_CLI" "$PYTHON" "$TCPBLOB" connect 127.0.0.1 \
			"$FWD_PORT" send "$XF_SRC" --timeout 60
	fi
}

# xfer_wait TIMEOUT: both ends done within TIMEOUT s and the SHA-256 of what
# the sink stored equals the file's; else XF_WHY says what went wrong
xfer_wait() {
	local rc_sink rc_send want got
	XF_WHY=
	wait_exit "$XF_SINK" "$1"
	rc_sink=$?
	[ "$rc_sink" = 124 ] && stop_pid "$XF_SINK" 1 KILL
	if [ -n "$XF_SEND" ]; then
		wait_exit "$XF_SEND" 10
		rc_send=$?
		[ "$rc_send" = 124 ] && stop_pid "$XF_SEND" 1 KILL
	else
		rc_send="(not started)"
	fi
	want=$(sha256sum <"$XF_SRC" | cut -d' ' -f1)
	got=$(sha256sum <"$XF_DST" 2>/dev/null | cut -d' ' -f1)
	[ "$rc_sink" = 0 ] && [ "$rc_send" = 0 ] && [ "$want" = "$got" ] && return 0
	XF_WHY="sink status $rc_sink ($(snip "$TMPD/sink-$XF_N.log")), sender status $rc_send"
	XF_WHY="$XF_WHY ($(snip "$TMPD/send-$XF_N.log")), $(recv_bytes) of $XF_BYTES bytes"
	[ "$want" = "$got" ] || XF_WHY="$XF_WHY, SHA-256 differs"
	return 1
}

# xfer_abort: stop a transfer's sender and sink (the session-keeping trickle)
xfer_abort() {
	[ -n "$XF_SEND" ] && stop_pid "$XF_SEND" 1
	[ -n "$XF_SINK" ] && stop_pid "$XF_SINK" 1
	XF_SEND='' XF_SINK=''
}

# recv_bytes: what the current transfer's sink has stored so far
recv_bytes() { stat -c %s "$XF_DST" 2>/dev/null || echo 0; }

# xfer SINK_NS: one whole transfer, bounded
xfer() { xfer_start "$1" && xfer_wait 90; }


# diag: the logs of the current agent and forward (after a failure)
diag() {
	show_log "$FWD_LOG" 25
	show_log "$AGT_LOG" 25
}

