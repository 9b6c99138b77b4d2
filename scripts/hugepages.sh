#!/usr/bin/env bash
# Reserve N 2 MiB hugepages and make sure hugetlbfs is mounted (root only). Usage: hugepages.sh N
set -euo pipefail
n=${1:-512}
sys=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
echo "$n" > "$sys"
got=$(cat "$sys")
mountpoint -q /dev/hugepages || { mkdir -p /dev/hugepages; mount -t hugetlbfs nodev /dev/hugepages; }
echo "hugepages: $got of $n 2 MiB pages reserved ($(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages) free)"
