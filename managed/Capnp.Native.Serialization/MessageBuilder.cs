using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text;

namespace Capnp.Native.Serialization;

/// <summary>How a <see cref="MessageBuilder"/> sizes segments after the first.</summary>
public enum AllocationStrategy
{
    /// <summary>Every segment has <see cref="BuilderOptions.FirstSegmentWords"/> words (or more if one object needs it).</summary>
    FixedSize,
    /// <summary>Each new segment is as large as all previous segments together (total size doubles), as in C++.</summary>
    GrowHeuristically,
}

/// <summary>Options of a <see cref="MessageBuilder"/>.</summary>
public sealed record class BuilderOptions
{
    /// <summary>Size of the first segment in words (default 1024).</summary>
    public int FirstSegmentWords { get; init; } = 1024;
    /// <summary>Growth policy for further segments.</summary>
    public AllocationStrategy Strategy { get; init; } = AllocationStrategy.GrowHeuristically;
    /// <summary>Upper bound for the size of segments chosen by the growth policy (objects larger than this still get a segment of their size).</summary>
    public int MaxSegmentWords { get; init; } = 1 << 24;
}

/// <summary>
/// Builds a Cap'n Proto message. Segments are rented from <see cref="ArrayPool{T}.Shared"/> and returned by
/// <see cref="Dispose"/>; builders and memory handed out by this message must not be used after that.
/// Not thread-safe.
/// </summary>
public sealed class MessageBuilder : IDisposable
{
    // Options are immutable: builders without their own share one instance.
    private static readonly BuilderOptions DefaultOptions = new();

    internal byte[][] Buffers = new byte[4][];
    // The same segments as memory that refuses access once this builder is disposed (see BuilderSegmentMemory);
    // made when first asked for (SegmentMemory), as most messages are only written out.
    private BuilderSegmentMemory?[] _segmentMemory = new BuilderSegmentMemory?[4];
    internal int[] Used = new int[4];      // words used
    internal int[] Capacity = new int[4];  // words usable
    internal int Count;
    private long _totalWords;
    private readonly BuilderOptions _options;
    private MessageReader? _readerView;
    private bool _disposed;

    /// <summary>Capability table; capability pointers written by this builder index into it.</summary>
    public IList<object?> CapTable => _capTable ??= new List<object?>();
    private List<object?>? _capTable; // made on first use: most messages carry no capability

    /// <summary>The capability table if one was made (null: the message carries no capability), without making one.</summary>
    internal List<object?>? ExistingCapTable => _capTable;

    /// <summary>Creates a builder.</summary>
    public MessageBuilder(BuilderOptions? options = null)
    {
        Wire.EnsureLittleEndian();
        _options = options ?? DefaultOptions;
        if (_options.FirstSegmentWords < 1) throw new ArgumentOutOfRangeException(nameof(options), "FirstSegmentWords must be at least 1.");
        NewSegment(_options.FirstSegmentWords);
        Used[0] = 1; // root pointer
    }

    /// <summary>Number of segments currently allocated.</summary>
    public int SegmentCount => Count;

    /// <summary>Total words used by the message (without framing).</summary>
    public long SizeInWords { get { long n = 0; for (int i = 0; i < Count; i++) n += Used[i]; return n; } }

    private void CheckDisposed() { if (_disposed) throw new ObjectDisposedException(nameof(MessageBuilder)); }

    /// <summary>True once disposed: the segments are back in the pool.</summary>
    internal bool IsDisposed => _disposed;

    internal void ThrowIfDisposed()
    {
        if (_disposed)
            throw new ObjectDisposedException(nameof(MessageBuilder), "The MessageBuilder that owns this message's memory was disposed; its segments are back in the pool.");
    }

