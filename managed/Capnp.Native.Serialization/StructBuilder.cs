using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Capnp.Native.Serialization;

/// <summary>
/// Builds a struct in place inside a <see cref="MessageBuilder"/>. Offsets are in units of the field's own size
/// (exactly <c>slot.offset</c>; bits for Bool); values are stored XORed with their defaults.
/// </summary>
public readonly struct StructBuilder
{
    internal readonly MessageBuilder Message;
    internal readonly int Segment;
    internal readonly int DataOffset;
    internal readonly ushort Data;
    internal readonly ushort Pointers;

    internal StructBuilder(MessageBuilder message, int segment, int dataOffset, ushort dataWords, ushort pointers)
    {
        Message = message; Segment = segment; DataOffset = dataOffset; Data = dataWords; Pointers = pointers;
    }

    /// <summary>True for <c>default(StructBuilder)</c>.</summary>
    public bool IsNull => Message is null;
    /// <summary>Data section size in words.</summary>
    public int DataWords => Data;
    /// <summary>Number of pointers.</summary>
    public int PointerCount => Pointers;
    /// <summary>The message being built.</summary>
    public MessageBuilder MessageBuilder => Message;
    internal int PointerOffset => DataOffset + Data * 8;
    private byte[] Buf => Message.Buffers[Segment];

    /// <summary>The data section bytes (writable).</summary>
    public Span<byte> DataSection => Message is null ? default : Buf.AsSpan(DataOffset, Data * 8);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowField() => throw new ArgumentOutOfRangeException("offset", "Field is outside this struct's data section.");

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Write<T>(int offset, int shift, T raw, bool isDefault) where T : unmanaged
    {
        if ((uint)offset < (uint)((Data * 64) >> (shift + 3)))
            Wire.WriteUnaligned(Buf, DataOffset + (offset << shift), raw);
        else if (!isDefault) ThrowField();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private T Read<T>(int offset, int shift, T def) where T : unmanaged
        => (uint)offset < (uint)((Data * 64) >> (shift + 3)) ? Wire.ReadUnaligned<T>(Buf, DataOffset + (offset << shift)) : def;

    /// <summary>Writes a Bool field.</summary>
    public void WriteBool(int bitOffset, bool value, bool defaultValue = false)
    {
        if ((uint)bitOffset < (uint)(Data * 64))
        {
            ref byte b = ref Buf[DataOffset + (bitOffset >> 3)];
            int mask = 1 << (bitOffset & 7);
            b = (value ^ defaultValue) ? (byte)(b | mask) : (byte)(b & ~mask);
        }
        else if (value != defaultValue) ThrowField();
    }
    /// <summary>Writes an Int8 field.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteInt8(int offset, sbyte value, sbyte defaultValue = 0) => Write(offset, 0, (sbyte)(value ^ defaultValue), value == defaultValue);
    /// <summary>Writes a UInt8 field.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteUInt8(int offset, byte value, byte defaultValue = 0) => Write(offset, 0, (byte)(value ^ defaultValue), value == defaultValue);
    /// <summary>Writes an Int16 field.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteInt16(int offset, short value, short defaultValue = 0) => Write(offset, 1, (short)(value ^ defaultValue), value == defaultValue);
    /// <summary>Writes a UInt16 field (also enums).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteUInt16(int offset, ushort value, ushort defaultValue = 0) => Write(offset, 1, (ushort)(value ^ defaultValue), value == defaultValue);
    /// <summary>Writes an Int32 field.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteInt32(int offset, int value, int defaultValue = 0) => Write(offset, 2, value ^ defaultValue, value == defaultValue);
    /// <summary>Writes a UInt32 field.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteUInt32(int offset, uint value, uint defaultValue = 0) => Write(offset, 2, value ^ defaultValue, value == defaultValue);
    /// <summary>Writes an Int64 field.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteInt64(int offset, long value, long defaultValue = 0) => Write(offset, 3, value ^ defaultValue, value == defaultValue);
    /// <summary>Writes a UInt64 field.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteUInt64(int offset, ulong value, ulong defaultValue = 0) => Write(offset, 3, value ^ defaultValue, value == defaultValue);
    /// <summary>Writes a Float32 field (default XORed bitwise).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteFloat32(int offset, float value, float defaultValue = 0)
        => WriteUInt32(offset, BitConverter.SingleToUInt32Bits(value), BitConverter.SingleToUInt32Bits(defaultValue));
    /// <summary>Writes a Float64 field (default XORed bitwise).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteFloat64(int offset, double value, double defaultValue = 0)
        => WriteUInt64(offset, BitConverter.DoubleToUInt64Bits(value), BitConverter.DoubleToUInt64Bits(defaultValue));
    /// <summary>Writes an enum field (16-bit).</summary>
    public void WriteEnum<TEnum>(int offset, TEnum value, TEnum defaultValue = default) where TEnum : unmanaged, Enum
    {
        if (Unsafe.SizeOf<TEnum>() != 2) throw new ArgumentException("Enum must be 16 bits wide.");
        WriteUInt16(offset, Unsafe.As<TEnum, ushort>(ref value), Unsafe.As<TEnum, ushort>(ref defaultValue));
    }
    /// <summary>Writes a union discriminant.</summary>
    public void SetWhich(int discriminantOffset, ushort value) => WriteUInt16(discriminantOffset, value);

    /// <summary>Reads back a Bool field.</summary>
    public bool ReadBool(int bitOffset, bool defaultValue = false)
        => (uint)bitOffset < (uint)(Data * 64) ? (((Buf[DataOffset + (bitOffset >> 3)] >> (bitOffset & 7)) & 1) != 0) ^ defaultValue : defaultValue;
    /// <summary>Reads back an Int8 field.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public sbyte ReadInt8(int offset, sbyte defaultValue = 0) => (sbyte)(Read<sbyte>(offset, 0, 0) ^ defaultValue);
    /// <summary>Reads back a UInt8 field.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte ReadUInt8(int offset, byte defaultValue = 0) => (byte)(Read<byte>(offset, 0, 0) ^ defaultValue);
    /// <summary>Reads back an Int16 field.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public short ReadInt16(int offset, short defaultValue = 0) => (short)(Read<short>(offset, 1, 0) ^ defaultValue);
    /// <summary>Reads back a UInt16 field.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ushort ReadUInt16(int offset, ushort defaultValue = 0) => (ushort)(Read<ushort>(offset, 1, 0) ^ defaultValue);
    /// <summary>Reads back an Int32 field.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int ReadInt32(int offset, int defaultValue = 0) => Read<int>(offset, 2, 0) ^ defaultValue;
    /// <summary>Reads back a UInt32 field.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint ReadUInt32(int offset, uint defaultValue = 0) => Read<uint>(offset, 2, 0) ^ defaultValue;
    /// <summary>Reads back an Int64 field.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long ReadInt64(int offset, long defaultValue = 0) => Read<long>(offset, 3, 0) ^ defaultValue;
    /// <summary>Reads back a UInt64 field.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong ReadUInt64(int offset, ulong defaultValue = 0) => Read<ulong>(offset, 3, 0) ^ defaultValue;
    /// <summary>Reads back a Float32 field.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float ReadFloat32(int offset, float defaultValue = 0)
        => BitConverter.UInt32BitsToSingle(ReadUInt32(offset, BitConverter.SingleToUInt32Bits(defaultValue)));
    /// <summary>Reads back a Float64 field.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public double ReadFloat64(int offset, double defaultValue = 0)
        => BitConverter.UInt64BitsToDouble(ReadUInt64(offset, BitConverter.DoubleToUInt64Bits(defaultValue)));
    /// <summary>Reads back an enum field.</summary>
    public TEnum ReadEnum<TEnum>(int offset, TEnum defaultValue = default) where TEnum : unmanaged, Enum
    {
        ushort v = ReadUInt16(offset, Unsafe.As<TEnum, ushort>(ref defaultValue));
        return Unsafe.As<ushort, TEnum>(ref v);
    }
    /// <summary>Reads back a union discriminant.</summary>
    public ushort Which(int discriminantOffset) => ReadUInt16(discriminantOffset);

    // ------------------------------------------------------------------ pointers

    /// <summary>The pointer slot <paramref name="index"/>.</summary>
    public AnyPointerBuilder GetAnyPointer(int index)
    {
        if ((uint)index >= Pointers) throw new ArgumentOutOfRangeException(nameof(index), "Pointer index is outside this struct's pointer section.");
        return new AnyPointerBuilder(Message, Segment, PointerOffset + index * 8);
    }

    /// <summary>True when pointer <paramref name="index"/> is non-null.</summary>
    public bool HasPointer(int index) => (uint)index < Pointers && BinaryPrimitives.ReadUInt64LittleEndian(Buf.AsSpan(PointerOffset + index * 8)) != 0;

    /// <summary>Allocates a new struct for pointer <paramref name="index"/>.</summary>
    public StructBuilder InitStruct(int index, ushort dataWords, ushort pointerCount) => GetAnyPointer(index).InitStruct(dataWords, pointerCount);
    /// <summary>Allocates a new struct of a generated type for pointer <paramref name="index"/>.</summary>
    public T InitStruct<T>(int index) where T : IStructBuilder<T> => T.Create(InitStruct(index, T.DataWords, T.PointerCount));
    /// <summary>Returns the struct at pointer <paramref name="index"/>, initializing it when null (from <paramref name="defaultValue"/> when given, see <see cref="AnyPointerBuilder.GetStruct(ushort, ushort, ReadOnlySpan{byte})"/>).</summary>
    public StructBuilder GetStruct(int index, ushort dataWords, ushort pointerCount, ReadOnlySpan<byte> defaultValue = default)
        => GetAnyPointer(index).GetStruct(dataWords, pointerCount, defaultValue);
    /// <summary>Returns the struct of a generated type at pointer <paramref name="index"/>, initializing it when null (from <paramref name="defaultValue"/> when given).</summary>
    public T GetStruct<T>(int index, ReadOnlySpan<byte> defaultValue = default) where T : IStructBuilder<T>
        => T.Create(GetStruct(index, T.DataWords, T.PointerCount, defaultValue));
    /// <summary>Returns the struct list at pointer <paramref name="index"/>, upgraded to at least the element sizes of <typeparamref name="T"/> (see <see cref="AnyPointerBuilder.GetStructList(ushort, ushort, ReadOnlySpan{byte})"/>).</summary>
    public ListOfStructsBuilder<T> GetStructList<T>(int index, ReadOnlySpan<byte> defaultValue = default) where T : IStructBuilder<T>
        => GetAnyPointer(index).GetStructList<T>(defaultValue);
    /// <summary>Allocates a list of non-struct elements for pointer <paramref name="index"/>.</summary>
    public ListBuilder InitList(int index, ElementSize size, int count) => GetAnyPointer(index).InitList(size, count);
    /// <summary>Allocates a struct list for pointer <paramref name="index"/>.</summary>
    public ListBuilder InitStructList(int index, int count, ushort dataWords, ushort pointerCount) => GetAnyPointer(index).InitStructList(count, dataWords, pointerCount);
    /// <summary>Allocates a struct list of a generated type for pointer <paramref name="index"/>.</summary>
    public ListOfStructsBuilder<T> InitStructList<T>(int index, int count) where T : IStructBuilder<T>
        => new(InitStructList(index, count, T.DataWords, T.PointerCount));
    /// <summary>Returns the existing list at pointer <paramref name="index"/>; when null, a copy of <paramref name="defaultValue"/> when given, else <c>default</c>.</summary>
    public ListBuilder GetList(int index, ReadOnlySpan<byte> defaultValue = default) => GetAnyPointer(index).GetList(defaultValue);
    /// <summary>Writes a Text field (null clears it).</summary>
    public void WriteText(int index, string? value) => GetAnyPointer(index).SetText(value);
    /// <summary>Writes a Text field from UTF-8 bytes.</summary>
    public void WriteText(int index, ReadOnlySpan<byte> utf8) => GetAnyPointer(index).SetText(utf8);
    /// <summary>Writes a Data field.</summary>
    public void WriteData(int index, ReadOnlySpan<byte> value) => GetAnyPointer(index).SetData(value);
    /// <summary>Allocates a Data field of <paramref name="length"/> bytes for filling in place.</summary>
    public Memory<byte> InitData(int index, int length) => GetAnyPointer(index).InitData(length);
    /// <summary>Writes a capability pointer.</summary>
    public void WriteCapabilityIndex(int index, uint capIndex) => GetAnyPointer(index).SetCapabilityIndex(capIndex);
    /// <summary>Sets pointer <paramref name="index"/> to null.</summary>
    public void ClearPointer(int index) => GetAnyPointer(index).Clear();
    /// <summary>Deep-copies a struct into pointer <paramref name="index"/>.</summary>
    public void CopyFrom(int index, StructReader value) => GetAnyPointer(index).SetStruct(value);
    /// <summary>Deep-copies a list into pointer <paramref name="index"/>.</summary>
    public void CopyFrom(int index, ListReader value) => GetAnyPointer(index).SetList(value);
    /// <summary>Deep-copies any pointer into pointer <paramref name="index"/>.</summary>
    public void CopyFrom(int index, AnyPointerReader value) => GetAnyPointer(index).Set(value);

    /// <summary>Reads back a struct field (no copy).</summary>
    public StructReader ReadStruct(int index, ReadOnlySpan<byte> defaultValue = default) => AsReader().ReadStruct(index, defaultValue);
    /// <summary>Reads back a list field (no copy).</summary>
    public ListReader ReadList(int index, ReadOnlySpan<byte> defaultValue = default) => AsReader().ReadList(index, defaultValue);
    /// <summary>Reads back any pointer field.</summary>
    public AnyPointerReader ReadAnyPointer(int index) => AsReader().ReadAnyPointer(index);
    /// <summary>Reads back Text.</summary>
    public string ReadText(int index, string? defaultValue = null) => AsReader().ReadText(index, defaultValue);
    /// <summary>Reads back Data (no copy).</summary>
    public ReadOnlyMemory<byte> ReadData(int index, ReadOnlySpan<byte> defaultValue = default) => AsReader().ReadData(index, defaultValue);
    /// <summary>Reads back a capability index.</summary>
    public uint? ReadCapabilityIndex(int index) => AsReader().ReadCapabilityIndex(index);

    /// <summary>A reader over this struct (no copy).</summary>
    public StructReader AsReader()
        => Message is null ? default : new StructReader(Message.ReaderView, Segment, DataOffset, Data * 64, Pointers, int.MaxValue);

    /// <summary>Copies all fields of <paramref name="source"/> (data and deep-copied pointers) into this struct, truncating to this struct's sizes.</summary>
    public void CopyContentFrom(StructReader source)
    {
        var d = source.DataSection;
        var dst = DataSection;
        dst.Clear();
        d.Slice(0, Math.Min(d.Length, dst.Length)).CopyTo(dst);
        int n = Math.Min(Pointers, source.PointerCount);
        for (int i = 0; i < Pointers; i++)
        {
            if (i < n) CopyFrom(i, source.ReadAnyPointer(i)); else ClearPointer(i);
        }
    }
}

/// <summary>Trivial <see cref="IStructBuilder{TSelf}"/> over a raw builder (sizes unknown: 0/0).</summary>
public readonly struct StructBuilderWrapper : IStructBuilder<StructBuilderWrapper>
{
    private readonly StructBuilder _b;
    private StructBuilderWrapper(StructBuilder b) => _b = b;
    /// <inheritdoc/>
    public static StructBuilderWrapper Create(StructBuilder builder) => new(builder);
    /// <inheritdoc/>
    public static ushort DataWords => 0;
    /// <inheritdoc/>
    public static ushort PointerCount => 0;
    /// <inheritdoc/>
    public StructBuilder Raw => _b;
    /// <summary>Implicit conversion to the raw builder.</summary>
    public static implicit operator StructBuilder(StructBuilderWrapper w) => w._b;
}
