using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Capnp.Native.Rpc;
using Interop;

namespace Capnp.Native.Persistence.Tests;

/// <summary>
/// The one test suite every <see cref="IServiceStore"/> passes (a subclass per store): entries,
/// durability across reopening, concurrency, crash safety with a killed writer process, and the
/// seed's acceptance scenario (persist, restart the server vat, reconnect with the saved URI).
/// </summary>
public abstract class ServiceStoreSuite : IAsyncLifetime
{
    protected static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private readonly List<IServiceStore> opened = [];

    /// <summary>The store kind (<see cref="Stores"/>).</summary>
    protected abstract string Kind { get; }

    /// <summary>Where this test's store lives (fresh for each test).</summary>
    protected abstract string Location { get; }

    public virtual Task InitializeAsync() => Task.CompletedTask;

    public virtual async Task DisposeAsync()
    {
        foreach (var store in opened)
            await Stores.CloseAsync(store);
    }

    /// <summary>Opens (again) this test's store.</summary>
    protected async Task<IServiceStore> OpenAsync()
    {
        var store = await Stores.OpenAsync(Kind, Location).WaitAsync(Bound);
        opened.Add(store);
        return store;
    }

    [Fact]
    public async Task AServiceSavedBeforeTheServerProcessRestartsIsRestoredAfterIt()
    {
        using var folder = new TempFolderForReplicas();
        var keyFile = Path.Combine(folder.Path, "key.pem");
        var identity = VatIdentity.LoadOrCreate(keyFile);
        var store = await OpenAsync();
        var id = await store.AddNewAsync("restarted:"u8.ToArray());
        await using var client = await Vat.StartAsync(new VatOptions());
        SturdyRef saved;
        VatAddress address;
        using (var first = ReplicaProcess.Start(keyFile, Kind, Location))
        {
            address = await first.AddressAsync();
            using var service = await client.ConnectAsync<Interop.Callback.Client>(new SturdyRef(address, identity.Digest, id)).WaitAsync(Bound);
            saved = await service.SaveAsync().WaitAsync(Bound);
        }

        // The same vat, a new process on the same address: the saved URI still works.
        using var second = ReplicaProcess.Start(keyFile, Kind, Location, address);
        Assert.Equal(address, await second.AddressAsync());
        for (var attempt = 0; ; attempt++)
        {
            using var service = await client.ConnectAsync<Interop.Callback.Client>(SturdyRef.Parse(saved.ToString())).WaitAsync(Bound);
            try
            {
                Assert.Equal("restarted:again", (await service.CallAsync("again").AsTask().WaitAsync(Bound)).Reply);
                break;
            }
            catch (RpcDisconnectedException) when (attempt < 1000)
            {
                // The client had not yet dropped its connection to the first process.
                await Task.Yield();
            }
        }
    }

    [Fact]
    public async Task EntriesAreSavedLoadedReplacedAndRemoved()
    {
        var store = await OpenAsync();
        var digest = ServiceDigest.Of("one"u8);
        var other = ServiceDigest.Of("two"u8);

        Assert.Null(await store.LoadAsync(digest));
        Assert.False(await store.RemoveAsync(digest));
        await store.SaveAsync(digest, "first"u8.ToArray());
        await store.SaveAsync(other, Array.Empty<byte>());
        Assert.Equal("first"u8.ToArray(), await store.LoadAsync(digest));
        Assert.Empty((await store.LoadAsync(other))!);

        await store.SaveAsync(digest, "second"u8.ToArray());
        Assert.Equal("second"u8.ToArray(), await store.LoadAsync(digest));

        var big = Program.Entry(7);
        await store.SaveAsync(other, big);
        Assert.Equal(big, await store.LoadAsync(other));

        Assert.True(await store.RemoveAsync(digest));
        Assert.False(await store.RemoveAsync(digest));
        Assert.Null(await store.LoadAsync(digest));
        Assert.Equal(big, await store.LoadAsync(other));
        await Assert.ThrowsAsync<ArgumentNullException>(() => store.SaveAsync(null!, "x"u8.ToArray()).AsTask());
    }

    [Fact]
    public async Task EntriesOutliveTheStoreObjectAndAreSharedByTwoOpenStores()
    {
        var digest = ServiceDigest.Of(ServiceId.Random());
        var first = await OpenAsync();
        await first.SaveAsync(digest, "kept"u8.ToArray());
        await Stores.CloseAsync(first);
        opened.Remove(first);

        var again = await OpenAsync();
        var beside = await OpenAsync();
        Assert.Equal("kept"u8.ToArray(), await again.LoadAsync(digest));
        await beside.SaveAsync(digest, "changed"u8.ToArray());
        Assert.Equal("changed"u8.ToArray(), await again.LoadAsync(digest));
    }

