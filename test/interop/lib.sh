# shellcheck shell=bash
# Shared helpers for vole's interop tests and benchmarks (network namespaces,
# wireguard-go peers, unprivileged vole processes, TAP-like reporting).
#
# Source it from a bash script:   . "$(dirname "$0")/lib.sh"
#
# Everything this library creates is named with a per-run prefix
# ("${LIB_TAG}$$", e.g. vole-t1234-wgk), tracked, and removed by
# lib_cleanup, which is installed as the EXIT/INT/TERM trap.  Every wait is
# bounded.  Addresses: underlay and overlay IPv4 come from 198.18.0.0/15,
# overlay IPv6 from fd00:766f:6c65::/48 (ULA, "vole" in hex).

if [ -z "${BASH_VERSION:-}" ]; then
	echo "lib.sh needs bash" >&2
	exit 2
fi

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$LIB_DIR/../.." && pwd)
VOLE=${VOLE:-$REPO_ROOT/build/vole}
PYTHON=${PYTHON:-/usr/bin/python3}
LIB_TAG=${LIB_TAG:-vole-t}
NS_PREFIX="${LIB_TAG}$$"
export LANG=C LC_ALL=C
# wg show prints keys only with this set (matters for `wg showconf` and psk dumps)
export WG_HIDE_KEYS=never

# The exact privilege drop used for every vole process: user nobody, group
# nogroup, no supplementary groups, no inheritable capabilities, empty bounding
# set.  Checked by lib_check_unpriv.
UNPRIV=(setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all --bounding-set=-all)

_LIB_NETNS=()      # namespaces to delete
_LIB_PIDS=()       # background processes to stop
_LIB_WGIFS=()      # wireguard-go interface names (for stale UAPI sockets)
_LIB_PASSED=0
_LIB_FAILED=0
_LIB_CLEANED=0

TMPD=$(mktemp -d "/tmp/${NS_PREFIX}.XXXXXX") || exit 2
# vole runs as nobody and must read its configs there
chmod 755 "$TMPD"

# ---------------------------------------------------------------- reporting

log() { printf '# %s\n' "$*" >&2; }

pass() {
	_LIB_PASSED=$((_LIB_PASSED + 1))
	printf 'ok - %s\n' "$1"
}

# fail NAME REASON...
fail() {
	local name=$1
	shift
	_LIB_FAILED=$((_LIB_FAILED + 1))
	printf 'not ok - %s: %s\n' "$name" "$*"
}

# check NAME CMD...: pass if CMD succeeds, else fail with the command line
check() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name" "command failed: $*"; fi
}

# Print the closing "N passed, N failed" line and exit (non-zero on failure).
finish() {
	printf '%d passed, %d failed\n' "$_LIB_PASSED" "$_LIB_FAILED"
	if [ "$_LIB_FAILED" -ne 0 ] || [ "$_LIB_PASSED" -eq 0 ]; then
		exit 1
	fi
	exit 0
}

# Show the tail of a log file on stderr (diagnostics after a failure).
show_log() {
	local f=$1 n=${2:-20}
	[ -s "$f" ] || return 0
	log "---- last $n lines of ${f#"$TMPD"/}"
	tail -n "$n" "$f" | sed 's/^/#   /' >&2
}

# ---------------------------------------------------------------- waiting

# now_ms: monotonic-enough wall clock in milliseconds
now_ms() { local t; t=$(date +%s%N); echo $((t / 1000000)); }

# wait_for TIMEOUT_SECONDS CMD...: run CMD every 0.1 s until it succeeds;
# return 1 if it has not succeeded within TIMEOUT_SECONDS (may be fractional).
wait_for() {
	local limit_ms deadline
	limit_ms=$(awk -v t="$1" 'BEGIN { printf "%d", t * 1000 }')
	shift
	deadline=$(($(now_ms) + limit_ms))
	while :; do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		if [ "$(now_ms)" -ge "$deadline" ]; then
			return 1
		fi
		sleep 0.1
	done
}

# ---------------------------------------------------------------- processes

# nsx NS CMD...: run CMD inside namespace NS.  Inside spawn it replaces the
# spawned subshell (so the recorded pid is the real process).
nsx() {
	local ns=$1
	shift
	if [ "${_LIB_EXEC:-}" = 1 ]; then
		exec ip netns exec "$ns" "$@"
	fi
	ip netns exec "$ns" "$@"
}

# run_unpriv NS CMD...: run CMD inside NS as nobody:nogroup with no
# capabilities at all (the way every vole process is run).
run_unpriv() {
	local ns=$1
	shift
	if [ "${_LIB_EXEC:-}" = 1 ]; then
		exec ip netns exec "$ns" "${UNPRIV[@]}" "$@"
	fi
	ip netns exec "$ns" "${UNPRIV[@]}" "$@"
}

