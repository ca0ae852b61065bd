using System.Buffers.Binary;
using System.Diagnostics;

namespace Capnp.Native.Serialization.Tests;

public class HostileInputTests
{
    private static byte[] Framed(params ulong[][] segments)
    {
        int header = ((4 + 4 * segments.Length) + 7) & ~7;
        var a = new byte[header + segments.Sum(s => s.Length) * 8];
        BinaryPrimitives.WriteUInt32LittleEndian(a, (uint)(segments.Length - 1));
        for (int i = 0; i < segments.Length; i++) BinaryPrimitives.WriteUInt32LittleEndian(a.AsSpan(4 + 4 * i), (uint)segments[i].Length);
        int pos = header;
        foreach (var s in segments) foreach (var w in s) { BinaryPrimitives.WriteUInt64LittleEndian(a.AsSpan(pos), w); pos += 8; }
        return a;
    }

    private static ulong StructPtr(int off, ushort dw, ushort pc) => (uint)(off << 2) | ((ulong)dw << 32) | ((ulong)pc << 48);
    private static ulong ListPtr(int off, ElementSize size, uint count) => (uint)(off << 2) | 1u | ((ulong)((count << 3) | (uint)size) << 32);
    private static ulong Far(bool dbl, int word, int seg) => (uint)((word << 3) | (dbl ? 4 : 2) | (dbl ? 2 : 0)) | ((ulong)(uint)seg << 32);

    private static void WalkAll(byte[] framed, ReaderOptions options = default)
    {
        var m = MessageReader.FromFramed(framed, options);
        Walker.Walk(m.RootPointer);
    }

    // Work on hostile input is bounded by the traversal and nesting limits, not by a clock: a
    // reader that looped would hang the test run, which the runner's hang timeout reports.
    private static T Bounded<T>(Action f) where T : Exception => Assert.ThrowsAny<T>(f);

    private static CapnpFormatException Rejects(byte[] framed, ReaderOptions options = default)
        => Bounded<CapnpFormatException>(() => WalkAll(framed, options));

    [Fact]
    public void DoubleFarPointersAreReadLikeCapnp()
    {
        var msg = Framed(
            new[] { Far(true, 0, 1) },
            new[] { Far(false, 0, 2), StructPtr(0, 1, 0) },
            new[] { 42ul });
        Assert.Equal(42, MessageReader.FromFramed(msg).Root.ReadInt32(0));
        Assert.Equal("(a = 42)", CapnpTool.Decode("Inner", msg));
    }

    [Fact]
    public void SingleFarToLandingPadIsRead()
    {
        var msg = Framed(new[] { Far(false, 1, 1) }, new[] { 0ul, StructPtr(0, 1, 0), 7ul });
        Assert.Equal(7, MessageReader.FromFramed(msg).Root.ReadInt32(0));
        Assert.Equal("(a = 7)", CapnpTool.Decode("Inner", msg));
    }

    [Fact]
    public void BadFramingIsRejected()
    {
        Rejects(new byte[3]);
        Rejects(new byte[] { 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0 }); // 2^32 segments
        Rejects(new byte[] { 0, 2, 0, 0, 0, 0, 0, 0 }); // 513 segments
        Rejects(new byte[] { 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x1f }); // segment larger than data
        Rejects(new byte[] { 0, 0, 0, 0, 0, 0, 0, 0 }); // empty segment: no root pointer
        var good = Framed(new[] { StructPtr(0, 1, 0), 5ul }, new[] { 1ul });
        for (int n = 0; n < good.Length; n++) Rejects(good.AsSpan(0, n).ToArray());
    }

