using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Capnp.Native.Serialization;

/// <summary>List of primitive values (Int8..Float64 etc.).</summary>
public readonly struct ListOfPrimitivesReader<T> : IReadOnlyList<T> where T : unmanaged
{
    private readonly ListReader _list;
    internal ListOfPrimitivesReader(ListReader list) => _list = list;
    /// <summary>The untyped list.</summary>
    public ListReader Raw => _list;
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
public readonly struct ListOfBitsReader : IReadOnlyList<bool>
{
    private readonly ListReader _list;
    internal ListOfBitsReader(ListReader list) => _list = list;
    /// <summary>The untyped list.</summary>
    public ListReader Raw => _list;
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
public readonly struct ListOfEnumsReader<TEnum> : IReadOnlyList<TEnum> where TEnum : unmanaged, Enum
{
    private readonly ListReader _list;
    internal ListOfEnumsReader(ListReader list) => _list = list;
    /// <summary>The untyped list.</summary>
    public ListReader Raw => _list;
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
public readonly struct ListOfStructsReader<T> : IReadOnlyList<T> where T : struct, IStructReader<T>
{
    private readonly ListReader _list;
    internal ListOfStructsReader(ListReader list) => _list = list;
    /// <summary>The untyped list.</summary>
    public ListReader Raw => _list;
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
public readonly struct ListOfTextReader : IReadOnlyList<string>
{
    private readonly ListReader _list;
    internal ListOfTextReader(ListReader list) => _list = list;
    /// <summary>The untyped list.</summary>
    public ListReader Raw => _list;
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
public readonly struct ListOfDataReader : IReadOnlyList<ReadOnlyMemory<byte>>
{
    private readonly ListReader _list;
    internal ListOfDataReader(ListReader list) => _list = list;
    /// <summary>The untyped list.</summary>
    public ListReader Raw => _list;
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
public readonly struct ListOfListsReader : IReadOnlyList<ListReader>
{
    private readonly ListReader _list;
    internal ListOfListsReader(ListReader list) => _list = list;
    /// <summary>The untyped list.</summary>
    public ListReader Raw => _list;
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
public readonly struct ListOfCapabilitiesReader : IReadOnlyList<uint>
{
    private readonly ListReader _list;
    internal ListOfCapabilitiesReader(ListReader list) => _list = list;
    /// <summary>The untyped list.</summary>
    public ListReader Raw => _list;
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
public readonly struct ListOfPointersReader : IReadOnlyList<AnyPointerReader>
{
    private readonly ListReader _list;
    internal ListOfPointersReader(ListReader list) => _list = list;
    /// <summary>The untyped list.</summary>
    public ListReader Raw => _list;
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
