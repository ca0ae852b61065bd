using System.Net.Sockets;
using Capnp.Native.Tests.Rpc;
using Interop;

namespace Capnp.Native.Tests.Vat;

/// <summary>The idle timeout: connections holding nothing for either side are closed; others stay.</summary>
public sealed class IdleConnectionTests
{
    private static readonly TimeSpan ShortIdle = TimeSpan.FromMilliseconds(200);

    [Fact]
    public async Task AConnectionThatNeverSendsAnythingIsClosedOnceIdle()
    {
        await using var server = await VatTests.StartServerAsync(new VatOptions { DisableTls = true, IdleTimeout = ShortIdle });
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(server.ListenAddress!.ToEndPoint()).WaitAsync(RpcPair.Bound);

        // The server ends the connection (after an Abort message saying why): reads reach the end.
        var buffer = new byte[4096];
        var received = new List<byte>();
        int read;
        while ((read = await socket.ReceiveAsync(buffer).WaitAsync(RpcPair.Bound)) > 0)
        {
            received.AddRange(buffer.AsSpan(0, read).ToArray());
        }

        Assert.Contains("idle", System.Text.Encoding.UTF8.GetString([.. received]));
        await ServingListenerTests.WaitUntilServingNoneAsync(server);
    }

    [Fact]
    public async Task AConnectionOverWhichACapabilityIsHeldStaysOpenThenClosesOnceItIsReleased()
    {
        await using var server = await VatTests.StartServerAsync(new VatOptions { IdleTimeout = ShortIdle });
        await using var client = await Native.Vat.StartAsync(new VatOptions { IdleTimeout = Timeout.InfiniteTimeSpan });
        var service = await client.ConnectAsync<TestService.Client>(server.GetSturdyRef()).WaitAsync(RpcPair.Bound);
        Assert.Equal("a", (await service.EchoAsync("a").AsTask().WaitAsync(RpcPair.Bound)).Text);

        // Five idle timeouts pass without a message while the client holds the service. (Time
        // has to pass for the check: the timer would have closed the connection by now.)
        await Task.Delay(ShortIdle * 5);
        Assert.Equal("b", (await service.EchoAsync("b").AsTask().WaitAsync(RpcPair.Bound)).Text);
        Assert.Equal(1, (await server.ReadListenerStatisticsAsync()).Connections);

        // Released: neither side holds anything, and the server closes the connection.
        service.Dispose();
        await ServingListenerTests.WaitUntilServingNoneAsync(server);

        // Once the client vat has seen the close too, it connects anew for the next sturdy ref.
        // (Until then a restore may still go to the closing connection and fail Disconnected,
        // as a request on a closing HTTP keep-alive connection does.)
        Assert.Equal("c", await EchoOnAFreshConnectionAsync(client, server.GetSturdyRef(), "c"));
    }

    private static async Task<string> EchoOnAFreshConnectionAsync(Native.Vat client, SturdyRef sturdyRef, string text)
    {
        for (var attempt = 0; attempt < 10_000; attempt++)
        {
            using var service = await client.ConnectAsync<TestService.Client>(sturdyRef).WaitAsync(RpcPair.Bound);
            try
            {
                return (await service.EchoAsync(text).AsTask().WaitAsync(RpcPair.Bound)).Text;
            }
            catch (RpcDisconnectedException)
            {
                // The connection the server closed: the client reports the server's Abort ("idle")
                // or, when it reads the end of the stream first, just the disconnection. Either way
                // the next restore must find a fresh connection (bounded by the attempts).
                await Task.Yield();
            }
        }

        throw new Xunit.Sdk.XunitException("the client vat kept using the connection the server closed");
    }

    [Fact]
    public async Task ANonPositiveIdleTimeoutIsRefused()
    {
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Native.Vat.StartAsync(new VatOptions { IdleTimeout = TimeSpan.Zero }));
    }
}
