#!/usr/bin/env bash
# Runs `interop-vat serve` and `interop-vat client` against each other for one scenario.
#
#   run-pair.sh <scenario> [tcp4|tcp6|unix] [plain|tls|restore|tls-restore]
#   run-pair.sh concurrent [tcp4|tcp6|unix]   every scenario but disconnect-mid-call, all at
#                                             once against ONE server (connection isolation)
#
# Modes: plain (default) connects by address and bootstraps. The others make the server print
# its sturdy ref URI and the client connect by it (`--uri`): tls serves TLS with a key the server
# creates (the client verifies its fingerprint) and bootstraps (empty ID); restore serves the IDs
# "main" and "other" insecurely and the client restores "main" (RpcSystem::restore with Text);
# tls-restore does both.
#
# The vat is $INTEROP_VAT, else build/interop/interop-vat under the repository root.
# Exit: 0 pass, 1 fail, 77 skipped (IPv6 loopback unavailable for tcp6).
# For disconnect-mid-call the server is killed (SIGKILL) once the client prints WAITING.
# Every wait is bounded: read -t for the handshake lines, the vats' own --timeout-seconds and
# `timeout` around the client.
set -u

scenario=${1:?usage: run-pair.sh <scenario> [tcp4|tcp6|unix]}
transport=${2:-tcp4}
mode=${3:-plain}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
vat=${INTEROP_VAT:-$here/../../build/interop/interop-vat}
server_timeout=${INTEROP_SERVER_TIMEOUT:-60}
client_timeout=${INTEROP_CLIENT_TIMEOUT:-30}
line_timeout=${INTEROP_LINE_TIMEOUT:-15}

[[ -x $vat ]] || { echo "run-pair: interop-vat not found at $vat (build it or set INTEROP_VAT)"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/interop-pair.XXXXXX")
server_pid=
client_pid=
cleanup() {
  exec 3>&- 4<&- 5<&- 2>/dev/null
  [[ -n $client_pid ]] && kill -KILL "$client_pid" 2>/dev/null
  [[ -n $server_pid ]] && kill -KILL "$server_pid" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
  echo "run-pair $scenario/$transport/$mode: FAIL: $*"
  for f in server.err client.out client.err; do
    [[ -s $tmp/$f ]] && { echo "--- $f"; cat "$tmp/$f"; }
  done
  exit 1
}

case $transport in
  tcp4) listen=tcp:127.0.0.1:0 ;;
  tcp6) listen='tcp:[::1]:0' ;;
  unix) listen=unix:$tmp/vat.sock ;;
  *) echo "run-pair: unknown transport '$transport' (tcp4|tcp6|unix)"; exit 1 ;;
esac

server_args=()
case $mode in
  plain) ;;
  tls) server_args=(--tls-key "$tmp/key.pem") ;;
  restore) server_args=(--service main --service other) ;;
  tls-restore) server_args=(--tls-key "$tmp/key.pem" --service main --service other) ;;
  *) echo "run-pair: unknown mode '$mode' (plain|tls|restore|tls-restore)"; exit 1 ;;
esac

# The server's stdin and stdout are FIFOs we hold: closing fd 3 is its shutdown signal.
mkfifo "$tmp/server.in" "$tmp/server.out"
"$vat" serve --listen "$listen" --timeout-seconds "$server_timeout" "${server_args[@]}" \
  < "$tmp/server.in" > "$tmp/server.out" 2> "$tmp/server.err" &
server_pid=$!
exec 3> "$tmp/server.in"
exec 4< "$tmp/server.out"

if ! read -r -t "$line_timeout" -u 4 first rest; then
  wait "$server_pid"; rc=$?; server_pid=
  if [[ $transport == tcp6 ]] && grep -q "cannot listen" "$tmp/server.err"; then
    echo "run-pair $scenario/$transport/$mode: SKIP: cannot listen on [::1]"; cat "$tmp/server.err"
    exit 77
  fi
  fail "server printed no LISTENING line (exit $rc)"
