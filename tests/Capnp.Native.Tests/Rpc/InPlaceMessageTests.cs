using Capnp.Native.Rpc;
using Interop;

namespace Capnp.Native.Tests.Rpc;

/// <summary>Large received messages without capabilities are read where the transport put them.</summary>
public sealed class InPlaceMessageTests
{
    private static readonly string Large = string.Concat(Enumerable.Range(0, 20_000).Select(i => (char)('a' + (i % 26)) + "é"));

    private static long ReadInPlace() => NativeCounters.Read().messages_read_in_place;

    [Fact]
    public async Task LargeParametersAndResultsAreReadInPlaceAndArriveIntact()
    {
        await using var pair = await RpcPair.StartAsync();
        var before = ReadInPlace();

        var echoed = await pair.TestService.EchoAsync(Large).AsTask().WaitAsync(RpcPair.Bound);

        Assert.Equal(Large, echoed.Text);
        // The server's parameters and the client's results.
        Assert.Equal(before + 2, ReadInPlace());
    }

    [Fact]
    public async Task SmallMessagesAreCopiedStraightFromTheTransport()
    {
        await using var pair = await RpcPair.StartAsync();
        var before = NativeCounters.Read();

        Assert.Equal("small", (await pair.TestService.EchoAsync("small").AsTask().WaitAsync(RpcPair.Bound)).Text);

        var after = NativeCounters.Read();
        Assert.Equal(before.messages_read_in_place, after.messages_read_in_place);
        // The server's parameters and the client's results, each valid only during its callback.
        Assert.Equal(before.messages_borrowed + 2, after.messages_borrowed);
    }

    [Fact]
    public async Task ManySmallCallsInFlightReadTheirOwnMessages()
    {
        await using var pair = await RpcPair.StartAsync();
        var calls = Enumerable.Range(0, 500).Select(i => pair.TestService.EchoAsync($"call {i}").AsTask()).ToArray();

        var replies = await Task.WhenAll(calls).WaitAsync(RpcPair.Bound);

        for (var i = 0; i < replies.Length; i++)
        {
            Assert.Equal($"call {i}", replies[i].Text);
        }
    }

    [Fact]
    public async Task ALargeMessageCarryingACapabilityIsCopiedAndTheCapabilityWorks()
    {
        await using var pair = await RpcPair.StartAsync();
        using var callback = Callback.Client.Create(new PrefixCallback("re:"));
        var before = ReadInPlace();

        var reply = await pair.TestService.CallBackAsync(callback, Large).AsTask().WaitAsync(RpcPair.Bound);

        Assert.Equal("re:" + Large, reply.Reply);
        // In place: the callback's parameters (client side), its results (server side) and the
        // final results (client side); the parameters carrying the capability were copied.
        Assert.Equal(before + 3, ReadInPlace());
    }

    [Fact]
    public async Task InPlaceResultsOutliveTheirConnectionAndLoop()
    {
        var pair = await RpcPair.StartAsync();
        var answer = pair.TestService.EchoAsync(Large);
        var results = await answer.AsTask().WaitAsync(RpcPair.Bound);

        await pair.DisposeAsync();

        // The read buffer is shared with the reader, not owned by the (now stopped) loop.
        Assert.Equal(Large, results.Text);
        answer.Dispose();
        Assert.Throws<ObjectDisposedException>(() => { _ = results.Text; });
    }
}
