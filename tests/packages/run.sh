#!/usr/bin/env bash
# Package test: a new console project in a temporary folder outside the repository consumes the
# packed .nupkg files (artifacts/packages, or $1) through a NuGet.config of its own (that folder
# for Capnp.Native*, nuget.org for everything else) and an empty package cache, compiles an echo
# schema with <CapnpSchema>, runs an echo server and client vat over loopback TLS joined by a
# sturdy ref, and checks that every libcapnp*/libkj* it loaded came from the package cache; then
# publishes the same consumer with PublishAot, with no trim or AOT warning, and runs it.
# Prints "packages: N passed, N failed" and exits non-zero when a check fails.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
packages=$(cd "${1:-$repo/artifacts/packages}" && pwd) || { echo "package test: no package folder" >&2; exit 1; }
passed=0 failed=0
pass() { passed=$((passed + 1)); echo "  ok: $*"; }
fail() { failed=$((failed + 1)); echo "  FAILED: $*" >&2; }
finish() { echo "packages: $passed passed, $failed failed"; [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]; exit $?; }

shopt -s nullglob
runtime_packages=("$packages"/Capnp.Native.[0-9]*.nupkg)
if [ ${#runtime_packages[@]} -ne 1 ]; then
  fail "expected one Capnp.Native.<version>.nupkg in $packages, found ${#runtime_packages[@]}"
  finish
fi
version=$(basename "${runtime_packages[0]}" .nupkg); version=${version#Capnp.Native.}
for id in Capnp.Native.CodeGen Capnp.Native.Serialization Capnp.Native.CommandLine Capnp.Native.Hosting; do
  [ -f "$packages/$id.$version.nupkg" ] && pass "$id.$version.nupkg exists" || fail "$id.$version.nupkg is missing"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/capnp-package-test.XXXXXX")
case "$work/" in "$repo"/*) fail "the temporary folder $work is inside the repository"; finish ;; esac
trap 'rm -rf "$work"' EXIT
export NUGET_PACKAGES="$work/nuget-packages" DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
unset CAPNP_NATIVE_LIBRARY_PATH
app="$work/Consumer"
mkdir -p "$app" "$NUGET_PACKAGES"
cat >"$app/NuGet.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <clear />
    <add key="capnp-native" value="$packages" />
    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" />
  </packageSources>
  <packageSourceMapping>
    <packageSource key="capnp-native"><package pattern="Capnp.Native" /><package pattern="Capnp.Native.*" /></packageSource>
    <packageSource key="nuget.org"><package pattern="*" /></packageSource>
  </packageSourceMapping>
</configuration>
XML

log="$work/log"
step() { # step DESCRIPTION COMMAND...: runs in the consumer folder, output to the log
  local what=$1; shift
  if (cd "$app" && "$@") >"$log" 2>&1; then pass "$what"; else fail "$what"; cat "$log" >&2; finish; fi
}
step "dotnet new console" dotnet new console --framework net10.0 --name Consumer --output . --force
rm -f "$app/Program.cs"
cp "$repo"/tests/packages/consumer/*.cs "$repo"/tests/packages/consumer/*.capnp "$app/"
step "dotnet add package Capnp.Native $version" dotnet add package Capnp.Native --version "$version"
step "dotnet add package Capnp.Native.CodeGen $version" dotnet add package Capnp.Native.CodeGen --version "$version"
# <CapnpSchema> and, so that the host loads the packages' files from the package cache instead of
# copies in bin/, no copy-local assemblies and a runtimeconfig.dev.json naming the cache.
sed -i 's|</Project>|  <PropertyGroup>\n    <CopyLocalLockFileAssemblies>false</CopyLocalLockFileAssemblies>\n    <GenerateRuntimeConfigDevFile>true</GenerateRuntimeConfigDevFile>\n  </PropertyGroup>\n  <ItemGroup>\n    <CapnpSchema Include="*.capnp" />\n  </ItemGroup>\n</Project>|' "$app/Consumer.csproj"
grep -q '<PackageReference Include="Capnp.Native.CodeGen"' "$app/Consumer.csproj" && grep -A3 'Include="Capnp.Native.CodeGen"' "$app/Consumer.csproj" | grep -q '<PrivateAssets>all</PrivateAssets>' \
  && pass "Capnp.Native.CodeGen was added as a build-time (PrivateAssets=all) reference" \
  || fail "Capnp.Native.CodeGen was not added with PrivateAssets=all: $(cat "$app/Consumer.csproj")"

# The packages in the cache are ours (not a same-named package from another source).
for id in capnp.native capnp.native.codegen capnp.native.serialization; do
  file=$(ls "$packages" | grep -ix "$id.$version.nupkg")
  ours=$(openssl dgst -sha512 -binary "$packages/$file" | base64 -w0)
  cached=$(cat "$NUGET_PACKAGES/$id/$version/$id.$version.nupkg.sha512" 2>/dev/null)
  [ "$ours" = "$cached" ] && pass "$id $version in the cache is the packed file" || fail "$id $version in the cache is not $packages/$file"
done

step "dotnet build (capnp + capnpc-csharp from the CodeGen package)" dotnet build -c Release
[ -f "$app/obj/Release/net10.0/capnp/echo.capnp.cs" ] && pass "echo.capnp was compiled into C#" || fail "no generated obj/Release/net10.0/capnp/echo.capnp.cs"
# A consumer's build shows no warning from our generated code (nullable context on, as in
# `dotnet new console`): every warning there would be every user's.
if grep -E 'echo\.capnp\.cs\([0-9]+,[0-9]+\): warning' "$log" >/dev/null; then
  fail "the generated code compiled with warnings:"; grep -E 'echo\.capnp\.cs\([0-9]+,[0-9]+\): warning' "$log" | sort -u >&2
else
  pass "the generated code compiled without warnings"
fi
if ls "$app/bin/Release/net10.0" | grep -qE '^(Capnp\.Native.*\.dll|runtimes)$'; then
  fail "the build copied package files into bin/ (the test is meant to load them from the cache)"
fi

out="$work/out"
if (cd "$app" && timeout 120 dotnet bin/Release/net10.0/Consumer.dll) >"$out" 2>&1; then pass "the consumer ran"; else fail "the consumer failed"; fi
cat "$out" | sed 's/^/    | /'
grep -qE '^sturdy ref: capnp://sha-256:[A-Za-z0-9_-]+@127\.0\.0\.1:[0-9]+(/|$)' "$out" && pass "the server published a TLS sturdy ref (capnp://sha-256:...@127.0.0.1:PORT)" || fail "no TLS sturdy ref in the output"
grep -qx 'reply: echo:hello from a package consumer' "$out" && pass "the client's ping came back through the sturdy ref" || fail "no echo reply in the output"
native_dir="$NUGET_PACKAGES/capnp.native/$version/runtimes/linux-x64/native"
for lib in libcapnp_native.so libcapnp-0.9.2.so libcapnp-rpc-0.9.2.so libkj-0.9.2.so libkj-async-0.9.2.so; do
  grep -qx "native: $native_dir/$lib" "$out" && pass "$lib was loaded from the package cache" || fail "$lib was not loaded from $native_dir"
done
grep '^native: ' "$out" | grep -v "^native: $native_dir/" | while read -r line; do echo "  (loaded from elsewhere: $line)" >&2; done
grep '^native: ' "$out" | grep -qv "^native: $native_dir/" && fail "a libcapnp*/libkj* was loaded from outside the package cache"

# NativeAOT: the same consumer published with PublishAot (trimmed, compiled ahead of time) must
# build without trim or AOT warnings and run, loading the native files published beside it.
# ILCompiler links with clang when installed, else with gcc (Debian's g++, which build.sh installs).
linker=(); command -v clang >/dev/null || linker=(-p:CppCompilerAndLinker=gcc)
aot="$work/aot"
if (cd "$app" && dotnet publish -c Release -r linux-x64 -p:PublishAot=true "${linker[@]}" -o "$aot") >"$log" 2>&1; then
  pass "dotnet publish -p:PublishAot=true"
  warnings=$(grep -E 'warning IL[0-9]+' "$log" | sort -u)
  [ -z "$warnings" ] && pass "no trim or AOT warnings" || fail "trim/AOT warnings:"$'\n'"$warnings"
  if (cd "$work" && timeout 120 "$aot/Consumer") >"$out" 2>&1; then pass "the NativeAOT consumer ran"; else fail "the NativeAOT consumer failed"; fi
  sed 's/^/    | /' "$out"
  grep -qx 'reply: echo:hello from a package consumer' "$out" && pass "NativeAOT: the ping came back through the sturdy ref" || fail "NativeAOT: no echo reply"
  grep -qx "native: $aot/libcapnp_native.so" "$out" && pass "NativeAOT: libcapnp_native.so was loaded from the published folder" || fail "NativeAOT: libcapnp_native.so was not loaded from $aot"
  grep '^native: ' "$out" | grep -qv "^native: $aot/" && fail "NativeAOT: a libcapnp*/libkj* was loaded from outside the published folder"
else
  fail "dotnet publish -p:PublishAot=true"; tail -30 "$log" >&2
fi

finish
