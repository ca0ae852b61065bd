using System.Security.Cryptography;
using Capnp.Native;
using Capnp.Native.Rpc;

/// <summary>
/// A restorer serving a fixed set of services, each under its own secret ID (the seed's
/// <c>Restorer.Table</c> with services added at start-up). Services are found by the SHA-256
/// digest of the ID, so that how long a lookup takes tells a guesser nothing about the IDs.
/// </summary>
internal sealed class ServiceTable : IRestorer
{
    private readonly Dictionary<string, ICallTarget> services = new(StringComparer.Ordinal);

    public void Add(ReadOnlySpan<byte> serviceId, ICallTarget service) => services.Add(Digest(serviceId), service);

    public ValueTask<ICallTarget?> RestoreAsync(ReadOnlyMemory<byte> serviceId, CancellationToken cancellationToken)
        => ValueTask.FromResult(services.GetValueOrDefault(Digest(serviceId.Span)));

    private static string Digest(ReadOnlySpan<byte> serviceId) => Convert.ToHexString(SHA256.HashData(serviceId));
}
