# shellcheck shell=bash
# The NAT topology of the tailnet scenario tests (sourced after
# test/interop/lib.sh; needs root for the namespaces and nftables only).
#
#   ns cli 198.18.10.2 --+                                    +-- ns srv 198.18.0.1
#   ns lan 198.18.10.3 --+ bridge "lan"                       |          198.18.0.2
#                        | 198.18.10.1  ns ra  198.18.0.10 ---+ bridge "inet" (ns net)
#                                                             |
#   ns agt 198.18.20.2 ------ 198.18.20.1  ns rb  198.18.0.20 -+
#
# Router A's LAN is 198.18.10.0/24 (the client and a second host), router B's
# 198.18.20.0/24 (the agent host); the "internet" is 198.18.0.0/24.  Every
# host on the internet side has routes to both LANs, used only when a router
# does not NAT (open, firewall); the NAT modes drop anything unsolicited
# coming in on the WAN, so a LAN address is unreachable from outside as
# behind a real NAT.  IPv6 is off everywhere: every path is the IPv4 one the
# router shapes.
#
# Each router's behaviour is one nftables table, "ip volerouter", replaced
# atomically (`nft -f`) by router_mode; a mode change also flushes the
# router's conntrack table so no flow of the previous mode survives it.

TOPO_SRV1=198.18.0.1
TOPO_SRV2=198.18.0.2
TOPO_WAN_A=198.18.0.10
TOPO_WAN_B=198.18.0.20
TOPO_LAN_A=198.18.10.0/24
TOPO_LAN_B=198.18.20.0/24
TOPO_GW_A=198.18.10.1
TOPO_GW_B=198.18.20.1
TOPO_CLI=198.18.10.2           # client host (behind A)
TOPO_LANHOST=198.18.10.3       # second host on A's LAN (case 1)
TOPO_AGT=198.18.20.2           # agent host (behind B)

NS_NET="$NS_PREFIX-net"
NS_SRV="$NS_PREFIX-srv"
NS_RA="$NS_PREFIX-ra"
NS_RB="$NS_PREFIX-rb"
NS_CLI="$NS_PREFIX-cli"
NS_LAN="$NS_PREFIX-lan"
NS_AGT="$NS_PREFIX-agt"

NATPROBE="$(dirname "${BASH_SOURCE[0]}")/natprobe.py"

declare -A ROUTER_MODE=([A]=open [B]=open)
declare -A ROUTER_CUT=([A]=0 [B]=0)

# _topo_ns NAME: a namespace with IPv6 off and loopback up
_topo_ns() {
	ns_new "$1" || return 1
	nsx "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
}

# _topo_link NS1 IF1 NS2 IF2: a veth between two namespaces, both ends up
# (created inside NS1: no name is ever used in the root namespace). Each end
# takes GSO packets of one segment only, so the kernel cuts a UDP GSO send
# (vole's, issue #8) into its datagrams before the veth, as a real NIC puts
# them on the wire: otherwise the 64 KB super-packet crosses the veth and the
# routers whole, and a router rule on `ip length` (mtu.sh's black hole) sees
# its length, not its datagrams'.
_topo_link() {
	ip -n "$1" link add "$2" type veth peer name "$4" netns "$3" || return 1
	ip -n "$1" link set dev "$2" gso_max_segs 1 && ip -n "$3" link set dev "$4" gso_max_segs 1 || return 1
	ip -n "$1" link set "$2" up && ip -n "$3" link set "$4" up
}

# _topo_bridge NS BR: a bridge, up
_topo_bridge() {
	ip -n "$1" link add "$2" type bridge && ip -n "$1" link set "$2" up
}

# _topo_host NS IF ADDR GW: a host's only address and its default route
_topo_host() {
	ip -n "$1" addr add "$3/24" dev "$2" && ip -n "$1" route add default via "$4"
}

