# Shared by the interop check scripts (sourced): `expect` runs one command, compares its exit code
# and stdout with what is expected, prints ok/FAIL and counts failures. The script sets `tmp` (a
# scratch folder) and `failures`; EXPECT_TIMEOUT bounds each command (default 30 s).

# expect <name> <exit code> <stdout regex or ''> -- <command...>
expect() {
  local name=$1 code=$2 pattern=$3; shift 4
  timeout -k 5 "${EXPECT_TIMEOUT:-30}" "$@" > "$tmp/out" 2> "$tmp/err"
  local rc=$?
  if [[ $rc != "$code" ]] || { [[ -n $pattern ]] && ! grep -Eq "$pattern" "$tmp/out"; }; then
    echo "FAIL $name: exit $rc (expected $code), stdout:"; cat "$tmp/out"; echo "stderr:"; cat "$tmp/err"
    failures=$((failures + 1))
  else
    echo "ok   $name"
  fi
}
