#!/bin/bash
# shellcheck disable=SC2317 # the cases are called as "t_$name"
# shellcheck source-path=SCRIPTDIR
# Tailnet scenario tests (issue #5): `vole server`, `vole agent` and
# `vole forward` across two routers whose NAT behaviour changes per case
# (test/scenario/topology.sh draws the namespaces):
#
#   ns cli: vole forward dev --tcp 127.0.0.1:7000:8000 -v   behind router A
#   ns lan: vole agent lan (case 1: same LAN as the client)  behind router A
#   ns agt: vole agent dev --expose 8000:127.0.0.1:9000      behind router B
#   ns srv: vole server on 198.18.0.1:8080, STUN on 198.18.0.1 and .2:3478
#
# Every vole process runs as nobody with no capabilities; root is used only
# for the namespaces, nftables and the probes that check the routers.  First
# the routers' modes are checked without vole (natprobe.py plays a host and
# an internet server at once), so a wrongly built NAT fails as "topology:"
# rather than being blamed on vole.  Then each case restarts agent and
# forward on freshly set routers, moves a random file through the forward
# (SHA-256 compared at both ends) and reads the path the forward ends on
# (its last "path dev:" line within a bounded wait).
#
# Usage (root):  test/scenario/tailnet.sh [CASE...]   (CASE: topology, 1 .. 13)
#   env VOLE=/path/to/vole (default build/vole), XFER_BYTES (default 4 MiB),
#   KEEP_TMP=1 keeps the logs.
# Output: "ok - NAME" / "not ok - NAME: reason" per check, then
# "N passed, N failed"; exit status non-zero on any failure.

. "$(dirname "${BASH_SOURCE[0]}")/../interop/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/topology.sh"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_root
need_cmds ip nft ss ping setpriv timeout sha256sum "$PYTHON"

SCN_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TCPBLOB="$REPO_ROOT/test/interop/tcpblob.py"
PACED="$SCN_DIR/pacedsend.py"
XFER_BYTES=${XFER_BYTES:-4194304}
PACED_BYTES=${PACED_BYTES:-6291456}   # mid-transfer cases: 6 MiB ...
PACED_RATE=${PACED_RATE:-393216}      # ... at 384 KiB/s: some 16 s
FWD_PORT=7000
SINK_PORT=9000
DIRECT_WAIT=${DIRECT_WAIT:-20}        # a direct path appears within this (s)
DERP_SETTLE=${DERP_SETTLE:-10}        # a DERP case stays on DERP this long (s)
ERR_REFUSED='vole forward: error: agent "dev": not found or not allowed'

# ---------------------------------------------------------------- setup

setup() {
	topo_build || return 1
	TOK_DEV=$(token) TOK_LAN=$(token) TOK_CLI=$(token) TOK_CLI2=$(token)
	# the client may reach dev and lan; the second client token only lan
	cat >"$TMPD/tokens.json" <<-EOF
		{"agents": [{"name": "dev", "token": "$TOK_DEV"}, {"name": "lan", "token": "$TOK_LAN"}],
		 "clients": [{"token": "$TOK_CLI", "agents": ["dev", "lan"]},
		             {"token": "$TOK_CLI2", "agents": ["lan"]}]}
	EOF
	chmod 644 "$TMPD/tokens.json"
	mkdir -p "$TMPD/state" && chown nobody:nogroup "$TMPD/state" || return 1
	head -c "$XFER_BYTES" /dev/urandom >"$TMPD/blob" &&
		head -c "$PACED_BYTES" /dev/urandom >"$TMPD/blob-paced" || return 1
	chmod 644 "$TMPD"/blob*
}

# ---------------------------------------------------------------- vole processes

# nodes_up MODE_A MODE_B [AGENT_NS AGENT_NAME AGENT_TOKEN]: fresh routers
# (conntrack flushed), then a fresh agent and forward
nodes_up() {
	local ns=${3:-$NS_AGT} name=${4:-dev} tok=${5:-$TOK_DEV}
	nodes_stop
	if ! router_mode A "$1" || ! router_mode B "$2"; then
		log "could not set the routers to $1 / $2"
		return 1
	fi
	agent_start "$ns" "$name" "$tok" --expose "8000:127.0.0.1:$SINK_PORT" && forward_start "$name" "$TOK_CLI"
}

# ---------------------------------------------------------------- paths

# ---------------------------------------------------------------- transfers

