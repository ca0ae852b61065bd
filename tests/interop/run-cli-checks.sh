#!/usr/bin/env bash
# CLI contract checks of interop-vat that need no peer: usage errors (exit 2), serve exiting
# on stdin EOF (exit 0) and on --timeout-seconds (exit 3, TIMEOUT line), listen failures
# (exit 4), and client connect failures (exit 1, FAIL line).
#   run-cli-checks.sh        (vat: $INTEROP_VAT, else build/interop/interop-vat)
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
vat=${INTEROP_VAT:-$here/../../build/interop/interop-vat}
[[ -x $vat ]] || { echo "run-cli-checks: interop-vat not found at $vat"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/interop-cli.XXXXXX")
trap 'exec 3>&- 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
failures=0

source "$here/check-lib.sh"

expect "no arguments" 2 '' -- "$vat"
expect "unknown mode" 2 '' -- "$vat" bogus
expect "unknown scenario" 2 '' -- "$vat" client --connect tcp:127.0.0.1:1 --scenario bogus
expect "missing scenario" 2 '' -- "$vat" client --connect tcp:127.0.0.1:1
expect "unbracketed IPv6" 2 '' -- "$vat" serve --listen 'tcp:::1:0'
expect "bad port" 2 '' -- "$vat" serve --listen tcp:127.0.0.1:70000
expect "bad scheme" 2 '' -- "$vat" serve --listen http://127.0.0.1:0
expect "bad timeout" 2 '' -- "$vat" serve --listen tcp:127.0.0.1:0 --timeout-seconds -1
expect "serve: stdin at EOF" 0 '^LISTENING tcp:127\.0\.0\.1:[1-9][0-9]*$' -- \
  "$vat" serve --listen tcp:127.0.0.1:0 < /dev/null
expect "serve: cannot listen" 4 '' -- "$vat" serve --listen tcp:192.0.2.1:0 < /dev/null
expect "client: nothing listening (unix)" 1 '^FAIL echo: connecting to unix:' -- \
  "$vat" client --connect "unix:$tmp/none.sock" --scenario echo

# serve with stdin held open (a FIFO on fd 3): --timeout-seconds 1 ends it with exit 3.
mkfifo "$tmp/in"
"$vat" serve --listen "unix:$tmp/vat.sock" --timeout-seconds 1 < "$tmp/in" > "$tmp/serve.out" \
  2> "$tmp/serve.err" &
pid=$!
exec 3> "$tmp/in"
wait "$pid"; rc=$?
exec 3>&-
if [[ $rc == 3 ]] && grep -q '^LISTENING unix:' "$tmp/serve.out" \
    && grep -q '^TIMEOUT serve' "$tmp/serve.out" && [[ ! -e $tmp/vat.sock ]]; then
  echo "ok   serve: --timeout-seconds 1 with stdin open"
else
  echo "FAIL serve: --timeout-seconds 1: exit $rc, stdout:"; cat "$tmp/serve.out"; cat "$tmp/serve.err"
  failures=$((failures + 1))
fi

# client with a peer that accepts but never answers: --timeout-seconds 1 gives exit 3.
mkfifo "$tmp/in2" "$tmp/out2"
"$vat" serve --listen "unix:$tmp/slow.sock" --timeout-seconds 30 < "$tmp/in2" > "$tmp/out2" \
  2> /dev/null &
pid=$!
exec 3> "$tmp/in2"
exec 4< "$tmp/out2"
read -r -t 15 -u 4 _ address
expect "client: --timeout-seconds 1 on a call that never returns" 3 '^TIMEOUT disconnect-mid-call' -- \
  "$vat" client --connect "$address" --scenario disconnect-mid-call --timeout-seconds 1
# The server must survive a client that vanishes mid-call (SIGKILL while waitForever is pending).
mkfifo "$tmp/client.out"
"$vat" client --connect "$address" --scenario disconnect-mid-call --timeout-seconds 30 \
  > "$tmp/client.out" 2> /dev/null &
client=$!
exec 5< "$tmp/client.out"
read -r -t 15 -u 5 line
kill -KILL "$client"; { wait "$client"; } 2>/dev/null
exec 5<&-
[[ ${line:-} == WAITING ]] || { echo "FAIL kill-client setup: got '${line:-}'"; failures=$((failures + 1)); }
expect "serve: still answers after a client was killed mid-call" 0 '^PASS echo$' -- \
  "$vat" client --connect "$address" --scenario echo
exec 3>&- 4<&-
wait "$pid"; rc=$?
if [[ $rc == 0 ]]; then
  echo "ok   serve: exit 0 on stdin EOF after those clients"
else
  echo "FAIL serve: exit $rc on stdin EOF, expected 0"; failures=$((failures + 1))
fi

[[ $failures == 0 ]] && echo "all CLI checks passed" && exit 0
echo "$failures CLI check(s) failed"; exit 1
