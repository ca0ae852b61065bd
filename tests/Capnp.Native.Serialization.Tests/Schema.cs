namespace Capnp.Native.Serialization.Tests;

/// <summary>Hand-written layout of schemas/test.capnp (offsets taken from `capnp compile -o-` | decode CodeGeneratorRequest).</summary>
internal static class TestAll
{
    public const ushort DataWords = 7, PointerCount = 23;
    // data (offsets in units of the field size; Bool in bits)
    public const int Bool = 0, Int8 = 1, Int16 = 1, Int32 = 1, Int64 = 1, UInt8 = 16, UInt16 = 9, UInt32 = 5, UInt64 = 3,
        Float32 = 8, Float64 = 5, Enum = 18, UnionDisc = 19, UnionInt = 12, GrpX = 26;
    // pointers
    public const int Text = 0, Data = 1, Struct = 2, VoidList = 3, BoolList = 4, Int8List = 5, Int16List = 6, Int32List = 7,
        Int64List = 8, UInt8List = 9, UInt16List = 10, UInt32List = 11, UInt64List = 12, Float32List = 13, Float64List = 14,
        TextList = 15, DataList = 16, StructList = 17, EnumList = 18, NestedList = 19, UnionText = 20, GrpY = 21, Any = 22;
}

internal static class TestDefaults
{
    public const ushort DataWords = 6, PointerCount = 5;
    public const int Bool = 0, Int8 = 1, Int16 = 1, Int32 = 1, Int64 = 1, UInt8 = 16, UInt16 = 9, UInt32 = 5, UInt64 = 3,
        Float32 = 8, Float64 = 5, Enum = 18;
    public const int Text = 0, Data = 1, Struct = 2, Int32List = 3, TextList = 4;
}

internal enum TestEnum : ushort { Foo, Bar, Baz, Qux }

/// <summary>A hand-written "generated" reader/builder pair for Inner, exercising the IStructReader/IStructBuilder contract.</summary>
internal readonly struct InnerReader : IStructReader<InnerReader>
{
    private readonly StructReader _r;
    private InnerReader(StructReader r) => _r = r;
    public static InnerReader Create(StructReader reader) => new(reader);
    public StructReader Raw => _r;
    public int A => _r.ReadInt32(0);
    public string S => _r.ReadText(0);
}

internal readonly struct InnerBuilder : IStructBuilder<InnerBuilder>
{
    private readonly StructBuilder _b;
    private InnerBuilder(StructBuilder b) => _b = b;
    public static InnerBuilder Create(StructBuilder builder) => new(builder);
    public static ushort DataWords => 1;
    public static ushort PointerCount => 1;
    public StructBuilder Raw => _b;
    public int A { get => _b.ReadInt32(0); set => _b.WriteInt32(0, value); }
    public string S { get => _b.ReadText(0); set => _b.WriteText(0, value); }
}

internal static class Walker
{
    /// <summary>Visits every reachable object (like a generic deep read), so hostile input gets fully exercised.</summary>
    public static long Walk(AnyPointerReader p)
    {
        switch (p.Kind)
        {
            case PointerKind.Struct: return WalkStruct(p.AsStruct());
            case PointerKind.List: return WalkList(p.AsList());
            case PointerKind.Capability: return p.AsCapabilityIndex()!.Value;
            default: return 0;
        }
    }

    public static long WalkStruct(StructReader s)
    {
        long n = 1;
        for (int i = 0; i < s.DataWords; i++) n += s.ReadInt64(i) & 1;
        for (int i = 0; i < s.PointerCount; i++) n += Walk(s.ReadAnyPointer(i));
        return n;
    }

    public static long WalkList(ListReader l)
    {
        long n = 1;
        switch (l.ElementSize)
        {
            case ElementSize.InlineComposite:
                for (int i = 0; i < l.Count; i++) n += WalkStruct(l.GetStruct(i));
                break;
            case ElementSize.Pointer:
                for (int i = 0; i < l.Count; i++) n += Walk(l.GetPointer(i));
                break;
            case ElementSize.Bit:
                for (int i = 0; i < l.Count; i++) n += l.GetBool(i) ? 1 : 0;
                break;
            case ElementSize.Void:
                n += l.Count;
                break;
            default:
                for (int i = 0; i < l.Count; i++) n += l.GetPrimitive<byte>(i);
                break;
        }
        return n;
    }
}
