using System.Buffers;
using Capnp.Native.Interop;
using Capnp.Native.Rpc;
using Capnp.Native.Serialization;

namespace Capnp.Native;

/// <summary>
/// A message on its way to the shim: its segments pinned in place (the shim copies them once, on
/// the loop thread, straight into the engine's message, or sends its large blobs straight from
/// them) and its cap table mapped to native
/// capabilities, each held (SafeHandle reference) so that a sender disposing its reference right
/// after sending cannot release it before the shim has read it. Disposed when the shim reports
/// the message consumed.
/// </summary>
internal sealed unsafe class OutgoingMessage : IDisposable
{
    private readonly MessageBuilder builder;
    private readonly MemoryHandle[] pins;
    private readonly capnp_segment[] segments;
    private readonly CapHandle[] caps;
    private readonly List<NativeCapability> temporaryExports = [];

    public OutgoingMessage(EventLoop loop, MessageBuilder builder)
    {
        this.builder = builder;
        var source = builder.GetSegmentsSpan();
        pins = new MemoryHandle[source.Length];
        segments = new capnp_segment[source.Length];
        for (var i = 0; i < source.Length; i++)
        {
            pins[i] = source[i].Pin();
            segments[i] = new capnp_segment { data = (byte*)pins[i].Pointer, size = (nuint)source[i].Length };
        }

        var table = builder.CapTable;
        caps = new CapHandle[table.Count];
        try
        {
            for (var i = 0; i < table.Count; i++)
            {
                var cap = ToNative(loop, table[i]);
                var added = false;
                cap.DangerousAddRef(ref added);
                caps[i] = cap;
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Runs <paramref name="send"/> with the native descriptors (segments, cap pointers).</summary>
    public int Send(NativeSend send)
    {
        var capPointers = stackalloc capnp_cap*[caps.Length];
        for (var i = 0; i < caps.Length; i++)
        {
            capPointers[i] = caps[i].Pointer;
        }

        fixed (capnp_segment* segmentPointer = segments)
        {
            return send(segmentPointer, (uint)segments.Length, capPointers, (uint)caps.Length);
        }
    }

    public void Dispose()
    {
        foreach (var pin in pins)
        {
            pin.Dispose();
        }

        foreach (var cap in caps)
        {
            cap?.DangerousRelease();
        }

        // The cap table owns its counted references (see CapabilityClient.WriteToCapTable and
        // ICapabilityReference); managed targets are shared and stay.
        foreach (var entry in builder.CapTable)
        {
            if (entry is ICapabilityReference and IDisposable owned)
            {
                owned.Dispose();
            }
        }

        // Capabilities exported just for this message: the message holds its own references.
        foreach (var export in temporaryExports)
        {
            export.Dispose();
        }

        builder.Dispose();
    }

    private CapHandle ToNative(EventLoop loop, object? entry)
    {
        switch (entry)
        {
            case NativeCapability native when native.Loop == loop:
                return native.Handle;
            case CapabilityClient client:
                return ToNative(loop, client.Target);
            case null:
                throw new ArgumentException("A message's cap table holds a null capability.");
            case ICallTarget target:
                // A local server (or any other managed target) travels as a capability served here.
                var export = loop.CreateCapability(target);
                temporaryExports.Add(export);
                return export.Handle;
            default:
                throw new ArgumentException($"A message's cap table holds a {entry.GetType()}, not a capability.");
        }
    }
}

/// <summary>Hands a message's pinned descriptors to one shim function; returns its status.</summary>
internal unsafe delegate int NativeSend(capnp_segment* segments, uint segmentCount, capnp_cap** caps, uint capCount);
