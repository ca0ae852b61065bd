using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Capnp.Native.Serialization;

/// <summary>Untyped list being built. Use the typed wrappers (<c>As...</c>) for convenience.</summary>
public readonly struct ListBuilder
{
    internal readonly MessageBuilder Message;
    internal readonly int Segment;
    internal readonly int Start;
    internal readonly int Length;
    internal readonly int StepBits;
    internal readonly ushort StructData;
    internal readonly ushort StructPointers;
    internal readonly ElementSize Size;

    internal ListBuilder(MessageBuilder message, int segment, int start, int count, int stepBits, ushort structDataWords, ushort structPointers, ElementSize size)
    {
        Message = message; Segment = segment; Start = start; Length = count; StepBits = stepBits;
        StructData = structDataWords; StructPointers = structPointers; Size = size;
    }

    /// <summary>True for <c>default(ListBuilder)</c> (e.g. <see cref="StructBuilder.GetList"/> on a null pointer).</summary>
    public bool IsNull => Message is null;
    /// <summary>Number of elements.</summary>
    public int Count => Length;
    /// <summary>Element size.</summary>
    public ElementSize ElementSize => Size;

    private byte[] Buf => Message.Buffers[Segment];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Pos(int index)
    {
        if ((uint)index >= (uint)Length) ThrowIndex();
        return Start + (int)(((long)index * StepBits) >> 3);
    }

    // Throws out of line, so that element access inlines.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowIndex() => throw new ArgumentOutOfRangeException("index");

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowNotStructList() => throw new InvalidOperationException("Not a struct list.");

    private void RequireData(int bytes)
    {
        if (Size == ElementSize.InlineComposite ? StructData == 0 : StepBits < bytes * 8 || Size == ElementSize.Pointer)
            throw new InvalidOperationException("List element size does not match the requested element type.");
    }

    /// <summary>Sets a primitive element (1, 2, 4 or 8 bytes).</summary>
    public void Set<T>(int index, T value) where T : unmanaged
    {
        int p = Pos(index);
        RequireData(Unsafe.SizeOf<T>());
        Wire.WriteUnaligned(Buf, p, value);
    }

    /// <summary>Gets a primitive element.</summary>
    public T Get<T>(int index) where T : unmanaged
    {
        int p = Pos(index);
        RequireData(Unsafe.SizeOf<T>());
        return Wire.ReadUnaligned<T>(Buf, p);
    }

    /// <summary>Sets a Bool element.</summary>
    public void SetBool(int index, bool value)
    {
        if ((uint)index >= (uint)Length) throw new ArgumentOutOfRangeException(nameof(index));
        if (Size != ElementSize.Bit) throw new InvalidOperationException("Not a bit list.");
        ref byte b = ref Buf[Start + (index >> 3)];
        int mask = 1 << (index & 7);
        b = value ? (byte)(b | mask) : (byte)(b & ~mask);
    }

    /// <summary>Gets a Bool element.</summary>
    public bool GetBool(int index)
    {
        if ((uint)index >= (uint)Length) throw new ArgumentOutOfRangeException(nameof(index));
        if (Size != ElementSize.Bit) throw new InvalidOperationException("Not a bit list.");
        return ((Buf[Start + (index >> 3)] >> (index & 7)) & 1) != 0;
    }

    /// <summary>The element bytes of a primitive list, writable in place.</summary>
    public Span<byte> RawBytes => Message is null ? default : Buf.AsSpan(Start, (int)(((long)Length * StepBits + 7) >> 3));

    /// <summary>Elements of a primitive list as a writable span (element size must equal sizeof(T)).</summary>
    public Span<T> AsSpan<T>() where T : unmanaged
    {
        if (Message is null) return default;
        if (Size == ElementSize.InlineComposite || Size == ElementSize.Pointer || StepBits != Unsafe.SizeOf<T>() * 8)
            throw new InvalidOperationException("List element size does not match the requested element type.");
        return MemoryMarshal.Cast<byte, T>(Buf.AsSpan(Start, Length * Unsafe.SizeOf<T>()));
    }

    /// <summary>Struct element <paramref name="index"/> of a struct list.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public StructBuilder GetStruct(int index)
    {
        int p = Pos(index);
        if (Size != ElementSize.InlineComposite) ThrowNotStructList();
        return new StructBuilder(Message, Segment, p, StructData, StructPointers);
    }

    /// <summary>Pointer element <paramref name="index"/> (first pointer of a struct element).</summary>
    public AnyPointerBuilder GetPointer(int index)
    {
        int p = Pos(index);
        if (StructPointers == 0) throw new InvalidOperationException("List has no pointers.");
        return new AnyPointerBuilder(Message, Segment, p + StructData * 8 * (Size == ElementSize.InlineComposite ? 1 : 0));
    }

    /// <summary>A reader over this list (no copy).</summary>
    public ListReader AsReader()
    {
        if (Message is null) return default;
        int dataBits = Size == ElementSize.InlineComposite ? StructData * 64 : (Size == ElementSize.Pointer ? 0 : StepBits);
        return new ListReader(Message.ReaderView, Segment, Start, Length, StepBits, dataBits, StructPointers, Size, int.MaxValue);
    }

    /// <summary>Typed view: primitives.</summary>
    public ListOfPrimitivesBuilder<T> AsPrimitives<T>() where T : unmanaged => new(this);
    /// <summary>Typed view: bools.</summary>
    public ListOfBitsBuilder AsBits() => new(this);
    /// <summary>Typed view: enums.</summary>
    public ListOfEnumsBuilder<TEnum> AsEnums<TEnum>() where TEnum : unmanaged, Enum => new(this);
    /// <summary>Typed view: structs.</summary>
    public ListOfStructsBuilder<T> AsStructs<T>() where T : IStructBuilder<T> => new(this);
    /// <summary>Typed view: Text.</summary>
    public ListOfTextBuilder AsTextList() => new(this);
    /// <summary>Typed view: Data.</summary>
    public ListOfDataBuilder AsDataList() => new(this);
    /// <summary>Typed view: lists.</summary>
    public ListOfListsBuilder AsLists() => new(this);
    /// <summary>Typed view: lists whose inner lists are <typeparamref name="TInner"/>.</summary>
    public ListOfListsBuilder<TInner> AsLists<TInner>() where TInner : struct, IListBuilder<TInner> => new(this);
    /// <summary>Typed view: capabilities.</summary>
    public ListOfCapabilitiesBuilder AsCapabilities() => new(this);
    /// <summary>Typed view: any pointers.</summary>
    public ListOfPointersBuilder AsPointers() => new(this);
}

