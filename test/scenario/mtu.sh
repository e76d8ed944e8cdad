#!/bin/bash
# shellcheck disable=SC2317 # cases are called indirectly
# shellcheck source-path=SCRIPTDIR
# MTU and fragmentation on the direct path (issue #7), in network namespaces
# (test/scenario/topology.sh: a server, router A with the client host,
# router B with the agent host; both routers open, so the direct path is
# client <-> agent host):
#   1. mtu1280   router A's WAN link has MTU 1280 (both ends of the veth;
#                router A sends "fragmentation needed" for larger packets
#                leaving through it, and clamps TCP's MSS to it as routers on
#                such links do; larger packets coming in are lost without a
#                word): the path ends direct with a lowered inner MTU, a
#                direct speedtest does not stall, vole ping prints the path
#                MTU and no interface-MTU false alarm, vole netcheck measures
#                1280 to the server's STUN addresses.
#   2. drop500   router A silently drops every UDP datagram over 500 bytes:
#                the path stays on DERP, a 4 MiB transfer completes, bounded.
#   3. blackhole a paced transfer on the direct path, then router A silently
#                drops UDP over 1200 bytes: the transfer moves on within 10 s
#                and completes intact.
# Every vole process runs as nobody with no capabilities; every wait is
# bounded. Addresses: 198.18.0.0/15 only.
#
# Usage (root): test/scenario/mtu.sh [CASE...]    env: VOLE, KEEP_TMP=1

# shellcheck disable=SC2034 # read by lib.sh
LIB_TAG=vole-m # namespace prefix
# shellcheck source=../interop/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../interop/lib.sh"
# shellcheck source=topology.sh
. "$(dirname "${BASH_SOURCE[0]}")/topology.sh"
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_root
need_cmds ip nft ss setpriv timeout sha256sum "$PYTHON"

SCN_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TCPBLOB="$REPO_ROOT/test/interop/tcpblob.py"
PACED="$SCN_DIR/pacedsend.py"
ST_CHECK="$SCN_DIR/speedtest_check.py"
XFER_BYTES=4194304     # 4 MiB, all at once
PACED_BYTES=4194304    # 4 MiB at 384 KiB/s: some 11 s
PACED_RATE=393216
FWD_PORT=7000
SINK_PORT=9000
DIRECT_WAIT=20         # a direct path appears within this (s)
LINK_MTU=1280
# vole ping's checklist line for a direct path whose MTU is small: the MTU
# warning with the discovered path MTU and the tunnel MTU vole chose
PING_PMTU_RE='^⚠ direct path MTU [0-9]+ \(less than 1378\): tunnel MTU lowered to [0-9]+ toward the agent'
M_EIF01_RE='Network interface .* has MTU [0-9]+ \(less than 1378\)'

setup() {
	topo_build && tokens_dev || return 1
	head -c "$XFER_BYTES" /dev/urandom >"$TMPD/blob" &&
		head -c "$PACED_BYTES" /dev/urandom >"$TMPD/blob-paced" || return 1
	chmod 644 "$TMPD"/blob*
}

# ---------------------------------------------------------------- the network

# wan_mtu MTU: both ends of router A's WAN veth
wan_mtu() { ip -n "$NS_RA" link set wan mtu "$1" && ip -n "$NS_NET" link set p-ra mtu "$1"; }

# ra_rules RULE...: router A's extra forward rules (table ip volemtu), none
# when called without; then every namespace forgets its learnt path MTUs
ra_rules() {
	local r rules=""
	for r in "$@"; do rules="$rules
			$r"; done
	nsx "$NS_RA" nft -f - <<-EOF || return 1
		table ip volemtu
		delete table ip volemtu
		table ip volemtu {
			chain fw {
				type filter hook forward priority mangle; policy accept;
				$rules
			}
		}
	EOF
	flush_pmtu
}

flush_pmtu() {
	local ns
	for ns in "$NS_CLI" "$NS_AGT" "$NS_SRV" "$NS_RA" "$NS_RB"; do
		ip -n "$ns" route flush cache
	done
}

# net_reset: MTUs 1500, no extra rules, fresh NAT state
net_reset() {
	wan_mtu 1500 && ra_rules && router_mode A open && router_mode B open
}

# ---------------------------------------------------------------- vole processes

# nodes_up: a fresh agent (exposing the sink) and forward, on the network
# as it is now (so their TCP connections are made through it)
nodes_up() {
	nodes_stop
	agent_start "$NS_AGT" dev "$TOK_DEV" --expose "8000:127.0.0.1:$SINK_PORT" && forward_start dev "$TOK_CLI"
}

