#!/bin/bash
# shellcheck disable=SC2317 # cases are called indirectly
# shellcheck source-path=SCRIPTDIR
# The diagnosis matrix of `vole ping` (issue #6): one case per cause, each
# built for real in network namespaces (test/scenario/topology.sh: a server,
# router A with the client host, router B with the agent host), and checked
# by what `vole ping dev` prints on stderr: every expected message in its
# section (general, client-side, agent-side) and no other message at all —
# a message nobody caused is a false alarm (test/scenario/pingdiag.py). The
# clean case runs with -v, so every rule is evaluated and none may fire.
#
# Every vole process runs as nobody with no capabilities.
#
# Usage (root): test/scenario/diagnosis.sh [CASE...]    env: VOLE, KEEP_TMP=1

# shellcheck disable=SC2034 # read by lib.sh
LIB_TAG=vole-d # namespace prefix
# shellcheck source=../interop/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../interop/lib.sh"
# shellcheck source=topology.sh
. "$(dirname "${BASH_SOURCE[0]}")/topology.sh"
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_root
need_cmds ip nft ss setpriv timeout "$PYTHON"

PINGDIAG="$(dirname "${BASH_SOURCE[0]}")/pingdiag.py"
URL_DOC="docs/TROUBLESHOOTING.md"

M_BLOCKED="❗ Your vole administrator has blocked direct connections"
M_DISABLED="❗ Direct connections are disabled locally"
M_NOSTUN="❗ The DERP map is not configured to use STUN"
M_UDP_CLI="Client could not connect to STUN over UDP"
M_UDP_AGT="Agent could not connect to STUN over UDP"
M_HARD_CLI="Client is potentially behind a hard NAT"
M_HARD_AGT="Agent is potentially behind a hard NAT"
M_MTU="Network interface eth0 has MTU 1280 (less than 1378)"
M_VPN_CLI="Client default route goes through tun0, which looks like a VPN"
M_FW_AGT="Agent firewall may be blocking incoming UDP"
M_AWS_CLI="Client IP address is within an AWS range (AWS uses hard NAT)"
M_AWS_AGT="Agent IP address is within an AWS range (AWS uses hard NAT)"

setup() {
	topo_build && tokens_dev || return 1
	# the hosts' public addresses as the routers show them in open mode
	cat >"$TMPD/aws.json" <<-EOF
		{"syncToken": "1", "prefixes": [{"ip_prefix": "198.18.10.0/24", "region": "test", "service": "EC2"}],
		 "ipv6_prefixes": []}
	EOF
	cat >"$TMPD/aws-agent.json" <<-EOF
		{"prefixes": [{"ip_prefix": "198.18.20.0/24"}], "ipv6_prefixes": []}
	EOF
	chmod 644 "$TMPD"/aws*.json
}

# ---------------------------------------------------------------- one case

# fresh MODE_A MODE_B [SERVER_ARG...]: the routers in these modes, a new
# server (with these flags) and a new agent, so that nothing of an earlier
# case is left. An agent's first STUN round ends within about 3 s; its
# report is read from then on, so the agent gets that long.
fresh() {
	local a=$1 b=$2
	shift 2
	agent_stop
	server_stop
	# forget learnt path MTUs: an MTU case leaves "198.18.20.2: mtu 1280" in
	# the client's route cache, and don't-fragment disco pings would then
	# fail on the client itself for 10 minutes
	for ns in "$NS_CLI" "$NS_AGT" "$NS_SRV" "$NS_RA" "$NS_RB"; do
		ip -n "$ns" route flush cache
	done
	router_mode A "$a" && router_mode B "$b" || return 1
	server_start "$@" || return 1
	agent_start "$NS_AGT" dev "$TOK_DEV" || return 1
	sleep 4
}

# ping_run LABEL [ARG...]: `vole ping dev -n ${PING_N:-3}` from the client
# host as nobody; env from PING_ENV (an array of VAR=value)
PING_RC=0
ping_run() {
	local label=$1
	shift
	PING_OUT="$TMPD/ping-$label.out" PING_ERR="$TMPD/ping-$label.err" PING_RC=0
	run_unpriv "$NS_CLI" timeout 90 env "${PING_ENV[@]}" "$VOLE" ping dev -n "${PING_N:-3}" --wait 500ms -t 5s \
		--url "$URL" --token "$TOK_CLI" "$@" >"$PING_OUT" 2>"$PING_ERR" || PING_RC=$?
}
PING_ENV=()

