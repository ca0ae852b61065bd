namespace Capnp.Native.Examples.Tests;

/// <summary>Each step of the seed's tutorial, run as its example program, prints what the tutorial shows.</summary>
public sealed class TutorialTests
{
    [Fact]
    public async Task V1CallsTheLocalEchoService()
    {
        using var folder = new TempFolder();
        await using var example = ExampleProcess.Start("v1", folder.Path);

        var output = await example.WaitForSuccessAsync();

        Assert.Equal(["Got reply \"echo:foo\""], output);
    }

    [Fact]
    public async Task V2TheEchoServiceCallsTheClientsCallbackThreeTimes()
    {
        using var folder = new TempFolder();
        await using var example = ExampleProcess.Start("v2", folder.Path);

        var output = await example.WaitForSuccessAsync();

        Assert.Equal(Enumerable.Repeat("Callback got \"foo\"", 3), output);
    }
}
