using System.Text.RegularExpressions;

namespace Capnp.Native.Examples.Tests;

/// <summary>Each step of the seed's tutorial, run as its example program, prints what the tutorial shows.</summary>
public sealed partial class TutorialTests
{
    private static readonly string[] ThreeCallbacks = [.. Enumerable.Repeat("Callback got \"foo\"", 3)];

    /// <summary>A TLS sturdy ref of a vat on loopback TCP: key fingerprint, address, service ID (all base64url).</summary>
    [GeneratedRegex(@"^capnp://sha-256:[A-Za-z0-9_-]{43}@127\.0\.0\.1:[0-9]+/[A-Za-z0-9_-]{43}$")]
    internal static partial Regex TlsSturdyRef();

    /// <summary>Like <see cref="TlsSturdyRef"/>, for a service with a random ID (20 bytes) rather than a derived one.</summary>
    [GeneratedRegex(@"^capnp://sha-256:[A-Za-z0-9_-]{43}@127\.0\.0\.1:[0-9]+/[A-Za-z0-9_-]{27}$")]
    internal static partial Regex RandomIdSturdyRef();

    [Fact]
    public async Task V1CallsTheLocalEchoService()
    {
        using var folder = new TempFolder();
        await using var example = ExampleProcess.Start("v1", folder.Path);

        var output = await example.WaitForSuccessAsync();

        Assert.Equal(["Got reply \"echo:foo\""], output);
        Assert.Empty(example.Errors);
    }

    [Fact]
    public async Task V2TheEchoServiceCallsTheClientsCallbackThreeTimes()
    {
        using var folder = new TempFolder();
        await using var example = ExampleProcess.Start("v2", folder.Path);

        var output = await example.WaitForSuccessAsync();

        Assert.Equal(ThreeCallbacks, output);
        Assert.Empty(example.Errors);
    }

    [Fact]
    public async Task V3TheClientVatReachesTheServerVatByItsSturdyRefOverTls()
    {
        using var folder = new TempFolder();
        await using var example = ExampleProcess.Start("v3", folder.Path);

        var output = await example.WaitForSuccessAsync();

        Assert.Equal(4, output.Count);
        const string Prefix = "Connecting to echo service at: ";
        Assert.StartsWith(Prefix, output[0]);
        Assert.Matches(TlsSturdyRef(), output[0][Prefix.Length..]);
        Assert.Equal(ThreeCallbacks, output.Skip(1));
    }

    [Fact]
    public async Task V3NetworkedExamplesWriteNothingToStandardError()
    {
        using var folder = new TempFolder();
        await using var example = ExampleProcess.Start("v3", folder.Path);

        await example.WaitForSuccessAsync();

        Assert.Empty(example.Errors);
    }

    [Fact]
    public async Task V4TheClientProcessReachesTheServerProcessThroughItsCapFile()
    {
        using var folder = new TempFolder();
        await using var server = ExampleProcess.Start("v4/server", folder.Path,
            "--capnp-secret-key-file", "key.pem", "--capnp-listen-address", "tcp:127.0.0.1:0");
        await server.WaitForLineAsync(line => line == "Server running. Connect using \"echo.cap\".", "saying the server runs");
        var uri = File.ReadAllText(folder.File("echo.cap")).TrimEnd('\n');
        Assert.Matches(TlsSturdyRef(), uri);
        Assert.True(File.Exists(folder.File("key.pem")));

        await using (var client = ExampleProcess.Start("v4/client", folder.Path, "echo.cap"))
        {
            Assert.Equal(ThreeCallbacks, await client.WaitForSuccessAsync());
        }

        // The server outlives its first client; the URI itself works as well as the file.
        await using (var client = ExampleProcess.Start("v4/client", folder.Path, uri))
        {
            Assert.Equal(ThreeCallbacks, await client.WaitForSuccessAsync());
        }

        Assert.Equal(0, await server.TerminateAsync());
    }

    [Fact]
    public async Task V4TheClientReportsAnUnreachableServerWithoutItsSecret()
    {
        using var folder = new TempFolder();
        var nobody = $"capnp://insecure@{folder.File("nobody.socket")}/c2VjcmV0";
        await using var client = ExampleProcess.Start("v4/client", folder.Path, nobody);

        Assert.Equal(1, await client.WaitForExitAsync());
        Assert.Empty(client.Output);
        Assert.StartsWith($"capnp://insecure@{folder.File("nobody.socket")}/<redacted>: ", client.Errors);
        Assert.DoesNotContain("c2VjcmV0", client.Errors);
    }

    [Fact]
    public async Task V4TheClientReportsAMissingCapFile()
    {
        using var folder = new TempFolder();
        await using var client = ExampleProcess.Start("v4/client", folder.Path, "missing.cap");

        Assert.Equal(1, await client.WaitForExitAsync());
        Assert.StartsWith("Cap file 'missing.cap': cannot read it", client.Errors);
    }

