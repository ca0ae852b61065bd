using System.Net;
using System.Net.Sockets;
using Capnp.Native.Rpc;
using Capnp.Native.Tests.Rpc;
using Interop;
using Microsoft.Extensions.Logging;

namespace Capnp.Native.Tests.Vat;

/// <summary>The vat's public entry points for sockets the application connected and for promised capabilities, and where the library reports failures of user hooks.</summary>
public sealed class VatSocketAndPromiseTests
{
    // Two connected loopback TCP sockets, as an application with a socket pair would have.
    private static (Socket, Socket) ConnectedSockets()
    {
        using var listening = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listening.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listening.Listen(1);
        var one = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        one.Connect(listening.LocalEndPoint!);
        return (one, listening.Accept());
    }

    [Fact]
    public async Task TwoVatsTalkOverASocketPairAndTheServingVatLetsGoWhenThePeerGoes()
    {
        var (clientEnd, serverEnd) = ConnectedSockets();
        var service = new TestServiceImpl();
        await using var server = await Native.Vat.StartAsync(new VatOptions { Bootstrap = service });
        var client = await Native.Vat.StartAsync(new VatOptions());
        try
        {
            using (serverEnd)
            {
                await server.ServeSocketAsync(serverEnd).WaitAsync(RpcPair.Bound);
            }

            using (clientEnd)
            using (var remote = await client.ConnectSocketAsync<TestService.Client>(clientEnd).WaitAsync(RpcPair.Bound))
            {
                // The vats work on duplicates: the Socket objects are gone, the connection is not.
                Assert.Equal("over a pair", (await remote.EchoAsync("over a pair").AsTask().WaitAsync(RpcPair.Bound)).Text);
                Assert.Equal(1, server.AdoptedConnectionCount);
            }
        }
        finally
        {
            await client.DisposeAsync();
        }

        // The client vat closed its end: the serving vat releases the connection, and with it the
        // bootstrap export (the server object's release hook runs).
        await service.Released.Task.WaitAsync(RpcPair.Bound);
        for (var poll = 0; poll < 100_000 && server.AdoptedConnectionCount != 0; poll++)
        {
            await Task.Yield();
        }

        Assert.Equal(0, server.AdoptedConnectionCount);
    }

