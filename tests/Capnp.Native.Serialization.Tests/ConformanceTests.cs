using System.Text;

namespace Capnp.Native.Serialization.Tests;

public class ConformanceTests
{
    internal const string AllText = """
    ( voidField = void, boolField = true, int8Field = -12, int16Field = -1234, int32Field = -123456789,
      int64Field = -1234567890123456789, uint8Field = 234, uint16Field = 45678, uint32Field = 3456789012,
      uint64Field = 12345678901234567890, float32Field = 1234.5, float64Field = -1.25e-200,
      textField = "hello wörld", dataField = "\x00\x01\xfe\xff", 
      structField = ( int32Field = 42, textField = "nested", structField = ( int8Field = 3 ) ),
      enumField = baz,
      voidList = [void, void, void], boolList = [true, false, true, true, false, false, false, false, true],
      int8List = [1, -2, 127], int16List = [300, -300], int32List = [100000, -100000, 7], int64List = [1, -9223372036854775808],
      uint8List = [0, 255], uint16List = [65535, 1], uint32List = [4294967295], uint64List = [18446744073709551615, 0],
      float32List = [1.5, -0.25], float64List = [3.25, 1e300],
      textList = ["a", "", "ccc"], dataList = ["\x01\x02", ""],
      structList = [ (int32Field = 1, textField = "s1"), (int32Field = 2, int8List = [9]) ],
      enumList = [qux, foo, bar],
      nestedList = [[1, 2], [], [3]],
      unionText = "in union",
      grp = (gx = 777, gy = "group text") )
    """;

