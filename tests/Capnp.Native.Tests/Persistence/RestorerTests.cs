using System.Text;
using Capnp.Native.Persistence;
using Capnp.Native.Rpc;
using Capnp.Native.Tests.Rpc;
using Capnp.Native.Tests.Vat;
using Interop;

namespace Capnp.Native.Tests.Persistence;

/// <summary>The restorers behind a vat's restore hook: single, table, table with a loader.</summary>
public sealed class RestorerTests
{
    private static readonly TimeSpan Bound = RpcPair.Bound;

    private static async Task<string> CallAsync(Callback.Client client, string value)
        => (await client.CallAsync(value).AsTask().WaitAsync(Bound)).Reply;

    [Fact]
    public async Task ASingleRestorerServesItsIdOnlyAndHoldsTheServiceUntilDisposed()
    {
        var id = ServiceId.Random();
        var service = new PrefixCallback("single:");
        var restorer = new SingleRestorer(id, service);
        await using var server = await VatTests.StartServerAsync(new VatOptions { Restorer = restorer });
        await using var client = await Native.Vat.StartAsync(new VatOptions());

        using (var known = await client.ConnectAsync<Callback.Client>(server.GetSturdyRef(id)).WaitAsync(Bound))
        {
            Assert.Equal("single:a", await CallAsync(known, "a"));
        }

        // Another ID, even one differing in a single bit, is unknown.
        var near = (byte[])id.Clone();
        near[^1] ^= 1;
        using (var unknown = await client.ConnectAsync<Callback.Client>(server.GetSturdyRef(near)).WaitAsync(Bound))
        {
            var error = await Assert.ThrowsAsync<RpcFailedException>(() => CallAsync(unknown, "b"));
            Assert.Equal("Unknown persistent service ID", error.Message);
        }

        // The client released its reference; the restorer still holds one, so the service lives on.
        using (var again = await client.ConnectAsync<Callback.Client>(server.GetSturdyRef(id)).WaitAsync(Bound))
        {
            Assert.Equal("single:c", await CallAsync(again, "c"));
        }

        Assert.False(service.Released.Task.IsCompleted);
        await restorer.DisposeAsync();
        await service.Released.Task.WaitAsync(Bound);
    }

    [Fact]
    public void TheEmptyIdIsRefusedBecauseItIsTheBootstrap()
    {
        Assert.Throws<ArgumentException>(() => new SingleRestorer([], new PrefixCallback("x")));
        using var table = new DisposableTable(new RestorerTable());
        Assert.Throws<ArgumentException>(() => table.Table.Add([], new PrefixCallback("x")));
    }

    [Fact]
    public async Task ARestorerServesOneVatOnly()
    {
        await using var table = new RestorerTable();
        await using var first = await VatTests.StartServerAsync(new VatOptions { Restorer = table });
        await Assert.ThrowsAsync<InvalidOperationException>(() => VatTests.StartServerAsync(new VatOptions { Restorer = table }));
    }

    [Fact]
    public async Task TableServicesAreReachedOnlyByTheirOwnSturdyRefAndOwnedByTheTable()
    {
        var alice = new PrefixCallback("alice:");
        var bob = new PrefixCallback("bob:");
        await using var table = new RestorerTable();
        var aliceId = Encoding.UTF8.GetBytes("alice");
        table.Add(aliceId, alice); // before the vat starts
        await using var server = await VatTests.StartServerAsync(new VatOptions { Restorer = table });
        var bobId = ServiceId.Random();
        table.Add(bobId, bob); // after
        Assert.Throws<ArgumentException>(() => table.Add(bobId, new PrefixCallback("again")));
        await using var client = await Native.Vat.StartAsync(new VatOptions());

        Assert.Equal(server.GetSturdyRef(aliceId), table.GetSturdyRef(aliceId));
        using (var a = await client.ConnectAsync<Callback.Client>(table.GetSturdyRef(aliceId)).WaitAsync(Bound))
        using (var b = await client.ConnectAsync<Callback.Client>(table.GetSturdyRef(bobId)).WaitAsync(Bound))
        {
            Assert.Equal("alice:1", await CallAsync(a, "1"));
            Assert.Equal("bob:2", await CallAsync(b, "2"));
        }

        Assert.Equal(1, alice.Calls);
        Assert.Equal(1, bob.Calls);

        // Removing releases the table's reference (and no client holds one): bob's release hook runs.
        Assert.True(table.Remove(bobId));
        Assert.False(table.Remove(bobId));
        await bob.Released.Task.WaitAsync(Bound);
        using (var gone = await client.ConnectAsync<Callback.Client>(table.GetSturdyRef(bobId)).WaitAsync(Bound))
        {
            var error = await Assert.ThrowsAsync<RpcFailedException>(() => CallAsync(gone, "3"));
            Assert.Equal("Unknown persistent service ID", error.Message);
        }

        Assert.False(alice.Released.Task.IsCompleted);
        table.Clear();
        await alice.Released.Task.WaitAsync(Bound);
        Assert.Equal(0, table.Count);
    }

