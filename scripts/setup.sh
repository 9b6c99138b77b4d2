#!/usr/bin/env bash
# Installs what flowprobe needs on Debian 12 (idempotent) and, as root, reserves hugepages when it
# can (never required: flowprobe falls back to --no-huge).
set -euo pipefail

PKGS=(libdpdk-dev dpdk pkg-config libclang-dev clang build-essential libpcap-dev)
missing=()
for p in "${PKGS[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
    echo "setup: cargo not found: install a Rust toolchain (rustup) first" >&2
    exit 1
fi

# Hugepages speed DPDK up (TLB reach) but are optional; only try as root, only if asked or unset.
if [ "$(id -u)" -eq 0 ] && [ "${FLOWPROBE_HUGEPAGES:-0}" -gt 0 ]; then
    "$(dirname "$0")/hugepages.sh" "$FLOWPROBE_HUGEPAGES" || echo "setup: hugepages not reserved (continuing without)" >&2
fi
