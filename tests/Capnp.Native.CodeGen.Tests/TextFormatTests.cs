using System.Text;
using Capnp.Native.Serialization;
using CodeGenTests.Schema;

namespace Capnp.Native.CodeGen.Tests;

/// <summary>
/// Generated ToString() and TextFormat.FormatPretty print exactly what <c>capnp decode --short</c> and
/// <c>capnp decode</c> print for the same message.
/// </summary>
public class TextFormatTests
{
    internal static string TestCapnp => Path.Combine(TestEnvironment.RepoRoot, "tests", "Capnp.Native.Serialization.Tests", "schemas", "test.capnp");

    private const string AllTypesLiteral =
        "(boolField = true, int8Field = -128, int16Field = 32767, int32Field = -2147483648, int64Field = -9223372036854775808, " +
        "uint8Field = 255, uint16Field = 65535, uint32Field = 4294967295, uint64Field = 18446744073709551615, " +
        "float32Field = 3.14159, float64Field = 1e300, textField = \"tab\\there \\\"q\\\" back\\\\slash nl\\n bell\\a del\\x7f ctl\\x01 été 'x'\", " +
        "dataField = 0x\"00 01 7f 80 ff 22 5c 41 0a\", structField = (x = 1, y = -1), enumField = lightGoldenrodYellow, " +
        "int32List = [1, -2, 3], boolList = [true, false, true], textList = [\"a\", \"\", \"c\\n\"], " +
        "structList = [(x = 1), (), (y = 2)], enumList = [red, green], listList = [[1, 2], [], [3]], dataList = [0x\"01\", \"zz\"], " +
        "voidField = void, intDefault = 0, boolDefault = false, floatDefault = 0, textDefault = \"\", structDefault = (), " +
        "listDefault = [], enumDefault = red, dataDefault = \"\", negDefault = 0, doubleDefault = 0, imported = (), importedEnum = high)";

    public static IEnumerable<object[]> Cases() => new[]
    {
        new object[] { "codegen_test.capnp", "AllTypes", AllTypesLiteral },
        new object[] { "codegen_test.capnp", "AllTypes", "()" },
        new object[] { "codegen_test.capnp", "AllTypes", "(float32Field = inf, float64Field = -inf, intDefault = 124)" },
        new object[] { "codegen_test.capnp", "AllTypes", "(float32Field = nan, float64Field = nan)" },
        new object[] { "codegen_test.capnp", "AllTypes", "(float32Field = 1e-7, float64Field = 0.1)" },
        new object[] { "codegen_test.capnp", "AllTypes", "(float32Field = 16777216, float64Field = 123456789012345678)" },
        new object[] { "codegen_test.capnp", "AllTypes", "(float32Field = -0.0001, float64Field = 1.5e-5)" },
        new object[] { "codegen_test.capnp", "AllTypes", "(float32Field = 3.4e38, float64Field = 5e-324)" },
        new object[] { TestCapnp, "TestAll", "(float32List = [1e-45, 1.17549435e-38, 0.1, 100, 1e15, 123456.7, 0.3333333, -0.0, 16777217], float64List = [1e15, 1e16, 1e21, 1e-5, 0.0001, 1.7976931348623157e308, -0.0, 0.1, 123456789.125, 2.2250738585072014e-308])" },
        new object[] { "codegen_test.capnp", "AllTypes", "(int32List = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25])" },
        new object[] { "codegen_test.capnp", "AllTypes", "(textList = [\"a fairly long piece of text here\", \"short\"], structList = [(x = 123456789, y = 987654321), (x = 1)])" },
        new object[] { "codegen_test.capnp", "AllTypes", "(listList = [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [1], [100000000, 200000000, 300000000]])" },
        new object[] { "codegen_test.capnp", "Shape", "(name = \"c\", circle = 1.5, fill = (rgb = 255), position = (x = -1, y = 2))" },
        new object[] { "codegen_test.capnp", "Shape", "(circle = 0)" },
        new object[] { "codegen_test.capnp", "Shape", "(square = 0)" },
        new object[] { "codegen_test.capnp", "Shape", "(nothing = void, name = \"n\")" },
        new object[] { "codegen_test.capnp", "Shape", "(rectangle = (width = 2, height = 3), fill = (named = blue))" },
        new object[] { "codegen_test.capnp", "Shape", "(rectangle = (), fill = (named = red))" },
        new object[] { "codegen_test.capnp", "Outer", "(inner = (value = \"v\", deeper = (n = 7), kind = second))" },
        new object[] { "codegen_test.capnp", "Keywords", "(class = 1, object = \"o\", namespace = \"ns\", raw = 3, renamed = 4)" },
        new object[] { "codegen_test.capnp", "UsesGenerics", "(pointBox = (value = (x = 1, y = 2), label = \"p\"), pair = (key = (x = 3), value = (id = 9)))" },
        new object[] { "codegen_test.capnp", "UsesGenerics", "(textBox = (value = \"bound to Text\", label = \"t\"), pointBox = (label = \"empty\"))" },
        new object[] { "generics_text.capnp", "UsesWrap", "(texts = (value = \"a\", inner = (value = \"d\"), label = \"l\"), lists = (value = [1, 2], inner = (value = [3])), nested = (value = (value = \"xy\"), inner = (inner = (value = (value = \"q\")))), structs = (value = (n = 1), inner = (value = (n = 3))))" },
        new object[] { "generics_text.capnp", "UsesWrap", "(nested = (inner = (value = (value = \"\\xff\\x00\"))), texts = (inner = (inner = (label = \"deep\", value = \"v\"))))" },
        new object[] { TestCapnp, "TestAll", "(int64Field = 1, structField = (textField = \"inner\", structField = (uint8Field = 3)), unionText = \"u\", grp = (gx = 5, gy = \"g\"), voidList = [void, void], float32List = [1.5, -0.25, 1e10], float64List = [0.3, 2.5e-300], uint64List = [0, 18446744073709551615], int8List = [-1, 1], nestedList = [[1], [2, 3]], structList = [(enumField = qux), (unionVoid = void)])" },
        new object[] { TestCapnp, "TestAll", "(unionVoid = void)" },
        new object[] { TestCapnp, "TestAll", "(unionInt = 0, grp = ())" },
        new object[] { TestCapnp, "TestDefaults", "()" },
        new object[] { TestCapnp, "TestDefaults", "(boolField = false, int8Field = 0, int64Field = 5, uint64Field = 0, float32Field = 0, float64Field = 1, textField = \"\", enumField = foo, structField = (a = 1), int32List = [], textList = [\"q\"])" },
        new object[] { TestCapnp, "Node", "(value = 1, next = (value = 2, next = (value = 3, next = (value = 4))))" },
    };

