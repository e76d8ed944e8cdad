#!/usr/bin/env bash
# clang-tidy over vole's own sources (.clang-tidy holds the checks); any
# warning fails. usage: scripts/lint.sh BUILD_DIR (configured with compile commands)
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$top/build}
cmake -S "$top" -B "$dir" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null || exit 1
out=$(cd "$top" && ls wg/*.c conf/*.c io/*.c node/*.c cli/*.c diag/*.c stack/*.c stun/*.c derp/*.c disco/*.c coord/*.c tailnet/*.c server/*.c 2>/dev/null |
      xargs -P "$(nproc)" -n 1 clang-tidy -p "$dir" --quiet 2>/dev/null)
warnings=$(printf '%s\n' "$out" | grep -c "warning:")
if [ "$warnings" -gt 0 ]; then
  printf '%s\n' "$out"
  echo "lint: $warnings clang-tidy warnings"
  exit 1
fi
echo "lint: clang-tidy clean"
