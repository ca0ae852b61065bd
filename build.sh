#!/usr/bin/env bash
# One entry point for every set-up, build and test step on Debian/Ubuntu.
#
#   ./build.sh demo     install what is missing, build everything, run the demo
#   ./build.sh test     install what is missing, build everything, run every test (and the package test)
#   ./build.sh pack     build, then pack every package into artifacts/packages
#   ./build.sh setup    only install the missing Debian packages
#   ./build.sh build    setup + build the native library and the whole solution
#
# Missing Debian packages are installed with apt-get when running as root or with password-less
# sudo; otherwise the exact command to run is printed.
set -euo pipefail
cd "$(dirname "$0")"

readonly APT_PACKAGES=(cmake g++ make pkg-config capnproto libcapnp-dev libssl-dev openssl patchelf libgtest-dev
                        postgresql clang-14 libclang-rt-14-dev)
readonly CONFIGURATION=${CONFIGURATION:-Release}
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

log() { printf '==> %s\n' "$*" >&2; }

setup() {
  local missing=() package
  for package in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    local install="apt-get install -y --no-install-recommends ${missing[*]}"
    if [ "$(id -u)" -eq 0 ]; then
      log "installing ${missing[*]}"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive $install >/dev/null
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
      log "installing ${missing[*]} with sudo"
      sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive $install >/dev/null
    else
      echo "Missing Debian packages. Run this, then try again:" >&2
      echo "  sudo apt-get update && sudo $install" >&2
      exit 1
    fi
  fi
  if ! command -v dotnet >/dev/null; then
    echo "The .NET 10 SDK (dotnet) is not on PATH. Install it (https://learn.microsoft.com/dotnet/core/install/linux-debian), then try again." >&2
    exit 1
  fi
}

build() {
  setup
  log "building (native library through CMake, then the solution; configuration $CONFIGURATION)"
  dotnet build CapnpNative.sln -c "$CONFIGURATION" -nologo -clp:ErrorsOnly
}

# The C++ test programs: the interop peer vat (also used by the managed interop tests) and the
# transport's unit tests, each a standalone CMake project.
build_cpp_tests() {
  log "building the C++ interop peer vat and the transport tests"
  cmake -S tests/interop -B build/interop -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build/interop --parallel
  cmake -S bench/cpp -B build/bench-cpp -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build/bench-cpp --parallel
}

# The native tests (serve_test, tls_test) and the transport tests again under AddressSanitizer,
# LeakSanitizer and UBSan, in build folders of their own (the sanitized shim stays out of
# artifacts/native); and the fuzz targets, each run over its seeds and then for FUZZ_SECONDS.
readonly SANITIZERS=address,undefined
readonly FUZZ_SECONDS=${FUZZ_SECONDS:-10}
build_checked_tests() {
  log "building the native and transport tests with -fsanitize=$SANITIZERS"
  cmake -S native -B build/native-asan -DCAPNP_NATIVE_SANITIZE=$SANITIZERS \
    -DCAPNP_NATIVE_OUTPUT_DIR="$PWD/build/native-asan/out" >/dev/null
  cmake --build build/native-asan --parallel
  cmake -S bench/cpp -B build/bench-cpp-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCAPNP_NATIVE_SANITIZE=$SANITIZERS >/dev/null
  cmake --build build/bench-cpp-asan --parallel --target transport_test
  log "building the fuzz targets (clang, libFuzzer; $FUZZ_SECONDS s of fuzzing each in the tests)"
  CC=clang-14 CXX=clang++-14 cmake -S fuzz/native -B build/fuzz -DFUZZ_SECONDS="$FUZZ_SECONDS" >/dev/null
  cmake --build build/fuzz --parallel --target transport_fuzz rpc_fuzz tls_fuzz
}

# Adds one ctest summary ("100% tests passed, 0 tests failed out of 37") to the totals.
count_ctest() {
  local summary
  summary=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$1" | tail -n 1)
  [ -n "$summary" ] || return 0
  local failed_count total
  failed_count=$(sed -E 's/.* ([0-9]+) tests? failed out of.*/\1/' <<<"$summary")
  total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$summary")
  passed_total=$((passed_total + total - failed_count))
  failed_total=$((failed_total + failed_count))
}