    [Fact]
    public void EveryTruncationOfARealMessageIsRejected()
    {
        var bytes = CapnpTool.Encode("TestAll", ConformanceTests.AllText, segmentSize: 5);
        for (int n = 0; n < bytes.Length; n++) Rejects(bytes.AsSpan(0, n).ToArray());
        var packed = CapnpTool.Encode("TestAll", ConformanceTests.AllText, packed: true);
        for (int n = 0; n < packed.Length; n++)
            Bounded<CapnpFormatException>(() => MessageReader.FromPacked(packed.AsSpan(0, n)));
    }

    [Fact]
    public void OutOfBoundsPointersAreRejected()
    {
        Rejects(Framed(new[] { StructPtr(1000, 1, 0) }));
        Rejects(Framed(new[] { StructPtr(-1000, 1, 0) }));
        Rejects(Framed(new[] { StructPtr(0, 2, 0), 0ul }));               // struct overruns segment
        Rejects(Framed(new[] { StructPtr(0, 0, 1), ListPtr(0, ElementSize.EightBytes, 2), 0ul }));
        Rejects(Framed(new[] { Far(false, 5, 0) }));                       // landing pad out of bounds
        Rejects(Framed(new[] { Far(false, 0, 3) }));                       // no such segment
        Rejects(Framed(new[] { Far(false, 0, 1) }, new[] { Far(false, 0, 0) })); // pad is a far pointer
        Rejects(Framed(new[] { Far(true, 0, 1) }, new[] { Far(false, 0, 9), StructPtr(0, 1, 0) }));
        Rejects(Framed(new[] { Far(true, 0, 1) }, new[] { StructPtr(0, 1, 0), StructPtr(0, 1, 0) })); // double-far pad not far
        Rejects(Framed(new[] { Far(true, 1, 1) }, new[] { Far(false, 0, 0), StructPtr(0, 1, 0) })); // tag past the end
        Rejects(Framed(new[] { 0xFFFF_FFFF_FFFF_FFFFul }));                // "other" pointer that is not a capability
    }

    [Fact]
    public void ListCountsNearTwoToThe29AreRejected()
    {
        foreach (var size in new[] { ElementSize.Bit, ElementSize.Byte, ElementSize.TwoBytes, ElementSize.FourBytes, ElementSize.EightBytes, ElementSize.Pointer })
            Rejects(Framed(new[] { ListPtr(0, size, (1u << 29) - 1), 0ul }));
        // void list: nothing to bounds-check, but the traversal limit charges it like C++
        var ex = Rejects(Framed(new[] { ListPtr(0, ElementSize.Void, (1u << 29) - 1) }));
        Assert.IsType<CapnpLimitExceededException>(ex);
        // inline composite: element count in the tag far larger than the word count
        Rejects(Framed(new[] { ListPtr(0, ElementSize.InlineComposite, 1), ((ulong)1 << 32) | (uint)(((1 << 29) - 1) << 2) }));
        // inline composite of zero-sized structs with a huge count
        Assert.IsType<CapnpLimitExceededException>(Rejects(Framed(new[] { ListPtr(0, ElementSize.InlineComposite, 0), (uint)(((1 << 29) - 1) << 2) })));
        // inline composite whose word count exceeds the segment
        Rejects(Framed(new[] { ListPtr(0, ElementSize.InlineComposite, (1u << 29) - 1), (ulong)1 << 32 }));
        // inline composite with a non-struct tag
        Rejects(Framed(new[] { ListPtr(0, ElementSize.InlineComposite, 1), 1ul, 0ul }));
    }

    [Fact]
    public void PointerCyclesHitTheNestingLimit()
    {
        // struct at word 1 whose only pointer points to itself
        var msg = Framed(new[] { StructPtr(0, 0, 1), StructPtr(-1, 0, 1) });
        Assert.IsType<CapnpLimitExceededException>(Rejects(msg));
        // with an absurd nesting limit the traversal limit still stops an iterative walk
        var m = MessageReader.FromFramed(msg, new ReaderOptions { NestingLimit = int.MaxValue, TraversalLimitInWords = 100_000 });
        Bounded<CapnpLimitExceededException>(() => { var s = m.Root; for (int i = 0; i < 10_000_000; i++) s = s.ReadStruct(0); });
        // list of pointers pointing back at the list itself
        var lm = Framed(new[] { ListPtr(0, ElementSize.Pointer, 1), ListPtr(-1, ElementSize.Pointer, 1) });
        Assert.IsType<CapnpLimitExceededException>(Rejects(lm));
    }

