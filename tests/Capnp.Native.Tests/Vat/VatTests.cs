using Capnp.Native.Rpc;
using Capnp.Native.Tests.Rpc;
using Interop;

namespace Capnp.Native.Tests.Vat;

public sealed class VatTests
{
    private static readonly VatAddress AnyLoopbackPort = VatAddress.Parse("tcp:127.0.0.1:0");

    internal static Task<Native.Vat> StartServerAsync(VatOptions? options = null)
        => Native.Vat.StartAsync((options ?? new VatOptions()) with { ListenAddress = options?.ListenAddress ?? AnyLoopbackPort, Bootstrap = options?.Bootstrap ?? new TestServiceImpl() });

    [Fact]
    public async Task AClientVatCallsAServerVatOverTlsAndTheServedConnectionSurvivesCollections()
    {
        await using var server = await StartServerAsync();
        await using var client = await Native.Vat.StartAsync(new VatOptions());
        var sturdyRef = server.GetSturdyRef();
        Assert.False(sturdyRef.Digest.IsInsecure);
        Assert.Equal(server.Identity.Digest, sturdyRef.Digest);

        using var service = await client.ConnectAsync<TestService.Client>(sturdyRef).WaitAsync(RpcPair.Bound);
        Assert.Equal("a", (await service.EchoAsync("a").AsTask().WaitAsync(RpcPair.Bound)).Text);

        for (var round = 0; round < 3; round++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        Assert.Equal("b", (await service.EchoAsync("b").AsTask().WaitAsync(RpcPair.Bound)).Text);
        var served = await server.ReadListenerStatisticsAsync();
        Assert.Equal(1, served.Connections);
        Assert.Equal(0, served.HandshakeFailures);
    }

    [Fact]
    public async Task AServerWithAnotherKeyIsRefused()
    {
        await using var server = await StartServerAsync();
        await using var client = await Native.Vat.StartAsync(new VatOptions());
        var impostor = new SturdyRef(server.ListenAddress!, VatIdentity.CreateEphemeral().Digest, default);

        var error = await Assert.ThrowsAsync<PeerAuthenticationException>(() => client.ConnectAsync<TestService.Client>(impostor).WaitAsync(RpcPair.Bound));

        Assert.Contains("fingerprint mismatch", error.Message);
        // The failed attempt is not kept: the genuine sturdy ref works at once.
        using var service = await client.ConnectAsync<TestService.Client>(server.GetSturdyRef()).WaitAsync(RpcPair.Bound);
        Assert.Equal("genuine", (await service.EchoAsync("genuine").AsTask().WaitAsync(RpcPair.Bound)).Text);
    }

    [Fact]
    public async Task AnInsecureVatServesPlainConnectionsAndPublishesInsecureSturdyRefs()
    {
        await using var server = await StartServerAsync(new VatOptions { DisableTls = true });
        await using var client = await Native.Vat.StartAsync(new VatOptions());
        var sturdyRef = server.GetSturdyRef();
        Assert.StartsWith("capnp://insecure@127.0.0.1:", sturdyRef.ToString());

        using var service = await client.ConnectAsync<TestService.Client>(SturdyRef.Parse(sturdyRef.ToString())).WaitAsync(RpcPair.Bound);

        Assert.Equal("plain", (await service.EchoAsync("plain").AsTask().WaitAsync(RpcPair.Bound)).Text);
    }

    [Fact]
    public async Task APlainClientIsDroppedByATlsVatAfterItsFailedHandshake()
    {
        await using var server = await StartServerAsync();
        await using var clientLoop = EventLoop.Start();
        await using var plain = await clientLoop.ConnectAsync(server.ListenAddress!.ToString()).WaitAsync(RpcPair.Bound);
        using var service = plain.GetBootstrap<TestService.Client>();

        await Assert.ThrowsAnyAsync<RpcException>(() => service.EchoAsync("hello?").AsTask().WaitAsync(RpcPair.Bound));

        for (var poll = 0; poll < 100_000 && (await server.ReadListenerStatisticsAsync()).HandshakeFailures == 0; poll++)
        {
            await Task.Yield();
        }

        var statistics = await server.ReadListenerStatisticsAsync();
        Assert.Equal(1, statistics.HandshakeFailures);
        Assert.Equal(0, statistics.Connections);
    }

    [Fact]
    public async Task AHandshakeThatNeverCompletesIsDroppedAfterTheTimeout()
    {
        await using var server = await StartServerAsync(new VatOptions { HandshakeTimeout = TimeSpan.FromMilliseconds(200) });
        using var silent = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        await silent.ConnectAsync(server.ListenAddress!.ToEndPoint());

        // The server gives up on the silent peer: it reads end-of-stream.
        var buffer = new byte[16];
        var received = await silent.ReceiveAsync(buffer).WaitAsync(RpcPair.Bound);

        Assert.Equal(0, received);
        Assert.Equal(1, (await server.ReadListenerStatisticsAsync()).HandshakeFailures);
    }

    [Fact]
    public async Task ConcurrentConnectsToOnePeerShareOneConnection()
    {
        await using var server = await StartServerAsync();
        await using var client = await Native.Vat.StartAsync(new VatOptions());

        var services = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => client.ConnectAsync<TestService.Client>(server.GetSturdyRef()))).WaitAsync(RpcPair.Bound);
        try
        {
            foreach (var (service, i) in services.Select((s, i) => (s, i)))
            {
                Assert.Equal($"{i}", (await service.EchoAsync($"{i}").AsTask().WaitAsync(RpcPair.Bound)).Text);
            }

            Assert.Equal(1, (await server.ReadListenerStatisticsAsync()).Accepted);
        }
        finally
        {
            foreach (var service in services)
            {
                service.Dispose();
            }
        }
    }

    [Fact]
    public async Task AConnectionThePeerClosedIsForgottenAndTheNextConnectMakesANewOne()
    {
        await using var client = await Native.Vat.StartAsync(new VatOptions());
        var identity = VatIdentity.CreateEphemeral();
        VatAddress address;
        await using (var first = await StartServerAsync(new VatOptions { Identity = identity }))
        {
            address = first.ListenAddress!;
            using var service = await client.ConnectAsync<TestService.Client>(first.GetSturdyRef()).WaitAsync(RpcPair.Bound);
            Assert.Equal("first", (await service.EchoAsync("first").AsTask().WaitAsync(RpcPair.Bound)).Text);
            var connection = await client.GetConnectionAsync(first.GetSturdyRef(), CancellationToken.None);
            await first.DisposeAsync();
            await connection.Disconnected.WaitAsync(RpcPair.Bound);
        }

        // The same vat restarted on the same port is reached through a new connection.
        await using var second = await StartServerAsync(new VatOptions { Identity = identity, ListenAddress = address });
        for (var attempt = 0; ; attempt++)
        {
            using var service = await client.ConnectAsync<TestService.Client>(second.GetSturdyRef()).WaitAsync(RpcPair.Bound);
            try
            {
                Assert.Equal("second", (await service.EchoAsync("second").AsTask().WaitAsync(RpcPair.Bound)).Text);
                break;
            }
            catch (RpcDisconnectedException) when (attempt < 1000)
            {
                // The client had not yet dropped the old connection: it does once it sees the loss.
                await Task.Yield();
            }
        }
    }

    [Fact]
    public async Task DisposingAVatFailsItsPendingCallsAsDisposed()
    {
        await using var server = await StartServerAsync();
        var client = await Native.Vat.StartAsync(new VatOptions());
        using var service = await client.ConnectAsync<TestService.Client>(server.GetSturdyRef()).WaitAsync(RpcPair.Bound);
        var waiting = service.WaitForeverAsync();
        await service.EchoAsync("sync").AsTask().WaitAsync(RpcPair.Bound);

        await client.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => waiting.AsTask().WaitAsync(RpcPair.Bound));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => client.ConnectAsync<TestService.Client>(server.GetSturdyRef()));
        // The server frees the connection once it sees the client go.
        await ServingListenerTests.WaitUntilServingNoneAsync(server);
    }

    [Fact]
    public async Task TheDefaultConnectionMaximumLeavesAQuarterOfTheDescriptorLimit()
    {
        await using var vat = await Native.Vat.StartAsync(new VatOptions());
        var limit = ulong.Parse(File.ReadAllLines("/proc/self/limits").Single(l => l.StartsWith("Max open files")).Split(' ', StringSplitOptions.RemoveEmptyEntries)[3]);

        Assert.Equal((int)Math.Max(1, Math.Min(limit, int.MaxValue) / 4 * 3), vat.MaxConnections);
        Assert.True(vat.MaxConnections < (long)limit);
    }

    [Fact]
    public async Task AVatWithoutAddressHasNoSturdyRef()
    {
        await using var vat = await Native.Vat.StartAsync(new VatOptions());

        Assert.Throws<InvalidOperationException>(() => vat.GetSturdyRef());
    }
}
