namespace Capnp.Native.Tests;

public sealed class AllocatorTuningTests
{
    private const long TwoMegabytes = 2L * 1024 * 1024;
    private const long TwelveMegabytes = 12L * 1024 * 1024;

    [Fact]
    public void InitializationServesMessageSizedBlocksFromTheHeap()
    {
        NativeRuntime.EnsureInitialized();

        Assert.False(TestHooks.AllocationIsMapped(TwoMegabytes));
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

            NativeRuntime.RetainFreedMemory(NativeRuntime.DefaultLargestHeapBlock, NativeRuntime.DefaultRetainedBytes);
            Assert.False(TestHooks.AllocationIsMapped(TwelveMegabytes));
        }
        finally
        {
            NativeRuntime.RetainFreedMemory(NativeRuntime.DefaultLargestHeapBlock, NativeRuntime.DefaultRetainedBytes);
        }
    }

    [Fact]
    public void SettingsTheAllocatorRefusesAreTypedErrors()
    {
        Assert.Throws<ArgumentException>(() => NativeRuntime.RetainFreedMemory(64L * 1024 * 1024, NativeRuntime.DefaultRetainedBytes));
        Assert.Throws<ArgumentOutOfRangeException>(() => NativeRuntime.RetainFreedMemory(-1, 0));
        Assert.False(TestHooks.AllocationIsMapped(TwoMegabytes));
    }
}
