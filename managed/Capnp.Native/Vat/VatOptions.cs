using Capnp.Native.Rpc;
using Microsoft.Extensions.Logging;

namespace Capnp.Native;

/// <summary>How a <see cref="Vat"/> serves and connects. Set what you need; the defaults are safe.</summary>
public sealed class VatOptions
{
    /// <summary>
    /// Where to accept connections: <c>tcp:HOST:PORT</c> (IPv6 hosts in brackets, port 0 for any
    /// free port) or <c>unix:PATH</c>. Null: the vat only makes connections.
    /// </summary>
    public string? ListenAddress { get; init; }

    /// <summary>The capability every peer gets as this vat's bootstrap. Null: peers get none.</summary>
    public ICallTarget? Bootstrap { get; init; }

    /// <summary>
    /// The most connections the vat serves at once; further peers wait in the kernel's backlog
    /// until one goes. Null (the default): three quarters of the process's file-descriptor limit
    /// (<c>ulimit -n</c>), so that exhausting the vat's connections never leaves the .NET runtime,
    /// or the rest of the application, without descriptors.
    /// </summary>
    public int? MaxConnections { get; init; }

    /// <summary>Where the vat logs (connections at debug level; failures as warnings). Null: nowhere.</summary>
    public ILogger? Logger { get; init; }
}
