using System.Net.Sockets;
using Capnp.Native.Rpc;
using Interop;

namespace Capnp.Native.Tests.Rpc;

public sealed class CapabilityTests
{
    [Fact]
    public async Task ACSharpObjectSentToARemoteVatAndReturnedComesBackAsTheOriginalObject()
    {
        await using var pair = await RpcPair.StartAsync();
        var original = new PrefixCallback("mine:");
        using var client = Callback.Client.Create(pair.ClientLoop.CreateCapability(original));

        var echoed = await pair.TestService.EchoCapAsync(client).AsTask().WaitAsync(RpcPair.Bound);
        using var returned = echoed.GetCap()!;

        var local = Assert.IsType<LocalServerReference>(returned.Target);
        Assert.Same(original, local.Server);
        Assert.Equal("mine:x", (await returned.CallAsync("x").AsTask().WaitAsync(RpcPair.Bound)).Reply);
    }

    [Fact]
    public async Task CapabilitiesTravelInParamsAndResultsBothWaysIncludingLists()
    {
        await using var pair = await RpcPair.StartAsync();
        var callbacks = Enumerable.Range(0, 3).Select(i => new PrefixCallback($"cb{i}:")).ToArray();

        // Params: a list of three capabilities; results: the same three.
        var results = await pair.TestService.EchoCapsAsync(build =>
        {
            var list = build.InitCaps(callbacks.Length);
            var table = build.Raw.MessageBuilder.CapTable;
            for (var i = 0; i < callbacks.Length; i++)
            {
                table.Add(pair.ClientLoop.CreateCapability(callbacks[i]));
                list[i] = (uint)(table.Count - 1);
            }
        }).AsTask().WaitAsync(RpcPair.Bound);

        var returnedTable = results.Raw.MessageReader!.CapTable!;
        Assert.Equal(3, results.Caps.Count);
        for (var i = 0; i < 3; i++)
        {
            var local = Assert.IsType<LocalServerReference>(returnedTable[(int)results.Caps[i]]);
            Assert.Same(callbacks[i], local.Server);
        }

        // A capability the server creates, returned in results and called by the client.
        using var counter = (await pair.TestService.GetCounterAsync().AsTask().WaitAsync(RpcPair.Bound)).GetCounter()!;
        Assert.Equal(1u, (await counter.IncrementAsync().AsTask().WaitAsync(RpcPair.Bound)).Value);
        Assert.Equal(2u, (await counter.IncrementAsync().AsTask().WaitAsync(RpcPair.Bound)).Value);
    }

    [Fact]
    public async Task PipelinedCallsOnAResultCapabilityRunBeforeTheFirstCallCompletesInOrder()
    {
        await using var pair = await RpcPair.StartAsync();

        var promise = pair.TestService.GetCounterAsync();
        using var pipelined = promise.GetCounter();
        var increments = Enumerable.Range(0, 10).Select(_ => pipelined.IncrementAsync().AsTask()).ToArray();

        var values = await Task.WhenAll(increments).WaitAsync(RpcPair.Bound);
        Assert.Equal(Enumerable.Range(1, 10).Select(i => (uint)i), values.Select(v => v.Value));
        using var resolved = (await promise).GetCounter()!;
    }

    [Fact]
    public async Task CallsOnAPromiseThatResolvesToALocalObjectArriveInOrder()
    {
        await using var pair = await RpcPair.StartAsync();
        var recorder = new RecordingCallback();
        using var local = Callback.Client.Create(pair.ClientLoop.CreateCapability(recorder));

        // echoCap's result resolves (after a network round trip) to our own local object: calls
        // made through the pipeline before and after that must still arrive in E-order.
        var promise = pair.TestService.EchoCapAsync(local);
        using var pipelined = promise.GetCap();
        var calls = new List<Task>();
        for (var i = 0; i < 50; i++)
        {
            calls.Add(pipelined.CallAsync(i.ToString()).AsTask());
            if (i == 25)
            {
                using var resolved = (await promise.AsTask().WaitAsync(RpcPair.Bound)).GetCap();
            }
        }

        await Task.WhenAll(calls).WaitAsync(RpcPair.Bound);
        Assert.Equal(Enumerable.Range(0, 50).Select(i => i.ToString()), recorder.Received);
    }