# ---------------------------------------------------------------- case helpers

# expect_direct CASE LABEL HOST_PREFIX [AGENT_NS NAME]: a transfer through
# the forward, then the path ends on direct to HOST_PREFIX (within
# DIRECT_WAIT s of the first connection) and a second transfer still finds
# it there.  Sets DIRECT_AFTER (seconds, one decimal).
expect_direct() {
	local c=$1 label=$2 host=$3 ns=${4:-$NS_AGT} name=${5:-dev} t0 ok=1 last
	DIRECT_AFTER=
	t0=$(now_ms)
	xfer_start "$ns" || ok=0
	# watched while the transfer runs (it makes the session active)
	if wait_for "$DIRECT_WAIT" path_is_kind "$FWD_LOG" "$name" direct; then
		DIRECT_AFTER=$(secs_since "$t0")
		DIRECT_AFTER_START=$(secs_since "$FWD_T0")
	fi
	if [ "$ok" = 0 ] || ! xfer_wait 90; then
		fail "case $c: $label: transfer" "$XF_WHY"
		ok=0
	else
		pass "case $c: $label: transfer of $XF_BYTES bytes, SHA-256 equal"
	fi
	# the path it ends on: after one more transfer
	xfer "$ns" || {
		fail "case $c: $label: second transfer" "$XF_WHY"
		ok=0
	}
	last=$(path_last "$FWD_LOG" "$name")
	if [[ $last == "direct $host"* ]]; then
		pass "case $c: $label: ends on a direct path ($last)"
	else
		fail "case $c: $label: path" "want direct $host*, last is '${last:-none}' (all: $(paths_summary "$FWD_LOG" "$name"))"
		ok=0
	fi
	[ "$ok" = 1 ] || diag
	[ "$ok" = 1 ]
}

# expect_derp CASE LABEL: a transfer, DERP_SETTLE s with the session active,
# a second transfer; the path ends on DERP and was never direct
expect_derp() {
	local c=$1 label=$2 ok=1 last
	if ! xfer "$NS_AGT"; then
		fail "case $c: $label: transfer" "$XF_WHY"
		ok=0
	else
		pass "case $c: $label: transfer of $XF_BYTES bytes, SHA-256 equal"
	fi
	sleep "$DERP_SETTLE"
	if ! xfer "$NS_AGT"; then
		fail "case $c: $label: transfer after ${DERP_SETTLE} s" "$XF_WHY"
		ok=0
	else
		pass "case $c: $label: still usable after ${DERP_SETTLE} s (SHA-256 equal)"
	fi
	last=$(path_last "$FWD_LOG" dev)
	if [[ $last == derp* ]] && ! path_lines "$FWD_LOG" dev | grep -q '^direct'; then
		pass "case $c: $label: ends on DERP ($last), never direct"
	else
		fail "case $c: $label: path" "want derp only, got: $(paths_summary "$FWD_LOG" dev)"
		ok=0
	fi
	[ "$ok" = 1 ] || diag
	[ "$ok" = 1 ]
}

# ---------------------------------------------------------------- topology checks

# probe_mode MODE CPORT: router A in MODE, then natprobe from ns cli:
# sets P[out1] P[out2] (mapped address per server IP), P[reply],
# P[in_port] (unsolicited from another port of a contacted IP),
# P[in_ip] (from an uncontacted IP)
declare -A P
probe_mode() {
	local out
	P=()
	router_mode A "$1" || {
		P[err]="could not load mode $1"
		return 1
	}
	out=$(natprobe udp "$NS_CLI" "$2" "out:$TOPO_SRV1:3479" "out:$TOPO_SRV2:3479" \
		"in:$TOPO_SRV1:3480" "in:$TOPO_SRV2:3481" 2>&1)
	P[raw]=$(tr '\n' ';' <<<"$out")
	P[out1]=$(awk -v d="$TOPO_SRV1:3479" '$1 == "out" && $2 == d { print $4 }' <<<"$out")
	P[out2]=$(awk -v d="$TOPO_SRV2:3479" '$1 == "out" && $2 == d { print $4 }' <<<"$out")
	P[reply]=$(awk '$1 == "out" && $5 == "reply" { r = r $6 } END { print r }' <<<"$out")
	P[in_port]=$(awk -v d="$TOPO_SRV1:3480" '$1 == "in" && $2 == d { print $3 }' <<<"$out")
	P[in_ip]=$(awk -v d="$TOPO_SRV2:3481" '$1 == "in" && $2 == d { print $3 }' <<<"$out")
}

