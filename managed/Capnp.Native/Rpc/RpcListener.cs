using Capnp.Native.Interop;

namespace Capnp.Native.Rpc;

/// <summary>
/// A listening socket that accepts two-party RPC connections, offering each the bootstrap
/// capability given at <see cref="EventLoop.ListenAsync(string, ICallTarget?, CancellationToken)"/>. Disposing it stops listening;
/// accepted connections stay open.
/// </summary>
internal sealed class RpcListener : IAsyncDisposable, IDisposable
{
    private readonly ListenerHandle handle;
    private readonly NativeCapability? bootstrap;

    internal RpcListener(EventLoop loop, ListenerHandle handle, NativeCapability? bootstrap, string address)
    {
        Loop = loop;
        this.handle = handle;
        this.bootstrap = bootstrap;
        Address = address;
    }

    /// <summary>The native listener (for a listener of another loop sharing its socket).</summary>
    internal ListenerHandle Handle => handle;

    /// <summary>The event loop the listener lives on.</summary>
    public EventLoop Loop { get; }

    /// <summary>The bound address, e.g. <c>tcp:127.0.0.1:40123</c> (the real port) or <c>unix:/path</c>.</summary>
    public string Address { get; }

    /// <summary>Waits for the next connection.</summary>
    public Task<RpcConnection> AcceptAsync(CancellationToken cancellationToken = default)
        => NativeGateway.AcceptAsync(Loop, handle, cancellationToken);

    /// <summary>
    /// Lets the listener serve by itself: its loop accepts connections, at most
    /// <paramref name="maxConnections"/> at once (further peers wait in the kernel's backlog),
    /// owns each one and closes it when its peer goes, and retries after a back-off when an
    /// accept fails (e.g. out of file descriptors). Not to be mixed with <see cref="AcceptAsync"/>.
    /// Disposing the listener then also closes the connections it serves.
    /// </summary>
    internal Task ServeAsync(int maxConnections, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxConnections);
        return NativeGateway.ServeAsync(Loop, handle, maxConnections, cancellationToken);
    }

    /// <summary>The statistics of a serving listener.</summary>
    internal Task<ListenerStatistics> ReadStatisticsAsync(CancellationToken cancellationToken = default)
        => NativeGateway.ReadStatisticsAsync(Loop, handle, cancellationToken);

    /// <summary>Describes every connection the listener serves, as <see cref="RpcConnection.DescribeAsync"/> does.</summary>
    internal Task<string> DescribeAsync(CancellationToken cancellationToken = default)
        => NativeGateway.DescribeListenerAsync(Loop, handle, cancellationToken);

    /// <summary>Stops listening.</summary>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>Stops listening.</summary>
    public void Dispose()
    {
        handle.Dispose();
        bootstrap?.Dispose();
    }
}

/// <summary>What a serving listener has done so far.</summary>
/// <param name="Connections">Connections served now.</param>
/// <param name="PeakConnections">The most connections served at once.</param>
/// <param name="Accepted">Connections accepted so far.</param>
/// <param name="AcceptFailures">Accepts that failed (each followed by a back-off), e.g. for lack of file descriptors.</param>
/// <param name="HandshakeFailures">TLS handshakes that failed or timed out (the connection was dropped).</param>
internal readonly record struct ListenerStatistics(int Connections, int PeakConnections, long Accepted, long AcceptFailures, long HandshakeFailures);
