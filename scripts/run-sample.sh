#!/usr/bin/env bash
# The main job: set up, build, and replay the shipped sample capture through the net_pcap vdev.
# Records go to stdout (Netify JSON lines); the summary goes to stderr. Extra arguments are passed on.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release -p flowprobe
exec ./target/release/flowprobe --pcap tests/sample.pcap "$@"
