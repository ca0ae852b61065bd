using Capnp.Native.Rpc;

namespace Capnp.Native;

public sealed partial class Vat
{
    /// <summary>
    /// A client usable now for a capability that <paramref name="resolution"/> will produce (e.g.
    /// a service still being restored or connected to): calls made before the task completes wait
    /// in the engine and are delivered in order once it does, and the client can be passed to
    /// peers at once (they see a promise that resolves later, as with C++'s
    /// <c>kj::newPromiseClient</c>). If the task fails, the calls fail with its exception (an
    /// <see cref="RpcException"/> keeps its type; anything else arrives as
    /// <see cref="RpcExceptionType.Failed"/>). The returned client is yours to dispose; the
    /// client the task produces is taken over by the promise (do not dispose it).
    /// </summary>
    /// <exception cref="ObjectDisposedException">The vat is disposed.</exception>
    public TClient CreatePromisedClient<TClient>(Task<TClient> resolution)
        where TClient : CapabilityClient, ICapabilityClient<TClient>
    {
        ArgumentNullException.ThrowIfNull(resolution);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);
        return TClient.Create(loop.CreateCapabilityFromClient(resolution));
    }
}
