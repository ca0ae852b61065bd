using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text;

namespace Capnp.Native.Serialization;

/// <summary>A pointer slot being built (a struct's pointer field, a list's pointer element, or the root).</summary>
public readonly struct AnyPointerBuilder
{
    internal readonly MessageBuilder Message;
    internal readonly int Segment;
    internal readonly int Position;

    internal AnyPointerBuilder(MessageBuilder message, int segment, int position)
    {
        Message = message; Segment = segment; Position = position;
    }

    private Span<byte> Word => Message.Buffers[Segment].AsSpan(Position, 8);

    /// <summary>True when the pointer is null.</summary>
    public bool IsNull => Message is null || BinaryPrimitives.ReadUInt64LittleEndian(Word) == 0;

    /// <summary>Sets the pointer to null and zeroes the object it pointed to (as C++ does, so no stale data remains).</summary>
    public void Clear() => Zeroer.ZeroPointer(Message, Segment, Position);

    /// <summary>Allocates a new struct and points at it.</summary>
    public StructBuilder InitStruct(ushort dataWords, ushort pointerCount)
    {
        Zeroer.ZeroPointer(Message, Segment, Position);
        return AllocateStruct(dataWords, pointerCount);
    }

    private StructBuilder AllocateStruct(ushort dataWords, ushort pointerCount)
    {
        int pos = Message.AllocateAndPoint(Segment, Position, dataWords + pointerCount, 0, dataWords | ((uint)pointerCount << 16), out int seg);
        return new StructBuilder(Message, seg, pos, dataWords, pointerCount);
    }

    /// <summary>
    /// Returns the existing struct (upgrading it to the given sizes if it is smaller). When the pointer is null, the
    /// struct is initialized: as a copy of <paramref name="defaultValue"/> when given (the field's schema default, as
    /// C++ <c>getX()</c> copies it into the message), else all zero.
    /// </summary>
    /// <param name="dataWords">Data section size the caller's schema expects.</param>
    /// <param name="pointerCount">Pointer section size the caller's schema expects.</param>
    /// <param name="defaultValue">The default: words of a single-segment message whose root pointer is word 0 (may be empty).</param>
    public StructBuilder GetStruct(ushort dataWords, ushort pointerCount, ReadOnlySpan<byte> defaultValue = default)
    {
        if (IsNull)
        {
            if (defaultValue.IsEmpty) return InitStruct(dataWords, pointerCount);
            Copier.CopyStruct(Message, Segment, Position, MessageReader.ForDefault(defaultValue).Root, false);
        }
        if (!Message.Resolve(Segment, Position, out ulong tag, out int tseg, out int tpos)) return InitStruct(dataWords, pointerCount);
        if ((tag & 3) != 0) throw new InvalidOperationException("Pointer is not a struct pointer.");
        ushort dw = (ushort)(tag >> 32), pc = (ushort)(tag >> 48);
        if (dw >= dataWords && pc >= pointerCount) return new StructBuilder(Message, tseg, tpos, dw, pc);
        // Upgrade: allocate a bigger copy and move the pointers.
        ushort ndw = Math.Max(dw, dataWords), npc = Math.Max(pc, pointerCount);
        ClearPointerAndPads(); // a far pointer's landing pads would otherwise stay behind as garbage
        var nb = AllocateStruct(ndw, npc); // the old body is moved then zeroed below
        Buffer.BlockCopy(Message.Buffers[tseg], tpos, Message.Buffers[nb.Segment], nb.DataOffset, dw * 8);
        for (int i = 0; i < pc; i++)
        {
            int oldPtr = tpos + dw * 8 + i * 8;
            int newPtr = nb.PointerOffset + i * 8;
            MovePointer(tseg, oldPtr, nb.Segment, newPtr);
        }
        Array.Clear(Message.Buffers[tseg], tpos, (dw + pc) * 8);
        return nb;
    }

    private void MovePointer(int oseg, int opos, int nseg, int npos)
    {
        var m = Message;
        ulong w = BinaryPrimitives.ReadUInt64LittleEndian(m.Buffers[oseg].AsSpan(opos));
        if (w == 0) return;
        if ((w & 3) == 3 || (w & 3) == 2)
        {
            // Capabilities and far pointers are position-independent.
            BinaryPrimitives.WriteUInt64LittleEndian(m.Buffers[nseg].AsSpan(npos), w);
            return;
        }
        m.Resolve(oseg, opos, out ulong tag, out int tseg, out int tpos);
        m.PointTo(nseg, npos, tseg, tpos, (int)(tag & 3), (uint)(tag >> 32));
    }

    /// <summary>Allocates a new list of non-struct elements and points at it.</summary>
    public ListBuilder InitList(ElementSize size, int count)
    {
        if (size == ElementSize.InlineComposite) throw new ArgumentException("Use InitStructList for struct lists.", nameof(size));
        if ((uint)count >= 1u << 29) throw new ArgumentOutOfRangeException(nameof(count));
        Zeroer.ZeroPointer(Message, Segment, Position);
        int bits = Wire.BitsPerElement(size);
        int words = (int)(((long)count * bits + 63) / 64);
        int pos = Message.AllocateAndPoint(Segment, Position, words, 1, (uint)size | ((uint)count << 3), out int seg);
        bool isPtr = size == ElementSize.Pointer;
        return new ListBuilder(Message, seg, pos, count, bits, (ushort)(isPtr ? 0 : (bits + 63) / 64), (ushort)(isPtr ? 1 : 0), size);
    }

    /// <summary>Allocates a new struct list (inline composite) and points at it.</summary>
    public ListBuilder InitStructList(int count, ushort dataWords, ushort pointerCount)
    {
        if ((uint)count >= 1u << 29) throw new ArgumentOutOfRangeException(nameof(count));
        long words = (long)count * (dataWords + pointerCount);
        if (words >= 1L << 29) throw new ArgumentOutOfRangeException(nameof(count), "List too large.");
        Zeroer.ZeroPointer(Message, Segment, Position);
        int pos = Message.AllocateAndPoint(Segment, Position, (int)words + 1, 1, (uint)ElementSize.InlineComposite | ((uint)words << 3), out int seg);
        BinaryPrimitives.WriteUInt64LittleEndian(Message.Buffers[seg].AsSpan(pos), MessageBuilder.Tag(count, 0, dataWords | ((uint)pointerCount << 16)));
        return new ListBuilder(Message, seg, pos + 8, count, (dataWords + pointerCount) * 64, dataWords, pointerCount, ElementSize.InlineComposite);
    }

    /// <summary>
    /// Returns the existing list. When the pointer is null: a copy of <paramref name="defaultValue"/> written into the
    /// message when given (as C++ does), else a null list builder with Count 0.
    /// </summary>
    /// <param name="defaultValue">The default: words of a single-segment message whose root pointer is word 0 (may be empty).</param>
    public ListBuilder GetList(ReadOnlySpan<byte> defaultValue = default)
    {
        if (IsNull && !CopyDefaultList(defaultValue)) return default;
        if (!Message.Resolve(Segment, Position, out ulong tag, out int tseg, out int tpos)) return default;
        if ((tag & 3) != 1) throw new InvalidOperationException("Pointer is not a list pointer.");
        var size = (ElementSize)((tag >> 32) & 7);
        int count = (int)(tag >> 35);
        if (size == ElementSize.InlineComposite)
        {
            ulong t = BinaryPrimitives.ReadUInt64LittleEndian(Message.Buffers[tseg].AsSpan(tpos));
            ushort dw = (ushort)(t >> 32), pc = (ushort)(t >> 48);
            return new ListBuilder(Message, tseg, tpos + 8, (int)((uint)t >> 2), (dw + pc) * 64, dw, pc, size);
        }
        int bits = Wire.BitsPerElement(size);
        bool isPtr = size == ElementSize.Pointer;
        return new ListBuilder(Message, tseg, tpos, count, bits, (ushort)(isPtr ? 0 : (bits + 63) / 64), (ushort)(isPtr ? 1 : 0), size);
    }

    // Writes the default list into the (null) pointer; false when there is no default.
    private bool CopyDefaultList(ReadOnlySpan<byte> defaultValue)
    {
        if (defaultValue.IsEmpty) return false;
        var m = MessageReader.ForDefault(defaultValue);
        Copier.CopyList(Message, Segment, Position, m.ReadListPointer(0, 0, m.NestingLimit), false);
        return !IsNull;
    }

    /// <summary>
    /// Returns the existing struct list with elements of at least the given sizes, as C++ <c>getX()</c> does: a list
    /// written with smaller structs (an older schema) is re-allocated with the bigger element size, and a primitive or
    /// pointer list (a schema that later changed <c>List(T)</c> to a list of structs whose first field is a T) becomes a
    /// struct list whose elements hold the old values in their first field. The old body is zeroed. When the pointer is
    /// null: a copy of <paramref name="defaultValue"/> when given, else a null list builder with Count 0.
    /// </summary>
    /// <param name="dataWords">Data section size of the elements the caller's schema expects.</param>
    /// <param name="pointerCount">Pointer section size of the elements the caller's schema expects.</param>
    /// <param name="defaultValue">The default: words of a single-segment message whose root pointer is word 0 (may be empty).</param>
    /// <exception cref="InvalidOperationException">The pointer is not a list pointer.</exception>
    /// <exception cref="CapnpFormatException">The list is a List(Bool), which cannot become a struct list.</exception>
    public ListBuilder GetStructList(ushort dataWords, ushort pointerCount, ReadOnlySpan<byte> defaultValue = default)
    {
        if (IsNull && !CopyDefaultList(defaultValue)) return default;
        Message.Resolve(Segment, Position, out ulong tag, out int oseg, out int opos);
        if ((tag & 3) != 1) throw new InvalidOperationException("Pointer is not a list pointer.");
        var size = (ElementSize)((tag >> 32) & 7);
        int count;
        ushort odw, opc;
        int oldStepBytes, oldBodyPos, oldBodyBytes;
        if (size == ElementSize.InlineComposite)
        {
            ulong t = BinaryPrimitives.ReadUInt64LittleEndian(Message.Buffers[oseg].AsSpan(opos));
            count = (int)((uint)t >> 2);
            odw = (ushort)(t >> 32); opc = (ushort)(t >> 48);
            if (odw >= dataWords && opc >= pointerCount)
                return new ListBuilder(Message, oseg, opos + 8, count, (odw + opc) * 64, odw, opc, size);
            oldStepBytes = (odw + opc) * 8;
            oldBodyPos = opos + 8;
            oldBodyBytes = count * oldStepBytes + 8; // with the tag word
        }
        else
        {
            count = (int)(tag >> 35);
            if (size == ElementSize.Void) return InitStructList(count, dataWords, pointerCount);
            if (size == ElementSize.Bit)
                throw new CapnpFormatException("Found bit list where struct list was expected; upgrading boolean lists to structs is not supported.");
            bool isPtr = size == ElementSize.Pointer;
            // The old element becomes the first data field (or first pointer) of each struct.
            odw = 0; opc = (ushort)(isPtr ? 1 : 0);
            oldStepBytes = Wire.BitsPerElement(size) / 8;
            oldBodyPos = opos;
            oldBodyBytes = (int)(((long)count * oldStepBytes + 7) / 8 * 8);
            if (!isPtr) dataWords = Math.Max(dataWords, (ushort)1);
        }

        ushort ndw = Math.Max(odw, dataWords), npc = Math.Max(opc, pointerCount);
        long words = (long)count * (ndw + npc);
        if (words >= (1L << 29) - 1) throw new CapnpLimitExceededException("Upgraded struct list is too large for a segment.");
        // Drop the pointer and its landing pads but keep the old body: its values move to the new list first.
        ClearPointerAndPads();
        int npos = Message.AllocateAndPoint(Segment, Position, (int)words + 1, 1, (uint)ElementSize.InlineComposite | ((uint)words << 3), out int nseg);
        BinaryPrimitives.WriteUInt64LittleEndian(Message.Buffers[nseg].AsSpan(npos), MessageBuilder.Tag(count, 0, ndw | ((uint)npc << 16)));
        npos += 8;
        int newStepBytes = (ndw + npc) * 8;
        var obuf = Message.Buffers[oseg];
        for (int i = 0; i < count; i++)
        {
            int src = oldBodyPos + i * oldStepBytes, dst = npos + i * newStepBytes;
            if (size == ElementSize.Pointer)
            {
                MovePointer(oseg, src, nseg, dst + ndw * 8);
                continue;
            }
            int dataBytes = size == ElementSize.InlineComposite ? odw * 8 : oldStepBytes;
            Buffer.BlockCopy(obuf, src, Message.Buffers[nseg], dst, dataBytes);
            for (int j = 0; j < opc; j++) MovePointer(oseg, src + odw * 8 + j * 8, nseg, dst + ndw * 8 + j * 8);
        }
        Array.Clear(obuf, size == ElementSize.InlineComposite ? opos : oldBodyPos, oldBodyBytes);
        return new ListBuilder(Message, nseg, npos, count, newStepBytes * 8, ndw, npc, ElementSize.InlineComposite);
    }

    // Clears this pointer and the landing pad(s) of a far pointer, leaving the object it pointed to in place.
    private void ClearPointerAndPads()
    {
        ulong w = BinaryPrimitives.ReadUInt64LittleEndian(Word);
        if ((w & 3) == 2)
            Message.Buffers[(int)(w >> 32)].AsSpan((int)((uint)w >> 3) * 8, (w & 4) != 0 ? 16 : 8).Clear();
        Word.Clear();
    }

    /// <summary>Writes Text (null clears the pointer).</summary>
    public void SetText(string? value)
    {
        if (value is null) { Clear(); return; }
        int n = Encoding.UTF8.GetByteCount(value);
        var bytes = InitOverwrittenBytes(n + 1, n);
        Encoding.UTF8.GetBytes(value, bytes);
    }

    /// <summary>Writes Text from UTF-8 bytes (without NUL).</summary>
    public void SetText(ReadOnlySpan<byte> utf8) => utf8.CopyTo(InitOverwrittenBytes(utf8.Length + 1, utf8.Length));

    /// <summary>Writes Data.</summary>
    public void SetData(ReadOnlySpan<byte> value) => value.CopyTo(InitOverwrittenBytes(value.Length, value.Length));

    // A byte list of `count` bytes whose first `written` bytes the caller fills at once: the rest
    // (a Text's NUL, the last word's padding) is cleared here, so memory that was not cleared on
    // allocation never reaches the wire.
    private Span<byte> InitOverwrittenBytes(int count, int written)
    {
        if ((uint)count >= 1u << 29) throw new ArgumentOutOfRangeException(nameof(count));
        Zeroer.ZeroPointer(Message, Segment, Position);
        int words = (count + 7) / 8;
        int pos = Message.AllocateAndPoint(Segment, Position, words, 1, (uint)ElementSize.Byte | ((uint)count << 3), out int seg, contentOverwritten: true);
        var bytes = Message.Buffers[seg].AsSpan(pos, words * 8);
        bytes.Slice(written).Clear();
        return bytes.Slice(0, written);
    }

    /// <summary>Allocates a Data blob of <paramref name="length"/> bytes and returns it for filling in place.</summary>
    public Memory<byte> InitData(int length)
    {
        var l = InitList(ElementSize.Byte, length);
        return Message.Buffers[l.Segment].AsMemory(l.Start, length);
    }

    /// <summary>Writes a capability pointer (index into <see cref="MessageBuilder.CapTable"/>).</summary>
    public void SetCapabilityIndex(uint capIndex)
    {
        Zeroer.ZeroPointer(Message, Segment, Position);
        BinaryPrimitives.WriteUInt64LittleEndian(Word, Wire.CapPointer(capIndex));
    }

    /// <summary>Reads back the pointer.</summary>
    public AnyPointerReader AsReader() => new(Message.ReaderView, Segment, Position, int.MaxValue);

    /// <summary>Sets the pointer to a deep copy of a struct.</summary>
    public void SetStruct(StructReader value) { Zeroer.ZeroPointer(Message, Segment, Position); Copier.CopyStruct(Message, Segment, Position, value, false); }
    /// <summary>Sets the pointer to a deep copy of a list.</summary>
    public void SetList(ListReader value) { Zeroer.ZeroPointer(Message, Segment, Position); Copier.CopyList(Message, Segment, Position, value, false); }
    /// <summary>Sets the pointer to a deep copy of any pointer.</summary>
    public void Set(AnyPointerReader value) { Zeroer.ZeroPointer(Message, Segment, Position); Copier.CopyPointer(Message, Segment, Position, value, false); }
    /// <summary>Sets the pointer to a deep copy of a generated struct reader.</summary>
    public void SetStruct<T>(T value) where T : struct, IStructReader<T> => SetStruct(value.Raw);
    /// <summary>Initializes as a generated struct builder.</summary>
    public T InitStruct<T>() where T : IStructBuilder<T> => T.Create(InitStruct(T.DataWords, T.PointerCount));
    /// <summary>Gets (or initializes, from <paramref name="defaultValue"/> when given) as a generated struct builder.</summary>
    public T GetStruct<T>(ReadOnlySpan<byte> defaultValue = default) where T : IStructBuilder<T>
        => T.Create(GetStruct(T.DataWords, T.PointerCount, defaultValue));
    /// <summary>Gets a struct list of a generated type, upgrading it as <see cref="GetStructList(ushort, ushort, ReadOnlySpan{byte})"/> does.</summary>
    public ListOfStructsBuilder<T> GetStructList<T>(ReadOnlySpan<byte> defaultValue = default) where T : IStructBuilder<T>
        => new(GetStructList(T.DataWords, T.PointerCount, defaultValue));
}

