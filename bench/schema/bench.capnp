@0x9879333dd8438de8;
# Benchmark interface shared by the C++ baseline (bench/cpp) and the .NET benchmarks.

interface Bench {
  ping @0 () -> ();
  # Empty round trip: measures per-call overhead.

  echo @1 (data :Data) -> (data :Data);
  # Returns its argument: measures bulk transfer in both directions.
}