# topo_expect NAME STATUS: pass NAME if STATUS is 0, else fail with what the
# probe saw
topo_expect() {
	if [ "$2" = 0 ]; then pass "topology: $1"; else fail "topology: $1" "probe saw: ${P[raw]:-nothing} ${P[err]:-}"; fi
}

# probe_seen: the five probe results in one string
probe_seen() { echo "${P[out1]}${P[out2]}${P[reply]}${P[in_port]}${P[in_ip]}"; }

t_topology() {
	local a=$TOPO_WAN_A ok out n1 n2
	probe_mode open 40001
	[ "$(probe_seen)" = "$TOPO_CLI:40001$TOPO_CLI:40001yesyesreceivedreceived" ]
	topo_expect "open router: mapped address is the host's own, inbound from anyone passes" $?
	probe_mode prc 40002
	[ "$(probe_seen)" = "$a:40002$a:40002yesyesdroppeddropped" ]
	topo_expect "prc router: one mapping ($a:40002) for both STUN addresses, unsolicited inbound dropped" $?
	out=$(natprobe udp "$NS_CLI" 40002 "out:$TOPO_SRV1:3479" "to:$TOPO_CLI:40002" "in:$TOPO_SRV1:3482" 2>&1)
	P[raw]=$(tr '\n' ';' <<<"$out")
	[[ $out == *"in $TOPO_SRV1:3482 dropped"* ]]
	topo_expect "prc router: the host's LAN address is unreachable from outside" $?
	probe_mode fullcone 40003
	[ "$(probe_seen)" = "$a:40003$a:40003yesyesreceivedreceived" ]
	topo_expect "full-cone router: one mapping for both STUN addresses, unsolicited inbound passes" $?
	probe_mode symmetric 40004
	[[ ${P[out1]} == "$a":* && ${P[out2]} == "$a":* && ${P[out1]} != "${P[out2]}" &&
		${P[reply]} == yesyes && ${P[in_port]} == dropped ]]
	topo_expect "symmetric router gives different mapped ports to the two STUN addresses (${P[out1]:-none}, ${P[out2]:-none})" $?
	probe_mode firewall 40005
	[ "$(probe_seen)" = "$TOPO_CLI:40005$TOPO_CLI:40005yesyesdroppeddropped" ]
	topo_expect "firewall router: no NAT, unsolicited inbound dropped" $?
	probe_mode udpdrop 40006
	out=$(natprobe tcp "$NS_CLI" "$TOPO_SRV1:3490" 2>&1)
	P[raw]="${P[raw]} $out"
	[ -z "${P[out1]}${P[out2]}" ] && [[ $out == *connected* ]]
	topo_expect "udpdrop router: no UDP answer, TCP still passes" $?

	# a flow through prc, then UDP cut: it stops; restored: it passes again
	router_mode A prc
	n1=$(natprobe udp "$NS_CLI" 40007 "out:$TOPO_SRV1:3479" 2>&1)
	router_udp A cut
	n2=$(natprobe udp "$NS_CLI" 40007 "out:$TOPO_SRV1:3479" 2>&1)
	router_udp A restore
	out=$(natprobe udp "$NS_CLI" 40007 "out:$TOPO_SRV1:3479" 2>&1)
	P[raw]="before: $n1; cut: $n2; restored: $out"
	[[ $n1 == *"reply yes"* && $n2 == *none* && $out == *"reply yes"* ]]
	topo_expect "udp-cut stops an established flow, udp-restore lets it pass again" $?

	# conntrack flush: the pinhole a flow opened is gone afterwards
	n1=$(natprobe udp "$NS_CLI" 40008 "out:$TOPO_SRV1:3479" "to:$a:40008" "in:$TOPO_SRV1:3479" 2>&1)
	router_flush A
	n2=$(natprobe udp "$NS_CLI" 40008 "to:$a:40008" "in:$TOPO_SRV1:3479" 2>&1)
	P[raw]="before: $n1; after flush: $n2"
	[[ $n1 == *"in $TOPO_SRV1:3479 received"* && $n2 == *"in $TOPO_SRV1:3479 dropped"* ]]
	topo_expect "flush-conntrack forgets a prc pinhole" $?

	# the peer counters see UDP between the sites, and only that
	router_mode A open && router_mode B open
	natprobe udp "$NS_CLI" 40009 "out:$TOPO_SRV1:3479" >/dev/null 2>&1
	n1="$(router_peer_udp A)/$(router_peer_udp B)"
	out=$(timeout 20 "$PYTHON" "$NATPROBE" udp "$NS_CLI" "$NS_AGT" 40010 "out:$TOPO_AGT:40011" 2>&1)
	n2="$(router_peer_udp A)/$(router_peer_udp B)"
	P[raw]="counters A/B after a server flow $n1, after a site-to-site flow $n2 ($out)"
	[ "$n1" = 0/0 ] && [[ $out == *"reply yes"* ]] && [ "${n2%/*}" -ge 2 ] && [ "${n2#*/}" -ge 2 ]
	topo_expect "peer_udp counters count site-to-site UDP only" $?
}

