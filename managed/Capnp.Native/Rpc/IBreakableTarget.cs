namespace Capnp.Native.Rpc;

/// <summary>
/// A call target that can break: a capability hosted by a peer (broken when its connection is
/// lost) or a promise that may resolve to an error. Targets that do not implement it are
/// in-process objects, which never break.
/// </summary>
internal interface IBreakableTarget
{
    /// <summary>
    /// Completes with the reason (typically an <see cref="RpcDisconnectedException"/>) once calls
    /// on the target fail because it is broken; at once if it is broken already. Cancelled when
    /// <paramref name="cancellationToken"/> is, or when the reference is disposed.
    /// </summary>
    Task<RpcException> WhenBrokenAsync(CancellationToken cancellationToken = default);
}