    [Fact]
    public async Task ACapabilityMadeFromATaskQueuesCallsInOrderUntilItResolves()
    {
        await using var loop = EventLoop.Start();
        var recorder = new RecordingCallback();
        var target = new TaskCompletionSource<ICallTarget>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var promised = Callback.Client.Create(loop.CreateCapability(target.Task));

        var early = Enumerable.Range(0, 20).Select(i => promised.CallAsync($"early{i}").AsTask()).ToArray();
        Assert.All(early, call => Assert.False(call.IsCompleted));
        target.SetResult(loop.CreateCapability(recorder));
        var late = promised.CallAsync("late").AsTask();

        await Task.WhenAll(early.Append(late)).WaitAsync(RpcPair.Bound);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"early{i}").Append("late"), recorder.Received);
    }

    [Fact]
    public async Task ACapabilityMadeFromAFailedTaskFailsItsCallsWithTheTaskException()
    {
        await using var loop = EventLoop.Start();
        var target = new TaskCompletionSource<ICallTarget>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var promised = Callback.Client.Create(loop.CreateCapability(target.Task));
        var call = promised.CallAsync("x");

        target.SetException(new RpcOverloadedException("restorer busy"));

        var error = await Assert.ThrowsAsync<RpcOverloadedException>(() => call.AsTask().WaitAsync(RpcPair.Bound));
        Assert.Equal("restorer busy", error.Message);
    }

    [Fact]
    public async Task TheReleaseHookRunsWhenTheLastReferenceAnywhereIsDropped()
    {
        await using var pair = await RpcPair.StartAsync();
        var callback = new PrefixCallback("held:");

        using (var client = Callback.Client.Create(pair.ClientLoop.CreateCapability(callback)))
        {
            await pair.TestService.HoldAsync(client).AsTask().WaitAsync(RpcPair.Bound);
        }

        await pair.TestService.EchoAsync("sync").AsTask().WaitAsync(RpcPair.Bound);
        Assert.False(callback.Released.Task.IsCompleted, "released while the server still holds it");

        await pair.TestService.DropAllAsync().AsTask().WaitAsync(RpcPair.Bound);
        await callback.Released.Task.WaitAsync(RpcPair.Bound);
    }

    [Fact]
    public async Task StreamingCallsDeliverEveryChunkInOrderBeforeALaterCall()
    {
        await using var pair = await RpcPair.StartAsync();
        var chunk = new byte[64 * 1024];

        for (var i = 0; i < 100; i++)
        {
            await pair.TestService.StreamAsync(chunk).WaitAsync(RpcPair.Bound);
        }

        Assert.Equal(100UL * 64 * 1024, (await pair.TestService.GetStreamedBytesAsync().AsTask().WaitAsync(RpcPair.Bound)).Bytes);
    }

    [Fact]
    public async Task AConnectionRunsOverAPreExistingSocketPair()
    {
        await using var loop = EventLoop.Start();
        using var left = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        using var listenerSocket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        var path = Path.Combine(Path.GetTempPath(), $"capnp-pair-{Guid.NewGuid():N}.sock");
        listenerSocket.Bind(new UnixDomainSocketEndPoint(path));
        listenerSocket.Listen(1);
        await left.ConnectAsync(new UnixDomainSocketEndPoint(path)).WaitAsync(RpcPair.Bound);
        using var right = await listenerSocket.AcceptAsync().WaitAsync(RpcPair.Bound);
        File.Delete(path);

        await using var server = await loop.ConnectSocketAsync(right, isServer: true, bootstrap: new TestServiceImpl()).WaitAsync(RpcPair.Bound);
        await using var client = await loop.ConnectSocketAsync(left, isServer: false).WaitAsync(RpcPair.Bound);
        using var service = client.GetBootstrap<TestService.Client>();

        Assert.Equal("over a socket pair", (await service.EchoAsync("over a socket pair").AsTask().WaitAsync(RpcPair.Bound)).Text);
    }

    private sealed class RecordingCallback : Callback.Server
    {
        private readonly List<string> received = [];

        public IReadOnlyList<string> Received
        {
            get
            {
                lock (received)
                {
                    return received.ToList();
                }
            }
        }

        public override Task CallAsync(Callback.CallParams.Reader parameters, Callback.CallResults.Builder results, CancellationToken cancellationToken)
        {
            lock (received)
            {
                received.Add(parameters.Value);
            }

            results.Reply = parameters.Value;
            return Task.CompletedTask;
        }
    }
}
