using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Capnp.Native.Serialization;

/// <summary>
/// Reads a struct in place. <c>default(StructReader)</c> behaves as a struct whose fields all have their defaults.
/// Field offsets are in units of the field's own size (exactly <c>slot.offset</c> from schema.capnp; bits for Bool).
/// Fields beyond the encoded data/pointer sections read as their defaults (schema evolution).
/// </summary>
public readonly struct StructReader
{
    internal readonly MessageReader? Message;
    // The segment's array when the message is array-backed memory of its caller (see MessageReader.DirectArray), and
    // the index of the data section in it: data fields are read straight from the array, without looking the segment
    // up again on every read. Null for other memory (native, or a builder's pooled segments, whose every access checks
    // that the builder is not disposed): those reads go through MessageReader.Span.
    private readonly byte[]? _array;
    private readonly int _arrayDataIndex;
    internal readonly int Segment;
    internal readonly int DataOffset;
    internal readonly int DataBits;
    internal readonly ushort Pointers;
    internal readonly int Nesting;

    internal StructReader(MessageReader message, int segment, int dataOffset, int dataBits, ushort pointers, int nesting)
    {
        Message = message; Segment = segment; DataOffset = dataOffset; DataBits = dataBits;
        Pointers = pointers; Nesting = nesting;
        _array = message.DirectArray(segment, out int arrayOffset);
        _arrayDataIndex = arrayOffset + dataOffset;
    }

    /// <summary>A struct of a list whose segment array (<paramref name="array"/>, may be null) the list has looked up already.</summary>
    internal StructReader(MessageReader message, byte[]? array, int arrayDataIndex, int segment, int dataOffset, int dataBits, ushort pointers, int nesting)
    {
        Message = message; _array = array; _arrayDataIndex = arrayDataIndex; Segment = segment; DataOffset = dataOffset;
        DataBits = dataBits; Pointers = pointers; Nesting = nesting;
    }

    /// <summary>Byte offset of the pointer section in the segment (it follows the data section).</summary>
    internal int PointerOffset => DataOffset + (DataBits >> 3);

    /// <summary>True when this reader comes from a null pointer (or is <c>default</c>).</summary>
    public bool IsNull => Message is null;
    /// <summary>Size of the data section in whole words (rounded down when read from a primitive list).</summary>
    public int DataWords => DataBits / 64;
    /// <summary>Size of the data section in bits.</summary>
    public int DataSizeInBits => DataBits;
    /// <summary>Number of pointers in the pointer section.</summary>
    public int PointerCount => Pointers;
    /// <summary>The message this struct belongs to (null for a default struct).</summary>
    public MessageReader? MessageReader => Message;

    private ReadOnlySpan<byte> Seg
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Message!.Span(Segment);
    }

    /// <summary>The raw bytes of the data section.</summary>
    public ReadOnlySpan<byte> DataSection => Message is null ? default : Seg.Slice(DataOffset, DataBits / 8);

    // ------------------------------------------------------------------ data fields

    /// <summary>Reads a Bool field at bit offset <paramref name="bitOffset"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool ReadBool(int bitOffset, bool defaultValue = false)
    {
        if ((uint)bitOffset < (uint)DataBits)
            return (((Read<byte>(bitOffset >> 3, 0) >> (bitOffset & 7)) & 1) != 0) ^ defaultValue;
        return defaultValue;
    }

    // The callers have checked that the field lies within the data section, which pointer validation placed within
    // the segment (and the segment within its array): the read needs no further bounds check.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private T Read<T>(int offset, int shift) where T : unmanaged
    {
        var array = _array;
        if (array is not null)
            return Unsafe.ReadUnaligned<T>(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(array), (nint)(uint)(_arrayDataIndex + (offset << shift))));
        return ReadSlow<T>(offset << shift);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private T ReadSlow<T>(int byteOffset) where T : unmanaged => Wire.ReadUnaligned<T>(Seg, DataOffset + byteOffset);

    /// <summary>Reads an Int8 field.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public sbyte ReadInt8(int offset, sbyte defaultValue = 0)
        => (uint)offset < (uint)(DataBits >> 3) ? (sbyte)(Read<sbyte>(offset, 0) ^ defaultValue) : defaultValue;
    /// <summary>Reads a UInt8 field.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte ReadUInt8(int offset, byte defaultValue = 0)
        => (uint)offset < (uint)(DataBits >> 3) ? (byte)(Read<byte>(offset, 0) ^ defaultValue) : defaultValue;
    /// <summary>Reads an Int16 field.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public short ReadInt16(int offset, short defaultValue = 0)
        => (uint)offset < (uint)(DataBits >> 4) ? (short)(Read<short>(offset, 1) ^ defaultValue) : defaultValue;
    /// <summary>Reads a UInt16 field (also enums).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ushort ReadUInt16(int offset, ushort defaultValue = 0)
        => (uint)offset < (uint)(DataBits >> 4) ? (ushort)(Read<ushort>(offset, 1) ^ defaultValue) : defaultValue;
    /// <summary>Reads an Int32 field.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int ReadInt32(int offset, int defaultValue = 0)
        => (uint)offset < (uint)(DataBits >> 5) ? Read<int>(offset, 2) ^ defaultValue : defaultValue;
    /// <summary>Reads a UInt32 field.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint ReadUInt32(int offset, uint defaultValue = 0)
        => (uint)offset < (uint)(DataBits >> 5) ? Read<uint>(offset, 2) ^ defaultValue : defaultValue;
    /// <summary>Reads an Int64 field.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long ReadInt64(int offset, long defaultValue = 0)
        => (uint)offset < (uint)(DataBits >> 6) ? Read<long>(offset, 3) ^ defaultValue : defaultValue;
    /// <summary>Reads a UInt64 field.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong ReadUInt64(int offset, ulong defaultValue = 0)
        => (uint)offset < (uint)(DataBits >> 6) ? Read<ulong>(offset, 3) ^ defaultValue : defaultValue;
    /// <summary>Reads a Float32 field (the default is XORed bitwise).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float ReadFloat32(int offset, float defaultValue = 0)
        => BitConverter.UInt32BitsToSingle(ReadUInt32(offset, BitConverter.SingleToUInt32Bits(defaultValue)));
    /// <summary>Reads a Float64 field (the default is XORed bitwise).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public double ReadFloat64(int offset, double defaultValue = 0)
        => BitConverter.UInt64BitsToDouble(ReadUInt64(offset, BitConverter.DoubleToUInt64Bits(defaultValue)));
    /// <summary>Reads a union discriminant (a UInt16 at <paramref name="discriminantOffset"/>).</summary>
    public ushort Which(int discriminantOffset) => ReadUInt16(discriminantOffset);

    /// <summary>Reads an enum field stored as UInt16.</summary>
    public TEnum ReadEnum<TEnum>(int offset, TEnum defaultValue = default) where TEnum : unmanaged, Enum
    {
        if (Unsafe.SizeOf<TEnum>() != 2) throw new ArgumentException("Enum must be 16 bits wide.");
        ushort v = ReadUInt16(offset, Unsafe.As<TEnum, ushort>(ref defaultValue));
        return Unsafe.As<ushort, TEnum>(ref v);
    }

    // ------------------------------------------------------------------ pointer fields

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool InPointers(int index) => (uint)index < Pointers && Message is not null;

    /// <summary>True when pointer <paramref name="index"/> is present and non-null.</summary>
    public bool HasPointer(int index) => InPointers(index) && Wire.ReadWord(Seg, PointerOffset + index * 8) != 0;

    /// <summary>Reads a struct field. When null, reads <paramref name="defaultValue"/> (segment bytes of a single-segment
    /// message whose root pointer is word 0), or returns <c>default</c> when that is empty.</summary>
    public StructReader ReadStruct(int index, ReadOnlySpan<byte> defaultValue = default)
    {
        if (InPointers(index))
        {
            var r = Message!.ReadStructPointer(Segment, PointerOffset + index * 8, Nesting);
            if (!r.IsNull) return r;
        }
        return defaultValue.IsEmpty ? default : MessageReader.ForDefault(defaultValue).Root;
    }

    /// <summary>Reads a struct field as a generated reader type.</summary>
    public T ReadStruct<T>(int index, ReadOnlySpan<byte> defaultValue = default) where T : struct, IStructReader<T>
        => T.Create(ReadStruct(index, defaultValue));

    /// <summary>Reads a list field (untyped). When null, reads <paramref name="defaultValue"/> (see <see cref="ReadStruct(int, ReadOnlySpan{byte})"/>).</summary>
    public ListReader ReadList(int index, ReadOnlySpan<byte> defaultValue = default)
    {
        if (InPointers(index))
        {
            var r = Message!.ReadListPointer(Segment, PointerOffset + index * 8, Nesting);
            if (!r.IsNull) return r;
        }
        if (defaultValue.IsEmpty) return default;
        var m = MessageReader.ForDefault(defaultValue);
        return m.ReadListPointer(0, 0, m.NestingLimit);
    }

    /// <summary>Reads a Text field as UTF-8 bytes (without the NUL terminator); empty when null.</summary>
    public ReadOnlySpan<byte> ReadTextBytes(int index)
        => InPointers(index) ? Message!.ReadTextBytes(Segment, PointerOffset + index * 8, Nesting) : default;

    /// <summary>Reads a Text field. Returns <paramref name="defaultValue"/> (or "" when that is null) when the pointer is null.</summary>
    public string ReadText(int index, string? defaultValue = null)
    {
        if (InPointers(index))
        {
            var l = Message!.ReadListPointer(Segment, PointerOffset + index * 8, Nesting);
            if (!l.IsNull) return l.AsText();
        }
        return defaultValue ?? "";
    }

    /// <summary>True when the Text field is non-null.</summary>
    public bool HasText(int index) => HasPointer(index);

    /// <summary>Reads a Data field without copying. When null, returns <paramref name="defaultValue"/> (raw bytes; a shared cached copy).</summary>
    public ReadOnlyMemory<byte> ReadData(int index, ReadOnlySpan<byte> defaultValue = default)
    {
        if (InPointers(index))
        {
            var l = Message!.ReadListPointer(Segment, PointerOffset + index * 8, Nesting);
            if (!l.IsNull) return l.AsData();
        }
        return defaultValue.IsEmpty ? ReadOnlyMemory<byte>.Empty : MessageReader.DefaultData(defaultValue);
    }

    /// <summary>Returns an untyped view of pointer <paramref name="index"/>.</summary>
    public AnyPointerReader ReadAnyPointer(int index)
        => InPointers(index) ? new AnyPointerReader(Message!, Segment, PointerOffset + index * 8, Nesting) : default;

    /// <summary>Reads a capability pointer: its index in the cap table, or null when the pointer is null.</summary>
    public uint? ReadCapabilityIndex(int index)
        => InPointers(index) ? Message!.ReadCapPointer(Segment, PointerOffset + index * 8) : null;

    /// <inheritdoc/>
    public override string ToString() => IsNull ? "(null struct)" : $"(struct {DataBits / 64} data words, {Pointers} pointers)";
}
