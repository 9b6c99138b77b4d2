#!/usr/bin/env bash
# Brief fuzzing of the parser and the capture reader (CI runs it; long runs are done by hand, see
# fuzz/README.md). Installs cargo-fuzz when missing; skips, saying so, when it cannot.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs=${FUZZ_SECONDS:-15}
if ! command -v cargo-fuzz >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked >/dev/null 2>&1 || { echo "fuzz: SKIP: cannot install cargo-fuzz"; exit 0; }
fi
python3 gen_seeds.py >/dev/null
for t in parse_frame capture_reader; do
    # A log per run: several checkouts may fuzz at the same time on one machine.
    log=$(mktemp "/tmp/fuzz-$t.XXXXXX.log")
    # Only a stable toolchain exists here: RUSTC_BOOTSTRAP unlocks the sanitizer flags.
    RUSTC_BOOTSTRAP=1 cargo fuzz run "$t" "corpus/$t" -- -max_total_time="$secs" 2>"$log" \
        || { tail -40 "$log"; echo "fuzz: $t FAILED (log: $log)"; exit 1; }
    echo "fuzz: $t: $(grep -a -o 'Done [0-9]* runs in [0-9]* second(s)' "$log" | tail -1)"
    rm -f "$log"
done