# ---------------------------------------------------------------- tailnet cases

# vole_ready: $VOLE has the three commands and a server runs (started if
# not); else VOLE_WHY says why
vole_ready() {
	if ! "$VOLE" agent -h 2>&1 | grep -q -- '--expose' ||
		! "$VOLE" forward -h 2>&1 | grep -q -- '--tcp' ||
		! "$VOLE" server -h 2>&1 | grep -q -- '--stun-listen'; then
		VOLE_WHY="$VOLE has no working server/agent/forward commands"
		return 1
	fi
	[ -n "$SRV_PID" ] && alive "$SRV_PID" && return 0
	VOLE_WHY="vole server did not start (log above)"
	server_start
}

# case_begin N LABEL MODE_A MODE_B [AGENT_NS NAME TOKEN]: nodes up, else fail
case_begin() {
	local c=$1 label=$2
	shift 2
	if ! vole_ready; then
		fail "case $c: $label" "$VOLE_WHY"
		return 1
	fi
	if ! nodes_up "$@"; then
		fail "case $c: $label" "agent or forward did not start"
		diag
		return 1
	fi
}

t_1() {
	case_begin 1 "same LAN" prc prc "$NS_LAN" lan "$TOK_LAN" || return
	expect_direct 1 "same LAN" "${TOPO_LANHOST}:" "$NS_LAN" lan
}

t_2() {
	case_begin 2 "open <-> port-restricted" open prc || return
	expect_direct 2 "open <-> port-restricted" "$TOPO_WAN_B:"
}

t_3() {
	case_begin 3 "port-restricted <-> port-restricted" prc prc || return
	expect_direct 3 "port-restricted <-> port-restricted" "$TOPO_WAN_B:"
	if [ -n "$DIRECT_AFTER" ]; then
		printf '# case 3: direct after %s s (from the first connection through the forward; %s s after the forward started)\n' \
			"$DIRECT_AFTER" "$DIRECT_AFTER_START"
	else
		printf '# case 3: direct after (never within %s s)\n' "$DIRECT_WAIT"
	fi
	case_begin 3 "firewall <-> firewall" firewall firewall || return
	expect_direct 3 "firewall <-> firewall" "$TOPO_AGT:"
}

t_4() {
	case_begin 4 "symmetric <-> full cone" symmetric fullcone || return
	expect_direct 4 "symmetric <-> full cone" "$TOPO_WAN_B:"
}

t_5() {
	case_begin 5 "symmetric <-> port-restricted" symmetric prc || return
	expect_derp 5 "symmetric <-> port-restricted"
}

t_6() {
	case_begin 6 "symmetric <-> symmetric" symmetric symmetric || return
	expect_derp 6 "symmetric <-> symmetric"
}

t_7() {
	case_begin 7 "UDP dropped on the client's side" udpdrop prc || return
	expect_derp 7 "UDP dropped on the client's side"
}

# no_endpoints LABEL WHOSE LOG PATTERN: LOG has node update lines matching
# PATTERN (a grep regex), and every one of them lists 0 endpoints (case 8)
no_endpoints() {
	local n bad
	n=$(grep -c "$4" "$3")
	bad=$(grep "$4" "$3" | grep -v 'node update, 0 endpoints' | head -n 3)
	if [ "$n" -gt 0 ] && [ -z "$bad" ]; then
		pass "case 8: every node update $2 ($n) has 0 endpoints"
	else
		fail "case 8: $1" "$n '$4' lines; with endpoints: ${bad:-none}"
	fi
}