    [Fact]
    public void ASturdyRefNeedsTheVat()
    {
        using var table = new DisposableTable(new RestorerTable());
        Assert.Throws<InvalidOperationException>(() => table.Table.GetSturdyRef([1, 2, 3]));
    }

    /// <summary>A loader that counts its loads, can be held at a gate, and can be told to fail.</summary>
    private sealed class CountingLoader
    {
        private int loads;

        public int Loads => Volatile.Read(ref loads);

        public TaskCompletionSource? Gate { get; set; }

        public Exception? FailNext { get; set; }

        public List<PrefixCallback> Made { get; } = [];

        public TaskCompletionSource FirstLoadStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public HashSet<ServiceDigest> Known { get; } = [];

        public TaskCompletionSource FirstMade { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async ValueTask<ICallTarget?> LoadAsync(SturdyRef sturdyRef, ServiceDigest digest, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref loads);
            FirstLoadStarted.TrySetResult();
            Assert.True(digest.Matches(sturdyRef.ServiceId.Span));
            if (Gate is { } gate)
                await gate.Task.WaitAsync(cancellationToken);
            if (FailNext is { } failure)
            {
                FailNext = null;
                throw failure;
            }

            if (!Known.Contains(digest))
                return null;
            var made = new PrefixCallback($"loaded{Loads}:");
            lock (Made)
                Made.Add(made);
            FirstMade.TrySetResult();
            return made;
        }
    }

    [Fact]
    public async Task ALoadedServiceIsCachedWhileHeldAndLoadedAgainAfterItsRelease()
    {
        var loader = new CountingLoader();
        var id = ServiceId.Random();
        loader.Known.Add(ServiceDigest.Of(id));
        await using var table = new RestorerTable(loader.LoadAsync);
        await using var server = await VatTests.StartServerAsync(new VatOptions { Restorer = table });
        await using var client = await Native.Vat.StartAsync(new VatOptions());

        var first = await client.ConnectAsync<Callback.Client>(table.GetSturdyRef(id)).WaitAsync(Bound);
        Assert.Equal("loaded1:a", await CallAsync(first, "a"));
        // A second restore while the first is held: the same live service, no second load.
        using (var second = await server.ConnectAsync<Callback.Client>(table.GetSturdyRef(id)).WaitAsync(Bound))
        {
            Assert.Equal("loaded1:b", await CallAsync(second, "b"));
        }

        Assert.Equal(1, loader.Loads);
        Assert.True(table.IsLoaded(ServiceDigest.Of(id)));

        // Every reference released: the entry is dropped (before the service's own release hook runs).
        first.Dispose();
        await loader.Made[0].Released.Task.WaitAsync(Bound);
        Assert.False(table.IsLoaded(ServiceDigest.Of(id)));

        using var third = await client.ConnectAsync<Callback.Client>(table.GetSturdyRef(id)).WaitAsync(Bound);
        Assert.Equal("loaded2:c", await CallAsync(third, "c"));
        Assert.Equal(2, loader.Loads);
    }

    [Fact]
    public async Task ConcurrentRestoresOfOneIdShareOneLoad()
    {
        var loader = new CountingLoader { Gate = new(TaskCreationOptions.RunContinuationsAsynchronously) };
        var id = ServiceId.Random();
        loader.Known.Add(ServiceDigest.Of(id));
        await using var table = new RestorerTable(loader.LoadAsync);
        await using var server = await VatTests.StartServerAsync(new VatOptions { Restorer = table });

        var restores = Enumerable.Range(0, 8)
            .Select(_ => table.RestoreAsync(id, CancellationToken.None).AsTask())
            .ToArray();
        await loader.FirstLoadStarted.Task.WaitAsync(Bound);
        Assert.All(restores, r => Assert.False(r.IsCompleted));
        loader.Gate.SetResult();
        var services = await Task.WhenAll(restores).WaitAsync(Bound);

        Assert.Equal(1, loader.Loads);
        Assert.Single(loader.Made);
        foreach (var service in services)
        {
            using var client = Callback.Client.Create(service!);
            Assert.Equal("loaded1:x", await CallAsync(client, "x"));
        }

        Assert.Equal(8, loader.Made[0].Calls);
        await loader.Made[0].Released.Task.WaitAsync(Bound);
        Assert.False(table.IsLoaded(ServiceDigest.Of(id)));
    }

