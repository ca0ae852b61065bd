using System.Text;
using Capnp.Native.Rpc;
using Capnp.Native.Tests.Rpc;
using Interop;

namespace Capnp.Native.Tests.Vat;

/// <summary>Services by ID: the restore hook on the server, sturdy refs on the client.</summary>
public sealed class RestoreTests
{
    /// <summary>Serves one service under one ID; counts the requests it answers.</summary>
    private sealed class OneServiceRestorer(byte[] id, ICallTarget service) : IRestorer
    {
        private int requests;

        public int Requests => Volatile.Read(ref requests);

        public TaskCompletionSource<bool>? Gate { get; init; }

        public async ValueTask<ICallTarget?> RestoreAsync(ReadOnlyMemory<byte> serviceId, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref requests);
            if (Gate is { } gate)
            {
                await gate.Task.WaitAsync(cancellationToken);
            }

            return serviceId.Span.SequenceEqual(id) ? service : null;
        }
    }

    [Fact]
    public async Task AServiceIsRestoredByItsIdAndAnUnknownIdFailsAsTheSeedSays()
    {
        var id = ServiceId.Random();
        var restorer = new OneServiceRestorer(id, new TestServiceImpl());
        await using var server = await VatTests.StartServerAsync(new VatOptions { Restorer = restorer, Bootstrap = new TestServiceImpl() });
        await using var client = await Native.Vat.StartAsync(new VatOptions());

        using var known = await client.ConnectAsync<TestService.Client>(server.GetSturdyRef(id)).WaitAsync(RpcPair.Bound);
        Assert.Equal("restored", (await known.EchoAsync("restored").AsTask().WaitAsync(RpcPair.Bound)).Text);

        using var unknown = await client.ConnectAsync<TestService.Client>(server.GetSturdyRef(ServiceId.Random())).WaitAsync(RpcPair.Bound);
        var error = await Assert.ThrowsAsync<RpcFailedException>(() => unknown.EchoAsync("nobody").AsTask().WaitAsync(RpcPair.Bound));
        Assert.Equal("Unknown persistent service ID", error.Message);

        // The empty ID is the bootstrap, which never reaches the restorer.
        using var bootstrap = await client.ConnectAsync<TestService.Client>(server.GetSturdyRef()).WaitAsync(RpcPair.Bound);
        Assert.Equal("public", (await bootstrap.EchoAsync("public").AsTask().WaitAsync(RpcPair.Bound)).Text);
        Assert.Equal(2, restorer.Requests);
    }

    [Fact]
    public async Task IdsWithAnyBytesTravelIntact()
    {
        var id = Enumerable.Range(0, 64).Select(i => (byte)(i * 37)).Prepend((byte)0).ToArray();
        var restorer = new OneServiceRestorer(id, new TestServiceImpl());
        await using var server = await VatTests.StartServerAsync(new VatOptions { Restorer = restorer });
        await using var client = await Native.Vat.StartAsync(new VatOptions());

        using var service = await client.ConnectAsync<TestService.Client>(server.GetSturdyRef(id)).WaitAsync(RpcPair.Bound);

        Assert.Equal("binary", (await service.EchoAsync("binary").AsTask().WaitAsync(RpcPair.Bound)).Text);
    }

    [Fact]
    public async Task AClientLeavingBeforeTheRestoreHookAnswersHarmsNothing()
    {
        var id = Encoding.UTF8.GetBytes("slow");
        var gate = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var restorer = new OneServiceRestorer(id, new TestServiceImpl()) { Gate = gate };
        await using var server = await VatTests.StartServerAsync(new VatOptions { Restorer = restorer });
        await using (var leaving = await Native.Vat.StartAsync(new VatOptions()))
        {
            using var service = await leaving.ConnectAsync<TestService.Client>(server.GetSturdyRef(id)).WaitAsync(RpcPair.Bound);
            _ = service.EchoAsync("never answered");
            for (var poll = 0; poll < 100_000 && restorer.Requests == 0; poll++)
            {
                await Task.Yield();
            }

            Assert.Equal(1, restorer.Requests);
        }

        await ServingListenerTests.WaitUntilServingNoneAsync(server);
        gate.SetResult(true);

        await using var client = await Native.Vat.StartAsync(new VatOptions());
        using var next = await client.ConnectAsync<TestService.Client>(server.GetSturdyRef(id)).WaitAsync(RpcPair.Bound);
        Assert.Equal("served", (await next.EchoAsync("served").AsTask().WaitAsync(RpcPair.Bound)).Text);
    }

    [Fact]
    public async Task ASturdyRefOfTheVatItselfResolvesLocally()
    {
        var id = ServiceId.Random();
        var local = new TestServiceImpl();
        var restorer = new OneServiceRestorer(id, local);
        await using var vat = await VatTests.StartServerAsync(new VatOptions { Restorer = restorer });

        using var service = await vat.ConnectAsync<TestService.Client>(vat.GetSturdyRef(id)).WaitAsync(RpcPair.Bound);

        Assert.Equal("local", (await service.EchoAsync("local").AsTask().WaitAsync(RpcPair.Bound)).Text);
        Assert.Equal(0, (await vat.ReadListenerStatisticsAsync()).Accepted);
        Assert.Equal(1, restorer.Requests);
    }
}
