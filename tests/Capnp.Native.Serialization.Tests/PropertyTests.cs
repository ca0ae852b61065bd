using CsCheck;

namespace Capnp.Native.Serialization.Tests;

public class PropertyTests
{
    public sealed record Sample(int I32, long I64, double F64, bool B, string Text, byte[] Data, int[] Ints, string[] Texts, bool[] Bools, (int A, string S)[] Inners, int FirstSegment);

    private static readonly Gen<Sample> Samples =
        from i32 in Gen.Int
        from i64 in Gen.Long
        from f64 in Gen.Double
        from b in Gen.Bool
        from text in Gen.String
        from data in Gen.Byte.Array[0, 300]
        from ints in Gen.Int.Array[0, 50]
        from texts in Gen.String.Array[0, 10]
        from bools in Gen.Bool.Array[0, 70]
        from inners in Gen.Select(Gen.Int, Gen.String).Array[0, 10]
        from first in Gen.Int[1, 64]
        select new Sample(i32, i64, f64, b, text, data, ints, texts, bools, inners, first);

    private static void Build(StructBuilder r, Sample s)
    {
        r.WriteInt32(TestAll.Int32, s.I32);
        r.WriteInt64(TestAll.Int64, s.I64);
        r.WriteFloat64(TestAll.Float64, s.F64);
        r.WriteBool(TestAll.Bool, s.B);
        r.WriteText(TestAll.Text, s.Text);
        r.WriteData(TestAll.Data, s.Data);
        s.Ints.CopyTo(r.InitList(TestAll.Int32List, ElementSize.FourBytes, s.Ints.Length).AsSpan<int>());
        var tl = r.InitList(TestAll.TextList, ElementSize.Pointer, s.Texts.Length).AsTextList();
        for (int i = 0; i < s.Texts.Length; i++) tl[i] = s.Texts[i];
        var bl = r.InitList(TestAll.BoolList, ElementSize.Bit, s.Bools.Length).AsBits();
        for (int i = 0; i < s.Bools.Length; i++) bl[i] = s.Bools[i];
        var il = r.InitStructList<InnerBuilder>(TestAll.StructList, s.Inners.Length);
        for (int i = 0; i < s.Inners.Length; i++) { var e = il[i]; e.A = s.Inners[i].A; e.S = s.Inners[i].S; }
    }

    private static void Check(StructReader r, Sample s)
    {
        Assert.Equal(s.I32, r.ReadInt32(TestAll.Int32));
        Assert.Equal(s.I64, r.ReadInt64(TestAll.Int64));
        Assert.Equal(BitConverter.DoubleToInt64Bits(s.F64), BitConverter.DoubleToInt64Bits(r.ReadFloat64(TestAll.Float64)));
        Assert.Equal(s.B, r.ReadBool(TestAll.Bool));
        Assert.Equal(s.Text, r.ReadText(TestAll.Text));
        Assert.Equal(s.Data, r.ReadData(TestAll.Data).ToArray());
        Assert.Equal(s.Ints, r.ReadList(TestAll.Int32List).AsPrimitives<int>().ToArray());
        Assert.Equal(s.Texts, r.ReadList(TestAll.TextList).AsTextList().ToArray());
        Assert.Equal(s.Bools, r.ReadList(TestAll.BoolList).AsBits().ToArray());
        var il = r.ReadList(TestAll.StructList).AsStructs<InnerReader>();
        Assert.Equal(s.Inners, il.Select(e => (e.A, e.S)).ToArray());
    }

    [Fact]
    public void BuildSerializeReadRoundTrips()
    {
        Samples.Sample(s =>
        {
            using var mb = new MessageBuilder(new BuilderOptions { FirstSegmentWords = s.FirstSegment, Strategy = s.FirstSegment % 2 == 0 ? AllocationStrategy.FixedSize : AllocationStrategy.GrowHeuristically });
            Build(mb.InitRoot(TestAll.DataWords, TestAll.PointerCount), s);
            Check(MessageReader.FromFramed(mb.ToFramedArray()).Root, s);
            Check(MessageReader.FromPacked(mb.ToPackedArray()).Root, s);
            var ms = new MemoryStream();
            mb.WriteTo(ms);
            ms.Position = 0;
            Check(MessageReader.FromStream(ms).Root, s);
            Check(mb.AsReader().Root, s);
            // canonical form is independent of the segment layout
            using var one = new MessageBuilder(new BuilderOptions { FirstSegmentWords = 100_000 });
            Build(one.InitRoot(TestAll.DataWords, TestAll.PointerCount), s);
            Assert.Equal(Canonicalizer.Canonicalize(one.AsReader().Root), Canonicalizer.Canonicalize(mb.AsReader().Root));
        }, iter: 300);
    }

