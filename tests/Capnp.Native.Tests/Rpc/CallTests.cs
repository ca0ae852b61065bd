using Capnp.Native.Rpc;
using Capnp.Native.Serialization;
using Interop;

namespace Capnp.Native.Tests.Rpc;

public sealed class CallTests
{
    public static TheoryData<string> Addresses => new()
    {
        "tcp:127.0.0.1:0",
        "tcp:[::1]:0",
        $"unix:{Path.Combine(Path.GetTempPath(), $"capnp-native-{Guid.NewGuid():N}.sock")}",
    };

    [Theory]
    [MemberData(nameof(Addresses))]
    public async Task CallsReturnResultsOverTcp4Tcp6AndUnixSockets(string address)
    {
        await using var pair = await RpcPair.StartAsync(address);

        var echoed = await pair.TestService.EchoAsync("héllo").AsTask().WaitAsync(RpcPair.Bound);
        var sum = await pair.TestService.AddAsync(long.MaxValue, 1).AsTask().WaitAsync(RpcPair.Bound);

        Assert.Equal("héllo", echoed.Text);
        Assert.Equal(long.MinValue, sum.Sum);
        Assert.StartsWith(address.Split(':')[0], pair.Listener.Address);
    }

    [Fact]
    public async Task EitherSideOffersAndRequestsABootstrap()
    {
        var clientSide = new PrefixCallback("client-bootstrap:");
        await using var pair = await RpcPair.StartAsync(clientBootstrap: clientSide);

        // The server side asks the client for its bootstrap, over the same connection.
        using var callback = pair.ServerConnection.GetBootstrap<Callback.Client>();
        var reply = await callback.CallAsync("x").AsTask().WaitAsync(RpcPair.Bound);

        Assert.Equal("client-bootstrap:x", reply.Reply);
        Assert.Equal(1, clientSide.Calls);
    }

    [Theory]
    [InlineData(FailKind.Failed, typeof(RpcFailedException))]
    [InlineData(FailKind.Overloaded, typeof(RpcOverloadedException))]
    [InlineData(FailKind.Disconnected, typeof(RpcDisconnectedException))]
    [InlineData(FailKind.Unimplemented, typeof(RpcUnimplementedException))]
    public async Task TypedServerExceptionsArriveAsTheSameTypeWithTheSameMessage(FailKind kind, Type expected)
    {
        await using var pair = await RpcPair.StartAsync();

        var error = await Assert.ThrowsAnyAsync<RpcException>(() => pair.TestService.FailAsync(kind, $"boom-{kind}").AsTask().WaitAsync(RpcPair.Bound));

        Assert.IsType(expected, error);
        Assert.Equal($"boom-{kind}", error.Message);
        // The connection is still usable.
        Assert.Equal("after", (await pair.TestService.EchoAsync("after").AsTask().WaitAsync(RpcPair.Bound)).Text);
    }

    [Fact]
    public async Task AnyOtherServerExceptionArrivesAsFailed()
    {
        var throwing = new ThrowingCallback(new InvalidOperationException("not a capnp exception"));
        await using var pair = await RpcPair.StartAsync();
        using var callback = Callback.Client.Create(throwing);

        var error = await Assert.ThrowsAsync<RpcFailedException>(() => pair.TestService.CallBackAsync(callback, "v").AsTask().WaitAsync(RpcPair.Bound));

        Assert.Contains("not a capnp exception", error.Message);
    }

    [Fact]
    public async Task UnknownMethodsAndInterfacesAnswerUnimplemented()
    {
        await using var pair = await RpcPair.StartAsync();
        var target = pair.TestService.Target;

        using var unknownMethod = new MessageBuilder();
        unknownMethod.InitRoot(0, 0);
        var methodError = await Assert.ThrowsAsync<RpcUnimplementedException>(
            () => target.CallAsync(TestService.InterfaceId, 99, unknownMethod, default).WaitAsync(RpcPair.Bound));
        var unknownInterface = new MessageBuilder();
        unknownInterface.InitRoot(0, 0);
        await Assert.ThrowsAsync<RpcUnimplementedException>(
            () => target.CallAsync(0x1234_5678_9abc_def0, 0, unknownInterface, default).WaitAsync(RpcPair.Bound));

        Assert.Contains("99", methodError.Message);
    }

    [Fact]
    public async Task SixteenThreadsCallOneCapabilityAtOnceAndEveryResultIsRight()
    {
        await using var pair = await RpcPair.StartAsync();
        const int PerThread = 200;

        var threads = Enumerable.Range(0, 16).Select(thread => Task.Run(async () =>
        {
            for (var i = 0; i < PerThread; i++)
            {
                var result = await pair.TestService.AddAsync(thread * 1_000_000L, i);
                Assert.Equal(thread * 1_000_000L + i, result.Sum);
            }
        })).ToArray();

        await Task.WhenAll(threads).WaitAsync(TimeSpan.FromMinutes(2));
    }

    private sealed class ThrowingCallback(Exception exception) : Callback.Server
    {
        public override Task CallAsync(Callback.CallParams.Reader parameters, Callback.CallResults.Builder results, CancellationToken cancellationToken)
            => throw exception;
    }
}