/// <summary>
/// A stack of pending work for the deep copier and zeroer. Both walk object graphs as deep as the message (a reader's
/// nesting limit is the user's to raise, and builder views have none), so they keep pending objects here instead of
/// recursing on the thread's stack, which a 100,000-deep message would overflow (ending the process).
/// One stack is cached per thread so that small copies do not allocate.
/// </summary>
internal sealed class WorkStack<T>
{
    [ThreadStatic] private static WorkStack<T>? s_cached;

    private T[] _items = new T[16];
    private int _count;
    private int _highWater;

    public static WorkStack<T> Rent()
    {
        var s = s_cached ?? new WorkStack<T>();
        s_cached = null; // a nested use (none today) gets its own stack
        return s;
    }

    public static void Return(WorkStack<T> s)
    {
        s._count = 0;
        // Do not keep the memory of one huge traversal alive for the thread's lifetime.
        if (s._items.Length > 4096) s._items = new T[16];
        else if (RuntimeHelpers.IsReferenceOrContainsReferences<T>()) Array.Clear(s._items, 0, s._highWater); // drop references to messages
        s._highWater = 0;
        s_cached = s;
    }

    public int Count => _count;

    public void Push(in T item)
    {
        if (_count == _items.Length) Array.Resize(ref _items, _count * 2);
        _items[_count++] = item;
        if (_count > _highWater) _highWater = _count;
    }

