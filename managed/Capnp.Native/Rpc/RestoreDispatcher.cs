using System.Runtime.InteropServices;
using Capnp.Native.Interop;

namespace Capnp.Native.Rpc;

/// <summary>
/// Receives a listener's requests for services by ID (CAPNP_EVENT_RESTORE) and answers each with
/// the restorer's capability, through the resolver the request carries; unregisters when the
/// shim says no connection can ask any more (CAPNP_EVENT_RESTORER_RELEASED).
/// </summary>
internal sealed class RestoreDispatcher(EventLoop owner, IRestorer restorer, CancellationToken stopping)
    : CallbackTarget(owner)
{
    /// <summary>What a peer gets for an ID no service answers to (the seed's wording).</summary>
    public const string UnknownServiceMessage = "Unknown persistent service ID";

    protected override unsafe void OnCallback(int status, byte* payload, nuint length)
    {
        switch ((capnp_status)status)
        {
            case capnp_status.CAPNP_EVENT_RESTORE:
                var request = MemoryMarshal.Read<capnp_restore_request>(new ReadOnlySpan<byte>(payload, checked((int)length)));
                var serviceId = new ReadOnlySpan<byte>(request.service_id, checked((int)request.service_id_len)).ToArray();
                // User code never runs on the loop thread.
                _ = Task.Run(() => AnswerAsync(serviceId, (IntPtr)request.resolver));
                break;
            case capnp_status.CAPNP_EVENT_RESTORER_RELEASED:
                Unregister();
                break;
        }
    }

    // The resolver is consumed exactly once, by the resolve or the reject.
    private async Task AnswerAsync(byte[] serviceId, IntPtr resolver)
    {
        try
        {
            var service = await restorer.RestoreAsync(serviceId, stopping).ConfigureAwait(false);
            if (service is null)
            {
                EventLoop.Reject(resolver, RpcExceptionType.Failed, UnknownServiceMessage);
                return;
            }

            using var capability = Owner.Adopt(service);
            EventLoop.Resolve(resolver, capability);
        }
        catch (Exception error)
        {
            EventLoop.Reject(resolver, error is RpcException rpc ? rpc.Type : RpcExceptionType.Failed, error.Message);
        }
    }
}
