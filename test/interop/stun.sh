#!/bin/bash
# shellcheck disable=SC2317 # the scenarios are called as "t_$name"
# shellcheck source-path=SCRIPTDIR
# STUN scenario and interop tests: `vole stun` (server) and `vole netcheck`
# (client), both run as nobody with no capabilities, against each other, against
# Debian's clients (stun-client's `stun`, coturn's `turnutils_stunclient`) and
# against coturn's `turnserver`, through a router namespace that does no NAT,
# endpoint-independent NAT, endpoint-dependent NAT, or drops UDP:
#
#   ns cli                  ns rtr                           ns srv
#   198.18.0.1x/24 c0 ---- r0 198.18.0.1/24                  s0 198.18.1.1/24 + 198.18.1.2/24
#   (default via rtr)       r1 198.18.1.254/24 ----------------- (198.18.0.0/24 via rtr)
#                           (forwards; the nft table           vole stun    :3478 on each IP
#                            "ip volerouter" sets the mode)    vole stun    *:3481, [::1]:3478
#                                                              turnserver   :3479 on each IP
#
# The client's address changes for every router mode (198.18.0.10 in routed
# mode for the interop scenarios, .11 .. .14 for the NAT scenarios), so no
# conntrack entry of an earlier mode can apply to a later one (there is no
# `conntrack -F` on the test machines).  Before vole is asked, every NAT mode
# is checked with Debian tools only: `stun -p PORT` (one fixed source port)
# against coturn on both server IPs must show the mapping the mode promises.
#
# Usage (root):  test/interop/stun.sh [SCENARIO...]
#   env VOLE=/path/to/vole (default build/vole), KEEP_TMP=1 keeps the logs.
# Output: "ok - NAME" / "not ok - NAME: reason" per check, then
# "N passed, N failed"; exit status non-zero on any failure.

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_root
need_cmds ip nft ss setpriv timeout turnserver turnutils_stunclient stun "$PYTHON"

NSC="$NS_PREFIX-cli"
NSR="$NS_PREFIX-rtr"
NSS="$NS_PREFIX-srv"

CLI4=198.18.0.10               # client address in routed mode (interop scenarios)
RIN4=198.18.0.1                # router, client side
ROUT4=198.18.1.254             # router, outside: the NAT's public address
SRV1=198.18.1.1  SRV2=198.18.1.2
VPORT=3478                     # vole stun on SRV1 (server A) and SRV2 (server B)
CPORT=3479                     # coturn on SRV1 and SRV2
WPORT=3481                     # vole stun server B on all addresses (*)
NETCHECK_MAX_MS=${NETCHECK_MAX_MS:-6000}  # 3 s STUN phase + margin

# ---------------------------------------------------------------- python helpers

# netcheck -o json -> KEY=VALUE lines (bools as true/false, None as null,
# absent keys as "missing"); "mapped" lists the servers' mapped addresses,
# "distinct" how many different ones there are.
PY_REPORT='
import json, sys
try:
    r = json.load(open(sys.argv[1]))
    assert isinstance(r, dict), "not a JSON object"
except Exception as e:
    print("error=%s" % str(e).replace("\n", " "))
    sys.exit(1)
def s(v):
    return {None: "null", True: "true", False: "false"}.get(v, v) if isinstance(v, (bool, type(None))) else str(v)
for k in ("UDP", "IPv4", "IPv6", "GlobalV4", "GlobalV6", "MappingVariesByDestIP"):
    print("%s=%s" % (k, s(r[k]) if k in r else "missing"))
st = r.get("STUN")
st = st if isinstance(st, list) else []
m = [e.get("mapped") for e in st if isinstance(e, dict) and e.get("mapped")]
print("nstun=%d" % len(st))
print("mapped=%s" % " ".join(m))
print("distinct=%d" % len(set(m)))
print("errors=%s" % "; ".join("%s: %s" % (e.get("server"), e.get("error")) for e in st if isinstance(e, dict) and e.get("error")))
'

# Raw requests to a STUN server from one socket (server behaviour the Debian
# clients cannot show).  argv: HOST PORT CLIENT_IP.  Prints "ok NAME detail" or
# "not ok NAME reason" per case.  The cases that must be dropped are sent
# first; the two that must be answered last, so their answers show that the
# server had read (and dropped) the others by then.
PY_RAW='
import os, socket, struct, sys, time, zlib
host, port, want_ip = sys.argv[1], int(sys.argv[2]), sys.argv[3]
COOKIE = 0x2112A442
def attr(t, v):
    return struct.pack("!HH", t, len(v)) + v + b"\0" * (-len(v) % 4)
