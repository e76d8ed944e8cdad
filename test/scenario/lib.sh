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