    [Fact]
    public async Task PipeliningTheClientCallsTheServersLoggerBeforeItArrives()
    {
        using var folder = new TempFolder();
        await using var example = ExampleProcess.Start("pipelining", folder.Path);

        var output = await example.WaitForSuccessAsync();

        Assert.Equal(["[client] Connecting to echo service...", "[server] Received \"Message from client\""], output);
    }

    [Fact]
    public async Task SturdyRefsOneVatServesTwoLoggersEachByItsOwnCapFile()
    {
        using var folder = new TempFolder();
        await using var example = ExampleProcess.Start("sturdy-refs", folder.Path);

        var output = await example.WaitForSuccessAsync();

        Assert.Equal(
        [
            "[server] saved \"alice.cap\"",
            "[server] saved \"bob.cap\"",
            "[client] loaded \"./alice.cap\"",
            "[server] \"alice\" says \"Message from Alice\"",
            "[client] loaded \"./bob.cap\"",
            "[server] \"bob\" says \"Message from Bob\"",
        ], output);
        var alice = File.ReadAllText(folder.File("alice.cap")).TrimEnd('\n');
        var bob = File.ReadAllText(folder.File("bob.cap")).TrimEnd('\n');
        Assert.Matches(TlsSturdyRef(), alice);
        Assert.Matches(TlsSturdyRef(), bob);
        // The same vat, two services.
        Assert.Equal(alice[..alice.LastIndexOf('/')], bob[..bob.LastIndexOf('/')]);
        Assert.NotEqual(alice, bob);
    }

    [Fact]
    public async Task SturdyRefs2TheRootLoggerMakesSubLoggersForAliceAndBob()
    {
        using var folder = new TempFolder();
        await using var example = ExampleProcess.Start("sturdy-refs-2", folder.Path);

        var output = await example.WaitForSuccessAsync();

        Assert.Equal(
        [
            "[server] \"root\" says \"Message from Admin\"",
            "[server] \"root/alice\" says \"Message from Alice\"",
            "[server] \"root/bob\" says \"Message from Bob\"",
        ], output);
        Assert.Empty(example.Errors);
    }

    [Fact]
    public async Task SturdyRefs3AliceReachesTheSubLoggerTheAdminSavedThroughItsCapFile()
    {
        using var folder = new TempFolder();
        await using var example = ExampleProcess.Start("sturdy-refs-3", folder.Path);

        var output = await example.WaitForSuccessAsync();

        Assert.Equal(["[server] \"root\" says \"Message from Admin\"", "[server] \"root/alice\" says \"Message from Alice\""], output);
        Assert.Empty(example.Errors);
        // What Persistent.save answered: the server's address and key, and a random 20-byte ID.
        Assert.Matches(RandomIdSturdyRef(), File.ReadAllText(folder.File("alice.cap")).TrimEnd('\n'));
    }

    [Fact]
    public async Task CalcTheClientProcessEvaluatesFortyPlusTwoWithTheServerProcessOverAUnixSocket()
    {
        using var folder = new TempFolder();
        await using var server = ExampleProcess.Start("calc", folder.Path,
            "serve", "--capnp-secret-key-file", "key.pem", "--capnp-listen-address", "unix:calc.socket");
        await server.WaitForLineAsync(line => line == "Waiting for incoming connections at:", "saying the server waits");
        var uri = await server.WaitForLineAsync(line => line.StartsWith("capnp://"), "with the server's URI");
        // The public service: an empty service ID after the (absolute) socket path.
        Assert.Matches(@"^capnp://sha-256:[A-Za-z0-9_-]{43}@" + Regex.Escape(folder.File("calc.socket")) + "/$", uri);

        await using (var client = ExampleProcess.Start("calc", folder.Path, "connect", uri))
        {
            Assert.Equal(["Result: 42.000000"], await client.WaitForSuccessAsync());
        }

        await server.WaitForLineAsync(line => line == "40.000000 op 2.000000 -> 42.000000", "with the server's addition");

        // A sturdy ref with another key than the server's: the client refuses the impostor.
        var impostor = Regex.Replace(uri, "sha-256:[A-Za-z0-9_-]{43}", "sha-256:" + new string('A', 43));
        await using (var client = ExampleProcess.Start("calc", folder.Path, "connect", impostor))
        {
            Assert.Equal(1, await client.WaitForExitAsync());
            Assert.Empty(client.Output);
            Assert.Contains("fingerprint mismatch", client.Errors);
        }

        Assert.Equal(0, await server.TerminateAsync());
        Assert.False(File.Exists(folder.File("calc.socket")), "The vat removes its unix socket when it stops.");
    }
}
