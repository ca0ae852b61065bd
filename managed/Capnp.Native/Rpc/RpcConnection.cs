using Capnp.Native.Interop;

namespace Capnp.Native.Rpc;

/// <summary>
/// A two-party Cap'n Proto RPC connection: one RpcSystem of the C++ engine over one byte stream
/// (TCP, a unix socket, or an adopted socket). Either side may offer a bootstrap capability and
/// ask for the other's. Disposing it closes the connection: its capabilities break with
/// <see cref="RpcDisconnectedException"/>.
/// </summary>
internal sealed class RpcConnection : IAsyncDisposable, IDisposable
{
    private readonly ConnectionHandle handle;
    private readonly Lazy<Task> disconnected;

    internal RpcConnection(EventLoop loop, ConnectionHandle handle)
    {
        Loop = loop;
        this.handle = handle;
        disconnected = new Lazy<Task>(WatchDisconnect);
    }

    /// <summary>The event loop the connection lives on.</summary>
    public EventLoop Loop { get; }

    /// <summary>
    /// Completes when the connection is lost: normally when the peer closes it, with the failure
    /// otherwise, and with <see cref="ObjectDisposedException"/> when it is disposed first.
    /// </summary>
    public Task Disconnected => disconnected.Value;

    /// <summary>The peer's bootstrap capability (usable at once: calls are queued until it resolves).</summary>
    public NativeCapability GetBootstrap() => new(Loop, NativeGateway.Bootstrap(handle));

    /// <summary>
    /// The peer's service with this ID (sent as the seed's vats expect: Text in the Bootstrap
    /// message); usable at once. The empty ID is the bootstrap.
    /// </summary>
    internal NativeCapability Restore(ReadOnlyMemory<byte> serviceId) => new(Loop, NativeGateway.Restore(handle, serviceId.Span));

    /// <summary>The peer's bootstrap capability as a typed client.</summary>
    public TClient GetBootstrap<TClient>() where TClient : CapabilityClient, ICapabilityClient<TClient>
        => TClient.Create(GetBootstrap());

    /// <summary>Closes the connection.</summary>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>Closes the connection.</summary>
    public void Dispose() => handle.Dispose();

    /// <summary>
    /// The connection's peer and what each side holds of the other: the protocol's question,
    /// answer, import and export tables with reference counts (for the vat dump).
    /// </summary>
    internal Task<string> DescribeAsync(CancellationToken cancellationToken)
        => NativeGateway.DescribeConnectionAsync(Loop, handle, cancellationToken);

    private Task WatchDisconnect() => NativeGateway.WhenDisconnectedAsync(Loop, handle);
}
