using Capnp.Native.Rpc;
using Capnp.Native.Tests.Rpc;
using Interop;

namespace Capnp.Native.Tests.Vat;

public sealed class VatTests
{
    [Fact]
    public async Task AClientVatCallsAServerVatAndTheServedConnectionSurvivesCollections()
    {
        await using var server = await Native.Vat.StartAsync(new VatOptions { ListenAddress = "tcp:127.0.0.1:0", Bootstrap = new TestServiceImpl() });
        await using var client = await Native.Vat.StartAsync(new VatOptions());
        using var service = await client.ConnectAsync<TestService.Client>(server.ListenAddress!).WaitAsync(RpcPair.Bound);
        Assert.Equal("a", (await service.EchoAsync("a").WaitAsync(RpcPair.Bound)).Text);

        for (var round = 0; round < 3; round++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        Assert.Equal("b", (await service.EchoAsync("b").WaitAsync(RpcPair.Bound)).Text);
    }

    [Fact]
    public async Task ConcurrentConnectsToOnePeerShareOneConnection()
    {
        await using var server = await Native.Vat.StartAsync(new VatOptions { ListenAddress = "tcp:127.0.0.1:0", Bootstrap = new TestServiceImpl() });
        await using var client = await Native.Vat.StartAsync(new VatOptions());

        var services = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => client.ConnectAsync<TestService.Client>(server.ListenAddress!))).WaitAsync(RpcPair.Bound);
        try
        {
            foreach (var (service, i) in services.Select((s, i) => (s, i)))
            {
                Assert.Equal($"{i}", (await service.EchoAsync($"{i}").WaitAsync(RpcPair.Bound)).Text);
            }

            Assert.Equal(1, (await server.Listener!.ReadStatisticsAsync()).Accepted);
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
        string address;
        await using (var first = await Native.Vat.StartAsync(new VatOptions { ListenAddress = "tcp:127.0.0.1:0", Bootstrap = new TestServiceImpl() }))
        {
            address = first.ListenAddress!;
            using var service = await client.ConnectAsync<TestService.Client>(address).WaitAsync(RpcPair.Bound);
            Assert.Equal("first", (await service.EchoAsync("first").WaitAsync(RpcPair.Bound)).Text);
            var connection = await client.GetConnectionAsync(address, CancellationToken.None);
            await first.DisposeAsync();
            await connection.Disconnected.WaitAsync(RpcPair.Bound);
        }

        // A new server on the same port (free again) is reached through a new connection.
        await using var second = await Native.Vat.StartAsync(new VatOptions { ListenAddress = address, Bootstrap = new TestServiceImpl() });
        for (var attempt = 0; ; attempt++)
        {
            using var service = await client.ConnectAsync<TestService.Client>(address).WaitAsync(RpcPair.Bound);
            try
            {
                Assert.Equal("second", (await service.EchoAsync("second").WaitAsync(RpcPair.Bound)).Text);
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
        await using var server = await Native.Vat.StartAsync(new VatOptions { ListenAddress = "tcp:127.0.0.1:0", Bootstrap = new TestServiceImpl() });
        var client = await Native.Vat.StartAsync(new VatOptions());
        using var service = await client.ConnectAsync<TestService.Client>(server.ListenAddress!).WaitAsync(RpcPair.Bound);
        var waiting = service.WaitForeverAsync();
        await service.EchoAsync("sync").WaitAsync(RpcPair.Bound);

        await client.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => waiting.WaitAsync(RpcPair.Bound));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => client.ConnectAsync<TestService.Client>(server.ListenAddress!));
        // The server frees the connection once it sees the client go.
        await ServingListenerTests.WaitUntilServingNoneAsync(server.Listener!);
    }

    [Fact]
    public async Task TheDefaultConnectionMaximumLeavesAQuarterOfTheDescriptorLimit()
    {
        await using var vat = await Native.Vat.StartAsync(new VatOptions());
        var limit = ulong.Parse(File.ReadAllLines("/proc/self/limits").Single(l => l.StartsWith("Max open files")).Split(' ', StringSplitOptions.RemoveEmptyEntries)[3]);

        Assert.Equal((int)Math.Max(1, Math.Min(limit, int.MaxValue) / 4 * 3), vat.MaxConnections);
        Assert.True(vat.MaxConnections < (long)limit);
    }
}