/// <summary>List of primitives being built.</summary>
public readonly struct ListOfPrimitivesBuilder<T> : IListBuilder<ListOfPrimitivesBuilder<T>> where T : unmanaged
{
    /// <summary>The untyped list.</summary>
    public ListBuilder Raw { get; }
    /// <summary>Allocates a list of <paramref name="count"/> elements at <paramref name="pointer"/>.</summary>
    public static ListOfPrimitivesBuilder<T> Init(AnyPointerBuilder pointer, int count) => new(pointer.InitList(SizeOf(), count));
    private static ElementSize SizeOf() => Unsafe.SizeOf<T>() switch
    {
        1 => ElementSize.Byte,
        2 => ElementSize.TwoBytes,
        4 => ElementSize.FourBytes,
        8 => ElementSize.EightBytes,
        _ => throw new ArgumentException("Element type must be 1, 2, 4 or 8 bytes."),
    };
    /// <summary>The list at <paramref name="pointer"/> (<c>default</c> when null).</summary>
    public static ListOfPrimitivesBuilder<T> Get(AnyPointerBuilder pointer) => new(pointer.GetList());
    /// <summary>Wraps an untyped list.</summary>
    public ListOfPrimitivesBuilder(ListBuilder raw) => Raw = raw;
    /// <summary>Number of elements.</summary>
    public int Count => Raw.Count;
    /// <summary>Gets or sets an element.</summary>
    public T this[int index] { get => Raw.Get<T>(index); set => Raw.Set(index, value); }
    /// <summary>Writable span over the elements.</summary>
    public Span<T> AsSpan() => Raw.AsSpan<T>();
    /// <summary>A reader over the list.</summary>
    public ListOfPrimitivesReader<T> AsReader() => Raw.AsReader().AsPrimitives<T>();
}