    public T Pop() => _items[--_count];
}

internal static class Copier
{
    private enum Source : byte { Pointer, Struct, List }

    // A pending copy: the source object and the destination pointer slot (segment, byte position).
    private readonly struct Work
    {
        public readonly Source Kind;
        public readonly AnyPointerReader Pointer;
        public readonly StructReader Struct;
        public readonly ListReader List;
        public readonly int Segment;
        public readonly int Position;

        public Work(AnyPointerReader p, int seg, int pos) { Kind = Source.Pointer; Pointer = p; Struct = default; List = default; Segment = seg; Position = pos; }
        public Work(StructReader s, int seg, int pos) { Kind = Source.Struct; Pointer = default; Struct = s; List = default; Segment = seg; Position = pos; }
        public Work(ListReader l, int seg, int pos) { Kind = Source.List; Pointer = default; Struct = default; List = l; Segment = seg; Position = pos; }
    }

    public static void CopyPointer(MessageBuilder m, int pseg, int ppos, AnyPointerReader src, bool canonical) => Run(m, new Work(src, pseg, ppos), canonical);

    public static void CopyStruct(MessageBuilder m, int pseg, int ppos, StructReader src, bool canonical) => Run(m, new Work(src, pseg, ppos), canonical);

    public static void CopyList(MessageBuilder m, int pseg, int ppos, ListReader src, bool canonical) => Run(m, new Work(src, pseg, ppos), canonical);

