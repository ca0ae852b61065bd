using Capnp.Native.Rpc;

namespace Capnp.Native;

/// <summary>
/// Finds a vat's services by ID, for peers that ask with a sturdy ref (<c>capnp://…/ID</c>): the
/// vat's restore hook (<see cref="VatOptions.Restorer"/>). The empty ID is the plain bootstrap
/// and never reaches the restorer.
/// </summary>
public interface IRestorer
{
    /// <summary>
    /// The service with this ID, or null when there is none (the peer then gets Failed
    /// "Unknown persistent service ID"). Called on the thread pool; an exception fails the peer's
    /// request with it (an <see cref="RpcException"/> keeps its type). Compare secret IDs in
    /// constant time, or by their digests.
    /// The vat takes over the returned reference: a server object is exported (its release hook
    /// runs when the last reference anywhere goes); a capability reference (a client's
    /// <see cref="CapabilityClient.Target"/>) is disposed by the vat once handed to the peer, so
    /// return a duplicate of one you keep (<see cref="CapabilityClientExtensions.Duplicate{TClient}"/>). The
    /// restorers in <c>Capnp.Native.Persistence</c> do this for you.
    /// </summary>
    ValueTask<ICallTarget?> RestoreAsync(ReadOnlyMemory<byte> serviceId, CancellationToken cancellationToken);
}