# spawn VAR LOGFILE CMD...: start CMD in the background with stdout+stderr in
# LOGFILE, stdin from /dev/null; store its pid in VAR and track it for cleanup.
# CMD may be nsx/run_unpriv or a plain command.
spawn() {
	local __var=$1 __log=$2
	shift 2
	(
		trap - EXIT INT TERM
		_LIB_EXEC=1
		if [ "$(type -t "$1")" = function ]; then
			"$@"
			exit $?
		fi
		exec "$@"
	) </dev/null >"$__log" 2>&1 &
	local __pid=$!
	_LIB_PIDS+=("$__pid")
	printf -v "$__var" '%s' "$__pid"
}

# alive PID: the process exists and is not a zombie
alive() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	[ -n "$st" ] && [[ $st != Z* ]]
}

_lib_untrack() {
	local p keep=()
	for p in "${_LIB_PIDS[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	_LIB_PIDS=("${keep[@]}")
}

# stop_pid PID [TIMEOUT] [SIGNAL]: send SIGNAL (default TERM), wait at most
# TIMEOUT seconds (default 5), then SIGKILL.  Returns the process's exit status
# (128+n when killed by signal n).  Only for processes started by spawn.
# (Polls instead of using a killer subshell: signalling a freshly forked bash
# subshell can run the parent's traps in it.)
stop_pid() {
	local pid=$1 t=${2:-5} sig=${3:-TERM}
	_lib_untrack "$pid"
	kill -"$sig" "$pid" 2>/dev/null
	wait_for "$t" eval '! alive '"$pid" || kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

# wait_exit PID TIMEOUT: wait for a spawned process to exit on its own,
# at most TIMEOUT seconds; returns its status, or 124 if it is still running
# (it is then left running and still tracked).
wait_exit() {
	local pid=$1 t=$2
	if wait_for "$t" eval '! alive '"$pid"; then
		_lib_untrack "$pid"
		wait "$pid" 2>/dev/null
		return $?
	fi
	return 124
}

# ---------------------------------------------------------------- namespaces

# ns_new NAME: create a network namespace (loopback up) and track it
ns_new() {
	ip netns add "$1" || return 1
	_LIB_NETNS+=("$1")
	ip -n "$1" link set lo up
}

# veth_pair NS1 IF1 CIDR1 NS2 IF2 CIDR2: a veth between two namespaces, with
# IPv4 addresses, both ends up.  Created inside NS1 so no name is ever used in
# the root namespace.
veth_pair() {
	local ns1=$1 if1=$2 a1=$3 ns2=$4 if2=$5 a2=$6
	ip -n "$ns1" link add "$if1" type veth peer name "$if2" netns "$ns2" || return 1
	ip -n "$ns1" addr add "$a1" dev "$if1" || return 1
	ip -n "$ns2" addr add "$a2" dev "$if2" || return 1
	ip -n "$ns1" link set "$if1" up || return 1
	ip -n "$ns2" link set "$if2" up || return 1
	wait_for 5 _lib_oper_up "$ns1" "$if1" && wait_for 5 _lib_oper_up "$ns2" "$if2"
}

_lib_oper_up() {
	[ "$(nsx "$1" cat "/sys/class/net/$2/operstate" 2>/dev/null)" = up ]
}

# tcp_listening NS PORT / udp_bound NS PORT: some socket listens / is bound
tcp_listening() { [ -n "$(ss -N "$1" -Htln "sport = :$2" 2>/dev/null)" ]; }
udp_bound() { [ -n "$(ss -N "$1" -Huan "sport = :$2" 2>/dev/null)" ]; }

# ---------------------------------------------------------------- wireguard

# genkeys PREFIX: set ${PREFIX}_PRIV and ${PREFIX}_PUB
genkeys() {
	local priv pub
	priv=$(wg genkey) || return 1
	pub=$(printf '%s\n' "$priv" | wg pubkey) || return 1
	printf -v "${1}_PRIV" '%s' "$priv"
	printf -v "${1}_PUB" '%s' "$pub"
}

# wggo_start NS IFNAME CONF [CIDR...]: start wireguard-go in the foreground
# (tracked; pid in WGGO_PID_<IFNAME>), load CONF with `wg setconf`, add the
# given addresses (IPv6 without DAD), bring the link up.  Log in
# $TMPD/wggo-IFNAME.log.
wggo_start() {
	local ns=$1 ifn=$2 conf=$3 a pid
	shift 3
	rm -f "/var/run/wireguard/$ifn.sock"
	_LIB_WGIFS+=("$ifn")
	spawn pid "$TMPD/wggo-$ifn.log" nsx "$ns" env WG_PROCESS_FOREGROUND=1 \
		LOG_LEVEL="${WGGO_LOG_LEVEL:-error}" wireguard-go -f "$ifn"
	printf -v "WGGO_PID_$ifn" '%s' "$pid"
	if ! wait_for 10 test -S "/var/run/wireguard/$ifn.sock" ||
		! wait_for 5 ip -n "$ns" link show dev "$ifn"; then
		log "wireguard-go $ifn did not come up"
		show_log "$TMPD/wggo-$ifn.log"
		return 1
	fi
	nsx "$ns" wg setconf "$ifn" "$conf" || return 1
	ip -n "$ns" link set dev "$ifn" addrgenmode none 2>/dev/null
	for a in "$@"; do
		case $a in
		*:*) ip -n "$ns" -6 addr add "$a" dev "$ifn" nodad || return 1 ;;
		*) ip -n "$ns" addr add "$a" dev "$ifn" || return 1 ;;
		esac
	done
	ip -n "$ns" link set dev "$ifn" up
}

