using Capnp.Native.Rpc;
using Interop;

namespace Capnp.Native.Tests.Rpc;

/// <summary>
/// Across the process and language boundary: the C++ peer vat (tests/interop) calls our C#
/// TestService, and our C# client calls its C++ TestService.
/// </summary>
public sealed class InteropTests
{
    public static TheoryData<string> CppClientScenarios => new()
    {
        "echo", "add", "errors", "callback", "pipelining", "caps", "cancel", "stream", "release", "garbage",
    };

    [Theory]
    [MemberData(nameof(CppClientScenarios))]
    public async Task TheCppClientScenarioPassesAgainstTheCSharpServer(string scenario)
    {
        await using var loop = EventLoop.Start();
        await using var listener = await loop.ListenAsync("tcp:127.0.0.1:0", new TestServiceImpl());
        var connections = AcceptAllAsync(listener);

        var (exitCode, output) = await InteropVat.RunClientAsync(listener.Address, scenario);

        Assert.True(exitCode == 0, output);
        Assert.Contains($"PASS {scenario}", output);
        await listener.DisposeAsync();
        foreach (var connection in await connections)
        {
            await connection.DisposeAsync();
        }
    }

    [Fact]
    public async Task TheCppClientSeesDisconnectedWhenTheCSharpServerGoesAwayMidCall()
    {
        await using var loop = EventLoop.Start();
        var listener = await loop.ListenAsync("unix:" + Path.Combine(Path.GetTempPath(), $"capnp-{Guid.NewGuid():N}.sock"), new TestServiceImpl());
        var accepted = listener.AcceptAsync();

        var (exitCode, output) = await InteropVat.RunClientAsync(listener.Address, "disconnect-mid-call", async line =>
        {
            if (line == "WAITING")
            {
                await (await accepted).DisposeAsync();
            }
        });

        Assert.True(exitCode == 0, output);
        await listener.DisposeAsync();
    }

    [Fact]
    public async Task TheCSharpClientCallsTheCppServer()
    {
        await using var vat = await InteropVat.ServeAsync("tcp:127.0.0.1:0");
        await using var loop = EventLoop.Start();
        await using var connection = await loop.ConnectAsync(vat.Address);
        using var service = connection.GetBootstrap<TestService.Client>();

        Assert.Equal("héllo", (await service.EchoAsync("héllo").AsTask().WaitAsync(RpcPair.Bound)).Text);
        // Sent from our own segments, by reference; read where our transport received it.
        var large = new string('x', 200 * 1024);
        var sentByReference = NativeCounters.Read().blobs_sent_by_reference;
        Assert.Equal(large, (await service.EchoAsync(large).AsTask().WaitAsync(RpcPair.Bound)).Text);
        Assert.Equal(sentByReference + 1, NativeCounters.Read().blobs_sent_by_reference);
        Assert.Equal(long.MinValue, (await service.AddAsync(long.MaxValue, 1).AsTask().WaitAsync(RpcPair.Bound)).Sum);

        // Exceptions thrown by C++ arrive with their type and message.
        var overloaded = await Assert.ThrowsAsync<RpcOverloadedException>(() => service.FailAsync(FailKind.Overloaded, "from C++").AsTask().WaitAsync(RpcPair.Bound));
        Assert.Equal("from C++", overloaded.Message);
        await Assert.ThrowsAsync<RpcUnimplementedException>(() => service.FailAsync(FailKind.Unimplemented, "u").AsTask().WaitAsync(RpcPair.Bound));

        // A C# capability passed to C++, called back from C++.
        var callback = new PrefixCallback("cs:");
        using (var client = Callback.Client.Create(callback))
        {
            Assert.Equal("cs:ping", (await service.CallBackAsync(client, "ping").AsTask().WaitAsync(RpcPair.Bound)).Reply);
        }

        Assert.Equal(1, callback.Calls);

        // Pipelining into C++: three increments on a counter that does not exist yet.
        using var counterPromise = service.GetCounterAsync();
        using var counter = counterPromise.GetCounter();
        var increments = new[] { counter.IncrementAsync().AsTask(), counter.IncrementAsync().AsTask(), counter.IncrementAsync().AsTask() };
        var values = await Task.WhenAll(increments).WaitAsync(RpcPair.Bound);
        Assert.Equal(new uint[] { 1, 2, 3 }, values.Select(v => v.Value));
        using ((await counterPromise).GetCounter())
        {
        }
    }

