namespace Capnp.Native.Serialization.Tests;

public class EvolutionTests
{
    // OldVersion: old1 Int64 @ data 0, old2 Text @ ptr 0 (1 data word, 1 pointer)
    // NewVersion: + new1 Int64 @ data 1 (default 987), new2 Text @ ptr 1 (default "newdef"), new3 List(Int32) @ ptr 2

    [Fact]
    public void NewReaderOnOldDataSeesDefaultsForNewFields()
    {
        var r = MessageReader.FromFramed(CapnpTool.Encode("OldVersion", "(old1 = 5, old2 = \"x\")")).Root;
        Assert.Equal(1, r.DataWords);
        Assert.Equal(1, r.PointerCount);
        Assert.Equal(5, r.ReadInt64(0));
        Assert.Equal("x", r.ReadText(0));
        Assert.Equal(987, r.ReadInt64(1, 987));
        Assert.Equal("newdef", r.ReadText(1, "newdef"));
        Assert.False(r.HasPointer(2));
        Assert.Empty(r.ReadList(2).AsPrimitives<int>());
        Assert.True(r.ReadStruct(5).IsNull);
        Assert.Null(r.ReadCapabilityIndex(3));
    }

    [Fact]
    public void StructListsEvolveBothWays()
    {
        var r = MessageReader.FromFramed(CapnpTool.Encode("VersionLists",
            "(olds = [(old1 = 1, old2 = \"a\"), (old1 = 2)], news = [(old1 = 3, old2 = \"c\", new1 = 4, new2 = \"d\", new3 = [5])])")).Root;
        // new reader on a list of old elements
        var olds = r.ReadList(0).AsStructs();
        Assert.Equal(2, olds.Count);
        Assert.Equal(new long[] { 1, 2 }, olds.Select(e => e.Raw.ReadInt64(0)).ToArray());
        Assert.Equal(new long[] { 987, 987 }, olds.Select(e => e.Raw.ReadInt64(1, 987)).ToArray());
        Assert.Equal(new[] { "newdef", "newdef" }, olds.Select(e => e.Raw.ReadText(1, "newdef")).ToArray());
        Assert.Equal("a", olds[0].Raw.ReadText(0));
        // old reader on a list of new elements
        var news = r.ReadList(1).AsStructs();
        Assert.Equal(3, news[0].Raw.ReadInt64(0));
        Assert.Equal("c", news[0].Raw.ReadText(0));
        // copying old elements into a list built with the new layout, decoded by capnp with the new schema
        // (new1 reads as its default 987; capnp does not print null pointer fields such as new2)
        using var mb = new MessageBuilder();
        var root = mb.InitRoot(0, 2);
        var nl = root.InitStructList(1, olds.Count, 2, 3);
        for (int i = 0; i < olds.Count; i++) nl.GetStruct(i).CopyContentFrom(olds[i].Raw);
        var decoded = CapnpTool.Decode("VersionLists", mb.ToFramedArray());
        Assert.True(decoded.Contains("news = [(old1 = 1, old2 = \"a\", new1 = 987), (old1 = 2, new1 = 987)]"), decoded);
    }

    [Fact]
    public void OldReaderOnNewDataReadsOldFields()
    {
        var r = MessageReader.FromFramed(CapnpTool.Encode("NewVersion", "(old1 = -5, old2 = \"y\", new1 = 1, new2 = \"z\", new3 = [4])")).Root;
        Assert.Equal(-5, r.ReadInt64(0));
        Assert.Equal("y", r.ReadText(0));
        Assert.Equal(1, r.ReadInt64(1, 987));
        Assert.Equal("z", r.ReadText(1, "newdef"));
    }

