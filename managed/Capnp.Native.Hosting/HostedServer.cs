using Capnp.Native.Rpc;
using Capnp.Native.Serialization;

namespace Capnp.Native.Hosting;

/// <summary>
/// The hosted bootstrap server as the vat exports it: forwards every call to the server from
/// dependency injection (without copying: the same parameters and results) and counts the calls
/// the engine dispatches in the host's <see cref="CallGate"/>, which refuses them once the host
/// stops. The release hook does nothing: the container owns the server.
/// </summary>
internal sealed class HostedServer(CapabilityServer inner, CallGate gate) : CapabilityServer
{
    public CapabilityServer Inner { get; } = inner;

    protected override IReadOnlyList<(ulong InterfaceId, ushort MethodId)> StreamingMethods => Inner.StreamingMethodKeys;

    protected override Task DispatchAsync(ulong interfaceId, ushort methodId, MessageReader parameters, MessageBuilder results, CancellationToken cancellationToken)
        => Inner.InvokeAsync(interfaceId, methodId, parameters, results, cancellationToken);

    internal override void CallStarting()
    {
        if (!gate.Enter())
        {
            throw new RpcDisconnectedException(CallGate.RefusalMessage);
        }
    }

    internal override void CallAnswered() => gate.Exit();
}