# diagnosis LABEL [--general|--client|--agent TEXT]...: the last ping got its
# pongs and printed exactly these messages, each in its section
diagnosis() {
	local label=$1 out
	shift
	if [ "$PING_RC" != 0 ] || ! grep -q '^pong from dev ' "$PING_OUT"; then
		fail "$label" "vole ping exited $PING_RC with $(grep -c '^pong from' "$PING_OUT") pongs: $(snip "$PING_ERR")"
		show_log "$PING_ERR" 40
		return 1
	fi
	if out=$("$PYTHON" "$PINGDIAG" "$PING_ERR" "$@"); then
		pass "$label: $(printf '%s ' "$@" | sed 's/--//g')"
	else
		fail "$label" "$(tr '\n' ';' <<<"$out")"
		show_log "$PING_ERR" 60
		return 1
	fi
}

# link_ok LABEL ANCHOR: the message's link names the troubleshooting anchor
# (indented by 3 spaces, by 2 in Coder's hard-NAT message, by none after the
# last MTU warning: Coder's layout)
link_ok() {
	if grep -qE "^ {0,3}$URL_DOC#$2\$" "$PING_ERR"; then
		pass "$1: links $URL_DOC#$2"
	else
		fail "$1" "no line '$URL_DOC#$2'"
	fi
}

# pongs_via LABEL p2p|proxied: the last pong line came that way
pongs_via() {
	local last
	last=$(grep '^pong from dev ' "$PING_OUT" | tail -n 1)
	if [[ $last == "pong from dev $2 via "* ]]; then
		pass "$1: last pong $2"
	else
		fail "$1" "last pong '$last', want '$2 via'"
	fi
}

# ---------------------------------------------------------------- the cases

t_clean() {
	fresh open open || return
	ping_run clean -v
	diagnosis "clean (-v: every rule runs, none fires)" && pongs_via clean p2p
	if grep -q '^✔ You are connected directly (p2p)' "$PING_ERR"; then
		pass "clean: verdict direct"
	else
		fail "clean" "no direct verdict: $(grep 'connected' "$PING_ERR")"
	fi
}

t_block_direct() {
	fresh open open --block-direct-connections || return
	ping_run block_direct
	diagnosis "server blocks direct" --general "$M_BLOCKED" && pongs_via block_direct proxied
	link_ok "server blocks direct" disabled-deployment-wide
}

t_disable_direct() {
	fresh open open || return
	ping_run disable_direct --disable-direct-connections
	diagnosis "client --disable-direct-connections" --general "$M_DISABLED" && pongs_via disable_direct proxied
	PING_ENV=(VOLE_DISABLE_DIRECT_CONNECTIONS=true)
	ping_run disable_direct_env
	PING_ENV=()
	diagnosis "client VOLE_DISABLE_DIRECT_CONNECTIONS=true" --general "$M_DISABLED"
}

t_udp_client() {
	fresh udpdrop open || return
	ping_run udp_client -v
	diagnosis "UDP dropped at the client's router" --client "$M_UDP_CLI" && pongs_via udp_client proxied
	link_ok "UDP dropped at the client's router" udp-blocked
}

t_udp_agent() {
	fresh open udpdrop || return
	ping_run udp_agent
	diagnosis "UDP dropped at the agent's router" --agent "$M_UDP_AGT" && pongs_via udp_agent proxied
}

t_hardnat_client() {
	fresh symmetric prc || return
	ping_run hardnat_client -v
	diagnosis "hard NAT at the client" --client "$M_HARD_CLI"
	link_ok "hard NAT at the client" endpoint-dependent-nat-hard-nat
}

t_hardnat_agent() {
	fresh prc symmetric || return
	ping_run hardnat_agent -v
	diagnosis "hard NAT at the agent" --agent "$M_HARD_AGT"
}

