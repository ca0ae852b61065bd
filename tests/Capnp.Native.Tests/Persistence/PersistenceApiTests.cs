using Capnp.Native.Persistence;
using Capnp.Native.Rpc;
using Capnp.Native.Tests.Rpc;
using Capnp.Native.Tests.Vat;
using Interop;

namespace Capnp.Native.Tests.Persistence;

/// <summary>The Persistence API (Persistent.save), cap-file helpers and service digests.</summary>
public sealed class PersistenceApiTests
{
    private static readonly TimeSpan Bound = RpcPair.Bound;

    [Fact]
    public async Task AServiceWithItsSturdyRefAnswersSaveAndTheSavedRefRestoresIt()
    {
        await using var table = new RestorerTable();
        await using var server = await VatTests.StartServerAsync(new VatOptions { Restorer = table });
        var id = ServiceId.Random();
        var inner = new PrefixCallback("saved:");
        table.Add(id, SturdyRefs.WithSturdyRef(table.GetSturdyRef(id), inner));
        // The bootstrap (a plain TestService) does not implement Persistent.
        await using var client = await Native.Vat.StartAsync(new VatOptions());

        SturdyRef saved;
        using (var live = await client.ConnectAsync<Callback.Client>(table.GetSturdyRef(id)).WaitAsync(Bound))
        {
            Assert.Equal("saved:a", (await live.CallAsync("a").AsTask().WaitAsync(Bound)).Reply);
            saved = await live.SaveAsync().WaitAsync(Bound);
        }

        Assert.Equal(table.GetSturdyRef(id), saved);
        Assert.False(saved.Digest.IsInsecure);
        using var restored = await client.ConnectAsync<Callback.Client>(SturdyRef.Parse(saved.ToString())).WaitAsync(Bound);
        Assert.Equal("saved:b", (await restored.CallAsync("b").AsTask().WaitAsync(Bound)).Reply);

        // The wrapper's release hook is the service's.
        restored.Dispose();
        Assert.True(table.Remove(id));
        await inner.Released.Task.WaitAsync(Bound);
    }

    [Fact]
    public async Task AServiceWithoutThePersistenceApiAnswersUnimplemented()
    {
        await using var server = await VatTests.StartServerAsync();
        await using var client = await Native.Vat.StartAsync(new VatOptions());
        using var plain = await client.ConnectAsync<TestService.Client>(server.GetSturdyRef()).WaitAsync(Bound);

        await Assert.ThrowsAsync<RpcUnimplementedException>(() => plain.SaveAsync().WaitAsync(Bound));
        Assert.Equal("still here", (await plain.EchoAsync("still here").AsTask().WaitAsync(Bound)).Text);
    }

    [Fact]
    public async Task CapFileHelpersSaveAServiceAndConnectFromTheFileOrTheUri()
    {
        using var folder = new TempFolder();
        var id = ServiceId.Random();
        await using var restorer = new SingleRestorer(id, new PrefixCallback("capfile:"));
        await using var server = await VatTests.StartServerAsync(new VatOptions { Restorer = restorer });
        await using var client = await Native.Vat.StartAsync(new VatOptions());
        var path = folder.File("service.cap");

        var saved = await CapFile.SaveServiceAsync(server, id, path);

        Assert.Equal(saved + "\n", await File.ReadAllTextAsync(path));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        using (var fromFile = await CapFile.LoadAsync<Callback.Client>(client, path).WaitAsync(Bound))
        {
            Assert.Equal("capfile:f", (await fromFile.CallAsync("f").AsTask().WaitAsync(Bound)).Reply);
        }

        using (var fromUri = await CapFile.LoadAsync<Callback.Client>(client, saved.ToString()).WaitAsync(Bound))
        {
            Assert.Equal("capfile:u", (await fromUri.CallAsync("u").AsTask().WaitAsync(Bound)).Reply);
        }

        await File.WriteAllTextAsync(folder.File("bad.cap"), "capnp://nowhere\n");
        await Assert.ThrowsAsync<CapFileException>(() => CapFile.LoadAsync<Callback.Client>(client, folder.File("bad.cap")));
    }

    [Fact]
    public void DigestsAreSha256ComparedByValueAndTheirTextIsAFileNameOrRefused()
    {
        var id = "main"u8.ToArray();
        var digest = ServiceDigest.Of(id);
        Assert.Equal(System.Security.Cryptography.SHA256.HashData(id), digest.ToArray());
        Assert.Equal(ServiceDigest.TextLength, digest.ToString().Length);
        Assert.Equal(digest, ServiceDigest.Parse(digest.ToString()));
        Assert.Equal(digest, ServiceDigest.FromBytes(digest.Bytes));
        Assert.NotEqual(digest, ServiceDigest.Of("mainx"u8));
        Assert.True(digest.Matches(id));
        Assert.False(digest.Matches("maim"u8));

        foreach (var hostile in new[] { "", ".", "..", "../../../../etc/passwd", "a/b", new string('A', 42), new string('A', 44),
                     digest + "=", digest.ToString()[..42] + "/", digest.ToString()[..42] + ".", new string('A', 42) + "B" })
        {
            Assert.Throws<FormatException>(() => ServiceDigest.Parse(hostile));
        }

        Assert.Throws<ArgumentException>(() => ServiceDigest.FromBytes(new byte[31]));
    }
}
