using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Capnp.Native.Interop;
using Capnp.Native.Rpc;

namespace Capnp.Native;

internal static unsafe partial class NativeGateway
{
    /// <summary>
    /// Starts listening on <paramref name="address"/>, each connection offered
    /// <paramref name="bootstrap"/>; the task completes with the bound address. The handle exists
    /// once the shim accepted the command, whether or not listening then succeeds.
    /// </summary>
    public static (ListenerHandle Handle, Task<string> Bound) Listen(EventLoop loop, string address, CapHandle? bootstrap, ListenSettings settings, CancellationToken cancellationToken)
        => Listen(loop, bootstrap, settings, (options, post) => PostWithAddress(loop, address, bootstrap, (pointer, text, length, cap, tag) =>
            {
                var withBootstrap = options with { bootstrap = cap };
                capnp_listener* created;
                var status = NativeMethods.capnp_listen(pointer, text, length, &withBootstrap, tag, &created);
                return post(status, created);
            }, static payload => Encoding.UTF8.GetString(payload), cancellationToken));

    /// <summary>
    /// Starts a listener on <paramref name="loop"/> accepting from <paramref name="source"/>'s
    /// listening socket (bound already), each connection offered <paramref name="bootstrap"/> (a
    /// capability of <paramref name="loop"/>); the task completes with the bound address.
    /// </summary>
    public static (ListenerHandle Handle, Task<string> Bound) Share(ListenerHandle source, EventLoop loop, CapHandle? bootstrap, ListenSettings settings, CancellationToken cancellationToken)
        => Listen(loop, bootstrap, settings, (options, post) =>
        {
            // The shim reads the source on this thread: it must stay alive until the call returns.
            using var heldSource = new Held(source);
            using var held = new Held(bootstrap);
            var sourcePointer = (IntPtr)source.Pointer;
            var cap = bootstrap is null ? IntPtr.Zero : (IntPtr)bootstrap.Pointer;
            return loop.PostAsync(
                (pointer, tag) =>
                {
                    var withBootstrap = options with { bootstrap = (capnp_cap*)cap };
                    capnp_listener* created;
                    var status = NativeMethods.capnp_listener_share((capnp_listener*)sourcePointer, pointer, &withBootstrap, tag, &created);
                    return post(status, created);
                },
                static payload => Encoding.UTF8.GetString(payload), cancellationToken);
        });

    private delegate int CreatedListener(int status, capnp_listener* created);

    private static (ListenerHandle Handle, Task<string> Bound) Listen(EventLoop loop, CapHandle? bootstrap, ListenSettings settings,
        Func<capnp_listen_options, CreatedListener, Task<string>> start)
    {
        var listener = IntPtr.Zero;
        var identity = settings.Tls;
        var added = false;
        identity?.DangerousAddRef(ref added);
        try
        {
            // The shim releases the dispatcher's tag (by an event) once no connection can ask,
            // even when listening fails.
            var restorerTag = settings.Restorer is null ? 0 : new RestoreDispatcher(loop, settings.Restorer, settings.RestorerStopping).Register();
            var options = new capnp_listen_options
            {
                restorer_tag = restorerTag,
                tls_identity = identity is null ? null : identity.Pointer,
                require_client_certificate = settings.RequireClientCertificate ? 1 : 0,
                handshake_timeout_ms = HandshakeMilliseconds(settings.HandshakeTimeout),
                max_outstanding_questions = settings.Limits.OutstandingQuestionsForNative,
                max_unwritten_bytes = settings.Limits.UnwrittenBytesForNative,
                idle_timeout_ms = settings.Limits.IdleMillisecondsForNative,
                trace_tables = settings.Limits.TraceTables ? 1 : 0,
            };
            var bound = start(options, (status, created) =>
            {
                listener = (IntPtr)created;
                return status;
            });
            // The handle exists once the call was accepted, whether or not listening then succeeds.
            return (new ListenerHandle((capnp_listener*)listener), bound);
        }
        finally
        {
            if (added)
            {
                identity!.DangerousRelease();
            }
        }
    }

