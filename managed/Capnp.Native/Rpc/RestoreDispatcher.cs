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

    protected override void OnCallback(NativeCompletion completion)
    {
        switch (completion.Event)
        {
            case NativeEvent.Restore:
                var (serviceId, resolver) = completion.ReadRestoreRequest();
                // User code never runs on the loop thread.
                _ = Task.Run(() => AnswerAsync(serviceId, resolver));
                break;
            case NativeEvent.RestorerReleased:
                Unregister();
                break;
        }
    }

    // The resolver is consumed exactly once, by the resolve or the reject.
    private async Task AnswerAsync(byte[] serviceId, NativeResolver resolver)
    {
        try
        {
            var service = await restorer.RestoreAsync(serviceId, stopping).ConfigureAwait(false);
            if (service is null)
            {
                NativeGateway.Reject(resolver, RpcExceptionType.Failed, UnknownServiceMessage);
                return;
            }

            using var capability = Owner.Adopt(service);
            capability.Resolve(resolver);
        }
        catch (Exception error)
        {
            NativeGateway.Reject(resolver, error is RpcException rpc ? rpc.Type : RpcExceptionType.Failed, error.Message);
        }
    }
}
