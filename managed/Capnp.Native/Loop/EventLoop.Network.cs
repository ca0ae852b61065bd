using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Capnp.Native.Interop;
using Capnp.Native.Rpc;

namespace Capnp.Native;

public sealed partial class EventLoop
{
    /// <summary>
    /// Listens for two-party connections on <paramref name="address"/>: <c>tcp:HOST:PORT</c>
    /// (IPv6 hosts in brackets, port 0 for any free port) or <c>unix:PATH</c>. Each accepted
    /// connection is offered <paramref name="bootstrap"/> (a server is exported for the purpose).
    /// </summary>
    public async Task<RpcListener> ListenAsync(string address, ICallTarget? bootstrap = null, CancellationToken cancellationToken = default)
    {
        var offered = bootstrap is null ? null : CreateCapability(bootstrap);
        ListenerHandle? handle = null;
        try
        {
            var listening = StartListening(address, offered, cancellationToken);
            handle = listening.Handle;
            var bound = await listening.Bound.ConfigureAwait(false);
            return new RpcListener(this, listening.Handle, offered, bound);
        }
        catch
        {
            handle?.Dispose();
            offered?.Dispose();
            throw;
        }
    }

    /// <summary>Connects to <paramref name="address"/> (syntax as for <see cref="ListenAsync"/>), offering <paramref name="bootstrap"/> to the peer.</summary>
    public async Task<RpcConnection> ConnectAsync(string address, ICallTarget? bootstrap = null, CancellationToken cancellationToken = default)
    {
        using var offered = bootstrap is null ? null : CreateCapability(bootstrap);
        return await StartConnecting(address, offered, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs a two-party connection over an already connected socket (e.g. one end of a socket
    /// pair shared with a child process). The shim works on a duplicate of the descriptor; the
    /// caller may dispose the <see cref="Socket"/>. The two ends must pass different
    /// <paramref name="isServer"/> values.
    /// </summary>
    public async Task<RpcConnection> ConnectSocketAsync(Socket socket, bool isServer, ICallTarget? bootstrap = null)
    {
        ArgumentNullException.ThrowIfNull(socket);
        using var offered = bootstrap is null ? null : CreateCapability(bootstrap);
        return await StartAdopting(socket, isServer, offered).ConfigureAwait(false);
    }

    private unsafe (ListenerHandle Handle, Task<string> Bound) StartListening(string address, NativeCapability? bootstrap, CancellationToken cancellationToken)
    {
        var listener = IntPtr.Zero;
        var bound = PostWithAddress(address, bootstrap, (loop, text, length, cap, tag) =>
        {
            capnp_listener* created;
            var status = NativeMethods.capnp_listen(loop, text, length, cap, tag, &created);
            listener = (IntPtr)created;
            return status;
        }, static payload => Encoding.UTF8.GetString(payload), cancellationToken);
        // The handle exists once the call was accepted, whether or not listening then succeeds.
        return (new ListenerHandle((capnp_listener*)listener), bound);
    }

    private unsafe Task<RpcConnection> StartConnecting(string address, NativeCapability? bootstrap, CancellationToken cancellationToken)
        => PostWithAddress(
            address, bootstrap,
            (loop, text, length, cap, tag) => NativeMethods.capnp_connect(loop, text, length, cap, tag),
            ReadConnection, cancellationToken);

    private unsafe Task<RpcConnection> StartAdopting(Socket socket, bool isServer, NativeCapability? bootstrap)
    {
        var fd = Dup((int)socket.SafeHandle.DangerousGetHandle());
        if (fd < 0)
        {
            throw new IOException($"dup() of the socket failed: errno {Marshal.GetLastPInvokeError()}");
        }

        using var use = bootstrap is null ? default : new NativeCapability.HandleUse(bootstrap);
        var cap = bootstrap is null ? IntPtr.Zero : (IntPtr)use.Pointer;
        return PostAsync(
            (loop, tag) => NativeMethods.capnp_connection_from_fd(loop, fd, isServer ? 1 : 0, (capnp_cap*)cap, tag),
            ReadConnection);
    }

    private unsafe RpcConnection ReadConnection(ReadOnlySpan<byte> payload)
        => new(this, new ConnectionHandle((capnp_connection*)MemoryMarshal.Read<nint>(payload)));

    private unsafe delegate int AddressPost(capnp_loop* loop, byte* address, nuint length, capnp_cap* bootstrap, ulong tag);

    private unsafe Task<T> PostWithAddress<T>(string address, NativeCapability? bootstrap, AddressPost post, PayloadReader<T> readResult, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(address);
        var bytes = Encoding.UTF8.GetBytes(address);
        using var use = bootstrap is null ? default : new NativeCapability.HandleUse(bootstrap);
        var cap = bootstrap is null ? IntPtr.Zero : (IntPtr)use.Pointer;
        return PostAsync(
            (loop, tag) =>
            {
                fixed (byte* text = bytes)
                {
                    return post(loop, text, (nuint)bytes.Length, (capnp_cap*)cap, tag);
                }
            },
            readResult, cancellationToken);
    }

    [LibraryImport("libc", EntryPoint = "dup", SetLastError = true)]
    private static partial int Dup(int fd);
}
