using Capnp.Native.Tests.Rpc;
using Interop;

namespace Capnp.Native.Tests.Vat;

/// <summary>A vat that serves its connections on several event loops sharing one listening socket.</summary>
public sealed class VatEventLoopsTests
{
    [Fact]
    public async Task AVatWithTwoLoopsServesEveryClientSpreadsThemEvenlyAndCountsEachConnectionOnce()
    {
        const int clients = 8;
        await using var server = await VatTests.StartServerAsync(new VatOptions { EventLoops = 2 });
        Assert.Equal(2, server.EventLoopCount);
        var clientVats = new List<Native.Vat>();
        try
        {
            var services = new List<TestService.Client>();
            for (var i = 0; i < clients; i++)
            {
                var vat = await Native.Vat.StartAsync(new VatOptions());
                clientVats.Add(vat);
                services.Add(await vat.ConnectAsync<TestService.Client>(server.GetSturdyRef()).WaitAsync(RpcPair.Bound));
            }

            // Every connection is served, whichever loop took it, with calls in flight on all at once.
            var calls = services.SelectMany((service, i) => Enumerable.Range(0, 16).Select(j => service.AddAsync(i, j).AsTask())).ToList();
            var sums = await Task.WhenAll(calls).WaitAsync(RpcPair.Bound);
            Assert.Equal(Enumerable.Range(0, clients).SelectMany(i => Enumerable.Range(0, 16).Select(j => (long)(i + j))), sums.Select(s => s.Sum));

            var statistics = await Task.WhenAll(server.Listeners.Select(l => l.ReadStatisticsAsync())).WaitAsync(RpcPair.Bound);
            Assert.Equal(2, statistics.Length);
            Assert.Equal(clients, statistics.Sum(s => s.Accepted));
            Assert.Equal(clients, statistics.Sum(s => s.Connections));
            // The clients connected one after another (each connect completed its TLS handshake,
            // so the server had counted it): the loops took turns, half each. Left to the kernel,
            // whichever loop called accept() first took the peer.
            Assert.All(statistics, s => Assert.Equal(clients / 2, s.Connections));
            Assert.Equal(clients, (await server.DumpAsync()).Split('\n').Count(line => line.Contains("accepted from")));
            foreach (var service in services)
            {
                service.Dispose();
            }
        }
        finally
        {
            foreach (var vat in clientVats)
            {
                await vat.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task AUnixListenerSharedByTwoLoopsServesAndRemovesItsSocketFile()
    {
        using var folder = new TempFolder();
        var path = Path.Combine(folder.Path, "vat.sock");
        var server = await Native.Vat.StartAsync(new VatOptions
        {
            ListenAddress = VatAddress.Unix(path),
            Bootstrap = new TestServiceImpl(),
            EventLoops = 2,
        });
        try
        {
            await using var client = await Native.Vat.StartAsync(new VatOptions());
            using var service = await client.ConnectAsync<TestService.Client>(server.GetSturdyRef()).WaitAsync(RpcPair.Bound);
            Assert.Equal("unix", (await service.EchoAsync("unix").AsTask().WaitAsync(RpcPair.Bound)).Text);
        }
        finally
        {
            await server.DisposeAsync();
        }

        Assert.False(File.Exists(path));
    }

    [Fact]
    public async Task ClientsOfADisposedMultiLoopVatAreDisconnected()
    {
        var server = await VatTests.StartServerAsync(new VatOptions { EventLoops = 3 });
        await using var client = await Native.Vat.StartAsync(new VatOptions());
        using var service = await client.ConnectAsync<TestService.Client>(server.GetSturdyRef()).WaitAsync(RpcPair.Bound);
        await service.EchoAsync("before").AsTask().WaitAsync(RpcPair.Bound);
        var waiting = service.WaitForeverAsync().AsTask();

        await server.DisposeAsync();

        await Assert.ThrowsAsync<RpcDisconnectedException>(() => waiting.WaitAsync(RpcPair.Bound));
    }

    [Fact]
    public async Task ZeroLoopsIsRefused()
    {
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Native.Vat.StartAsync(new VatOptions { EventLoops = 0 }));
    }
}