t_no_stun() {
	fresh open open --stun-listen off || return
	ping_run no_stun -v
	diagnosis "no STUN in the DERP map" --general "$M_NOSTUN"
	link_ok "no STUN in the DERP map" no-stun-servers
}

# an interface MTU of 1280, on both ends of the host's link (as on a real
# link: a veth with 1500 on one end and 1280 on the other is a black hole
# for the larger packets, not a small-MTU path), set before the vole
# processes there start so their TCP connections fit it: warned on its side
link_mtu() { # link_mtu HOST_NS HOST_IF ROUTER_NS ROUTER_IF MTU
	ip -n "$1" link set "$2" mtu "$5" && ip -n "$3" link set "$4" mtu "$5"
}

t_mtu_client() {
	fresh open open || return
	link_mtu "$NS_CLI" eth0 "$NS_RA" p-cli 1280 || return
	ping_run mtu_client
	link_mtu "$NS_CLI" eth0 "$NS_RA" p-cli 1500
	diagnosis "client interface MTU 1280" --client "$M_MTU"
	link_ok "client interface MTU 1280" low-mtu
}

t_mtu_agent() {
	link_mtu "$NS_AGT" eth0 "$NS_RB" lan 1280 || return
	fresh open open || return
	ping_run mtu_agent
	link_mtu "$NS_AGT" eth0 "$NS_RB" lan 1500
	diagnosis "agent interface MTU 1280" --agent "$M_MTU"
}

# the client's default route through "tun0" (one end of a veth pair inside
# the client's namespace, standing in for a VPN's tunnel); the test networks
# stay reachable through the router
t_vpn_route() {
	fresh open open || return
	ip -n "$NS_CLI" link add tun0 type veth peer name tun0-peer && ip -n "$NS_CLI" link set tun0 up &&
		ip -n "$NS_CLI" link set tun0-peer up &&
		ip -n "$NS_CLI" addr add 198.19.99.1/32 dev tun0 &&
		ip -n "$NS_CLI" route add 198.18.0.0/15 via "$TOPO_GW_A" &&
		ip -n "$NS_CLI" route replace default dev tun0 || return
	ping_run vpn_route -v
	ip -n "$NS_CLI" route replace default via "$TOPO_GW_A"
	ip -n "$NS_CLI" route del 198.18.0.0/15 via "$TOPO_GW_A"
	ip -n "$NS_CLI" link del tun0
	diagnosis "VPN-like default route at the client" --client "$M_VPN_CLI"
	link_ok "VPN-like default route at the client" vpn-default-route
}

# the agent host drops every UDP datagram from the client's LAN: the
# client's disco pings go unanswered while the agent's reach the client
t_firewall_agent() {
	fresh open open || return
	nsx "$NS_AGT" nft -f - <<-EOF || return
		table inet volefw {
			chain input { type filter hook input priority 0; ip saddr $TOPO_LAN_A meta l4proto udp drop; }
		}
	EOF
	PING_N=6 ping_run firewall_agent
	nsx "$NS_AGT" nft delete table inet volefw
	diagnosis "inbound-dropping firewall at the agent" --agent "$M_FW_AGT" && pongs_via firewall_agent proxied
	link_ok "inbound-dropping firewall at the agent" endpoint-firewall
}

t_aws() {
	fresh open open || return
	ping_run aws_client -v --aws-ip-ranges "$TMPD/aws.json"
	diagnosis "client public IP in an AWS range file" --client "$M_AWS_CLI"
	PING_ENV=(VOLE_AWS_IP_RANGES="$TMPD/aws-agent.json")
	ping_run aws_agent -v
	PING_ENV=()
	diagnosis "agent public IP in an AWS range file (VOLE_AWS_IP_RANGES)" --agent "$M_AWS_AGT"
}

# ---------------------------------------------------------------- main

ALL=(clean block_direct disable_direct udp_client udp_agent hardnat_client hardnat_agent no_stun
	mtu_client mtu_agent vpn_route firewall_agent aws)

if ! setup; then
	fail setup "topology or files could not be created"
	finish
fi
T_START=$(now_ms)
run_cases "$@"
agent_stop
server_stop
log "scenario time $(( ($(now_ms) - T_START) / 1000 )) s"
finish