    // Copies depth-first in pre-order (an object, then each of its pointers' objects in order), as the recursive
    // definition of the canonical form requires: children are pushed in reverse so the first one is copied next.
    private static void Run(MessageBuilder m, Work first, bool canonical)
    {
        var stack = WorkStack<Work>.Rent();
        try
        {
            stack.Push(first);
            while (stack.Count > 0)
            {
                var w = stack.Pop();
                switch (w.Kind)
                {
                    case Source.Pointer: StepPointer(m, w.Segment, w.Position, w.Pointer, canonical, stack); break;
                    case Source.Struct: StepStruct(m, w.Segment, w.Position, w.Struct, canonical, stack); break;
                    default: StepList(m, w.Segment, w.Position, w.List, canonical, stack); break;
                }
            }
        }
        finally
        {
            WorkStack<Work>.Return(stack);
        }
    }

    private static void StepPointer(MessageBuilder m, int pseg, int ppos, AnyPointerReader src, bool canonical, WorkStack<Work> stack)
    {
        switch (src.Kind)
        {
            case PointerKind.Null:
                m.Buffers[pseg].AsSpan(ppos, 8).Clear();
                break;
            case PointerKind.Struct:
                StepStruct(m, pseg, ppos, src.AsStruct(), canonical, stack);
                break;
            case PointerKind.List:
                StepList(m, pseg, ppos, src.AsList(), canonical, stack);
                break;
            case PointerKind.Capability:
                CopyCapability(m, pseg, ppos, src, canonical);
                break;
        }
    }

