using Capnp.Native.Rpc;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Capnp.Native;

/// <summary>
/// A vat: this process's place in a Cap'n Proto network. It owns its event loop, its listener and
/// every connection it accepts or makes, so nothing it serves depends on the garbage collector:
/// an accepted connection is released when its peer goes, and disposing the vat closes
/// everything (pending work then fails with <see cref="ObjectDisposedException"/>).
/// </summary>
public sealed class Vat : IAsyncDisposable
{
    private readonly EventLoop loop;
    private readonly RpcListener? listener;
    private readonly ILogger logger;
    private readonly Lock connectionsLock = new();
    // One connection per peer address; concurrent connects to one peer share one attempt.
    private readonly Dictionary<string, Task<RpcConnection>> connections = new(StringComparer.Ordinal);
    private int disposed;

    private Vat(EventLoop loop, RpcListener? listener, ILogger logger, int maxConnections)
    {
        this.loop = loop;
        this.listener = listener;
        this.logger = logger;
        MaxConnections = maxConnections;
        _ = ReportLoopFailureAsync();
    }

    /// <summary>The bound listen address (e.g. <c>tcp:127.0.0.1:40123</c> with the real port), or null when the vat does not listen.</summary>
    public string? ListenAddress => listener?.Address;

    /// <summary>The most connections the vat serves at once.</summary>
    public int MaxConnections { get; }

    /// <summary>The event loop every native object of this vat lives on.</summary>
    internal EventLoop Loop => loop;

    /// <summary>The listener, when the vat listens (for statistics in tests and the vat dump).</summary>
    internal RpcListener? Listener => listener;

    /// <summary>Starts a vat: its event loop and, when <see cref="VatOptions.ListenAddress"/> is set, its listener.</summary>
    public static async Task<Vat> StartAsync(VatOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.MaxConnections is <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.MaxConnections, "MaxConnections must be positive.");
        }

        var logger = options.Logger ?? NullLogger.Instance;
        var maxConnections = options.MaxConnections ?? DescriptorLimit.DefaultMaxConnections();
        var loop = EventLoop.Start();
        RpcListener? listener = null;
        try
        {
            if (options.ListenAddress is { } address)
            {
                listener = await loop.ListenAsync(address, options.Bootstrap, cancellationToken).ConfigureAwait(false);
                await listener.ServeAsync(maxConnections, cancellationToken).ConfigureAwait(false);
                logger.LogInformation("Vat listening on {Address} (at most {MaxConnections} connections)", listener.Address, maxConnections);
            }

            return new Vat(loop, listener, logger, maxConnections);
        }
        catch
        {
            listener?.Dispose();
            await loop.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// The bootstrap capability of the vat at <paramref name="address"/> (syntax as for
    /// <see cref="VatOptions.ListenAddress"/>). The connection belongs to this vat and is shared by
    /// every caller for that address; the returned capability is yours to dispose.
    /// </summary>
    public async Task<TClient> ConnectAsync<TClient>(string address, CancellationToken cancellationToken = default)
        where TClient : CapabilityClient, ICapabilityClient<TClient>
    {
        var connection = await GetConnectionAsync(address, cancellationToken).ConfigureAwait(false);
        return connection.GetBootstrap<TClient>();
    }

    /// <summary>The vat's connection to <paramref name="address"/>, made on first use and shared.</summary>
    internal async Task<RpcConnection> GetConnectionAsync(string address, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(address);
        Task<RpcConnection> attempt;
        lock (connectionsLock)
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);
            if (!connections.TryGetValue(address, out attempt!))
            {
                attempt = ConnectAndWatchAsync(address);
                connections.Add(address, attempt);
            }
        }

        // A caller that gives up does not cancel the shared attempt.
        return await attempt.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<RpcConnection> ConnectAndWatchAsync(string address)
    {
        RpcConnection connection;
        try
        {
            connection = await loop.ConnectAsync(address).ConfigureAwait(false);
        }
        catch (Exception error)
        {
            // A failed attempt is not kept: the next caller tries again.
            Forget(address);
            logger.LogDebug(error, "Connecting to {Address} failed", address);
            throw;
        }

        logger.LogDebug("Connected to {Address}", address);
        _ = ForgetWhenDisconnectedAsync(address, connection);
        return connection;
    }

    private async Task ForgetWhenDisconnectedAsync(string address, RpcConnection connection)
    {
        try
        {
            await connection.Disconnected.ConfigureAwait(false);
            logger.LogDebug("Connection to {Address} closed", address);
        }
        catch (Exception error) when (error is not ObjectDisposedException)
        {
            logger.LogDebug(error, "Connection to {Address} lost", address);
        }
        catch (ObjectDisposedException)
        {
            // Disposed with the vat.
        }

        Forget(address);
        await connection.DisposeAsync().ConfigureAwait(false);
    }

    private void Forget(string address)
    {
        lock (connectionsLock)
        {
            connections.Remove(address);
        }
    }

    private async Task ReportLoopFailureAsync()
    {
        try
        {
            await loop.Completion.ConfigureAwait(false);
        }
        catch (Exception error)
        {
            logger.LogCritical(error, "The vat's event loop failed; its connections are gone");
        }
    }

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

        // Stopping the loop first fails whatever is pending as disposed (closing a connection first
        // would fail its calls as disconnected) and destroys every native object; the handles
        // released after it only free memory.
        await loop.DisposeAsync().ConfigureAwait(false);
        listener?.Dispose();
        foreach (var attempt in attempts)
        {
            if (attempt.IsCompletedSuccessfully)
            {
                await attempt.Result.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
