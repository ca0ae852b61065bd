#!/usr/bin/env bash
# Fails (exit 1) when the committed C# interop declarations are stale with respect to the C ABI
# header, and (exit 2) when the header is outside the generator's grammar. CI runs this.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
exec dotnet run --project bindings/generator/Capnp.Native.BindingGen -- \
  check native/include/capnp_native.h bindings/Capnp.Native.Interop/Generated/NativeMethods.g.cs
