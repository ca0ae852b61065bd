using Capnp.Native.Interop;
using Capnp.Native.Rpc;

namespace Capnp.Native;

internal static unsafe partial class NativeGateway
{
    /// <summary>Starts a loop thread; returns once it runs.</summary>
    public static LoopHandle CreateLoop()
    {
        capnp_loop* loop;
        NativeStatus.ThrowIfFailed(NativeMethods.capnp_loop_create(&loop));
        return LoopHandle.FromCreated(loop);
    }

    /// <summary>Posts a watch that completes when the loop stops (DISPOSED) or fails (LOOP_FAILED).</summary>
    public static Task WatchAsync(EventLoop loop)
        => loop.PostAsync(static (pointer, tag) => NativeMethods.capnp_loop_watch(pointer, tag), static _ => true);

    /// <summary>Sends a copy of <paramref name="data"/> through the loop thread and back (a health check).</summary>
    public static Task<byte[]> EchoAsync(EventLoop loop, ReadOnlyMemory<byte> data)
        => loop.PostAsync(
            (pointer, tag) =>
            {
                fixed (byte* bytes = data.Span)
                {
                    return NativeMethods.capnp_test_echo(pointer, tag, bytes, (nuint)data.Length);
                }
            },
            static payload => payload.ToArray());

    /// <summary>
    /// Asks the loop thread to complete <paramref name="tag"/> (OK, or DISPOSED if the loop stops
    /// first) in order with the commands queued before; throws if the loop refuses.
    /// </summary>
    public static void CallBack(LoopHandle loop, ulong tag)
    {
        using var held = new Held(loop);
        NativeStatus.ThrowIfFailed(NativeMethods.capnp_loop_call_back(loop.Pointer, tag));
    }

    /// <summary>Asks the loop to cancel a pending operation; a refusal means the loop is stopping.</summary>
    public static void CancelOperation(LoopHandle loop, ulong tag)
    {
        using var held = new Held(loop);
        _ = NativeMethods.capnp_operation_cancel(loop.Pointer, tag);
    }

    /// <summary>
    /// Exports a server whose calls complete <paramref name="tag"/>; <paramref name="streamingKeys"/>
    /// are (interface ID, method ID) pairs of its streaming methods. Returns the capability.
    /// </summary>
    public static CapHandle CreateServer(LoopHandle loop, ulong tag, ReadOnlySpan<ulong> streamingKeys)
    {
        using var held = new Held(loop);
        capnp_cap* created;
        fixed (ulong* keys = streamingKeys)
        {
            NativeStatus.ThrowIfFailed(NativeMethods.capnp_server_create(loop.Pointer, tag, keys, (uint)(streamingKeys.Length / 2), &created));
        }

        return new CapHandle(created);
    }

    /// <summary>A promise capability and the resolver that settles it.</summary>
    public static (CapHandle Capability, NativeResolver Resolver) CreatePromise(LoopHandle loop)
    {
        using var held = new Held(loop);
        capnp_cap* cap;
        capnp_resolver* resolver;
        NativeStatus.ThrowIfFailed(NativeMethods.capnp_promise_cap_create(loop.Pointer, &cap, &resolver));
        return (new CapHandle(cap), new NativeResolver((IntPtr)resolver));
    }

    /// <summary>Routes what the loop thread logs to <paramref name="tag"/> (see <see cref="LogRouter"/>).</summary>
    public static void RouteLog(LoopHandle loop, ulong tag)
    {
        using var held = new Held(loop);
        NativeStatus.ThrowIfFailed(NativeMethods.capnp_loop_route_log(loop.Pointer, tag));
    }

    /// <summary>A TLS identity from a PEM private key (a self-signed certificate is made for it).</summary>
    public static TlsIdentityHandle CreateTlsIdentity(ReadOnlySpan<byte> privateKeyPem)
    {
        capnp_tls_identity* created;
        fixed (byte* pem = privateKeyPem)
        {
            NativeStatus.ThrowIfFailed(NativeMethods.capnp_tls_identity_create(pem, (nuint)privateKeyPem.Length, &created));
        }

        return new TlsIdentityHandle(created);
    }
}