/// <summary>List(Bool) being built.</summary>
public readonly struct ListOfBitsBuilder : IListBuilder<ListOfBitsBuilder>
{
    /// <summary>The untyped list.</summary>
    public ListBuilder Raw { get; }
    /// <summary>Allocates a list of <paramref name="count"/> elements at <paramref name="pointer"/>.</summary>
    public static ListOfBitsBuilder Init(AnyPointerBuilder pointer, int count) => new(pointer.InitList(ElementSize.Bit, count));
    /// <summary>The list at <paramref name="pointer"/> (<c>default</c> when null).</summary>
    public static ListOfBitsBuilder Get(AnyPointerBuilder pointer) => new(pointer.GetList());
    /// <summary>Wraps an untyped list.</summary>
    public ListOfBitsBuilder(ListBuilder raw) => Raw = raw;
    /// <summary>Number of elements.</summary>
    public int Count => Raw.Count;
    /// <summary>Gets or sets an element.</summary>
    public bool this[int index] { get => Raw.GetBool(index); set => Raw.SetBool(index, value); }
}

/// <summary>List of 16-bit enums being built.</summary>
public readonly struct ListOfEnumsBuilder<TEnum> : IListBuilder<ListOfEnumsBuilder<TEnum>> where TEnum : unmanaged, Enum
{
    /// <summary>The untyped list.</summary>
    public ListBuilder Raw { get; }
    /// <summary>Allocates a list of <paramref name="count"/> elements at <paramref name="pointer"/>.</summary>
    public static ListOfEnumsBuilder<TEnum> Init(AnyPointerBuilder pointer, int count) => new(pointer.InitList(ElementSize.TwoBytes, count));
    /// <summary>The list at <paramref name="pointer"/> (<c>default</c> when null).</summary>
    public static ListOfEnumsBuilder<TEnum> Get(AnyPointerBuilder pointer) => new(pointer.GetList());
    /// <summary>Wraps an untyped list.</summary>
    public ListOfEnumsBuilder(ListBuilder raw) => Raw = raw;
    /// <summary>Number of elements.</summary>
    public int Count => Raw.Count;
    /// <summary>Gets or sets an element.</summary>
    public TEnum this[int index]
    {
        get { ushort v = Raw.Get<ushort>(index); return Unsafe.As<ushort, TEnum>(ref v); }
        set => Raw.Set(index, Unsafe.As<TEnum, ushort>(ref value));
    }
}

/// <summary>List of structs being built; the indexer returns the element builder.</summary>
/// <remarks>Not a <c>readonly</c> struct: it holds the slot its indexer returns a reference to, so that
/// <c>list[0].X = 1</c> compiles (a builder returned by value is a temporary: CS1612). For a local list the slot is
/// on the caller's stack: no thread-local storage and no GC write barrier, and a loop over the elements stays as
/// fast as with a by-value indexer (a per-thread slot, <see cref="BuilderSlot{T}"/>, made BuildList1000 2.8x C++).
/// Indexing a list held by a <c>ref readonly</c> (a generated getter's result, an <c>in</c> parameter, a
/// <c>readonly</c> field) indexes a copy the compiler makes, with its own slot.</remarks>
public struct ListOfStructsBuilder<T> : IListBuilder<ListOfStructsBuilder<T>> where T : IStructBuilder<T>
{
    private readonly ListBuilder _raw;
    private T _element; // the indexer's slot: lives in this value, so on the caller's stack for a local list

    /// <summary>The untyped list.</summary>
    public readonly ListBuilder Raw => _raw;
    /// <summary>Allocates a list of <paramref name="count"/> elements at <paramref name="pointer"/>.</summary>
    public static ListOfStructsBuilder<T> Init(AnyPointerBuilder pointer, int count) => new(pointer.InitStructList(count, T.DataWords, T.PointerCount));
    /// <summary>The list at <paramref name="pointer"/> (<c>default</c> when null).</summary>
    public static ListOfStructsBuilder<T> Get(AnyPointerBuilder pointer) => pointer.GetStructList<T>();
    /// <summary>Wraps an untyped list.</summary>
    public ListOfStructsBuilder(ListBuilder raw) { _raw = raw; _element = default!; }
    /// <summary>Number of elements.</summary>
    public readonly int Count => _raw.Count;
    /// <summary>The element builder: <c>list[0].X = 1</c> writes the message.</summary>
    /// <remarks>The reference designates this list value's slot: it is valid until the next indexer call on the same
    /// list value (a <c>ref readonly</c> local kept across <c>list[1]</c> then designates element 1). A copy
    /// (<c>var e = list[0];</c>) is always valid.</remarks>
    [System.Diagnostics.CodeAnalysis.UnscopedRef]
    public ref readonly T this[int index]
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get { _element = T.Create(_raw.GetStruct(index)); return ref _element; }
    }
}

