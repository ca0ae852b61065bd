using Capnp.Native.Rpc;
using Capnp.Native.Rpc.Generated;
using Capnp.Native.Serialization;
using Interop;

namespace Capnp.Native.Tests.Rpc;

public sealed class CapabilityBreakageTests
{
    [Fact]
    public async Task ARemoteCapabilitySaysItIsBrokenWhenItsConnectionIsLost()
    {
        await using var pair = await RpcPair.StartAsync();
        var broken = pair.TestService.WhenBrokenAsync();
        // A round trip after the watch started: a watch that fired wrongly would have completed.
        await pair.TestService.EchoAsync("sync").AsTask().WaitAsync(RpcPair.Bound);
        Assert.False(broken.IsCompleted, "broken while the connection is up");

        await pair.ServerConnection.DisposeAsync();

        var reason = Assert.IsType<RpcDisconnectedException>(await broken.WaitAsync(RpcPair.Bound));
        var callError = await Assert.ThrowsAsync<RpcDisconnectedException>(() => pair.TestService.EchoAsync("late").AsTask().WaitAsync(RpcPair.Bound));
        Assert.Equal(callError.Message, reason.Message);
    }

    [Fact]
    public async Task DisposingOurOwnConnectionBreaksItsCapabilities()
    {
        await using var pair = await RpcPair.StartAsync();
        var broken = pair.TestService.WhenBrokenAsync();
        await pair.TestService.EchoAsync("sync").AsTask().WaitAsync(RpcPair.Bound);

        await pair.ClientConnection.DisposeAsync();

        Assert.IsType<RpcDisconnectedException>(await broken.WaitAsync(RpcPair.Bound));
    }

    [Fact]
    public async Task ACapabilityOfALostConnectionSaysSoAtOnce()
    {
        await using var pair = await RpcPair.StartAsync();
        await pair.ServerConnection.DisposeAsync();
        await pair.ClientConnection.Disconnected.WaitAsync(RpcPair.Bound);

        Assert.IsType<RpcDisconnectedException>(await pair.TestService.WhenBrokenAsync().WaitAsync(RpcPair.Bound));
    }

    [Fact]
    public async Task ACallbackTheServerHoldsBreaksWhenTheClientGoes()
    {
        await using var pair = await RpcPair.StartAsync();
        using (var callback = Callback.Client.Create(new PrefixCallback("held:")))
        {
            await pair.TestService.HoldAsync(callback).AsTask().WaitAsync(RpcPair.Bound);
        }

        var held = Assert.Single(pair.Service.Held());
        var broken = held.WhenBrokenAsync();
        Assert.Equal("held:x", (await held.CallAsync("x").AsTask().WaitAsync(RpcPair.Bound)).Reply);
        Assert.False(broken.IsCompleted, "broken while the client is connected");

        await pair.ClientConnection.DisposeAsync();

        Assert.IsType<RpcDisconnectedException>(await broken.WaitAsync(RpcPair.Bound));
    }

    [Fact]
    public async Task LosingAnotherConnectionLeavesACapabilityWhole()
    {
        await using var pair = await RpcPair.StartAsync();
        var accepting = pair.Listener.AcceptAsync();
        var second = await pair.ClientLoop.ConnectAsync(pair.Listener.Address).WaitAsync(RpcPair.Bound);
        await using (var secondServerSide = await accepting.WaitAsync(RpcPair.Bound))
        {
            using var secondService = second.GetBootstrap<TestService.Client>();
            var secondBroken = secondService.WhenBrokenAsync();
            var broken = pair.TestService.WhenBrokenAsync();
            await secondService.EchoAsync("sync").AsTask().WaitAsync(RpcPair.Bound);

            await second.DisposeAsync();

            Assert.IsType<RpcDisconnectedException>(await secondBroken.WaitAsync(RpcPair.Bound));
            // The loss made every watch look again; the first connection's capability still works.
            Assert.Equal("still", (await pair.TestService.EchoAsync("still").AsTask().WaitAsync(RpcPair.Bound)).Text);
            Assert.False(broken.IsCompleted, "broken by another connection's loss");
        }
    }