# topo_build: every namespace, link, address and route; routers open
topo_build() {
	local ns
	for ns in "$NS_NET" "$NS_SRV" "$NS_RA" "$NS_RB" "$NS_CLI" "$NS_LAN" "$NS_AGT"; do
		_topo_ns "$ns" || return 1
	done
	# the internet segment: a bridge in ns net
	_topo_bridge "$NS_NET" inet || return 1
	_topo_link "$NS_NET" p-srv "$NS_SRV" wan &&
		_topo_link "$NS_NET" p-ra "$NS_RA" wan &&
		_topo_link "$NS_NET" p-rb "$NS_RB" wan || return 1
	for ns in p-srv p-ra p-rb; do
		ip -n "$NS_NET" link set "$ns" master inet || return 1
	done
	ip -n "$NS_SRV" addr add "$TOPO_SRV1/24" dev wan &&
		ip -n "$NS_SRV" addr add "$TOPO_SRV2/24" dev wan &&
		ip -n "$NS_SRV" route add "$TOPO_LAN_A" via "$TOPO_WAN_A" &&
		ip -n "$NS_SRV" route add "$TOPO_LAN_B" via "$TOPO_WAN_B" || return 1
	# router A: WAN, and a bridge "lan" with the client and the second host
	ip -n "$NS_RA" addr add "$TOPO_WAN_A/24" dev wan &&
		ip -n "$NS_RA" route add "$TOPO_LAN_B" via "$TOPO_WAN_B" &&
		_topo_bridge "$NS_RA" lan &&
		ip -n "$NS_RA" addr add "$TOPO_GW_A/24" dev lan &&
		_topo_link "$NS_RA" p-cli "$NS_CLI" eth0 &&
		_topo_link "$NS_RA" p-lan "$NS_LAN" eth0 &&
		ip -n "$NS_RA" link set p-cli master lan &&
		ip -n "$NS_RA" link set p-lan master lan &&
		_topo_host "$NS_CLI" eth0 "$TOPO_CLI" "$TOPO_GW_A" &&
		_topo_host "$NS_LAN" eth0 "$TOPO_LANHOST" "$TOPO_GW_A" || return 1
	# router B: WAN, and one link to the agent host
	ip -n "$NS_RB" addr add "$TOPO_WAN_B/24" dev wan &&
		ip -n "$NS_RB" route add "$TOPO_LAN_A" via "$TOPO_WAN_A" &&
		_topo_link "$NS_RB" lan "$NS_AGT" eth0 &&
		ip -n "$NS_RB" addr add "$TOPO_GW_B/24" dev lan &&
		_topo_host "$NS_AGT" eth0 "$TOPO_AGT" "$TOPO_GW_B" || return 1
	nsx "$NS_RA" sysctl -qw net.ipv4.ip_forward=1 &&
		nsx "$NS_RB" sysctl -qw net.ipv4.ip_forward=1 || return 1
	router_mode A open && router_mode B open || return 1
	# everything answers across the segment (bounded)
	wait_for 5 nsx "$NS_CLI" ping -c1 -W1 -q "$TOPO_SRV1" &&
		wait_for 5 nsx "$NS_AGT" ping -c1 -W1 -q "$TOPO_SRV2" &&
		wait_for 5 nsx "$NS_CLI" ping -c1 -W1 -q "$TOPO_AGT"
}

_topo_router_ns() { [ "$1" = A ] && echo "$NS_RA" || echo "$NS_RB"; }

# the host a full-cone router forwards inbound UDP to, and the peer site
# whose UDP the router counts (its WAN address and its LAN)
_topo_host_of() { [ "$1" = A ] && echo "$TOPO_CLI" || echo "$TOPO_AGT"; }
_topo_peer_of() {
	if [ "$1" = A ]; then echo "$TOPO_WAN_B, $TOPO_LAN_B"; else echo "$TOPO_WAN_A, $TOPO_LAN_A"; fi
}

