using Capnp.Native.Rpc;
using Interop;

namespace Capnp.Native.Tests.Rpc;

/// <summary>A loop whose native thread fails fails all its work and tells its owner, instead of dying silently.</summary>
public sealed class LoopFailureTests
{
    [Fact]
    public async Task AFailedLoopThreadFailsPendingAndLaterWorkAndFaultsItsCompletion()
    {
        await using var loop = EventLoop.Start();
        var held = TestHooks.HoldAsync(loop);
        await loop.EchoAsync(new byte[] { 1 }).WaitAsync(RpcPair.Bound);
        Assert.False(loop.Completion.IsCompleted);

        var dying = TestHooks.FailLoopThreadAsync(loop);

        var failure = await Assert.ThrowsAsync<EventLoopFailedException>(() => loop.Completion.WaitAsync(RpcPair.Bound));
        Assert.Contains("an exception escaped an event of the loop", failure.Message);
        await Assert.ThrowsAsync<EventLoopFailedException>(() => held.WaitAsync(RpcPair.Bound));
        await Assert.ThrowsAsync<EventLoopFailedException>(() => dying.WaitAsync(RpcPair.Bound));
        var refused = Assert.Throws<EventLoopFailedException>(() => { _ = loop.EchoAsync(new byte[] { 2 }); });
        Assert.Contains("an exception escaped an event of the loop", refused.Message);
        Assert.Equal(0, loop.LiveCallbackTargets);
    }

    [Fact]
    public async Task WhenTheServerLoopFailsItsConnectionsCloseAndTheClientSeesThemGo()
    {
        var pair = await RpcPair.StartAsync();
        try
        {
            var waiting = pair.TestService.WaitForeverAsync();
            Assert.Equal("before", (await pair.TestService.EchoAsync("before").AsTask().WaitAsync(RpcPair.Bound)).Text);

            _ = TestHooks.FailLoopThreadAsync(pair.ServerLoop);

            await Assert.ThrowsAsync<EventLoopFailedException>(() => pair.ServerLoop.Completion.WaitAsync(RpcPair.Bound));
            await Assert.ThrowsAsync<RpcDisconnectedException>(() => waiting.AsTask().WaitAsync(RpcPair.Bound));
            await pair.ClientConnection.Disconnected.WaitAsync(RpcPair.Bound);
            await Assert.ThrowsAsync<RpcDisconnectedException>(() => pair.TestService.EchoAsync("after").AsTask().WaitAsync(RpcPair.Bound));
            Assert.False(pair.ClientLoop.Completion.IsCompleted);
        }
        finally
        {
            await pair.DisposeAsync();
        }

        await pair.ClientLoop.Completion.WaitAsync(RpcPair.Bound);
    }
}
