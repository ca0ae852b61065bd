using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Capnp.Native.Serialization;

/// <summary>Thrown when a message is malformed (bad pointers, out-of-bounds data, bad framing, ...).</summary>
public class CapnpFormatException : Exception
{
    /// <summary>Creates the exception with a message.</summary>
    public CapnpFormatException(string message) : base(message) { }
    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public CapnpFormatException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>Thrown when a message exceeds a security limit (traversal limit, nesting limit, size limit).</summary>
public class CapnpLimitExceededException : CapnpFormatException
{
    /// <summary>Creates the exception with a message.</summary>
    public CapnpLimitExceededException(string message) : base(message) { }
}

/// <summary>Security limits applied while reading a message (same defaults as the C++ implementation).</summary>
/// <remarks><c>default(ReaderOptions)</c> (all zero) is treated as the defaults: a non-positive limit means "use the default".</remarks>
public record struct ReaderOptions
{
    /// <summary>Default traversal limit: 8 Mi words (64 MiB).</summary>
    public const long DefaultTraversalLimitInWords = 8 * 1024 * 1024;
    /// <summary>Default nesting limit.</summary>
    public const int DefaultNestingLimit = 64;

    /// <summary>Creates options with the default limits.</summary>
    public ReaderOptions() { }

    /// <summary>Total number of words that may be read (each struct/list dereference is charged, so repeated reads count again).</summary>
    public long TraversalLimitInWords { get; init; } = DefaultTraversalLimitInWords;
    /// <summary>Maximum depth of nested structs/lists.</summary>
    public int NestingLimit { get; init; } = DefaultNestingLimit;

    /// <summary>The default options.</summary>
    public static ReaderOptions Default => new();

    internal long EffectiveTraversalLimit => TraversalLimitInWords > 0 ? TraversalLimitInWords : DefaultTraversalLimitInWords;
    internal int EffectiveNestingLimit => NestingLimit > 0 ? NestingLimit : DefaultNestingLimit;
}

/// <summary>Element size of a list, as encoded in a list pointer.</summary>
public enum ElementSize : byte
{
    /// <summary>0 bits (List(Void)).</summary>
    Void = 0,
    /// <summary>1 bit (List(Bool)).</summary>
    Bit = 1,
    /// <summary>1 byte.</summary>
    Byte = 2,
    /// <summary>2 bytes.</summary>
    TwoBytes = 3,
    /// <summary>4 bytes.</summary>
    FourBytes = 4,
    /// <summary>8 bytes (non-pointer).</summary>
    EightBytes = 5,
    /// <summary>A pointer per element.</summary>
    Pointer = 6,
    /// <summary>Structs, prefixed by a tag word.</summary>
    InlineComposite = 7,
}

/// <summary>Kind of pointer found in an <see cref="AnyPointerReader"/>.</summary>
public enum PointerKind : byte
{
    /// <summary>The null pointer.</summary>
    Null = 0,
    /// <summary>A struct pointer.</summary>
    Struct = 1,
    /// <summary>A list pointer.</summary>
    List = 2,
    /// <summary>A capability (index into the cap table).</summary>
    Capability = 3,
}

internal static class Wire
{
    public const int WordSize = 8;
    /// <summary>Maximum number of segments accepted in a framed message (same as C++).</summary>
    public const int MaxSegments = 512;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong ReadWord(ReadOnlySpan<byte> s, long pos) => BinaryPrimitives.ReadUInt64LittleEndian(s.Slice((int)pos, 8));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WriteWord(Span<byte> s, int pos, ulong v) => BinaryPrimitives.WriteUInt64LittleEndian(s.Slice(pos, 8), v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T ReadUnaligned<T>(ReadOnlySpan<byte> s, int pos) where T : unmanaged
    {
        T v = Unsafe.ReadUnaligned<T>(ref Unsafe.Add(ref MemoryMarshal.GetReference(s), (nint)(uint)pos));
        return v;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WriteUnaligned<T>(byte[] s, int pos, T value) where T : unmanaged
    {
        Unsafe.WriteUnaligned(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(s), (nint)(uint)pos), value);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T ReadUnaligned<T>(byte[] s, int pos) where T : unmanaged
        => Unsafe.ReadUnaligned<T>(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(s), (nint)(uint)pos));

    public static int Kind(ulong w) => (int)(w & 3);
    public static long SignedOffset(ulong w) => ((int)(uint)w) >> 2;

    // A table rather than a switch, so that it inlines into pointer reads. InlineComposite (7) has no fixed size: 0.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int BitsPerElement(ElementSize s) => ((ReadOnlySpan<byte>)[0, 1, 8, 16, 32, 64, 64, 0])[(int)s & 7];

    public static ulong StructPointer(long offsetWords, ushort dataWords, ushort ptrCount)
        => (uint)((int)offsetWords << 2) | ((ulong)dataWords << 32) | ((ulong)ptrCount << 48);

    public static ulong ListPointer(long offsetWords, ElementSize size, uint countOrWords)
        => (uint)((int)offsetWords << 2) | 1u | ((ulong)(((countOrWords << 3) | (uint)size)) << 32);

    public static ulong FarPointer(bool isDouble, int padWord, int segment)
        => (uint)((padWord << 3) | (isDouble ? 4 : 0) | 2) | ((ulong)(uint)segment << 32);

    public static ulong CapPointer(uint index) => 3u | ((ulong)index << 32);

    static Wire()
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("Capnp.Native.Serialization requires a little-endian platform.");
    }