fi
[[ $first == LISTENING && -n $rest ]] || fail "server's first line was '$first $rest', expected 'LISTENING <addr>'"
address=$rest
client_args=(--connect "$address")
if [[ $mode != plain ]]; then
  read -r -t "$line_timeout" -u 4 first uri || fail "server printed no URI line"
  [[ $first == URI && $uri == capnp://* ]] || fail "server's second line was '$first $uri', expected 'URI capnp://...'"
  case $mode in
    tls) [[ $uri == capnp://sha-256:* ]] || fail "TLS server's URI '$uri' has no sha-256 digest" ;;
    restore) [[ $uri == capnp://insecure@* ]] || fail "insecure server's URI '$uri' is not insecure@" ;;
  esac
  if [[ $mode == *restore ]]; then
    # "main" in base64url; a unix URI already ends in '/' (empty ID), a TCP one does not.
    [[ $uri == */ ]] && uri=${uri}bWFpbg || uri=$uri/bWFpbg
  fi
  client_args=(--uri "$uri")
fi

if [[ $scenario == concurrent ]]; then
  pids=()
  names=(echo add errors callback pipelining caps cancel stream release garbage)
  for name in "${names[@]}"; do
    timeout -k 5 "$((client_timeout + 10))" "$vat" client "${client_args[@]}" --scenario "$name" \
      --timeout-seconds "$client_timeout" > "$tmp/client.$name.out" 2> "$tmp/client.$name.err" &
    pids+=($!)
  done
  client_rc=0
  for i in "${!names[@]}"; do
    wait "${pids[$i]}"; rc=$?
    cat "$tmp/client.${names[$i]}.out" >> "$tmp/client.out"
    if [[ $rc != 0 ]]; then
      client_rc=$rc
      echo "${names[$i]}: exit $rc" >> "$tmp/client.err"
      cat "$tmp/client.${names[$i]}.err" >> "$tmp/client.err"
    elif [[ $(tail -n 1 "$tmp/client.${names[$i]}.out") != "PASS ${names[$i]}" ]]; then
      client_rc=1
      echo "${names[$i]}: no PASS line" >> "$tmp/client.err"
    fi
  done
  [[ $client_rc == 0 ]] || fail "a concurrent client failed (exit $client_rc)"
  echo "PASS concurrent" >> "$tmp/client.out"
elif [[ $scenario == disconnect-mid-call ]]; then
  mkfifo "$tmp/client.out.fifo"
  timeout -k 5 "$((client_timeout + 10))" "$vat" client "${client_args[@]}" --scenario "$scenario" \
    --timeout-seconds "$client_timeout" > "$tmp/client.out.fifo" 2> "$tmp/client.err" &
  client_pid=$!
  exec 5< "$tmp/client.out.fifo"
  if ! read -r -t "$line_timeout" -u 5 line || [[ $line != WAITING ]]; then
    echo "${line:-}" > "$tmp/client.out"
    fail "client did not print WAITING (got '${line:-}')"
  fi
  kill -KILL "$server_pid"
  { wait "$server_pid"; } 2>/dev/null; server_rc=$?; server_pid=
  [[ $server_rc == 137 ]] || fail "server exit $server_rc after SIGKILL, expected 137"
  cat <&5 > "$tmp/client.out"
  wait "$client_pid"; client_rc=$?; client_pid=
else
  timeout -k 5 "$((client_timeout + 10))" "$vat" client "${client_args[@]}" --scenario "$scenario" \
    --timeout-seconds "$client_timeout" > "$tmp/client.out" 2> "$tmp/client.err"
  client_rc=$?
fi

[[ $client_rc == 0 ]] || fail "client exit $client_rc"
last=$(tail -n 1 "$tmp/client.out")
[[ $last == "PASS $scenario" ]] || fail "client's last line was '$last', expected 'PASS $scenario'"

if [[ -n $server_pid ]]; then
  exec 3>&-  # EOF on the server's stdin: it must exit cleanly
  wait "$server_pid"; server_rc=$?; server_pid=
  [[ $server_rc == 0 ]] || fail "server exit $server_rc after stdin EOF, expected 0"
  [[ $transport != unix || ! -e $tmp/vat.sock ]] || fail "server left its socket file behind"
fi

if [[ $mode == tls* ]]; then
  grep -q "client sha-256:" "$tmp/server.err" || fail "the TLS server logged no client fingerprint"
fi
if [[ $mode == *restore ]]; then
  # The client asked by ID (not for the bootstrap, which would serve the scenario as well).
  grep -q "restored service 'main'" "$tmp/server.err" || fail "the server restored no service 'main'"
fi
echo "run-pair $scenario/$transport/$mode: PASS"
exit 0