    internal static void AssertAll(StructReader r)
    {
        Assert.True(r.ReadBool(TestAll.Bool));
        Assert.Equal(-12, r.ReadInt8(TestAll.Int8));
        Assert.Equal(-1234, r.ReadInt16(TestAll.Int16));
        Assert.Equal(-123456789, r.ReadInt32(TestAll.Int32));
        Assert.Equal(-1234567890123456789, r.ReadInt64(TestAll.Int64));
        Assert.Equal(234, r.ReadUInt8(TestAll.UInt8));
        Assert.Equal(45678, r.ReadUInt16(TestAll.UInt16));
        Assert.Equal(3456789012u, r.ReadUInt32(TestAll.UInt32));
        Assert.Equal(12345678901234567890ul, r.ReadUInt64(TestAll.UInt64));
        Assert.Equal(1234.5f, r.ReadFloat32(TestAll.Float32));
        Assert.Equal(-1.25e-200, r.ReadFloat64(TestAll.Float64));
        Assert.Equal("hello wörld", r.ReadText(TestAll.Text));
        Assert.Equal(Encoding.UTF8.GetBytes("hello wörld"), r.ReadTextBytes(TestAll.Text).ToArray());
        Assert.Equal(new byte[] { 0, 1, 0xfe, 0xff }, r.ReadData(TestAll.Data).ToArray());
        var s = r.ReadStruct(TestAll.Struct);
        Assert.Equal(42, s.ReadInt32(TestAll.Int32));
        Assert.Equal("nested", s.ReadText(TestAll.Text));
        Assert.Equal(3, s.ReadStruct(TestAll.Struct).ReadInt8(TestAll.Int8));
        Assert.True(s.ReadStruct(TestAll.Struct).ReadStruct(TestAll.Struct).IsNull);
        Assert.Equal(TestEnum.Baz, r.ReadEnum<TestEnum>(TestAll.Enum));
        Assert.Equal(3, r.ReadList(TestAll.VoidList).Count);
        Assert.Equal(ElementSize.Void, r.ReadList(TestAll.VoidList).ElementSize);
        Assert.Equal(new[] { true, false, true, true, false, false, false, false, true }, r.ReadList(TestAll.BoolList).AsBits().ToArray());
        Assert.Equal(new sbyte[] { 1, -2, 127 }, r.ReadList(TestAll.Int8List).AsPrimitives<sbyte>().ToArray());
        Assert.Equal(new short[] { 300, -300 }, r.ReadList(TestAll.Int16List).AsPrimitives<short>().ToArray());
        Assert.Equal(new[] { 100000, -100000, 7 }, r.ReadList(TestAll.Int32List).AsPrimitives<int>().ToArray());
        Assert.Equal(new[] { 1L, long.MinValue }, r.ReadList(TestAll.Int64List).AsPrimitives<long>().ToArray());
        Assert.Equal(new byte[] { 0, 255 }, r.ReadList(TestAll.UInt8List).AsPrimitives<byte>().ToArray());
        Assert.Equal(new ushort[] { 65535, 1 }, r.ReadList(TestAll.UInt16List).AsPrimitives<ushort>().ToArray());
        Assert.Equal(new[] { 4294967295u }, r.ReadList(TestAll.UInt32List).AsPrimitives<uint>().ToArray());
        Assert.Equal(new[] { ulong.MaxValue, 0ul }, r.ReadList(TestAll.UInt64List).AsPrimitives<ulong>().ToArray());
        Assert.Equal(new[] { 1.5f, -0.25f }, r.ReadList(TestAll.Float32List).AsPrimitives<float>().ToArray());
        Assert.Equal(new[] { 3.25, 1e300 }, r.ReadList(TestAll.Float64List).AsPrimitives<double>().ToArray());
        Assert.True(r.ReadList(TestAll.Int32List).AsPrimitives<int>().TryGetSpan(out var span) && span.Length == 3 && span[2] == 7);
        Assert.Equal(new[] { "a", "", "ccc" }, r.ReadList(TestAll.TextList).AsTextList().ToArray());
        var dl = r.ReadList(TestAll.DataList).AsDataList();
        Assert.Equal(2, dl.Count);
        Assert.Equal(new byte[] { 1, 2 }, dl[0].ToArray());
        Assert.Equal(0, dl[1].Length);
        var sl = r.ReadList(TestAll.StructList).AsStructs();
        Assert.Equal(2, sl.Count);
        Assert.Equal(1, sl[0].Raw.ReadInt32(TestAll.Int32));
        Assert.Equal("s1", sl[0].Raw.ReadText(TestAll.Text));
        Assert.Equal(2, sl[1].Raw.ReadInt32(TestAll.Int32));
        Assert.Equal(new sbyte[] { 9 }, sl[1].Raw.ReadList(TestAll.Int8List).AsPrimitives<sbyte>().ToArray());
        Assert.Equal(new[] { TestEnum.Qux, TestEnum.Foo, TestEnum.Bar }, r.ReadList(TestAll.EnumList).AsEnums<TestEnum>().ToArray());
        var nl = r.ReadList(TestAll.NestedList).AsLists();
        Assert.Equal(3, nl.Count);
        Assert.Equal(new[] { 1, 2 }, nl[0].AsPrimitives<int>().ToArray());
        Assert.Equal(0, nl[1].Count);
        Assert.Equal(new[] { 3 }, nl[2].AsPrimitives<int>().ToArray());
        Assert.Equal(1, r.Which(TestAll.UnionDisc));
        Assert.Equal("in union", r.ReadText(TestAll.UnionText));
        Assert.Equal(777, r.ReadUInt16(TestAll.GrpX));
        Assert.Equal("group text", r.ReadText(TestAll.GrpY));
        Assert.True(r.ReadAnyPointer(TestAll.Any).IsNull);
        Assert.True(r.ReadAnyPointer(TestAll.Text).IsList);
        Assert.True(r.ReadAnyPointer(TestAll.Struct).IsStruct);
        Assert.Equal(42, r.ReadAnyPointer(TestAll.Struct).AsStruct().ReadInt32(TestAll.Int32));
        Assert.Equal("hello wörld", r.ReadAnyPointer(TestAll.Text).AsText());
    }