run_tests() {
  build
  build_cpp_tests
  build_checked_tests
  local failed=0 passed_total=0 failed_total=0 skipped_total=0 output line suite
  log "checking that the generated bindings match native/include/capnp_native.h"
  bindings/generator/check.sh || failed=1

  output=$(mktemp)
  for suite in build/native build/interop build/bench-cpp build/native-asan build/bench-cpp-asan build/fuzz; do
    log "C++ tests: ctest --test-dir $suite"
    ctest --test-dir "$suite" --output-on-failure --timeout 120 2>&1 | tee "$output" || failed=1
    count_ctest "$output"
  done

  # Leak mode: a test after which a finalizer released a native reference fails.
  log "managed tests (dotnet test; CAPNP_NATIVE_FAIL_ON_LEAK=1)"
  CAPNP_NATIVE_FAIL_ON_LEAK=1 dotnet test CapnpNative.sln -c "$CONFIGURATION" --no-build -nologo --blame-hang-timeout 5m 2>&1 | tee "$output" || failed=1
  # Sum the per-assembly summaries ("Passed!  - Failed: 0, Passed: 12, Skipped: 0, ...").
  while IFS= read -r line; do
    passed_total=$((passed_total + $(sed -E 's/.*Passed: *([0-9]+).*/\1/' <<<"$line")))
    failed_total=$((failed_total + $(sed -E 's/.*Failed: *([0-9]+),.*/\1/' <<<"$line")))
    skipped_total=$((skipped_total + $(sed -E 's/.*Skipped: *([0-9]+).*/\1/' <<<"$line")))
  done < <(grep -E '(Passed|Failed)! +- +Failed: ' "$output")

  # The packages, from the build above (no CMake: the native folder is given), consumed by a new
  # project outside the repository (tests/packages/run.sh, about a minute).
  log "packages: dotnet pack, then a consumer project outside the repository"
  rm -rf artifacts/packages
  if dotnet pack CapnpNative.sln -c "$CONFIGURATION" --no-build -nologo -clp:ErrorsOnly -o artifacts/packages \
      -p:CapnpNativeAssetsDir="$PWD/artifacts/native/"; then
    tests/packages/run.sh artifacts/packages 2>&1 | tee "$output" || failed=1
    line=$(grep -E '^packages: [0-9]+ passed, [0-9]+ failed$' "$output" | tail -n 1 || true)
    if [ -n "$line" ]; then
      passed_total=$((passed_total + $(sed -E 's/^packages: ([0-9]+) passed.*/\1/' <<<"$line")))
      failed_total=$((failed_total + $(sed -E 's/.* ([0-9]+) failed$/\1/' <<<"$line")))
    else
      failed_total=$((failed_total + 1))
    fi
  else
    echo "dotnet pack failed" >&2
    failed=1
    failed_total=$((failed_total + 1))
  fi
  rm -f "$output"
  if [ "$passed_total" -eq 0 ]; then
    echo "no managed test ran" >&2
    failed=1
  fi

  # The long run's short version (bench/soak without --quick is the full one): counts as one test.
  log "soak run (bench/soak --quick)"
  if dotnet "bench/Capnp.Native.Soak/bin/$CONFIGURATION/net10.0/capnp-native-soak.dll" --quick; then
    passed_total=$((passed_total + 1))
  else
    failed_total=$((failed_total + 1))
    failed=1
  fi
  # The large-message attack's short measurement (bench/bystander without --quick is the full
  # one): the bystander's worst latency, ours beside the C++ server's. Counts as one test when
  # both servers were measured.
  log "bystander latency under attack (bench/bystander --quick)"
  if bench/bystander --quick; then
    passed_total=$((passed_total + 1))
  else
    failed_total=$((failed_total + 1))
    failed=1
  fi
  # Several loops per vat, short (bench/loops without --quick is the full one): 8 connections
  # against a vat with 1 and with N loops, and a bystander beside one 60 MiB sender.
  log "several event loops per vat (bench/loops --quick)"
  if bench/loops --quick --no-build; then
    passed_total=$((passed_total + 1))
  else
    failed_total=$((failed_total + 1))
    failed=1
  fi
  echo "tests: $passed_total passed, $failed_total failed, $skipped_total skipped"
  return $failed
}

pack() {
  build
  rm -rf artifacts/packages
  dotnet pack CapnpNative.sln -c "$CONFIGURATION" --no-build -nologo -clp:ErrorsOnly -o artifacts/packages
  ls -1 artifacts/packages
}

demo() {
  build
  dotnet run --project examples/Demo -c "$CONFIGURATION" --no-build
}

case "${1:-}" in
  setup) setup ;;
  build) build ;;
  test) run_tests ;;
  demo) demo ;;
  pack) pack ;;
  *) echo "usage: $0 demo|test|setup|build|pack" >&2; exit 2 ;;
esac
