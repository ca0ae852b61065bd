using System.Buffers;

namespace Capnp.Native.Serialization;

/// <summary>
/// A segment a <see cref="MessageBuilder"/> rented from the pool, as handed out by <see cref="MessageBuilder.GetSegments"/>
/// and read by <see cref="MessageBuilder.AsReader"/>. Once the builder is disposed the array is back in the pool and may
/// hold another message, so every access through this memory (and through readers over it, which check the owner on
/// each segment access) throws <see cref="ObjectDisposedException"/> instead of showing that other message.
/// </summary>
internal sealed class BuilderSegmentMemory : MemoryManager<byte>
{
    internal readonly MessageBuilder Owner;
    internal readonly byte[] Array;
    private readonly int _length;

    internal BuilderSegmentMemory(MessageBuilder owner, byte[] array, int length)
    {
        Owner = owner; Array = array; _length = length;
    }

    public override Span<byte> GetSpan()
    {
        Owner.ThrowIfDisposed();
        return Array.AsSpan(0, _length);
    }

    public override MemoryHandle Pin(int elementIndex = 0)
    {
        Owner.ThrowIfDisposed();
        return new Memory<byte>(Array, 0, _length).Slice(elementIndex).Pin();
    }

    // Pin returns the array's own handle, which unpins itself.
    public override void Unpin() { }

    // The array belongs to the builder, which returns it to the pool.
    protected override void Dispose(bool disposing) { }
}
