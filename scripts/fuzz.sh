#!/usr/bin/env bash
# Coverage-guided fuzzing with AFL++ (cargo-afl from crates.io: runs on the stable
# toolchain, unlike cargo-fuzz's libFuzzer sanitizers). Installs cargo-afl and builds
# AFL++ if missing, replays the corpus and every kept crash as tests, then fuzzes each
# target for FUZZ_SECONDS (default 30) from fuzz/corpus/<target>. A crash fails the run;
# its input is copied to fuzz/regressions/<target>/ so that, once fixed, it stays a test.
# Usage: scripts/fuzz.sh [target...]   (default: every target)
. "$(dirname "$0")/env.sh"
cd "$(dirname "$0")/../fuzz"
TARGETS=${*:-ingest_doc external_id facade_json json_scan}
SECS=${FUZZ_SECONDS:-30}
if ! cargo afl --version >/dev/null 2>&1; then
  log "fuzz: installing cargo-afl"
  cargo install cargo-afl --locked --version '^0.18' >/dev/null
fi
# AFL++ itself, built once per cargo-afl version (into ~/.local/share/afl.rs).
if ! compgen -G "$HOME/.local/share/afl.rs/*/*/afl/bin/afl-fuzz" >/dev/null; then
  log "fuzz: building AFL++"
  cargo afl config --build --force >/dev/null
fi
log "fuzz: building the instrumented targets"
cargo afl build --release --quiet
# Replay: every corpus file and every kept crash through its target (an AFL binary reads
# one input from stdin when it is not under afl-fuzz). `cargo test` here does the same.
log "fuzz: replaying the corpus and kept crashes"
for t in $TARGETS; do
  for f in corpus/$t/* regressions/$t/*; do
    [ -f "$f" ] || continue
    "target/release/$t" < "$f" >/dev/null 2>&1 || { echo "fuzz: $t fails on $f"; exit 1; }
  done
done
export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_QUIET=1 AFL_BENCH_UNTIL_CRASH=1
failed=()
for t in $TARGETS; do
  out=$(mktemp -d /tmp/idgraph-fuzz-$t.XXXXXX)
  log "fuzz: $t for ${SECS}s"
  cargo afl fuzz -V "$SECS" -i "corpus/$t" -o "$out" "target/release/$t" >"$out/log" 2>&1 || true
  stats=$out/default/fuzzer_stats
  [ -f "$stats" ] || { tail -20 "$out/log"; failed+=("$t (did not run)"); continue; }
  execs=$(awk -F': *' '$1 ~ /execs_done/ {print $2}' "$stats")
  paths=$(awk -F': *' '$1 ~ /corpus_count/ {print $2}' "$stats")
  crashes=$(find "$out/default/crashes" -type f -name 'id:*' | wc -l)
  echo "fuzz $t: ${execs} executions, ${paths} paths, ${crashes} crashes"
  if [ "$crashes" -gt 0 ]; then
    mkdir -p "regressions/$t"
    for c in "$out"/default/crashes/id:*; do cp "$c" "regressions/$t/crash-$(sha256sum "$c" | cut -c1-16)"; done
    failed+=("$t ($crashes crashes, kept in fuzz/regressions/$t)")
  fi
  rm -rf "$out"
done
if [ ${#failed[@]} -gt 0 ]; then echo "fuzz FAILED: ${failed[*]}"; exit 1; fi
echo "fuzz: every target ran ${SECS}s without a crash"
