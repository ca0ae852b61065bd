#!/usr/bin/env bash
# Per-call costs of one pairing, from the kernel's point of view, beside the C++ baseline:
#   bench/Capnp.Native.Bench/profile.sh [--tool strace|perf] [--scenario S] [--seconds N] [--pairs "cpp-cpp cs-cs"]
# strace: system calls per RPC call (client and server, all threads, by name).
# perf:   task-clock, context switches and CPU migrations per RPC call (perf stat, per process).
# Expects bench/run to have built both benchmarks (its default build directories).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cpp_build="${BENCH_CPP_BUILD_DIR:-$repo/build/bench-run-cpp}"
cs_bin="$here/bin/Release/net10.0/capnp-native-bench"
tool=strace
scenario=throughput
seconds=2
pairs="cpp-cpp cs-cs"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --tool) tool="$2"; shift 2 ;;
    --scenario) scenario="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --pairs) pairs="$2"; shift 2 ;;
    *) echo "usage: $0 [--tool strace|perf] [--scenario S] [--seconds N] [--pairs LIST]" >&2; exit 2 ;;
  esac
done

tmp="$(mktemp -d)"
server_pid=""
cleanup() {
  [[ -z "$server_pid" ]] || kill -KILL "$server_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

server_cmd() { case "$1" in cpp) echo "$cpp_build/bench-server --transport plain" ;; cs) echo "$cs_bin server" ;; esac; }
client_cmd() { case "$1" in cpp) echo "$cpp_build/bench-client --transport plain" ;; cs) echo "$cs_bin client --verbose" ;; esac; }
wrap() {  # wrap OUTFILE: the profiler command line
  case "$tool" in
    strace) echo "strace -f -c -o $1" ;;
    perf) echo "perf stat -e task-clock,context-switches,cpu-migrations,page-faults -x, -o $1" ;;
  esac
}

per_call() {  # per_call FILE CALLS
  case "$tool" in
    strace)
      awk -v n="$2" '$NF == "total" { printf "total=%.2f ", $4 / n }
        NF >= 5 && $4 ~ /^[0-9]+$/ && $NF != "total" && $4 / n >= 0.01 { printf "%s=%.2f ", $NF, $4 / n }' "$1" ;;
    perf)
      awk -F, -v n="$2" '$1 ~ /^[0-9.]+$/ { printf "%s=%.2f ", $3, $1 / n * ($3 == "task-clock" ? 1000 : 1) }' "$1"
      echo -n "(task-clock in us)" ;;
  esac
}

for pair in $pairs; do
  client_side="${pair%-*}"; server_side="${pair#*-}"
  mkfifo "$tmp/fifo"
  # shellcheck disable=SC2046
  $(wrap "$tmp/server.out") $(server_cmd "$server_side") --listen 127.0.0.1:0 --once --max-seconds 120 \
      >"$tmp/fifo" </dev/null &
  server_pid=$!
  exec {fd}<"$tmp/fifo"
  read -r -t 30 -u "$fd" line
  exec {fd}<&-
  rm -f "$tmp/fifo"
  # shellcheck disable=SC2046
  timeout 120 $(wrap "$tmp/client.out") $(client_cmd "$client_side") --connect "127.0.0.1:${line#LISTENING }" \
      --scenario "$scenario" --seconds "$seconds" >"$tmp/line" </dev/null
  for ((i = 0; i < 200; i++)); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.05; done
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
  result="$(cat "$tmp/line")"
  calls="$(sed -n 's/.* total_calls=\([0-9]*\).*/\1/p' <<<"$result")"
  echo "pair=$pair $result"
  echo "  $tool client per call: $(per_call "$tmp/client.out" "$calls")"
  echo "  $tool server per call: $(per_call "$tmp/server.out" "$calls")"
done