def msg(typ, tx, attrs, fp="good"):
    body = b"".join(attrs)
    if fp != "none":
        hdr = struct.pack("!HHI", typ, len(body) + 8, COOKIE) + tx
        crc = (zlib.crc32(hdr + body) ^ 0x5354554E) & 0xFFFFFFFF
        if fp == "bad":
            crc ^= 1
        body += attr(0x8028, struct.pack("!I", crc))
    return struct.pack("!HHI", typ, len(body), COOKIE) + tx + body
def parse(d):
    if len(d) < 20:
        return None
    typ, ln = struct.unpack("!HH", d[:4])
    attrs, i, end = {}, 20, min(len(d), 20 + ln)
    while i + 4 <= end:
        t, l = struct.unpack("!HH", d[i:i + 4])
        attrs.setdefault(t, d[i + 4:i + 4 + l])
        i += 4 + l + (-l % 4)
    return typ, d[8:20], attrs
sw = attr(0x8022, b"tailnode")
cases = []   # (name, txid, packet, expect)
def case(name, build, expect):
    tx = os.urandom(12)
    cases.append((name, tx, build(tx), expect))
case("bad_fingerprint_dropped", lambda t: msg(0x0001, t, [sw], "bad"), None)
case("truncated_dropped", lambda t: msg(0x0001, t, [sw])[:-6], None)
# larger than STUN_SERVER_MAX_REQUEST (1472: a whole 1500-byte IPv4 packet; padded netcheck MTU probes stay within it)
case("oversized_dropped", lambda t: msg(0x0001, t, [sw, attr(0x8FFF, b"\0" * 1500)]), None)
case("response_not_answered",
     lambda t: msg(0x0101, t, [attr(0x0020, struct.pack("!BBH", 0, 1, 0x1234) + bytes(4))], "none"), None)
case("tailscale_request", lambda t: msg(0x0001, t, [sw]), "success")
case("unknown_required_attr_420", lambda t: msg(0x0001, t, [attr(0x7FFE, b"abcd")]), "420")
# 28 bytes would draw a 36-byte 420: an error never outgrows its request.
case("tiny_420_not_amplified", lambda t: msg(0x0001, t, [attr(0x7FFE, b"abcd")], "none"), None)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 0))
lport = s.getsockname()[1]
dst = (host, port)
for _, _, p, _ in cases:
    s.sendto(p, dst)
got, t0, resent = {}, time.monotonic(), False
while time.monotonic() - t0 < 1.5:
    want = [c for c in cases if c[3] and c[1] not in got]
    if not want and time.monotonic() - t0 > 0.3:
        break
    if want and not resent and time.monotonic() - t0 > 0.4:
        resent = True
        for c in want:
            s.sendto(c[2], dst)
    s.settimeout(0.05)
    try:
        d, src = s.recvfrom(2048)
    except socket.timeout:
        continue
    m = parse(d)
    if m:
        got.setdefault(m[1], (d, m))
for name, tx, p, expect in cases:
    r = got.get(tx)
    if expect is None:
        print("ok %s (%d bytes, no answer)" % (name, len(p)) if r is None else
              "not ok %s answered with %d bytes (type 0x%04x)" % (name, len(r[0]), r[1][0]))
        continue
    if r is None:
        print("not ok %s no answer within 1.5 s (one retransmission)" % name)
        continue
    d, (typ, _, attrs) = r
    if expect == "success":
        v = attrs.get(0x0020)
        if typ != 0x0101 or not v or len(v) != 8 or v[1] != 1:
            print("not ok %s type 0x%04x, attributes %s" % (name, typ, sorted(attrs)))
            continue
        ip = socket.inet_ntoa(bytes(a ^ b for a, b in zip(v[4:8], struct.pack("!I", COOKIE))))
        mp = struct.unpack("!H", v[2:4])[0] ^ 0x2112
        if (ip, mp) != (want_ip, lport):
            print("not ok %s XOR-MAPPED-ADDRESS %s:%d, want %s:%d" % (name, ip, mp, want_ip, lport))
        elif len(d) > len(p):
            print("not ok %s %d-byte answer to a %d-byte request (amplifies)" % (name, len(d), len(p)))
        else:
            print("ok %s (%d-byte answer to %d bytes, XOR-MAPPED-ADDRESS %s:%d)" % (name, len(d), len(p), ip, mp))
    else:
        e, u = attrs.get(0x0009, b""), attrs.get(0x000A, b"")
        code = (e[2] & 7) * 100 + e[3] if len(e) >= 4 else None
        unknown = [struct.unpack("!H", u[i:i + 2])[0] for i in range(0, len(u) - 1, 2)]
        if typ != 0x0111 or code != 420 or 0x7FFE not in unknown:
            print("not ok %s type 0x%04x, error %s, unknown attributes %s" % (name, typ, code, [hex(x) for x in unknown]))
        else:
            print("ok %s (error 420, UNKNOWN-ATTRIBUTES 0x7ffe, %d bytes)" % (name, len(d)))
