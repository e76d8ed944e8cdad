#!/usr/bin/env bash
# Fuzzes, each for a bounded time with libFuzzer + ASan + UBSan, on a copy of
# its corpus in test/fuzz/corpus/ (the repo is left untouched):
#   fuzz_stun        the STUN codec and the socket classifier
#   fuzz_derp_frame  the DERP frame reader, payload parsers and handshake opener
#   fuzz_derp_http   the DERP server's request-head parser, routing and responses
#   fuzz_disco       the disco wrapper, box opener and message parser, and re-sealing
#   fuzz_coord       the coordinator's message decoder (and a DERP map inside), round trips
# Exits non-zero on a crash and keeps the crashing input; exits 0 with a
# "skipped" line if clang or libFuzzer is missing.
# usage: scripts/fuzz.sh [SECONDS]   (default 20, per target; CLANG=clang-14 to pick one)
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-20}
cc=${CLANG:-clang}

if ! command -v "$cc" >/dev/null 2>&1; then
  echo "fuzz: skipped ($cc not found)"
  exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/vole-fuzz.XXXXXX")
keep=0
cleanup() { [ $keep = 1 ] || rm -rf "$work"; }
trap cleanup EXIT

# Debian ships libFuzzer's runtime in libclang-rt-NN-dev; probe for it rather
# than guess from the version.
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return 0; }\n' >"$work/probe.c"
if ! "$cc" -fsanitize=fuzzer "$work/probe.c" -o "$work/probe" >/dev/null 2>&1; then
  echo "fuzz: skipped ($cc cannot link -fsanitize=fuzzer; on Debian install libclang-rt-14-dev)"
  exit 0
fi

# build NAME LIBS SOURCES...: one target, sanitizers on, into $work/NAME.
build() {
  local name=$1 libs=$2
  shift 2
  (cd "$top" && "$cc" -g -O1 -std=gnu11 -D_GNU_SOURCE -I"$top" \
     -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer \
     "$@" $libs -o "$work/$name") || { echo "fuzz: $name build failed"; exit 1; }
}

# run NAME CORPUS: fuzz for $secs on a copy of test/fuzz/corpus/CORPUS.
run() {
  local name=$1 dir="$work/corpus-$2"
  cp -r "$top/test/fuzz/corpus/$2" "$dir"
  echo "fuzz: $name for ${secs}s on $(ls "$dir" | wc -l) seeds"
  "$work/$name" -max_total_time="$secs" -print_final_stats=1 \
    -artifact_prefix="$work/$name-" "$dir" >"$work/$name.log" 2>&1
  local rc=$?
  if [ $rc -ne 0 ]; then
    keep=1
    grep -E "ERROR: |runtime error|SUMMARY|Test unit written|^#[0-9]+ " "$work/$name.log" | head -n 30
    echo "fuzz: $name FAILED (exit $rc); log and crashing input kept in $work"
    exit 1
  fi
  grep -E "^Done|^stat::(number_of_executed_units|new_units_added)" "$work/$name.log"
  echo "fuzz: $name no crash"
}

# Only the codec's own sources: stun/ also holds the prober and the server,
# which need libsodium and are not what this target exercises.
build fuzz_stun "-lz" test/fuzz/fuzz_stun.c stun/message.c stun/attr.c stun/writer.c stun/fingerprint.c \
  stun/address.c stun/request.c stun/response.c node/classify.c
# Likewise only the frame and handshake files of derp/, not the relay or HTTP.
build fuzz_derp_frame "-lsodium -ljansson" test/fuzz/fuzz_derp_frame.c derp/frame.c derp/frame_mesh.c \
  derp/frame_parse.c derp/frame_reader.c derp/handshake.c derp/handshake_json.c derp/key.c conf/key.c
# The HTTP side alone: http.c prints the server key with derp/key.c (which
# pulls in conf/key.c); the relay is only its stats struct, a header.
build fuzz_derp_http "-lhttp_parser -lsodium" test/fuzz/fuzz_derp_http.c derp/http.c derp/key.c conf/key.c
build fuzz_disco "-lsodium" test/fuzz/fuzz_disco.c disco/key.c disco/seal.c disco/message.c disco/endpoint.c
# The message codec of coord/ (node JSON, endpoints, the JSON field helpers,
# the agent-name check in tokens.c) and the DERP map parser.
build fuzz_coord "-ljansson -lsodium" test/fuzz/fuzz_coord.c coord/msg.c coord/msg_decode.c coord/node.c \
  coord/endpoint.c coord/jsonf.c coord/tokens.c coord/tokens_lookup.c derp/derpmap.c conf/file.c

run fuzz_stun stun
run fuzz_derp_frame derp_frame
run fuzz_derp_http derp_http
run fuzz_disco disco
run fuzz_coord coord