    [Theory]
    [InlineData(1)]   // every segment full: moved pointers need double-far landing pads
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(1024)]
    public void BuilderUpgradesAnOldStructInPlace(int segmentWords)
    {
        var old = MessageReader.FromFramed(CapnpTool.Encode("OldVersion", "(old1 = 5, old2 = \"x\")")).Root;
        using var mb = new MessageBuilder(new BuilderOptions { FirstSegmentWords = segmentWords, Strategy = AllocationStrategy.FixedSize });
        mb.SetRoot(old);
        var b = mb.Root.GetStruct(2, 3);
        Assert.Equal(2, b.DataWords);
        Assert.Equal(5, b.ReadInt64(0));
        Assert.Equal("x", b.ReadText(0));
        b.WriteInt64(1, 11, 987);
        b.WriteText(1, "n2");
        var framed = mb.ToFramedArray();
        if (segmentWords == 1) Assert.Contains(Enumerable.Range(0, mb.SegmentCount), i => HasDoubleFar(mb.GetSegments()[i].Span));
        var text = CapnpTool.Decode("NewVersion", framed);
        Assert.Equal("(old1 = 5, old2 = \"x\", new1 = 11, new2 = \"n2\")", text);
        // asking for a smaller struct returns the existing one unchanged
        Assert.Equal(2, mb.Root.GetStruct(1, 1).DataWords);
    }

    private static bool HasDoubleFar(ReadOnlySpan<byte> seg)
    {
        for (int i = 0; i + 8 <= seg.Length; i += 8)
            if ((seg[i] & 7) == 6) return true;
        return false;
    }

    [Fact]
    public void PrimitiveListReadAsStructList()
    {
        var r = MessageReader.FromFramed(CapnpTool.Encode("UpgradeHolder", "(ints = [1, 2, 3], texts = [\"p\", \"q\"])")).Root;
        var inners = r.ReadList(0).AsStructs<InnerReader>();
        Assert.Equal(new[] { 1, 2, 3 }, inners.Select(i => i.A).ToArray());
        Assert.All(inners, i => Assert.Equal("", i.S));
        var wrapped = r.ReadList(2).AsStructs();
        Assert.Equal(new[] { "p", "q" }, wrapped.Select(w => w.Raw.ReadText(0)).ToArray());
        Assert.Equal(0, wrapped[0].Raw.ReadInt32(0));
    }

    [Fact]
    public void StructListReadAsPrimitiveAndPointerLists()
    {
        var r = MessageReader.FromFramed(CapnpTool.Encode("UpgradeHolder", "(structs = [(a = 5, s = \"q\"), (a = -6)], wrapped = [(t = \"w\")])")).Root;
        Assert.Equal(new[] { 5, -6 }, r.ReadList(1).AsPrimitives<int>().ToArray());
        Assert.Equal(new[] { "q", "" }, r.ReadList(1).AsTextList().ToArray());
        Assert.Equal(new[] { "w" }, r.ReadList(3).AsTextList().ToArray());
        Assert.Throws<CapnpFormatException>(() => r.ReadList(3).AsPrimitives<int>()); // pointer-only structs
        Assert.Throws<CapnpFormatException>(() => r.ReadList(1).AsBits());
        Assert.False(r.ReadList(1).AsPrimitives<int>().TryGetSpan(out _));
    }

    [Fact]
    public void IncompatibleListsAreRejected()
    {
        var r = MessageReader.FromFramed(CapnpTool.Encode("TestAll", "(boolList = [true], int32List = [1], textList = [\"a\"], int64List = [0x100000002], structField = ())")).Root;
        Assert.Throws<CapnpFormatException>(() => r.ReadList(TestAll.BoolList).AsStructs());
        Assert.Throws<CapnpFormatException>(() => r.ReadList(TestAll.BoolList).AsPrimitives<byte>());
        Assert.Throws<CapnpFormatException>(() => r.ReadList(TestAll.Int32List).AsPrimitives<long>());
        Assert.Throws<CapnpFormatException>(() => r.ReadList(TestAll.Int32List).AsTextList());
        Assert.Throws<CapnpFormatException>(() => r.ReadList(TestAll.TextList).AsPrimitives<int>());
        Assert.Throws<CapnpFormatException>(() => r.ReadList(TestAll.Int32List).AsText());
        Assert.Throws<CapnpFormatException>(() => r.ReadList(TestAll.Int32List).AsData());
        Assert.Throws<CapnpFormatException>(() => r.ReadStruct(TestAll.Int32List));
        Assert.Throws<CapnpFormatException>(() => r.ReadList(TestAll.Struct));
        // a wider element read narrower reads the low bytes, like C++
        Assert.Equal(2, r.ReadList(TestAll.Int64List).AsPrimitives<int>()[0]);
    }
}

public class BuilderBehaviourTests
{
    [Fact]
    public void OverwrittenObjectsAreZeroed()
    {
        using var mb = new MessageBuilder(new BuilderOptions { FirstSegmentWords = 3, Strategy = AllocationStrategy.FixedSize });
        var root = mb.InitRoot(0, 2);
        var s = root.InitStruct(0, 1, 1);
        s.WriteInt64(0, 0x1122334455667788);
        s.WriteText(0, "secret text that must not linger");
        var tl = root.InitList(1, ElementSize.Pointer, 2).AsTextList();
        tl[0] = "another secret"; tl[1] = "more";
        root.WriteText(0, "x");           // replaces the struct (and its text)
        root.ClearPointer(1);              // drops the list and its texts
        var all = mb.GetSegments().SelectMany(m => m.ToArray()).ToArray();
        Assert.DoesNotContain("secret", System.Text.Encoding.ASCII.GetString(all));
        Assert.DoesNotContain("more", System.Text.Encoding.ASCII.GetString(all));
        Assert.Equal("x", mb.AsReader().Root.ReadText(0));
        Assert.Contains("textField = \"x\"", CapnpTool.Decode("TestAll", mb.ToFramedArray()));
    }

    [Fact]
    public void DisposeReturnsBuffersAndBlocksFurtherUse()
    {
        var mb = new MessageBuilder();
        mb.InitRoot(1, 0).WriteInt32(0, 1);
        mb.Dispose();
        Assert.Throws<ObjectDisposedException>(() => mb.ToFramedArray());
        Assert.Throws<ObjectDisposedException>(() => mb.GetSegments());
        mb.Dispose(); // idempotent
    }

