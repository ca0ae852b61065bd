using System.Runtime.InteropServices;
using Capnp.Native.Interop;

namespace Capnp.Native.Rpc;

/// <summary>
/// A listening socket that accepts two-party RPC connections, offering each the bootstrap
/// capability given at <see cref="EventLoop.ListenAsync"/>. Disposing it stops listening;
/// accepted connections stay open.
/// </summary>
public sealed unsafe class RpcListener : IAsyncDisposable, IDisposable
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

    /// <summary>The event loop the listener lives on.</summary>
    public EventLoop Loop { get; }

    /// <summary>The bound address, e.g. <c>tcp:127.0.0.1:40123</c> (the real port) or <c>unix:/path</c>.</summary>
    public string Address { get; }

    /// <summary>Waits for the next connection.</summary>
    public Task<RpcConnection> AcceptAsync(CancellationToken cancellationToken = default)
    {
        var added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            var listener = (IntPtr)handle.Pointer;
            var loop = Loop;
            return loop.PostAsync(
                (_, tag) => NativeMethods.capnp_listener_accept((capnp_listener*)listener, tag),
                payload => new RpcConnection(loop, new ConnectionHandle((capnp_connection*)MemoryMarshal.Read<nint>(payload))),
                cancellationToken);
        }
        finally
        {
            handle.DangerousRelease();
        }
    }

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
