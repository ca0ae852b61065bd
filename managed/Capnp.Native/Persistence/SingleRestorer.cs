using Capnp.Native.Rpc;

namespace Capnp.Native.Persistence;

/// <summary>
/// Serves one service under one secret ID: the restorer of a vat that hosts a single sturdy ref
/// (the seed's <c>Restorer.single</c>). Pass it as <see cref="VatOptions.Restorer"/>; it holds a
/// reference to the service until disposed, so the service's release hook never runs while
/// peers may still restore it. The ID is kept only as its SHA-256 digest and requests are
/// matched in constant time.
/// </summary>
public sealed class SingleRestorer : IRestorer, IVatBoundRestorer, IAsyncDisposable
{
    private readonly ServiceDigest digest;
    private readonly VatBinding binding = new();
    private readonly Lock gate = new();
    private ICallTarget? service;
    private NativeCapability? capability;
    private bool disposed;

    /// <summary>
    /// A restorer serving <paramref name="service"/> (a server object, or a capability whose
    /// reference it takes over) under <paramref name="serviceId"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The ID is empty (the empty ID is the vat's bootstrap: use <see cref="VatOptions.Bootstrap"/>).</exception>
    public SingleRestorer(ReadOnlySpan<byte> serviceId, ICallTarget service)
    {
        ArgumentNullException.ThrowIfNull(service);
        if (serviceId.IsEmpty)
            throw new ArgumentException("The empty service ID is the vat's bootstrap service: use VatOptions.Bootstrap.", nameof(serviceId));
        digest = ServiceDigest.Of(serviceId);
        this.service = service;
    }

    /// <summary>The digest of the service's ID.</summary>
    public ServiceDigest Digest => digest;

    bool IVatBoundRestorer.IsAttached => binding.IsAttached;

    void IVatBoundRestorer.Attach(Vat vat)
    {
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            binding.Attach(vat);
            capability = vat.Loop.Adopt(service!);
            service = null;
        }
    }

    /// <inheritdoc />
    public async ValueTask<ICallTarget?> RestoreAsync(ReadOnlyMemory<byte> serviceId, CancellationToken cancellationToken)
    {
        await binding.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (!digest.Matches(serviceId.Span))
            return null;
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            return capability!.Duplicate();
        }
    }

    /// <summary>Releases the restorer's reference to the service; later requests fail.</summary>
    public ValueTask DisposeAsync()
    {
        ICallTarget? held;
        lock (gate)
        {
            disposed = true;
            held = (ICallTarget?)capability ?? service;
            capability = null;
            service = null;
        }

        // A server object that was never exported has no reference to release.
        held?.Release();
        return ValueTask.CompletedTask;
    }
}
