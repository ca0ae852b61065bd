#!/usr/bin/env bash
# TLS and services-by-ID checks of interop-vat against itself that are not scenario pairs:
# refusals (forged fingerprint, unknown service ID, a required client certificate missing, TLS
# against a plaintext server), the anonymous client, and usage errors of the new options.
#   run-tls-checks.sh        (vat: $INTEROP_VAT, else build/interop/interop-vat)
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
vat=${INTEROP_VAT:-$here/../../build/interop/interop-vat}
line_timeout=${INTEROP_LINE_TIMEOUT:-15}
[[ -x $vat ]] || { echo "run-tls-checks: interop-vat not found at $vat"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/interop-tls.XXXXXX")
servers=()
cleanup() {
  for fd in 3 4 5 6 7 8; do eval "exec $fd>&-" 2>/dev/null; done
  for pid in "${servers[@]}"; do kill -KILL "$pid" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
failures=0

EXPECT_TIMEOUT=60
source "$here/check-lib.sh"

# start <name> <in fd> <out fd> <serve args...>: starts a server; sets $uri (its URI line).
start() {
  local name=$1 infd=$2 outfd=$3; shift 3
  mkfifo "$tmp/$name.in" "$tmp/$name.out"
  "$vat" serve --listen tcp:127.0.0.1:0 --timeout-seconds 120 "$@" \
    < "$tmp/$name.in" > "$tmp/$name.out" 2> "$tmp/$name.err" &
  servers+=($!)
  eval "exec $infd> \"$tmp/$name.in\""
  eval "exec $outfd< \"$tmp/$name.out\""
  local first rest
  read -r -t "$line_timeout" -u "$outfd" first rest && [[ $first == LISTENING ]] \
    || { echo "FAIL start $name: no LISTENING line"; cat "$tmp/$name.err"; exit 1; }
  address=$rest
  uri=
  if [[ $* == *--tls-key* || $* == *--service* ]]; then
    read -r -t "$line_timeout" -u "$outfd" first uri && [[ $first == URI ]] \
      || { echo "FAIL start $name: no URI line"; cat "$tmp/$name.err"; exit 1; }
  fi
}

start tls 3 4 --tls-key "$tmp/key.pem" --service main
tls_uri=$uri
tls_address=$address
# The URI's digest is the key file's: SHA-256 over the DER SubjectPublicKeyInfo.
digest=$(openssl pkey -in "$tmp/key.pem" -pubout -outform DER | openssl dgst -sha256 -binary \
  | base64 | tr '+/' '-_' | tr -d '=')
if [[ $tls_uri == "capnp://sha-256:$digest@$tls_address" || $tls_uri == "capnp://sha-256:$digest@${tls_address#tcp:}" ]]; then
  echo "ok   URI digest = sha-256 of the key's DER SubjectPublicKeyInfo"
else
  echo "FAIL URI '$tls_uri' does not carry sha-256:$digest"; failures=$((failures + 1))
fi
forged_digest=$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
forged=capnp://sha-256:$forged_digest@${tls_uri#*@}

expect "TLS: the named service (main) is restored" 0 '^PASS caps$' -- \
  "$vat" client --uri "$tls_uri/bWFpbg" --scenario caps
expect "TLS: the bootstrap (empty ID)" 0 '^PASS echo$' -- "$vat" client --uri "$tls_uri" --scenario echo
expect "TLS: an unknown ID fails with 'Unknown persistent service ID'" 1 \
  '^FAIL echo: .*FAILED: remote exception: Unknown persistent service ID$' -- \
  "$vat" client --uri "$tls_uri/b3RoZXI" --scenario echo
expect "TLS: a forged fingerprint is refused" 1 \
  "^FAIL echo: TLS handshake with tcp:127.0.0.1:[0-9]+ failed with FAILED: TLS authentication failed: server key fingerprint mismatch \(expected sha-256:$forged_digest, got sha-256:$digest\)$" -- \
  "$vat" client --uri "$forged/bWFpbg" --scenario echo
expect "TLS: a client without a certificate is served (anonymous)" 0 '^PASS echo$' -- \
  "$vat" client --uri "$tls_uri" --scenario echo --client-certificate none
grep -q "client without a certificate (anonymous)" "$tmp/tls.err" \
  && echo "ok   the server saw the anonymous client" \
  || { echo "FAIL the server did not log an anonymous client"; failures=$((failures + 1)); }

start required 5 6 --tls-key "$tmp/key.pem" --client-certificate required
expect "TLS: a required client certificate missing is refused" 1 '^FAIL echo: ' -- \
  "$vat" client --uri "$uri" --scenario echo --client-certificate none
expect "TLS: a required client certificate present is served" 0 '^PASS echo$' -- \
  "$vat" client --uri "$uri" --scenario echo
grep -q "TLS authentication failed: client presented no certificate" "$tmp/required.err" \
  && echo "ok   the server logged the missing client certificate" \
  || { echo "FAIL the server did not log the missing certificate"; cat "$tmp/required.err"; failures=$((failures + 1)); }

start plain 7 8
expect "TLS client against a plaintext server fails the handshake" 1 '^FAIL echo: TLS handshake with ' -- \
  "$vat" client --uri "capnp://sha-256:$digest@${address#tcp:}" --scenario echo

expect "usage: unknown URI auth" 2 '' -- "$vat" client --uri "capnp://md5:AAAA@127.0.0.1:1" --scenario echo
expect "usage: short digest" 2 '' -- "$vat" client --uri "capnp://sha-256:AAAA@127.0.0.1:1" --scenario echo
expect "usage: bad base64url ID" 2 '' -- "$vat" client --uri "capnp://insecure@127.0.0.1:1/a+b" --scenario echo
expect "usage: not a capnp URI" 2 '' -- "$vat" client --uri "http://insecure@127.0.0.1:1" --scenario echo
expect "usage: --connect and --uri" 2 '' -- \
  "$vat" client --connect tcp:127.0.0.1:1 --uri "capnp://insecure@127.0.0.1:1" --scenario echo
expect "usage: --client-certificate without TLS" 2 '' -- \
  "$vat" client --uri "capnp://insecure@127.0.0.1:1" --scenario echo --client-certificate none
expect "usage: --client-certificate required without --tls-key" 2 '' -- \
  "$vat" serve --listen tcp:127.0.0.1:0 --client-certificate required
expect "usage: empty --service" 2 '' -- "$vat" serve --listen tcp:127.0.0.1:0 --service ''
echo "not a key" > "$tmp/garbage.pem"
expect "serve: a key file that is not a key" 4 '' -- \
  "$vat" serve --listen tcp:127.0.0.1:0 --tls-key "$tmp/garbage.pem" < /dev/null

exec 3>&- 5>&- 7>&-
for pid in "${servers[@]}"; do
  wait "$pid"; rc=$?
  [[ $rc == 0 ]] || { echo "FAIL a server exited $rc after stdin EOF"; failures=$((failures + 1)); }
done
servers=()

[[ $failures == 0 ]] && echo "all TLS checks passed" && exit 0
echo "$failures TLS check(s) failed"; exit 1
