#!/usr/bin/env bash
# The test command: set up, then format check, lints, the pure core without DPDK, and every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# Test-only tools: promtool and a real Prometheus server (the tests skip, saying so, without them).
if ! command -v promtool >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    { DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1 \
        || { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1; }; } \
        || echo "test: could not install prometheus; the Prometheus tests will be skipped" >&2
fi
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt clippy || true
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
# The pure core (parse, flow, export) must build and pass without libdpdk.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
{
    cargo test -p flowprobe --no-default-features --lib
    cargo test --workspace
} 2>&1 | tee "$log"
# Brief fuzzing of the parser and the capture reader (a crash fails the run).
scripts/fuzz-smoke.sh
# One closing line over every test binary (cargo's last line is often an empty doc-test run).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
     END { printf "%d passed, %d failed\n", p, f; exit (f > 0) }' "$log"