path_is_direct() { path_is_kind "$FWD_LOG" dev direct; }
recv_at_least() { [ "$(recv_bytes)" -ge "$1" ]; }

# ---------------------------------------------------------------- 1. MTU 1280

# c1_path: the path ends direct with an inner MTU that fits a 1280-byte
# outer packet (WireGuard adds 60 bytes over IPv4 plus its padding): the
# `pmtu` branch's path line "path dev: direct IP:PORT, mtu N"
c1_path() {
	local last n
	xfer_start "$NS_AGT" || { fail "1280: transfer" "$XF_WHY"; return; }
	wait_for "$DIRECT_WAIT" path_is_direct
	if xfer_wait 45; then
		pass "1280: transfer of $XF_BYTES bytes, SHA-256 equal"
	else
		fail "1280: transfer" "$XF_WHY"
		diag
	fi
	last=$(path_last "$FWD_LOG" dev)
	n=$(sed -n 's/^direct [0-9.]*:[0-9]*, mtu \([0-9]*\)$/\1/p' <<<"$last")
	if [ -n "$n" ] && [ "$n" -lt "$LINK_MTU" ] && [ "$n" -ge 1200 ]; then
		pass "1280: ends direct with a lowered inner MTU ($last)"
	else
		fail "1280: path" "want 'direct IP:PORT, mtu N' with 1200 <= N < $LINK_MTU, last is '${last:-none}' (all: $(paths_summary "$FWD_LOG" dev))"
	fi
}

# intervals_even FILE: speedtest table rows, none below 10% of the largest
intervals_even() {
	"$PYTHON" - "$1" <<-'EOF'
		import re, sys
		rows = [float(m.group(1)) for m in
		        (re.match(r"^\d+\.\d{2}-\d+\.\d{2} sec\s+\S+ MBits\s+(\S+) Mbits/sec", l)
		         for l in open(sys.argv[1]).read().split("\n")[1:-2]) if m]
		if not rows:
		    print("no interval rows"); sys.exit(1)
		low = [r for r in rows if r < 0.1 * max(rows)]
		print("%d intervals, %.1f..%.1f Mbit/s" % (len(rows), min(rows), max(rows)))
		sys.exit(1 if low else 0)
	EOF
}

c1_speedtest() {
	local out="$TMPD/st.out" err="$TMPD/st.err" rc=0 shape even
	run_unpriv "$NS_CLI" timeout 60 "$VOLE" speedtest dev -d --url "$URL" --token "$TOK_CLI" \
		>"$out" 2>"$err" || rc=$?
	if [ "$rc" != 0 ]; then
		fail "1280: speedtest -d" "exit status $rc (124: still running at 60 s): $(tail -n 2 "$err" | tr '\n' ' ')"
		return
	fi
	shape=$("$PYTHON" "$ST_CHECK" table "$out" 5 2>&1)
	if even=$(intervals_even "$out") && [[ $shape == ok:* ]]; then
		pass "1280: speedtest -d: no stall ($even; $(sed -n 's/^[0-9]*ms via //p' "$err" | head -n 1))"
	else
		fail "1280: speedtest -d" "an interval below 10% of the largest, or a bad table: $even; $shape"
		sed 's/^/#   /' "$out" >&2
	fi
}

c1_ping() {
	local err="$TMPD/ping.err" rc=0
	run_unpriv "$NS_CLI" timeout 60 "$VOLE" ping dev -n 3 --url "$URL" --token "$TOK_CLI" \
		>"$TMPD/ping.out" 2>"$err" || rc=$?
	if [ "$rc" = 0 ] && grep -qE "$PING_PMTU_RE" "$err"; then
		pass "1280: vole ping warns with the path MTU: $(grep -m1 -oE "$PING_PMTU_RE" "$err")"
	else
		fail "1280: vole ping" "exit status $rc; no line matching '$PING_PMTU_RE' on stderr"
		show_log "$err" 15
	fi
	if grep -qE "$M_EIF01_RE" "$err"; then
		fail "1280: vole ping" "an interface MTU warning where every host interface is 1500: $(grep -m1 -E "$M_EIF01_RE" "$err")"
	else
		pass "1280: vole ping: no interface MTU false alarm (EIF01)"
	fi
}

# vole netcheck's path MTU phase: the server's STUN addresses lie behind
# the 1280 link
c1_netcheck() {
	local out="$TMPD/netcheck.out" rc=0 n
	run_unpriv "$NS_CLI" timeout 40 "$VOLE" netcheck --url "$URL" --token "$TOK_CLI" -v \
		>"$out" 2>"$TMPD/netcheck.err" || rc=$?
	n=$(grep -c "; STUN: ok, path MTU $LINK_MTU\$" "$out")
	if [ "$rc" = 0 ] && [ "$n" -ge 1 ] && ! grep -q "path MTU 1[3-9][0-9][0-9]" "$out"; then
		pass "1280: vole netcheck: path MTU $LINK_MTU to $n STUN node(s)"
	else
		fail "1280: vole netcheck" "exit status $rc, $n node lines with 'path MTU $LINK_MTU': $(grep 'STUN' "$out" | tr '\n\t' '  ')"
	fi
}

t_mtu1280() {
	nodes_stop
	net_reset || return
	# before vole starts: its TCP connections see the link as it will be
	if ! wan_mtu "$LINK_MTU" || ! ra_rules "tcp flags syn tcp option maxseg size set $((LINK_MTU - 40))"; then
		fail "1280" "could not set the link MTU"
		return
	fi
	nodes_up || { fail "1280" "agent or forward did not start"; return; }
	c1_path
	c1_speedtest
	c1_ping
	c1_netcheck
	nodes_stop
	net_reset
}

# ---------------------------------------------------------------- 2. over 500 dropped

t_drop500() {
	local last t0
	nodes_stop
	if ! net_reset || ! ra_rules "meta l4proto udp ip length > 500 drop"; then
		fail "drop500" "could not add the rule"
		return
	fi
	nodes_up || { fail "drop500" "agent or forward did not start"; return; }
	t0=$(now_ms)
	if xfer "$NS_AGT"; then
		pass "drop500: transfer of $XF_BYTES bytes in $(secs_since "$t0") s, SHA-256 equal"
	else
		fail "drop500: transfer" "$XF_WHY (after $(secs_since "$t0") s)"
		diag
	fi
	sleep 3
	last=$(path_last "$FWD_LOG" dev)
	if [[ $last == derp* ]] && ! path_lines "$FWD_LOG" dev | grep -q '^direct'; then
		pass "drop500: ends on DERP ($last), never direct"
	else
		fail "drop500: path" "want derp only, got: $(paths_summary "$FWD_LOG" dev)"
	fi
	nodes_stop
	net_reset
}

# ---------------------------------------------------------------- 3. black hole

# c3_progress CUT_MS: after the in-flight data (2 s), the sink gains
# 256 KiB (0.7 s of the pace) within 10 s of the cut
c3_progress() {
	local s1
	sleep 2
	s1=$(recv_bytes)
	if wait_for 8 recv_at_least $((s1 + 262144)); then
		pass "blackhole: the transfer moves on $(secs_since "$1") s after the cut ($s1 -> $(recv_bytes) bytes)"
	else
		fail "blackhole: progress" "the sink had $s1 bytes 2 s after the cut and $(recv_bytes) 10 s after it; paths since: $(path_lines "$FWD_LOG" dev "$2" | tr '\n' ' ')"
	fi
}

t_blackhole() {
	local t0 mark
	nodes_stop
	net_reset || return
	nodes_up || { fail "blackhole" "agent or forward did not start"; return; }
	xfer "$NS_AGT" >/dev/null
	if ! wait_for "$DIRECT_WAIT" path_is_direct; then
		fail "blackhole" "not direct before the cut: $(paths_summary "$FWD_LOG" dev)"
		diag
		nodes_stop
		return
	fi
	xfer_start "$NS_AGT" "$PACED_RATE" || {
		fail "blackhole" "$XF_WHY"
		return
	}
	if ! wait_for 10 recv_at_least 524288; then
		fail "blackhole" "the paced transfer did not start: $(recv_bytes) bytes after 10 s"
	fi
	mark=$(($(log_lines "$FWD_LOG") + 1))
	ra_rules "meta l4proto udp ip length > 1200 drop" || fail "blackhole" "could not add the rule"
	t0=$(now_ms)
	c3_progress "$t0" "$mark"
	if xfer_wait 50; then
		pass "blackhole: $XF_BYTES bytes arrived $(secs_since "$t0") s after the cut, SHA-256 equal (path: $(path_last "$FWD_LOG" dev))"
	else
		fail "blackhole: transfer" "$XF_WHY"
		diag
	fi
	nodes_stop
	net_reset
}

# ---------------------------------------------------------------- main

ALL=(mtu1280 drop500 blackhole)

# shellcheck disable=SC2119 # the server with its default flags
if ! setup || ! server_start; then
	fail setup "topology, files or server could not be started"
	finish
fi
T_START=$(now_ms)
run_cases "$@"
nodes_stop
server_stop
log "scenario time $(secs_since "$T_START") s"
finish