    [Fact]
    public void SegmentsAreHandedOutWithoutCopying()
    {
        using var mb = new MessageBuilder(new BuilderOptions { FirstSegmentWords = 4, Strategy = AllocationStrategy.FixedSize });
        var root = mb.InitRoot(1, 1);
        root.WriteData(0, new byte[100]);
        var segs = mb.GetSegments();
        Assert.True(segs.Count >= 2);
        root.WriteInt64(0, 77); // visible through the segment handed out earlier: same memory
        Assert.Equal(77, BitConverter.ToInt64(segs[0].Span.Slice(8, 8)));
        // The pooled array itself is not handed out: only views that stop working once the builder is disposed.
        Assert.False(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(segs[0], out _));
        Assert.Equal(mb.GetSegmentsSpan().Length, segs.Count);
        var ms = new MemoryStream();
        mb.WriteTo(ms);
        Assert.Equal(mb.ToFramedArray(), ms.ToArray());
        var w = new System.Buffers.ArrayBufferWriter<byte>();
        mb.WriteTo(w);
        Assert.Equal(ms.ToArray(), w.WrittenSpan.ToArray());
        Assert.Equal(mb.FramedSize, ms.Length);
    }

    [Fact]
    public void ReadsInPlaceOverNativeMemory()
    {
        using var mb = new MessageBuilder();
        var r = mb.InitRoot(1, 1);
        r.WriteInt32(0, 5);
        r.WriteData(0, new byte[] { 9, 8, 7 });
        var framed = mb.ToFramedArray();
        using var native = new NativeMemory(framed);
        var m = MessageReader.FromFramed(native.Memory);
        Assert.Equal(5, m.Root.ReadInt32(0));
        var d = m.Root.ReadData(0);
        Assert.Equal(new byte[] { 9, 8, 7 }, d.ToArray());
        Assert.False(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(d, out _)); // a slice of the native block
    }

    private sealed unsafe class NativeMemory : System.Buffers.MemoryManager<byte>
    {
        private readonly byte* _p; private readonly int _n;
        public NativeMemory(byte[] content)
        {
            _n = content.Length;
            _p = (byte*)System.Runtime.InteropServices.NativeMemory.Alloc((nuint)_n);
            content.CopyTo(new Span<byte>(_p, _n));
        }
        public override Span<byte> GetSpan() => new(_p, _n);
        public override System.Buffers.MemoryHandle Pin(int elementIndex = 0) => new(_p + elementIndex);
        public override void Unpin() { }
        protected override void Dispose(bool disposing) => System.Runtime.InteropServices.NativeMemory.Free(_p);
    }
}

public class AllocationTests
{
    private static readonly byte[] InnerDefault = BuildInnerDefault();

    private static byte[] BuildInnerDefault()
    {
        using var mb = new MessageBuilder();
        var b = mb.InitRoot(1, 1);
        b.WriteInt32(0, 7);
        b.WriteText(0, "d");
        return mb.GetSegments()[0].ToArray();
    }

    private static long Measure(Action a)
    {
        for (int i = 0; i < 200; i++) a(); // warm up (tiered JIT, caches)
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++) a();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    [Fact]
    public void ReadingFieldsListsAndDefaultsDoesNotAllocate()
    {
        var bytes = CapnpTool.Encode("TestAll", ConformanceTests.AllText);
        var m = MessageReader.FromFramed(bytes, new ReaderOptions { TraversalLimitInWords = long.MaxValue });
        var root = m.Root;
        var empty = MessageReader.FromFramed(CapnpTool.Encode("TestDefaults", "()"), new ReaderOptions { TraversalLimitInWords = long.MaxValue }).Root;
        long sink = 0;
        long allocated = Measure(() =>
        {
            sink += root.ReadInt64(TestAll.Int64) + root.ReadTextBytes(TestAll.Text).Length + root.ReadData(TestAll.Data).Length;
            foreach (var e in root.ReadList(TestAll.StructList).AsStructs<InnerReader>()) sink += e.Raw.ReadInt32(TestAll.Int32);
            foreach (var v in root.ReadList(TestAll.Int32List).AsPrimitives<int>()) sink += v;
            foreach (var b in root.ReadList(TestAll.BoolList).AsBits()) sink += b ? 1 : 0;
            sink += root.ReadStruct(TestAll.Struct).ReadStruct(TestAll.Struct).ReadInt8(TestAll.Int8);
            // null pointers with defaults
            sink += empty.ReadStruct(TestDefaults.Struct, InnerDefault).ReadInt32(0);
            sink += empty.ReadData(TestDefaults.Data, "bar"u8).Length;
            sink += empty.ReadText(TestDefaults.Text, "foo").Length;
        });
        Assert.True(sink != 0);
        Assert.Equal(0, allocated);
    }
}
