using Capnp.Native.Serialization;
using CodeGenTests.Schema;
using OtherTypes;

namespace Capnp.Native.CodeGen.Tests;

/// <summary>Uses the code generated from schemas/codegen_test.capnp by the MSBuild targets.</summary>
public class GeneratedTypesTests
{
    private static AllTypes.Reader RoundTrip(MessageBuilder mb)
        => MessageReader.FromFramed(mb.ToFramedArray()).GetRoot<AllTypes.Reader>();

    [Fact]
    public void AllFieldTypesRoundTrip()
    {
        var mb = new MessageBuilder();
        var b = mb.InitRoot<AllTypes.Builder>();
        b.BoolField = true;
        b.Int8Field = -8;
        b.Int16Field = -16;
        b.Int32Field = -32;
        b.Int64Field = -64;
        b.Uint8Field = 8;
        b.Uint16Field = 16;
        b.Uint32Field = 32;
        b.Uint64Field = ulong.MaxValue;
        b.Float32Field = 1.25f;
        b.Float64Field = -3.5;
        b.TextField = "héllo";
        b.DataField = new byte[] { 1, 2, 3 };
        var p = b.InitStructField();
        p.X = 10; p.Y = -20;
        b.EnumField = Color.LightGoldenrodYellow;
        var ints = b.InitInt32List(3);
        ints[0] = 1; ints[1] = 2; ints[2] = 3;
        var bools = b.InitBoolList(2);
        bools[1] = true;
        var texts = b.InitTextList(2);
        texts[0] = "a"; texts[1] = "b";
        var points = b.InitStructList(2);
        var second = points[1]; // a struct list's indexer returns by value: assign through a local
        second.X = 7;
        var enums = b.InitEnumList(2);
        enums[0] = Color.Blue;
        var lists = b.InitListList(2);
        var inner = lists.Init(1, 2);
        inner[1] = 99;
        var datas = b.InitDataList(1);
        datas[0] = new byte[] { 9 };
        b.AnyField.SetText("any");
        var shared = b.InitImported();
        shared.Id = 77; shared.Note = "imported";
        b.ImportedEnum = Level.High;

        var r = RoundTrip(mb);
        Assert.True(r.BoolField);
        Assert.Equal(-8, r.Int8Field);
        Assert.Equal(-16, r.Int16Field);
        Assert.Equal(-32, r.Int32Field);
        Assert.Equal(-64, r.Int64Field);
        Assert.Equal(8, r.Uint8Field);
        Assert.Equal(16, r.Uint16Field);
        Assert.Equal(32u, r.Uint32Field);
        Assert.Equal(ulong.MaxValue, r.Uint64Field);
        Assert.Equal(1.25f, r.Float32Field);
        Assert.Equal(-3.5, r.Float64Field);
        Assert.Equal("héllo", r.TextField);
        Assert.Equal(new byte[] { 1, 2, 3 }, r.DataField.ToArray());
        Assert.Equal(10, r.StructField.X);
        Assert.Equal(-20, r.StructField.Y);
        Assert.Equal(Color.LightGoldenrodYellow, r.EnumField);
        Assert.Equal(new[] { 1, 2, 3 }, r.Int32List.ToArray());
        Assert.Equal(new[] { false, true }, r.BoolList.ToArray());
        Assert.Equal(new[] { "a", "b" }, r.TextList.ToArray());
        Assert.Equal(new[] { 0, 7 }, r.StructList.Select(q => q.X).ToArray());
        Assert.Equal(Color.Blue, r.EnumList[0]);
        Assert.True(r.ListList[0].IsNull);
        Assert.Equal(99, r.ListList[1][1]);
        Assert.Equal(new byte[] { 9 }, r.DataList[0].ToArray());
        Assert.Equal("any", r.AnyField.AsText());
        Assert.Equal(77UL, r.Imported.Id);
        Assert.Equal("imported", r.Imported.Note);
        Assert.Equal(Level.High, r.ImportedEnum);
    }

