namespace Capnp.Native.Tests;

public sealed class EventLoopLifecycleTests
{
    [Fact]
    public async Task StartingAndDisposingTwoHundredLoopsLeaksNoThreadAndNoNativeObject()
    {
        // A loop's memory lives until its last native object is released; objects of earlier tests
        // may be waiting for their finalizers. Settle them first, so only this test is counted.
        Settle();
        var before = NativeCounters.Read();

        for (var i = 0; i < 200; i++)
        {
            var loop = EventLoop.Start();
            var loopThread = NativeCounters.LoopThreadId(loop);
            Assert.True(Directory.Exists($"/proc/self/task/{loopThread}"), "the loop thread should be running");
            Assert.Equal(new byte[] { (byte)i }, await loop.EchoAsync(new[] { (byte)i }));

            Assert.Equal(before.live_loop_threads + 1, NativeCounters.Read().live_loop_threads);

            await loop.DisposeAsync();

            // Disposal joins the thread: its body has returned once DisposeAsync does. (Whether the
            // kernel has already removed it from /proc at that instant is not deterministic.)
            Assert.Equal(before.live_loop_threads, NativeCounters.Read().live_loop_threads);
            Assert.Equal(0, loop.LiveCallbackTargets);
        }

        Settle();
        var after = NativeCounters.Read();
        Assert.Equal(before.live_loops, after.live_loops);
        Assert.Equal(before.live_loop_threads, after.live_loop_threads);
        Assert.Equal(before.live_pending_operations, after.live_pending_operations);
    }

    private static void Settle()
    {
        for (var round = 0; round < 2; round++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
    }

    [Fact]
    public async Task ContinuationsNeverRunOnTheLoopThread()
    {
        await using var loop = EventLoop.Start();
        var loopThread = NativeCounters.LoopThreadId(loop);

        for (var i = 0; i < 50; i++)
        {
            await loop.EchoAsync(new byte[] { 1, 2, 3 });
            Assert.NotEqual(loopThread, NativeCounters.CurrentThreadId());
        }
    }

    [Fact]
    public async Task EchoReturnsACopyOfLargeAndEmptyBuffers()
    {
        await using var loop = EventLoop.Start();
        var large = new byte[1 << 20];
        new Random(7).NextBytes(large);

        Assert.Equal(large, await loop.EchoAsync(large));
        Assert.Empty(await loop.EchoAsync(ReadOnlyMemory<byte>.Empty));
    }
}
