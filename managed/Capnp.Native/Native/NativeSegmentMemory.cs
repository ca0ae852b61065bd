using System.Buffers;
using Capnp.Native.Interop;
using Capnp.Native.Rpc;
using Capnp.Native.Serialization;

namespace Capnp.Native;

/// <summary>
/// One segment of a received native message as <see cref="Memory{T}"/>, so the serialization
/// runtime reads it in place. Holding the memory keeps the message handle, and so the native
/// buffer, alive: the buffer is freed only when no reader can reach it.
/// </summary>
internal sealed unsafe class NativeSegmentMemory(MessageHandle owner, byte* data, int length) : MemoryManager<byte>
{
    public override Span<byte> GetSpan()
    {
        // Released early (call parameters, once the method has completed): a typed error, not a
        // read of freed memory.
        if (owner.IsClosed)
        {
            throw new ObjectDisposedException(nameof(MessageReader), "The message was released: call parameters are valid until the method's task completes.");
        }

        GC.KeepAlive(owner);
        return new Span<byte>(data, length);
    }

    // Native memory never moves: pinning is free.
    public override MemoryHandle Pin(int elementIndex = 0) => new(data + elementIndex, pinnable: this);

    public override void Unpin()
    {
    }

    protected override void Dispose(bool disposing)
    {
    }
}
