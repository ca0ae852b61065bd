using System.Text.RegularExpressions;

namespace Capnp.Native.Examples.Tests;

/// <summary>Each step of the seed's tutorial, run as its example program, prints what the tutorial shows.</summary>
public sealed partial class TutorialTests
{
    private static readonly string[] ThreeCallbacks = [.. Enumerable.Repeat("Callback got \"foo\"", 3)];

    /// <summary>A TLS sturdy ref of a vat on loopback TCP: key fingerprint, address, service ID (all base64url).</summary>
    [GeneratedRegex(@"^capnp://sha-256:[A-Za-z0-9_-]{43}@127\.0\.0\.1:[0-9]+/[A-Za-z0-9_-]{43}$")]
    internal static partial Regex TlsSturdyRef();

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
}
