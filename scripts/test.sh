#!/usr/bin/env bash
# The whole test suite: install, build, unit tests, the unit tests again under
# AddressSanitizer + UBSan, then the interop scenarios against wireguard-go in
# network namespaces and the tailnet scenarios across NAT routers (these need
# root; vole itself runs unprivileged in them).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
"$top/scripts/install-deps.sh" --test || exit 1

status=0
step() { echo; echo "==== $*"; }

step "build"
"$top/scripts/build.sh" "$top/build" || exit 1

step "lint (clang-tidy)"
"$top/scripts/lint.sh" "$top/build" || status=1

step "unit tests"
(cd "$top/build" && ctest --output-on-failure -j2) || status=1

step "unit tests under AddressSanitizer + UBSan"
"$top/scripts/build.sh" "$top/build-asan" -DVOLE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null || exit 1
(cd "$top/build-asan" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j2) || status=1

step "fuzz: STUN, DERP frame, DERP HTTP, disco and coordinator parsers (libFuzzer, short runs)"
"$top/scripts/fuzz.sh" 20 || status=1

step "speedtest: a capture of the tunnel read back by tshark (loopback)"
VOLE="$top/build/vole" timeout 180 bash "$top/test/speedtest/tshark.sh" || status=1

step "docs/TROUBLESHOOTING.md has every anchor and message vole ping prints"
python3 "$top/test/docs/troubleshooting.py" "$top" || status=1

step "vole ping NAME on loopback: checklist, pongs, verdict, summary, JSON, errors within the timeout"
VOLE="$top/build/vole" timeout 300 bash "$top/test/ping/loopback.sh" || status=1

if [ "$(id -u)" = 0 ]; then
  for t in "$top"/test/interop/*.sh; do
    [ "$(basename "$t")" = lib.sh ] && continue
    step "interop: $(basename "$t" .sh)"
    VOLE="$top/build/vole" timeout 900 bash "$t" || status=1
  done
  step "scenario: tailnet (server, agent, forward across NAT routers)"
  VOLE="$top/build/vole" timeout 600 bash "$top/test/scenario/tailnet.sh" || status=1
  step "scenario: speedtest (direct and over DERP, in network namespaces)"
  VOLE="$top/build/vole" timeout 180 bash "$top/test/scenario/speedtest.sh" || status=1
  step "scenario: the diagnosis matrix of vole ping (one cause per case, and a clean one)"
  VOLE="$top/build/vole" timeout 400 bash "$top/test/scenario/diagnosis.sh" || status=1
  step "scenario: MTU (a 1280 link, UDP over 500 bytes dropped, a black hole mid-transfer)"
  VOLE="$top/build/vole" timeout 240 bash "$top/test/scenario/mtu.sh" || status=1
else
  step "interop and scenario tests skipped: they build network namespaces and need root"
fi

echo
[ $status = 0 ] && echo "all test stages passed" || echo "some test stage FAILED"
exit $status
