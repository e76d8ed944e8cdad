#!/bin/bash
# shellcheck disable=SC2317 # the scenarios are called as "t_$name"
# shellcheck source-path=SCRIPTDIR
# Interop tests: vole (unprivileged, userspace) against Debian's wireguard-go
# (kernel TCP/IP over a TUN device), in two network namespaces:
#
#   ns wgk                                        ns vole
#   wireguard-go on TUN $WGIF                     vole tunnel, as nobody, no caps
#     198.19.0.1/24, fd00:766f:6c65::1/64           198.19.0.2/24, fd00:766f:6c65::2/64
#     UDP 198.18.0.1:51820  ---- veth ----          UDP 198.18.0.2:51821
#
# Scenarios follow the kernel's WireGuard selftest (netns.sh): exact byte
# counters after a 10-ping handshake, pings both ways (v4/v6), 4000-byte vole
# pings that cross as fragments both ways (issue #7), bulk TCP with
# SHA-256 check through -L and -R forwards, new handshakes after the peer
# restarts, roaming (port and source address), low-order public keys.
#
# Usage (root):  test/interop/wireguard_go.sh [SCENARIO...]
#   env VOLE=/path/to/vole (default build/vole), TCP_BYTES (default 104857600),
#   KEEP_TMP=1 keeps logs, WGGO_LOG_LEVEL=verbose for wireguard-go logs.
# Output: "ok - NAME" / "not ok - NAME: reason" per check, then
# "N passed, N failed"; exit status non-zero on any failure.

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_root
need_cmds ip wg wireguard-go nft ss ping setpriv timeout sha256sum "$PYTHON"

TCPBLOB="$LIB_DIR/tcpblob.py"
TCP_BYTES=${TCP_BYTES:-104857600}
TCP_TIMEOUT=${TCP_TIMEOUT:-120}

NSK="$NS_PREFIX-wgk"
NSV="$NS_PREFIX-vole"
WGIF="vwk$$"                  # wireguard-go's TUN; its UAPI socket is global

UK4=198.18.0.1  UV4=198.18.0.2  UV4B=198.18.0.3
K4=198.19.0.1   V4=198.19.0.2
K6=fd00:766f:6c65::1  V6=fd00:766f:6c65::2
KPORT=51820  VPORT=51821  VPORT2=51831  LOPORT=51841
DEAD4=198.19.0.99              # in vole's AllowedIPs, dropped silently in wgk

# vole's forwards: -L local port -> wgk server; -R overlay port -> local server
FWD=(
	-L "127.0.0.1:15001:$K4:5001" # vole -> wgk upload
	-L "127.0.0.1:15003:$K4:5003" # wgk -> vole download
	-L "127.0.0.1:15007:$K4:5007" # echo probe
	-R 5002:127.0.0.1:6002       # wgk -> vole upload
	-R 5004:127.0.0.1:6004       # vole -> wgk download
	-R 5006:127.0.0.1:6006       # v6 upload
)

# The seven low-order Curve25519 points (as listed in the kernel selftest):
# 0, 1, two points of order 8, p-1, p, p+1 (non-canonical encodings).
LOW_ORDER=(
	AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
	AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
	4Ot6fDtBuK4WVuP68Z/EatoJjeucMrH9hmIFFl9JuAA=
	X5yVvKNQjCSx0LFVnIPvWwREXMRYHI6G2CJO3dCfEVc=
	7P///////////////////////////////////////38=
	7f///////////////////////////////////////38=
	7v///////////////////////////////////////38=
)

# ---------------------------------------------------------------- setup