    [Fact]
    public async Task ConcurrentSavesAllLand()
    {
        var store = await OpenAsync();
        var ids = Enumerable.Range(0, 32).Select(i => ServiceDigest.Of(BitConverter.GetBytes(1000 + i))).ToArray();
        await Task.WhenAll(ids.Select((d, i) => store.SaveAsync(d, Encoding.UTF8.GetBytes($"entry {i}")).AsTask())).WaitAsync(Bound);
        for (var i = 0; i < ids.Length; i++)
            Assert.Equal($"entry {i}", Encoding.UTF8.GetString((await store.LoadAsync(ids[i]))!));
    }

    [Fact]
    public async Task AWriterKilledMidWriteLeavesWholeEntriesOnly()
    {
        // The child saves 1 MiB entries in a loop and reports each completed save; it is killed
        // while it writes, then the store is reopened here.
        var start = new ProcessStartInfo("dotnet", [typeof(Program).Assembly.Location, "store-writer", Kind, Location])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var child = Process.Start(start)!;
        var stderr = child.StandardError.ReadToEndAsync();
        var completed = new Dictionary<int, int>();
        using (var timeout = new CancellationTokenSource(Bound * 2))
        {
            while (completed.Values.Sum() < 3 * Program.Keys * 4)
            {
                var line = await child.StandardOutput.ReadLineAsync(timeout.Token)
                    ?? throw new Xunit.Sdk.XunitException($"The writer exited ({await stderr})");
                var parts = line.Split(' ');
                completed[int.Parse(parts[1])] = int.Parse(parts[2]);
            }
        }

        // Killed between two reports, i.e. while saving (or about to).
        child.Kill(entireProcessTree: true);
        await child.WaitForExitAsync().WaitAsync(Bound);
        // Saves it reported after the last line we read also completed.
        while (await child.StandardOutput.ReadLineAsync() is { } late)
        {
            var parts = late.Split(' ');
            if (parts.Length == 3)
                completed[int.Parse(parts[1])] = int.Parse(parts[2]);
        }

        var store = await OpenAsync();
        for (var key = 0; key < Program.Keys; key++)
        {
            var data = await store.LoadAsync(Program.KeyDigest(key));
            Assert.NotNull(data);
            var round = Program.RoundOf(data);
            // The last completed save of this key, or the one after it (written, killed before reporting).
            Assert.True(round == completed[key] || round == completed[key] + Program.Keys,
                $"key {key}: found round {round}, last completed {completed[key]}");
        }

        // The store still works.
        await store.SaveAsync(Program.KeyDigest(0), "after"u8.ToArray());
        Assert.Equal("after"u8.ToArray(), await store.LoadAsync(Program.KeyDigest(0)));
    }

    [Fact]
    public async Task APersistedServiceIsRestoredAfterTheServerVatRestarts()
    {
        var identity = VatIdentity.CreateEphemeral();
        var port = FreeLoopbackPort();
        string savedUri;
        byte[] id;

        // First run: create a service, use it, ask it for its sturdy ref.
        {
            var store = await OpenAsync();
            await using var table = LabelService.Table(store);
            await using var server = await StartServerAsync(identity, port, table);
            id = await store.AddNewAsync("alice:"u8.ToArray());
            await using var client = await Vat.StartAsync(new VatOptions());
            using var alice = await client.ConnectAsync<Callback.Client>(table.GetSturdyRef(id)).WaitAsync(Bound);
            Assert.Equal("alice:1", (await alice.CallAsync("1").AsTask().WaitAsync(Bound)).Reply);
            var saved = await alice.SaveAsync().WaitAsync(Bound);
            Assert.Equal(table.GetSturdyRef(id), saved);
            savedUri = saved.ToString();
            await Stores.CloseAsync(store);
            opened.Remove(store);
        }

        // Second run: a new vat with the same key, store and port; a new client with only the URI.
        {
            var store = await OpenAsync();
            await using var table = LabelService.Table(store);
            await using var server = await StartServerAsync(identity, port, table);
            await using var client = await Vat.StartAsync(new VatOptions());
            using var alice = await client.ConnectAsync<Callback.Client>(SturdyRef.Parse(savedUri)).WaitAsync(Bound);
            Assert.Equal("alice:2", (await alice.CallAsync("2").AsTask().WaitAsync(Bound)).Reply);

            // One sturdy ref never reaches another service: an unknown ID is refused.
            using var stranger = await client.ConnectAsync<Callback.Client>(server.GetSturdyRef(ServiceId.Random())).WaitAsync(Bound);
            var error = await Assert.ThrowsAsync<RpcFailedException>(() => stranger.CallAsync("3").AsTask().WaitAsync(Bound));
            Assert.Equal("Unknown persistent service ID", error.Message);

            // Removing the entry is the only way it goes.
            Assert.True(await store.RemoveAsync(ServiceDigest.Of(id)));
        }
    }

    protected static Task<Vat> StartServerAsync(VatIdentity identity, int port, IRestorer restorer) =>
        Vat.StartAsync(new VatOptions { Identity = identity, ListenAddress = VatAddress.Tcp("127.0.0.1", port), Restorer = restorer });

    protected static int FreeLoopbackPort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
