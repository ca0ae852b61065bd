using Capnp.Native.Rpc.Generated;
using Capnp.Native.Serialization;

namespace Capnp.Native.Rpc;

/// <summary>
/// Something calls can be sent to: a remote capability, a promise, or a local server. Generated
/// client proxies wrap one. A target that is a counted reference (a remote capability, a
/// promise) is also <see cref="IDisposable"/>: disposing the client releases it. A
/// <see cref="CapabilityServer"/> is not disposable: the engine decides when it is released.
/// </summary>
public interface ICallTarget
{
    /// <summary>
    /// Sends a call. The target takes ownership of <paramref name="parameters"/> (whose cap table
    /// holds the <see cref="ICallTarget"/>s of capabilities passed in them). The returned reader's
    /// <see cref="MessageReader.CapTable"/> holds <see cref="ICallTarget"/>s for the capabilities
    /// in the results. Cancelling the token cancels the call (the engine sends Finish).
    /// </summary>
    Task<MessageReader> CallAsync(ulong interfaceId, ushort methodId, MessageBuilder parameters, CancellationToken cancellationToken);

    /// <summary>
    /// Sends a call to a streaming method (<c>-> stream</c>): completes when flow control allows
    /// the next call, not when this one is answered; a failure surfaces on a later call.
    /// </summary>
    async Task StreamAsync(ulong interfaceId, ushort methodId, MessageBuilder parameters, CancellationToken cancellationToken)
        => await CallAsync(interfaceId, methodId, parameters, cancellationToken).ConfigureAwait(false);
}

/// <summary>A call target that supports promise pipelining natively (e.g. a network connection).</summary>
internal interface IPipeliningCallTarget : ICallTarget
{
    /// <summary>
    /// Sends a call and returns its answer, on which pipelined calls can be made at once. With
    /// <paramref name="pipelined"/> false (results that hold no capability) the engine keeps no
    /// pipeline for it, and the answer resolves capabilities only from the arrived results.
    /// </summary>
    PromisedAnswer Call(ulong interfaceId, ushort methodId, MessageBuilder parameters, CancellationToken cancellationToken, bool pipelined = true);
}

/// <summary>Releasing a call target's reference, whatever kind of target it is.</summary>
internal static class CallTargetReferences
{
    /// <summary>Releases the reference when the target is a counted one (a server object is released by the engine, never here).</summary>
    public static void Release(this ICallTarget target) => (target as IDisposable)?.Dispose();
}
