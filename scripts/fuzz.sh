#!/usr/bin/env bash
# Fuzzes the STUN codec and the socket classifier with libFuzzer + ASan +
# UBSan for a bounded time, on a copy of test/fuzz/corpus/stun (the repo is
# left untouched). Exits non-zero on a crash and keeps the crashing input;
# exits 0 with a "skipped" line if clang or libFuzzer is missing.
# usage: scripts/fuzz.sh [SECONDS]   (default 20; CLANG=clang-14 to pick one)
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

# Only the codec's own sources: stun/ also holds the prober and the server,
# which need libsodium and are not what this target exercises.
srcs=(test/fuzz/fuzz_stun.c stun/message.c stun/attr.c stun/writer.c stun/fingerprint.c
      stun/address.c stun/request.c stun/response.c node/classify.c)
(cd "$top" && "$cc" -g -O1 -std=gnu11 -D_GNU_SOURCE -I"$top" \
   -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer \
   "${srcs[@]}" -lz -o "$work/fuzz_stun") || { echo "fuzz: build failed"; exit 1; }

cp -r "$top/test/fuzz/corpus/stun" "$work/corpus"
echo "fuzz: fuzz_stun for ${secs}s on $(ls "$work/corpus" | wc -l) seeds"
"$work/fuzz_stun" -max_total_time="$secs" -print_final_stats=1 \
  -artifact_prefix="$work/" "$work/corpus" >"$work/log" 2>&1
rc=$?
if [ $rc -ne 0 ]; then
  keep=1
  grep -E "ERROR: |runtime error|SUMMARY|Test unit written|^#[0-9]+ " "$work/log" | head -n 30
  echo "fuzz: FAILED (exit $rc); log and crashing input kept in $work"
  exit 1
fi
grep -E "^Done|^stat::(number_of_executed_units|new_units_added)" "$work/log"
echo "fuzz: no crash"