    [Fact]
    public void PackUnpackRoundTrips()
    {
        Gen.Select(Gen.Byte[0, 3], Gen.Byte).Array[0, 400].Select(a => a.Select(t => t.Item1 == 0 ? (byte)0 : t.Item2).ToArray())
            .Sample(bytes =>
            {
                var words = new byte[(bytes.Length + 7) & ~7];
                bytes.CopyTo(words, 0);
                var packed = Packing.Pack(words);
                Assert.Equal(words, Packing.Unpack(packed));
                // A destination of exactly the packed size (smaller than MaxPackedSize) gets the same bytes: near
                // its end, Pack stores only the bytes it keeps.
                var exact = new byte[packed.Length];
                Assert.Equal(packed.Length, Packing.Pack(words, exact));
                Assert.Equal(packed, exact);
                Assert.True(packed.Length <= words.Length + words.Length / 8 / 255 * 2 + 10 + words.Length / 8 * 2);
            }, iter: 500);
    }

    [Fact]
    public void PackingOfRandomMessagesMatchesCapnp()
    {
        // a few samples only: each one runs the capnp tool
        Samples.Sample(s =>
        {
            using var mb = new MessageBuilder(new BuilderOptions { FirstSegmentWords = 100_000 });
            Build(mb.InitRoot(TestAll.DataWords, TestAll.PointerCount), s);
            var framed = mb.ToFramedArray();
            // capnp convert re-lays out the message, so compare packing of its own binary output
            var cppBinary = CapnpTool.Run(framed, "convert", "binary:binary");
            var cppPacked = CapnpTool.Run(framed, "convert", "binary:packed");
            Assert.Equal(cppPacked, Packing.Pack(cppBinary));
            Assert.Equal(cppBinary, Packing.Unpack(cppPacked));
            Check(MessageReader.FromPacked(cppPacked).Root, s);
            Assert.Equal(CapnpTool.Run(framed, "convert", "binary:canonical"), Canonicalizer.Canonicalize(mb.AsReader().Root));
        }, iter: 15);
    }

    [Fact]
    public void RandomValuesEncodedByCapnpAreReadBack()
    {
        var gen =
            from i32 in Gen.Int
            from i64 in Gen.Long
            from u16 in Gen.UShort
            from text in Gen.String[Gen.Char.AlphaNumeric, 0, 30]
            from ints in Gen.Int.Array[0, 20]
            from inners in Gen.Select(Gen.Int, Gen.String[Gen.Char.AlphaNumeric, 0, 10]).Array[0, 6]
            from seg in Gen.Int[1, 16]
            select (i32, i64, u16, text, ints, inners, seg);
        gen.Sample(t =>
        {
            var structs = string.Join(", ", t.inners.Select(e => $"(int32Field = {e.Item1}, textField = \"{e.Item2}\")"));
            var literal = $"(int32Field = {t.i32}, int64Field = {t.i64}, uint16Field = {t.u16}, textField = \"{t.text}\", " +
                          $"int32List = [{string.Join(", ", t.ints)}], structList = [{structs}])";
            var r = MessageReader.FromFramed(CapnpTool.Encode("TestAll", literal, segmentSize: t.seg)).Root;
            Assert.Equal(t.i32, r.ReadInt32(TestAll.Int32));
            Assert.Equal(t.i64, r.ReadInt64(TestAll.Int64));
            Assert.Equal(t.u16, r.ReadUInt16(TestAll.UInt16));
            Assert.Equal(t.text, r.ReadText(TestAll.Text));
            Assert.Equal(t.ints, r.ReadList(TestAll.Int32List).AsPrimitives<int>().ToArray());
            var sl = r.ReadList(TestAll.StructList).AsStructs();
            Assert.Equal(t.inners.Select(e => (e.Item1, e.Item2)).ToArray(),
                sl.Select(e => (e.Raw.ReadInt32(TestAll.Int32), e.Raw.ReadText(TestAll.Text))).ToArray());
        }, iter: 20);
    }
}
