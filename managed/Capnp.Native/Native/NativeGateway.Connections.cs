using System.Runtime.InteropServices;
using System.Text;
using Capnp.Native.Interop;
using Capnp.Native.Rpc;

namespace Capnp.Native;

internal static unsafe partial class NativeGateway
{
    /// <summary>The peer's bootstrap capability (usable at once: calls are queued until it resolves).</summary>
    public static CapHandle Bootstrap(ConnectionHandle connection)
    {
        using var held = new Held(connection);
        capnp_cap* created;
        NativeStatus.ThrowIfFailed(NativeMethods.capnp_connection_bootstrap(connection.Pointer, &created));
        return new CapHandle(created);
    }

    /// <summary>The peer's service with this ID (Text in the Bootstrap message); usable at once.</summary>
    public static CapHandle Restore(ConnectionHandle connection, ReadOnlySpan<byte> serviceId)
    {
        using var held = new Held(connection);
        capnp_cap* created;
        fixed (byte* id = serviceId)
        {
            NativeStatus.ThrowIfFailed(NativeMethods.capnp_connection_restore(connection.Pointer, id, (nuint)serviceId.Length, &created));
        }

        return new CapHandle(created);
    }

    /// <summary>Completes when the connection is lost (failed with the reason unless the peer closed it).</summary>
    public static Task WhenDisconnectedAsync(EventLoop loop, ConnectionHandle connection)
    {
        using var held = new Held(connection);
        var pointer = (IntPtr)connection.Pointer;
        return loop.PostAsync(
            (_, tag) => NativeMethods.capnp_connection_when_disconnected((capnp_connection*)pointer, tag),
            static _ => true);
    }

    /// <summary>The connection's peer and its protocol tables with reference counts (for the vat dump).</summary>
    public static Task<string> DescribeConnectionAsync(EventLoop loop, ConnectionHandle connection, CancellationToken cancellationToken)
    {
        using var held = new Held(connection);
        var pointer = (IntPtr)connection.Pointer;
        return loop.PostAsync(
            (_, tag) => NativeMethods.capnp_connection_describe((capnp_connection*)pointer, tag),
            static payload => Encoding.UTF8.GetString(payload),
            cancellationToken);
    }

    /// <summary>Describes every connection a serving listener owns.</summary>
    public static Task<string> DescribeListenerAsync(EventLoop loop, ListenerHandle listener, CancellationToken cancellationToken)
    {
        using var held = new Held(listener);
        var pointer = (IntPtr)listener.Pointer;
        return loop.PostAsync(
            (_, tag) => NativeMethods.capnp_listener_describe((capnp_listener*)pointer, tag),
            static payload => Encoding.UTF8.GetString(payload),
            cancellationToken);
    }

    /// <summary>Waits for the listener's next connection.</summary>
    public static Task<RpcConnection> AcceptAsync(EventLoop loop, ListenerHandle listener, CancellationToken cancellationToken)
    {
        using var held = new Held(listener);
        var pointer = (IntPtr)listener.Pointer;
        return loop.PostAsync(
            (_, tag) => NativeMethods.capnp_listener_accept((capnp_listener*)pointer, tag),
            payload => ReadConnection(loop, payload),
            cancellationToken);
    }

    /// <summary>Lets the listener accept and own connections by itself, at most <paramref name="maxConnections"/> at once.</summary>
    public static Task ServeAsync(EventLoop loop, ListenerHandle listener, int maxConnections, CancellationToken cancellationToken)
    {
        using var held = new Held(listener);
        var pointer = (IntPtr)listener.Pointer;
        return loop.PostAsync(
            (_, tag) => NativeMethods.capnp_listener_serve((capnp_listener*)pointer, (uint)maxConnections, tag),
            static _ => true,
            cancellationToken);
    }

    /// <summary>The statistics of a serving listener.</summary>
    public static Task<ListenerStatistics> ReadStatisticsAsync(EventLoop loop, ListenerHandle listener, CancellationToken cancellationToken)
    {
        using var held = new Held(listener);
        var pointer = (IntPtr)listener.Pointer;
        return loop.PostAsync(
            (_, tag) => NativeMethods.capnp_listener_read_stats((capnp_listener*)pointer, tag),
            static payload =>
            {
                var stats = MemoryMarshal.Read<capnp_listener_stats>(payload);
                return new ListenerStatistics((int)stats.connections, (int)stats.peak_connections, (long)stats.accepted,
                                              (long)stats.accept_failures, (long)stats.handshake_failures);
            },
            cancellationToken);
    }

    /// <summary>The connection a connect or accept completed with (its payload holds the handle).</summary>
    public static RpcConnection ReadConnection(EventLoop loop, ReadOnlySpan<byte> payload)
        => new(loop, new ConnectionHandle((capnp_connection*)MemoryMarshal.Read<nint>(payload)));
}
