using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Capnp.Native.Serialization;

/// <summary>List of primitive values (Int8..Float64 etc.).</summary>
public readonly struct ListOfPrimitivesReader<T> : IReadOnlyList<T>, IListReader<ListOfPrimitivesReader<T>> where T : unmanaged
{
    private readonly ListReader _list;
    internal ListOfPrimitivesReader(ListReader list) => _list = list;
    /// <summary>The untyped list.</summary>
    public ListReader Raw => _list;
    /// <summary>The typed view of <paramref name="list"/> (checks its element size, as <see cref="ListReader.AsPrimitives"/> does).</summary>
    public static ListOfPrimitivesReader<T> Create(ListReader list) => list.AsPrimitives<T>();
    /// <summary>True when the list pointer was null.</summary>
    public bool IsNull => _list.IsNull;
    /// <summary>Number of elements.</summary>
    public int Count => _list.Count;
    /// <summary>Element <paramref name="index"/>.</summary>
    public T this[int index] => _list.GetPrimitive<T>(index);
    /// <summary>Returns a struct enumerator.</summary>
    public Enumerator GetEnumerator() => new(this);
    IEnumerator<T> IEnumerable<T>.GetEnumerator() => GetEnumerator();
    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    /// <summary>The elements as a span when the list is a plain primitive list of exactly this element size (no copy); otherwise false.</summary>
    public bool TryGetSpan(out ReadOnlySpan<T> span)
    {
        if (_list.IsNull) { span = default; return true; }
        if (_list.StepBits != Unsafe.SizeOf<T>() * 8 || _list.ElementSize == ElementSize.InlineComposite) { span = default; return false; }
        span = MemoryMarshal.Cast<byte, T>(_list.Seg.Slice(_list.Start, _list.Count * Unsafe.SizeOf<T>()));
        return true;
    }
    /// <summary>Copies the elements into a new array.</summary>
    public T[] ToArray() { var a = new T[Count]; for (int i = 0; i < a.Length; i++) a[i] = this[i]; return a; }

    /// <summary>Allocation-free enumerator.</summary>
    public struct Enumerator : IEnumerator<T>
    {
        private readonly ListOfPrimitivesReader<T> _l;
        private int _i;
        internal Enumerator(ListOfPrimitivesReader<T> l) { _l = l; _i = -1; }
        /// <inheritdoc/>
        public bool MoveNext() => ++_i < _l.Count;
        /// <inheritdoc/>
        public readonly T Current => _l[_i];
        readonly object System.Collections.IEnumerator.Current => Current!;
        /// <inheritdoc/>
        public void Reset() => _i = -1;
        /// <inheritdoc/>
        public readonly void Dispose() { }
    }
}

/// <summary>List(Bool).</summary>
public readonly struct ListOfBitsReader : IReadOnlyList<bool>, IListReader<ListOfBitsReader>
{
    private readonly ListReader _list;
    internal ListOfBitsReader(ListReader list) => _list = list;
    /// <summary>The untyped list.</summary>
    public ListReader Raw => _list;
    /// <summary>The typed view of <paramref name="list"/> (checks its element size, as <see cref="ListReader.AsBits"/> does).</summary>
    public static ListOfBitsReader Create(ListReader list) => list.AsBits();
    /// <summary>True when the list pointer was null.</summary>
    public bool IsNull => _list.IsNull;
    /// <summary>Number of elements.</summary>
    public int Count => _list.Count;
    /// <summary>Element <paramref name="index"/>.</summary>
    public bool this[int index] => _list.GetBool(index);
    /// <summary>Returns a struct enumerator.</summary>
    public Enumerator GetEnumerator() => new(this);
    IEnumerator<bool> IEnumerable<bool>.GetEnumerator() => GetEnumerator();
    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Allocation-free enumerator.</summary>
    public struct Enumerator : IEnumerator<bool>
    {
        private readonly ListOfBitsReader _l;
        private int _i;
        internal Enumerator(ListOfBitsReader l) { _l = l; _i = -1; }
        /// <inheritdoc/>
        public bool MoveNext() => ++_i < _l.Count;
        /// <inheritdoc/>
        public readonly bool Current => _l[_i];
        readonly object System.Collections.IEnumerator.Current => Current!;
        /// <inheritdoc/>
        public void Reset() => _i = -1;
        /// <inheritdoc/>
        public readonly void Dispose() { }
    }
}

