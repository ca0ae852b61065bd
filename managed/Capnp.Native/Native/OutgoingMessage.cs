using System.Runtime.InteropServices;
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
    // Most messages have one segment: it is described here, without arrays.
    private GCHandle firstPin;
    private readonly capnp_segment firstSegment;
    private readonly GCHandle[]? otherPins;
    private readonly capnp_segment[]? allSegments;
    private readonly CapHandle[] caps;
    private List<NativeCapability>? temporaryExports;

    public OutgoingMessage(EventLoop loop, MessageBuilder builder)
    {
        this.builder = builder;
        builder.ThrowIfDisposed();
        // The builder's own segments (pooled arrays), pinned until this message is disposed.
        var count = builder.Count;
        firstPin = GCHandle.Alloc(builder.Buffers[0], GCHandleType.Pinned);
        firstSegment = new capnp_segment { data = (byte*)firstPin.AddrOfPinnedObject(), size = (nuint)builder.Used[0] * 8 };
        if (count > 1)
        {
            otherPins = new GCHandle[count - 1];
            allSegments = new capnp_segment[count];
            allSegments[0] = firstSegment;
            for (var i = 1; i < count; i++)
            {
                otherPins[i - 1] = GCHandle.Alloc(builder.Buffers[i], GCHandleType.Pinned);
                allSegments[i] = new capnp_segment { data = (byte*)otherPins[i - 1].AddrOfPinnedObject(), size = (nuint)builder.Used[i] * 8 };
            }
        }

        var table = builder.ExistingCapTable;
        if (table is null || table.Count == 0)
        {
            caps = [];
            return;
        }

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

    /// <summary>
    /// Runs <paramref name="send"/> with the native descriptors (segments, cap pointers). A struct
    /// of the shim function's other arguments rather than a lambda: one call per message on each
    /// side of every RPC, and a lambda would allocate its closure and delegate each time.
    /// </summary>
    public int Send<TSend>(in TSend send)
        where TSend : struct, INativeSend
    {
        var capPointers = stackalloc capnp_cap*[caps.Length];
        for (var i = 0; i < caps.Length; i++)
        {
            capPointers[i] = caps[i].Pointer;
        }

        if (allSegments is null)
        {
            var one = firstSegment;
            return send.Send(&one, 1, capPointers, (uint)caps.Length);
        }

        fixed (capnp_segment* segmentPointer = allSegments)
        {
            return send.Send(segmentPointer, (uint)allSegments.Length, capPointers, (uint)caps.Length);
        }
    }

    public void Dispose()
    {
        if (firstPin.IsAllocated)
        {
            firstPin.Free();
        }

        if (otherPins is not null)
        {
            for (var i = 0; i < otherPins.Length; i++)
            {
                if (otherPins[i].IsAllocated)
                {
                    otherPins[i].Free();
                }
            }
        }

        foreach (var cap in caps)
        {
            cap?.DangerousRelease();
        }

        // The cap table owns its counted references (see CapabilityClient.WriteToCapTable and
        // ICapabilityReference); managed targets are shared and stay.
        if (builder.ExistingCapTable is { } table)
        {
            foreach (var entry in table)
            {
                if (entry is ICapabilityReference and IDisposable owned)
                {
                    owned.Dispose();
                }
            }
        }

        // Capabilities exported just for this message: the message holds its own references.
        if (temporaryExports is not null)
        {
            foreach (var export in temporaryExports)
            {
                export.Dispose();
            }
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
                (temporaryExports ??= []).Add(export);
                return export.Handle;
            default:
                throw new ArgumentException($"A message's cap table holds a {entry.GetType()}, not a capability.");
        }
    }
}

/// <summary>Hands a message's pinned descriptors to one shim function; returns its status.</summary>
internal unsafe interface INativeSend
{
    int Send(capnp_segment* segments, uint segmentCount, capnp_cap** caps, uint capCount);
}