setup() {
	ns_new "$NSK" && ns_new "$NSV" || return 1
	veth_pair "$NSK" uk "$UK4/24" "$NSV" uv "$UV4/24" || return 1
	genkeys K && genkeys V || return 1
	PSK=$(wg genpsk) || return 1

	cat >"$TMPD/wgk.conf" <<-EOF
		[Interface]
		PrivateKey = $K_PRIV
		ListenPort = $KPORT

		[Peer]
		PublicKey = $V_PUB
		PresharedKey = $PSK
		Endpoint = $UV4:$VPORT
		AllowedIPs = $V4/32, $V6/128
	EOF
	vole_conf "$TMPD/vole.conf" "$VPORT"
	vole_conf "$TMPD/vole-port2.conf" "$VPORT2"
	chmod 644 "$TMPD"/*.conf

	# in wgk: a persistent echo server (survives wireguard-go restarts) and a
	# silent drop for DEAD4 (no ICMP error, so vole ping must time out)
	spawn ECHO_PID "$TMPD/echo.log" nsx "$NSK" "$PYTHON" "$TCPBLOB" echo-server 0.0.0.0 5007
	nsx "$NSK" nft -f - <<-EOF || return 1
		table inet voledrop {
			chain pre {
				type filter hook prerouting priority -300; policy accept;
				ip daddr $DEAD4 drop
			}
		}
	EOF
	udp_counter_add "$NSV" || return 1
	wait_for 10 tcp_listening "$NSK" 5007
}

# vole_conf FILE LISTENPORT: vole's config for the wgk peer
vole_conf() {
	cat >"$1" <<-EOF
		[Interface]
		PrivateKey = $V_PRIV
		Address = $V4/24, $V6/64
		ListenPort = $2
		MTU = 1420

		[Peer]
		PublicKey = $K_PUB
		PresharedKey = $PSK
		Endpoint = $UK4:$KPORT
		AllowedIPs = 198.19.0.0/24, fd00:766f:6c65::/64
	EOF
}

wggo_up() { wggo_start "$NSK" "$WGIF" "$TMPD/wgk.conf" "$K4/24" "$K6/64"; }
wggo_restart() { wggo_stop "$WGIF" && wggo_up; }
# wggo_ensure: wireguard-go is running (started if it is not)
wggo_ensure() {
	local v="WGGO_PID_$WGIF"
	if [ -n "${!v:-}" ] && alive "${!v}"; then
		return 0
	fi
	wggo_restart
}
# tunnel_ensure CONF PORT [ARGS]: a vole tunnel with exactly these arguments
# is running (kept if it already is, else (re)started)
tunnel_ensure() {
	if [ -n "$VOLE_PID" ] && alive "$VOLE_PID" && [ "$VOLE_KEY" = "$*" ]; then
		return 0
	fi
	vole_stop
	vole_start "$@"
}

# vole_start CONF PORT [ARGS...]: start `vole tunnel` as nobody in ns vole;
# wait until its UDP port is bound.  Sets VOLE_PID, VOLE_LOG.
VOLE_PID=
VOLE_KEY=
VOLE_N=0
vole_start() {
	local conf=$1 port=$2
	VOLE_KEY="$*"
	shift 2
	VOLE_N=$((VOLE_N + 1))
	VOLE_LOG="$TMPD/vole-tunnel-$VOLE_N.log"
	spawn VOLE_PID "$VOLE_LOG" run_unpriv "$NSV" "$VOLE" tunnel -c "$conf" "$@"
	if ! wait_for 10 udp_bound "$NSV" "$port"; then
		show_log "$VOLE_LOG"
		return 1
	fi
	alive "$VOLE_PID" || return 1
	[ -n "$UNPRIV_CHECKED" ] || check_vole_unpriv "$VOLE_PID"
}

# check_vole_unpriv PID: the running vole has uid/gid 65534 and no capabilities
UNPRIV_CHECKED=
check_vole_unpriv() {
	local st uid gid caps
	UNPRIV_CHECKED=1
	st=$(cat "/proc/$1/status" 2>/dev/null)
	uid=$(awk '/^Uid:/ { print $2 "/" $3 "/" $4 "/" $5 }' <<<"$st")
	gid=$(awk '/^Gid:/ { print $2 "/" $3 "/" $4 "/" $5 }' <<<"$st")
	caps=$(awk '/^Cap(Inh|Prm|Eff|Bnd|Amb):/ { printf "%s", $2 }' <<<"$st")
	if [ "$(awk '/^Name:/ { print $2 }' <<<"$st")" = vole ] &&
		[ "$uid" = 65534/65534/65534/65534 ] && [ "$gid" = 65534/65534/65534/65534 ] &&
		[[ $caps =~ ^0+$ ]]; then
		pass "vole_runs_unprivileged (uid/gid 65534, no capabilities)"
	else
		fail vole_runs_unprivileged "pid $1: uid $uid gid $gid caps $caps"
	fi
}

# vole_stop: SIGTERM the tunnel; VOLE_RC gets its exit status
vole_stop() {
	VOLE_RC=
	[ -n "$VOLE_PID" ] || return 0
	stop_pid "$VOLE_PID" 5
	VOLE_RC=$?
	VOLE_PID=
	return "$VOLE_RC"
}

# probe: one TCP echo through vole's -L 15007 to the echo server in wgk
probe() {
	nsx "$NSV" timeout 6 "$PYTHON" "$TCPBLOB" probe 127.0.0.1 15007 --timeout 4
}

kping() { nsx "$NSK" ping -n -q "$@" >/dev/null 2>&1; }

handshake_time() { wg_field "$NSK" "$WGIF" latest-handshakes "$V_PUB"; }

# ---------------------------------------------------------------- scenarios

# b. The byte-count oracle, on a fresh wireguard-go and a fresh vole tunnel.
# wireguard-go initiates (its ping), so on wgk's side:
#   tx = 148 (initiation) + 10 x 128 [+ 32 if it sends one keepalive]
#   rx =  92 (response)   + 10 x 128 [+ 32 if vole sends one keepalive]
# where 128 = 32 (header 16 + tag 16) + 96: an echo packet of 56 data bytes
# is 20 + 8 + 56 = 84 bytes of IP, padded to a multiple of 16 = 96.
t_byte_count_oracle() {
	local n=byte_count_oracle tr rx tx hs
	local pad=$(((20 + 8 + 56 + 15) / 16 * 16))
	local data=$((10 * (pad + 32)))
	wggo_restart || { fail "$n" "wireguard-go did not start"; return; }
	vole_start "$TMPD/vole.conf" "$VPORT" || { fail "$n" "vole tunnel did not start"; return; }
	if ! nsx "$NSK" ping -n -q -c 10 -i 0.2 -s 56 -W 2 "$V4" >"$TMPD/oracle-ping.log" 2>&1; then
		fail "$n" "ping -c 10 $V4 from wgk failed: $(grep -m1 transmitted "$TMPD/oracle-ping.log")"
		show_log "$VOLE_LOG"
		return
	fi
	tr=$(wg_field "$NSK" "$WGIF" transfer "$V_PUB")
	hs=$(handshake_time)
	read -r rx tx <<<"$tr"
	log "wgk transfer after handshake + 10 pings: rx=$rx tx=$tx (expect rx $((92 + data)) [+32], tx $((148 + data)) [+32]); latest-handshake=$hs"
	if [[ $rx != "$((92 + data))" && $rx != "$((92 + data + 32))" ]]; then
		fail "$n" "wgk rx=$rx, expected $((92 + data)) or $((92 + data + 32)) (tx=$tx)"
	elif [[ $tx != "$((148 + data))" && $tx != "$((148 + data + 32))" ]]; then
		fail "$n" "wgk tx=$tx, expected $((148 + data)) or $((148 + data + 32)) (rx=$rx)"
	elif [[ -z $hs || $hs == 0 ]]; then
		fail "$n" "latest-handshakes is '$hs'"
	else
		pass "$n (rx=$rx tx=$tx)"
	fi
}

# c1. kernel pings vole's overlay addresses; the tunnel exits 0 on SIGTERM
t_kernel_ping() {
	local n
	wggo_ensure || { fail kernel_ping "wireguard-go did not start"; return; }
	tunnel_ensure "$TMPD/vole.conf" "$VPORT" || { fail kernel_ping "vole tunnel did not start"; return; }
	# a peer that restarted may hold a stale session with wgk; give wgk's own
	# timers time to re-handshake, then all 3 echoes must come back
	wait_for 25 kping -c 1 -W 1 "$V4"
	for n in "$V4" "$V6"; do
		if kping -c 3 -i 0.2 -W 2 "$n"; then
			pass "kernel_ping_$n"
		else
			fail "kernel_ping_$n" "ping -c 3 $n from wgk got no full reply set"
		fi
	done
	vole_stop
	if [ "$VOLE_RC" = 0 ]; then
		pass tunnel_sigterm_exit_0
	else
		fail tunnel_sigterm_exit_0 "exit status $VOLE_RC after SIGTERM"
		show_log "$VOLE_LOG"
	fi
}

# c2. vole ping (its own tunnel from the config) to the kernel's addresses
t_vole_ping() {
	local addr out rc bad pongs re
	vole_stop
	wggo_ensure || { fail vole_ping "wireguard-go did not start"; return; }
	for addr in "$K4" "$K6"; do
		out="$TMPD/vole-ping-$addr.log"
		timeout 60 ip netns exec "$NSV" "${UNPRIV[@]}" "$VOLE" ping -c "$TMPD/vole.conf" "$addr" -n 3 \
			>"$out" 2>"$out.err" </dev/null
		rc=$?
		# pong from ADDRESS p2p via ENDPOINT in DURATION (Go duration, ms)
		re="^pong from ${addr//./\\.} p2p via ${UK4//./\\.}:$KPORT in ([0-9]+(\\.[0-9]+)?(h|m|s|ms|µs|us|ns))+\$"
		pongs=$(grep -c '^pong from' "$out")
		bad=$(grep '^pong from' "$out" | grep -Evc "$re")
		if [ "$rc" -ne 0 ]; then
			fail "vole_ping_$addr" "exit status $rc; stdout: $(head -c 300 "$out"); stderr: $(head -c 300 "$out.err")"
		elif [ "$pongs" -ne 3 ] || [ "$bad" -ne 0 ]; then
			fail "vole_ping_$addr" "want 3 lines 'pong from $addr p2p via $UK4:$KPORT in DUR', got: $(grep -E '^(pong|ping)' "$out" | head -5 | tr '\n' '|')"
		else
			pass "vole_ping_$addr ($(grep -m1 '^pong' "$out"))"
		fi
	done

	# no reply: one "ping to "ADDRESS" timed out" line and exit status 1
	out="$TMPD/vole-ping-dead.log"
	timeout 30 ip netns exec "$NSV" "${UNPRIV[@]}" "$VOLE" ping -c "$TMPD/vole.conf" "$DEAD4" -n 1 -t 2s \
		>"$out" 2>"$out.err" </dev/null
	rc=$?
	if [ "$rc" -ne 1 ]; then
		fail vole_ping_timeout "exit status $rc (want 1); stdout: $(head -c 300 "$out")"
	elif ! grep -Eq "^ping to \"${DEAD4//./\\.}\" timed out ?\$" "$out"; then
		fail vole_ping_timeout "no line 'ping to \"$DEAD4\" timed out'; stdout: $(head -c 300 "$out")"
	else
		pass vole_ping_timeout
	fi
}

# ip_stat NS FAMILY NAME: a counter of the IP layer of namespace NS, e.g.
# "ip_stat ns 4 ReasmOKs" (/proc/net/snmp) or "ip_stat ns 6 FragCreates"
# (Ip6FragCreates in /proc/net/snmp6).
ip_stat() {
	if [ "$2" = 6 ]; then
		nsx "$1" cat /proc/net/snmp6 | awk -v k="Ip6$3" '$1 == k { print $2 }'
	else
		nsx "$1" cat /proc/net/snmp | awk -v k="$3" '$1 == "Ip:" && !h { for (i = 2; i <= NF; i++) if ($i == k) c = i; h = 1; next }
			$1 == "Ip:" { print $c }'
	fi
}

# c2b. vole ping -s 4000 (issue #7): each 4008-byte echo leaves vole as
# fragments of the 1420-byte tunnel MTU, the peer's kernel reassembles it (its
# ReasmOKs counter) and fragments its reply (FragCreates) for lwIP to put
# back together.
t_vole_ping_big() {
	local addr fam out rc pongs reasm0 frag0 reasm frag
	vole_stop
	wggo_ensure || { fail vole_ping_big "wireguard-go did not start"; return; }
	for addr in "$K4" "$K6"; do
		fam=4 && [[ $addr == *:* ]] && fam=6
		out="$TMPD/vole-ping-big-$addr.log"
		reasm0=$(ip_stat "$NSK" $fam ReasmOKs) frag0=$(ip_stat "$NSK" $fam FragCreates)
		timeout 60 ip netns exec "$NSV" "${UNPRIV[@]}" "$VOLE" ping -c "$TMPD/vole.conf" -s 4000 "$addr" -n 3 \
			--wait 200ms >"$out" 2>"$out.err" </dev/null
		rc=$?
		reasm=$(($(ip_stat "$NSK" $fam ReasmOKs) - reasm0)) frag=$(($(ip_stat "$NSK" $fam FragCreates) - frag0))
		pongs=$(grep -c "^pong from ${addr//./\\.} p2p via " "$out")
		if [ "$rc" -ne 0 ]; then
			fail "vole_ping_big_$addr" "exit status $rc; stdout: $(head -c 300 "$out"); stderr: $(head -c 300 "$out.err")"
		elif [ "$pongs" -ne 3 ]; then
			fail "vole_ping_big_$addr" "want 3 'pong from $addr' lines, got: $(grep -E '^(pong|ping)' "$out" | head -5 | tr '\n' '|')"
		elif [ "$reasm" -lt 3 ] || [ "$frag" -lt 9 ]; then
			fail "vole_ping_big_$addr" "replies, but the peer reassembled $reasm and made $frag fragments (want >= 3, >= 9)"
		else
			pass "vole_ping_big_$addr ($(grep -m1 '^pong' "$out"); peer reassembled $reasm, sent $frag fragments)"
		fi
	done
}

# one_transfer NAME SERVER_NS SERVER_HOST SERVER_PORT SERVER_DIR CLIENT_NS CLIENT_HOST CLIENT_PORT [BYTES]
# SERVER_DIR is what the server does (send|recv); the client does the other.
one_transfer() {
	local name=$1 sns=$2 shost=$3 sport=$4 sdir=$5 cns=$6 chost=$7 cport=$8 bytes=${9:-$TCP_BYTES}
	local src="$TMPD/blob-$bytes" dst="$TMPD/$name.out" cdir spid rc t0 t1 want got
	[ "$sdir" = send ] && cdir=recv || cdir=send
	[ -f "$src" ] || head -c "$bytes" /dev/urandom >"$src"
	local sfile=$src cfile=$dst
	[ "$sdir" = recv ] && sfile=$dst && cfile=$src
	rm -f "$dst"
	spawn spid "$TMPD/$name.server.log" nsx "$sns" timeout "$((TCP_TIMEOUT + 10))" \
		"$PYTHON" "$TCPBLOB" listen "$shost" "$sport" "$sdir" "$sfile" --bytes "$bytes" --timeout "$TCP_TIMEOUT"
	if ! wait_for 10 tcp_listening "$sns" "$sport"; then
		fail "$name" "server did not listen on $shost:$sport"
		stop_pid "$spid" 1
		return
	fi
	t0=$(now_ms)
	nsx "$cns" timeout "$TCP_TIMEOUT" "$PYTHON" "$TCPBLOB" connect "$chost" "$cport" "$cdir" "$cfile" \
		--bytes "$bytes" --timeout 30 >"$TMPD/$name.client.log" 2>&1
	rc=$?
	t1=$(now_ms)
	wait_exit "$spid" 15
	[ $? = 124 ] && stop_pid "$spid" 1
	want=$(sha256sum <"$src" | cut -d' ' -f1)
	got=$(sha256sum <"$dst" 2>/dev/null | cut -d' ' -f1)
	if [ "$rc" -ne 0 ] || [ "$want" != "$got" ]; then
		fail "$name" "client exit $rc, received $(stat -c %s "$dst" 2>/dev/null || echo 0) of $bytes bytes, sha256 ${got:0:16}.. want ${want:0:16}.."
		show_log "$TMPD/$name.client.log" 5
		show_log "$TMPD/$name.server.log" 5
		show_log "$VOLE_LOG"
	else
		pass "$name ($bytes bytes, sha256 ${want:0:16}.., $(awk -v b="$bytes" -v ms=$((t1 - t0)) 'BEGIN { printf "%.0f Mbit/s", b * 8 / (ms > 0 ? ms : 1) / 1000 }'))"
	fi
	rm -f "$dst"
}

# d. >= 100 MiB each way through -L and through -R, SHA-256 compared
t_tcp_bulk() {
	vole_stop
	wggo_ensure || { fail tcp_bulk "wireguard-go did not start"; return; }
	if ! vole_start "$TMPD/vole.conf" "$VPORT" "${FWD[@]}" || ! wait_for 20 probe; then
		fail tcp_bulk "vole tunnel with forwards not working (no echo through -L 15007)"
		return
	fi
	# -L: client in ns vole on 127.0.0.1:LPORT, server in wgk on its overlay address
	one_transfer tcp_L_vole_to_wgk "$NSK" "$K4" 5001 recv "$NSV" 127.0.0.1 15001
	one_transfer tcp_L_wgk_to_vole "$NSK" "$K4" 5003 send "$NSV" 127.0.0.1 15003
	# -R: server on ns vole's loopback, kernel client in wgk dials vole's overlay address
	one_transfer tcp_R_wgk_to_vole "$NSV" 127.0.0.1 6002 recv "$NSK" "$V4" 5002
	one_transfer tcp_R_vole_to_wgk "$NSV" 127.0.0.1 6004 send "$NSK" "$V4" 5004
	# and once over the IPv6 overlay (smaller)
	one_transfer tcp_R_v6_wgk_to_vole "$NSV" 127.0.0.1 6006 recv "$NSK" "$V6" 5006 16777216
	rm -f "$TMPD"/blob-*
}

# e1. wireguard-go restarts (all state lost); vole's traffic must bring up a
# new handshake, initiated by vole (wgk has nothing to send)
t_restart_vole_initiates() {
	local n=wggo_restart_vole_initiates t0 hs
	wggo_ensure || { fail "$n" "wireguard-go did not start"; return; }
	tunnel_ensure "$TMPD/vole.conf" "$VPORT" "${FWD[@]}" || { fail "$n" "vole tunnel did not start"; return; }
	wait_for 20 probe || { fail "$n" "no echo through the tunnel before the restart"; return; }
	wggo_restart || { fail "$n" "wireguard-go did not restart"; return; }
	hs=$(handshake_time)
	[[ -z $hs || $hs == 0 ]] || { fail "$n" "fresh wireguard-go reports a handshake ($hs)"; return; }
	t0=$(now_ms)
	if ! wait_for 60 probe; then
		fail "$n" "no echo through vole within 60 s after wireguard-go restarted"
		show_log "$VOLE_LOG"
		return
	fi
	hs=$(handshake_time)
	if [[ -z $hs || $hs == 0 ]]; then
		fail "$n" "traffic flows but latest-handshakes is '$hs'"
	else
		pass "$n (traffic back after $(($(now_ms) - t0)) ms)"
	fi
}

# e2. wireguard-go restarts again; this time the kernel side sends first, so
# wireguard-go initiates and vole must accept a new handshake from its peer
t_restart_kernel_initiates() {
	local n=wggo_restart_kernel_initiates t0 hs
	wggo_ensure || { fail "$n" "wireguard-go did not start"; return; }
	tunnel_ensure "$TMPD/vole.conf" "$VPORT" "${FWD[@]}" || { fail "$n" "vole tunnel did not start"; return; }
	wait_for 20 kping -c 1 -W 1 "$V4" || { fail "$n" "no ping reply before the restart"; return; }
	wggo_restart || { fail "$n" "wireguard-go did not restart"; return; }
	t0=$(now_ms)
	if ! wait_for 30 kping -c 1 -W 1 "$V4"; then
		fail "$n" "no ping reply from vole within 30 s after wireguard-go restarted"
		show_log "$VOLE_LOG"
		return
	fi
	hs=$(handshake_time)
	if [[ -z $hs || $hs == 0 ]]; then
		fail "$n" "latest-handshakes is '$hs'"
	elif ! wait_for 20 probe; then
		fail "$n" "ping works, but no TCP echo through -L afterwards"
	else
		pass "$n (ping back after $(($(now_ms) - t0)) ms)"
	fi
}

# f1. vole comes back on another UDP port: wgk's endpoint follows it
t_roaming_port() {
	local n=roaming_port ep
	vole_stop
	wggo_ensure || { fail "$n" "wireguard-go did not start"; return; }
	vole_start "$TMPD/vole-port2.conf" "$VPORT2" "${FWD[@]}" || { fail "$n" "vole tunnel did not start on port $VPORT2"; return; }
	if ! wait_for 30 probe; then
		fail "$n" "no echo through vole from port $VPORT2"
		return
	fi
	ep=$(wg_field "$NSK" "$WGIF" endpoints "$V_PUB")
	if [ "$ep" != "$UV4:$VPORT2" ]; then
		fail "$n" "wgk endpoint for vole is '$ep', want $UV4:$VPORT2"
	elif ! kping -c 2 -i 0.2 -W 2 "$V4"; then
		fail "$n" "endpoint updated, but wgk's pings to $V4 get no reply"
	else
		pass "$n (endpoint $ep)"
	fi
}

# f2. vole's underlay address changes under a live session (no restart, no new
# handshake needed): 198.18.0.2 is replaced by 198.18.0.3, so even an
# implementation with sticky source addresses must move; wgk must follow the
# authenticated source of the data packets
t_roaming_address() {
	local n=roaming_address ep
	wggo_ensure || { fail "$n" "wireguard-go did not start"; return; }
	# a live session from 198.18.0.2:$VPORT2 first (kept from roaming_port)
	tunnel_ensure "$TMPD/vole-port2.conf" "$VPORT2" "${FWD[@]}" || { fail "$n" "vole tunnel did not start"; return; }
	wait_for 30 probe || { fail "$n" "no echo through vole before the address change"; return; }
	ep=$(wg_field "$NSK" "$WGIF" endpoints "$V_PUB")
	[ "$ep" = "$UV4:$VPORT2" ] || { fail "$n" "endpoint before the change is '$ep', want $UV4:$VPORT2"; return; }
	if ! nsx "$NSV" sysctl -q -w net.ipv4.conf.uv.promote_secondaries=1 ||
		! ip -n "$NSV" addr add "$UV4B/24" dev uv ||
		! ip -n "$NSV" addr del "$UV4/24" dev uv; then
		fail "$n" "could not change the underlay address"
		return
	fi
	if ! wait_for 30 probe; then
		fail "$n" "no echo through vole after its source address changed to $UV4B"
	else
		ep=$(wg_field "$NSK" "$WGIF" endpoints "$V_PUB")
		if [ "$ep" != "$UV4B:$VPORT2" ]; then
			fail "$n" "wgk endpoint for vole is '$ep', want $UV4B:$VPORT2"
		elif ! kping -c 2 -i 0.2 -W 2 "$V4"; then
			fail "$n" "endpoint updated, but wgk's pings to $V4 get no reply"
		else
			pass "$n (endpoint $ep)"
		fi
	fi
	ip -n "$NSV" addr add "$UV4/24" dev uv
	ip -n "$NSV" addr del "$UV4B/24" dev uv
	vole_stop
}

# lowkey_conf FILE PUBKEY: a peer with keepalive 1 at an endpoint nobody serves
lowkey_conf() {
	cat >"$1" <<-EOF
		[Interface]
		PrivateKey = $V_PRIV
		Address = $V4/24
		ListenPort = $LOPORT

		[Peer]
		PublicKey = $2
		Endpoint = $UK4:51899
		AllowedIPs = 198.19.9.0/24
		PersistentKeepalive = 1
	EOF
	chmod 644 "$1"
}

# lowkey_run PUBKEY TAG: run vole 2 s with that peer; sets LK_SENT (UDP
# packets that left ns vole), LK_RC (exit status, or "running"), LK_LOG
lowkey_run() {
	local pid before
	LK_LOG="$TMPD/lowkey-$2.log"
	lowkey_conf "$TMPD/lowkey-$2.conf" "$1"
	before=$(udp_counter "$NSV")
	spawn pid "$LK_LOG" run_unpriv "$NSV" "$VOLE" tunnel -c "$TMPD/lowkey-$2.conf"
	sleep 2.2
	if alive "$pid"; then
		LK_RC=running
		stop_pid "$pid" 5
	else
		wait_exit "$pid" 1
		LK_RC=$?
	fi
	LK_SENT=$(($(udp_counter "$NSV") - before))
}

# g. low-order peer public keys + PersistentKeepalive = 1: nothing on the wire
t_low_order_keys() {
	local i k
	vole_stop
	udp_counter "$NSV" >/dev/null || { fail low_order_keys "no nft counter in ns vole"; return; }
	# positive control: an ordinary (unreachable) peer makes vole send
	# handshake initiations, so the counter is known to see vole's packets
	lowkey_run "$(wg genkey | wg pubkey)" control
	if [ "${LK_SENT:-0}" -gt 0 ]; then
		pass "low_order_control (ordinary peer: $LK_SENT UDP packets in 2 s)"
	else
		fail low_order_control "an ordinary peer with PersistentKeepalive = 1 sent no UDP packet in 2 s (exit: $LK_RC)"
		show_log "$LK_LOG" 5
	fi
	for i in "${!LOW_ORDER[@]}"; do
		k=${LOW_ORDER[$i]}
		lowkey_run "$k" "$i"
		if [ "${LK_SENT:-x}" != 0 ]; then
			fail "low_order_key_$i" "$k: $LK_SENT UDP packets left ns vole (exit: $LK_RC)"
		elif [ "$LK_RC" = running ]; then
			pass "low_order_key_$i ($k: ran 2 s, sent nothing)"
		elif [ "$LK_RC" -ne 0 ] && [ -s "$LK_LOG" ]; then
			pass "low_order_key_$i ($k: refused, exit $LK_RC: $(head -n1 "$LK_LOG" | cut -c1-100))"
		else
			fail "low_order_key_$i" "$k: vole exited with status $LK_RC$([ -s "$LK_LOG" ] || echo ' and no message')"
		fi
	done
}

# ---------------------------------------------------------------- main

ALL=(byte_count_oracle kernel_ping vole_ping vole_ping_big tcp_bulk restart_vole_initiates
	restart_kernel_initiates roaming_port roaming_address low_order_keys)

main() {
	local s want=("$@")
	[ ${#want[@]} -eq 0 ] && want=("${ALL[@]}")
	if [ ! -x "$VOLE" ]; then
		fail vole_binary "not found or not executable: $VOLE"
		finish
	fi
	if ! setup; then
		fail setup "could not build the namespaces/wireguard-go topology"
		finish
	fi
	if ! lib_check_unpriv "$NSV"; then
		fail unprivileged "setpriv does not drop to nobody without capabilities"
		finish
	fi
	log "namespaces $NSK $NSV, wireguard-go $WGIF, vole $VOLE, logs in $TMPD"
	for s in "${want[@]}"; do
		if [[ " ${ALL[*]} " != *" $s "* ]]; then
			fail "$s" "no such scenario (have: ${ALL[*]})"
			continue
		fi
		log "scenario $s"
		"t_$s"
	done
	vole_stop
	finish
}

main "$@"