    [Fact]
    public void UnsetFieldsReadSchemaDefaults()
    {
        var mb = new MessageBuilder();
        mb.InitRoot<AllTypes.Builder>();
        var r = RoundTrip(mb);
        Assert.Equal(123, r.IntDefault);
        Assert.True(r.BoolDefault);
        Assert.Equal(1.5f, r.FloatDefault);
        Assert.Equal("def", r.TextDefault);
        Assert.False(r.HasTextDefault);
        Assert.Equal(5, r.StructDefault.X);
        Assert.Equal(6, r.StructDefault.Y);
        Assert.Equal(new short[] { 1, 2, 3 }, r.ListDefault.ToArray());
        Assert.Equal(Color.Green, r.EnumDefault);
        Assert.Equal("abc"u8.ToArray(), r.DataDefault.ToArray());
        Assert.Equal(-7, r.NegDefault);
        Assert.Equal(-2.25, r.DoubleDefault);
        Assert.Equal(0, r.Int32Field);
        Assert.Equal("", r.TextField);
        Assert.Empty(r.Int32List);
    }

    [Fact]
    public void FieldsWithDefaultsAreXoredOnTheWire()
    {
        var mb = new MessageBuilder();
        var b = mb.InitRoot<AllTypes.Builder>();
        Assert.Equal(123, b.IntDefault);
        b.IntDefault = 0;
        b.BoolDefault = false;
        b.NegDefault = -7;
        var r = RoundTrip(mb);
        Assert.Equal(0, r.IntDefault);
        Assert.False(r.BoolDefault);
        Assert.Equal(-7, r.NegDefault);
    }

    [Fact]
    public void UnnamedUnionTracksTheSetMember()
    {
        var mb = new MessageBuilder();
        var s = mb.InitRoot<Shape.Builder>();
        s.Name = "c";
        s.Circle = 2.5;
        Assert.Equal(Shape.Which.Circle, s.Which);
        s.Square = 4;
        Assert.Equal(Shape.Which.Square, s.AsReader().Which);
        var rect = s.InitRectangle();
        Assert.Equal(0, rect.Width); // switching members clears the group (square's bytes overlap width)
        rect.Width = 3; rect.Height = 4;
        var r = MessageReader.FromFramed(mb.ToFramedArray()).GetRoot<Shape.Reader>();
        Assert.Equal(Shape.Which.Rectangle, r.Which);
        Assert.Equal(3, r.Rectangle.Width);
        Assert.Equal(4, r.Rectangle.Height);
        s.SetNothing();
        Assert.Equal(Shape.Which.Nothing, s.AsReader().Which);
    }

    [Fact]
    public void NamedUnionAndGroupShareTheStruct()
    {
        var mb = new MessageBuilder();
        var s = mb.InitRoot<Shape.Builder>();
        var fill = s.Fill;
        fill.Named = Color.Blue;
        var position = s.Position;
        position.X = 1.5;
        position.Y = -1.5;
        var r = MessageReader.FromFramed(mb.ToFramedArray()).GetRoot<Shape.Reader>();
        Assert.Equal(Shape.Fill.Which.Named, r.Fill.Which);
        Assert.Equal(Color.Blue, r.Fill.Named);
        Assert.Equal(1.5, r.Position.X);
        Assert.Equal(-1.5, r.Position.Y);
        fill.Rgb = 0xff00ff;
        Assert.Equal(Shape.Fill.Which.Rgb, s.AsReader().Fill.Which);
        Assert.Equal(0xff00ffu, s.AsReader().Fill.Rgb);
    }

    [Fact]
    public void NestedTypesAndNestedConstants()
    {
        var mb = new MessageBuilder();
        var o = mb.InitRoot<Outer.Builder>();
        var inner = o.InitInner();
        inner.Value = "v";
        inner.Kind = Outer.Inner.Kind.Second;
        inner.InitDeeper().N = 200;
        var r = MessageReader.FromFramed(mb.ToFramedArray()).GetRoot<Outer.Reader>();
        Assert.Equal("v", r.Inner.Value);
        Assert.Equal(Outer.Inner.Kind.Second, r.Inner.Kind);
        Assert.Equal(200, r.Inner.Deeper.N);
        Assert.Equal((ushort)999, Outer.Inner.Limit);
    }