'

# ---------------------------------------------------------------- setup

setup() {
	ns_new "$NSC" && ns_new "$NSR" && ns_new "$NSS" || return 1
	veth_pair "$NSC" c0 "$CLI4/24" "$NSR" r0 "$RIN4/24" || return 1
	veth_pair "$NSR" r1 "$ROUT4/24" "$NSS" s0 "$SRV1/24" || return 1
	ip -n "$NSS" addr add "$SRV2/24" dev s0 || return 1
	ip -n "$NSC" route add default via "$RIN4" || return 1
	ip -n "$NSS" route add 198.18.0.0/24 via "$ROUT4" || return 1
	nsx "$NSR" sysctl -qw net.ipv4.ip_forward=1 || return 1

	# coturn as a plain STUN server on both server IPs (no TURN, no TCP/TLS,
	# no RFC 5780 alternate port, nothing written outside $TMPD)
	spawn TURN_PID "$TMPD/turnserver.log" nsx "$NSS" turnserver -n --no-auth --stun-only \
		--listening-ip "$SRV1" --listening-ip "$SRV2" --listening-port "$CPORT" \
		--no-tcp --no-tls --no-dtls --no-cli --no-rfc5780 -m 0 \
		--log-file stdout --pidfile "$TMPD/turnserver.pid"
	if ! wait_for 10 udp_bound_at "$NSS" "$SRV1" "$CPORT" || ! wait_for 5 udp_bound_at "$NSS" "$SRV2" "$CPORT"; then
		log "turnserver did not bind $SRV1:$CPORT and $SRV2:$CPORT"
		show_log "$TMPD/turnserver.log"
		return 1
	fi
}

# udp_bound_at NS ADDR PORT: a UDP socket is bound to exactly ADDR:PORT
udp_bound_at() { [ -n "$(ss -N "$1" -Huan "src $2:$3" 2>/dev/null)" ]; }

# vole_stun_start VAR LOG ARGS...: `vole stun ARGS -v` as nobody in ns srv
# (pid in VAR); its unprivileged state is recorded
vole_stun_start() {
	local __v=$1 log=$2 pid
	shift 2
	spawn pid "$log" run_unpriv "$NSS" "$VOLE" stun "$@" -v
	printf -v "$__v" '%s' "$pid"
}

# start_servers: vole stun server A (SRV1:3478 and [::1]:3478) and server B
# (SRV2:3478 and *:3481), each its own process
VSA_PID=
VSB_PID=
start_servers() {
	local ok=1
	vole_stun_start VSA_PID "$TMPD/vole-stun-a.log" --listen "$SRV1:$VPORT" --listen "[::1]:$VPORT"
	vole_stun_start VSB_PID "$TMPD/vole-stun-b.log" --listen "$SRV2:$VPORT" --listen "*:$WPORT"
	if wait_for 5 udp_bound_at "$NSS" "$SRV1" "$VPORT" && wait_for 2 udp_bound_at "$NSS" "[::1]" "$VPORT" &&
		alive "$VSA_PID"; then
		pass "vole_stun_a_listening ($SRV1:$VPORT, [::1]:$VPORT)"
		record_unpriv "vole stun A" "$VSA_PID"
	else
		fail vole_stun_a_listening "not bound to $SRV1:$VPORT and [::1]:$VPORT: $(snip "$TMPD/vole-stun-a.log")"
		ok=0
	fi
	if wait_for 5 udp_bound_at "$NSS" "$SRV2" "$VPORT" && wait_for 2 udp_bound "$NSS" "$WPORT" &&
		alive "$VSB_PID"; then
		pass "vole_stun_b_listening ($SRV2:$VPORT, *:$WPORT)"
		record_unpriv "vole stun B" "$VSB_PID"
	else
		fail vole_stun_b_listening "not bound to $SRV2:$VPORT and *:$WPORT: $(snip "$TMPD/vole-stun-b.log")"
		ok=0
	fi
	[ "$ok" = 1 ]
}

