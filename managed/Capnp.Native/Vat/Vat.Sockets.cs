using System.Net.Sockets;
using Capnp.Native.Rpc;
using Microsoft.Extensions.Logging;

namespace Capnp.Native;

// Connections over sockets the application connected itself (e.g. a socket pair shared with a
// child process). The vat owns them like the ones it accepts or makes: each is released when its
// peer goes, and disposing the vat closes them.
public sealed partial class Vat
{
    private readonly HashSet<RpcConnection> socketConnections = [];

    /// <summary>Connections over adopted sockets the vat holds now (for tests).</summary>
    internal int AdoptedConnectionCount
    {
        get
        {
            lock (connectionsLock)
            {
                return socketConnections.Count;
            }
        }
    }

    /// <summary>
    /// Runs a Cap'n Proto connection over <paramref name="socket"/>, already connected to a peer
    /// that serves the other end with <see cref="ServeSocketAsync"/> (or a C++ peer on the server
    /// side of a two-party connection), and gives the peer's bootstrap service as a typed client
    /// (yours to dispose). The peer can ask for this vat's bootstrap service too. The vat works on
    /// a duplicate of the socket's descriptor, so the <see cref="Socket"/> may be disposed after
    /// this returns. No TLS and no key check: use it only for sockets you trust (a socket pair,
    /// an inherited descriptor); peers on the network connect by <see cref="SturdyRef"/>.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The vat is disposed.</exception>
    public async Task<TClient> ConnectSocketAsync<TClient>(Socket socket, CancellationToken cancellationToken = default)
        where TClient : CapabilityClient, ICapabilityClient<TClient>
    {
        var connection = await AdoptSocketAsync(socket, isServer: false, cancellationToken).ConfigureAwait(false);
        return connection.GetBootstrap<TClient>();
    }

    /// <summary>
    /// Serves this vat's bootstrap service (<see cref="VatOptions.Bootstrap"/>) over
    /// <paramref name="socket"/>, already connected to a peer that takes the client side
    /// (<see cref="ConnectSocketAsync{TClient}"/>, or a C++ two-party client). Completes once the
    /// connection runs; the vat keeps it until the peer goes or the vat is disposed. As for
    /// <see cref="ConnectSocketAsync{TClient}"/>: a duplicate of the descriptor is used, and
    /// there is no TLS.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The vat is disposed.</exception>
    public async Task ServeSocketAsync(Socket socket, CancellationToken cancellationToken = default)
        => await AdoptSocketAsync(socket, isServer: true, cancellationToken).ConfigureAwait(false);

    private async Task<RpcConnection> AdoptSocketAsync(Socket socket, bool isServer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(socket);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);
        var connection = await loop.ConnectSocketAsync(socket, isServer, options.Bootstrap, cancellationToken).ConfigureAwait(false);
        lock (connectionsLock)
        {
            if (Volatile.Read(ref disposed) == 0)
            {
                socketConnections.Add(connection);
                _ = ReleaseWhenDisconnectedAsync(connection);
                return connection;
            }
        }

        // Disposed while the connection was being set up: it must not outlive the vat.
        await connection.DisposeAsync().ConfigureAwait(false);
        throw new ObjectDisposedException(nameof(Vat));
    }

    private async Task ReleaseWhenDisconnectedAsync(RpcConnection connection)
    {
        try
        {
            await connection.Disconnected.ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
            return; // disposed with the vat
        }
        catch (Exception error)
        {
            logger.LogDebug(error, "Connection over an adopted socket lost");
        }

        lock (connectionsLock)
        {
            if (!socketConnections.Remove(connection))
            {
                return; // the vat's disposal has it
            }
        }

        await connection.DisposeAsync().ConfigureAwait(false);
    }

    private async Task DisposeSocketConnectionsAsync()
    {
        RpcConnection[] adopted;
        lock (connectionsLock)
        {
            adopted = [.. socketConnections];
            socketConnections.Clear();
        }

        foreach (var connection in adopted)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}