    internal static void BuildAll(StructBuilder b)
    {
        b.WriteBool(TestAll.Bool, true);
        b.WriteInt8(TestAll.Int8, -12);
        b.WriteInt16(TestAll.Int16, -1234);
        b.WriteInt32(TestAll.Int32, -123456789);
        b.WriteInt64(TestAll.Int64, -1234567890123456789);
        b.WriteUInt8(TestAll.UInt8, 234);
        b.WriteUInt16(TestAll.UInt16, 45678);
        b.WriteUInt32(TestAll.UInt32, 3456789012);
        b.WriteUInt64(TestAll.UInt64, 12345678901234567890);
        b.WriteFloat32(TestAll.Float32, 1234.5f);
        b.WriteFloat64(TestAll.Float64, -1.25e-200);
        b.WriteText(TestAll.Text, "hello wörld");
        b.WriteData(TestAll.Data, new byte[] { 0, 1, 0xfe, 0xff });
        var s = b.InitStruct(TestAll.Struct, TestAll.DataWords, TestAll.PointerCount);
        s.WriteInt32(TestAll.Int32, 42);
        s.WriteText(TestAll.Text, "nested");
        s.InitStruct(TestAll.Struct, TestAll.DataWords, TestAll.PointerCount).WriteInt8(TestAll.Int8, 3);
        b.WriteEnum(TestAll.Enum, TestEnum.Baz);
        b.InitList(TestAll.VoidList, ElementSize.Void, 3);
        var bl = b.InitList(TestAll.BoolList, ElementSize.Bit, 9).AsBits();
        bool[] bools = { true, false, true, true, false, false, false, false, true };
        for (int i = 0; i < bools.Length; i++) bl[i] = bools[i];
        Fill(b.InitList(TestAll.Int8List, ElementSize.Byte, 3).AsPrimitives<sbyte>(), new sbyte[] { 1, -2, 127 });
        Fill(b.InitList(TestAll.Int16List, ElementSize.TwoBytes, 2).AsPrimitives<short>(), new short[] { 300, -300 });
        Fill(b.InitList(TestAll.Int32List, ElementSize.FourBytes, 3).AsPrimitives<int>(), new[] { 100000, -100000, 7 });
        Fill(b.InitList(TestAll.Int64List, ElementSize.EightBytes, 2).AsPrimitives<long>(), new[] { 1L, long.MinValue });
        Fill(b.InitList(TestAll.UInt8List, ElementSize.Byte, 2).AsPrimitives<byte>(), new byte[] { 0, 255 });
        Fill(b.InitList(TestAll.UInt16List, ElementSize.TwoBytes, 2).AsPrimitives<ushort>(), new ushort[] { 65535, 1 });
        Fill(b.InitList(TestAll.UInt32List, ElementSize.FourBytes, 1).AsPrimitives<uint>(), new[] { 4294967295u });
        Fill(b.InitList(TestAll.UInt64List, ElementSize.EightBytes, 2).AsPrimitives<ulong>(), new[] { ulong.MaxValue, 0ul });
        Fill(b.InitList(TestAll.Float32List, ElementSize.FourBytes, 2).AsPrimitives<float>(), new[] { 1.5f, -0.25f });
        new[] { 3.25, 1e300 }.CopyTo(b.InitList(TestAll.Float64List, ElementSize.EightBytes, 2).AsSpan<double>());
        var tl = b.InitList(TestAll.TextList, ElementSize.Pointer, 3).AsTextList();
        tl[0] = "a"; tl[1] = ""; tl[2] = "ccc";
        var dl = b.InitList(TestAll.DataList, ElementSize.Pointer, 2).AsDataList();
        dl[0] = new byte[] { 1, 2 }; dl[1] = Array.Empty<byte>();
        var sl = b.InitStructList(TestAll.StructList, 2, TestAll.DataWords, TestAll.PointerCount);
        sl.GetStruct(0).WriteInt32(TestAll.Int32, 1);
        sl.GetStruct(0).WriteText(TestAll.Text, "s1");
        sl.GetStruct(1).WriteInt32(TestAll.Int32, 2);
        sl.GetStruct(1).InitList(TestAll.Int8List, ElementSize.Byte, 1).Set<sbyte>(0, 9);
        var el = b.InitList(TestAll.EnumList, ElementSize.TwoBytes, 3).AsEnums<TestEnum>();
        el[0] = TestEnum.Qux; el[1] = TestEnum.Foo; el[2] = TestEnum.Bar;
        var nl = b.InitList(TestAll.NestedList, ElementSize.Pointer, 3).AsLists();
        Fill(nl.Init(0, ElementSize.FourBytes, 2).AsPrimitives<int>(), new[] { 1, 2 });
        nl.Init(1, ElementSize.FourBytes, 0);
        Fill(nl.Init(2, ElementSize.FourBytes, 1).AsPrimitives<int>(), new[] { 3 });
        b.SetWhich(TestAll.UnionDisc, 1);
        b.WriteText(TestAll.UnionText, "in union");
        b.WriteUInt16(TestAll.GrpX, 777);
        b.WriteText(TestAll.GrpY, "group text");
    }