# wggo_stop IFNAME: SIGTERM the wireguard-go started by wggo_start
wggo_stop() {
	local v="WGGO_PID_$1"
	[ -n "${!v:-}" ] || return 0
	stop_pid "${!v}" 5
	printf -v "$v" '%s' ""
	rm -f "/var/run/wireguard/$1.sock"
	return 0
}

# wg_field NS IFNAME FIELD PUBKEY: one value of `wg show IFNAME FIELD` for PUBKEY
# (for transfer: "RX TX")
wg_field() {
	nsx "$1" wg show "$2" "$3" | awk -F'\t' -v k="$4" '$1 == k { $1 = ""; sub(/^ /, ""); print; exit }'
}

# ---------------------------------------------------------------- nftables

# udp_counter_add NS: count UDP packets the namespace sends (output hook)
udp_counter_add() {
	nsx "$1" nft -f - <<-'EOF'
		table inet voletest {
			chain out {
				type filter hook output priority 0; policy accept;
				meta l4proto udp counter
			}
		}
	EOF
}

# udp_counter NS: packets counted so far (compare two readings)
udp_counter() {
	nsx "$1" nft list chain inet voletest out |
		awk '/counter packets/ { for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1) }'
}


# ---------------------------------------------------------------- checks

need_root() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "this test needs root (network namespaces)" >&2
		exit 2
	fi
}

# need_cmds CMD...: exit 2 with a message naming what is missing
need_cmds() {
	local c missing=()
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || missing+=("$c")
	done
	if [ ${#missing[@]} -ne 0 ]; then
		echo "missing tools: ${missing[*]}" >&2
		exit 2
	fi
}

# lib_check_unpriv NS: the privilege drop really yields uid/gid 65534 and no caps
lib_check_unpriv() {
	local out
	out=$(run_unpriv "$1" sh -c 'id -u; id -g; grep -E "^Cap(Eff|Prm|Bnd|Amb):" /proc/self/status' 2>&1) || {
		echo "setpriv failed: $out" >&2
		return 1
	}
	[ "$(printf '%s\n' "$out" | sed -n 1p)" = 65534 ] &&
		[ "$(printf '%s\n' "$out" | sed -n 2p)" = 65534 ] &&
		! printf '%s\n' "$out" | grep -E '^Cap' | grep -vq '0000000000000000$'
}

# proc_unpriv PID: print "NAME uid R/E/S/F gid R/E/S/F caps HEX..." for a
# running process; succeed only if all its uids and gids are 65534 and every
# capability set (Inh, Prm, Eff, Bnd, Amb) is empty.  Status 2: no such process.
proc_unpriv() {
	local st name uid gid caps
	st=$(cat "/proc/$1/status" 2>/dev/null) || return 2
	name=$(awk '/^Name:/ { print $2 }' <<<"$st")
	uid=$(awk '/^Uid:/ { print $2 "/" $3 "/" $4 "/" $5 }' <<<"$st")
	gid=$(awk '/^Gid:/ { print $2 "/" $3 "/" $4 "/" $5 }' <<<"$st")
	caps=$(awk '/^Cap(Inh|Prm|Eff|Bnd|Amb):/ { printf "%s", $2 }' <<<"$st")
	printf '%s uid %s gid %s caps %s\n' "$name" "$uid" "$gid" "$caps"
	[ "$uid" = 65534/65534/65534/65534 ] && [ "$gid" = 65534/65534/65534/65534 ] &&
		[[ $caps =~ ^0+$ ]]
}

# ---------------------------------------------------------------- cleanup

lib_cleanup() {
	# only the main shell cleans up (a subshell may inherit the trap)
	[ "$BASHPID" = "$$" ] || return 0
	[ "$_LIB_CLEANED" = 1 ] && return 0
	_LIB_CLEANED=1
	local p ns ifn
	trap - INT TERM
	for p in "${_LIB_PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${_LIB_PIDS[@]}"; do
		wait_for 3 eval '! alive '"$p" || kill -KILL "$p" 2>/dev/null
	done
	for ns in "${_LIB_NETNS[@]}"; do
		# anything else still running in our namespaces (children, strays)
		for p in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$p" 2>/dev/null
		done
	done
	for ns in "${_LIB_NETNS[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	for ifn in "${_LIB_WGIFS[@]}"; do
		rm -f "/var/run/wireguard/$ifn.sock"
	done
	if [ -n "${KEEP_TMP:-}" ]; then
		log "kept $TMPD"
	else
		rm -rf "$TMPD"
	fi
}

_lib_on_signal() {
	[ "$BASHPID" = "$$" ] || exit 130
	log "interrupted"
	lib_cleanup
	exit 130
}

trap lib_cleanup EXIT
trap _lib_on_signal INT TERM
