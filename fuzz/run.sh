#!/usr/bin/env bash
# Builds the fuzz targets and runs each for a bounded time (see fuzz/README.md).
#
#   fuzz/run.sh [SECONDS] [TARGET...]    SECONDS per target (default 60); TARGETs: transport_fuzz,
#                                        rpc_fuzz, tls_fuzz, managed (default: all)
#
# Each native target first runs every committed seed once, then fuzzes for SECONDS from the
# seeds (new inputs go to build/fuzz/work/<target>, failing ones to build/fuzz/artifacts/).
# "managed" runs the C# reader's mutation harness for about as long (CAPNP_FUZZ_ROUNDS).
# Exits non-zero if any target found a crash, a leak, a hang or a failed check.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(transport_fuzz rpc_fuzz tls_fuzz managed)
case "$seconds" in ''|*[!0-9]*) echo "usage: fuzz/run.sh [SECONDS] [TARGET...]" >&2; exit 2 ;; esac

native=()
managed=0
for target in "${targets[@]}"; do
  case "$target" in
    transport_fuzz|rpc_fuzz|tls_fuzz) native+=("$target") ;;
    managed) managed=1 ;;
    *) echo "unknown target $target (transport_fuzz, rpc_fuzz, tls_fuzz, managed)" >&2; exit 2 ;;
  esac
done

failed=0
if [ ${#native[@]} -gt 0 ]; then
  if ! command -v clang++-14 >/dev/null || ! ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
    echo "libFuzzer needs clang 14 and its runtime: apt-get install clang-14 libclang-rt-14-dev" >&2
    exit 1
  fi
  CC=clang-14 CXX=clang++-14 cmake -S fuzz/native -B build/fuzz -DFUZZ_SECONDS="$seconds" >/dev/null
  cmake --build build/fuzz --parallel --target "${native[@]}"
  filter=$(IFS='|'; echo "^(${native[*]})/")
  ctest --test-dir build/fuzz --output-on-failure -R "$filter" --timeout $((seconds + 120)) || failed=1
fi

if [ "$managed" -eq 1 ]; then
  # The harness reads about 15,000 mutants a second per seed message (3 of them, in parallel).
  CAPNP_FUZZ_ROUNDS=$((seconds * 15000 + 1)) dotnet test tests/Capnp.Native.Serialization.Tests \
    -nologo --filter "FullyQualifiedName~ReaderFuzzTests" || failed=1
fi
exit $failed