    private static void Fill<T>(ListOfPrimitivesBuilder<T> l, T[] values) where T : unmanaged
    {
        for (int i = 0; i < values.Length; i++) l[i] = values[i];
    }

    [Theory]
    [InlineData(false, null)]
    [InlineData(true, null)]
    [InlineData(false, 1)]   // tiny segments: capnp emits far pointers everywhere
    [InlineData(false, 7)]
    public void ReaderSeesEveryValueEncodedByCapnp(bool packed, int? segmentSize)
    {
        var bytes = CapnpTool.Encode("TestAll", AllText, packed, segmentSize);
        var msg = packed ? MessageReader.FromPacked(bytes) : MessageReader.FromFramed(bytes);
        if (segmentSize == 1) Assert.True(msg.SegmentCount > 10);
        AssertAll(msg.Root);
    }

    public static IEnumerable<object[]> BuilderConfigs() => new[]
    {
        new object[] { 1024, AllocationStrategy.GrowHeuristically },
        new object[] { 1, AllocationStrategy.FixedSize },
        new object[] { 2, AllocationStrategy.FixedSize },
        new object[] { 3, AllocationStrategy.GrowHeuristically },
    };

    [Theory]
    [MemberData(nameof(BuilderConfigs))]
    public void BuilderOutputDecodesToSameTextAsCapnp(int firstSegment, AllocationStrategy strategy)
    {
        string expected = CapnpTool.Decode("TestAll", CapnpTool.Encode("TestAll", AllText));
        using var mb = new MessageBuilder(new BuilderOptions { FirstSegmentWords = firstSegment, Strategy = strategy });
        BuildAll(mb.InitRoot(TestAll.DataWords, TestAll.PointerCount));
        if (firstSegment == 1) Assert.True(mb.SegmentCount > 10);
        var framed = mb.ToFramedArray();
        Assert.Equal(expected, CapnpTool.Decode("TestAll", framed));
        Assert.Equal(expected, CapnpTool.Decode("TestAll", mb.ToPackedArray(), packed: true));
        var ms = new MemoryStream();
        mb.WritePackedTo(ms);
        Assert.Equal(expected, CapnpTool.Decode("TestAll", ms.ToArray(), packed: true));
        // and our own reader reads our output, framed, packed, from segments, and as a builder view
        AssertAll(MessageReader.FromFramed(framed).Root);
        AssertAll(MessageReader.FromPacked(mb.ToPackedArray()).Root);
        AssertAll(MessageReader.FromSegments(mb.GetSegments()).Root);
        AssertAll(mb.AsReader().Root);
        AssertAll(mb.Root.AsReader().AsStruct());
    }

    [Theory]
    [InlineData(null)]
    [InlineData(1)]
    public void CanonicalFormMatchesCapnpConvert(int? segmentSize)
    {
        var bytes = CapnpTool.Encode("TestAll", AllText, segmentSize: segmentSize);
        var expected = CapnpTool.Canonical(bytes);
        var ours = Canonicalizer.Canonicalize(MessageReader.FromFramed(bytes).Root);
        Assert.Equal(expected, ours);
        Assert.True(Canonicalizer.IsCanonical(ours));
        var small = CapnpTool.Encode("TestAll", "(int32Field = 1)"); // untruncated 7-word data section
        Assert.False(Canonicalizer.IsCanonical(small.AsMemory(8)));
        Assert.True(Canonicalizer.IsCanonical(CapnpTool.Canonical(small)));
    }