/// <summary>List of 16-bit enums.</summary>
public readonly struct ListOfEnumsReader<TEnum> : IReadOnlyList<TEnum>, IListReader<ListOfEnumsReader<TEnum>> where TEnum : unmanaged, Enum
{
    private readonly ListReader _list;
    internal ListOfEnumsReader(ListReader list) => _list = list;
    /// <summary>The untyped list.</summary>
    public ListReader Raw => _list;
    /// <summary>The typed view of <paramref name="list"/> (checks its element size, as <see cref="ListReader.AsEnums"/> does).</summary>
    public static ListOfEnumsReader<TEnum> Create(ListReader list) => list.AsEnums<TEnum>();
    /// <summary>True when the list pointer was null.</summary>
    public bool IsNull => _list.IsNull;
    /// <summary>Number of elements.</summary>
    public int Count => _list.Count;
    /// <summary>Element <paramref name="index"/>.</summary>
    public TEnum this[int index] => ReadEnum(index);
    /// <summary>Returns a struct enumerator.</summary>
    public Enumerator GetEnumerator() => new(this);
    IEnumerator<TEnum> IEnumerable<TEnum>.GetEnumerator() => GetEnumerator();
    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    private TEnum ReadEnum(int index) { ushort v = _list.GetPrimitive<ushort>(index); return Unsafe.As<ushort, TEnum>(ref v); }

    /// <summary>Allocation-free enumerator.</summary>
    public struct Enumerator : IEnumerator<TEnum>
    {
        private readonly ListOfEnumsReader<TEnum> _l;
        private int _i;
        internal Enumerator(ListOfEnumsReader<TEnum> l) { _l = l; _i = -1; }
        /// <inheritdoc/>
        public bool MoveNext() => ++_i < _l.Count;
        /// <inheritdoc/>
        public readonly TEnum Current => _l[_i];
        readonly object System.Collections.IEnumerator.Current => Current!;
        /// <inheritdoc/>
        public void Reset() => _i = -1;
        /// <inheritdoc/>
        public readonly void Dispose() { }
    }
}

/// <summary>List of structs.</summary>
public readonly struct ListOfStructsReader<T> : IReadOnlyList<T>, IListReader<ListOfStructsReader<T>> where T : struct, IStructReader<T>
{
    private readonly ListReader _list;
    internal ListOfStructsReader(ListReader list) => _list = list;
    /// <summary>The untyped list.</summary>
    public ListReader Raw => _list;
    /// <summary>The typed view of <paramref name="list"/> (checks its element size, as <see cref="ListReader.AsStructs"/> does).</summary>
    public static ListOfStructsReader<T> Create(ListReader list) => list.AsStructs<T>();
    /// <summary>True when the list pointer was null.</summary>
    public bool IsNull => _list.IsNull;
    /// <summary>Number of elements.</summary>
    public int Count => _list.Count;
    /// <summary>Element <paramref name="index"/>.</summary>
    public T this[int index]
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => T.Create(_list.StructAt(index));
    }
    /// <summary>Returns a struct enumerator.</summary>
    public Enumerator GetEnumerator() => new(this);
    IEnumerator<T> IEnumerable<T>.GetEnumerator() => GetEnumerator();
    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Allocation-free enumerator.</summary>
    public struct Enumerator : IEnumerator<T>
    {
        private readonly ListOfStructsReader<T> _l;
        private int _i;
        internal Enumerator(ListOfStructsReader<T> l) { _l = l; _i = -1; }
        /// <inheritdoc/>
        public bool MoveNext() => ++_i < _l.Count;
        /// <inheritdoc/>
        public readonly T Current => _l[_i];
        readonly object System.Collections.IEnumerator.Current => Current!;
        /// <inheritdoc/>
        public void Reset() => _i = -1;
        /// <inheritdoc/>
        public readonly void Dispose() { }
    }
}

