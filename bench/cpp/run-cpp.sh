#!/usr/bin/env bash
# Builds the C++ baseline benchmark and compares the plain two-party transport with
# CoalescingMessageStream, interleaved in one run (fresh server per measurement).
#
#   bench/cpp/run-cpp.sh [--quick] [--seconds N] [--reps N] [--strace] [--scenarios "latency bulk"]
#
# Output, one line per scenario (medians over the repetitions):
#   scenario=latency transport=coalescing value=<median_us> plain=<median_us> ratio=<ours/plain> better=lower
#   scenario=throughput ... value=<calls_per_s> ... better=higher
#   scenario=bulk ... value=<mb_per_s> ... better=higher
# plus cpu_us_per_call (client + server CPU time per call, a figure less sensitive to other load
# on the machine than the wall-clock rates) and its ratio.
# With --strace, also the system calls per RPC call (client + server) under strace -c -f.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
build="${BUILD_DIR:-$repo/build/bench-cpp}"
seconds=3
reps=3
do_strace=0
scenarios="latency throughput bulk"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) seconds=1; reps=1; shift ;;
    --seconds) seconds="$2"; shift 2 ;;
    --reps) reps="$2"; shift 2 ;;
    --strace) do_strace=1; shift ;;
    --scenarios) scenarios="$2"; shift 2 ;;
    *) echo "usage: $0 [--quick] [--seconds N] [--reps N] [--strace] [--scenarios LIST]" >&2; exit 2 ;;
  esac
done

cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 >/dev/null

tmp="$(mktemp -d)"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# start_server TRANSPORT [WRAPPER...]: sets server_pid and port.
start_server() {
  local transport="$1"; shift
  rm -f "$tmp/fifo"; mkfifo "$tmp/fifo"
  "$@" "$build/bench-server" --transport "$transport" --listen 127.0.0.1:0 --max-seconds 600 --once \
      --rusage-out "$tmp/server.rusage" \
      >"$tmp/fifo" &
  server_pid=$!
  local line=""
  exec {fd}<"$tmp/fifo"
  if ! read -r -t 20 -u "$fd" line; then
    echo "bench-server did not start" >&2; exit 1
  fi
  exec {fd}<&-
  port="${line#LISTENING }"
}

stop_server() {
  # The server exits by itself when the client's connection closes (--once); SIGTERM is only a
  # fallback (it would also stop strace from writing its summary).
  local i
  for ((i = 0; i < 100; i++)); do
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -TERM "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

# run_pair TRANSPORT SCENARIO: prints the client's line.
run_pair() {
  rm -f "$tmp/server.rusage"
  start_server "$1"
  "$build/bench-client" --transport "$1" --connect "127.0.0.1:$port" --scenario "$2" \
      --seconds "$seconds"
  stop_server
}

field() {  # field NAME LINE
  sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<"$2"
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

declare -A key=( [latency]=median_us [throughput]=calls_per_s [bulk]=mb_per_s )
declare -A better=( [latency]=lower [throughput]=higher [bulk]=higher )

for scenario in $scenarios; do
  : >"$tmp/plain"; : >"$tmp/coalescing"; : >"$tmp/plain.cpu"; : >"$tmp/coalescing.cpu"
  for ((rep = 0; rep < reps; rep++)); do
    if ((rep % 2 == 0)); then order="plain coalescing"; else order="coalescing plain"; fi
    for transport in $order; do
      run_pair "$transport" "$scenario" >"$tmp/line"   # not in $(...): keeps server_pid here
      line="$(cat "$tmp/line")"
      # CPU per call of both processes (server: whole process, so slightly over-counted).
      server_cpu="$(sed -n 's/.*server_cpu_us=\([0-9.]*\).*/\1/p' "$tmp/server.rusage" 2>/dev/null || true)"
      cpu="$(awk -v c="$(field client_cpu_us_per_call "$line")" -v s="${server_cpu:-0}" \
          -v n="$(field total_calls "$line")" 'BEGIN { printf "%.2f", c + s / n }')"
      echo "  $line server_cpu_us=${server_cpu:-?} cpu_us_per_call=$cpu" >&2
      field "${key[$scenario]}" "$line" >>"$tmp/$transport"
      echo "$cpu" >>"$tmp/$transport.cpu"
    done
  done
  ours="$(median <"$tmp/coalescing")"
  plain="$(median <"$tmp/plain")"
  ratio="$(awk -v a="$ours" -v b="$plain" 'BEGIN { printf "%.2f", a / b }')"
  cpu_ours="$(median <"$tmp/coalescing.cpu")"
  cpu_plain="$(median <"$tmp/plain.cpu")"
  cpu_ratio="$(awk -v a="$cpu_ours" -v b="$cpu_plain" 'BEGIN { printf "%.2f", a / b }')"
  printf 'scenario=%s transport=coalescing value=%.1f plain=%.1f ratio=%s better=%s cpu_us_per_call=%.2f plain_cpu_us_per_call=%.2f cpu_ratio=%s reps=%d seconds=%s\n' \
      "$scenario" "$ours" "$plain" "$ratio" "${better[$scenario]}" "$cpu_ours" "$cpu_plain" \
      "$cpu_ratio" "$reps" "$seconds"
done

if ((do_strace)); then
  command -v strace >/dev/null || { echo "strace not installed" >&2; exit 1; }
  for scenario in $scenarios; do
    for transport in plain coalescing; do
      start_server "$transport" strace -f -c -o "$tmp/server.strace"
      strace -f -c -o "$tmp/client.strace" "$build/bench-client" --transport "$transport" \
          --connect "127.0.0.1:$port" --scenario "$scenario" --seconds "$seconds" >"$tmp/line"
      line="$(cat "$tmp/line")"
      stop_server
      calls="$(field total_calls "$line")"  # warm-up included: strace sees it too
      summary() { awk '$NF == "total" { print $4 }' "$1"; }
      per_call() {  # the main system calls, per RPC call
        awk -v n="$calls" '$NF ~ /^(read|readv|write|writev|sendmsg|recvmsg|epoll_wait|brk|mmap|munmap)$/ {
          printf "%s=%.2f ", $NF, $4 / n }' "$1"
      }
      c="$(summary "$tmp/client.strace")"; s="$(summary "$tmp/server.strace")"
      awk -v s="$scenario" -v t="$transport" -v c="$c" -v sv="$s" -v n="$calls" 'BEGIN {
        printf "strace scenario=%s transport=%s calls=%d client_syscalls_per_call=%.2f server_syscalls_per_call=%.2f\n",
               s, t, n, c / n, sv / n }'
      echo "  client: $(per_call "$tmp/client.strace")"
      echo "  server: $(per_call "$tmp/server.strace")"
    done
  done
fi
