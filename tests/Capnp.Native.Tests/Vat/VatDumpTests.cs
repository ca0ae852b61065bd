using System.Text.RegularExpressions;
using Capnp.Native.Tests.Rpc;
using Interop;

namespace Capnp.Native.Tests.Vat;

/// <summary>The vat dump: per connection, the peer and what each side holds of the other.</summary>
public sealed class VatDumpTests
{
    [Fact]
    public async Task BothSidesShowTheConnectionThePeerAndTheCapabilityHeldAcrossIt()
    {
        await using var server = await VatTests.StartServerAsync();
        await using var client = await Native.Vat.StartAsync(new VatOptions());
        using var service = await client.ConnectAsync<TestService.Client>(server.GetSturdyRef()).WaitAsync(RpcPair.Bound);
        await service.EchoAsync("a").AsTask().WaitAsync(RpcPair.Bound);

        var served = await server.DumpAsync().WaitAsync(RpcPair.Bound);
        Assert.StartsWith($"vat {server.Digest} at {server.ListenAddress}", served);
        Assert.Contains($"accepted from 127.0.0.1:", served);
        Assert.Contains($"peer {client.Identity.Digest}", served);
        Assert.Matches(new Regex(@"exports \(id ×references\): [1-9]\d* \(\d+ ×\d+"), served);

        var made = await client.DumpAsync().WaitAsync(RpcPair.Bound);
        Assert.StartsWith($"vat {client.Digest} (not listening)", made);
        Assert.Contains($"connection to {server.ListenAddress}, peer {server.Digest}", made);
        Assert.Matches(new Regex(@"imports \(id ×references\): [1-9]\d* \(\d+ ×\d+"), made);
        // The dump never shows secrets: the sturdy ref's service ID is not in it.
        Assert.DoesNotContain(server.GetSturdyRef().ToString(), made);
    }

    [Fact]
    public async Task CallsInFlightAppearAsQuestionsAndAnswers()
    {
        await using var server = await VatTests.StartServerAsync();
        await using var client = await Native.Vat.StartAsync(new VatOptions());
        using var service = await client.ConnectAsync<TestService.Client>(server.GetSturdyRef()).WaitAsync(RpcPair.Bound);
        await service.EchoAsync("a").AsTask().WaitAsync(RpcPair.Bound);
        var before = await client.DumpAsync().WaitAsync(RpcPair.Bound);
        var questionsBefore = QuestionCount(before);

        var waiting = Enumerable.Range(0, 3).Select(_ => service.WaitForeverAsync()).ToList();
        // The server has the three calls once it answers a later one (E-order on one connection).
        await service.EchoAsync("b").AsTask().WaitAsync(RpcPair.Bound);

        Assert.Equal(questionsBefore + 3, QuestionCount(await client.DumpAsync().WaitAsync(RpcPair.Bound)));
        Assert.Matches(new Regex(@"answers \(owed or not finished by the peer\): [3-9]"), await server.DumpAsync().WaitAsync(RpcPair.Bound));
    }

    private static int QuestionCount(string dump)
        => int.Parse(Regex.Match(dump, @"questions \(asked, not finished\): (\d+)").Groups[1].Value);
}
