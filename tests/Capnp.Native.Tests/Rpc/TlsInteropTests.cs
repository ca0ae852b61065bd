using Capnp.Native.Rpc;
using Capnp.Native.Tests.Vat;
using Interop;

namespace Capnp.Native.Tests.Rpc;

/// <summary>
/// TLS by key fingerprint and services by ID across the process and language boundary: our vat
/// and the C++ peer vat (tests/interop, our native/src/tls compiled in) reach each other's
/// services by their capnp:// URIs, over TLS and insecure, and refuse forged fingerprints.
/// </summary>
public sealed class TlsInteropTests
{
    private static readonly byte[] MainId = "main"u8.ToArray();

    /// <summary>Serves a fresh TestService for one ID; counts the requests for it.</summary>
    private sealed class MainServiceRestorer : IRestorer
    {
        private int restored;

        public int Restored => Volatile.Read(ref restored);

        public ValueTask<ICallTarget?> RestoreAsync(ReadOnlyMemory<byte> serviceId, CancellationToken cancellationToken)
        {
            if (!serviceId.Span.SequenceEqual(MainId))
            {
                return ValueTask.FromResult<ICallTarget?>(null);
            }

            Interlocked.Increment(ref restored);
            return ValueTask.FromResult<ICallTarget?>(new TestServiceImpl());
        }
    }