# stop_servers: SIGTERM both; each must exit 0
stop_servers() {
	local p rc name
	for name in A B; do
		p=VS${name}_PID
		[ -n "${!p}" ] || continue
		if ! alive "${!p}"; then
			wait_exit "${!p}" 1
			fail "vole_stun_${name,}_sigterm_exit_0" "had already exited (status $?)"
			continue
		fi
		stop_pid "${!p}" 5
		rc=$?
		if [ "$rc" = 0 ]; then
			pass "vole_stun_${name,}_sigterm_exit_0"
		else
			fail "vole_stun_${name,}_sigterm_exit_0" "exit status $rc after SIGTERM"
		fi
		log "vole stun $name log (-v counters):"
		show_log "$TMPD/vole-stun-${name,}.log" 25
		printf -v "$p" '%s' ""
	done
}

# ---------------------------------------------------------------- unprivileged

UNPRIV_OK=()
UNPRIV_BAD=()

# record_unpriv LABEL PID: note whether the running vole PID is unprivileged
record_unpriv() {
	local d
	if d=$(proc_unpriv "$2"); then
		UNPRIV_OK+=("$1")
	elif [ -n "$d" ]; then
		UNPRIV_BAD+=("$1 (pid $2): $d")
	fi
}

# watch_unpriv LABEL PID: wait (at most 3 s) for a freshly spawned PID to
# become vole (ip netns exec -> setpriv -> vole), then record it.  A process
# that exits before it is seen is not recorded.
watch_unpriv() {
	local label=$1 pid=$2 i name
	for ((i = 0; i < 300; i++)); do
		name=$(awk '/^Name:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) || return 0
		[ -n "$name" ] || return 0
		if [ "$name" = vole ]; then
			record_unpriv "$label" "$pid"
			return 0
		fi
		sleep 0.01
	done
}

# ---------------------------------------------------------------- router, client

# router_mode none|eim|edm|drop: what ns rtr does to forwarded traffic
#   none  plain routing
#   eim   masquerade on the outside interface.  nf_nat keeps the source port
#         when the tuple is free, and a flow to another server IP is a new,
#         free tuple: same ip:port for every destination (endpoint-
#         independent mapping).
#   edm   masquerade fully-random: every new conntrack entry (so every new
#         destination) gets a random port (endpoint-dependent mapping).
#         `random` alone would do on recent kernels (6.x hashes the
#         destination into the port), but older ones first try to keep the
#         source port, which makes it endpoint-independent in practice;
#         fully-random never keeps it.  The control in nat_case verifies the
#         mapping on this kernel with coturn before vole is asked.
#   drop  UDP dropped (and counted) in the forward hook
router_mode() {
	nsx "$NSR" nft delete table ip volerouter 2>/dev/null
	case $1 in
	none) return 0 ;;
	eim | edm)
		local how=masquerade
		[ "$1" = edm ] && how="masquerade fully-random"
		nsx "$NSR" nft -f - <<-EOF
			table ip volerouter {
				chain post {
					type nat hook postrouting priority srcnat; policy accept;
					oifname "r1" $how
				}
			}
		EOF
		;;
	drop)
		nsx "$NSR" nft -f - <<-'EOF'
			table ip volerouter {
				chain fw {
					type filter hook forward priority filter; policy accept;
					meta l4proto udp counter drop
				}
			}
		EOF
		;;
	*) return 1 ;;
	esac
}

# dropped_udp: packets counted by the drop rule
dropped_udp() {
	nsx "$NSR" nft list chain ip volerouter fw 2>/dev/null |
		awk '/counter packets/ { for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1) }'
}

# client_addr IP: make IP the client's only address (default route restored)
client_addr() {
	ip -n "$NSC" -4 addr show dev c0 | grep -q " $1/24 " && return 0
	ip -n "$NSC" addr flush dev c0 || return 1
	ip -n "$NSC" addr add "$1/24" dev c0 || return 1
	ip -n "$NSC" route replace default via "$RIN4"
}

# ctrl_map SERVER_IP SRCPORT: the mapped address coturn reports to Debian's
# classic client (RFC 3489 test 1) sent from the client's SRCPORT
ctrl_map() {
	nsx "$NSC" timeout 3 stun "$1:$CPORT" 1 -v -p "$2" 2>&1 | awk '/MappedAddress = / { print $3; exit }'
}

# ---------------------------------------------------------------- netcheck

_stdout_to() {
	local f=$1
	shift
	exec >"$f"
	"$@"
}