    // A capability pointer is an index into its message's cap table: copied into another message
    // with a table, the entry moves along (a new reference) and gets an index in the destination's
    // table; an index its own table does not have becomes null rather than naming another entry.
    // Without a source table (plain serialization), and in canonical form, the index is kept.
    private static void CopyCapability(MessageBuilder m, int pseg, int ppos, AnyPointerReader src, bool canonical)
    {
        uint index = src.AsCapabilityIndex()!.Value;
        var table = src.Message?.CapTable;
        if (!canonical && table is not null && !ReferenceEquals(table, m.CapTable))
        {
            if (index >= table.Count || table[(int)index] is not { } entry)
            {
                m.Buffers[pseg].AsSpan(ppos, 8).Clear();
                return;
            }

            m.CapTable.Add(entry is ICapabilityReference reference ? reference.DuplicateReference() : entry);
            index = (uint)(m.CapTable.Count - 1);
        }

        BinaryPrimitives.WriteUInt64LittleEndian(m.Buffers[pseg].AsSpan(ppos), Wire.CapPointer(index));
    }

    internal static void TruncatedSize(StructReader s, out int dataBytes, out int ptrs)
    {
        var d = s.DataSection;
        int n = d.Length;
        while (n > 0 && d[n - 1] == 0) n--;
        dataBytes = n;
        ptrs = s.PointerCount;
        while (ptrs > 0 && !s.HasPointer(ptrs - 1)) ptrs--;
    }