    public static void EnsureLittleEndian() { }
}

/// <summary>Implemented by generated reader structs.</summary>
/// <typeparam name="TSelf">The generated reader type.</typeparam>
public interface IStructReader<TSelf> : IPointerValue<TSelf> where TSelf : struct, IStructReader<TSelf>
{
    /// <summary>Wraps a raw struct reader.</summary>
    static abstract TSelf Create(StructReader reader);
    /// <summary>The underlying raw struct reader.</summary>
    StructReader Raw { get; }

    TSelf IPointerValue<TSelf>.Read(AnyPointerReader pointer) => TSelf.Create(pointer.AsStruct());
    void IPointerValue<TSelf>.Write(AnyPointerBuilder pointer, TSelf value) => pointer.SetStruct(value.Raw);
}

/// <summary>Implemented by the typed list readers (<see cref="ListOfPrimitivesReader{T}"/>, <see cref="ListOfTextReader"/>, ...),
/// so that a list of lists can hand out typed inner lists.</summary>
/// <typeparam name="TSelf">The typed list reader.</typeparam>
public interface IListReader<TSelf> : IPointerValue<TSelf> where TSelf : struct, IListReader<TSelf>
{
    /// <summary>The typed view of <paramref name="list"/>; throws <see cref="CapnpFormatException"/> when its element size does not fit.</summary>
    static abstract TSelf Create(ListReader list);
    /// <summary>The untyped list.</summary>
    ListReader Raw { get; }

    TSelf IPointerValue<TSelf>.Read(AnyPointerReader pointer) => TSelf.Create(pointer.AsList());
    void IPointerValue<TSelf>.Write(AnyPointerBuilder pointer, TSelf value) => pointer.SetList(value.Raw);
}

/// <summary>Implemented by the typed list builders, so that a list of lists can allocate and hand out typed inner lists.</summary>
/// <typeparam name="TSelf">The typed list builder.</typeparam>
public interface IListBuilder<TSelf> where TSelf : struct, IListBuilder<TSelf>
{
    /// <summary>Allocates a list of <paramref name="count"/> elements of this type at <paramref name="pointer"/>.</summary>
    static abstract TSelf Init(AnyPointerBuilder pointer, int count);
    /// <summary>The list at <paramref name="pointer"/> (<c>default</c> when null).</summary>
    static abstract TSelf Get(AnyPointerBuilder pointer);
    /// <summary>The untyped list.</summary>
    ListBuilder Raw { get; }
}

/// <summary>
/// How a value that generated code holds as a generic parameter (<c>Box&lt;T&gt;</c>) is read from and written to a
/// pointer. Implemented by generated struct readers and the typed list readers; text, data and
/// <see cref="AnyPointerReader"/> are known to <see cref="PointerValue{T}"/> directly, and capability clients register
/// themselves with <see cref="PointerValue{T}.Register"/> (clients of generic interfaces from their static constructor,
/// which <see cref="PointerValue{T}"/> runs on first use).
/// </summary>
/// <typeparam name="TSelf">The value type.</typeparam>
/// <remarks>The members are called on <c>default(TSelf)</c>: they must not use instance state.</remarks>
public interface IPointerValue<TSelf>
{
    /// <summary>Reads the value at <paramref name="pointer"/>.</summary>
    TSelf Read(AnyPointerReader pointer);
    /// <summary>Writes (deep-copies) <paramref name="value"/> to <paramref name="pointer"/>.</summary>
    void Write(AnyPointerBuilder pointer, TSelf value);
}

/// <summary>
/// Reads and writes a value of type <typeparamref name="T"/> held in a pointer whose schema type is a generic
/// parameter: generated code for <c>struct Box(T) { value @0 :T; }</c> reads <c>Box(Text).value</c> as a string
/// through <c>PointerValue&lt;string&gt;.Read</c>.
/// </summary>
/// <typeparam name="T"><see cref="string"/> (Text), <see cref="ReadOnlyMemory{T}"/> of bytes (Data),
/// <see cref="AnyPointerReader"/>, a generated struct reader, a typed list reader, or a registered capability client.</typeparam>
public static class PointerValue<T>
{
    // Resolved once per T: the boxed default of a struct implementing IPointerValue<T> serves as the codec.
    private static IPointerValue<T>? _codec = Resolve();