# _topo_table R: the nftables program for router R's mode and UDP cut
#   open       plain routing
#   prc        port-restricted cone: masquerade (nf_nat keeps the source
#              port, and a flow to another destination is a new free tuple,
#              so the mapping is endpoint-independent); inbound passes only
#              on a conntrack entry, i.e. from an address:port the host has
#              sent to (address-and-port-dependent filtering)
#   fullcone   prc plus every new inbound UDP to the WAN address forwarded to
#              the host at the same port (endpoint-independent filtering)
#   symmetric  masquerade fully-random: every new flow, so every new
#              destination, gets a random port (endpoint-dependent mapping)
#   firewall   no NAT, inbound passes only on a conntrack entry
#   udpdrop    prc with every forwarded UDP packet dropped
# A UDP cut (ROUTER_CUT) drops every forwarded UDP packet on top of the mode.
# In every mode the counter "peer_udp" counts forwarded UDP packets to or
# from the other site (its WAN address or its LAN).
_topo_table() {
	local r=$1 mode=${ROUTER_MODE[$1]} nat="" pre="" guard="" drop=""
	case $mode in
	open | firewall) ;;
	prc | fullcone | udpdrop) nat='oifname "wan" masquerade' ;;
	symmetric) nat='oifname "wan" masquerade fully-random' ;;
	*) return 1 ;;
	esac
	[ "$mode" = fullcone ] && pre="iifname \"wan\" meta l4proto udp dnat to $(_topo_host_of "$r")"
	if [ "$mode" != open ]; then
		guard='iifname "wan" ct state established,related accept'
		[ "$mode" = fullcone ] && guard="$guard
			iifname \"wan\" ct status dnat accept"
		guard="$guard
			iifname \"wan\" counter drop"
	fi
	if [ "$mode" = udpdrop ] || [ "${ROUTER_CUT[$r]}" = 1 ]; then
		drop='meta l4proto udp counter drop'
	fi
	cat <<-EOF
		table ip volerouter
		delete table ip volerouter
		table ip volerouter {
			counter peer_udp { }
			chain pre {
				type nat hook prerouting priority dstnat; policy accept;
				$pre
			}
			chain post {
				type nat hook postrouting priority srcnat; policy accept;
				$nat
			}
			chain fw {
				type filter hook forward priority filter; policy accept;
				meta l4proto udp ip saddr { $(_topo_peer_of "$r") } counter name peer_udp
				meta l4proto udp ip daddr { $(_topo_peer_of "$r") } counter name peer_udp
				$drop
				$guard
			}
			chain local_in {
				type filter hook input priority filter; policy accept;
				$([ "$mode" != open ] && echo 'iifname "wan" meta l4proto udp drop')
			}
		}
	EOF
}

# _topo_apply R: load router R's table, then flush its conntrack table
_topo_apply() {
	local ns
	ns=$(_topo_router_ns "$1")
	_topo_table "$1" | nsx "$ns" nft -f - || return 1
	router_flush "$1"
}

# router_mode A|B open|prc|fullcone|symmetric|firewall|udpdrop (UDP cut off)
router_mode() {
	ROUTER_MODE[$1]=$2
	ROUTER_CUT[$1]=0
	_topo_apply "$1"
}

# router_udp A|B cut|restore: drop (or stop dropping) every forwarded UDP
# packet, keeping the mode and the conntrack table (NAT mappings) as they are
router_udp() {
	local ns
	ns=$(_topo_router_ns "$1")
	case $2 in
	cut) ROUTER_CUT[$1]=1 ;;
	restore) ROUTER_CUT[$1]=0 ;;
	*) return 1 ;;
	esac
	_topo_table "$1" | nsx "$ns" nft -f -
}

# router_flush A|B: forget every conntrack entry (NAT mappings, pinholes)
router_flush() {
	nsx "$(_topo_router_ns "$1")" "$PYTHON" "$NATPROBE" ct-flush
}

# router_peer_udp A|B: UDP packets forwarded to or from the other site since
# the router's table was last loaded
router_peer_udp() {
	nsx "$(_topo_router_ns "$1")" nft list counter ip volerouter peer_udp |
		awk '/packets/ { for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1) }'
}

# natprobe udp|tcp CLIENT_NS ARGS...: natprobe.py with the server namespace
natprobe() {
	local kind=$1 cns=$2
	shift 2
	timeout 20 "$PYTHON" "$NATPROBE" "$kind" "$cns" "$NS_SRV" "$@"
}