    [Fact]
    public async Task APromiseThatFailsBreaksItsCapabilityWithTheSameError()
    {
        await using var loop = EventLoop.Start();
        var target = new TaskCompletionSource<ICallTarget>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var promised = loop.CreateCapability(target.Task);
        var broken = promised.WhenBrokenAsync();
        using var client = Callback.Client.Create(promised.Duplicate());

        target.SetException(new RpcOverloadedException("no capacity today"));

        var reason = Assert.IsType<RpcOverloadedException>(await broken.WaitAsync(RpcPair.Bound));
        Assert.Equal("no capacity today", reason.Message);
        var callError = await Assert.ThrowsAsync<RpcOverloadedException>(() => client.CallAsync("x").AsTask().WaitAsync(RpcPair.Bound));
        Assert.Equal(reason.Message, callError.Message);
    }

    [Fact]
    public async Task AnInProcessServerNeverBreaksAndItsWatchEndsByCancellation()
    {
        await using var loop = EventLoop.Start();
        using var exported = loop.CreateCapability(new PrefixCallback("local:"));
        using var direct = Callback.Client.Create(new PrefixCallback("direct:"));
        using var cancellation = new CancellationTokenSource();
        var exportedWatch = exported.WhenBrokenAsync(cancellation.Token);
        var directWatch = direct.WhenBrokenAsync(cancellation.Token);
        using var client = Callback.Client.Create(exported.Duplicate());
        Assert.Equal("local:x", (await client.CallAsync("x").AsTask().WaitAsync(RpcPair.Bound)).Reply);
        Assert.False(exportedWatch.IsCompleted);
        Assert.False(directWatch.IsCompleted);

        cancellation.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => exportedWatch.WaitAsync(RpcPair.Bound));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => directWatch.WaitAsync(RpcPair.Bound));
    }

    [Fact]
    public async Task DisposingTheReferenceEndsItsWatch()
    {
        await using var pair = await RpcPair.StartAsync();
        var service = pair.ClientConnection.GetBootstrap<TestService.Client>();
        var broken = service.WhenBrokenAsync();

        service.Dispose();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => broken.WaitAsync(RpcPair.Bound));
        Assert.Throws<ObjectDisposedException>(() => { _ = service.WhenBrokenAsync(); });
    }

    [Fact]
    public async Task ALocallyPipelinedCapabilityIsBrokenByItsCallsFailure()
    {
        var failed = new PromisedAnswer(Task.FromException<MessageReader>(new RpcOverloadedException("busy")));
        var target = Assert.IsAssignableFrom<IBreakableTarget>(failed.GetPipelinedCapability(new ushort[] { 0 }));

        var reason = Assert.IsType<RpcOverloadedException>(await target.WhenBrokenAsync().WaitAsync(RpcPair.Bound));
        Assert.Equal("busy", reason.Message);
    }

    [Fact]
    public async Task ALocallyPipelinedCapabilityFollowsWhatTheResultsHold()
    {
        using var results = new MessageBuilder();
        var root = results.InitRoot(0, 2);
        results.CapTable.Add(new PrefixCallback("local:"));
        root.WriteCapabilityIndex(0, 0);
        var answer = new PromisedAnswer(Task.FromResult(results.AsReader()));
        using var cancellation = new CancellationTokenSource();

        var local = ((IBreakableTarget)answer.GetPipelinedCapability(new ushort[] { 0 })).WhenBrokenAsync(cancellation.Token);
        var missing = ((IBreakableTarget)answer.GetPipelinedCapability(new ushort[] { 1 })).WhenBrokenAsync();

        Assert.IsType<RpcFailedException>(await missing.WaitAsync(RpcPair.Bound));
        Assert.False(local.IsCompleted, "an in-process object broke");
        cancellation.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => local.WaitAsync(RpcPair.Bound));
    }

    [Fact]
    public async Task APipelinedCapabilityBreaksWithTheConnection()
    {
        await using var pair = await RpcPair.StartAsync();
        using var counter = pair.TestService.GetCounterAsync().GetCounter();
        var broken = counter.WhenBrokenAsync();
        Assert.Equal(1u, (await counter.IncrementAsync().AsTask().WaitAsync(RpcPair.Bound)).Value);
        Assert.False(broken.IsCompleted);

        await pair.ServerConnection.DisposeAsync();

        Assert.IsType<RpcDisconnectedException>(await broken.WaitAsync(RpcPair.Bound));
    }
}