    [Fact]
    public void CanonicalFormOfOurMultiSegmentBuildMatchesCapnp()
    {
        using var mb = new MessageBuilder(new BuilderOptions { FirstSegmentWords = 1, Strategy = AllocationStrategy.FixedSize });
        BuildAll(mb.InitRoot(TestAll.DataWords, TestAll.PointerCount));
        var framed = mb.ToFramedArray();
        Assert.Equal(CapnpTool.Canonical(framed), Canonicalizer.Canonicalize(MessageReader.FromFramed(framed).Root));
    }

    [Fact]
    public void PackingMatchesCapnpBothWays()
    {
        var unpacked = CapnpTool.Encode("TestAll", AllText);
        var packedByCapnp = CapnpTool.Run(unpacked, "convert", "binary:packed");
        Assert.Equal(unpacked, Packing.Unpack(packedByCapnp));
        Assert.Equal(packedByCapnp, Packing.Pack(unpacked));
    }

    [Fact]
    public void PackedRunsCrossingTheSegmentTableAreAccepted()
    {
        // two segments, the second empty: the table's last word is zero and the zero run continues into segment 0
        var framed = new byte[8 + 8 + 3 * 8];
        framed[0] = 1; framed[4] = 3; // segment 0: 3 words (null root + 2 zero words), segment 1: 0 words
        var packed = Packing.Pack(framed);
        Assert.Equal(new byte[] { 0x11, 1, 3, 0, 3 }, packed); // one tag word, then a zero run of 3 more words
        var m = MessageReader.FromPacked(packed);
        Assert.Equal(2, m.SegmentCount);
        Assert.True(m.Root.IsNull);
        Assert.Equal(framed, Packing.UnpackMessage(packed, out int used));
        Assert.Equal(packed.Length, used);
        // (capnp 0.9.2 itself rejects runs crossing a segment boundary and never writes them; we accept them.)
    }

    [Fact]
    public void EmptyDefaultsStructReadsAllDefaults()
    {
        var bytes = CapnpTool.Encode("TestDefaults", "()");
        AssertDefaults(MessageReader.FromFramed(bytes).Root);
        AssertDefaults(default); // default(StructReader) is an all-defaults struct
    }

    private static byte[] ConstSegment(string name)
    {
        if (name == "defInner")
        {
            var framed = CapnpTool.EvalConst(name);
            return framed.AsSpan(8).ToArray(); // single segment: strip the 8-byte segment table
        }
        // capnp eval -b only emits structs: take the list out of a holder constant
        var holder = MessageReader.FromFramed(CapnpTool.EvalConst("defHolder")).Root;
        using var mb = new MessageBuilder();
        mb.Root.Set(holder.ReadAnyPointer(name == "defInts" ? 0 : 2));
        Assert.Equal(1, mb.SegmentCount);
        return mb.GetSegments()[0].ToArray();
    }

