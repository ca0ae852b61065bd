using System.Net;
using System.Net.Sockets;
using Capnp.Native.Rpc;
using Interop;

namespace Capnp.Native.Tests.Rpc;

/// <summary>
/// Peers that misbehave on purpose: each runs on its own connection while a well-behaved client
/// of the same server keeps being served.
/// </summary>
public sealed class HostilePeerTests
{
    [Fact]
    public async Task AskingAPeerThatAlreadyLeftForItsBootstrapFailsDisconnectedInsteadOfAbortingTheProcess()
    {
        await using var pair = await RpcPair.StartAsync();
        for (var attempt = 0; attempt < 10; attempt++)
        {
            var accepting = pair.Listener.AcceptAsync();
            ConnectAndCloseAtOnce(pair.Listener.Address);
            await using var leaver = await accepting.WaitAsync(RpcPair.Bound);
            // Once Disconnected completes, the engine has shut the connection down: the 0.9.2
            // engine aborted the process when asked for a bootstrap on it.
            await leaver.Disconnected.WaitAsync(RpcPair.Bound);

            using var gone = leaver.GetBootstrap<TestService.Client>();

            await Assert.ThrowsAsync<RpcDisconnectedException>(() => gone.EchoAsync("anyone?").AsTask().WaitAsync(RpcPair.Bound));
            Assert.Equal("still here", (await pair.TestService.EchoAsync("still here").AsTask().WaitAsync(RpcPair.Bound)).Text);
        }
    }

    [Fact]
    public async Task AskingAPeerThatAlreadyLeftForAServiceByIdFailsDisconnectedInsteadOfAbortingTheProcess()
    {
        await using var pair = await RpcPair.StartAsync();
        var accepting = pair.Listener.AcceptAsync();
        ConnectAndCloseAtOnce(pair.Listener.Address);
        await using var leaver = await accepting.WaitAsync(RpcPair.Bound);
        await leaver.Disconnected.WaitAsync(RpcPair.Bound);

        using var gone = TestService.Client.Create(leaver.Restore("some service"u8.ToArray()));

        await Assert.ThrowsAsync<RpcDisconnectedException>(() => gone.EchoAsync("anyone?").AsTask().WaitAsync(RpcPair.Bound));
        Assert.Equal("still here", (await pair.TestService.EchoAsync("still here").AsTask().WaitAsync(RpcPair.Bound)).Text);
    }

    [Fact]
    public async Task AskingForTheBootstrapOfPeersLeavingAtAnyMomentNeverAbortsTheProcess()
    {
        await using var pair = await RpcPair.StartAsync();
        for (var attempt = 0; attempt < 50; attempt++)
        {
            var accepting = pair.Listener.AcceptAsync();
            ConnectAndCloseAtOnce(pair.Listener.Address);
            await using var leaver = await accepting.WaitAsync(RpcPair.Bound);
            using var gone = leaver.GetBootstrap<TestService.Client>();

            // Whether the engine had noticed the close or not, the call fails; how depends on the race.
            await Assert.ThrowsAnyAsync<RpcException>(() => gone.EchoAsync("anyone?").AsTask().WaitAsync(RpcPair.Bound));
        }

        Assert.Equal("still here", (await pair.TestService.EchoAsync("still here").AsTask().WaitAsync(RpcPair.Bound)).Text);
    }

    private static void ConnectAndCloseAtOnce(string listenerAddress)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Connect(ParseTcpAddress(listenerAddress));
    }

    internal static IPEndPoint ParseTcpAddress(string address)
    {
        Assert.StartsWith("tcp:", address);
        var colon = address.LastIndexOf(':');
        return new IPEndPoint(IPAddress.Parse(address[4..colon]), int.Parse(address[(colon + 1)..]));
    }
}
