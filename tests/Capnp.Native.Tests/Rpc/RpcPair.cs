using Capnp.Native.Rpc;
using Interop;

namespace Capnp.Native.Tests.Rpc;

/// <summary>
/// A C# server vat and a C# client vat on loopback, each on its own event loop (as two processes
/// would be), the client bootstrapped with the server's TestService.
/// </summary>
internal sealed class RpcPair : IAsyncDisposable
{
    /// <summary>A bound on waiting, never a synchronisation: a working pair is far faster.</summary>
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private RpcPair(EventLoop serverLoop, EventLoop clientLoop, TestServiceImpl service, RpcListener listener,
                    RpcConnection client, RpcConnection server, TestService.Client testService)
    {
        ServerLoop = serverLoop;
        ClientLoop = clientLoop;
        Service = service;
        Listener = listener;
        ClientConnection = client;
        ServerConnection = server;
        TestService = testService;
    }

    public EventLoop ServerLoop { get; }

    public EventLoop ClientLoop { get; }

    public TestServiceImpl Service { get; }

    public RpcListener Listener { get; }

    public RpcConnection ClientConnection { get; }

    public RpcConnection ServerConnection { get; }

    public TestService.Client TestService { get; }

    public static async Task<RpcPair> StartAsync(string address = "tcp:127.0.0.1:0", ICallTarget? clientBootstrap = null)
    {
        var serverLoop = EventLoop.Start();
        var clientLoop = EventLoop.Start();
        var service = new TestServiceImpl();
        var listener = await serverLoop.ListenAsync(address, service).WaitAsync(Bound);
        var accepting = listener.AcceptAsync();
        var client = await clientLoop.ConnectAsync(listener.Address, clientBootstrap).WaitAsync(Bound);
        var server = await accepting.WaitAsync(Bound);
        return new RpcPair(serverLoop, clientLoop, service, listener, client, server, client.GetBootstrap<TestService.Client>());
    }

    public async ValueTask DisposeAsync()
    {
        TestService.Dispose();
        await ClientConnection.DisposeAsync();
        await ServerConnection.DisposeAsync();
        await Listener.DisposeAsync();
        await ClientLoop.DisposeAsync();
        await ServerLoop.DisposeAsync();
    }
}
