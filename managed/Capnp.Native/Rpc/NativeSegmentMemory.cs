using System.Buffers;
using Capnp.Native.Interop;

namespace Capnp.Native.Rpc;

/// <summary>
/// One segment of a received native message as <see cref="Memory{T}"/>, so the serialization
/// runtime reads it in place. Holding the memory keeps the message handle, and so the native
/// buffer, alive: the buffer is freed only when no reader can reach it.
/// </summary>
internal sealed unsafe class NativeSegmentMemory(MessageHandle owner, byte* data, int length) : MemoryManager<byte>
{
    public override Span<byte> GetSpan()
    {
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