    [Fact]
    public void KeywordAndCollidingFieldNamesCompileAndRoundTrip()
    {
        var mb = new MessageBuilder();
        var k = mb.InitRoot<Keywords.Builder>();
        k.Class = 1; k.Object = "o"; k.String = "s"; k.Base = true; k.Event = 5;
        k.Keywords = 6; k.Reader_ = 7; k.Builder_ = 8; k.Which_ = 9; k.Namespace = "ns";
        k.DataWords = 11; k.CustomName = 12; k.Raw_ = 13;
        var r = MessageReader.FromFramed(mb.ToFramedArray()).GetRoot<Keywords.Reader>();
        Assert.Equal((1, "o", "s", true, (ushort)5), (r.Class, r.Object, r.String, r.Base, r.Event));
        Assert.Equal((6, 7, 8, 9), (r.Keywords, r.Reader_, r.Builder_, r.Which_));
        Assert.Equal(Keywords.Which.Namespace, r.Which);
        Assert.Equal("ns", r.Namespace);
        Assert.Equal((11, 12, 13), (r.DataWords, r.CustomName, r.Raw_));
        // The struct's size is still reachable through the interface when a field is called DataWords.
        Assert.Equal(PointerCountOf<Keywords.Builder>(), k.Raw.PointerCount);
    }

    private static int PointerCountOf<T>() where T : IStructBuilder<T> => T.PointerCount;

    [Fact]
    public void TopLevelConstants()
    {
        Assert.Equal(42, CodegenTestConstants.Answer);
        Assert.Equal("hello \"world\"", CodegenTestConstants.Greeting);
        Assert.Equal(3.14159, CodegenTestConstants.Pi);
        Assert.Equal(1, CodegenTestConstants.Origin.X);
        Assert.Equal(-2, CodegenTestConstants.Origin.Y);
        Assert.Equal(new uint[] { 2, 3, 5, 7 }, CodegenTestConstants.Primes.ToArray());
        Assert.Equal(new byte[] { 0xde, 0xad, 0xbe, 0xef }, CodegenTestConstants.Blob.ToArray());
        Assert.Equal(Color.Blue, CodegenTestConstants.FavouriteColor);
        Assert.Equal(long.MinValue, CodegenTestConstants.MinLong);
    }

    [Fact]
    public void GenericStructsBindToReaderTypes()
    {
        var mb = new MessageBuilder();
        var u = mb.InitRoot<UsesGenerics.Builder>();
        var box = u.InitPointBox();
        box.Label = "pt";
        var pt = box.InitValue<Point.Builder>();
        pt.X = 3;
        var tb = u.InitTextBox();
        tb.Value.SetText("boxed text");
        var pair = u.InitPair();
        pair.InitKey<Point.Builder>().Y = 4;
        pair.InitValue<Shared.Builder>().Note = "n";

        var r = MessageReader.FromFramed(mb.ToFramedArray()).GetRoot<UsesGenerics.Reader>();
        Box<Point.Reader>.Reader pointBox = r.PointBox;
        Assert.Equal("pt", pointBox.Label);
        Assert.Equal(3, pointBox.Value.X);
        // Box(Text): the parameter binds to string.
        Assert.Equal("boxed text", r.TextBox.Value);
        Assert.Equal(4, r.Pair.Key.Y);
        Assert.Equal("n", r.Pair.Value.Note);
    }

    [Fact]
    public void NameAnnotationRenamesTheType()
    {
        var mb = new MessageBuilder();
        mb.InitRoot<NiceName.Builder>().X = 5;
        Assert.Equal(5, mb.AsReader().GetRoot<NiceName.Reader>().X);
        Assert.Equal("CodeGenTests.Schema", typeof(NiceName).Namespace);
        Assert.Equal("OtherTypes", typeof(Shared).Namespace);
    }
}
