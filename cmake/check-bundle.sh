#!/usr/bin/env bash
# Fails unless every libcapnp*/libkj* that the libraries in $1 need resolves inside $1.
set -euo pipefail
dir=$(cd "$1" && pwd)
status=0
for lib in "$dir"/*.so*; do
  while read -r name _ path _; do
    case "$name" in
      libcapnp*|libkj*)
        if [ "$(dirname "$path")" != "$dir" ]; then
          echo "$(basename "$lib"): $name resolves to $path, outside $dir" >&2
          status=1
        fi;;
    esac
  done < <(ldd "$lib" | grep '=>')
done
[ $status -eq 0 ] && echo "bundle ok: every libcapnp*/libkj* in $dir resolves inside it"
exit $status
