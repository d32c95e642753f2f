#!/usr/bin/env bash
# make bench: every bench under benches/. The identity bench first, then every other
# benches/*/run.sh. A failing bench does not stop the others; the exit status is non-zero
# when any failed. Each bench writes its own section of benches/README.md between its own
# markers (<!-- NAME-bench:start --> … <!-- NAME-bench:end -->).
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
failed=()
run_bench() {
  local script=$1 name
  name=$(basename "$(dirname "$script")")
  printf '\033[1m==> bench %s\033[0m\n' "$name" >&2
  local rc=0
  bash "$script" || rc=$?
  if [ "$rc" -eq 0 ]; then
    printf '\033[1m==> bench %s: done\033[0m\n' "$name" >&2
  else
    printf '\033[1;31m==> bench %s: FAILED (exit %s)\033[0m\n' "$name" "$rc" >&2
    failed+=("$name")
  fi
}
run_bench "$HERE/identity/run.sh"
for script in "$HERE"/*/run.sh; do
  [ "$script" = "$HERE/identity/run.sh" ] && continue
  run_bench "$script"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "benches failed: ${failed[*]}" >&2
  exit 1
fi