    // Words [unclearedStart, unclearedStart + unclearedWords) are left as the pool returned them:
    // the caller overwrites them at once (a blob written whole), so clearing them first would
    // only double the cost of a large copy.
    private int NewSegment(int words, int unclearedStart = 0, int unclearedWords = 0)
    {
        CheckDisposed();
        if (words > (1 << 29) - 1 || (long)words * 8 > Array.MaxLength)
            throw new CapnpLimitExceededException($"Object of {words} words is too large for a segment.");
        if (Count == Buffers.Length)
        {
            Array.Resize(ref Buffers, Count * 2);
            Array.Resize(ref Used, Count * 2);
            Array.Resize(ref Capacity, Count * 2);
            Array.Resize(ref _segmentMemory, Count * 2);
        }
        var buf = ArrayPool<byte>.Shared.Rent(words * 8);
        // The pool rounds sizes up (to the next power of two): use, and clear, only what was
        // asked for, so a 1 MiB segment does not cost clearing 2 MiB.
        int cap = words;
        if (unclearedWords > 0)
        {
            Array.Clear(buf, 0, unclearedStart * 8);
            Array.Clear(buf, (unclearedStart + unclearedWords) * 8, (cap - unclearedStart - unclearedWords) * 8);
        }
        else
        {
            Array.Clear(buf, 0, cap * 8);
        }
        Buffers[Count] = buf; Capacity[Count] = cap; Used[Count] = 0;
        _totalWords += cap;
        _readerView = null;
        return Count++;
    }

    /// <summary>Allocates in a given segment; returns the byte position or -1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal int TryAllocate(int seg, int words)
    {
        int used = Used[seg];
        if (Capacity[seg] - used < words) return -1;
        Used[seg] = used + words;
        return used * 8;
    }

    internal int AllocateAny(int words, out int seg, int overwrittenTail = 0)
    {
        CheckDisposed();
        seg = Count - 1;
        int p = TryAllocate(seg, words);
        if (p >= 0) return p;
        long next = _options.Strategy == AllocationStrategy.FixedSize ? _options.FirstSegmentWords : _totalWords;
        next = Math.Min(next, _options.MaxSegmentWords);
        // The allocation starts a fresh segment: its last `overwrittenTail` words need no clearing.
        seg = NewSegment((int)Math.Max(words, Math.Max(next, 1)), words - overwrittenTail, overwrittenTail);
        return TryAllocate(seg, words);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong Tag(long offsetWords, int kind, uint upper) => (uint)(((int)offsetWords << 2) | kind) | ((ulong)upper << 32);

    /// <summary>Allocates an object of <paramref name="words"/> words and writes a pointer to it at (pseg, ppos) (far if needed).</summary>
    /// <remarks>
    /// With <paramref name="contentOverwritten"/>, the caller writes every byte of the object at
    /// once, so memory the pool returned may be handed out without clearing.
    /// </remarks>
    internal int AllocateAndPoint(int pseg, int ppos, int words, int kind, uint upper, out int cseg, bool contentOverwritten = false)
    {
        var pbuf = Buffers[pseg];
        if (words == 0 && kind == 0)
        {
            // Zero-sized structs point at themselves (offset -1), as in C++.
            BinaryPrimitives.WriteUInt64LittleEndian(pbuf.AsSpan(ppos), Tag(-1, kind, upper));
            cseg = pseg; return ppos;
        }
        int p = TryAllocate(pseg, words);
        if (p >= 0)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(pbuf.AsSpan(ppos), Tag((p - ppos - 8) >> 3, kind, upper));
            cseg = pseg; return p;
        }
        int q = AllocateAny(words + 1, out cseg, contentOverwritten ? words : 0);
        var cbuf = Buffers[cseg];
        BinaryPrimitives.WriteUInt64LittleEndian(cbuf.AsSpan(q), Tag(0, kind, upper));
        BinaryPrimitives.WriteUInt64LittleEndian(Buffers[pseg].AsSpan(ppos), Wire.FarPointer(false, q >> 3, cseg));
        return q + 8;
    }

    /// <summary>Writes a pointer at (pseg, ppos) to existing content at (cseg, cpos), using landing pads when needed.</summary>
    internal void PointTo(int pseg, int ppos, int cseg, int cpos, int kind, uint upper)
    {
        if (pseg == cseg)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(Buffers[pseg].AsSpan(ppos), Tag((cpos - ppos - 8) >> 3, kind, upper));
            return;
        }
        int pad = TryAllocate(cseg, 1);
        if (pad >= 0)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(Buffers[cseg].AsSpan(pad), Tag((cpos - pad - 8) >> 3, kind, upper));
            BinaryPrimitives.WriteUInt64LittleEndian(Buffers[pseg].AsSpan(ppos), Wire.FarPointer(false, pad >> 3, cseg));
            return;
        }
        int d = AllocateAny(2, out int dseg);
        BinaryPrimitives.WriteUInt64LittleEndian(Buffers[dseg].AsSpan(d), Wire.FarPointer(false, cpos >> 3, cseg));
        BinaryPrimitives.WriteUInt64LittleEndian(Buffers[dseg].AsSpan(d + 8), Tag(0, kind, upper));
        BinaryPrimitives.WriteUInt64LittleEndian(Buffers[pseg].AsSpan(ppos), Wire.FarPointer(true, d >> 3, dseg));
    }

    /// <summary>Follows far pointers of a pointer written by this builder. Returns false for null.</summary>
    internal bool Resolve(int seg, int ppos, out ulong tag, out int tseg, out int tpos)
    {
        ulong w = BinaryPrimitives.ReadUInt64LittleEndian(Buffers[seg].AsSpan(ppos));
        if (w == 0) { tag = 0; tseg = 0; tpos = 0; return false; }
        if ((w & 3) != 2) { tag = w; tseg = seg; tpos = ppos + 8 + (int)Wire.SignedOffset(w) * 8; return true; }
        int padSeg = (int)(w >> 32); int padPos = (int)((uint)w >> 3) * 8;
        ulong pad = BinaryPrimitives.ReadUInt64LittleEndian(Buffers[padSeg].AsSpan(padPos));
        if ((w & 4) == 0) { tag = pad; tseg = padSeg; tpos = padPos + 8 + (int)Wire.SignedOffset(pad) * 8; return true; }
        tag = BinaryPrimitives.ReadUInt64LittleEndian(Buffers[padSeg].AsSpan(padPos + 8));
        tseg = (int)(pad >> 32); tpos = (int)((uint)pad >> 3) * 8;
        return true;
    }

    // ------------------------------------------------------------------ root

    /// <summary>Initializes the root struct with the given section sizes.</summary>
    public StructBuilder InitRoot(ushort dataWords, ushort pointerCount) => new AnyPointerBuilder(this, 0, 0).InitStruct(dataWords, pointerCount);

    /// <summary>Initializes the root struct as a generated builder type.</summary>
    public T InitRoot<T>() where T : IStructBuilder<T> => T.Create(InitRoot(T.DataWords, T.PointerCount));

    /// <summary>Returns the root struct, initializing it when absent.</summary>
    public T GetRoot<T>() where T : IStructBuilder<T> => T.Create(new AnyPointerBuilder(this, 0, 0).GetStruct(T.DataWords, T.PointerCount));

    /// <summary>The root pointer, untyped.</summary>
    public AnyPointerBuilder Root => new(this, 0, 0);

    /// <summary>Sets the root to a deep copy of <paramref name="reader"/>.</summary>
    public void SetRoot<T>(T reader) where T : struct, IStructReader<T> => SetRoot(reader.Raw);

    /// <summary>Sets the root to a deep copy of <paramref name="reader"/>.</summary>
    public void SetRoot(StructReader reader) => new AnyPointerBuilder(this, 0, 0).SetStruct(reader);

    // ------------------------------------------------------------------ output

    private BuilderSegmentMemory SegmentMemory(int segment)
        => _segmentMemory[segment] ??= new BuilderSegmentMemory(this, Buffers[segment], Capacity[segment] * 8);

    /// <summary>A reader view over the current segments (snapshot of the segment list; unlimited traversal).</summary>
    internal MessageReader ReaderView
    {
        get
        {
            CheckDisposed();
            if (_readerView is null)
            {
                var segs = new ReadOnlyMemory<byte>[Count];
                for (int i = 0; i < Count; i++) segs[i] = SegmentMemory(i).Memory;
                _readerView = new MessageReader(segs, new ReaderOptions { TraversalLimitInWords = long.MaxValue, NestingLimit = int.MaxValue });
            }
            return _readerView;
        }
    }

    /// <summary>
    /// Returns the used part of each segment, without copying. Valid until the builder changes or is disposed; after
    /// <see cref="Dispose"/>, reading the memories throws <see cref="ObjectDisposedException"/>.
    /// </summary>
    public IReadOnlyList<ReadOnlyMemory<byte>> GetSegments() => GetSegmentArray();

    /// <summary>Returns the used part of each segment as a span of memories, without copying the data.</summary>
    public ReadOnlySpan<ReadOnlyMemory<byte>> GetSegmentsSpan() => GetSegmentArray();

    private ReadOnlyMemory<byte>[] GetSegmentArray()
    {
        CheckDisposed();
        var a = new ReadOnlyMemory<byte>[Count];
        for (int i = 0; i < Count; i++) a[i] = SegmentMemory(i).Memory.Slice(0, Used[i] * 8);
        return a;
    }

    /// <summary>
    /// A reader over this message (no copy; a snapshot of the current segments). It reads this builder's memory: once the
    /// builder is disposed, reading through it (or through Data it returned) throws <see cref="ObjectDisposedException"/>.
    /// </summary>
    public MessageReader AsReader(ReaderOptions options = default)
    {
        var r = MessageReader.FromSegments(GetSegmentArray(), options);
        r.CapTable = CapTable as IReadOnlyList<object?>;
        return r;
    }

    internal int HeaderSize => ((4 + Count * 4) + 7) & ~7;

    internal void WriteHeader(Span<byte> dest)
    {
        dest.Slice(0, HeaderSize).Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(dest, (uint)(Count - 1));
        for (int i = 0; i < Count; i++) BinaryPrimitives.WriteUInt32LittleEndian(dest.Slice(4 + 4 * i), (uint)Used[i]);
    }

    /// <summary>Size of the stream-framed message in bytes.</summary>
    public long FramedSize => HeaderSize + SizeInWords * 8;

    /// <summary>Writes the message with stream framing (segment table + segments).</summary>
    public void WriteTo(Stream stream)
    {
        CheckDisposed();
        Span<byte> header = HeaderSize <= 256 ? stackalloc byte[HeaderSize] : new byte[HeaderSize];
        WriteHeader(header);
        stream.Write(header);
        for (int i = 0; i < Count; i++) stream.Write(Buffers[i], 0, Used[i] * 8);
    }

    /// <summary>Writes the message with stream framing to a buffer writer.</summary>
    public void WriteTo(IBufferWriter<byte> writer)
    {
        CheckDisposed();
        var h = writer.GetSpan(HeaderSize);
        WriteHeader(h);
        writer.Advance(HeaderSize);
        for (int i = 0; i < Count; i++) writer.Write(new ReadOnlySpan<byte>(Buffers[i], 0, Used[i] * 8));
    }

    /// <summary>Returns the stream-framed message as a new array.</summary>
    public byte[] ToFramedArray()
    {
        CheckDisposed();
        var a = new byte[FramedSize];
        WriteHeader(a);
        int pos = HeaderSize;
        for (int i = 0; i < Count; i++) { Buffer.BlockCopy(Buffers[i], 0, a, pos, Used[i] * 8); pos += Used[i] * 8; }
        return a;
    }

    /// <summary>Writes the message packed, with stream framing.</summary>
    public void WritePackedTo(Stream stream)
    {
        var w = new ArrayBufferWriter<byte>();
        WritePackedTo(w);
        stream.Write(w.WrittenSpan);
    }

    /// <summary>Writes the message packed, with stream framing.</summary>
    public void WritePackedTo(IBufferWriter<byte> writer)
    {
        CheckDisposed();
        // Like C++ (PackedOutputStream packs each write separately): the segment table and every segment are packed
        // on their own, so no run crosses a segment boundary. capnp 0.9.2 rejects packed runs that do.
        var header = HeaderSize <= 256 ? stackalloc byte[HeaderSize] : new byte[HeaderSize];
        WriteHeader(header);
        Packing.Pack(header, writer);
        for (int i = 0; i < Count; i++) Packing.Pack(new ReadOnlySpan<byte>(Buffers[i], 0, Used[i] * 8), writer);
    }

    /// <summary>Returns the packed, stream-framed message.</summary>
    public byte[] ToPackedArray()
    {
        var w = new ArrayBufferWriter<byte>();
        WritePackedTo(w);
        return w.WrittenSpan.ToArray();
    }

    /// <summary>Returns the segment buffers to the pool.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        for (int i = 0; i < Count; i++) { ArrayPool<byte>.Shared.Return(Buffers[i]); Buffers[i] = null!; _segmentMemory[i] = null; }
        _readerView = null;
    }
}