    private static void StepStruct(MessageBuilder m, int pseg, int ppos, StructReader src, bool canonical, WorkStack<Work> stack)
    {
        if (src.IsNull) { m.Buffers[pseg].AsSpan(ppos, 8).Clear(); return; }
        int dataBytes = src.DataBits / 8, pc = src.PointerCount;
        if (canonical) TruncatedSize(src, out dataBytes, out pc);
        ushort dw = (ushort)((dataBytes + 7) / 8);
        int pos = m.AllocateAndPoint(pseg, ppos, dw + pc, 0, dw | ((uint)pc << 16), out int seg);
        if (src.DataBits == 1)
        {
            if (src.ReadBool(0)) m.Buffers[seg][pos] = 1;
        }
        else src.DataSection.Slice(0, dataBytes).CopyTo(m.Buffers[seg].AsSpan(pos));
        for (int i = pc - 1; i >= 0; i--) stack.Push(new Work(src.ReadAnyPointer(i), seg, pos + dw * 8 + i * 8));
    }

    private static void StepList(MessageBuilder m, int pseg, int ppos, ListReader src, bool canonical, WorkStack<Work> stack)
    {
        if (src.IsNull) { m.Buffers[pseg].AsSpan(ppos, 8).Clear(); return; }
        int count = src.Count;
        if (src.ElementSize == ElementSize.InlineComposite)
        {
            int dataBytes = src.StructDataBits / 8, pc = src.StructPointers;
            if (canonical)
            {
                dataBytes = 0; pc = 0;
                for (int i = 0; i < count; i++)
                {
                    TruncatedSize(src.GetStruct(i), out int db, out int p);
                    dataBytes = Math.Max(dataBytes, db); pc = Math.Max(pc, p);
                }
            }
            ushort dw = (ushort)((dataBytes + 7) / 8);
            int step = dw + pc;
            long words = (long)count * step;
            int pos = m.AllocateAndPoint(pseg, ppos, (int)words + 1, 1, (uint)ElementSize.InlineComposite | ((uint)words << 3), out int seg);
            BinaryPrimitives.WriteUInt64LittleEndian(m.Buffers[seg].AsSpan(pos), MessageBuilder.Tag(count, 0, dw | ((uint)pc << 16)));
            pos += 8;
            for (int i = 0; i < count; i++)
            {
                var e = src.GetStruct(i);
                e.DataSection.Slice(0, Math.Min(dataBytes, e.DataBits / 8)).CopyTo(m.Buffers[seg].AsSpan(pos + i * step * 8));
            }
            for (int i = count - 1; i >= 0; i--)
            {
                var e = src.GetStruct(i);
                int epos = pos + i * step * 8;
                for (int j = pc - 1; j >= 0; j--) stack.Push(new Work(e.ReadAnyPointer(j), seg, epos + dw * 8 + j * 8));
            }
            return;
        }
        if (src.ElementSize == ElementSize.Pointer)
        {
            int pos = m.AllocateAndPoint(pseg, ppos, count, 1, (uint)ElementSize.Pointer | ((uint)count << 3), out int seg);
            for (int i = count - 1; i >= 0; i--) stack.Push(new Work(src.GetPointer(i), seg, pos + i * 8));
            return;
        }
        int bits = Wire.BitsPerElement(src.ElementSize);
        int w = (int)(((long)count * bits + 63) / 64);
        int p2 = m.AllocateAndPoint(pseg, ppos, w, 1, (uint)src.ElementSize | ((uint)count << 3), out int s2);
        var raw = src.RawBytes;
        raw.CopyTo(m.Buffers[s2].AsSpan(p2));
        if (canonical && bits == 1 && (count & 7) != 0)
            m.Buffers[s2][p2 + raw.Length - 1] &= (byte)((1 << (count & 7)) - 1);
    }
}