# 8. block-direct: the server strips endpoints; no UDP between the sites at
# all (counted on both routers), no node update with an endpoint
t_8() {
	local n
	if vole_ready; then
		nodes_stop
		server_stop
		server_start --block-direct-connections || {
			fail "case 8: block-direct" "server did not start"
			return
		}
	fi
	case_begin 8 "block-direct (routers open)" open open || return
	expect_derp 8 "block-direct (routers open)"
	n="$(router_peer_udp A)/$(router_peer_udp B)"
	if [ "$n" = 0/0 ]; then
		pass "case 8: no UDP packet between the sites (router counters A/B $n)"
	else
		fail "case 8: UDP between the sites" "router counters A/B $n, want 0/0"
	fi
	no_endpoints "node updates" "of dev" "$FWD_LOG" 'peer dev: node update'
	no_endpoints "agent's node updates" "the agent got" "$AGT_LOG" 'peer client-[0-9]*: node update'
	nodes_stop
	server_stop
	server_start || fail "case 8: server restart without block-direct" "did not start"
}

# 9 + 10. UDP cut on the client's router in the middle of a direct transfer:
# it completes over DERP; restored: back to direct within 70 s
t_9() {
	local mark ok=1 t0 last
	case_begin 9 "UDP cut mid-transfer" prc prc || return
	# direct first (a short transfer makes the session active)
	xfer "$NS_AGT" >/dev/null
	if ! wait_for "$DIRECT_WAIT" path_is_kind "$FWD_LOG" dev direct; then
		fail "case 9: UDP cut mid-transfer" "not direct before the cut: $(paths_summary "$FWD_LOG" dev)"
		diag
		return
	fi
	xfer_start "$NS_AGT" "$PACED_RATE" || {
		fail "case 9: UDP cut mid-transfer" "sink did not start"
		return
	}
	sleep 3
	mark=$(($(log_lines "$FWD_LOG") + 1))
	router_udp A cut
	t0=$(now_ms)
	# watched while the transfer runs: the rest of it must go over DERP
	if wait_for 30 path_is_kind "$FWD_LOG" dev derp "$mark"; then
		if alive "$XF_SINK"; then
			pass "case 9: UDP cut mid-transfer: path moved to DERP $(secs_since "$t0") s after the cut, transfer still running"
		else
			fail "case 9: UDP cut mid-transfer: path" "moved to DERP only after the transfer had ended ($(secs_since "$t0") s after the cut)"
			ok=0
		fi
	else
		fail "case 9: UDP cut mid-transfer: path" "want derp within 30 s of the cut, got: $(path_lines "$FWD_LOG" dev "$mark" | tr '\n' ' ')"
		ok=0
	fi
	if xfer_wait 100; then
		pass "case 9: UDP cut mid-transfer: $XF_BYTES bytes arrived, SHA-256 equal"
	else
		fail "case 9: UDP cut mid-transfer: transfer" "$XF_WHY"
		ok=0
	fi
	[ "$ok" = 1 ] || diag

	# 10: restore, keep the session active with a slow transfer, wait for direct
	mark=$(($(log_lines "$FWD_LOG") + 1))
	router_udp A restore
	t0=$(now_ms)
	xfer_start "$NS_AGT" 32768
	if wait_for 70 path_is_kind "$FWD_LOG" dev direct "$mark"; then
		pass "case 10: UDP restored: direct again after $(secs_since "$t0") s"
	else
		fail "case 10: UDP restored" "not direct within 70 s; path lines since: $(path_lines "$FWD_LOG" dev "$mark" | tr '\n' ' ')"
		diag
	fi
	xfer_abort
	if xfer "$NS_AGT" && last=$(path_last "$FWD_LOG" dev) && [[ $last == direct* ]]; then
		pass "case 10: UDP restored: transfer SHA-256 equal, ends on $last"
	else
		[ -n "$XF_WHY" ] || XF_WHY="ends on ${last:-no path}"
		fail "case 10: UDP restored: transfer" "$XF_WHY"
	fi
}

t_10() {
	# case 10 continues case 9's session
	[ "${RAN_9:-}" = 1 ] || t_9
}

