using Capnp.Native.Serialization;

namespace Capnp.Native.Rpc;

/// <summary>
/// Base class of generated server skeletons. A server becomes a capability when it is wrapped in
/// a client (<c>Foo.Client.Create(server)</c> calls it in process), offered by a vat
/// (<see cref="VatOptions.Bootstrap"/>, a restorer) or sent in a message, after which remote and
/// local callers reach it through the engine. Its methods run on the thread pool. Throw an
/// <see cref="RpcException"/> to fail a call with that type; any other exception arrives as
/// <see cref="RpcExceptionType.Failed"/>. The engine, not the application, decides when a served
/// object is done: <see cref="OnReleasedAsync"/> runs once the last reference anywhere is dropped.
/// </summary>
public abstract class CapabilityServer : ICallTarget
{
    private static readonly (ulong InterfaceId, ushort MethodId)[] NoStreamingMethods = [];

    /// <summary>The streaming methods (<c>-> stream</c>) among those dispatched, generated.</summary>
    protected virtual IReadOnlyList<(ulong InterfaceId, ushort MethodId)> StreamingMethods => NoStreamingMethods;

    /// <summary>Dispatches a call to the generated abstract method.</summary>
    protected abstract Task DispatchAsync(ulong interfaceId, ushort methodId, MessageReader parameters, MessageBuilder results, CancellationToken cancellationToken);

    // Entry points for the engine's dispatcher (the members above are for generated code).
    internal IReadOnlyList<(ulong InterfaceId, ushort MethodId)> StreamingMethodKeys => StreamingMethods;

    internal Task InvokeAsync(ulong interfaceId, ushort methodId, MessageReader parameters, MessageBuilder results, CancellationToken cancellationToken)
        => DispatchAsync(interfaceId, methodId, parameters, results, cancellationToken);

    // Hooks for a server that wraps another in a friend assembly (Capnp.Native.Hosting counts the
    // calls in flight of the server it hosts, and refuses new ones while it stops). The engine's
    // dispatcher calls CallStarting before a call's method starts (an exception fails the call
    // with it) and CallAnswered once that call's answer has been handed to the engine: exactly
    // once for each CallStarting. In-process calls (a client wrapping the server) reach neither.
    internal virtual void CallStarting()
    {
    }

    internal virtual void CallAnswered()
    {
    }

    /// <summary>The exception for an unknown method.</summary>
    protected static Exception Unimplemented(ulong interfaceId, ushort methodId)
        => new RpcUnimplementedException($"Method {methodId} of interface 0x{interfaceId:x16} is not implemented.");

    /// <summary>Calls the server in process (no engine involved).</summary>
    async Task<MessageReader> ICallTarget.CallAsync(ulong interfaceId, ushort methodId, MessageBuilder parameters, CancellationToken cancellationToken)
    {
        var reader = parameters.AsReader();
        var results = new MessageBuilder();
        // This process makes the call: a server method calling another must not pass its own
        // caller's identity on.
        Task dispatched;
        var previous = ServerCallContext.Enter(ServerCallContext.UnknownOrigin);
        try
        {
            dispatched = DispatchAsync(interfaceId, methodId, reader, results, cancellationToken);
        }
        finally
        {
            ServerCallContext.Enter(previous);
        }

        await dispatched.ConfigureAwait(false);
        return results.AsReader();
    }

    /// <summary>
    /// Whether calls that arrive over the event loop run this server's methods on the loop's
    /// thread, as each call arrives, instead of on the thread pool. False by default. Opting in
    /// saves a thread hand-off per call (the C++ engine runs every method on its loop thread,
    /// too) and suits methods that finish at once or soon reach an <c>await</c>: their synchronous
    /// part, up to the first incomplete <c>await</c>, runs on the loop thread, and everything the
    /// vat serves waits meanwhile, so a method that blocks (I/O, locks, long computation) stalls
    /// every connection of the vat. What follows an <c>await</c> continues where the awaited task
    /// completes, as usual.
    /// </summary>
    protected virtual bool RunsOnEventLoopThread => false;

    // For the dispatcher. Protected, not protected internal, above: assemblies our internals are
    // visible to (tests, benchmarks) override it as applications do.
    internal bool MethodsRunOnLoopThread => RunsOnEventLoopThread;

    /// <summary>
    /// The release hook: runs once, on the thread pool, when the engine has dropped its last
    /// reference to this served object (every client anywhere released it). Override it to free
    /// what the object holds. Does nothing by default. Not run for a server only ever called in
    /// process, which the garbage collector reclaims like any object.
    /// </summary>
    protected virtual ValueTask OnReleasedAsync() => ValueTask.CompletedTask;

    // For wrappers that serve another server in its place (persistence): its hook runs with theirs.
    internal ValueTask RunReleaseHookAsync() => OnReleasedAsync();
}