/// <summary>List(Text).</summary>
public readonly struct ListOfTextReader : IReadOnlyList<string>, IListReader<ListOfTextReader>
{
    private readonly ListReader _list;
    internal ListOfTextReader(ListReader list) => _list = list;
    /// <summary>The untyped list.</summary>
    public ListReader Raw => _list;
    /// <summary>The typed view of <paramref name="list"/> (checks its element size, as <see cref="ListReader.AsTextList"/> does).</summary>
    public static ListOfTextReader Create(ListReader list) => list.AsTextList();
    /// <summary>True when the list pointer was null.</summary>
    public bool IsNull => _list.IsNull;
    /// <summary>Number of elements.</summary>
    public int Count => _list.Count;
    /// <summary>Element <paramref name="index"/>.</summary>
    public string this[int index] => _list.GetText(index);
    /// <summary>Returns a struct enumerator.</summary>
    public Enumerator GetEnumerator() => new(this);
    IEnumerator<string> IEnumerable<string>.GetEnumerator() => GetEnumerator();
    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    /// <summary>Element <paramref name="index"/> as UTF-8 bytes without the NUL.</summary>
    public ReadOnlySpan<byte> GetBytes(int index) { _list.CheckIndex(index); return _list.StructPointers == 0 ? default : _list.Message!.ReadTextBytes(_list.Segment, _list.PointerPos(index), _list.Nesting); }

    /// <summary>Allocation-free enumerator.</summary>
    public struct Enumerator : IEnumerator<string>
    {
        private readonly ListOfTextReader _l;
        private int _i;
        internal Enumerator(ListOfTextReader l) { _l = l; _i = -1; }
        /// <inheritdoc/>
        public bool MoveNext() => ++_i < _l.Count;
        /// <inheritdoc/>
        public readonly string Current => _l[_i];
        readonly object System.Collections.IEnumerator.Current => Current!;
        /// <inheritdoc/>
        public void Reset() => _i = -1;
        /// <inheritdoc/>
        public readonly void Dispose() { }
    }
}

/// <summary>List(Data).</summary>
public readonly struct ListOfDataReader : IReadOnlyList<ReadOnlyMemory<byte>>, IListReader<ListOfDataReader>
{
    private readonly ListReader _list;
    internal ListOfDataReader(ListReader list) => _list = list;
    /// <summary>The untyped list.</summary>
    public ListReader Raw => _list;
    /// <summary>The typed view of <paramref name="list"/> (checks its element size, as <see cref="ListReader.AsDataList"/> does).</summary>
    public static ListOfDataReader Create(ListReader list) => list.AsDataList();
    /// <summary>True when the list pointer was null.</summary>
    public bool IsNull => _list.IsNull;
    /// <summary>Number of elements.</summary>
    public int Count => _list.Count;
    /// <summary>Element <paramref name="index"/>.</summary>
    public ReadOnlyMemory<byte> this[int index] => _list.GetData(index);
    /// <summary>Returns a struct enumerator.</summary>
    public Enumerator GetEnumerator() => new(this);
    IEnumerator<ReadOnlyMemory<byte>> IEnumerable<ReadOnlyMemory<byte>>.GetEnumerator() => GetEnumerator();
    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Allocation-free enumerator.</summary>
    public struct Enumerator : IEnumerator<ReadOnlyMemory<byte>>
    {
        private readonly ListOfDataReader _l;
        private int _i;
        internal Enumerator(ListOfDataReader l) { _l = l; _i = -1; }
        /// <inheritdoc/>
        public bool MoveNext() => ++_i < _l.Count;
        /// <inheritdoc/>
        public readonly ReadOnlyMemory<byte> Current => _l[_i];
        readonly object System.Collections.IEnumerator.Current => Current!;
        /// <inheritdoc/>
        public void Reset() => _i = -1;
        /// <inheritdoc/>
        public readonly void Dispose() { }
    }
}