/// <summary>List(Text) being built.</summary>
public readonly struct ListOfTextBuilder : IListBuilder<ListOfTextBuilder>
{
    /// <summary>The untyped list.</summary>
    public ListBuilder Raw { get; }
    /// <summary>Allocates a list of <paramref name="count"/> elements at <paramref name="pointer"/>.</summary>
    public static ListOfTextBuilder Init(AnyPointerBuilder pointer, int count) => new(pointer.InitList(ElementSize.Pointer, count));
    /// <summary>The list at <paramref name="pointer"/> (<c>default</c> when null).</summary>
    public static ListOfTextBuilder Get(AnyPointerBuilder pointer) => new(pointer.GetList());
    /// <summary>Wraps an untyped list.</summary>
    public ListOfTextBuilder(ListBuilder raw) => Raw = raw;
    /// <summary>Number of elements.</summary>
    public int Count => Raw.Count;
    /// <summary>Gets or sets an element (null clears it).</summary>
    public string? this[int index]
    {
        get { var p = Raw.GetPointer(index); return p.IsNull ? null : p.AsReader().AsText(); }
        set => Raw.GetPointer(index).SetText(value);
    }
}

/// <summary>List(Data) being built.</summary>
public readonly struct ListOfDataBuilder : IListBuilder<ListOfDataBuilder>
{
    /// <summary>The untyped list.</summary>
    public ListBuilder Raw { get; }
    /// <summary>Allocates a list of <paramref name="count"/> elements at <paramref name="pointer"/>.</summary>
    public static ListOfDataBuilder Init(AnyPointerBuilder pointer, int count) => new(pointer.InitList(ElementSize.Pointer, count));
    /// <summary>The list at <paramref name="pointer"/> (<c>default</c> when null).</summary>
    public static ListOfDataBuilder Get(AnyPointerBuilder pointer) => new(pointer.GetList());
    /// <summary>Wraps an untyped list.</summary>
    public ListOfDataBuilder(ListBuilder raw) => Raw = raw;
    /// <summary>Number of elements.</summary>
    public int Count => Raw.Count;
    /// <summary>Gets (no copy) or sets (copy) an element.</summary>
    public ReadOnlyMemory<byte> this[int index]
    {
        get => Raw.GetPointer(index).AsReader().AsData();
        set => Raw.GetPointer(index).SetData(value.Span);
    }
}

/// <summary>List(List(...)) being built.</summary>
public readonly struct ListOfListsBuilder : IListBuilder<ListOfListsBuilder>
{
    /// <summary>The untyped list.</summary>
    public ListBuilder Raw { get; }
    /// <summary>Allocates a list of <paramref name="count"/> elements at <paramref name="pointer"/>.</summary>
    public static ListOfListsBuilder Init(AnyPointerBuilder pointer, int count) => new(pointer.InitList(ElementSize.Pointer, count));
    /// <summary>The list at <paramref name="pointer"/> (<c>default</c> when null).</summary>
    public static ListOfListsBuilder Get(AnyPointerBuilder pointer) => new(pointer.GetList());
    /// <summary>Wraps an untyped list.</summary>
    public ListOfListsBuilder(ListBuilder raw) => Raw = raw;
    /// <summary>Number of elements.</summary>
    public int Count => Raw.Count;
    /// <summary>The existing inner list (default when null).</summary>
    public ListBuilder this[int index] => Raw.GetPointer(index).GetList();
    /// <summary>Allocates inner list <paramref name="index"/>.</summary>
    public ListBuilder Init(int index, ElementSize size, int count) => Raw.GetPointer(index).InitList(size, count);
    /// <summary>Allocates inner struct list <paramref name="index"/>.</summary>
    public ListBuilder InitStructList(int index, int count, ushort dataWords, ushort pointerCount) => Raw.GetPointer(index).InitStructList(count, dataWords, pointerCount);
}

