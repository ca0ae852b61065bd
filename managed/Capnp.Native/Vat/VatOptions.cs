using Capnp.Native.Rpc;
using Microsoft.Extensions.Logging;

namespace Capnp.Native;

/// <summary>
/// How a <see cref="Vat"/> is known, serves and connects. Set what you need; the defaults are
/// safe. The seed's command-line options (<c>--capnp-secret-key-file</c>,
/// <c>--capnp-listen-address</c>, <c>--capnp-public-address</c>, <c>--capnp-disable-tls</c>) bind
/// to the first four properties (see the <c>Capnp.Native.CommandLine</c> assembly).
/// </summary>
public sealed record VatOptions
{
    /// <summary>The vat's secret key; null for a new ephemeral key each run (<see cref="VatIdentity.CreateEphemeral"/>).</summary>
    public VatIdentity? Identity { get; init; }

    /// <summary>Where the vat accepts connections; null for a vat that only makes connections.</summary>
    public VatAddress? ListenAddress { get; init; }

    /// <summary>
    /// The address written in the vat's <c>capnp://</c> URIs, for when clients must connect
    /// somewhere else than <see cref="ListenAddress"/> (e.g. listen on <c>0.0.0.0</c>, publish a
    /// host name). Null: the bound listen address (with the real port when it asked for port 0).
    /// </summary>
    public VatAddress? PublicAddress { get; init; }

    /// <summary>
    /// Serve and connect without TLS: connections are neither encrypted nor authenticated and the
    /// vat's URIs say <c>insecure@</c>. Only for peers that cannot speak TLS, on trusted networks.
    /// </summary>
    public bool DisableTls { get; init; }

    /// <summary>
    /// Refuse TLS clients that present no certificate. By default they are served as anonymous
    /// (C++ and Python clients often have none); our own clients always present one.
    /// </summary>
    public bool RequireClientCertificate { get; init; }

    /// <summary>The capability every peer gets as this vat's bootstrap (the empty service ID). Null: peers get none.</summary>
    public ICallTarget? Bootstrap { get; init; }

    /// <summary>Finds services by ID for peers that ask with a sturdy ref. Null: only the bootstrap is served.</summary>
    public IRestorer? Restorer { get; init; }

    /// <summary>
    /// The most connections the vat serves at once; further peers wait in the kernel's backlog
    /// until one goes. Null (the default): three quarters of the process's file-descriptor limit
    /// (<c>ulimit -n</c>), so that exhausting the vat's connections never leaves the .NET runtime,
    /// or the rest of the application, without descriptors.
    /// </summary>
    public int? MaxConnections { get; init; }

    /// <summary>
    /// Questions (calls and bootstrap requests) a peer may have outstanding on one connection:
    /// asked and not yet finished, so that the vat still holds their answers. A peer that asks
    /// more is disconnected with that reason. Null: 4096.
    /// </summary>
    public int? MaxOutstandingQuestionsPerConnection { get; init; }

    /// <summary>
    /// Bytes sent to a peer and not yet written because it does not read them; beyond this the
    /// vat stops reading the peer's messages until it catches up, so a peer that calls and never
    /// reads the answers cannot grow the vat's memory. Null: 16 MiB.
    /// </summary>
    public long? MaxUnwrittenBytesPerConnection { get; init; }

    /// <summary>How long a peer may take over its TLS handshake, either way. Null: 10 seconds.</summary>
    public TimeSpan? HandshakeTimeout { get; init; }

    /// <summary>
    /// How long a connection on which neither side holds anything of the other (no calls in
    /// flight, no capabilities imported or exported) may pass no message before the vat closes
    /// it, so that peers that connect and do nothing, or are done, do not hold descriptors
    /// forever. A connection over which any capability is held stays open however quiet it is.
    /// Null: 120 seconds; <see cref="Timeout.InfiniteTimeSpan"/>: never.
    /// </summary>
    public TimeSpan? IdleTimeout { get; init; }

    /// <summary>
    /// Where to show <c>[ connecting to ADDRESS ]</c> while a connect takes over half a second
    /// (erased once it ends), as the seed's vats do on an interactive terminal. Null (the
    /// default): nowhere, since a library writes nothing to the console by itself; the
    /// command-line options (Capnp.Native.CommandLine) set it to standard error when that is a
    /// terminal.
    /// </summary>
    public TextWriter? ConnectProgress { get; init; }

    /// <summary>
    /// How many event loops (threads) serve the connections the vat accepts: each loop accepts
    /// from the same listening socket and serves the connections it took, so one connection's
    /// work (e.g. a 60 MiB message) never stalls the calls of connections on other loops, and a
    /// server can use more than one core. Each new peer goes to the loop serving the fewest
    /// connections. <see cref="MaxConnections"/> is shared out between them (never more loops
    /// than connections). Null (the default): one per core (<see cref="Environment.ProcessorCount"/>);
    /// only a vat that listens starts more than one. The connections this vat makes (sturdy refs
    /// it connects to) run on its first loop. The trade-off: a capability that arrived on one
    /// loop and is passed on over a connection of another is forwarded between them in process
    /// (a hop on the thread pool per call, and no path shortening); set 1 when your peers mostly
    /// call each other's capabilities through this vat.
    /// </summary>
    public int? EventLoops { get; init; }

    /// <summary>Where the vat logs (connections at debug level; failures as warnings). Null: nowhere.</summary>
    public ILogger? Logger { get; init; }
}
