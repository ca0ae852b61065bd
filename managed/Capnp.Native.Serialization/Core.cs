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
public interface IStructReader<TSelf> where TSelf : struct, IStructReader<TSelf>
{
    /// <summary>Wraps a raw struct reader.</summary>
    static abstract TSelf Create(StructReader reader);
    /// <summary>The underlying raw struct reader.</summary>
    StructReader Raw { get; }
}

/// <summary>Implemented by generated builder structs.</summary>
/// <typeparam name="TSelf">The generated builder type.</typeparam>
public interface IStructBuilder<TSelf> where TSelf : struct, IStructBuilder<TSelf>
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