# netcheck NAME NS ARGS...: `vole netcheck ARGS` as nobody in NS.  Sets NC_RC,
# NC_MS (wall time), NC_OUT (stdout file), NC_ERR (stderr file).
NC_N=0
netcheck() {
	local name=$1 ns=$2 pid t0
	shift 2
	NC_N=$((NC_N + 1))
	NC_OUT="$TMPD/netcheck-$name.out"
	NC_ERR="$TMPD/netcheck-$name.err"
	t0=$(now_ms)
	spawn pid "$NC_ERR" _stdout_to "$NC_OUT" run_unpriv "$ns" "$VOLE" netcheck "$@"
	watch_unpriv "vole netcheck ($name)" "$pid"
	wait_exit "$pid" 15
	NC_RC=$?
	[ "$NC_RC" = 124 ] && stop_pid "$pid" 1 KILL
	NC_MS=$(($(now_ms) - t0))
}

# netcheck_json NAME NS ARGS...: netcheck with -o json, parsed into NC[...];
# returns 1 (with NC_WHY) when there is no parseable report
declare -A NC
netcheck_json() {
	local k v out
	NC=()
	NC_WHY=
	netcheck "$@" -o json
	if [ "$NC_RC" = 124 ]; then
		NC_WHY="still running after 15 s (killed)"
		return 1
	fi
	if [ "$NC_RC" != 0 ]; then
		NC_WHY="exit status $NC_RC; stderr: $(snip "$NC_ERR")"
		return 1
	fi
	if ! out=$("$PYTHON" -c "$PY_REPORT" "$NC_OUT" 2>&1); then
		NC_WHY="no JSON report ($out); stdout: $(snip "$NC_OUT")"
		return 1
	fi
	while IFS='=' read -r k v; do
		NC[$k]=$v
	done <<<"$out"
	[ "${NC[GlobalV4]}" = null ] && NC[GlobalV4]=
	[ "${NC[GlobalV6]}" = null ] && NC[GlobalV6]=
	return 0
}

nc_summary() {
	printf 'UDP %s, GlobalV4 %s, MappingVariesByDestIP %s, mapped [%s], %d ms' \
		"${NC[UDP]}" "${NC[GlobalV4]:-none}" "${NC[MappingVariesByDestIP]}" "${NC[mapped]}" "$NC_MS"
}

# snip FILE|-: the first 300 bytes on one line (for failure reasons)
snip() { head -c 300 -- "$1" 2>/dev/null | tr -s '\n\t' '  '; }

ipport_re() { printf '^%s:[0-9]{1,5}$' "${1//./\\.}"; }

# ---------------------------------------------------------------- scenarios

# 1. Debian's classic RFC 3489 client and coturn's RFC 5389 client against
# vole stun, from ns cli across the router (routed): both must print the
# client's address as vole saw it.
t_server_interop() {
	local out re srv sp=20100
	if ! client_addr "$CLI4" || ! router_mode none; then
		fail server_interop "could not set up routed mode"
		return
	fi
	re=$(ipport_re "$CLI4")
	for srv in "$SRV1:$VPORT" "$SRV2:$VPORT" "$SRV1:$WPORT"; do
		sp=$((sp + 1))
		# stun (stun-client 0.97) test 1: one binding request with a zero
		# CHANGE-REQUEST, no magic cookie; -p fixes the source port
		out=$(nsx "$NSC" timeout 3 stun "$srv" 1 -v -p "$sp" 2>&1 | awk '/MappedAddress = / { print $3; exit }')
		if [ "$out" = "$CLI4:$sp" ]; then
			pass "stun_client_vs_vole $srv (MappedAddress $out)"
		else
			fail "stun_client_vs_vole $srv" "want MappedAddress = $CLI4:$sp, got '${out:-no answer}'"
		fi
		out=$(nsx "$NSC" timeout 3 turnutils_stunclient -p "${srv##*:}" "${srv%:*}" 2>&1 |
			sed -n 's/.*UDP reflexive addr: *\([^ ]*\).*/\1/p' | head -n1)
		if [[ $out =~ $re ]]; then
			pass "turnutils_stunclient_vs_vole $srv (reflexive $out)"
		else
			fail "turnutils_stunclient_vs_vole $srv" "want reflexive $CLI4:PORT, got '${out:-no answer}'"
		fi
	done
	# IPv6 (loopback in ns srv: only 198.18.0.0/15 and loopback are used)
	out=$(nsx "$NSS" timeout 3 turnutils_stunclient -p "$VPORT" ::1 2>&1 |
		sed -n 's/.*UDP reflexive addr: *\([^ ]*\).*/\1/p' | head -n1)
	if [[ $out =~ ^\[?::1\]?:[0-9]{1,5}$ ]]; then
		pass "turnutils_stunclient_vs_vole [::1]:$VPORT (reflexive $out)"
	else
		fail "turnutils_stunclient_vs_vole [::1]:$VPORT" "want reflexive [::1]:PORT, got '${out:-no answer}'"
	fi
}

