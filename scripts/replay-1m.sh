#!/usr/bin/env bash
# Measure the end-to-end replay of a generated 1M-packet capture and check that the purge records
# add up exactly to the capture's packets and bytes. Usage: scripts/replay-1m.sh [PACKETS] [FLOWS]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
flows=${2:-10000}
dir=${TMPDIR:-/tmp}/flowprobe-replay
mkdir -p "$dir"
cargo build --release -q -p flowprobe -p flowprobe-bench
# Generated once per (packets, flows): rewriting 840 MB right before the replay would measure the
# kernel's write-back of it too.
stamp="packets=$n flows=$flows seed=42 $(sha1sum target/release/gentrace | cut -c1-12)"
if [ "$(cat "$dir/stamp" 2>/dev/null)" != "$stamp" ]; then
    ./target/release/gentrace --packets "$n" --flows "$flows" --seed 42 --out "$dir/trace.pcap" --truth "$dir/truth.json"
    sync
    echo "$stamp" >"$dir/stamp"
fi
start=$(date +%s.%N)
# Metrics on as by default, on a free port (METRICS_LISTEN=off to measure without).
FLOWPROBE_DEBUG=1 ./target/release/flowprobe --pcap "$dir/trace.pcap" --metrics-listen "${METRICS_LISTEN:-127.0.0.1:0}" --output "$dir/records.json" "${@:3}" 2>"$dir/stderr.txt"
end=$(date +%s.%N)
python3 - "$dir" "$start" "$end" <<'PY'
import json, sys
d, start, end = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
truth = json.load(open(f"{d}/truth.json"))
pk = by = purges = starts = 0
for line in open(f"{d}/records.json"):
    r = json.loads(line)
    if r["type"] == "flow_purge":
        purges += 1; pk += r["flow"]["total_packets"]; by += r["flow"]["total_bytes"]
    elif r["type"] == "flow":
        starts += 1
summary = [json.loads(l) for l in open(f"{d}/stderr.txt") if '"type":"summary"' in l][-1]
wall = end - start
print(f"packets: purged {pk} / capture {truth['packets']}; bytes: purged {by} / capture {truth['bytes']}")
print(f"flows: {starts} flow records, {purges} purge records, {len(truth['flows'])} flows in the truth")
print(f"wall time of the whole command: {wall:.2f} s = {truth['packets']/wall/1e6:.2f} Mpps; "
      f"worker run {summary['run_seconds']:.2f} s; exporter {summary['exporter_records_per_second']/1e3:.0f}k records/s (busy time)")
ok = pk == truth["packets"] and by == truth["bytes"] and starts == purges
phases = [l.split("flowprobe: ", 1)[1].strip() for l in open(f"{d}/stderr.txt") if "flowprobe: phase" in l or "table ready" in l]
print("where the time went: " + "; ".join(phases))
print("OK: accounting closes" if ok else "MISMATCH")
sys.exit(0 if ok else 1)
PY