internal static class Zeroer
{
    // Pending work: zero the pointer at (Segment, Position) and its object, or (Length > 0) clear a range whose
    // pointers have been zeroed (pushed first, so it runs after them).
    private readonly record struct Work(int Segment, int Position, int Length);

    /// <summary>Zeroes the object a builder pointer refers to (and everything it reaches), its landing pads, and the pointer itself.</summary>
    public static void ZeroPointer(MessageBuilder m, int seg, int ppos)
    {
        if (BinaryPrimitives.ReadUInt64LittleEndian(m.Buffers[seg].AsSpan(ppos)) == 0) return;
        var stack = WorkStack<Work>.Rent();
        try
        {
            stack.Push(new Work(seg, ppos, 0));
            while (stack.Count > 0)
            {
                var w = stack.Pop();
                if (w.Length > 0) m.Buffers[w.Segment].AsSpan(w.Position, w.Length).Clear();
                else StepPointer(m, w.Segment, w.Position, stack);
            }
        }
        finally
        {
            WorkStack<Work>.Return(stack);
        }
    }

    private static void StepPointer(MessageBuilder m, int seg, int ppos, WorkStack<Work> stack)
    {
        var buf = m.Buffers[seg];
        ulong w = BinaryPrimitives.ReadUInt64LittleEndian(buf.AsSpan(ppos));
        if (w == 0) return;
        // The content is located now (through the pad, if any); pad and pointer can go at once.
        if ((w & 3) != 3 && m.Resolve(seg, ppos, out ulong tag, out int tseg, out int tpos))
        {
            if ((w & 3) == 2)
                m.Buffers[(int)(w >> 32)].AsSpan((int)((uint)w >> 3) * 8, (w & 4) != 0 ? 16 : 8).Clear();
            PushContent(m, tag, tseg, tpos, stack);
        }
        buf.AsSpan(ppos, 8).Clear();
    }

