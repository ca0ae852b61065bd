using Capnp.Native.Interop;
using Capnp.Native.Rpc;

namespace Capnp.Native;

internal sealed partial class EventLoop
{
    /// <summary>
    /// A capability usable now for a target that a task will produce (e.g. a sturdy ref still
    /// being restored while the vat starts): calls made before the task completes are queued by
    /// the engine and delivered in order once it does; if the task fails, they fail with its
    /// exception (an <see cref="RpcException"/> keeps its type, anything else is Failed). The
    /// promise takes over the reference the task produces (as <see cref="Adopt"/> does).
    /// </summary>
    public NativeCapability CreateCapability<TTarget>(Task<TTarget> target) where TTarget : class, ICallTarget
        => CreatePromised(target.ContinueWith(static t => (ICallTarget)t.Result, TaskScheduler.Default));

    /// <summary>Like <see cref="CreateCapability{TTarget}(Task{TTarget})"/>, for a task of a generated client.</summary>
    public NativeCapability CreateCapabilityFromClient<TClient>(Task<TClient> client) where TClient : CapabilityClient
        => CreatePromised(client.ContinueWith(static t => t.Result.Target, TaskScheduler.Default));

    private NativeCapability CreatePromised(Task<ICallTarget> target)
    {
        var (cap, resolver) = NativeGateway.CreatePromise(LiveHandle);
        _ = ResolveWhenReadyAsync(target, resolver);
        return new NativeCapability(this, cap);
    }

    // The resolver is consumed exactly once, by the resolve or the reject.
    private async Task ResolveWhenReadyAsync(Task<ICallTarget> target, NativeResolver resolver)
    {
        try
        {
            var resolved = await target.ConfigureAwait(false);
            using var capability = Adopt(resolved);
            capability.Resolve(resolver);
        }
        catch (Exception e)
        {
            var failure = e is AggregateException { InnerException: { } inner } ? inner : e;
            NativeGateway.Reject(resolver, failure is RpcException rpc ? rpc.Type : RpcExceptionType.Failed, failure.Message);
        }
    }
}