    /// <summary>A folder for a key file or a socket, deleted with everything in it.</summary>
    private sealed class TempFolder : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("capnp-tls-interop-").FullName;

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }

    private static string ListenAddress(string transport, TempFolder folder)
        => transport == "unix" ? "unix:" + System.IO.Path.Combine(folder.Path, "vat.sock") : "tcp:127.0.0.1:0";

    private static Task<Native.Vat> StartCSharpVatAsync(MainServiceRestorer restorer, bool tls, bool requireClientCertificate = false)
        => VatTests.StartServerAsync(new VatOptions
        {
            Restorer = restorer,
            DisableTls = !tls,
            RequireClientCertificate = requireClientCertificate,
        });

    private static async Task WaitForHandshakeFailuresAsync(Native.Vat vat, long count)
    {
        for (var poll = 0; poll < 100_000 && (await vat.ReadListenerStatisticsAsync()).HandshakeFailures < count; poll++)
        {
            await Task.Yield();
        }

        Assert.Equal(count, (await vat.ReadListenerStatisticsAsync()).HandshakeFailures);
    }

    [Theory]
    [InlineData("tcp", true)]
    [InlineData("unix", true)]
    [InlineData("tcp", false)]
    [InlineData("unix", false)]
    public async Task OurVatReachesTheCppVatsBootstrapAndNamedServiceByItsUri(string transport, bool tls)
    {
        using var folder = new TempFolder();
        var keyFile = System.IO.Path.Combine(folder.Path, "key.pem");
        List<string> options = ["--service", "main", "--service", "other"];
        if (tls)
        {
            options.AddRange(["--tls-key", keyFile]);
        }

        await using var cpp = await InteropVat.ServeAsync(ListenAddress(transport, folder), options);
        var sturdyRef = SturdyRef.Parse(cpp.Uri!);
        if (tls)
        {
            // The C++ vat created the key; its URI names the fingerprint our rules give that key.
            Assert.Equal(VatIdentity.Load(keyFile).Digest, sturdyRef.Digest);
        }
        else
        {
            Assert.StartsWith("capnp://insecure@", cpp.Uri);
            Assert.True(sturdyRef.Digest.IsInsecure);
        }

        Assert.True(sturdyRef.ServiceId.IsEmpty);
        await using var client = await Native.Vat.StartAsync(new VatOptions());

        using var bootstrap = await client.ConnectAsync<TestService.Client>(sturdyRef).WaitAsync(RpcPair.Bound);
        Assert.Equal("héllo", (await bootstrap.EchoAsync("héllo").AsTask().WaitAsync(RpcPair.Bound)).Text);
        using var main = await client.ConnectAsync<TestService.Client>(sturdyRef.WithServiceId(MainId)).WaitAsync(RpcPair.Bound);
        Assert.Equal("main", (await main.EchoAsync("main").AsTask().WaitAsync(RpcPair.Bound)).Text);
        Assert.Equal(long.MinValue, (await main.AddAsync(long.MaxValue, 1).AsTask().WaitAsync(RpcPair.Bound)).Sum);
        using var other = await client.ConnectAsync<TestService.Client>(sturdyRef.WithServiceId("other"u8)).WaitAsync(RpcPair.Bound);
        Assert.Equal("other", (await other.EchoAsync("other").AsTask().WaitAsync(RpcPair.Bound)).Text);

        // The C++ restorer looks the ID up: one it does not serve fails as the seed says.
        using var unknown = await client.ConnectAsync<TestService.Client>(sturdyRef.WithServiceId("nobody"u8)).WaitAsync(RpcPair.Bound);
        var error = await Assert.ThrowsAsync<RpcFailedException>(() => unknown.EchoAsync("nobody").AsTask().WaitAsync(RpcPair.Bound));
        Assert.Equal("Unknown persistent service ID", error.Message);

        if (tls)
        {
            // Our client presented its vat's key, and the C++ server saw its fingerprint.
            await cpp.WaitForStandardErrorAsync($"client {client.Identity.Digest}");
        }
    }

    public static TheoryData<string, bool> CppClientScenarios()
    {
        var data = new TheoryData<string, bool>();
        foreach (var scenario in InteropTests.CppClientScenarios)
        {
            data.Add(scenario, true);
            data.Add(scenario, false);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(CppClientScenarios))]
    public async Task TheCppClientRestoresOurServiceByItsUriAndItsScenarioPasses(string scenario, bool tls)
    {
        var restorer = new MainServiceRestorer();
        await using var vat = await StartCSharpVatAsync(restorer, tls);
        var uri = vat.GetSturdyRef(MainId).ToString();
        Assert.Equal(tls, uri.StartsWith("capnp://sha-256:", StringComparison.Ordinal));

        var (exitCode, output) = await InteropVat.RunClientByUriAsync(uri, scenario);

        Assert.True(exitCode == 0, output);
        Assert.Contains($"PASS {scenario}", output);
        // It came by the ID (the vat has no bootstrap to fall back on).
        Assert.True(restorer.Restored >= 1);
        Assert.Equal(0, (await vat.ReadListenerStatisticsAsync()).HandshakeFailures);
    }

    [Fact]
    public async Task TheCppClientGetsUnknownServiceIdFromOurVatForAnIdItDoesNotServe()
    {
        var restorer = new MainServiceRestorer();
        await using var vat = await StartCSharpVatAsync(restorer, tls: true);

        var (exitCode, output) = await InteropVat.RunClientByUriAsync(vat.GetSturdyRef("nobody"u8).ToString(), "echo");

        Assert.True(exitCode == 1, output);
        Assert.Contains("FAIL echo: echo(\"héllo\") failed with FAILED: remote exception: Unknown persistent service ID", output);
        Assert.Equal(0, restorer.Restored);
    }

    [Fact]
    public async Task OurClientRefusesTheCppVatUnderAForgedFingerprint()
    {
        using var folder = new TempFolder();
        await using var cpp = await InteropVat.ServeAsync("tcp:127.0.0.1:0", ["--tls-key", System.IO.Path.Combine(folder.Path, "key.pem")]);
        var genuine = SturdyRef.Parse(cpp.Uri!);
        var forged = new SturdyRef(genuine.Address, VatIdentity.CreateEphemeral().Digest, default);
        await using var client = await Native.Vat.StartAsync(new VatOptions());

        var error = await Assert.ThrowsAsync<PeerAuthenticationException>(() => client.ConnectAsync<TestService.Client>(forged).WaitAsync(RpcPair.Bound));

        Assert.Contains("fingerprint mismatch", error.Message);
        // The C++ server saw our alert; the genuine URI still works.
        await cpp.WaitForStandardErrorAsync("TLS handshake failed");
        using var service = await client.ConnectAsync<TestService.Client>(genuine).WaitAsync(RpcPair.Bound);
        Assert.Equal("genuine", (await service.EchoAsync("genuine").AsTask().WaitAsync(RpcPair.Bound)).Text);
    }

    [Fact]
    public async Task TheCppClientRefusesOurVatUnderAForgedFingerprint()
    {
        var restorer = new MainServiceRestorer();
        await using var vat = await StartCSharpVatAsync(restorer, tls: true);
        var forged = new SturdyRef(vat.ListenAddress!, VatIdentity.CreateEphemeral().Digest, MainId);

        var (exitCode, output) = await InteropVat.RunClientByUriAsync(forged.ToString(), "echo");

        Assert.True(exitCode == 1, output);
        Assert.Contains("FAIL echo: TLS handshake with tcp:127.0.0.1:", output);
        Assert.Contains($"TLS authentication failed: server key fingerprint mismatch (expected {forged.Digest}, got {vat.Digest})", output);
        await WaitForHandshakeFailuresAsync(vat, 1);
        Assert.Equal(0, restorer.Restored);
    }

    [Fact]
    public async Task TheCppClientWithoutACertificateIsServedAsAnonymous()
    {
        var restorer = new MainServiceRestorer();
        await using var vat = await StartCSharpVatAsync(restorer, tls: true);

        var (exitCode, output) = await InteropVat.RunClientByUriAsync(vat.GetSturdyRef(MainId).ToString(), "callback", "--client-certificate", "none");

        Assert.True(exitCode == 0, output);
        Assert.Contains("PASS callback", output);
        var statistics = await vat.ReadListenerStatisticsAsync();
        Assert.Equal(1, statistics.Accepted);
        Assert.Equal(0, statistics.HandshakeFailures);
        Assert.Equal(1, restorer.Restored);
    }

    [Fact]
    public async Task TheCppClientWithoutACertificateIsRefusedWhenOurVatRequiresOne()
    {
        var restorer = new MainServiceRestorer();
        await using var vat = await StartCSharpVatAsync(restorer, tls: true, requireClientCertificate: true);
        var uri = vat.GetSturdyRef(MainId).ToString();

        var (exitCode, output) = await InteropVat.RunClientByUriAsync(uri, "echo", "--client-certificate", "none");

        Assert.True(exitCode == 1, output);
        Assert.Contains("FAIL echo: ", output);
        await WaitForHandshakeFailuresAsync(vat, 1);
        Assert.Equal(0, restorer.Restored);
        // With its (ephemeral) certificate the same client is served.
        var (withCertificate, served) = await InteropVat.RunClientByUriAsync(uri, "echo");
        Assert.True(withCertificate == 0, served);
        Assert.Equal(1, restorer.Restored);
    }
}