    private static void PushContent(MessageBuilder m, ulong tag, int seg, int pos, WorkStack<Work> stack)
    {
        var buf = m.Buffers[seg];
        if ((tag & 3) == 0)
        {
            int dw = (ushort)(tag >> 32), pc = (ushort)(tag >> 48);
            if (dw + pc == 0) return;
            stack.Push(new Work(seg, pos, (dw + pc) * 8));
            for (int i = 0; i < pc; i++) stack.Push(new Work(seg, pos + dw * 8 + i * 8, 0));
            return;
        }
        if ((tag & 3) != 1) return;
        var size = (ElementSize)((tag >> 32) & 7);
        int count = (int)(tag >> 35);
        if (size == ElementSize.InlineComposite)
        {
            ulong t = BinaryPrimitives.ReadUInt64LittleEndian(buf.AsSpan(pos));
            int n = (int)((uint)t >> 2), dw = (ushort)(t >> 32), pc = (ushort)(t >> 48);
            stack.Push(new Work(seg, pos, (count + 1) * 8));
            for (int e = 0; e < n; e++)
                for (int i = 0; i < pc; i++) stack.Push(new Work(seg, pos + 8 + e * (dw + pc) * 8 + dw * 8 + i * 8, 0));
            return;
        }
        int bytes = (int)(((long)count * Wire.BitsPerElement(size) + 63) / 64) * 8;
        if (bytes == 0) return;
        stack.Push(new Work(seg, pos, bytes));
        if (size == ElementSize.Pointer)
            for (int i = 0; i < count; i++) stack.Push(new Work(seg, pos + i * 8, 0));
    }
}
