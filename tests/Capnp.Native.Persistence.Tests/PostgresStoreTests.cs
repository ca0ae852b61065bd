using Capnp.Native.Persistence.Postgres;
using Interop;

namespace Capnp.Native.Persistence.Tests;

/// <summary>The suite on the PostgreSQL store (a real server), and the replica scenario.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresStoreTests(PostgresServer server) : ServiceStoreSuite
{
    private readonly string table = "t_" + Guid.NewGuid().ToString("N");

    protected override string Kind => Stores.Postgres;

    protected override string Location => $"{server.ConnectionString}|{table}";

    [Fact]
    public async Task AServiceSavedThroughOneReplicaIsRestoredThroughAnother()
    {
        // Two vats with one identity (as behind one address) and one shared table.
        var identity = VatIdentity.CreateEphemeral();
        var storeA = await OpenAsync();
        var storeB = await OpenAsync();
        await using var tableA = LabelService.Table(storeA);
        await using var tableB = LabelService.Table(storeB);
        await using var replicaA = await StartServerAsync(identity, FreeLoopbackPort(), tableA);
        await using var replicaB = await StartServerAsync(identity, FreeLoopbackPort(), tableB);
        await using var client = await Vat.StartAsync(new VatOptions());

        // Created and saved through A...
        var id = await storeA.AddNewAsync("replicated:"u8.ToArray());
        SturdyRef saved;
        using (var throughA = await client.ConnectAsync<Callback.Client>(tableA.GetSturdyRef(id)).WaitAsync(Bound))
        {
            Assert.Equal("replicated:a", (await throughA.CallAsync("a").AsTask().WaitAsync(Bound)).Reply);
            saved = await throughA.SaveAsync().WaitAsync(Bound);
        }

        // ...restored through B, which never saw it: same key, same ID, B's address.
        var atB = new SturdyRef(replicaB.ListenAddress!, saved.Digest, saved.ServiceId.Span);
        Assert.Equal(replicaB.GetSturdyRef(id), atB);
        using var throughB = await client.ConnectAsync<Callback.Client>(atB).WaitAsync(Bound);
        Assert.Equal("replicated:b", (await throughB.CallAsync("b").AsTask().WaitAsync(Bound)).Reply);
        Assert.Equal(atB, await throughB.SaveAsync().WaitAsync(Bound));
        Assert.True(tableB.IsLoaded(ServiceDigest.Of(id)));
    }

    [Fact]
    public async Task AServiceSavedThroughOneReplicaProcessIsRestoredThroughAnother()
    {
        // Two vat processes with one key file and one table, as replicas behind one address.
        using var folder = new TempFolderForReplicas();
        var keyFile = Path.Combine(folder.Path, "replica-key.pem");
        var identity = VatIdentity.LoadOrCreate(keyFile);
        // The table exists before the replicas start, and they start one after the other: one CI
        // run saw replica A exit before listening while both created the new table at once (the
        // replica's error output is now in the failure message).
        var store = await OpenAsync();
        using var replicaA = ReplicaProcess.Start(keyFile, Kind, Location);
        var addressA = await replicaA.AddressAsync();
        using var replicaB = ReplicaProcess.Start(keyFile, Kind, Location);
        var addressB = await replicaB.AddressAsync();
        await using var client = await Vat.StartAsync(new VatOptions());

        // Created in the shared store, saved through A...
        var id = await store.AddNewAsync("across processes:"u8.ToArray());
        SturdyRef saved;
        using (var throughA = await client.ConnectAsync<Callback.Client>(new SturdyRef(addressA, identity.Digest, id)).WaitAsync(Bound))
        {
            Assert.Equal("across processes:a", (await throughA.CallAsync("a").AsTask().WaitAsync(Bound)).Reply);
            saved = await throughA.SaveAsync().WaitAsync(Bound);
        }

        Assert.Equal(new SturdyRef(addressA, identity.Digest, id), saved);
        // ...restored through B, another process that never served it.
        using var throughB = await client.ConnectAsync<Callback.Client>(new SturdyRef(addressB, saved.Digest, saved.ServiceId.Span)).WaitAsync(Bound);
        Assert.Equal("across processes:b", (await throughB.CallAsync("b").AsTask().WaitAsync(Bound)).Reply);
    }

    [Fact]
    public async Task AnUnreachableDatabaseFailsWithAStoreError()
    {
        await Assert.ThrowsAsync<ServiceStoreException>(() =>
            PostgresServiceStore.OpenAsync("Host=127.0.0.1;Port=1;Username=capnp;Timeout=5", "t_unreachable"));
        await Assert.ThrowsAsync<ArgumentException>(() =>
            PostgresServiceStore.OpenAsync(server.ConnectionString, "services; DROP TABLE x"));
    }
}