    private static void AssertDefaults(StructReader r)
    {
        Assert.True(r.ReadBool(TestDefaults.Bool, true));
        Assert.Equal(-123, r.ReadInt8(TestDefaults.Int8, -123));
        Assert.Equal(-12345, r.ReadInt16(TestDefaults.Int16, -12345));
        Assert.Equal(-12345678, r.ReadInt32(TestDefaults.Int32, -12345678));
        Assert.Equal(-123456789012345, r.ReadInt64(TestDefaults.Int64, -123456789012345));
        Assert.Equal(234, r.ReadUInt8(TestDefaults.UInt8, 234));
        Assert.Equal(45678, r.ReadUInt16(TestDefaults.UInt16, 45678));
        Assert.Equal(3456789012u, r.ReadUInt32(TestDefaults.UInt32, 3456789012));
        Assert.Equal(12345678901234567890ul, r.ReadUInt64(TestDefaults.UInt64, 12345678901234567890));
        Assert.Equal(1234.5f, r.ReadFloat32(TestDefaults.Float32, 1234.5f));
        Assert.Equal(-123e45, r.ReadFloat64(TestDefaults.Float64, -123e45));
        Assert.Equal("foo", r.ReadText(TestDefaults.Text, "foo"));
        Assert.Equal("bar"u8.ToArray(), r.ReadData(TestDefaults.Data, "bar"u8).ToArray());
        var inner = InnerReader.Create(r.ReadStruct(TestDefaults.Struct, ConstSegment("defInner")));
        Assert.Equal(7, inner.A);
        Assert.Equal("inner default", inner.S);
        Assert.Equal(TestEnum.Baz, r.ReadEnum(TestDefaults.Enum, TestEnum.Baz));
        Assert.Equal(new[] { 1, 2, 3 }, r.ReadList(TestDefaults.Int32List, ConstSegment("defInts")).AsPrimitives<int>().ToArray());
        Assert.Equal(new[] { "x", "yy" }, r.ReadList(TestDefaults.TextList, ConstSegment("defTexts")).AsTextList().ToArray());
    }

    [Fact]
    public void NonDefaultValuesAreXoredAgainstDefaults()
    {
        var bytes = CapnpTool.Encode("TestDefaults", "(boolField = false, int8Field = 0, int32Field = 5, float32Field = 0, enumField = foo, textField = \"\", int32List = [])");
        var r = MessageReader.FromFramed(bytes).Root;
        Assert.False(r.ReadBool(TestDefaults.Bool, true));
        Assert.Equal(0, r.ReadInt8(TestDefaults.Int8, -123));
        Assert.Equal(5, r.ReadInt32(TestDefaults.Int32, -12345678));
        Assert.Equal(0f, r.ReadFloat32(TestDefaults.Float32, 1234.5f));
        Assert.Equal(TestEnum.Foo, r.ReadEnum(TestDefaults.Enum, TestEnum.Baz));
        Assert.Equal("", r.ReadText(TestDefaults.Text, "foo"));
        Assert.Equal(0, r.ReadList(TestDefaults.Int32List, ConstSegment("defInts")).Count);

        // and the builder side: write with defaults, capnp decodes the intended values
        using var mb = new MessageBuilder();
        var b = mb.InitRoot(TestDefaults.DataWords, TestDefaults.PointerCount);
        b.WriteBool(TestDefaults.Bool, false, true);
        b.WriteInt8(TestDefaults.Int8, 0, -123);
        b.WriteInt16(TestDefaults.Int16, -12345, -12345);
        b.WriteInt32(TestDefaults.Int32, 5, -12345678);
        b.WriteFloat32(TestDefaults.Float32, 0, 1234.5f);
        b.WriteFloat64(TestDefaults.Float64, 2.5, -123e45);
        b.WriteEnum(TestDefaults.Enum, TestEnum.Foo, TestEnum.Baz);
        b.WriteUInt64(TestDefaults.UInt64, 1, 12345678901234567890);
        Assert.Equal(5, b.ReadInt32(TestDefaults.Int32, -12345678));
        string text = CapnpTool.Decode("TestDefaults", mb.ToFramedArray());
        Assert.Contains("boolField = false", text);
        Assert.Contains("int8Field = 0", text);
        Assert.Contains("int16Field = -12345", text);
        Assert.Contains("int32Field = 5", text);
        Assert.Contains("float32Field = 0", text);
        Assert.Contains("float64Field = 2.5", text);
        Assert.Contains("enumField = foo", text);
        Assert.Contains("uint64Field = 1,", text);
        Assert.Contains("uint8Field = 234", text);
    }

