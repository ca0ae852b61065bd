using Capnp.Native.Interop;
using Capnp.Native.Serialization;

namespace Capnp.Native.Rpc;

/// <summary>Turns a received native message (call results or parameters) into a reader over its native segments.</summary>
internal static unsafe class IncomingMessage
{
    /// <summary>
    /// Takes ownership of the view's message and capabilities (on the loop thread, where the view
    /// is valid) and returns a reader whose cap table holds one <see cref="ICallTarget"/> per capability.
    /// </summary>
    public static MessageReader Adopt(EventLoop loop, capnp_message_view* view)
    {
        // Adopt every handle first, so that nothing leaks if building the reader fails.
        long size = 0;
        for (var i = 0; i < view->segment_count; i++)
        {
            size += (long)view->segments[i].size;
        }

        var message = new MessageHandle(view->message, size);
        var capTable = new object?[view->cap_count];
        for (var i = 0; i < view->cap_count; i++)
        {
            var cap = new CapHandle(view->caps[i]);
            var serverTag = view->cap_server_tags[i];
            if (serverTag != 0 && ServerDispatcher.FromTag(serverTag) is { } dispatcher)
            {
                // One of our own servers came back: use it directly, not through the engine.
                cap.Dispose();
                capTable[i] = new LocalServerReference(dispatcher.Server);
            }
            else
            {
                capTable[i] = new NativeCapability(loop, cap);
            }
        }

        var segments = new ReadOnlyMemory<byte>[view->segment_count];
        for (var i = 0; i < segments.Length; i++)
        {
            var segment = view->segments[i];
            segments[i] = new NativeSegmentMemory(message, segment.data, checked((int)segment.size)).Memory;
        }

        var reader = MessageReader.FromSegments(segments);
        reader.CapTable = capTable;
        return reader;
    }

    /// <summary>
    /// Drops the message's own capability references (readers took their own), so releases reach
    /// the peers now rather than when the garbage collector finds the message.
    /// </summary>
    public static void ReleaseCapabilities(MessageReader message)
    {
        foreach (var entry in message.CapTable ?? [])
        {
            (entry as NativeCapability)?.Dispose();
        }
    }
}