    [Fact]
    public void FarPointerAmplificationIsBoundedByTheTraversalLimit()
    {
        // 20000 pointers, all far pointers to the same landing pad of a 1000-word struct: 20M words "virtually"
        const int n = 20000;
        var seg0 = new ulong[1 + n];
        seg0[0] = ListPtr(0, ElementSize.Pointer, n);
        for (int i = 1; i <= n; i++) seg0[i] = Far(false, 0, 1);
        var seg1 = new ulong[1 + 1000];
        seg1[0] = StructPtr(0, 1000, 0);
        var msg = Framed(seg0, seg1);
        Assert.IsType<CapnpLimitExceededException>(Rejects(msg));
        // and plain (non-far) repeated reads of one struct are charged each time too
        var m = MessageReader.FromFramed(msg);
        var list = m.RootPointer.AsList();
        Bounded<CapnpLimitExceededException>(() => { for (int i = 0; i < 10_000_000; i++) list.GetPointer(0).AsStruct(); });
    }

    [Fact]
    public void NestingPastTheLimitIsRejected()
    {
        using var mb = new MessageBuilder();
        var node = mb.InitRoot(1, 1);
        for (int i = 0; i < 100; i++) { node.WriteUInt32(0, (uint)i); node = node.InitStruct(0, 1, 1); }
        var bytes = mb.ToFramedArray();
        Assert.IsType<CapnpLimitExceededException>(Rejects(bytes));
        WalkAll(bytes, new ReaderOptions { NestingLimit = 200 });
        // depth 63 is fine with the default limit of 64, depth 64 is not
        var s = MessageReader.FromFramed(bytes).Root;
        for (int i = 0; i < 63; i++) s = s.ReadStruct(0);
        Assert.Equal(63u, s.ReadUInt32(0));
        Assert.Throws<CapnpLimitExceededException>(() => s.ReadStruct(0));
        // deep copy of hostile nesting throws too (no stack overflow)
        using var copy = new MessageBuilder();
        Assert.Throws<CapnpLimitExceededException>(() => copy.SetRoot(MessageReader.FromFramed(bytes).Root));
        Assert.Throws<CapnpLimitExceededException>(() => Canonicalizer.Canonicalize(MessageReader.FromFramed(bytes).Root));
    }

    [Fact]
    public void StreamsThatEndEarlyOrAnnounceHugeMessagesAreRejected()
    {
        var good = Framed(new[] { StructPtr(0, 1, 0), 5ul });
        for (int n = 0; n < good.Length; n++)
            Bounded<CapnpFormatException>(() => MessageReader.FromStream(new MemoryStream(good, 0, n)));
        Assert.Equal(5, MessageReader.FromStream(new MemoryStream(good)).Root.ReadInt32(0));
        // announces 2^29 words in each of 4 segments: refused before allocating anything
        var huge = new byte[24];
        huge[0] = 3;
        for (int i = 0; i < 4; i++) BinaryPrimitives.WriteUInt32LittleEndian(huge.AsSpan(4 + 4 * i), (1u << 29) - 1);
        Assert.IsType<CapnpLimitExceededException>(Bounded<CapnpFormatException>(() => MessageReader.FromStream(new MemoryStream(huge))));
    }

