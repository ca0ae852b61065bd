using Capnp.Native.Rpc;

namespace Capnp.Native;

/// <summary>
/// An outgoing message lent to the shim: the shim may read its segments after the call that
/// passed them returned (it copies them on the loop thread, or sends large blobs straight from
/// them), and completes this target's tag once nothing reads them any more. The message is
/// disposed then, whatever the status (DISPOSED when the loop stopped first).
/// </summary>
internal sealed class LentMessage(EventLoop loop, OutgoingMessage message) : CallbackTarget(loop)
{
    protected override void OnCallback(NativeCompletion completion)
    {
        Unregister();
        message.Dispose();
    }
}
