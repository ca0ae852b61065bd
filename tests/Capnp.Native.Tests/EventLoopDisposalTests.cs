namespace Capnp.Native.Tests;

public sealed class EventLoopDisposalTests
{
    // A bound on waiting, not a synchronisation: a correct loop completes far sooner.
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task DisposingFailsPendingWorkWithObjectDisposedInsteadOfHanging()
    {
        var before = NativeCounters.Read();
        var loop = EventLoop.Start();
        var held = Enumerable.Range(0, 10).Select(_ => TestHooks.HoldAsync(loop)).ToList();
        // An echo after the holds proves they reached the loop before disposal.
        await loop.EchoAsync(new byte[] { 1 });
        Assert.Equal(before.live_pending_operations + 10, NativeCounters.Read().live_pending_operations);

        await loop.DisposeAsync().AsTask().WaitAsync(Bound);

        foreach (var operation in held)
        {
            var error = await Assert.ThrowsAsync<ObjectDisposedException>(() => operation.WaitAsync(Bound));
            Assert.Contains("disposed before the operation completed", error.Message);
        }

        Assert.Equal(before.live_pending_operations, NativeCounters.Read().live_pending_operations);
        Assert.Equal(0, loop.LiveCallbackTargets);
    }

    [Fact]
    public async Task QueuedCommandsFailOrCompleteButNeverHangWhenTheLoopIsDisposed()
    {
        var loop = EventLoop.Start();
        var echoes = Enumerable.Range(0, 1000).Select(i => loop.EchoAsync(new[] { (byte)i })).ToList();

        await loop.DisposeAsync();

        foreach (var echo in echoes)
        {
            try
            {
                Assert.Single(await echo.WaitAsync(Bound));
            }
            catch (ObjectDisposedException)
            {
                // Commands still queued at disposal fail; the rest completed normally.
            }
        }

        Assert.Equal(0, loop.LiveCallbackTargets);
    }

    [Fact]
    public async Task UsingALoopAfterDisposeThrowsObjectDisposed()
    {
        var loop = EventLoop.Start();
        await loop.DisposeAsync();
        await loop.DisposeAsync(); // idempotent
        loop.Dispose();

        Assert.True(loop.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => { _ = loop.EchoAsync(new byte[] { 1 }); });
        Assert.Throws<ObjectDisposedException>(() => { _ = TestHooks.HoldAsync(loop); });
    }
}