    [Fact]
    public void TextMustBeNulTerminated()
    {
        var msg = Framed(new[] { StructPtr(0, 0, 1), ListPtr(0, ElementSize.Byte, 2), 0x6261ul });
        var r = MessageReader.FromFramed(msg).Root;
        Assert.Throws<CapnpFormatException>(() => r.ReadText(0));
        Assert.Throws<CapnpFormatException>(() => r.ReadTextBytes(0).ToArray());
        Assert.Equal(new byte[] { 0x61, 0x62 }, r.ReadData(0).ToArray());
        var empty = Framed(new[] { StructPtr(0, 0, 1), ListPtr(0, ElementSize.Byte, 0) });
        Assert.Throws<CapnpFormatException>(() => MessageReader.FromFramed(empty).Root.ReadText(0));
    }

    // Text is read in place without a ListReader when the pointer is a near byte-list pointer (StructReader.ReadTextBytes):
    // that path must check what the general one does.
    [Fact]
    public void TextReadInPlaceIsBoundsCheckedAndCharged()
    {
        ReadOnlySpan<byte> Text(byte[] framed, ReaderOptions options = default) => MessageReader.FromFramed(framed, options).Root.ReadTextBytes(0);
        Assert.Throws<CapnpFormatException>(() => Text(Framed(new[] { StructPtr(0, 0, 1), ListPtr(0, ElementSize.Byte, 9), 0x6261ul })).ToArray());
        Assert.Throws<CapnpFormatException>(() => Text(Framed(new[] { StructPtr(0, 0, 1), ListPtr(-3, ElementSize.Byte, 2), 0x6261ul })).ToArray());
        Assert.Throws<CapnpFormatException>(() => Text(Framed(new[] { StructPtr(0, 0, 1), ListPtr(0, ElementSize.TwoBytes, 1), 0x61ul })).ToArray());
        Assert.Equal("ab"u8.ToArray(), Text(Framed(new[] { StructPtr(0, 0, 1), ListPtr(0, ElementSize.Byte, 3), 0x6261ul })).ToArray());
        Assert.Equal("ab"u8.ToArray(), Text(Framed(new[] { StructPtr(0, 0, 1), Far(false, 0, 1) }, new[] { ListPtr(0, ElementSize.Byte, 3), 0x6261ul })).ToArray());

        // 17 bytes are 3 words: each read is charged, as C++ charges each dereference.
        var longText = Framed(new[] { StructPtr(0, 0, 1), ListPtr(0, ElementSize.Byte, 17), 0x4141414141414141ul, 0x4141414141414141ul, 0ul });
        var m = MessageReader.FromFramed(longText, new ReaderOptions { TraversalLimitInWords = 1 + 3 * 2 });
        var root = m.Root;
        Assert.Equal(16, root.ReadTextBytes(0).Length);
        Assert.Equal(16, root.ReadTextBytes(0).Length);
        Assert.Throws<CapnpLimitExceededException>(() => root.ReadTextBytes(0).Length);
    }

    // Data fields are read straight from the caller's array: fields past the data section (a struct written by an older
    // schema, or a list element smaller than the reader's struct) must still read as their defaults.
    [Fact]
    public void FieldsPastTheDataSectionReadAsDefaults()
    {
        var msg = Framed(new[] { StructPtr(0, 1, 1), 0x0102030405060708ul, ListPtr(0, ElementSize.FourBytes, 2), 0x0000000B_0000000Aul });
        var root = MessageReader.FromFramed(msg).Root;
        Assert.Equal(0x0102030405060708L, root.ReadInt64(0));
        Assert.Equal(0x0506, root.ReadInt16(1));
        Assert.Equal(0L, root.ReadInt64(1));
        Assert.Equal(5L, root.ReadInt64(1, 5));
        Assert.Equal(7, root.ReadInt32(2, 7));
        Assert.True(root.ReadBool(64, true));
        var elements = root.ReadList(0).AsStructs();
        Assert.Equal(new[] { 0xA, 0xB }, elements.Select(e => e.Raw.ReadInt32(0)).ToArray());
        Assert.Equal(new[] { 9, 9 }, elements.Select(e => e.Raw.ReadInt32(1, 9)).ToArray());
        Assert.Equal(new[] { 0L, 0L }, elements.Select(e => e.Raw.ReadInt64(0)).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => elements[2]);
    }

