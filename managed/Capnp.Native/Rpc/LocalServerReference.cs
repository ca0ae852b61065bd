using Capnp.Native.Serialization;

namespace Capnp.Native.Rpc;

/// <summary>
/// One of our own servers, come back in a message (the engine shortened the path): calls go to
/// the original object in process. Disposing the reference does not run the server's release
/// hook; the engine does that when its last reference goes.
/// </summary>
internal sealed class LocalServerReference(CapabilityServer server) : ICallTarget, IDisposable
{
    /// <summary>The original server object.</summary>
    public CapabilityServer Server { get; } = server;

    /// <inheritdoc/>
    public Task<MessageReader> CallAsync(ulong interfaceId, ushort methodId, MessageBuilder parameters, CancellationToken cancellationToken)
        => ((ICallTarget)Server).CallAsync(interfaceId, methodId, parameters, cancellationToken);

    /// <inheritdoc/>
    public void Dispose()
    {
    }
}

/// <summary>Serves a managed call target that is not a <see cref="CapabilityServer"/> by forwarding calls to it.</summary>
internal sealed class ForwardingServer(ICallTarget target) : CapabilityServer
{
    protected override async Task DispatchAsync(ulong interfaceId, ushort methodId, MessageReader parameters, MessageBuilder results, CancellationToken cancellationToken)
    {
        // Copying carries each capability over to the destination's cap table (a new reference).
        var request = new MessageBuilder();
        request.SetRoot(parameters.Root);
        var answer = await target.CallAsync(interfaceId, methodId, request, cancellationToken).ConfigureAwait(false);
        results.SetRoot(answer.Root);
    }

    protected override ValueTask OnReleasedAsync()
    {
        target.Release();
        return ValueTask.CompletedTask;
    }
}