# 11. the routers forget every NAT mapping in the middle of a direct
# transfer: the transfer completes and the path ends direct again
t_11() {
	local last
	case_begin 11 "conntrack flushed mid-transfer" prc prc || return
	xfer "$NS_AGT" >/dev/null
	wait_for "$DIRECT_WAIT" path_is_kind "$FWD_LOG" dev direct
	xfer_start "$NS_AGT" "$PACED_RATE" || {
		fail "case 11: conntrack flushed mid-transfer" "sink did not start"
		return
	}
	sleep 4
	router_flush A && router_flush B
	if xfer_wait 100; then
		pass "case 11: conntrack flushed mid-transfer: $XF_BYTES bytes arrived, SHA-256 equal"
	else
		fail "case 11: conntrack flushed mid-transfer: transfer" "$XF_WHY"
		diag
	fi
	xfer_start "$NS_AGT" 32768
	if wait_for 70 path_is_kind "$FWD_LOG" dev direct; then
		last=$(path_last "$FWD_LOG" dev)
		pass "case 11: conntrack flushed mid-transfer: ends on $last"
	else
		fail "case 11: path after the flush" "not direct within 70 s: $(paths_summary "$FWD_LOG" dev)"
		diag
	fi
	xfer_abort
}

# updates_more_than N: the forward has logged more than N updates of dev
updates_more_than() { [ "$(grep -c 'peer dev: node update' "$FWD_LOG")" -gt "$1" ]; }

# 12. the server restarts while agent and forward run (DERP path, so the
# traffic needs the server): both re-register, the forward learns dev's node
# again from the new server, and a transfer through the same forward works
t_12() {
	local n0
	case_begin 12 "server restarted mid-session" symmetric symmetric || return
	if ! xfer "$NS_AGT"; then
		fail "case 12: transfer before the restart" "$XF_WHY"
		diag
		return
	fi
	n0=$(grep -c 'peer dev: node update' "$FWD_LOG")
	server_stop
	server_start || {
		fail "case 12: server restarted" "did not start again"
		return
	}
	if wait_for 45 updates_more_than "$n0"; then
		pass "case 12: server restarted: the forward got dev's node from the new server"
	else
		fail "case 12: server restarted: re-registration" "no new 'peer dev: node update' within 45 s"
		diag
		show_log "$SRV_LOG"
	fi
	if xfer "$NS_AGT"; then
		pass "case 12: server restarted: traffic resumes (SHA-256 equal, path $(path_last "$FWD_LOG" dev))"
	else
		fail "case 12: server restarted: transfer" "$XF_WHY"
		diag
	fi
	if alive "$FWD_PID" && alive "$AGT_PID"; then
		pass "case 12: server restarted: agent and forward kept running"
	else
		fail "case 12: server restarted" "agent or forward exited"
	fi
}

# 13. a client token not allowed for dev: refused, exit 1, nothing learned
t_13() {
	local rc
	vole_ready || {
		fail "case 13: token not allowed" "$VOLE_WHY"
		return
	}
	nodes_stop
	router_mode A prc && router_mode B prc
	agent_start "$NS_AGT" dev "$TOK_DEV" --expose "8000:127.0.0.1:$SINK_PORT" || {
		fail "case 13: token not allowed" "agent did not start"
		return
	}
	forward_spawn dev "$TOK_CLI2"
	wait_exit "$FWD_PID" 20
	rc=$?
	[ "$rc" = 124 ] && stop_pid "$FWD_PID" 1
	FWD_PID=
	if [ "$rc" = 1 ] && grep -qxF "$ERR_REFUSED" "$FWD_LOG"; then
		pass "case 13: token not allowed: refused, exit 1, '$ERR_REFUSED'"
	else
		fail "case 13: token not allowed" "exit status $rc, want 1 and the line '$ERR_REFUSED'"
		show_log "$FWD_LOG"
	fi
	if ! grep -q 'peer dev\|path dev\|forward: listening' "$FWD_LOG"; then
		pass "case 13: token not allowed: nothing about dev learned"
	else
		fail "case 13: token not allowed" "the refused forward logged: $(grep 'peer dev\|path dev\|forward: listening' "$FWD_LOG" | head -n 2)"
	fi
	nodes_stop
}

# ---------------------------------------------------------------- main

ALL=(topology 1 2 3 4 5 6 7 8 9 10 11 12 13)

if ! setup; then
	fail setup "topology or files could not be created"
	finish
fi
T_START=$(now_ms)
run_cases "$@"
nodes_stop
server_stop
log "scenario time $(( ($(now_ms) - T_START) / 1000 )) s"
finish