    [Fact]
    public void PackedAmplificationIsBounded()
    {
        // header claims 2^31 words; zero runs would expand 1024x per 2 bytes
        var packed = new List<byte> { 0x10, 0xff, 0xff, 0xff, 0x7f };
        packed[0] = 0b11110000; // tag: bytes 4..7 non-zero -> segment 0 size
        packed.Insert(0, 0); packed.RemoveAt(0);
        var bytes = new byte[] { 0b11110000, 0xff, 0xff, 0xff, 0x7f, 0x00, 0xff, 0x00, 0xff };
        Assert.IsType<CapnpLimitExceededException>(Bounded<CapnpFormatException>(() => MessageReader.FromPacked(bytes)));
        Bounded<CapnpFormatException>(() => MessageReader.FromPacked(new byte[] { 0xff, 1, 2 }));
        Bounded<CapnpFormatException>(() => MessageReader.FromPacked(new byte[] { 0x00 }));
    }

    [Fact]
    public void RandomBytesOnlyEverThrowTheTypedException()
    {
        var rng = new Random(12345);
        var real = CapnpTool.Encode("TestAll", ConformanceTests.AllText, segmentSize: 9);
        for (int iter = 0; iter < 20000; iter++)
        {
            byte[] data;
            if (iter % 2 == 0)
            {
                data = new byte[8 + 8 * rng.Next(0, 40)];
                rng.NextBytes(data);
                BinaryPrimitives.WriteUInt32LittleEndian(data, 0);
                BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(4), (uint)(data.Length / 8 - 1));
            }
            else
            {
                data = (byte[])real.Clone();
                int flips = rng.Next(1, 6);
                for (int f = 0; f < flips; f++) data[rng.Next(8, data.Length)] ^= (byte)(1 << rng.Next(8));
            }
            try
            {
                WalkAll(data);
                var m = MessageReader.FromFramed(data);
                if (m.RootPointer.IsStruct) { Canonicalizer.Canonicalize(m.Root); ConformanceTestsAccess.ReadEverything(m.Root); }
                MessageReader.FromPacked(data);
            }
            catch (CapnpFormatException) { }
        }
    }
}

internal static class ConformanceTestsAccess
{
    /// <summary>Calls every typed accessor on every TestAll field, however the data is shaped.</summary>
    public static void ReadEverything(StructReader r)
    {
        void Try(Action a) { try { a(); } catch (CapnpFormatException) { } }
        Try(() => r.ReadText(TestAll.Text));
        Try(() => r.ReadData(TestAll.Data));
        Try(() => r.ReadStruct(TestAll.Struct).ReadText(TestAll.Text));
        Try(() => r.ReadList(TestAll.BoolList).AsBits().ToArray());
        Try(() => r.ReadList(TestAll.Int64List).AsPrimitives<long>().ToArray());
        Try(() => r.ReadList(TestAll.TextList).AsTextList().ToArray());
        Try(() => r.ReadList(TestAll.DataList).AsDataList().ToArray());
        Try(() => r.ReadList(TestAll.StructList).AsStructs().Select(s => s.Raw.ReadText(TestAll.Text)).ToArray());
        Try(() => r.ReadList(TestAll.EnumList).AsEnums<TestEnum>().ToArray());
        Try(() => r.ReadList(TestAll.NestedList).AsLists().Select(l => l.AsPrimitives<int>().ToArray()).ToArray());
        Try(() => r.ReadList(TestAll.NestedList).AsCapabilities().ToArray());
        Try(() => r.ReadCapabilityIndex(TestAll.Any));
        Try(() => r.ReadAnyPointer(TestAll.Any).AsData());
    }
}
