#!/bin/sh
# Builds the C++ baseline (needs capnp, capnpc-c++, g++ and libcapnp-dev). Output: ./serialization-baseline
set -e
cd "$(dirname "$0")"
capnp compile -oc++ bench.capnp
g++ -O2 -std=c++17 -o serialization-baseline baseline.c++ bench.capnp.c++ $(pkg-config --cflags --libs capnp 2>/dev/null || echo -lcapnp -lkj)
