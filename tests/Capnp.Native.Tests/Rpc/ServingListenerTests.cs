using Capnp.Native.Rpc;
using Interop;

namespace Capnp.Native.Tests.Rpc;

/// <summary>A listener that serves by itself owns its connections, frees them when peers go, and caps their number.</summary>
public sealed class ServingListenerTests
{
    [Fact]
    public async Task ServedConnectionsSurviveForcedCollections()
    {
        await using var server = await ServingServer.StartAsync(maxConnections: 10);
        await using var clientLoop = EventLoop.Start();
        await using var connection = await clientLoop.ConnectAsync(server.Listener.Address).WaitAsync(RpcPair.Bound);
        using var service = connection.GetBootstrap<TestService.Client>();
        Assert.Equal("a", (await service.EchoAsync("a").AsTask().WaitAsync(RpcPair.Bound)).Text);

        for (var round = 0; round < 3; round++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        Assert.Equal("b", (await service.EchoAsync("b").AsTask().WaitAsync(RpcPair.Bound)).Text);
        Assert.Equal(1, (await server.Listener.ReadStatisticsAsync()).Connections);
    }

    [Fact]
    public async Task AThousandSequentialClientsLeaveNoConnectionAndNoDescriptorBehind()
    {
        await using var server = await ServingServer.StartAsync(maxConnections: 10);
        await using var clientLoop = EventLoop.Start();
        await RunClientAsync(clientLoop, server.Listener.Address, "warm-up");
        await WaitUntilServingNoneAsync(server.Listener);
        var descriptorsBefore = OpenDescriptors();
        var connectionsBefore = NativeCounters.Read().live_connections;

        for (var client = 0; client < 1000; client++)
        {
            await RunClientAsync(clientLoop, server.Listener.Address, $"client {client}");
        }

        await WaitUntilServingNoneAsync(server.Listener);
        var statistics = await server.Listener.ReadStatisticsAsync();
        Assert.Equal(1001, statistics.Accepted);
        Assert.Equal(connectionsBefore, NativeCounters.Read().live_connections);
        // A little slack for descriptors the runtime opens lazily; a leak would be ~1000 (or 2000).
        Assert.InRange(OpenDescriptors(), 0, descriptorsBefore + 16);
    }

    [Fact]
    public async Task PeersBeyondTheMaximumWaitUntilAServedConnectionGoes()
    {
        await using var server = await ServingServer.StartAsync(maxConnections: 2);
        await using var clientLoop = EventLoop.Start();
        var clients = new List<(RpcConnection Connection, TestService.Client Service)>();
        try
        {
            for (var i = 0; i < 5; i++)
            {
                var connection = await clientLoop.ConnectAsync(server.Listener.Address).WaitAsync(RpcPair.Bound);
                clients.Add((connection, connection.GetBootstrap<TestService.Client>()));
            }

            var echoes = clients.Select((client, i) => client.Service.EchoAsync($"client {i}")).ToList();
            Assert.Equal("client 0", (await echoes[0].AsTask().WaitAsync(RpcPair.Bound)).Text);
            Assert.Equal("client 1", (await echoes[1].AsTask().WaitAsync(RpcPair.Bound)).Text);

            // Each client that leaves lets the next waiting one in.
            for (var i = 0; i < 3; i++)
            {
                clients[i].Service.Dispose();
                await clients[i].Connection.DisposeAsync();
                Assert.Equal($"client {i + 2}", (await echoes[i + 2].AsTask().WaitAsync(RpcPair.Bound)).Text);
            }

            var statistics = await server.Listener.ReadStatisticsAsync();
            Assert.Equal(2, statistics.PeakConnections);
            Assert.Equal(5, statistics.Accepted);
        }
        finally
        {
            foreach (var (connection, service) in clients)
            {
                service.Dispose();
                await connection.DisposeAsync();
            }
        }
    }

    internal static async Task RunClientAsync(EventLoop clientLoop, string address, string text)
    {
        await using var connection = await clientLoop.ConnectAsync(address).WaitAsync(RpcPair.Bound);
        using var service = connection.GetBootstrap<TestService.Client>();
        Assert.Equal(text, (await service.EchoAsync(text).AsTask().WaitAsync(RpcPair.Bound)).Text);
    }

    internal static Task WaitUntilServingNoneAsync(RpcListener listener, int expected = 0)
        => WaitUntilServingAsync(() => listener.ReadStatisticsAsync(), expected);

    /// <summary>The same for a vat, over all its loops' listeners.</summary>
    internal static Task WaitUntilServingNoneAsync(Native.Vat server, int expected = 0)
        => WaitUntilServingAsync(server.ReadListenerStatisticsAsync, expected);

    private static async Task WaitUntilServingAsync(Func<Task<ListenerStatistics>> read, int expected)
    {
        // Bounded polling of the server's own count: the server frees a connection once it has
        // seen the peer's close, which the client cannot observe.
        for (var poll = 0; poll < 100_000; poll++)
        {
            if ((await read().WaitAsync(RpcPair.Bound)).Connections == expected)
            {
                return;
            }

            await Task.Yield();
        }

        Assert.Fail($"the server does not serve {expected} connections: it still serves connections whose peers left");
    }

    internal static int OpenDescriptors() => Directory.GetFiles("/proc/self/fd").Length;

    internal sealed class ServingServer : IAsyncDisposable
    {
        private ServingServer(EventLoop loop, RpcListener listener)
        {
            Loop = loop;
            Listener = listener;
        }

        public EventLoop Loop { get; }

        public RpcListener Listener { get; }

        public static async Task<ServingServer> StartAsync(int maxConnections, string address = "tcp:127.0.0.1:0")
        {
            var loop = EventLoop.Start();
            var listener = await loop.ListenAsync(address, new TestServiceImpl()).WaitAsync(RpcPair.Bound);
            await listener.ServeAsync(maxConnections).WaitAsync(RpcPair.Bound);
            return new ServingServer(loop, listener);
        }

        public async ValueTask DisposeAsync()
        {
            await Listener.DisposeAsync();
            await Loop.DisposeAsync();
        }
    }
}
