using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Capnp.Native.Serialization;

/// <summary>
/// Untyped view of a list read in place. Use the <c>As...</c> conversions to get typed views; they apply the
/// schema-evolution rules of the C++ implementation (a primitive or pointer list may be read as a struct list, and a
/// struct list may be read as a primitive/pointer list whose elements are the first field of each struct).
/// <c>default(ListReader)</c> is an empty list.
/// </summary>
public readonly struct ListReader
{
    internal readonly MessageReader? Message;
    // As in StructReader: the segment's array when it is the caller's array memory (else null), and the index of the
    // list's first element in it, looked up once here rather than for every element.
    private readonly byte[]? _array;
    private readonly int _arrayStart;
    internal readonly int Segment;
    internal readonly int Start;
    internal readonly int Length;
    internal readonly int StepBits;
    internal readonly int StructDataBits;
    internal readonly ushort StructPointers;
    internal readonly ElementSize Size;
    internal readonly int Nesting;

    internal ListReader(MessageReader message, int segment, int start, int count, int stepBits, int structDataBits, ushort structPointers, ElementSize size, int nesting)
    {
        Message = message; Segment = segment; Start = start; Length = count; StepBits = stepBits;
        StructDataBits = structDataBits; StructPointers = structPointers; Size = size; Nesting = nesting;
        _array = message.DirectArray(segment, out int arrayOffset);
        _arrayStart = arrayOffset + start;
    }

    /// <summary>True when this list comes from a null pointer (or is <c>default</c>).</summary>
    public bool IsNull => Message is null;
    /// <summary>Number of elements.</summary>
    public int Count => Length;
    /// <summary>The encoded element size.</summary>
    public ElementSize ElementSize => Size;
    /// <summary>For struct lists: data words per element.</summary>
    public int StructDataWords => StructDataBits / 64;
    /// <summary>For struct lists: pointers per element.</summary>
    public int StructPointerCount => StructPointers;

    internal ReadOnlySpan<byte> Seg
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Message!.Span(Segment);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal int ElementPos(int index) => Start + (int)(((long)index * StepBits) >> 3);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void CheckIndex(int index)
    {
        if ((uint)index >= (uint)Length) ThrowIndex();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowIndex() => throw new ArgumentOutOfRangeException("index");

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Incompatible(string msg) => throw new CapnpFormatException(msg);

    internal void Require(int expectedDataBits, int expectedPointers, bool expectBit)
    {
        if (Message is null) return;
        if (Size == ElementSize.InlineComposite)
        {
            if (expectBit) Incompatible("Found struct list where bit list was expected.");
            if (expectedDataBits > 0 && StructDataBits == 0) Incompatible("Expected a primitive list, but got a list of pointer-only structs.");
            if (expectedPointers > 0 && StructPointers == 0) Incompatible("Expected a pointer list, but got a list of data-only structs.");
            if (expectedDataBits > StructDataBits) Incompatible("Message contains list with incompatible element type.");
            return;
        }
        if (Size == ElementSize.Bit && !expectBit)
            Incompatible("Found bit list where a non-bit list was expected.");
        if (expectedDataBits > StructDataBits || expectedPointers > StructPointers)
            Incompatible("Message contains list with incompatible element type.");
    }

    /// <summary>Returns element <paramref name="index"/> as a struct (valid for struct lists and upgradable primitive/pointer lists; checked by <see cref="AsStructs{T}"/>).</summary>
    public StructReader GetStruct(int index)
    {
        CheckIndex(index);
        if (Size == ElementSize.Bit) Incompatible("Found bit list where struct list was expected; upgrading boolean lists to structs is not supported.");
        return StructAt(index);
    }

    /// <summary>
    /// <see cref="GetStruct"/> for a list already known not to be a bit list (<see cref="AsStructs{T}"/> checked it):
    /// as in C++, the list pointer was validated once, when read, so each element only needs its index checked.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal StructReader StructAt(int index)
    {
        CheckIndex(index);
        int delta = (int)(((long)index * StepBits) >> 3);
        return new StructReader(Message!, _array, _arrayStart + delta, Segment, Start + delta, StructDataBits, StructPointers, Nesting);
    }

    /// <summary>Reads a primitive element (first field of a struct element in upgraded lists).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public T GetPrimitive<T>(int index) where T : unmanaged
    {
        CheckIndex(index);
        if (Unsafe.SizeOf<T>() * 8 > StructDataBits) return default; // e.g. void lists / pointer-only structs
        int delta = (int)(((long)index * StepBits) >> 3);
        var array = _array;
        // The element lies within the list, which pointer validation placed within the segment and its array.
        if (array is not null)
            return Unsafe.ReadUnaligned<T>(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(array), (nint)(uint)(_arrayStart + delta)));
        return Wire.ReadUnaligned<T>(Seg, Start + delta);
    }

    /// <summary>Reads a Bool element.</summary>
    public bool GetBool(int index)
    {
        CheckIndex(index);
        if (StructDataBits == 0) return false;
        long bit = (long)index * StepBits;
        return ((Seg[Start + (int)(bit >> 3)] >> (int)(bit & 7)) & 1) != 0;
    }

    internal int PointerPos(int index) => ElementPos(index) + (StructDataBits >> 3);

    /// <summary>Returns an untyped view of the pointer element <paramref name="index"/> (first pointer of a struct element).</summary>
    public AnyPointerReader GetPointer(int index)
    {
        CheckIndex(index);
        if (StructPointers == 0) return default;
        return new AnyPointerReader(Message!, Segment, PointerPos(index), Nesting);
    }

    /// <summary>Reads list element <paramref name="index"/> (for List(List(T))).</summary>
    public ListReader GetList(int index)
    {
        CheckIndex(index);
        if (StructPointers == 0) return default;
        return Message!.ReadListPointer(Segment, PointerPos(index), Nesting);
    }

    /// <summary>Reads Text element <paramref name="index"/>.</summary>
    public string GetText(int index)
    {
        CheckIndex(index);
        if (StructPointers == 0) return "";
        var l = Message!.ReadListPointer(Segment, PointerPos(index), Nesting);
        return l.IsNull ? "" : l.AsText();
    }

    /// <summary>Reads Data element <paramref name="index"/> without copying.</summary>
    public ReadOnlyMemory<byte> GetData(int index)
    {
        CheckIndex(index);
        if (StructPointers == 0) return default;
        return Message!.ReadListPointer(Segment, PointerPos(index), Nesting).AsData();
    }

    // ------------------------------------------------------------------ Text / Data views

    /// <summary>This list as Text bytes (without the NUL). Throws if the list is not a NUL-terminated byte list.</summary>
    public ReadOnlySpan<byte> TextBytes()
    {
        if (Message is null) return default;
        if (Size != ElementSize.Byte) Incompatible("Message contains a non-byte list where Text was expected.");
        if (Length == 0) Incompatible("Message contains Text that is not NUL-terminated.");
        var s = Seg.Slice(Start, Length);
        if (s[^1] != 0) Incompatible("Message contains Text that is not NUL-terminated.");
        return s[..^1];
    }

    /// <summary>This list decoded as Text.</summary>
    public string AsText() => Message is null ? "" : Encoding.UTF8.GetString(TextBytes());

    /// <summary>This list as Data, without copying.</summary>
    public ReadOnlyMemory<byte> AsData()
    {
        if (Message is null) return ReadOnlyMemory<byte>.Empty;
        if (Size != ElementSize.Byte) Incompatible("Message contains a non-byte list where Data was expected.");
        return Message.SegmentMemory(Segment).Slice(Start, Length);
    }

    /// <summary>The raw bytes of the list body (for primitive lists).</summary>
    public ReadOnlySpan<byte> RawBytes => Message is null ? default : Seg.Slice(Start, (int)(((long)Length * StepBits + 7) >> 3));

    // ------------------------------------------------------------------ typed views

    /// <summary>View as a list of primitives (T of size 1, 2, 4 or 8 bytes).</summary>
    public ListOfPrimitivesReader<T> AsPrimitives<T>() where T : unmanaged
    {
        int size = Unsafe.SizeOf<T>();
        if (size is not (1 or 2 or 4 or 8)) throw new ArgumentException("Element type must be 1, 2, 4 or 8 bytes.");
        Require(size * 8, 0, false);
        return new ListOfPrimitivesReader<T>(this);
    }

    /// <summary>View as a List(Bool).</summary>
    public ListOfBitsReader AsBits() { Require(1, 0, true); return new ListOfBitsReader(this); }

    /// <summary>View as a list of enums (16-bit).</summary>
    public ListOfEnumsReader<TEnum> AsEnums<TEnum>() where TEnum : unmanaged, Enum
    {
        if (Unsafe.SizeOf<TEnum>() != 2) throw new ArgumentException("Enum must be 16 bits wide.");
        Require(16, 0, false);
        return new ListOfEnumsReader<TEnum>(this);
    }

    /// <summary>View as a list of structs.</summary>
    public ListOfStructsReader<T> AsStructs<T>() where T : struct, IStructReader<T>
    {
        RequireStructs();
        return new ListOfStructsReader<T>(this);
    }

    /// <summary>View as a list of raw structs.</summary>
    public ListOfStructsReader<StructReaderWrapper> AsStructs() => AsStructs<StructReaderWrapper>();

    internal void RequireStructs()
    {
        if (Message is not null && Size == ElementSize.Bit)
            Incompatible("Found bit list where struct list was expected; upgrading boolean lists to structs is not supported.");
    }

    /// <summary>View as a List(Text).</summary>
    public ListOfTextReader AsTextList() { Require(0, 1, false); return new ListOfTextReader(this); }
    /// <summary>View as a List(Data).</summary>
    public ListOfDataReader AsDataList() { Require(0, 1, false); return new ListOfDataReader(this); }
    /// <summary>View as a List(List(...)).</summary>
    public ListOfListsReader AsLists() { Require(0, 1, false); return new ListOfListsReader(this); }
    /// <summary>View as a List(List(...)) whose inner lists are read as <typeparamref name="TInner"/>.</summary>
    public ListOfListsReader<TInner> AsLists<TInner>() where TInner : struct, IListReader<TInner> { Require(0, 1, false); return new ListOfListsReader<TInner>(this); }
    /// <summary>View as a list of capabilities.</summary>
    public ListOfCapabilitiesReader AsCapabilities() { Require(0, 1, false); return new ListOfCapabilitiesReader(this); }
    /// <summary>View as a list of untyped pointers (List(AnyPointer)).</summary>
    public ListOfPointersReader AsPointers() { Require(0, 1, false); return new ListOfPointersReader(this); }

    /// <inheritdoc/>
    public override string ToString() => IsNull ? "(null list)" : $"(list {Size} x {Length})";
}