    [Fact]
    public void ConstantsDecodeFromEval()
    {
        var inner = MessageReader.FromFramed(CapnpTool.EvalConst("defInner")).GetRoot<InnerReader>();
        Assert.Equal(7, inner.A);
        Assert.Equal("inner default", inner.S);
        var holder = MessageReader.FromFramed(CapnpTool.EvalConst("defHolder")).Root;
        Assert.Equal(new[] { "x", "yy" }, holder.ReadList(2).AsTextList().ToArray());
    }

    [Fact]
    public void CapabilitiesAreIndicesIntoTheCapTable()
    {
        using var mb = new MessageBuilder();
        var b = mb.InitRoot(0, 2);
        b.WriteCapabilityIndex(1, 5);
        var caps = b.InitList(0, ElementSize.Pointer, 3).AsCapabilities();
        caps[0] = 2; caps[2] = 0;
        mb.CapTable.Add("x");
        var r = MessageReader.FromFramed(mb.ToFramedArray()).Root;
        Assert.Equal(5u, r.ReadCapabilityIndex(1));
        Assert.True(r.ReadAnyPointer(1).IsCapability);
        var cl = r.ReadList(0).AsCapabilities();
        Assert.Equal(new[] { 2u, ListOfCapabilitiesReader.NullIndex, 0u }, cl.ToArray());
        Assert.Throws<CapnpFormatException>(() => r.ReadStruct(1));
        Assert.Throws<CapnpFormatException>(() => r.ReadList(1));
        Assert.Null(new MessageBuilder().InitRoot(0, 1).AsReader().ReadCapabilityIndex(0));
    }

    private sealed class CountedReference(string name) : ICapabilityReference
    {
        public string Name { get; } = name;
        public int Duplicates { get; private set; }
        public object DuplicateReference() { Duplicates++; return new CountedReference(Name + "'"); }
    }

    [Fact]
    public void CopyingCarriesCapabilitiesIntoTheDestinationsCapTable()
    {
        using var source = new MessageBuilder();
        var counted = new CountedReference("engine");
        source.CapTable.Add("shared");
        source.CapTable.Add(counted);
        var root = source.InitRoot(0, 3);
        root.WriteCapabilityIndex(0, 1);
        var list = root.InitList(1, ElementSize.Pointer, 3).AsCapabilities();
        list[0] = 0; list[1] = 7; list[2] = ListOfCapabilitiesReader.NullIndex;
        var reader = source.AsReader();
        reader.CapTable = source.CapTable.ToList();  // as a received message's table

        using var destination = new MessageBuilder();
        destination.CapTable.Add("already there");
        destination.SetRoot(reader.Root);

        var copy = destination.AsReader().Root;
        // A counted reference is duplicated; a shared entry is carried as it is.
        Assert.Equal(1, counted.Duplicates);
        Assert.Equal("engine'", Assert.IsType<CountedReference>(destination.CapTable[(int)copy.ReadCapabilityIndex(0)!.Value]).Name);
        var copiedList = copy.ReadList(1).AsCapabilities();
        Assert.Equal("shared", destination.CapTable[(int)copiedList[0]]);
        // An index the source's table does not have becomes null, never another entry.
        Assert.Equal(ListOfCapabilitiesReader.NullIndex, copiedList[1]);
        Assert.Equal(ListOfCapabilitiesReader.NullIndex, copiedList[2]);
        Assert.Equal(3, destination.CapTable.Count);
    }

    [Fact]
    public void CopyingWithoutASourceCapTableKeepsIndices()
    {
        using var source = new MessageBuilder();
        source.InitRoot(0, 1).WriteCapabilityIndex(0, 4);
        var reader = MessageReader.FromFramed(source.ToFramedArray());

        using var destination = new MessageBuilder();
        destination.SetRoot(reader.Root);

        Assert.Equal(4u, destination.AsReader().Root.ReadCapabilityIndex(0));
        Assert.Empty(destination.CapTable);
    }