    [System.Diagnostics.CodeAnalysis.UnconditionalSuppressMessage("Trimming", "IL2059",
        Justification = "Only clients of generic interfaces rely on their static constructor; if trimming removed it, " +
                        "reading such a client throws the InvalidOperationException of Codec, it does not misbehave.")]
    private static IPointerValue<T>? Resolve()
    {
        if (typeof(T) == typeof(string)) return (IPointerValue<T>)(object)new TextCodec();
        if (typeof(T) == typeof(ReadOnlyMemory<byte>)) return (IPointerValue<T>)(object)new DataCodec();
        if (typeof(T) == typeof(AnyPointerReader)) return (IPointerValue<T>)(object)new AnyCodec();
        if (!typeof(T).IsValueType)
        {
            // A client of a generic interface (Store<string>.Client) registers itself from its
            // static constructor, which code that only reads Box<Store<string>.Client> may never
            // have run: run it now. Register, called from there, sets _codec already.
            System.Runtime.CompilerServices.RuntimeHelpers.RunClassConstructor(typeof(T).TypeHandle);
            return _codec;
        }

        return default(T) as IPointerValue<T>;
    }

    /// <summary>Registers how a reference type (a generated capability client) is read and written; called by generated code.</summary>
    public static void Register(IPointerValue<T> codec) => _codec = codec ?? throw new ArgumentNullException(nameof(codec));

    private static IPointerValue<T> Codec => _codec ?? throw new InvalidOperationException(
        $"{typeof(T)} cannot be the value of a generic parameter: use Text (string), Data (ReadOnlyMemory<byte>), AnyPointerReader, a generated struct reader, a typed list reader or a generated capability client.");

    /// <summary>Reads the value at <paramref name="pointer"/> (for a null pointer: the empty text/data, a default struct, an empty list, a null client).</summary>
    public static T Read(AnyPointerReader pointer) => Codec.Read(pointer);

    /// <summary>Writes <paramref name="value"/> to <paramref name="pointer"/> (a deep copy for structs and lists).</summary>
    public static void Write(AnyPointerBuilder pointer, T value) => Codec.Write(pointer, value);

    private sealed class TextCodec : IPointerValue<string>
    {
        public string Read(AnyPointerReader pointer) => pointer.AsText();
        public void Write(AnyPointerBuilder pointer, string value) => pointer.SetText(value);
    }

    private sealed class DataCodec : IPointerValue<ReadOnlyMemory<byte>>
    {
        public ReadOnlyMemory<byte> Read(AnyPointerReader pointer) => pointer.AsData();
        public void Write(AnyPointerBuilder pointer, ReadOnlyMemory<byte> value) => pointer.SetData(value.Span);
    }

    private sealed class AnyCodec : IPointerValue<AnyPointerReader>
    {
        public AnyPointerReader Read(AnyPointerReader pointer) => pointer;
        public void Write(AnyPointerBuilder pointer, AnyPointerReader value) => pointer.Set(value);
    }
}

/// <summary>Implemented by generated builders (<c>readonly</c> structs, handed out by generated getters as <c>ref readonly</c>, so that <c>e.Point.X = 1</c> compiles: see <see cref="BuilderSlot{T}"/>; struct-list indexers return them <c>ref readonly</c> from a slot in the list value, so <c>list[0].X = 1</c> compiles too).</summary>
/// <typeparam name="TSelf">The generated builder type.</typeparam>
public interface IStructBuilder<TSelf> where TSelf : IStructBuilder<TSelf>
{
    /// <summary>Wraps a raw struct builder.</summary>
    static abstract TSelf Create(StructBuilder builder);
    /// <summary>Data section size of the struct in words.</summary>
    static abstract ushort DataWords { get; }
    /// <summary>Pointer section size of the struct in pointers.</summary>
    static abstract ushort PointerCount { get; }
    /// <summary>The underlying raw struct builder.</summary>
    StructBuilder Raw { get; }
}
