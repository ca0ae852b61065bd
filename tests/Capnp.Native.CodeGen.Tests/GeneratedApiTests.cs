using System.Text;
using Capnp.Native.Serialization;
using CodeGenTests.Api;

namespace Capnp.Native.CodeGen.Tests;

/// <summary>
/// The generated API of schemas/generated_api.capnp (issue 12): assignment through builders kept in locals, typed nested lists,
/// generic parameters bound to Text/Data/lists/AnyPointer/interfaces, and union members. Checked against capnp's own
/// encoder and decoder.
/// </summary>
public class GeneratedApiTests
{
    private static async Task<string> DecodeAsync(MessageBuilder mb, string type)
    {
        var res = await TestEnvironment.CapnpAsync(mb.ToFramedArray(), "decode", "--short", "generated_api.capnp", type);
        Assert.True(res.ExitCode == 0, res.Stderr);
        return res.StdoutText.Trim();
    }

    private static async Task<MessageReader> EncodeAsync(string text, string type)
    {
        var res = await TestEnvironment.CapnpAsync(Encoding.UTF8.GetBytes(text), "encode", "generated_api.capnp", type);
        Assert.True(res.ExitCode == 0, res.Stderr);
        return MessageReader.FromFramed(res.Stdout);
    }

    [Fact]
    public async Task AssignmentsThroughBuilderLocalsWriteTheMessage()
    {
        using var mb = new MessageBuilder();
        var h = mb.InitRoot<Holder.Builder>();
        // A builder copied to a local writes the message as the getter's reference does (DirectAssignmentTests).
        var point = h.Point;
        point.X = 1;
        point.Y = 2;
        var points = h.InitPoints(2);
        var (p0, p1) = (points[0], points[1]);
        p0.X = 3;
        p1.Y = 4;
        var inner = h.InGroup.Inner;
        inner.X = 5;

        Assert.Equal("(point = (x = 1, y = 2), points = [(x = 3, y = 0), (x = 0, y = 4)], inGroup = (inner = (x = 5, y = 0)))",
            await DecodeAsync(mb, "Holder"));
    }

    [Fact]
    public async Task NestedListsAreTypedOnBothSides()
    {
        using var mb = new MessageBuilder();
        var h = mb.InitRoot<Holder.Builder>();
        ListOfListsBuilder<ListOfTextBuilder> texts = h.InitTextLists(2);
        ListOfTextBuilder first = texts.Init(0, 2);
        first[0] = "a";
        first[1] = "b";
        texts.Init(1, 1)[0] = "c";
        h.InitIntLists(2).Init(1, 3)[2] = 9;
        var pointList = h.InitPointLists(1).Init(0, 2)[1];
        pointList.X = 4;
        h.InitDeep(1).Init(0, 1).Init(0, 2)[1] = 6;
        // The getter hands out the same typed inner lists.
        Assert.Equal("b", h.TextLists[0][1]);
        // The getter is a reference (BuilderSlot), but a list of lists' indexer returns the inner list by value:
        // an element of the inner list is set through a local.
        var second = h.IntLists[1];
        second[0] = 8;

        Assert.Equal(
            "(textLists = [[\"a\", \"b\"], [\"c\"]], intLists = [[], [8, 0, 9]], pointLists = [[(x = 0, y = 0), (x = 4, y = 0)]], deep = [[[0, 6]]], inGroup = ())",
            await DecodeAsync(mb, "Holder"));

        var r = (await EncodeAsync("(textLists = [[\"x\"], [\"y\", \"z\"]], intLists = [[1, 2]], pointLists = [[(x = 7)]], deep = [[[3], [4, 5]]])", "Holder"))
            .GetRoot<Holder.Reader>();
        ListOfListsReader<ListOfTextReader> textLists = r.TextLists;
        Assert.Equal(new[] { "y", "z" }, textLists[1].ToArray());
        Assert.Equal(new[] { 1, 2 }, r.IntLists[0].ToArray());
        Assert.Equal(7, r.PointLists[0][0].X);
        Assert.Equal(5, r.Deep[0][1][1]);
        Assert.Equal(2, r.Deep[0].Count);
    }

    private sealed class EchoImpl : Echo.Server
    {
        public override Task EchoAsync(Echo.EchoParams.Reader parameters, Echo.EchoResults.Builder results, CancellationToken cancellationToken)
        {
            results.Text = "echo:" + parameters.Text;
            return Task.CompletedTask;
        }
    }