    private static readonly Dictionary<string, Func<MessageReader, (string Short, string Pretty)>> Printers = new()
    {
        ["AllTypes"] = Print<AllTypes.Reader>,
        ["Shape"] = Print<Shape.Reader>,
        ["Outer"] = Print<Outer.Reader>,
        ["Keywords"] = Print<Keywords.Reader>,
        ["UsesGenerics"] = Print<UsesGenerics.Reader>,
        ["TestAll"] = Print<global::Test.TestAll.Reader>,
        ["TestDefaults"] = Print<global::Test.TestDefaults.Reader>,
        ["Node"] = Print<global::Test.Node.Reader>,
        ["UsesWrap"] = Print<global::CodeGenTests.Generics.UsesWrap.Reader>,
    };

    private static (string, string) Print<T>(MessageReader m) where T : struct, IStructReader<T>, IStructSchemaProvider
    {
        var r = m.GetRoot<T>();
        return (r.ToString()!, TextFormat.FormatPretty(r));
    }

    /// <summary>Encodes <paramref name="literal"/> with capnp, then compares our output with capnp decode's, both forms.</summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public async Task ToStringMatchesCapnpDecode(string schema, string type, string literal)
    {
        var enc = await TestEnvironment.CapnpAsync(Encoding.UTF8.GetBytes(literal), "encode", schema, type);
        Assert.True(enc.ExitCode == 0, enc.Stderr);
        var (ours, oursPretty) = Printers[type](MessageReader.FromFramed(enc.Stdout));
        await AssertDecodesAs(enc.Stdout, schema, type, ours, oursPretty);
    }

    internal static async Task AssertDecodesAs(byte[] framed, string schema, string type, string ours, string oursPretty)
    {
        var shortRes = await TestEnvironment.CapnpAsync(framed, "decode", "--short", schema, type);
        Assert.True(shortRes.ExitCode == 0, shortRes.Stderr);
        Assert.Equal(shortRes.StdoutText.TrimEnd('\n'), ours);
        var prettyRes = await TestEnvironment.CapnpAsync(framed, "decode", schema, type);
        Assert.True(prettyRes.ExitCode == 0, prettyRes.Stderr);
        Assert.Equal(prettyRes.StdoutText.TrimEnd('\n'), oursPretty);
    }

