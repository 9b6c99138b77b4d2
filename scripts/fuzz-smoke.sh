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
    # Only a stable toolchain exists here: RUSTC_BOOTSTRAP unlocks the sanitizer flags.
    RUSTC_BOOTSTRAP=1 cargo fuzz run "$t" "corpus/$t" -- -max_total_time="$secs" 2>"/tmp/fuzz-$t.log" \
        || { tail -40 "/tmp/fuzz-$t.log"; echo "fuzz: $t FAILED"; exit 1; }
    echo "fuzz: $t: $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "/tmp/fuzz-$t.log" | tail -1)"
done