    [Fact]
    public async Task GenericParametersBindToEveryPointerType()
    {
        using var source = new MessageBuilder();
        var anyList = source.InitRoot<Holder.Builder>();
        anyList.InitIntLists(1).Init(0, 2)[1] = 11;

        using var mb = new MessageBuilder();
        var b = mb.InitRoot<Boxes.Builder>();
        b.InitText().SetValue("boxed");
        b.InitData().SetValue(new byte[] { 1, 2 });
        var ints = b.InitInts().InitValue<ListOfPrimitivesBuilder<int>>(3);
        ints[2] = 30;
        b.InitPoint().InitValue<Point.Builder>().Y = 6;
        b.InitAny().SetValue(anyList.AsReader().Raw.ReadAnyPointer(3));
        b.InitTexts().InitValue<ListOfTextBuilder>(1)[0] = "t";

        Assert.Equal(
            "(text = (value = \"boxed\"), data = (value = \"\\001\\002\"), ints = (value = [0, 0, 30]), point = (value = (x = 0, y = 6)), texts = (value = [\"t\"]))",
            (await DecodeAsync(mb, "Boxes")).Replace("any = (value = <opaque pointer>), ", ""));

        var r = MessageReader.FromFramed(mb.ToFramedArray()).GetRoot<Boxes.Reader>();
        string text = r.Text.Value;
        Assert.Equal("boxed", text);
        Assert.Equal(new byte[] { 1, 2 }, r.Data.Value.ToArray());
        ListOfPrimitivesReader<int> values = r.Ints.Value;
        Assert.Equal(new[] { 0, 0, 30 }, values.ToArray());
        Assert.Equal(6, r.Point.Value.Y);
        AnyPointerReader any = r.Any.Value;
        Assert.Equal(11, any.AsList().AsLists<ListOfPrimitivesReader<int>>()[0][1]);
        Assert.Equal(new[] { "t" }, r.Texts.Value.ToArray());

        var decoded = (await EncodeAsync("(text = (value = \"from capnp\"), ints = (value = [4, 5]), point = (value = (x = 8)), texts = (value = [\"p\", \"q\"]))", "Boxes"))
            .GetRoot<Boxes.Reader>();
        Assert.Equal("from capnp", decoded.Text.Value);
        Assert.True(decoded.Data.Value.IsEmpty);
        Assert.Equal(new[] { 4, 5 }, decoded.Ints.Value.ToArray());
        Assert.Equal(8, decoded.Point.Value.X);
        Assert.Equal(new[] { "p", "q" }, decoded.Texts.Value.ToArray());
        Assert.True(decoded.Any.Value.IsNull);
    }

    [Fact]
    public async Task GenericParameterBoundToAnInterfaceHoldsACapability()
    {
        using var mb = new MessageBuilder();
        var b = mb.InitRoot<Boxes.Builder>();
        using (var client = new Echo.Client(new EchoImpl()))
            b.InitEcho().SetValue(client);

        using Echo.Client? echo = mb.AsReader().GetRoot<Boxes.Reader>().Echo.Value;
        Assert.NotNull(echo);
        Assert.Equal("echo:hi", (await echo.EchoAsync("hi")).Text);
    }

    [Fact]
    public async Task GenericParameterBoundToAGenericInterfaceHoldsATypedCapability()
    {
        // Box(Store(Text)): the struct's parameter is itself a generic interface, bound to Text.
        using var mb = new MessageBuilder();
        var b = mb.InitRoot<Boxes.Builder>();
        using (var client = new Store<string>.Client(new TextStore()))
            b.InitStore().SetValue(client);

        using Store<string>.Client? store = mb.AsReader().GetRoot<Boxes.Reader>().Store.Value;
        Assert.NotNull(store);
        Assert.Equal(1u, (await store.PutAsync("first")).Count);
        Assert.Equal(2u, (await store.PutAsync("second")).Count);
        Assert.Equal("second", (await store.GetAsync()).Value);

        // Read as a binding nothing in this process has constructed (Store(Data)): the client
        // type registers itself on first use, so the capability still reads.
        var asData = Box<Store<ReadOnlyMemory<byte>>.Client>.Reader.Create(mb.AsReader().GetRoot<Boxes.Reader>().Store.Raw);
        using var dataStore = asData.Value;
        Assert.NotNull(dataStore);
    }

    private sealed class TextStore : Store<string>.Server
    {
        private readonly List<string> values = [];

        public override Task PutAsync(Store<string>.PutParams.Reader parameters, Store<string>.PutResults.Builder results, CancellationToken cancellationToken)
        {
            values.Add(parameters.Value);
            results.Count = (uint)values.Count;
            return Task.CompletedTask;
        }

        public override Task GetAsync(Store<string>.GetParams.Reader parameters, Store<string>.GetResults.Builder results, CancellationToken cancellationToken)
        {
            results.SetValue(values[^1]);
            return Task.CompletedTask;
        }
    }

    [Fact]
    public async Task UnionMembersReadTheirDefaultWhileAnotherIsSet()
    {
        using var mb = new MessageBuilder();
        var c = mb.InitRoot<Choice.Builder>();
        Assert.Equal(Choice.Which.Number, c.Which);
        Assert.Equal(7, c.Number);
        c.Number = 5;
        // Setting a member sets the discriminant; the number's bits stay in the data section.
        c.Label = "set";
        Assert.Equal(Choice.Which.Label, c.Which);
        var r = mb.AsReader().GetRoot<Choice.Reader>();
        Assert.Equal(7, r.Number);
        Assert.Equal(7, c.Number);
        Assert.Equal("set", r.Label);
        Assert.Equal(0, r.Point.X);
        Assert.False(r.HasPoint);
        Assert.Empty(r.Names);
        var e = Assert.Throws<InvalidOperationException>(() => c.Point);
        Assert.Contains("InitPoint", e.Message);
        Assert.Throws<InvalidOperationException>(() => c.Names);

        c.InitPoint().X = 3;
        Assert.Equal(Choice.Which.Point, c.Which);
        r = mb.AsReader().GetRoot<Choice.Reader>();
        // The pointer slot now holds the point: Label reads its schema default, not the struct as text.
        Assert.Equal("none", r.Label);
        Assert.False(r.HasLabel);
        Assert.Equal(3, r.Point.X);
        Assert.Equal(3, c.Point.X);

        c.InitNames(1)[0] = "n";
        c.Tag = 2;
        Assert.Equal("(names = [\"n\"], tag = 2)", await DecodeAsync(mb, "Choice"));
        c.SetNothing();
        Assert.Equal("(nothing = void, tag = 2)", await DecodeAsync(mb, "Choice"));
        Assert.Equal(0, mb.AsReader().GetRoot<Choice.Reader>().Names.Count);
    }
}
