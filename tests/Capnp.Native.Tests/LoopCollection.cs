namespace Capnp.Native.Tests;

/// <summary>
/// Tests that compare process-wide native counters run one at a time, so no other test's loops
/// are counted.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class NativeCountersCollection
{
    public const string Name = "native counters";
}
