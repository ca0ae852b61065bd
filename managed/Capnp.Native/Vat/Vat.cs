using Capnp.Native.Interop;
using Capnp.Native.Rpc;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Capnp.Native;

/// <summary>
/// A vat: this process's place in a Cap'n Proto network, known to peers by the fingerprint of
/// its key (TLS) and reached at <c>capnp://</c> sturdy refs. It owns its event loop, its
/// listener and every connection it accepts or makes, so nothing it serves depends on the
/// garbage collector: an accepted connection is released when its peer goes, and disposing the
/// vat closes everything (pending work then fails with <see cref="ObjectDisposedException"/>).
/// </summary>
public sealed partial class Vat : IAsyncDisposable
{
    private readonly EventLoop loop;
    private readonly RpcListener? listener;
    // The loops and listeners beyond the first (VatOptions.EventLoops), sharing the listening socket.
    private readonly (EventLoop Loop, RpcListener Listener)[] moreLoops;
    private readonly TlsIdentityHandle tlsIdentity;
    private readonly VatOptions options;
    private readonly ILogger logger;
    private readonly CancellationTokenSource stopping;
    private readonly Lock connectionsLock = new();
    // One connection per peer (address and key); concurrent connects to one peer share one attempt.
    private readonly Dictionary<string, Task<RpcConnection>> connections = new(StringComparer.Ordinal);
    private int disposed;

    private Vat(EventLoop loop, RpcListener? listener, (EventLoop, RpcListener)[] moreLoops, TlsIdentityHandle tlsIdentity,
                VatIdentity identity, VatOptions options, ILogger logger, CancellationTokenSource stopping, int maxConnections)
    {
        this.loop = loop;
        this.listener = listener;
        this.moreLoops = moreLoops;
        this.tlsIdentity = tlsIdentity;
        this.options = options;
        this.logger = logger;
        this.stopping = stopping;
        Identity = identity;
        MaxConnections = maxConnections;
        ListenAddress = listener is null ? null : VatAddress.Parse(listener.Address);
        PublicAddress = options.PublicAddress ?? ListenAddress;
        _ = ReportLoopFailureAsync(loop);
        foreach (var (more, _) in moreLoops)
        {
            _ = ReportLoopFailureAsync(more);
        }

        reportLeak = description => ThreadPool.UnsafeQueueUserWorkItem(
            static state => state.logger.LogWarning("A capability reference was released by the garbage collector, not disposed: {Reference}", state.description),
            (logger, description), preferLocal: false);
        LeakTracker.LeakReported += reportLeak;
    }

    // Raised on the finalizer thread: the log line is written from the thread pool.
    private readonly Action<string> reportLeak;

    /// <summary>The vat's key (an ephemeral one unless <see cref="VatOptions.Identity"/> was set).</summary>
    public VatIdentity Identity { get; }

    /// <summary>How peers authenticate this vat: its key's fingerprint, or insecure when TLS is disabled.</summary>
    public PeerDigest Digest => options.DisableTls ? PeerDigest.Insecure : Identity.Digest;

    /// <summary>The bound listen address (with the real port when port 0 was asked for), or null when the vat does not listen.</summary>
    public VatAddress? ListenAddress { get; }

    /// <summary>The address in this vat's sturdy refs: <see cref="VatOptions.PublicAddress"/>, else <see cref="ListenAddress"/>.</summary>
    public VatAddress? PublicAddress { get; }

    /// <summary>The most connections the vat serves at once.</summary>
    public int MaxConnections { get; }

    /// <summary>The event loop every native object of this vat lives on.</summary>
    internal EventLoop Loop => loop;

    /// <summary>The listener, when the vat listens (for statistics in tests and the vat dump).</summary>
    internal RpcListener? Listener => listener;

    /// <summary>What the vat's listeners served, summed over its loops (for tests and the dump); peaks are summed too.</summary>
    internal async Task<ListenerStatistics> ReadListenerStatisticsAsync()
    {
        var all = await Task.WhenAll(Listeners.Select(l => l.ReadStatisticsAsync())).ConfigureAwait(false);
        return new ListenerStatistics(all.Sum(s => s.Connections), all.Sum(s => s.PeakConnections), all.Sum(s => s.Accepted),
                                      all.Sum(s => s.AcceptFailures), all.Sum(s => s.HandshakeFailures));
    }

