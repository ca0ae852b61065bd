#!/bin/sh
# Regenerates Bootstrap/schema.capnp.cs (the readers capnpc-csharp itself uses to read the
# CodeGeneratorRequest) by running the plugin on the installed schema.capnp.
# Usage: ./regenerate-bootstrap.sh [Configuration]   (run twice after changing the generator:
# the first run builds with the old bootstrap, the second confirms the fixpoint)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
config=${1:-Debug}
schema_dir=${CAPNP_INCLUDE_DIR:-/usr/include}
dotnet build "$here/Capnp.Native.CodeGen.csproj" -c "$config" -nologo -v:q
plugin="$here/bin/$config/net10.0/capnpc-csharp"
# --src-prefix makes capnp name the file schema.capnp, so the plugin (which mirrors that name) writes Bootstrap/schema.capnp.cs.
capnp compile --src-prefix="$schema_dir/capnp" -I"$schema_dir" -o"$plugin:$here/Bootstrap" "$schema_dir/capnp/schema.capnp"
echo "wrote $here/Bootstrap/schema.capnp.cs"