/// <summary>List(List(...)); elements are untyped lists.</summary>
public readonly struct ListOfListsReader : IReadOnlyList<ListReader>, IListReader<ListOfListsReader>
{
    private readonly ListReader _list;
    internal ListOfListsReader(ListReader list) => _list = list;
    /// <summary>The untyped list.</summary>
    public ListReader Raw => _list;
    /// <summary>The typed view of <paramref name="list"/> (checks its element size, as <see cref="ListReader.AsLists"/> does).</summary>
    public static ListOfListsReader Create(ListReader list) => list.AsLists();
    /// <summary>True when the list pointer was null.</summary>
    public bool IsNull => _list.IsNull;
    /// <summary>Number of elements.</summary>
    public int Count => _list.Count;
    /// <summary>Element <paramref name="index"/>.</summary>
    public ListReader this[int index] => _list.GetList(index);
    /// <summary>Returns a struct enumerator.</summary>
    public Enumerator GetEnumerator() => new(this);
    IEnumerator<ListReader> IEnumerable<ListReader>.GetEnumerator() => GetEnumerator();
    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Allocation-free enumerator.</summary>
    public struct Enumerator : IEnumerator<ListReader>
    {
        private readonly ListOfListsReader _l;
        private int _i;
        internal Enumerator(ListOfListsReader l) { _l = l; _i = -1; }
        /// <inheritdoc/>
        public bool MoveNext() => ++_i < _l.Count;
        /// <inheritdoc/>
        public readonly ListReader Current => _l[_i];
        readonly object System.Collections.IEnumerator.Current => Current!;
        /// <inheritdoc/>
        public void Reset() => _i = -1;
        /// <inheritdoc/>
        public readonly void Dispose() { }
    }
}

/// <summary>List of capabilities; elements are cap-table indices (<see cref="NullIndex"/> for null pointers).</summary>
public readonly struct ListOfCapabilitiesReader : IReadOnlyList<uint>, IListReader<ListOfCapabilitiesReader>
{
    private readonly ListReader _list;
    internal ListOfCapabilitiesReader(ListReader list) => _list = list;
    /// <summary>The untyped list.</summary>
    public ListReader Raw => _list;
    /// <summary>The typed view of <paramref name="list"/> (checks its element size, as <see cref="ListReader.AsCapabilities"/> does).</summary>
    public static ListOfCapabilitiesReader Create(ListReader list) => list.AsCapabilities();
    /// <summary>True when the list pointer was null.</summary>
    public bool IsNull => _list.IsNull;
    /// <summary>Number of elements.</summary>
    public int Count => _list.Count;
    /// <summary>Element <paramref name="index"/>.</summary>
    public uint this[int index] => CapIndex(index);
    /// <summary>Returns a struct enumerator.</summary>
    public Enumerator GetEnumerator() => new(this);
    IEnumerator<uint> IEnumerable<uint>.GetEnumerator() => GetEnumerator();
    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    /// <summary>Index returned for a null capability pointer.</summary>
    public const uint NullIndex = uint.MaxValue;
    private uint CapIndex(int index) => _list.GetPointer(index).AsCapabilityIndex() ?? NullIndex;

    /// <summary>Allocation-free enumerator.</summary>
    public struct Enumerator : IEnumerator<uint>
    {
        private readonly ListOfCapabilitiesReader _l;
        private int _i;
        internal Enumerator(ListOfCapabilitiesReader l) { _l = l; _i = -1; }
        /// <inheritdoc/>
        public bool MoveNext() => ++_i < _l.Count;
        /// <inheritdoc/>
        public readonly uint Current => _l[_i];
        readonly object System.Collections.IEnumerator.Current => Current!;
        /// <inheritdoc/>
        public void Reset() => _i = -1;
        /// <inheritdoc/>
        public readonly void Dispose() { }
    }
}