# 1b. Raw requests: the Tailscale-style request is answered without
# amplification, an unknown comprehension-required attribute gets 420, and
# bad fingerprints, truncated, oversized requests and responses get nothing.
t_server_raw() {
	local line out
	if ! client_addr "$CLI4" || ! router_mode none; then
		fail server_raw "could not set up routed mode"
		return
	fi
	out=$(nsx "$NSC" timeout 10 "$PYTHON" -c "$PY_RAW" "$SRV1" "$VPORT" "$CLI4" 2>&1)
	if ! grep -q '^ok \|^not ok ' <<<"$out"; then
		fail server_raw "probe failed: $(snip - <<<"$out")"
		return
	fi
	while IFS= read -r line; do
		case $line in
		"ok "*) pass "server_${line#ok }" ;;
		"not ok "*)
			line=${line#not ok }
			fail "server_${line%% *}" "${line#* }"
			;;
		esac
	done <<<"$out"
}

# 2. vole netcheck against coturn as the STUN server, on both server IPs
t_client_coturn() {
	local n=netcheck_vs_coturn why=()
	if ! client_addr "$CLI4" || ! router_mode none; then
		fail "$n" "could not set up routed mode"
		return
	fi
	if ! netcheck_json coturn "$NSC" --stun "$SRV1:$CPORT" --stun "$SRV2:$CPORT"; then
		fail "$n" "$NC_WHY"
		return
	fi
	[ "${NC[UDP]}" = true ] || why+=("UDP is ${NC[UDP]}, want true")
	[[ ${NC[GlobalV4]} =~ $(ipport_re "$CLI4") ]] || why+=("GlobalV4 '${NC[GlobalV4]}', want $CLI4:PORT")
	[ "${NC[MappingVariesByDestIP]}" = false ] || why+=("MappingVariesByDestIP ${NC[MappingVariesByDestIP]}, want false")
	[ "${NC[distinct]}" = 1 ] && [ "${NC[mapped]}" = "${NC[GlobalV4]} ${NC[GlobalV4]}" ] ||
		why+=("STUN[].mapped '${NC[mapped]}', want GlobalV4 from both servers (errors: ${NC[errors]})")
	if [ ${#why[@]} -eq 0 ]; then
		pass "$n ($(nc_summary))"
	else
		fail "$n" "$(IFS=';'; echo "${why[*]}")"
		show_log "$NC_ERR" 10
	fi
}

# ctrl_ok MODE A B CLIENT_IP:PORT: the two mapped addresses coturn saw fit MODE
ctrl_ok() {
	local re
	re=$(ipport_re "$ROUT4")
	case $1 in
	none) [ "$2" = "$4" ] && [ "$3" = "$4" ] ;;
	eim) [[ $2 =~ $re ]] && [ "$3" = "$2" ] ;;
	edm) [[ $2 =~ $re && $3 =~ $re ]] && [ "$2" != "$3" ] ;;
	*) return 1 ;;
	esac
}