/// <summary>List of capabilities being built (elements are cap-table indices).</summary>
public readonly struct ListOfCapabilitiesBuilder : IListBuilder<ListOfCapabilitiesBuilder>
{
    /// <summary>The untyped list.</summary>
    public ListBuilder Raw { get; }
    /// <summary>Allocates a list of <paramref name="count"/> elements at <paramref name="pointer"/>.</summary>
    public static ListOfCapabilitiesBuilder Init(AnyPointerBuilder pointer, int count) => new(pointer.InitList(ElementSize.Pointer, count));
    /// <summary>The list at <paramref name="pointer"/> (<c>default</c> when null).</summary>
    public static ListOfCapabilitiesBuilder Get(AnyPointerBuilder pointer) => new(pointer.GetList());
    /// <summary>Wraps an untyped list.</summary>
    public ListOfCapabilitiesBuilder(ListBuilder raw) => Raw = raw;
    /// <summary>Number of elements.</summary>
    public int Count => Raw.Count;
    /// <summary>Gets or sets a cap-table index (<see cref="ListOfCapabilitiesReader.NullIndex"/> for null).</summary>
    public uint this[int index]
    {
        get => Raw.GetPointer(index).AsReader().AsCapabilityIndex() ?? ListOfCapabilitiesReader.NullIndex;
        set { var p = Raw.GetPointer(index); if (value == ListOfCapabilitiesReader.NullIndex) p.Clear(); else p.SetCapabilityIndex(value); }
    }
}

/// <summary>List(AnyPointer) being built.</summary>
public readonly struct ListOfPointersBuilder : IListBuilder<ListOfPointersBuilder>
{
    /// <summary>The untyped list.</summary>
    public ListBuilder Raw { get; }
    /// <summary>Allocates a list of <paramref name="count"/> elements at <paramref name="pointer"/>.</summary>
    public static ListOfPointersBuilder Init(AnyPointerBuilder pointer, int count) => new(pointer.InitList(ElementSize.Pointer, count));
    /// <summary>The list at <paramref name="pointer"/> (<c>default</c> when null).</summary>
    public static ListOfPointersBuilder Get(AnyPointerBuilder pointer) => new(pointer.GetList());
    /// <summary>Wraps an untyped list.</summary>
    public ListOfPointersBuilder(ListBuilder raw) => Raw = raw;
    /// <summary>Number of elements.</summary>
    public int Count => Raw.Count;
    /// <summary>Pointer element <paramref name="index"/>.</summary>
    public AnyPointerBuilder this[int index] => Raw.GetPointer(index);
}

/// <summary>List(List(...)) being built, whose inner lists are typed (<c>List(List(Text))</c> → <c>ListOfListsBuilder&lt;ListOfTextBuilder&gt;</c>).</summary>
/// <typeparam name="TInner">The typed builder of the inner lists.</typeparam>
public struct ListOfListsBuilder<TInner> : IListBuilder<ListOfListsBuilder<TInner>> where TInner : struct, IListBuilder<TInner>
{
    private readonly ListBuilder _raw;
    private TInner _element; // the indexer's slot, as in ListOfStructsBuilder<T>

    /// <summary>The untyped list.</summary>
    public readonly ListBuilder Raw => _raw;
    /// <summary>Wraps an untyped list.</summary>
    public ListOfListsBuilder(ListBuilder raw) { _raw = raw; _element = default; }
    /// <summary>Allocates a list of <paramref name="count"/> inner lists at <paramref name="pointer"/>.</summary>
    public static ListOfListsBuilder<TInner> Init(AnyPointerBuilder pointer, int count) => new(pointer.InitList(ElementSize.Pointer, count));
    /// <summary>The list at <paramref name="pointer"/> (<c>default</c> when null).</summary>
    public static ListOfListsBuilder<TInner> Get(AnyPointerBuilder pointer) => new(pointer.GetList());
    /// <summary>Number of elements.</summary>
    public readonly int Count => _raw.Count;
    /// <summary>The existing inner list <paramref name="index"/> (<c>default</c> when null): <c>lists[0][1] = 5</c>
    /// and <c>lists[0][1].X = 1</c> write the message. The reference is valid until the next indexer call on the same
    /// list value, as for <see cref="ListOfStructsBuilder{T}"/>'s indexer; a copy is always valid.</summary>
    [System.Diagnostics.CodeAnalysis.UnscopedRef]
    public ref readonly TInner this[int index]
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get { _element = TInner.Get(_raw.GetPointer(index)); return ref _element; }
    }
    /// <summary>Allocates inner list <paramref name="index"/> with <paramref name="count"/> elements (replacing any previous one).</summary>
    public readonly TInner Init(int index, int count) => TInner.Init(_raw.GetPointer(index), count);
    /// <summary>A reader over the list.</summary>
    public readonly ListOfListsReader<TReader> AsReader<TReader>() where TReader : struct, IListReader<TReader> => _raw.AsReader().AsLists<TReader>();
}