/// <summary>List(AnyPointer).</summary>
public readonly struct ListOfPointersReader : IReadOnlyList<AnyPointerReader>, IListReader<ListOfPointersReader>
{
    private readonly ListReader _list;
    internal ListOfPointersReader(ListReader list) => _list = list;
    /// <summary>The untyped list.</summary>
    public ListReader Raw => _list;
    /// <summary>The typed view of <paramref name="list"/> (checks its element size, as <see cref="ListReader.AsPointers"/> does).</summary>
    public static ListOfPointersReader Create(ListReader list) => list.AsPointers();
    /// <summary>True when the list pointer was null.</summary>
    public bool IsNull => _list.IsNull;
    /// <summary>Number of elements.</summary>
    public int Count => _list.Count;
    /// <summary>Element <paramref name="index"/>.</summary>
    public AnyPointerReader this[int index] => _list.GetPointer(index);
    /// <summary>Returns a struct enumerator.</summary>
    public Enumerator GetEnumerator() => new(this);
    IEnumerator<AnyPointerReader> IEnumerable<AnyPointerReader>.GetEnumerator() => GetEnumerator();
    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Allocation-free enumerator.</summary>
    public struct Enumerator : IEnumerator<AnyPointerReader>
    {
        private readonly ListOfPointersReader _l;
        private int _i;
        internal Enumerator(ListOfPointersReader l) { _l = l; _i = -1; }
        /// <inheritdoc/>
        public bool MoveNext() => ++_i < _l.Count;
        /// <inheritdoc/>
        public readonly AnyPointerReader Current => _l[_i];
        readonly object System.Collections.IEnumerator.Current => Current!;
        /// <inheritdoc/>
        public void Reset() => _i = -1;
        /// <inheritdoc/>
        public readonly void Dispose() { }
    }
}

/// <summary>List(List(...)) whose inner lists are typed (<c>List(List(Text))</c> → <c>ListOfListsReader&lt;ListOfTextReader&gt;</c>).</summary>
/// <typeparam name="TInner">The typed reader of the inner lists.</typeparam>
public readonly struct ListOfListsReader<TInner> : IReadOnlyList<TInner>, IListReader<ListOfListsReader<TInner>> where TInner : struct, IListReader<TInner>
{
    private readonly ListReader _list;
    internal ListOfListsReader(ListReader list) => _list = list;
    /// <summary>The untyped list.</summary>
    public ListReader Raw => _list;
    /// <summary>The typed view of <paramref name="list"/> (checks it is a pointer list).</summary>
    public static ListOfListsReader<TInner> Create(ListReader list) => list.AsLists<TInner>();
    /// <summary>True when the list pointer was null.</summary>
    public bool IsNull => _list.IsNull;
    /// <summary>Number of elements.</summary>
    public int Count => _list.Count;
    /// <summary>Inner list <paramref name="index"/> (empty when its pointer is null).</summary>
    public TInner this[int index] => TInner.Create(_list.GetList(index));
    /// <summary>Returns a struct enumerator.</summary>
    public Enumerator GetEnumerator() => new(this);
    IEnumerator<TInner> IEnumerable<TInner>.GetEnumerator() => GetEnumerator();
    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Allocation-free enumerator.</summary>
    public struct Enumerator : IEnumerator<TInner>
    {
        private readonly ListOfListsReader<TInner> _l;
        private int _i;
        internal Enumerator(ListOfListsReader<TInner> l) { _l = l; _i = -1; }
        /// <inheritdoc/>
        public bool MoveNext() => ++_i < _l.Count;
        /// <inheritdoc/>
        public readonly TInner Current => _l[_i];
        readonly object System.Collections.IEnumerator.Current => Current!;
        /// <inheritdoc/>
        public void Reset() => _i = -1;
        /// <inheritdoc/>
        public readonly void Dispose() { }
    }
}

