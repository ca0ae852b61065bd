using Capnp.Native.Tests.Rpc;
using Interop;

namespace Capnp.Native.Tests.Vat;

/// <summary>Limits on what one peer can make a vat hold, while other peers keep being served.</summary>
public sealed class PeerLimitTests
{
    [Fact]
    public async Task APeerWithTooManyQuestionsOutstandingIsDisconnectedAndOthersAreStillServed()
    {
        await using var server = await VatTests.StartServerAsync(new VatOptions { MaxOutstandingQuestionsPerConnection = 16 });
        await using var greedy = await Native.Vat.StartAsync(new VatOptions());
        await using var bystander = await Native.Vat.StartAsync(new VatOptions());
        using var polite = await bystander.ConnectAsync<TestService.Client>(server.GetSturdyRef()).WaitAsync(RpcPair.Bound);
        using var service = await greedy.ConnectAsync<TestService.Client>(server.GetSturdyRef()).WaitAsync(RpcPair.Bound);

        // The bootstrap is one question; calls that never return are the others.
        var waiting = Enumerable.Range(0, 32).Select(_ => service.WaitForeverAsync()).ToList();

        var error = await Assert.ThrowsAnyAsync<RpcException>(() => waiting[^1].AsTask().WaitAsync(RpcPair.Bound));
        Assert.Contains("questions outstanding", error.Message);
        Assert.Equal("served", (await polite.EchoAsync("served").AsTask().WaitAsync(RpcPair.Bound)).Text);
        await ServingListenerTests.WaitUntilServingNoneAsync(server, expected: 1);
    }

    [Fact]
    public async Task QuestionsThatAreFinishedDoNotCountTowardTheLimit()
    {
        await using var server = await VatTests.StartServerAsync(new VatOptions { MaxOutstandingQuestionsPerConnection = 16 });
        await using var client = await Native.Vat.StartAsync(new VatOptions());
        using var service = await client.ConnectAsync<TestService.Client>(server.GetSturdyRef()).WaitAsync(RpcPair.Bound);

        // Many more calls than the limit, 8 at a time: each is finished once answered.
        for (var round = 0; round < 50; round++)
        {
            var calls = Enumerable.Range(0, 8).Select(i => service.EchoAsync($"{round}.{i}")).ToList();
            foreach (var (call, i) in calls.Select((c, i) => (c, i)))
            {
                Assert.Equal($"{round}.{i}", (await call.AsTask().WaitAsync(RpcPair.Bound)).Text);
            }
        }
    }
}