    [Fact]
    public async Task DisposingAVatClosesItsSocketConnectionsAndFailsItsPendingCalls()
    {
        var (clientEnd, serverEnd) = ConnectedSockets();
        await using var server = await Native.Vat.StartAsync(new VatOptions { Bootstrap = new TestServiceImpl() });
        var client = await Native.Vat.StartAsync(new VatOptions());
        using (serverEnd)
        {
            await server.ServeSocketAsync(serverEnd).WaitAsync(RpcPair.Bound);
        }

        using var remote = await client.ConnectSocketAsync<TestService.Client>(clientEnd).WaitAsync(RpcPair.Bound);
        clientEnd.Dispose();
        var waiting = remote.WaitForeverAsync();
        await remote.EchoAsync("sync").AsTask().WaitAsync(RpcPair.Bound);

        await client.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => waiting.AsTask().WaitAsync(RpcPair.Bound));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => client.ConnectSocketAsync<TestService.Client>(serverEnd));
        for (var poll = 0; poll < 100_000 && server.AdoptedConnectionCount != 0; poll++)
        {
            await Task.Yield();
        }

        Assert.Equal(0, server.AdoptedConnectionCount);
    }

    [Fact]
    public async Task CallsOnAPromisedClientWaitForItsResolutionAndArriveInOrder()
    {
        await using var server = await VatTests.StartServerAsync();
        await using var client = await Native.Vat.StartAsync(new VatOptions());
        var resolution = new TaskCompletionSource<TestService.Client>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var promised = client.CreatePromisedClient(resolution.Task);

        var first = promised.EchoAsync("first").AsTask();
        var second = promised.AddAsync(40, 2).AsTask();
        Assert.False(first.IsCompleted);

        resolution.SetResult(await client.ConnectAsync<TestService.Client>(server.GetSturdyRef()).WaitAsync(RpcPair.Bound));

        Assert.Equal("first", (await first.WaitAsync(RpcPair.Bound)).Text);
        Assert.Equal(42, (await second.WaitAsync(RpcPair.Bound)).Sum);
        Assert.Equal("later", (await promised.EchoAsync("later").AsTask().WaitAsync(RpcPair.Bound)).Text);
    }

    [Fact]
    public async Task APromisedClientWhoseTaskFailsFailsItsCallsWithTheSameType()
    {
        await using var vat = await Native.Vat.StartAsync(new VatOptions());
        var resolution = new TaskCompletionSource<TestService.Client>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var promised = vat.CreatePromisedClient(resolution.Task);
        var call = promised.EchoAsync("x").AsTask();

        resolution.SetException(new RpcOverloadedException("try later"));

        var error = await Assert.ThrowsAsync<RpcOverloadedException>(() => call.WaitAsync(RpcPair.Bound));
        Assert.Equal("try later", error.Message);
    }

    [Fact]
    public async Task APromisedClientCanBeSentToAPeerBeforeItResolves()
    {
        await using var server = await VatTests.StartServerAsync();
        await using var client = await Native.Vat.StartAsync(new VatOptions());
        using var service = await client.ConnectAsync<TestService.Client>(server.GetSturdyRef()).WaitAsync(RpcPair.Bound);
        var resolution = new TaskCompletionSource<Callback.Client>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var promised = client.CreatePromisedClient(resolution.Task);

        // The server calls the promise back; its call waits until the promise resolves.
        var reply = service.CallBackAsync(promised, "v").AsTask();
        Assert.False(reply.IsCompleted);
        resolution.SetResult(Callback.Client.Create(new PrefixCallback("resolved:")));

        Assert.Equal("resolved:v", (await reply.WaitAsync(RpcPair.Bound)).Reply);
    }

    [Fact]
    public async Task AReleaseHookThatThrowsIsReportedToTheVatsLoggerNotTheConsole()
    {
        var log = new VatLoggingTests.CapturingLogger();
        await using var server = await VatTests.StartServerAsync();
        await using var client = await Native.Vat.StartAsync(new VatOptions { Logger = log });
        using var service = await client.ConnectAsync<TestService.Client>(server.GetSturdyRef()).WaitAsync(RpcPair.Bound);
        var callback = new FailingReleaseCallback();
        var console = Console.Error;
        using var captured = new StringWriter();
        Console.SetError(captured);
        try
        {
            using (var reference = Callback.Client.Create(callback))
            {
                Assert.Equal("v", (await service.CallBackAsync(reference, "v").AsTask().WaitAsync(RpcPair.Bound)).Reply);
            }

            // The server dropped its reference after the call: the hook runs, fails, and is logged.
            await callback.HookRan.Task.WaitAsync(RpcPair.Bound);
            for (var poll = 0; poll < 100_000 && !log.Entries.Any(e => e.Level == LogLevel.Error); poll++)
            {
                await Task.Yield();
            }
        }
        finally
        {
            Console.SetError(console);
        }

        Assert.Contains(log.Entries, e => e.Level == LogLevel.Error && e.Text.Contains(nameof(FailingReleaseCallback)) && e.Text.Contains("cleanup failed"));
        Assert.DoesNotContain("cleanup failed", captured.ToString());
    }

    [Fact]
    public async Task ADuplicateOfAClientOutlivesTheOriginal()
    {
        await using var server = await VatTests.StartServerAsync();
        await using var client = await Native.Vat.StartAsync(new VatOptions());
        var original = await client.ConnectAsync<TestService.Client>(server.GetSturdyRef()).WaitAsync(RpcPair.Bound);
        using var duplicate = original.Duplicate();
        original.Dispose();

        Assert.Equal("still here", (await duplicate.EchoAsync("still here").AsTask().WaitAsync(RpcPair.Bound)).Text);
        Assert.Throws<ObjectDisposedException>(() => original.Duplicate());
    }

    [Fact]
    public void AServerObjectIsNotDisposableItsReleaseIsTheEnginesDecision()
    {
        // `using var s = new Impl()` must not compile: disposing a served object is not how it ends.
        Assert.False(typeof(IDisposable).IsAssignableFrom(typeof(CapabilityServer)));
        Assert.False(typeof(IAsyncDisposable).IsAssignableFrom(typeof(CapabilityServer)));
    }

    private sealed class FailingReleaseCallback : Callback.Server
    {
        public TaskCompletionSource HookRan { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override Task CallAsync(Callback.CallParams.Reader parameters, Callback.CallResults.Builder results, CancellationToken cancellationToken)
        {
            results.Reply = parameters.Value;
            return Task.CompletedTask;
        }

        protected override ValueTask OnReleasedAsync()
        {
            HookRan.TrySetResult();
            throw new InvalidOperationException("cleanup failed");
        }
    }
}
