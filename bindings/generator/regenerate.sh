#!/usr/bin/env bash
# Regenerates the C# interop declarations from the C ABI header. Commit the result.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
exec dotnet run --project bindings/generator/Capnp.Native.BindingGen -- \
  generate native/include/capnp_native.h bindings/Capnp.Native.Interop/Generated/NativeMethods.g.cs