    [Fact]
    public async Task CancellingACallToTheCppServerSendsFinishAndItSeesTheCancellation()
    {
        await using var vat = await InteropVat.ServeAsync("tcp:127.0.0.1:0");
        await using var loop = EventLoop.Start();
        await using var connection = await loop.ConnectAsync(vat.Address);
        using var service = connection.GetBootstrap<TestService.Client>();
        var before = (await service.GetCancelCountAsync()).Count;

        using var cancellation = new CancellationTokenSource();
        var waiting = service.WaitForeverAsync(cancellation.Token);
        // E-order: once echo returns, the server has the waitForever call.
        await service.EchoAsync("sync").AsTask().WaitAsync(RpcPair.Bound);
        cancellation.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.AsTask().WaitAsync(RpcPair.Bound));
        uint after = before;
        for (var poll = 0; poll < 10_000 && after == before; poll++)
        {
            after = (await service.GetCancelCountAsync().AsTask().WaitAsync(RpcPair.Bound)).Count;
        }

        Assert.Equal(before + 1, after);
    }

    [Fact]
    public async Task CallsInFlightFailDisconnectedWhenTheCppServerDies()
    {
        var vat = await InteropVat.ServeAsync("tcp:[::1]:0");
        await using var loop = EventLoop.Start();
        await using var connection = await loop.ConnectAsync(vat.Address);
        using var service = connection.GetBootstrap<TestService.Client>();
        var waiting = service.WaitForeverAsync();
        var broken = service.WhenBrokenAsync();
        await service.EchoAsync("sync").AsTask().WaitAsync(RpcPair.Bound);
        Assert.False(broken.IsCompleted, "broken while the C++ vat runs");

        vat.Kill();

        await Assert.ThrowsAsync<RpcDisconnectedException>(() => waiting.AsTask().WaitAsync(RpcPair.Bound));
        Assert.IsType<RpcDisconnectedException>(await broken.WaitAsync(RpcPair.Bound));
        await connection.Disconnected.WaitAsync(RpcPair.Bound);
        // The capability is broken and says so.
        await Assert.ThrowsAsync<RpcDisconnectedException>(() => service.EchoAsync("late").AsTask().WaitAsync(RpcPair.Bound));
        await vat.DisposeAsync();
    }

    [Fact]
    public async Task TheCppServerReleasingOurCallbackRunsItsReleaseHook()
    {
        await using var vat = await InteropVat.ServeAsync("unix:" + Path.Combine(Path.GetTempPath(), $"capnp-{Guid.NewGuid():N}.sock"));
        await using var loop = EventLoop.Start();
        await using var connection = await loop.ConnectAsync(vat.Address);
        using var service = connection.GetBootstrap<TestService.Client>();
        var callback = new PrefixCallback("held:");

        using (var client = Callback.Client.Create(callback))
        {
            await service.HoldAsync(client).AsTask().WaitAsync(RpcPair.Bound);
        }

        await service.EchoAsync("sync").AsTask().WaitAsync(RpcPair.Bound);
        Assert.False(callback.Released.Task.IsCompleted, "released while C++ still holds it");

        await service.DropAllAsync().AsTask().WaitAsync(RpcPair.Bound);

        await callback.Released.Task.WaitAsync(RpcPair.Bound);
    }

    private static async Task<List<RpcConnection>> AcceptAllAsync(RpcListener listener)
    {
        var accepted = new List<RpcConnection>();
        try
        {
            while (true)
            {
                accepted.Add(await listener.AcceptAsync());
            }
        }
        catch (Exception e) when (e is ObjectDisposedException or RpcException)
        {
            // The listener was disposed: the test is over.
        }

        return accepted;
    }
}
