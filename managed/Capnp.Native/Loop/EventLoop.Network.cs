using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Capnp.Native.Interop;
using Capnp.Native.Rpc;

namespace Capnp.Native;

internal sealed partial class EventLoop
{
    /// <summary>
    /// Listens for two-party connections on <paramref name="address"/>: <c>tcp:HOST:PORT</c>
    /// (IPv6 hosts in brackets, port 0 for any free port) or <c>unix:PATH</c>. Each accepted
    /// connection is offered <paramref name="bootstrap"/> (a server is exported for the purpose).
    /// </summary>
    public Task<RpcListener> ListenAsync(string address, ICallTarget? bootstrap = null, CancellationToken cancellationToken = default)
        => ListenAsync(address, new ListenSettings { Bootstrap = bootstrap }, cancellationToken);

    /// <summary>As <see cref="ListenAsync(string, ICallTarget?, CancellationToken)"/>, with a restorer and TLS.</summary>
    internal Task<RpcListener> ListenAsync(string address, ListenSettings settings, CancellationToken cancellationToken)
        => StartListenerAsync(settings, offered => NativeGateway.Listen(this, address, offered, settings, cancellationToken));

    /// <summary>
    /// A listener on this loop accepting from <paramref name="source"/>'s socket (a listener of
    /// another loop of the same vat, bound already), so the loops share the connections.
    /// </summary>
    internal Task<RpcListener> ShareListenerAsync(RpcListener source, ListenSettings settings, CancellationToken cancellationToken)
        => StartListenerAsync(settings, offered => NativeGateway.Share(source.Handle, this, offered, settings, cancellationToken));

    // Exports the bootstrap on this loop, starts the native listener, and owns both once it is bound.
    private async Task<RpcListener> StartListenerAsync(ListenSettings settings, Func<CapHandle?, (ListenerHandle Handle, Task<string> Bound)> start)
    {
        var offered = settings.Bootstrap is null ? null : CreateCapability(settings.Bootstrap);
        ListenerHandle? handle = null;
        try
        {
            var listening = start(offered?.LiveHandle);
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

    /// <summary>Connects to <paramref name="address"/> (syntax as for <see cref="ListenAsync(string, ICallTarget?, CancellationToken)"/>), offering <paramref name="bootstrap"/> to the peer.</summary>
    public Task<RpcConnection> ConnectAsync(string address, ICallTarget? bootstrap = null, CancellationToken cancellationToken = default)
        => ConnectAsync(address, new ConnectSettings { Bootstrap = bootstrap }, cancellationToken);

    /// <summary>As <see cref="ConnectAsync(string, ICallTarget?, CancellationToken)"/>, with TLS.</summary>
    internal async Task<RpcConnection> ConnectAsync(string address, ConnectSettings settings, CancellationToken cancellationToken)
    {
        using var offered = settings.Bootstrap is null ? null : CreateCapability(settings.Bootstrap);
        return await NativeGateway.ConnectAsync(this, address, offered?.LiveHandle, settings, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs a two-party connection over an already connected socket (e.g. one end of a socket
    /// pair shared with a child process). The shim works on a duplicate of the descriptor; the
    /// caller may dispose the <see cref="Socket"/>. The two ends must pass different
    /// <paramref name="isServer"/> values.
    /// </summary>
    public async Task<RpcConnection> ConnectSocketAsync(Socket socket, bool isServer, ICallTarget? bootstrap = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(socket);
        using var offered = bootstrap is null ? null : CreateCapability(bootstrap);
        return await NativeGateway.AdoptSocketAsync(this, socket, isServer, offered?.LiveHandle, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>What a listener offers and how it secures connections.</summary>
internal sealed record ListenSettings
{
    public ICallTarget? Bootstrap { get; init; }

    /// <summary>Non-null: peers may also ask for services by ID.</summary>
    public IRestorer? Restorer { get; init; }

    /// <summary>The token the restorer's calls get (cancelled when its owner stops).</summary>
    public CancellationToken RestorerStopping { get; init; }

    /// <summary>Non-null: serve TLS with this identity.</summary>
    public TlsIdentityHandle? Tls { get; init; }

    public bool RequireClientCertificate { get; init; }

    /// <summary>Null: the shim's default (10 s).</summary>
    public TimeSpan? HandshakeTimeout { get; init; }

    public PeerLimits Limits { get; init; } = new();
}

/// <summary>What a connection offers and how it is secured.</summary>
internal sealed record ConnectSettings
{
    public ICallTarget? Bootstrap { get; init; }

    /// <summary>The identity presented to a TLS server.</summary>
    public TlsIdentityHandle? Tls { get; init; }

    /// <summary>Non-null: connect with TLS and accept only a server with this key fingerprint (32 bytes).</summary>
    public byte[]? ServerFingerprint { get; init; }

    /// <summary>Null: the shim's default (10 s).</summary>
    public TimeSpan? HandshakeTimeout { get; init; }

    public PeerLimits Limits { get; init; } = new();
}

/// <summary>What one peer may make a connection hold; null: the shim's defaults.</summary>
/// <param name="MaxOutstandingQuestions">Questions asked and not finished before the peer is disconnected (default 4096).</param>
/// <param name="MaxUnwrittenBytes">Bytes sent and not yet written before the peer's messages stop being read (default 16 MiB).</param>
/// <param name="IdleTimeout">How long a connection holding nothing for either side may pass no message before it is closed (default 120 s; <see cref="Timeout.InfiniteTimeSpan"/>: never).</param>
/// <param name="TraceTables">Not a limit: log each change to the connection's import and export tables at debug level.</param>
internal sealed record PeerLimits(int? MaxOutstandingQuestions = null, long? MaxUnwrittenBytes = null, TimeSpan? IdleTimeout = null, bool TraceTables = false)
{
    public uint IdleMillisecondsForNative => IdleTimeout switch
    {
        null => 0,
        { } infinite when infinite == Timeout.InfiniteTimeSpan => uint.MaxValue,
        { } value => (uint)Math.Clamp(value.TotalMilliseconds, 1, uint.MaxValue - 1),
    };

    public uint OutstandingQuestionsForNative => MaxOutstandingQuestions is { } value ? (uint)Math.Max(1, value) : 0;

    public ulong UnwrittenBytesForNative => MaxUnwrittenBytes is { } value ? (ulong)Math.Max(1, value) : 0;
}