    [Fact]
    public async Task AnyPointerCapabilitiesAndUnknownEnumsPrintAsCapnpDoes()
    {
        using var mb = new MessageBuilder();
        var b = mb.InitRoot<AllTypes.Builder>();
        b.AnyField.InitStruct(1, 0).WriteInt32(0, 5);
        b.Raw.WriteUInt16(EnumFieldOffset(), 77); // an enumerant this schema does not have
        b.Int32Field = 3;
        var framed = mb.ToFramedArray();
        var r = MessageReader.FromFramed(framed).GetRoot<AllTypes.Reader>();
        Assert.Contains("anyField = <opaque pointer>", r.ToString());
        Assert.Contains("enumField = (77)", r.ToString());
        Assert.Equal(r.ToString(), b.ToString()); // builders print the same
        await AssertDecodesAs(framed, "codegen_test.capnp", "AllTypes", r.ToString(), TextFormat.FormatPretty(r));

        using var caps = new MessageBuilder();
        var h = caps.InitRoot<global::Test.Holder.Builder>();
        h.Raw.WriteCapabilityIndex(1, 0);
        var list = h.Raw.InitList(0, ElementSize.Pointer, 2);
        list.GetPointer(0).SetCapabilityIndex(0);
        var hf = caps.ToFramedArray();
        var hr = MessageReader.FromFramed(hf).GetRoot<global::Test.Holder.Reader>();
        // capnp decode cannot read capabilities (no cap context), so this is C++'s stringify text, checked by hand.
        Assert.Equal("(caps = [<external capability>, <external capability>], cap = <external capability>)", hr.ToString());
    }

    private static int EnumFieldOffset()
        => (int)AllTypes.__Schema.FindField("enumField")!.Offset;

    [Fact]
    public void UnknownUnionDiscriminantPrintsNoMember()
    {
        using var mb = new MessageBuilder();
        var s = mb.InitRoot<Shape.Builder>();
        s.Name = "x";
        s.Raw.SetWhich((int)Shape.__Schema.DiscriminantOffset, 40);
        Assert.Equal("(name = \"x\", fill = (rgb = 0), position = (x = 0, y = 0))", s.AsReader().ToString());
    }

    [Fact]
    public void GroupReadersPrintTheirOwnFields()
    {
        using var mb = new MessageBuilder();
        var s = mb.InitRoot<Shape.Builder>();
        var rect = s.InitRectangle();
        rect.Width = 2;
        Assert.Equal("(width = 2, height = 0)", s.AsReader().Rectangle.ToString());
    }

    [Fact]
    public void DeepMessagesThrowTypedExceptionsInsteadOfCrashing()
    {
        using var mb = new MessageBuilder();
        var cur = mb.InitRoot<global::Test.Node.Builder>();
        for (int i = 0; i < 100_000; i++) { cur.Value = (uint)i; cur = cur.InitNext(); }
        var framed = mb.ToFramedArray();
        // The default nesting limit (64) stops the walk.
        var r = MessageReader.FromFramed(framed).GetRoot<global::Test.Node.Reader>();
        Assert.ThrowsAny<CapnpFormatException>(() => r.ToString());
        // A raised limit is safe too: the walk stops before the stack runs out.
        var deep = MessageReader.FromFramed(framed, new ReaderOptions { NestingLimit = 1_000_000, TraversalLimitInWords = 1L << 30 })
            .GetRoot<global::Test.Node.Reader>();
        Exception? error = null;
        var t = new Thread(() => { try { deep.ToString(); } catch (Exception e) { error = e; } }, 256 * 1024);
        t.Start(); t.Join();
        Assert.IsAssignableFrom<CapnpLimitExceededException>(error);
    }

    [Fact]
    public void MalformedMessagesThrowFormatExceptions()
    {
        // A root struct pointer whose content lies past the segment end.
        var seg = new byte[16];
        seg[0] = 0x00; seg[4] = 0x10; // struct pointer: offset 0, 16 data words
        Assert.ThrowsAny<CapnpFormatException>(() => MessageReader.FromSingleSegment(seg).GetRoot<AllTypes.Reader>().ToString());
    }
}
