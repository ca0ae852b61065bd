using Capnp.Native.Rpc;

namespace Capnp.Native.Hosting;

/// <summary>
/// The hosted restorer as the vat sees it: refuses new restores (with
/// <see cref="RpcDisconnectedException"/>) once the host stops, and otherwise is the restorer from
/// dependency injection (a restorer that binds to its vat, such as <c>RestorerTable</c>, is still
/// bound).
/// </summary>
internal sealed class GatedRestorer(IRestorer inner, CallGate gate) : IVatBoundRestorer
{
    public bool IsAttached => inner is IVatBoundRestorer { IsAttached: true };

    public void Attach(Vat vat)
    {
        if (inner is IVatBoundRestorer bound)
        {
            bound.Attach(vat);
        }
    }

    public ValueTask<ICallTarget?> RestoreAsync(ReadOnlyMemory<byte> serviceId, CancellationToken cancellationToken)
        => gate.IsClosed
            ? ValueTask.FromException<ICallTarget?>(new RpcDisconnectedException(CallGate.RefusalMessage))
            : inner.RestoreAsync(serviceId, cancellationToken);
}
