using Capnp.Native.Interop;

namespace Capnp.Native.Tests;

public sealed class ErrorBoundaryTests
{
    public static TheoryData<int, Type> Kinds => new()
    {
        { (int)capnp_status.CAPNP_STATUS_FAILED, typeof(RpcFailedException) },
        { (int)capnp_status.CAPNP_STATUS_OVERLOADED, typeof(RpcOverloadedException) },
        { (int)capnp_status.CAPNP_STATUS_DISCONNECTED, typeof(RpcDisconnectedException) },
        { (int)capnp_status.CAPNP_STATUS_UNIMPLEMENTED, typeof(RpcUnimplementedException) },
    };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void ACppExceptionThrownInsideTheShimArrivesAsTheTypedExceptionWithItsMessage(int kind, Type expected)
    {
        var message = $"thrown in C++ ({kind}) — ünïcode kept";

        var error = Assert.Throws(expected, () => TestHooks.ThrowInShim(kind, message));

        Assert.Equal(message, error.Message);
        Assert.Equal((RpcExceptionType)kind, ((RpcException)error).Type);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task ACppExceptionThrownOnTheLoopThreadFailsTheTaskWithTheTypedException(int kind, Type expected)
    {
        await using var loop = EventLoop.Start();

        var error = await Assert.ThrowsAnyAsync<RpcException>(() => TestHooks.ThrowOnLoopAsync(loop, kind, "loop failure"));

        Assert.IsType(expected, error);
        Assert.Equal("loop failure", error.Message);
        // The loop and the process survive: the next command works.
        Assert.Equal(new byte[] { 42 }, await loop.EchoAsync(new byte[] { 42 }));
    }

    [Fact]
    public void InvalidArgumentsAreRejectedWithArgumentException()
    {
        Assert.Throws<ArgumentException>(() => TestHooks.ThrowInShim(99, "not a kind"));
        Assert.Throws<ArgumentException>(() => TestHooks.ReleaseNullLoopAndEchoOnNull());
    }

    [Fact]
    public void ErrorRecordsArePerThread()
    {
        var messages = new string[4];
        Parallel.For(0, messages.Length, i =>
        {
            for (var round = 0; round < 200; round++)
            {
                var error = Assert.Throws<RpcFailedException>(() => TestHooks.ThrowInShim(1, $"thread {i}"));
                messages[i] = error.Message;
                Assert.Equal($"thread {i}", error.Message);
            }
        });
        Assert.Equal(4, messages.Distinct().Count());
    }
}
