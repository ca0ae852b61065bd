using Capnp.Native.Interop;
using Capnp.Native.Rpc;
using Capnp.Native.Serialization;

namespace Capnp.Native;

/// <summary>Turns a received native message (call results or parameters) into a reader over its native segments.</summary>
internal static unsafe class IncomingMessage
{
    /// <summary>
    /// Takes ownership of the view's message and capabilities (on the loop thread, where the view
    /// is valid) and returns a reader whose cap table holds one <see cref="ICallTarget"/> per
    /// capability; <paramref name="nativeMemory"/> is the handle of the native segments when the
    /// reader reads them in place (large messages).
    /// </summary>
    public static MessageReader Adopt(EventLoop loop, capnp_message_view* view, out MessageHandle? nativeMemory)
    {
        // Adopt every handle first, so that nothing leaks if building the reader fails.
        long size = 0;
        for (var i = 0; i < view->segment_count; i++)
        {
            size += (long)view->segments[i].size;
        }

        // A small message is copied into managed memory and freed at once: a memcpy of a few
        // hundred bytes is far cheaper than a finalizable handle per message (measured with
        // bench/run: pings are the common case). Large ones are read in place.
        // Borrowed segments are valid only during this callback: always copied.
        var copied = size <= SmallMessageBytes || view->segments_borrowed != 0 ? CopySegments(view, size) : null;
        var message = copied is null ? new MessageHandle(view->message, size) : null;
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

        var segments = copied ?? new ReadOnlyMemory<byte>[view->segment_count];
        for (var i = 0; copied is null && i < segments.Length; i++)
        {
            var segment = view->segments[i];
            segments[i] = new NativeSegmentMemory(message!, segment.data, checked((int)segment.size)).Memory;
        }

        if (copied is not null)
        {
            // Last: the view's arrays (cap table, tags) belong to the native message.
            NativeMethods.capnp_message_release(view->message);
        }

        // A large message may be read in place inside the RPC message that carried it.
        var reader = view->root_is_struct != 0
            ? MessageReader.FromEmbeddedStruct(segments, checked((int)view->root_segment), checked((int)view->root_word_offset),
                                               view->root_data_words, view->root_pointer_count)
            : MessageReader.FromSegments(segments);
        reader.CapTable = capTable;
        nativeMemory = message;
        return reader;
    }

    private const long SmallMessageBytes = 4096;

    private static ReadOnlyMemory<byte>[] CopySegments(capnp_message_view* view, long size)
    {
        var bytes = new byte[size];
        var segments = new ReadOnlyMemory<byte>[view->segment_count];
        var offset = 0;
        for (var i = 0; i < segments.Length; i++)
        {
            var length = (int)view->segments[i].size;
            new ReadOnlySpan<byte>(view->segments[i].data, length).CopyTo(bytes.AsSpan(offset));
            segments[i] = bytes.AsMemory(offset, length);
            offset += length;
        }

        return segments;
    }

    /// <summary>
    /// Drops the message's own capability references (readers took their own), so releases reach
    /// the peers now rather than when the garbage collector finds the message.
    /// </summary>
    public static void ReleaseCapabilities(MessageReader message)
    {
        foreach (var entry in message.CapTable ?? [])
        {
            if (entry is ICapabilityReference and IDisposable owned)
            {
                owned.Dispose();
            }
        }
    }
}