    /// <summary>Every listener of the vat, one per loop (for statistics in tests).</summary>
    internal IEnumerable<RpcListener> Listeners => listener is null ? [] : [listener, .. moreLoops.Select(m => m.Listener)];

    /// <summary>How many event loops serve the vat's connections.</summary>
    public int EventLoopCount => 1 + moreLoops.Length;

    /// <summary>Starts a vat: its event loop and, when <see cref="VatOptions.ListenAddress"/> is set, its listener.</summary>
    public static async Task<Vat> StartAsync(VatOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.MaxConnections is <= 0 || options.MaxOutstandingQuestionsPerConnection is <= 0 || options.MaxUnwrittenBytesPerConnection is <= 0
            || options.EventLoops is <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "MaxConnections, MaxOutstandingQuestionsPerConnection, MaxUnwrittenBytesPerConnection and EventLoops must be positive.");
        }

        if (options.IdleTimeout is { } idle && idle != Timeout.InfiniteTimeSpan && idle <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "IdleTimeout must be positive or Timeout.InfiniteTimeSpan.");
        }

        if (options.Restorer is IVatBoundRestorer { IsAttached: true })
        {
            throw new InvalidOperationException("The restorer already serves another vat; give each vat its own.");
        }

        var logger = options.Logger ?? NullLogger.Instance;
        var maxConnections = options.MaxConnections ?? DescriptorLimit.DefaultMaxConnections();
        var identity = options.Identity ?? VatIdentity.CreateEphemeral();
        var tlsIdentity = CreateTlsIdentity(identity);
        var stopping = new CancellationTokenSource();
        // Never more loops than connections: each loop serves at least one.
        var loopCount = (int)Math.Min(options.EventLoops ?? Environment.ProcessorCount, maxConnections);
        var loop = EventLoop.Start();
        RpcListener? listener = null;
        var moreLoops = new List<(EventLoop Loop, RpcListener? Listener)>();
        try
        {
            // Nothing the engine logs goes to the console: it goes to the vat's logger, or nowhere.
            loop.RouteLogTo(logger);
            if (options.ListenAddress is { } address)
            {
                var settings = new ListenSettings
                {
                    Bootstrap = options.Bootstrap,
                    Restorer = options.Restorer,
                    RestorerStopping = stopping.Token,
                    Tls = options.DisableTls ? null : tlsIdentity,
                    RequireClientCertificate = options.RequireClientCertificate,
                    HandshakeTimeout = options.HandshakeTimeout,
                    Limits = LimitsOf(options),
                };
                listener = await loop.ListenAsync(address.ToString(), settings, cancellationToken).ConfigureAwait(false);
                // Each loop serves its share of the connections: together exactly MaxConnections.
                int ShareOf(int loopIndex) => maxConnections / loopCount + (loopIndex < maxConnections % loopCount ? 1 : 0);
                for (var i = 1; i < loopCount; i++)
                {
                    var more = EventLoop.Start();
                    moreLoops.Add((more, null));
                    more.RouteLogTo(logger);
                    var shared = await more.ShareListenerAsync(listener, settings, cancellationToken).ConfigureAwait(false);
                    moreLoops[^1] = (more, shared);
                    await shared.ServeAsync(ShareOf(i), cancellationToken).ConfigureAwait(false);
                }

                await listener.ServeAsync(ShareOf(0), cancellationToken).ConfigureAwait(false);
                logger.LogInformation("Vat listening on {Address} ({Security}, at most {MaxConnections} connections, {Loops} event loops)",
                    listener.Address, options.DisableTls ? "insecure" : "TLS", maxConnections, loopCount);
            }

            var vat = new Vat(loop, listener, [.. moreLoops.Select(m => (m.Loop, m.Listener!))], tlsIdentity, identity, options,
                              logger, stopping, maxConnections);
            if (options.Restorer is IVatBoundRestorer bound)
            {
                try
                {
                    bound.Attach(vat);
                }
                catch
                {
                    await vat.DisposeAsync().ConfigureAwait(false);
                    throw;
                }
            }

            return vat;
        }
        catch
        {
            foreach (var (more, shared) in moreLoops)
            {
                await more.DisposeAsync().ConfigureAwait(false);
                shared?.Dispose();
            }

            listener?.Dispose();
            await loop.DisposeAsync().ConfigureAwait(false);
            tlsIdentity.Dispose();
            stopping.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The sturdy ref of this vat's service <paramref name="serviceId"/> (empty: its bootstrap),
    /// to give to clients (e.g. in a cap file). It holds the secret ID: log it only redacted.
    /// </summary>
    /// <exception cref="InvalidOperationException">The vat has no address (it does not listen and has no public address).</exception>
    public SturdyRef GetSturdyRef(ReadOnlySpan<byte> serviceId = default)
    {
        var address = PublicAddress ?? throw new InvalidOperationException("This vat has no address: set VatOptions.ListenAddress (or PublicAddress).");
        return new SturdyRef(address, Digest, serviceId);
    }

    /// <summary>
    /// The service a sturdy ref names, as a typed client (yours to dispose), once connected to its
    /// vat. The connection belongs to this vat and is shared by every sturdy ref of that peer; a
    /// sturdy ref of this vat itself resolves locally, without the network. A server with another
    /// key than the sturdy ref's fails the connect with <see cref="PeerAuthenticationException"/>;
    /// an ID the peer does not know fails the service's calls with Failed "Unknown persistent
    /// service ID" (the peer answers asynchronously, as the seed's vats do).
    /// </summary>
    public async Task<TClient> ConnectAsync<TClient>(SturdyRef sturdyRef, CancellationToken cancellationToken = default)
        where TClient : CapabilityClient, ICapabilityClient<TClient>
    {
        ArgumentNullException.ThrowIfNull(sturdyRef);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);
        if (IsOwn(sturdyRef))
        {
            return TClient.Create(await RestoreLocallyAsync(sturdyRef.ServiceId, cancellationToken).ConfigureAwait(false));
        }

        var connection = await GetConnectionAsync(sturdyRef, cancellationToken).ConfigureAwait(false);
        return TClient.Create(connection.Restore(sturdyRef.ServiceId));
    }

    /// <summary>
    /// Describes the vat for debugging, like the seed's <c>CapTP.dump</c>: for each connection it
    /// serves or made, the peer (address and key fingerprint, or anonymous) and what each side
    /// holds of the other — the protocol's questions (calls asked and not finished), answers,
    /// imports and exports, each capability with its reference count — and how long the
    /// connection has been quiet. Nothing secret is in it (no service IDs).
    /// </summary>
    public async Task<string> DumpAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);
        var text = new System.Text.StringBuilder();
        text.Append("vat ").Append(Digest);
        text.AppendLine(PublicAddress is { } address ? $" at {address}" : " (not listening)");
        foreach (var serving in Listeners)
        {
            text.Append(await serving.DescribeAsync(cancellationToken).ConfigureAwait(false));
        }

        Task<RpcConnection>[] attempts;
        lock (connectionsLock)
        {
            attempts = [.. connections.Values];
        }

        foreach (var attempt in attempts)
        {
            if (!attempt.IsCompletedSuccessfully)
            {
                continue; // still connecting, or failed
            }

            try
            {
                text.Append(await attempt.Result.DescribeAsync(cancellationToken).ConfigureAwait(false));
            }
            catch (ObjectDisposedException)
            {
                // Closed meanwhile: nothing left to describe.
            }
        }

        return text.ToString();
    }

    private bool IsOwn(SturdyRef sturdyRef) => PublicAddress is { } address && sturdyRef.Address == address && sturdyRef.Digest == Digest;

    private async ValueTask<NativeCapability> RestoreLocallyAsync(ReadOnlyMemory<byte> serviceId, CancellationToken cancellationToken)
    {
        if (serviceId.IsEmpty)
        {
            return loop.CreateCapability(options.Bootstrap ?? throw new RpcFailedException("This vat does not expose any public/bootstrap interfaces."));
        }

        var restored = options.Restorer is null ? null : await options.Restorer.RestoreAsync(serviceId, cancellationToken).ConfigureAwait(false);
        // The restorer's reference is ours to keep (IRestorer's contract).
        return loop.Adopt(restored ?? throw new RpcFailedException(RestoreDispatcher.UnknownServiceMessage));
    }

    /// <summary>The vat's connection to the peer a sturdy ref names, made on first use and shared.</summary>
    internal async Task<RpcConnection> GetConnectionAsync(SturdyRef peer, CancellationToken cancellationToken)
    {
        var key = $"{peer.Digest}@{peer.Address}";
        Task<RpcConnection> attempt;
        lock (connectionsLock)
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);
            // A connection that has just closed (e.g. idle) is replaced, not handed out.
            if (!connections.TryGetValue(key, out attempt!) || IsClosed(attempt))
            {
                connections.Remove(key);
                attempt = ConnectAndWatchAsync(key, peer);
                connections.Add(key, attempt);
            }
        }

        // A caller that gives up does not cancel the shared attempt.
        return await attempt.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private static bool IsClosed(Task<RpcConnection> attempt)
        => attempt.IsCompletedSuccessfully && attempt.Result.Disconnected.IsCompleted;

    private async Task<RpcConnection> ConnectAndWatchAsync(string key, SturdyRef peer)
    {
        var redacted = peer.WithServiceId(default).ToRedactedString();
        RpcConnection connection;
        try
        {
            var connecting = loop.ConnectAsync(peer.Address.ToString(), new ConnectSettings
            {
                Tls = tlsIdentity,
                ServerFingerprint = peer.Digest.IsInsecure ? null : peer.Digest.Sha256.ToArray(),
                HandshakeTimeout = options.HandshakeTimeout,
                Limits = LimitsOf(options),
            }, CancellationToken.None);
            connection = options.ConnectProgress is { } progress
                ? await ConnectProgress.ShowWhileSlowAsync(progress, peer.Address.ToString(), connecting).ConfigureAwait(false)
                : await connecting.ConfigureAwait(false);
        }
        catch (Exception error)
        {
            // A failed attempt is not kept: the next caller tries again.
            Forget(key);
            logger.LogDebug(error, "Connecting to {Peer} failed", redacted);
            throw;
        }

        logger.LogDebug("Connected to {Peer}", redacted);
        _ = ForgetWhenDisconnectedAsync(key, redacted, connection);
        return connection;
    }

    private async Task ForgetWhenDisconnectedAsync(string key, string peer, RpcConnection connection)
    {
        try
        {
            await connection.Disconnected.ConfigureAwait(false);
            logger.LogDebug("Connection to {Peer} closed", peer);
        }
        catch (ObjectDisposedException)
        {
            // Disposed with the vat.
        }
        catch (Exception error)
        {
            logger.LogDebug(error, "Connection to {Peer} lost", peer);
        }

        lock (connectionsLock)
        {
            // Unless a new connection to the peer has replaced this one already.
            if (connections.TryGetValue(key, out var current) && current.IsCompletedSuccessfully && current.Result == connection)
            {
                connections.Remove(key);
            }
        }

        await connection.DisposeAsync().ConfigureAwait(false);
    }

    private void Forget(string key)
    {
        lock (connectionsLock)
        {
            connections.Remove(key);
        }
    }

    private async Task ReportLoopFailureAsync(EventLoop watched)
    {
        try
        {
            await watched.Completion.ConfigureAwait(false);
        }
        catch (Exception error)
        {
            logger.LogCritical(error, "The vat's event loop failed; its connections are gone");
        }
    }

    // At debug level the engine's import and export tables are traced too (what each connection
    // imports and exports, as it changes).
    private static PeerLimits LimitsOf(VatOptions options)
        => new(options.MaxOutstandingQuestionsPerConnection, options.MaxUnwrittenBytesPerConnection, options.IdleTimeout,
               TraceTables: options.Logger?.IsEnabled(LogLevel.Debug) == true);

    private static TlsIdentityHandle CreateTlsIdentity(VatIdentity identity) => NativeGateway.CreateTlsIdentity(identity.PrivateKeyPem);

    /// <summary>Closes the listener and every connection, fails pending work and stops the event loop.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
        {
            return;
        }

        Task<RpcConnection>[] attempts;
        lock (connectionsLock)
        {
            attempts = [.. connections.Values];
            connections.Clear();
        }

        LeakTracker.LeakReported -= reportLeak;
        await stopping.CancelAsync().ConfigureAwait(false);
        // Stopping the loop first fails whatever is pending as disposed (closing a connection first
        // would fail its calls as disconnected) and destroys every native object; the handles
        // released after it only free memory.
        await loop.DisposeAsync().ConfigureAwait(false);
        listener?.Dispose();
        foreach (var (more, shared) in moreLoops)
        {
            await more.DisposeAsync().ConfigureAwait(false);
            shared.Dispose();
        }

        foreach (var attempt in attempts)
        {
            if (attempt.IsCompletedSuccessfully)
            {
                await attempt.Result.DisposeAsync().ConfigureAwait(false);
            }
        }

        await DisposeSocketConnectionsAsync().ConfigureAwait(false);

        tlsIdentity.Dispose();
        stopping.Dispose();
    }
}