/// <summary>Trivial <see cref="IStructReader{TSelf}"/> over a raw <see cref="StructReader"/>.</summary>
public readonly struct StructReaderWrapper : IStructReader<StructReaderWrapper>
{
    private readonly StructReader _r;
    private StructReaderWrapper(StructReader r) => _r = r;
    /// <inheritdoc/>
    public static StructReaderWrapper Create(StructReader reader) => new(reader);
    /// <inheritdoc/>
    public StructReader Raw => _r;
    /// <summary>Implicit conversion to the raw reader.</summary>
    public static implicit operator StructReader(StructReaderWrapper w) => w._r;
}

/// <summary>Untyped view of a pointer (AnyPointer). <c>default</c> is the null pointer.</summary>
public readonly struct AnyPointerReader
{
    internal readonly MessageReader? Message;
    internal readonly int Segment;
    internal readonly int Position;
    internal readonly int Nesting;

    internal AnyPointerReader(MessageReader message, int segment, int position, int nesting)
    {
        Message = message; Segment = segment; Position = position; Nesting = nesting;
    }

    /// <summary>The kind of pointer (following far pointers).</summary>
    public PointerKind Kind
    {
        get
        {
            if (Message is null) return PointerKind.Null;
            if (!Message.Resolve(Segment, Position, out ulong tag, out _, out _)) return PointerKind.Null;
            return (tag & 3) switch
            {
                0 => PointerKind.Struct,
                1 => PointerKind.List,
                3 when (uint)tag == 3 => PointerKind.Capability,
                _ => throw new CapnpFormatException("Message contains an unknown pointer type."),
            };
        }
    }

    /// <summary>True when null.</summary>
    public bool IsNull => Message is null || Wire.ReadWord(Message.Span(Segment), Position) == 0;
    /// <summary>True when the pointer is a struct pointer.</summary>
    public bool IsStruct => Kind == PointerKind.Struct;
    /// <summary>True when the pointer is a list pointer.</summary>
    public bool IsList => Kind == PointerKind.List;
    /// <summary>True when the pointer is a capability pointer.</summary>
    public bool IsCapability => Kind == PointerKind.Capability;

    /// <summary>Reads as a struct (AnyStruct).</summary>
    public StructReader AsStruct() => Message is null ? default : Message.ReadStructPointer(Segment, Position, Nesting);
    /// <summary>Reads as a generated struct type.</summary>
    public T GetAs<T>() where T : struct, IStructReader<T> => T.Create(AsStruct());
    /// <summary>Reads as a list (AnyList).</summary>
    public ListReader AsList() => Message is null ? default : Message.ReadListPointer(Segment, Position, Nesting);
    /// <summary>Reads as Text.</summary>
    public string AsText() => AsList().AsText();
    /// <summary>Reads as Text bytes.</summary>
    public ReadOnlySpan<byte> AsTextBytes() => AsList().TextBytes();
    /// <summary>Reads as Data (no copy).</summary>
    public ReadOnlyMemory<byte> AsData() => AsList().AsData();
    /// <summary>Reads as a capability index; null when the pointer is null.</summary>
    public uint? AsCapabilityIndex() => Message is null ? null : Message.ReadCapPointer(Segment, Position);

    /// <inheritdoc/>
    public override string ToString() => $"(pointer {Kind})";
}
