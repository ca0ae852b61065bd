using Capnp.Native.Interop;
using Capnp.Native.Rpc;
using Capnp.Native.Serialization;

namespace Capnp.Native;

internal static unsafe partial class NativeGateway
{
    // Larger results are lent to the shim (see capnp_call_return): copying them on the loop
    // thread, or sending their large blobs by reference, instead of copying them now.
    private const long CopyResultsBytes = 4096;

    /// <summary>Answers an incoming call with an exception of <paramref name="kind"/> (consuming the call).</summary>
    public static void FailCall(NativeCall call, RpcExceptionType kind, string message)
        // Fails only if the loop is gone, and then the caller has been failed already.
        => _ = WithUtf8(message, (text, length) => NativeMethods.capnp_call_fail((capnp_call*)call.Handle, (int)kind, text, length));

    /// <summary>Answers an incoming call with <paramref name="builder"/> (consuming both).</summary>
    public static void ReturnResults(EventLoop loop, NativeCall call, MessageBuilder builder)
    {
        OutgoingMessage results;
        try
        {
            results = new OutgoingMessage(loop, builder);
        }
        catch (Exception e)
        {
            builder.Dispose();
            FailCall(call, RpcExceptionType.Failed, $"the server's results could not be sent: {e.Message}");
            return;
        }

        var handle = (capnp_call*)call.Handle;
        if (builder.SizeInWords * 8 <= CopyResultsBytes)
        {
            // Small results: the shim reads them before it returns (answering at once on the loop
            // thread, else copying them), so no completion (and no GC handle) is needed.
            results.Send(new CallReturn(handle, 0));
            results.Dispose();
            return;
        }

        var lent = new LentMessage(loop, results);
        var tag = lent.Register();
        var status = results.Send(new CallReturn(handle, tag));
        if (status != 0)
        {
            // The call handle is consumed either way; the caller has been failed by the shim.
            lent.Unregister();
            results.Dispose();
        }
    }

    /// <summary>capnp_call_return's arguments besides the message.</summary>
    private readonly struct CallReturn(capnp_call* call, ulong leaseTag) : INativeSend
    {
        public int Send(capnp_segment* segments, uint segmentCount, capnp_cap** caps, uint capCount)
            => NativeMethods.capnp_call_return(call, segments, segmentCount, caps, capCount, leaseTag);
    }
}
