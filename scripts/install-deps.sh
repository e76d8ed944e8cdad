#!/usr/bin/env bash
# Installs everything vole needs to build, run its demo and run its tests, from
# Debian 12's archive. Idempotent; run as root.
set -euo pipefail

BUILD_PKGS=(
  build-essential cmake pkg-config dpkg-dev xz-utils debian-archive-keyring
  libsodium-dev libev-dev libmbedtls-dev libjansson-dev libhttp-parser-dev
  libwslay-dev libpcap-dev libcmocka-dev zlib1g-dev
  libssl-dev   # libcrypto: the WireGuard data AEAD (CMake VOLE_AEAD=openssl)
)
# Real peers and tools the tests and benchmarks drive.
TEST_PKGS=(
  wireguard-go wireguard-tools iperf3 iproute2 nftables util-linux procps
  socat tcpdump tshark python3 clang libclang-rt-14-dev iputils-ping coturn stun-client
)

want=("${BUILD_PKGS[@]}")
if [ "${1:-}" = "--test" ]; then
  want+=("${TEST_PKGS[@]}")
else
  want+=(socat)
fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi
