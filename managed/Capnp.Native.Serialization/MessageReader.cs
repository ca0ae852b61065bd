using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Capnp.Native.Serialization;

/// <summary>
/// A Cap'n Proto message being read in place over its segments. Enforces the traversal and nesting limits
/// of <see cref="ReaderOptions"/>. Not thread-safe with respect to the traversal counter (races only make the
/// limit approximate, as in C++).
/// </summary>
public sealed class MessageReader
{
    // Each segment, with a fast path for array-backed memory: avoids ReadOnlyMemory.Span's type dispatch on every
    // access. One array for both, so that reading a message allocates little (this array and the reader).
    private readonly SegmentView[] _views;

    private readonly struct SegmentView
    {
        public readonly ReadOnlyMemory<byte> Memory;
        public readonly byte[]? Array;
        public readonly int Offset;
        public readonly int Length;
        // The builder whose pooled array this is (null for memory the caller owns): checked on every access, so a
        // reader that outlives its builder throws rather than reading the array's next message.
        public readonly MessageBuilder? Owner;
        public SegmentView(ReadOnlyMemory<byte> memory, byte[]? array, int offset, MessageBuilder? owner = null)
        {
            Memory = memory; Array = array; Offset = offset; Length = memory.Length; Owner = owner;
        }
    }
    internal long RemainingWords;
    internal readonly int NestingLimit;

    /// <summary>The options this reader enforces.</summary>
    public ReaderOptions Options { get; }

    /// <summary>
    /// The capability table capability pointers index into: set by the RPC runtime on received
    /// messages and by <see cref="MessageBuilder.AsReader"/>; null for plain messages.
    /// </summary>
    public IReadOnlyList<object?>? CapTable { get; internal set; }

    internal MessageReader(ReadOnlySpan<ReadOnlyMemory<byte>> segments, ReaderOptions options)
    {
        Wire.EnsureLittleEndian();
        if (segments.Length == 0) throw new CapnpFormatException("Message has no segments.");
        _views = new SegmentView[segments.Length];
        for (int i = 0; i < segments.Length; i++)
        {
            var memory = segments[i];
            if (System.Runtime.InteropServices.MemoryMarshal.TryGetMemoryManager(memory, out BuilderSegmentMemory? pooled, out int start, out _))
                _views[i] = new SegmentView(memory, pooled.Array, start, pooled.Owner);
            else
                _views[i] = System.Runtime.InteropServices.MemoryMarshal.TryGetArray(memory, out var seg) && seg.Array is not null
                    ? new SegmentView(memory, seg.Array, seg.Offset)
                    : new SegmentView(memory, null, 0);
        }
        Options = options;
        RemainingWords = options.EffectiveTraversalLimit;
        NestingLimit = options.EffectiveNestingLimit;
    }

    /// <summary>Number of segments.</summary>
    internal int SegmentsLength => _views.Length;

    /// <summary>Segment <paramref name="seg"/> as memory (no copy).</summary>
    internal ReadOnlyMemory<byte> SegmentMemory(int seg) => _views[seg].Memory;

    /// <summary>Length of segment <paramref name="seg"/> in bytes.</summary>
    internal int SegmentLength(int seg) => _views[seg].Length;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ReadOnlySpan<byte> Span(int seg)
    {
        ref readonly var v = ref _views[seg];
        if (v.Array is not null)
        {
            if (v.Owner is { IsDisposed: true }) v.Owner.ThrowIfDisposed();
            return System.Runtime.InteropServices.MemoryMarshal.CreateReadOnlySpan(
                ref Unsafe.Add(ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(v.Array), (nint)(uint)v.Offset),
                v.Length);
        }
        return v.Memory.Span;
    }

    /// <summary>
    /// The array segment <paramref name="seg"/> lies in (at <paramref name="offset"/>) when the caller's memory is an
    /// array, so that readers can keep it and read fields without looking the segment up again; null for other memory
    /// and for a builder's pooled segments (each access to those must check that the builder is not disposed).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal byte[]? DirectArray(int seg, out int offset)
    {
        ref readonly var v = ref _views[seg];
        offset = v.Offset;
        return v.Owner is null ? v.Array : null;
    }

    /// <summary>Number of segments.</summary>
    public int SegmentCount => _views.Length;

    /// <summary>Returns segment <paramref name="index"/> (no copy).</summary>
    public ReadOnlyMemory<byte> GetSegment(int index) => _views[index].Memory;

    /// <summary>Words still available under the traversal limit.</summary>
    public long RemainingTraversalWords => RemainingWords;

    /// <summary>Reads a message in the standard stream framing (segment table followed by segments). Trailing bytes are ignored.</summary>
    public static MessageReader FromFramed(ReadOnlyMemory<byte> data, ReaderOptions options = default)
        => FromFramed(data, out _, options);

    /// <summary>Reads a framed message and reports how many bytes it occupied.</summary>
    public static MessageReader FromFramed(ReadOnlyMemory<byte> data, out int bytesConsumed, ReaderOptions options = default)
    {
        var span = data.Span;
        if (span.Length < 8) throw new CapnpFormatException("Message is truncated: missing segment table.");
        uint countMinusOne = BinaryPrimitives.ReadUInt32LittleEndian(span);
        if (countMinusOne >= Wire.MaxSegments)
            throw new CapnpLimitExceededException($"Message has too many segments ({(ulong)countMinusOne + 1}).");
        int count = (int)countMinusOne + 1;
        int headerBytes = ((4 + count * 4) + 7) & ~7;
        if (span.Length < headerBytes) throw new CapnpFormatException("Message is truncated: incomplete segment table.");
        // Most messages have one segment: it is passed as a span over a local, not in an array of its own.
        ReadOnlyMemory<byte> single = default;
        Span<ReadOnlyMemory<byte>> segs = count == 1 ? new Span<ReadOnlyMemory<byte>>(ref single) : new ReadOnlyMemory<byte>[count];
        long pos = headerBytes;
        for (int i = 0; i < count; i++)
        {
            long words = BinaryPrimitives.ReadUInt32LittleEndian(span.Slice(4 + i * 4));
            long bytes = words * 8;
            if (pos + bytes > span.Length) throw new CapnpFormatException($"Message is truncated: segment {i} extends past the end of the data.");
            segs[i] = data.Slice((int)pos, (int)bytes);
            pos += bytes;
        }
        bytesConsumed = (int)pos;
        return new MessageReader(segs, options);
    }

    /// <summary>Reads a message from its segments (no copy).</summary>
    public static MessageReader FromSegments(IReadOnlyList<ReadOnlyMemory<byte>> segments, ReaderOptions options = default)
    {
        ArgumentNullException.ThrowIfNull(segments);
        var segs = new ReadOnlyMemory<byte>[segments.Count];
        for (int i = 0; i < segs.Length; i++)
        {
            var s = segments[i];
            if ((s.Length & 7) != 0) throw new CapnpFormatException($"Segment {i} is not a whole number of words.");
            segs[i] = s;
        }
        return new MessageReader(segs, options);
    }

    /// <summary>
    /// Reads a message whose root is a struct embedded in a larger message, in place: e.g. the
    /// content of an RPC message, without copying it out. The root is the struct at word
    /// <paramref name="wordOffset"/> of segment <paramref name="segment"/>, with
    /// <paramref name="dataWords"/> data words and <paramref name="pointerCount"/> pointers; its
    /// pointers may reach any of <paramref name="segments"/>. <see cref="RootPointer"/> is not
    /// available on such a reader (there is no root pointer).
    /// </summary>
    /// <exception cref="CapnpFormatException">The struct does not lie within the segment.</exception>
    public static MessageReader FromEmbeddedStruct(IReadOnlyList<ReadOnlyMemory<byte>> segments, int segment, int wordOffset,
                                                   ushort dataWords, ushort pointerCount, ReaderOptions options = default)
    {
        var reader = FromSegments(segments, options);
        if (segment < 0 || segment >= reader.SegmentsLength || wordOffset < 0
            || ((long)wordOffset + dataWords + pointerCount) * 8 > reader.SegmentLength(segment))
        {
            throw new CapnpFormatException("The embedded root struct lies outside its segment.");
        }

        reader._embeddedRoot = new EmbeddedRoot(segment, wordOffset * 8, dataWords, pointerCount);
        return reader;
    }

    private sealed record EmbeddedRoot(int Segment, int ByteOffset, ushort DataWords, ushort PointerCount);

    private EmbeddedRoot? _embeddedRoot;

    /// <summary>Reads a single-segment message from its raw segment bytes (root pointer at word 0).</summary>
    public static MessageReader FromSingleSegment(ReadOnlyMemory<byte> segment, ReaderOptions options = default)
    {
        if ((segment.Length & 7) != 0) throw new CapnpFormatException("Segment is not a whole number of words.");
        return new MessageReader(new[] { segment }, options);
    }

    /// <summary>Reads a packed, stream-framed message (the packed stream is unpacked into a new buffer).</summary>
    public static MessageReader FromPacked(ReadOnlySpan<byte> packed, ReaderOptions options = default)
    {
        var framed = Packing.UnpackMessage(packed, out _, options);
        return FromFramed(framed, options);
    }

    /// <summary>Reads one stream-framed message from a stream (the message size is checked against the traversal limit before reading it).</summary>
    public static MessageReader FromStream(Stream stream, ReaderOptions options = default)
    {
        ArgumentNullException.ThrowIfNull(stream);
        try { return ReadFromStream(stream, options); }
        catch (EndOfStreamException e) { throw new CapnpFormatException("Message is truncated: the stream ended early.", e); }
    }

    private static MessageReader ReadFromStream(Stream stream, ReaderOptions options)
    {
        Span<byte> first = stackalloc byte[8];
        stream.ReadExactly(first);
        uint countMinusOne = BinaryPrimitives.ReadUInt32LittleEndian(first);
        if (countMinusOne >= Wire.MaxSegments)
            throw new CapnpLimitExceededException($"Message has too many segments ({(ulong)countMinusOne + 1}).");
        int count = (int)countMinusOne + 1;
        int headerBytes = ((4 + count * 4) + 7) & ~7;
        var header = new byte[headerBytes];
        first.CopyTo(header);
        stream.ReadExactly(header.AsSpan(8));
        long total = 0;
        for (int i = 0; i < count; i++) total += BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(4 + i * 4));
        if (total > options.EffectiveTraversalLimit || headerBytes + total * 8 > Array.MaxLength)
            throw new CapnpLimitExceededException("Message is too large for the traversal limit.");
        var buf = new byte[headerBytes + total * 8];
        header.CopyTo(buf, 0);
        stream.ReadExactly(buf.AsSpan(headerBytes));
        return FromFramed(buf, options);
    }


    private static readonly System.Collections.Concurrent.ConcurrentDictionary<byte[], MessageReader> s_defaults = new(DefaultBytesComparer.Instance);

    /// <summary>
    /// A reader over a default value (trusted bytes from generated code). Readers are cached by content so that reading
    /// a null pointer with a default does not allocate after the first time; they have no traversal limit (the budget
    /// would otherwise be shared and exhausted by repeated reads).
    /// </summary>
    internal static MessageReader ForDefault(ReadOnlySpan<byte> defaultValue)
    {
        if ((defaultValue.Length & 7) != 0 || defaultValue.Length == 0)
            throw new CapnpFormatException("Default value is not a whole number of words.");
        var lookup = s_defaults.GetAlternateLookup<ReadOnlySpan<byte>>();
        if (lookup.TryGetValue(defaultValue, out var cached)) return cached;
        var bytes = defaultValue.ToArray();
        var reader = new MessageReader(new ReadOnlyMemory<byte>[] { bytes }, new ReaderOptions { TraversalLimitInWords = long.MaxValue });
        if (s_defaults.Count < 4096) s_defaults.TryAdd(bytes, reader);
        return reader;
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<byte[], byte[]> s_defaultData = new(DefaultBytesComparer.Instance);

    /// <summary>Default Data bytes as shared read-only memory (cached by content, so repeated reads do not allocate).</summary>
    internal static ReadOnlyMemory<byte> DefaultData(ReadOnlySpan<byte> value)
    {
        var lookup = s_defaultData.GetAlternateLookup<ReadOnlySpan<byte>>();
        if (lookup.TryGetValue(value, out var cached)) return cached;
        var bytes = value.ToArray();
        if (s_defaultData.Count < 4096) s_defaultData.TryAdd(bytes, bytes);
        return bytes;
    }

    private sealed class DefaultBytesComparer : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
    {
        public static readonly DefaultBytesComparer Instance = new();
        public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);
        public int GetHashCode(byte[] obj) => GetHashCode((ReadOnlySpan<byte>)obj);
        public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => alternate.SequenceEqual(other);
        public int GetHashCode(ReadOnlySpan<byte> alternate)
        {
            var h = new HashCode();
            h.AddBytes(alternate);
            return h.ToHashCode();
        }
        public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();
    }

    /// <summary>The root struct.</summary>
    public StructReader Root
    {
        get
        {
            if (_embeddedRoot is { } root)
            {
                if (NestingLimit <= 0) throw new CapnpLimitExceededException("Message is too deeply nested (nesting limit exceeded).");
                Charge(root.DataWords + root.PointerCount);
                return new StructReader(this, root.Segment, root.ByteOffset, root.DataWords * 64, root.PointerCount, NestingLimit - 1);
            }

            if (SegmentLength(0) < 8) throw new CapnpFormatException("Message is empty: no root pointer.");
            return ReadStructPointer(0, 0, NestingLimit);
        }
    }

    /// <summary>The root pointer, untyped (not available on a reader of an embedded struct).</summary>
    public AnyPointerReader RootPointer
    {
        get
        {
            if (_embeddedRoot is not null) throw new InvalidOperationException("This message's root is an embedded struct, not a pointer: read Root.");
            if (SegmentLength(0) < 8) throw new CapnpFormatException("Message is empty: no root pointer.");
            return new AnyPointerReader(this, 0, 0, NestingLimit);
        }
    }

    /// <summary>The root struct, wrapped in a generated reader type.</summary>
    public T GetRoot<T>() where T : struct, IStructReader<T> => T.Create(Root);

    // ---------------------------------------------------------------- pointer resolution

    internal void Charge(long words)
    {
        RemainingWords -= words;
        if (RemainingWords < 0)
            throw new CapnpLimitExceededException("Exceeded message traversal limit. See ReaderOptions.TraversalLimitInWords.");
    }

    /// <summary>Follows far pointers. Returns false for a null pointer.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool Resolve(int seg, int ptrPos, out ulong tag, out int targetSeg, out long targetPos)
    {
        ulong w = Wire.ReadWord(Span(seg), ptrPos);
        if (w == 0) { tag = 0; targetSeg = 0; targetPos = 0; return false; }
        if ((w & 3) != 2)
        {
            tag = w; targetSeg = seg;
            targetPos = ptrPos + 8 + Wire.SignedOffset(w) * 8;
            return true;
        }
        return ResolveFar(w, out tag, out targetSeg, out targetPos);
    }

    // Far pointers are rare (only across segments): out of line, so that the near case inlines into its callers.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool ResolveFar(ulong w, out ulong tag, out int targetSeg, out long targetPos)
    {
        bool isDouble = (w & 4) != 0;
        long padPos = (long)((uint)w >> 3) * 8;
        uint padSeg = (uint)(w >> 32);
        if (padSeg >= (uint)_views.Length) throw new CapnpFormatException("Far pointer refers to a segment that does not exist.");
        var ps = Span((int)padSeg);
        if (padPos + (isDouble ? 16 : 8) > ps.Length) throw new CapnpFormatException("Far pointer landing pad is out of bounds.");
        ulong pad = Wire.ReadWord(ps, padPos);
        if (!isDouble)
        {
            if ((pad & 3) == 2) throw new CapnpFormatException("Far pointer landing pad is itself a far pointer.");
            if (pad == 0) { tag = 0; targetSeg = 0; targetPos = 0; return false; }
            tag = pad; targetSeg = (int)padSeg;
            targetPos = padPos + 8 + Wire.SignedOffset(pad) * 8;
            return true;
        }
        if ((pad & 7) != 2) throw new CapnpFormatException("Double-far landing pad must begin with a single far pointer.");
        uint contentSeg = (uint)(pad >> 32);
        if (contentSeg >= (uint)_views.Length) throw new CapnpFormatException("Double-far pointer refers to a segment that does not exist.");
        tag = Wire.ReadWord(ps, padPos + 8);
        if ((tag & 3) == 2) throw new CapnpFormatException("Double-far tag is a far pointer.");
        targetSeg = (int)contentSeg;
        targetPos = (long)((uint)pad >> 3) * 8;
        return true;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowOutOfBounds(string what) => throw new CapnpFormatException($"{what} pointer points out of bounds of its segment.");

    /// <summary>Reads a struct pointer located at (seg, ptrPos) in an object whose nesting budget is <paramref name="nesting"/>.</summary>
    internal StructReader ReadStructPointer(int seg, int ptrPos, int nesting)
    {
        if (!Resolve(seg, ptrPos, out ulong tag, out int tseg, out long tpos)) return default;
        if ((tag & 3) != 0) throw new CapnpFormatException("Message contains a non-struct pointer where a struct pointer was expected.");
        if (nesting <= 0) throw new CapnpLimitExceededException("Message is too deeply nested (nesting limit exceeded).");
        ushort dw = (ushort)(tag >> 32), pc = (ushort)(tag >> 48);
        long words = dw + pc;
        if (tpos < 0 || tpos + words * 8 > SegmentLength(tseg)) ThrowOutOfBounds("Struct");
        Charge(words);
        return new StructReader(this, tseg, (int)tpos, dw * 64, pc, nesting - 1);
    }

    /// <summary>
    /// A Text pointer's bytes, without the NUL. The common case, a near pointer to a byte list, is read here with one
    /// segment lookup and no <see cref="ListReader"/>, with the same checks (bounds, nesting, traversal limit, NUL);
    /// anything else (null, far, wrong kind or size) takes the general path, which also gives its errors.
    /// </summary>
    internal ReadOnlySpan<byte> ReadTextBytes(int seg, int ptrPos, int nesting)
    {
        var s = Span(seg);
        ulong w = Wire.ReadWord(s, ptrPos);
        if ((w & 3) != 1 || ((w >> 32) & 7) != (ulong)ElementSize.Byte || nesting <= 0)
            return ReadTextBytesSlow(seg, ptrPos, nesting);
        long count = (long)(w >> 35);
        long pos = ptrPos + 8 + Wire.SignedOffset(w) * 8;
        if (pos < 0 || pos + count > s.Length) ThrowOutOfBounds("List");
        Charge((count + 7) / 8);
        if (count == 0 || s[(int)(pos + count - 1)] != 0) ThrowNotNulTerminated();
        return s.Slice((int)pos, (int)count - 1);
    }

    // Out of line: inlined, its ListReader temporary would be zeroed on every call of the fast path.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ReadOnlySpan<byte> ReadTextBytesSlow(int seg, int ptrPos, int nesting) => ReadListPointer(seg, ptrPos, nesting).TextBytes();

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowNotNulTerminated() => throw new CapnpFormatException("Message contains Text that is not NUL-terminated.");

    internal ListReader ReadListPointer(int seg, int ptrPos, int nesting)
    {
        if (!Resolve(seg, ptrPos, out ulong tag, out int tseg, out long tpos)) return default;
        return ListFromTag(tag, tseg, tpos, nesting);
    }

    internal ListReader ListFromTag(ulong tag, int tseg, long tpos, int nesting)
    {
        if ((tag & 3) != 1) throw new CapnpFormatException("Message contains a non-list pointer where a list pointer was expected.");
        if (nesting <= 0) throw new CapnpLimitExceededException("Message is too deeply nested (nesting limit exceeded).");
        var size = (ElementSize)((tag >> 32) & 7);
        long count = (long)(tag >> 35);
        int segLen = SegmentLength(tseg);
        if (size == ElementSize.InlineComposite)
        {
            long wordCount = count;
            if (tpos < 0 || tpos + (wordCount + 1) * 8 > segLen) ThrowOutOfBounds("List");
            ulong t = Wire.ReadWord(Span(tseg), tpos);
            if ((t & 3) != 0) throw new CapnpFormatException("Inline-composite list tag is not a struct tag.");
            long elems = (uint)t >> 2;
            ushort dw = (ushort)(t >> 32), pc = (ushort)(t >> 48);
            long perElem = dw + pc;
            if (elems * perElem > wordCount) throw new CapnpFormatException("Inline-composite list's elements overrun its word count.");
            Charge(perElem == 0 ? Math.Max(elems, 1) : wordCount);
            return new ListReader(this, tseg, (int)tpos + 8, (int)elems, (int)(perElem * 64), dw * 64, pc, ElementSize.InlineComposite, nesting - 1);
        }
        int bits = Wire.BitsPerElement(size);
        long totalBits = count * bits;
        long bytes = (totalBits + 7) / 8;
        if (tpos < 0 || tpos + bytes > segLen) ThrowOutOfBounds("List");
        Charge(size == ElementSize.Void ? count : (totalBits + 63) / 64);
        bool isPtr = size == ElementSize.Pointer;
        return new ListReader(this, tseg, (int)tpos, (int)count, bits, isPtr ? 0 : bits, (ushort)(isPtr ? 1 : 0), size, nesting - 1);
    }

    internal uint? ReadCapPointer(int seg, int ptrPos)
    {
        if (!Resolve(seg, ptrPos, out ulong tag, out _, out _)) return null;
        if ((uint)tag != 3u) throw new CapnpFormatException("Message contains a non-capability pointer where a capability pointer was expected.");
        return (uint)(tag >> 32);
    }
}