    [Theory]
    [InlineData(1_000_003)]
    [InlineData(1_048_576)]
    public void LargeBlobsInFreshSegmentsCarryNoStaleBytes(int length)
    {
        // A first message leaves non-zero buffers in the pool for the second to rent.
        using (var dirty = new MessageBuilder())
        {
            // The same shape, so the same pool buckets: every byte non-zero.
            var filled = new byte[length + 7];
            Array.Fill(filled, (byte)0xEE);
            var dirtyRoot = dirty.InitRoot(0, 2);
            dirtyRoot.WriteData(0, filled);
            dirtyRoot.WriteText(1, new string('\u00ee', 70_001));
        }

        using var builder = new MessageBuilder();
        var payload = Enumerable.Range(0, length).Select(i => (byte)(i * 7)).ToArray();
        var root = builder.InitRoot(0, 2);
        root.WriteData(0, payload);
        root.WriteText(1, new string('t', 70_001));

        var framed = builder.ToFramedArray();
        var reader = MessageReader.FromFramed(framed).Root;
        Assert.True(reader.ReadData(0).Span.SequenceEqual(payload));
        Assert.Equal(new string('t', 70_001), reader.ReadText(1));
        // Every byte outside the blobs' content is exactly what a cleared builder writes.
        using var reference = new MessageBuilder();
        var referenceRoot = reference.InitRoot(0, 2);
        payload.CopyTo(referenceRoot.InitData(0, length).Span);
        referenceRoot.WriteText(1, new string('t', 70_001));
        Assert.Equal(reference.ToFramedArray(), framed);
    }

    [Fact]
    public void DeepCopyPreservesEverything()
    {
        var bytes = CapnpTool.Encode("TestAll", AllText, segmentSize: 3);
        var src = MessageReader.FromFramed(bytes);
        using var mb = new MessageBuilder(new BuilderOptions { FirstSegmentWords = 2, Strategy = AllocationStrategy.FixedSize });
        mb.SetRoot(src.Root);
        AssertAll(mb.AsReader().Root);
        using var mb2 = new MessageBuilder();
        var root = mb2.InitRoot(TestAll.DataWords, TestAll.PointerCount);
        root.CopyFrom(TestAll.Struct, src.Root);
        root.CopyFrom(TestAll.StructList, src.Root.ReadList(TestAll.StructList));
        root.CopyFrom(TestAll.Any, src.Root.ReadAnyPointer(TestAll.NestedList));
        var rr = mb2.AsReader().Root;
        AssertAll(rr.ReadStruct(TestAll.Struct));
        Assert.Equal("s1", rr.ReadList(TestAll.StructList).AsStructs()[0].Raw.ReadText(TestAll.Text));
        Assert.Equal(new[] { 1, 2 }, rr.ReadAnyPointer(TestAll.Any).AsList().AsLists()[0].AsPrimitives<int>().ToArray());
        Assert.Equal(CapnpTool.Canonical(bytes), Canonicalizer.Canonicalize(mb.AsReader().Root));
    }

    [Fact]
    public void GeneratedStyleTypesWork()
    {
        using var mb = new MessageBuilder();
        var inner = mb.InitRoot<InnerBuilder>();
        inner.A = 99; inner.S = "typed";
        var ib = inner.Raw; // also typed struct lists
        var r = mb.AsReader().GetRoot<InnerReader>();
        Assert.Equal(99, r.A);
        Assert.Equal("typed", r.S);
        Assert.Contains("a = 99", CapnpTool.Decode("Inner", mb.ToFramedArray()));

        using var mb2 = new MessageBuilder();
        var h = mb2.InitRoot(0, 4);
        var l = h.InitStructList<InnerBuilder>(1, 2);
        var e0 = l[0]; e0.A = 1; var e1 = l[1]; e1.S = "two";
        var hr = MessageReader.FromFramed(mb2.ToFramedArray()).Root.ReadList(1).AsStructs<InnerReader>();
        Assert.Equal(1, hr[0].A);
        Assert.Equal("two", hr[1].S);
        int sum = 0;
        foreach (var e in hr) sum += e.A;
        Assert.Equal(1, sum);
        Assert.Contains("structs = [(a = 1), (a = 0, s = \"two\")]", CapnpTool.Decode("UpgradeHolder", mb2.ToFramedArray()));
    }
}
