using System.Security.Cryptography;
using Capnp.Native;
using Capnp.Native.Rpc;

/// <summary>
/// A restorer that serves one service under one secret ID (the seed's <c>Restorer.single</c>):
/// a peer that presents the ID gets the service, any other ID is unknown.
/// </summary>
internal sealed class SingleServiceRestorer(byte[] serviceId, ICallTarget service) : IRestorer
{
    public ValueTask<ICallTarget?> RestoreAsync(ReadOnlyMemory<byte> requestedId, CancellationToken cancellationToken)
        // Secret IDs are compared in constant time, so that timing tells a guesser nothing.
        => ValueTask.FromResult(CryptographicOperations.FixedTimeEquals(requestedId.Span, serviceId) ? service : null);
}