    /// <summary>Connects to <paramref name="address"/>, offering <paramref name="bootstrap"/>; TLS when the settings ask for it.</summary>
    public static Task<RpcConnection> ConnectAsync(EventLoop loop, string address, CapHandle? bootstrap, ConnectSettings settings, CancellationToken cancellationToken)
    {
        var identity = settings.Tls;
        var fingerprint = settings.ServerFingerprint;
        if (fingerprint is not null && identity is null)
        {
            throw new ArgumentException("TLS needs an identity to present.", nameof(settings));
        }

        var added = false;
        identity?.DangerousAddRef(ref added);
        try
        {
            var identityPointer = identity is null ? null : identity.Pointer;
            return PostWithAddress(loop, address, bootstrap, (pointer, text, length, cap, tag) =>
            {
                fixed (byte* expected = fingerprint)
                {
                    var options = new capnp_connect_options
                    {
                        bootstrap = cap,
                        tls_identity = fingerprint is null ? null : identityPointer,
                        server_fingerprint = expected,
                        server_fingerprint_len = fingerprint is null ? 0 : (nuint)fingerprint.Length,
                        handshake_timeout_ms = HandshakeMilliseconds(settings.HandshakeTimeout),
                        max_outstanding_questions = settings.Limits.OutstandingQuestionsForNative,
                        max_unwritten_bytes = settings.Limits.UnwrittenBytesForNative,
                        idle_timeout_ms = settings.Limits.IdleMillisecondsForNative,
                        trace_tables = settings.Limits.TraceTables ? 1 : 0,
                    };
                    return NativeMethods.capnp_connect(pointer, text, length, &options, tag);
                }
            }, payload => ReadConnection(loop, payload), cancellationToken);
        }
        finally
        {
            if (added)
            {
                identity!.DangerousRelease();
            }
        }
    }

    private static uint HandshakeMilliseconds(TimeSpan? timeout)
        => timeout is { } value ? (uint)Math.Clamp(value.TotalMilliseconds, 1, uint.MaxValue) : 0;

    /// <summary>Runs a connection over a duplicate of an already connected socket's descriptor.</summary>
    public static Task<RpcConnection> AdoptSocketAsync(EventLoop loop, Socket socket, bool isServer, CapHandle? bootstrap, CancellationToken cancellationToken)
    {
        using var held = new Held(bootstrap);
        var cap = bootstrap is null ? IntPtr.Zero : (IntPtr)bootstrap.Pointer;
        return loop.PostAsync(
            (pointer, tag) =>
            {
                // Duplicated only here, as the shim takes it over (and closes it on any failure):
                // a post refused before this point leaves no descriptor behind.
                var fd = Dup((int)socket.SafeHandle.DangerousGetHandle());
                if (fd < 0)
                {
                    throw new IOException($"dup() of the socket failed: errno {Marshal.GetLastPInvokeError()}");
                }

                return NativeMethods.capnp_connection_from_fd(pointer, fd, isServer ? 1 : 0, (capnp_cap*)cap, tag);
            },
            payload => ReadConnection(loop, payload), cancellationToken);
    }

    private delegate int AddressPost(capnp_loop* loop, byte* address, nuint length, capnp_cap* bootstrap, ulong tag);

    private static Task<T> PostWithAddress<T>(EventLoop loop, string address, CapHandle? bootstrap, AddressPost post, PayloadReader<T> readResult, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(address);
        var bytes = Encoding.UTF8.GetBytes(address);
        using var held = new Held(bootstrap);
        var cap = bootstrap is null ? IntPtr.Zero : (IntPtr)bootstrap.Pointer;
        return loop.PostAsync(
            (pointer, tag) =>
            {
                fixed (byte* text = bytes)
                {
                    return post(pointer, text, (nuint)bytes.Length, (capnp_cap*)cap, tag);
                }
            },
            readResult, cancellationToken);
    }

    [LibraryImport("libc", EntryPoint = "dup", SetLastError = true)]
    private static partial int Dup(int fd);
}