# 3. nat_case NAME MODE CLIENT_IP CONTROL_SRCPORT: set the router mode, check
# it with coturn (Debian's `stun` from one fixed source port to both server
# IPs), then vole netcheck against vole stun on both server IPs.
nat_case() {
	local n=$1 mode=$2 cip=$3 sp=$4 a b want why=() before dropped
	if ! client_addr "$cip" || ! router_mode "$mode"; then
		fail "$n" "could not set router mode $mode"
		return
	fi
	case $mode in none) want=$cip ;; *) want=$ROUT4 ;; esac

	if [ "$mode" != drop ]; then
		a=$(ctrl_map "$SRV1" "$sp")
		b=$(ctrl_map "$SRV2" "$sp")
		if ctrl_ok "$mode" "$a" "$b" "$cip:$sp"; then
			pass "${n}_control (coturn saw $a and $b from $cip:$sp)"
		else
			fail "${n}_control" "router mode $mode: coturn saw '${a:-nothing}' and '${b:-nothing}' from $cip:$sp"
		fi
	fi

	before=$(dropped_udp)
	if ! netcheck_json "$n" "$NSC" --stun "$SRV1:$VPORT" --stun "$SRV2:$VPORT"; then
		fail "$n" "$NC_WHY"
		return
	fi
	if [ "$mode" = drop ]; then
		dropped=$(($(dropped_udp) - ${before:-0}))
		[ "${NC[UDP]}" = false ] || why+=("UDP is ${NC[UDP]}, want false")
		[ -z "${NC[GlobalV4]}" ] || why+=("GlobalV4 '${NC[GlobalV4]}', want none")
		[ "${NC[MappingVariesByDestIP]}" != true ] || why+=("MappingVariesByDestIP true")
		[ "$NC_MS" -lt "$NETCHECK_MAX_MS" ] || why+=("took $NC_MS ms, want < $NETCHECK_MAX_MS (3 s STUN phase + margin)")
		[ "$dropped" -ge 2 ] || why+=("the router dropped $dropped UDP packets, want >= 2 (a probe per server)")
		if [ ${#why[@]} -eq 0 ]; then
			pass "$n (UDP ${NC[UDP]}, MappingVariesByDestIP ${NC[MappingVariesByDestIP]}, $dropped probes dropped, report after $NC_MS ms)"
		else
			fail "$n" "$(IFS=';'; echo "${why[*]}")"
			show_log "$NC_ERR" 10
		fi
		return
	fi
	[ "${NC[UDP]}" = true ] || why+=("UDP is ${NC[UDP]}, want true")
	[[ ${NC[GlobalV4]} =~ $(ipport_re "$want") ]] || why+=("GlobalV4 '${NC[GlobalV4]}', want $want:PORT")
	case $mode in
	edm)
		[ "${NC[MappingVariesByDestIP]}" = true ] || why+=("MappingVariesByDestIP ${NC[MappingVariesByDestIP]}, want true")
		[ "${NC[distinct]}" = 2 ] || why+=("STUN[].mapped '${NC[mapped]}', want two different addresses")
		;;
	*)
		[ "${NC[MappingVariesByDestIP]}" = false ] || why+=("MappingVariesByDestIP ${NC[MappingVariesByDestIP]}, want false")
		[ "${NC[mapped]}" = "${NC[GlobalV4]} ${NC[GlobalV4]}" ] ||
			why+=("STUN[].mapped '${NC[mapped]}', want GlobalV4 from both servers (errors: ${NC[errors]})")
		;;
	esac
	if [ ${#why[@]} -eq 0 ]; then
		pass "$n ($(nc_summary))"
	else
		fail "$n" "$(IFS=';'; echo "${why[*]}")"
		show_log "$NC_ERR" 10
	fi
}

t_nat_none() { nat_case nat_none none 198.18.0.11 20011; }
t_nat_eim() { nat_case nat_eim eim 198.18.0.12 20012; }
t_nat_edm() { nat_case nat_edm edm 198.18.0.13 20013; }
t_nat_udp_blocked() { nat_case nat_udp_blocked drop 198.18.0.14 20014; }

# The text report (the default output) for the routed case
t_netcheck_text() {
	local n=netcheck_text why=() re
	if ! client_addr 198.18.0.15 || ! router_mode none; then
		fail "$n" "could not set up routed mode"
		return
	fi
	netcheck "$n" "$NSC" --stun "$SRV1:$VPORT" --stun "$SRV2:$VPORT"
	[ "$NC_RC" = 0 ] || why+=("exit status $NC_RC")
	# "Report:" then tab-indented "* KEY: VALUE" lines
	grep -Eq '^[[:space:]]*\* UDP: true$' "$NC_OUT" || why+=("no line '* UDP: true'")
	re="^[[:space:]]*\\* IPv4: yes, $(ipport_re 198.18.0.15 | tr -d '^')"
	grep -Eq "$re" "$NC_OUT" || why+=("no line '* IPv4: yes, 198.18.0.15:PORT'")
	grep -Eq '^[[:space:]]*\* MappingVariesByDestIP: false$' "$NC_OUT" || why+=("no line '* MappingVariesByDestIP: false'")
	if [ ${#why[@]} -eq 0 ]; then
		pass "$n ($(grep -m1 -E "$re" "$NC_OUT" | sed "s/^[[:space:]]*//"))"
	else
		fail "$n" "$(IFS=';'; echo "${why[*]}"); stdout: $(snip "$NC_OUT")"
	fi
}

# Many short netcheck runs back to back (against coturn, which has no rate
# limit): every one must exit 0 with a report.  Catches crashes that only
# some runs hit (e.g. races between the name-resolution helper threads and
# the main thread).
t_netcheck_repeat() {
	local n=netcheck_repeat i rc bad=0 first='' t0 out="$TMPD/netcheck-repeat.out" err="$TMPD/netcheck-repeat.err"
	local runs=${NETCHECK_REPEAT:-200}
	if ! client_addr 198.18.0.16 || ! router_mode none; then
		fail "$n" "could not set up routed mode"
		return
	fi
	t0=$(now_ms)
	for ((i = 1; i <= runs; i++)); do
		timeout 10 ip netns exec "$NSC" "${UNPRIV[@]}" "$VOLE" netcheck \
			--stun "$SRV1:$CPORT" --stun "$SRV2:$CPORT" -o json >"$out" 2>"$err" </dev/null
		rc=$?
		if [ "$rc" != 0 ] || ! grep -q '"UDP": *true' "$out"; then
			bad=$((bad + 1))
			[ -n "$first" ] || first="run $i: exit status $rc$( ((rc > 128 && rc < 160)) && echo " (signal $((rc - 128)))"); stderr: $(snip "$err")"
		fi
	done
	if [ "$bad" = 0 ]; then
		pass "$n ($runs runs, all exit 0 with UDP true, $(($(now_ms) - t0)) ms)"
	else
		fail "$n" "$bad of $runs runs failed; first: $first"
	fi
}

# IPv6 (loopback in ns srv): netcheck against vole stun A on [::1]
t_netcheck_ipv6() {
	local n=netcheck_ipv6_loopback why=()
	if ! netcheck_json v6 "$NSS" --stun "[::1]:$VPORT"; then
		fail "$n" "$NC_WHY"
		return
	fi
	[ "${NC[UDP]}" = true ] || why+=("UDP is ${NC[UDP]}, want true")
	[ "${NC[IPv6]}" = true ] || why+=("IPv6 is ${NC[IPv6]}, want true")
	[[ ${NC[GlobalV6]} =~ ^\[::1\]:[0-9]{1,5}$ ]] || why+=("GlobalV6 '${NC[GlobalV6]}', want [::1]:PORT")
	[ -z "${NC[GlobalV4]}" ] || why+=("GlobalV4 '${NC[GlobalV4]}' from an IPv6-only probe")
	if [ ${#why[@]} -eq 0 ]; then
		pass "$n (GlobalV6 ${NC[GlobalV6]}, $NC_MS ms)"
	else
		fail "$n" "$(IFS=';'; echo "${why[*]}")"
		show_log "$NC_ERR" 10
	fi
}

# Every vole process seen (both servers, the netcheck runs that lived long
# enough to be looked at) ran as 65534 with no capabilities
t_unprivileged() {
	local seen_nc=0 l
	for l in "${UNPRIV_OK[@]}" "${UNPRIV_BAD[@]}"; do
		[[ $l == "vole netcheck"* ]] && seen_nc=$((seen_nc + 1))
	done
	if [ ${#UNPRIV_BAD[@]} -ne 0 ]; then
		fail vole_processes_unprivileged "$(IFS=';'; echo "${UNPRIV_BAD[*]}")"
	elif [ ${#UNPRIV_OK[@]} -eq 0 ]; then
		fail vole_processes_unprivileged "no vole process could be looked at"
	else
		pass "vole_processes_unprivileged (uid/gid 65534, no capabilities: ${#UNPRIV_OK[@]} processes, $seen_nc of them netcheck)"
	fi
}

# ---------------------------------------------------------------- main

ALL=(server_interop server_raw client_coturn nat_none nat_eim nat_edm nat_udp_blocked netcheck_text netcheck_ipv6
	netcheck_repeat)

main() {
	local s want=("$@") t0
	t0=$(now_ms)
	[ ${#want[@]} -eq 0 ] && want=("${ALL[@]}")
	for s in "${want[@]}"; do
		if [[ " ${ALL[*]} " != *" $s "* ]]; then
			echo "no such scenario: $s (have: ${ALL[*]})" >&2
			exit 2
		fi
	done
	if [ ! -x "$VOLE" ]; then
		fail vole_binary "not found or not executable: $VOLE"
		finish
	fi
	if ! setup; then
		fail setup "could not build the namespaces / coturn topology"
		finish
	fi
	if ! lib_check_unpriv "$NSS"; then
		fail unprivileged "setpriv does not drop to nobody without capabilities"
		finish
	fi
	log "namespaces $NSC $NSR $NSS, vole $VOLE, logs in $TMPD"
	start_servers
	for s in "${want[@]}"; do
		log "scenario $s"
		"t_$s"
	done
	# a server that died during the scenarios fails here
	stop_servers
	t_unprivileged
	log "took $(($(now_ms) - t0)) ms"
	finish
}

main "$@"
