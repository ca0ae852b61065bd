namespace Capnp.Native.Serialization.Tests;

/// <summary>The runtime types behind typed nested lists and generic parameter values (issue 12).</summary>
public class TypedListAndPointerValueTests
{
    [Fact]
    public void TypedNestedListsRoundTrip()
    {
        using var mb = new MessageBuilder();
        var root = mb.InitRoot(0, 1);
        var lists = ListOfListsBuilder<ListOfListsBuilder<ListOfTextBuilder>>.Init(root.GetAnyPointer(0), 2);
        lists.Init(1, 2).Init(1, 1)[0] = "deep";
        Assert.Equal(0, lists[0].Count);

        var r = mb.AsReader().Root.ReadAnyPointer(0).AsList().AsLists<ListOfListsReader<ListOfTextReader>>();
        Assert.Equal(2, r.Count);
        Assert.Equal(0, r[0].Count);
        Assert.Equal("deep", r[1][1][0]);
        Assert.Equal(0, r[1][0].Count);
    }

    [Fact]
    public void InnerListOfTheWrongElementSizeIsAFormatError()
    {
        using var mb = new MessageBuilder();
        var root = mb.InitRoot(0, 1);
        ListOfListsBuilder<ListOfPrimitivesBuilder<long>>.Init(root.GetAnyPointer(0), 1).Init(0, 2)[1] = 5;
        var r = mb.AsReader().Root.ReadAnyPointer(0).AsList();
        Assert.Equal(5L, r.AsLists<ListOfPrimitivesReader<long>>()[0][1]);
        // Text elements are pointers: an inner list of 8-byte values cannot be read as List(Text).
        Assert.Throws<CapnpFormatException>(() => r.AsLists<ListOfTextReader>()[0]);
    }

    [Fact]
    public void PointerValueReadsAndWritesEachKindOfBinding()
    {
        using var mb = new MessageBuilder();
        var root = mb.InitRoot(0, 4);
        PointerValue<string>.Write(root.GetAnyPointer(0), "text");
        PointerValue<ReadOnlyMemory<byte>>.Write(root.GetAnyPointer(1), new byte[] { 7 });
        using (var source = new MessageBuilder())
        {
            var s = source.InitRoot(0, 1);
            ListOfPrimitivesBuilder<int>.Init(s.GetAnyPointer(0), 2)[1] = 9;
            PointerValue<ListOfPrimitivesReader<int>>.Write(root.GetAnyPointer(2), s.AsReader().ReadList(0).AsPrimitives<int>());
            PointerValue<AnyPointerReader>.Write(root.GetAnyPointer(3), s.AsReader().ReadAnyPointer(0));
        }

        var r = mb.AsReader().Root;
        Assert.Equal("text", PointerValue<string>.Read(r.ReadAnyPointer(0)));
        Assert.Equal(new byte[] { 7 }, PointerValue<ReadOnlyMemory<byte>>.Read(r.ReadAnyPointer(1)).ToArray());
        Assert.Equal(new[] { 0, 9 }, PointerValue<ListOfPrimitivesReader<int>>.Read(r.ReadAnyPointer(2)).ToArray());
        Assert.Equal(9, PointerValue<AnyPointerReader>.Read(r.ReadAnyPointer(3)).AsList().AsPrimitives<int>()[1]);
    }

    [Fact]
    public void PointerValueOfAnUnsupportedTypeNamesTheType()
    {
        var e = Assert.Throws<InvalidOperationException>(() => PointerValue<int>.Read(default));
        Assert.Contains("System.Int32", e.Message);
    }
}
