using Capnp.Native.Interop;
using Capnp.Native.Rpc;

namespace Capnp.Native;

internal static unsafe partial class NativeGateway
{
    /// <summary>A second, independent reference to the capability behind <paramref name="cap"/>.</summary>
    public static CapHandle Duplicate(CapHandle cap)
    {
        using var held = new Held(cap);
        capnp_cap* copy;
        NativeStatus.ThrowIfFailed(NativeMethods.capnp_cap_duplicate(cap.Pointer, &copy));
        return new CapHandle(copy);
    }

    /// <summary>Completes when the capability has resolved to its final target; fails with the reason if it is broken.</summary>
    public static Task WhenResolvedAsync(EventLoop loop, CapHandle cap, CancellationToken cancellationToken)
    {
        using var held = new Held(cap);
        var pointer = (IntPtr)cap.Pointer;
        return loop.PostAsync(
            (_, tag) => NativeMethods.capnp_cap_when_resolved((capnp_cap*)pointer, tag),
            static _ => true,
            cancellationToken);
    }

    /// <summary>Completes (failed, with the reason) once the capability is broken; cancelled by <paramref name="cancellationToken"/>.</summary>
    public static Task WhenBrokenAsync(EventLoop loop, CapHandle cap, CancellationToken cancellationToken)
    {
        using var held = new Held(cap);
        var pointer = (IntPtr)cap.Pointer;
        return loop.PostAsync(
            (_, tag) => NativeMethods.capnp_cap_when_broken((capnp_cap*)pointer, tag),
            static _ => true,
            cancellationToken);
    }

    /// <summary>
    /// Sends a call with <paramref name="parameters"/>, completing <paramref name="tag"/>; the
    /// lease on the parameters completes <paramref name="leaseTag"/> (0: none). With
    /// <paramref name="pipelined"/>, <paramref name="pipeline"/> is the call's pipeline (null when
    /// the shim made none). Returns the shim's status: on failure neither tag will complete.
    /// </summary>
    public static int SendCall(CapHandle target, OutgoingMessage parameters, ulong interfaceId, ushort methodId, bool streaming,
                               ulong tag, ulong leaseTag, bool pipelined, out PipelineHandle? pipeline)
    {
        using var held = new Held(target);
        capnp_pipeline* created = null;
        var status = parameters.Send(new CapCall(target.Pointer, interfaceId, methodId, streaming, tag, leaseTag, pipelined ? &created : null));
        pipeline = created == null ? null : new PipelineHandle(created);
        return status;
    }

    /// <summary>capnp_cap_call's arguments besides the message.</summary>
    private readonly struct CapCall(capnp_cap* cap, ulong interfaceId, ushort methodId, bool streaming, ulong tag, ulong leaseTag, capnp_pipeline** pipelineOut)
        : INativeSend
    {
        public int Send(capnp_segment* segments, uint segmentCount, capnp_cap** caps, uint capCount)
            => NativeMethods.capnp_cap_call(cap, interfaceId, methodId, streaming ? 1 : 0, segments, segmentCount, caps, capCount, tag, leaseTag, pipelineOut);
    }

    /// <summary>A capability inside a call's results, through its pipeline (a reference of the caller's own).</summary>
    public static CapHandle GetPipelinedCapability(PipelineHandle pipeline, ReadOnlySpan<ushort> pointerPath)
    {
        using var held = new Held(pipeline);
        capnp_cap* cap;
        fixed (ushort* path = pointerPath)
        {
            NativeStatus.ThrowIfFailed(NativeMethods.capnp_pipeline_get_cap(pipeline.Pointer, path, (uint)pointerPath.Length, &cap));
        }

        return new CapHandle(cap);
    }

    /// <summary>Resolves a promise capability's resolver (consuming it) to <paramref name="cap"/>.</summary>
    public static void Resolve(NativeResolver resolver, CapHandle cap)
    {
        using var held = new Held(cap);
        // A refusal means the loop is stopping: the queued calls fail DISPOSED with it.
        _ = NativeMethods.capnp_resolver_resolve((capnp_resolver*)resolver.Handle, cap.Pointer);
    }

    /// <summary>Rejects a promise capability's resolver (consuming it) with an exception of <paramref name="kind"/>.</summary>
    public static void Reject(NativeResolver resolver, RpcExceptionType kind, string message)
        // A refusal means the loop is stopping: the queued calls fail DISPOSED with it.
        => _ = WithUtf8(message, (text, length) => NativeMethods.capnp_resolver_reject((capnp_resolver*)resolver.Handle, (int)kind, text, length));
}
