namespace Capnp.Native.Tests;

// One class, so its tests never run in parallel with each other: each sets the process-wide
// allocator settings. The library itself never changes them (nothing else here calls these).
public sealed class AllocatorTuningTests
{
    private const long TwoMegabytes = 2L * 1024 * 1024;
    private const long TwelveMegabytes = 12L * 1024 * 1024;

    [Fact]
    public void TuningForThroughputServesMessageSizedBlocksFromTheHeap()
    {
        Assert.True(NativeRuntime.TuneAllocatorForThroughput());

        Assert.False(TestHooks.AllocationIsMapped(TwoMegabytes));
        Assert.False(TestHooks.AllocationIsMapped(TwelveMegabytes));
    }

    [Fact]
    public void RetainFreedMemoryDecidesWhichBlocksAreMapped()
    {
        try
        {
            // Freed memory the heap kept may serve a block of any size: keeping almost none, the
            // first allocation's free trims the heap and the second one needs a mapping.
            NativeRuntime.RetainFreedMemory(256 * 1024, 128 * 1024);
            _ = TestHooks.AllocationIsMapped(TwelveMegabytes);
            Assert.True(TestHooks.AllocationIsMapped(TwelveMegabytes));

            NativeRuntime.RetainFreedMemory(NativeRuntime.ThroughputLargestHeapBlock, NativeRuntime.ThroughputRetainedBytes);
            Assert.False(TestHooks.AllocationIsMapped(TwelveMegabytes));
        }
        finally
        {
            NativeRuntime.TuneAllocatorForThroughput();
        }
    }

    [Fact]
    public void SettingsTheAllocatorRefusesAreTypedErrors()
    {
        NativeRuntime.TuneAllocatorForThroughput();

        Assert.Throws<ArgumentException>(() => NativeRuntime.RetainFreedMemory(64L * 1024 * 1024, NativeRuntime.ThroughputRetainedBytes));
        Assert.Throws<ArgumentOutOfRangeException>(() => NativeRuntime.RetainFreedMemory(-1, 0));
        Assert.False(TestHooks.AllocationIsMapped(TwoMegabytes));
    }
}