    [Fact]
    public async Task ALoadEveryRequesterGaveUpOnIsNotHeld()
    {
        var loader = new CountingLoader { Gate = new(TaskCreationOptions.RunContinuationsAsynchronously) };
        var id = ServiceId.Random();
        loader.Known.Add(ServiceDigest.Of(id));
        await using var table = new RestorerTable(loader.LoadAsync);
        await using var server = await VatTests.StartServerAsync(new VatOptions { Restorer = table });

        using var giveUp = new CancellationTokenSource();
        var restore = table.RestoreAsync(id, giveUp.Token).AsTask();
        await loader.FirstLoadStarted.Task.WaitAsync(Bound);
        giveUp.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => restore);
        loader.Gate.SetResult();

        // The load finishes with nobody waiting: the service is released and the entry dropped.
        await loader.FirstMade.Task.WaitAsync(Bound);
        await Assert.Single(loader.Made).Released.Task.WaitAsync(Bound);
        Assert.False(table.IsLoaded(ServiceDigest.Of(id)));
    }

    [Fact]
    public async Task FailedAndEmptyLoadsAreNotCached()
    {
        var loader = new CountingLoader { FailNext = new RpcOverloadedException("database busy") };
        var id = ServiceId.Random();
        await using var table = new RestorerTable(loader.LoadAsync);
        await using var server = await VatTests.StartServerAsync(new VatOptions { Restorer = table });
        await using var client = await Native.Vat.StartAsync(new VatOptions());

        using (var failing = await client.ConnectAsync<Callback.Client>(table.GetSturdyRef(id)).WaitAsync(Bound))
        {
            var error = await Assert.ThrowsAsync<RpcOverloadedException>(() => CallAsync(failing, "a"));
            Assert.Equal("database busy", error.Message);
        }

        using (var unknown = await client.ConnectAsync<Callback.Client>(table.GetSturdyRef(id)).WaitAsync(Bound))
        {
            var error = await Assert.ThrowsAsync<RpcFailedException>(() => CallAsync(unknown, "b"));
            Assert.Equal("Unknown persistent service ID", error.Message);
        }

        Assert.False(table.IsLoaded(ServiceDigest.Of(id)));
        loader.Known.Add(ServiceDigest.Of(id));
        using var found = await client.ConnectAsync<Callback.Client>(table.GetSturdyRef(id)).WaitAsync(Bound);
        Assert.Equal("loaded3:c", await CallAsync(found, "c"));
        Assert.Equal(3, loader.Loads);
    }

    [Fact]
    public async Task AddedServicesComeBeforeTheLoaderAndRemoveForgetsALoadedOne()
    {
        var loader = new CountingLoader();
        var staticId = ServiceId.Random();
        var loadedId = ServiceId.Random();
        loader.Known.Add(ServiceDigest.Of(staticId));
        loader.Known.Add(ServiceDigest.Of(loadedId));
        await using var table = new RestorerTable(loader.LoadAsync);
        table.Add(staticId, new PrefixCallback("static:"));
        await using var server = await VatTests.StartServerAsync(new VatOptions { Restorer = table });

        using var fixedOne = await server.ConnectAsync<Callback.Client>(table.GetSturdyRef(staticId)).WaitAsync(Bound);
        Assert.Equal("static:a", await CallAsync(fixedOne, "a"));
        Assert.Equal(0, loader.Loads);

        using var held = await server.ConnectAsync<Callback.Client>(table.GetSturdyRef(loadedId)).WaitAsync(Bound);
        Assert.Equal("loaded1:b", await CallAsync(held, "b"));
        Assert.True(table.Remove(loadedId));
        Assert.False(table.IsLoaded(ServiceDigest.Of(loadedId)));
        // A client holding it keeps it; its release still goes to the service.
        Assert.Equal("loaded1:c", await CallAsync(held, "c"));
        held.Dispose();
        await loader.Made[0].Released.Task.WaitAsync(Bound);
    }

    /// <summary>Disposes a table synchronously in tests that never attach it.</summary>
    private sealed class DisposableTable(RestorerTable table) : IDisposable
    {
        public RestorerTable Table { get; } = table;

        public void Dispose() => Table.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}
