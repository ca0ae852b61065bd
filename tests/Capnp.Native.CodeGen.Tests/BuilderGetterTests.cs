using Capnp.Native.Serialization;
using CodeGenTests.Schema;

namespace Capnp.Native.CodeGen.Tests;

/// <summary>
/// Builder getters behave like C++ <c>getX()</c> (issue 12): unset pointer fields give their schema
/// default (a struct or list default is copied into the message), and data written with an older
/// schema is upgraded so the newer schema's fields can be set.
/// </summary>
public class BuilderGetterTests
{
    private static async Task<string> DecodeAsync(MessageBuilder mb, string schemaDir, string schema, string type)
    {
        var res = await TestEnvironment.RunAsync("capnp", new[] { "decode", "--short", "-I" + TestEnvironment.AnnotationSchemaDir, schema, type },
                                                 mb.ToFramedArray(), schemaDir);
        Assert.True(res.ExitCode == 0, res.Stderr);
        return res.StdoutText.Trim();
    }

    private static string SerializationSchemaDir
        => Path.Combine(TestEnvironment.RepoRoot, "tests", "Capnp.Native.Serialization.Tests", "schemas");

    [Fact]
    public async Task UnsetStructFieldWithDefaultGivesTheDefaultAndWritesIt()
    {
        using var mb = new MessageBuilder();
        var b = mb.InitRoot<AllTypes.Builder>();
        var p = b.StructDefault;
        Assert.Equal(5, p.X);
        Assert.Equal(6, p.Y);
        // As in C++, the getter copied the default into the message: the message says (5, 6), not (0, 0).
        Assert.True(b.HasStructDefault);
        Assert.Contains("structDefault = (x = 5, y = 6)", await DecodeAsync(mb, TestEnvironment.SchemaDir, "codegen_test.capnp", "AllTypes"));

        p.X = 50;
        Assert.Equal(50, b.StructDefault.X);
        Assert.Equal(6, b.StructDefault.Y);
    }

    [Fact]
    public void UnsetTextListAndDataFieldsWithDefaultsGiveTheDefaults()
    {
        using var mb = new MessageBuilder();
        var b = mb.InitRoot<AllTypes.Builder>();
        Assert.Equal("def", b.TextDefault);
        Assert.Equal("abc"u8.ToArray(), b.DataDefault.ToArray());
        var list = b.ListDefault;
        Assert.Equal(new short[] { 1, 2, 3 }, list.AsSpan().ToArray());
        list[0] = 10;
        Assert.Equal(10, b.AsReader().ListDefault[0]);
        // Fields without a default stay null/empty.
        Assert.Null(b.TextField);
        Assert.True(b.DataField.IsEmpty);
        Assert.Equal(0, b.Int32List.Count);
    }

    [Fact]
    public void UnsetStructListWithDefaultGivesTheDefault()
    {
        using var mb = new MessageBuilder();
        var d = mb.InitRoot<global::Test.TestDefaults.Builder>();
        Assert.Equal(7, d.StructField.A);
        Assert.Equal("inner default", d.StructField.S);
        var texts = d.TextList;
        Assert.Equal(2, texts.Count);
        Assert.Equal("yy", texts[1]);
    }

    [Fact]
    public async Task StructListWrittenWithAnOlderSchemaIsUpgradedWhenANewFieldIsSet()
    {
        using var mb = new MessageBuilder();
        var holder = mb.InitRoot<global::Test.VersionLists.Builder>();
        // `news` as an older schema wrote it: OldVersion elements (1 data word, 1 pointer).
        var old = holder.Raw.InitStructList(1, 2, 1, 1);
        for (int i = 0; i < 2; i++)
        {
            var e = old.GetStruct(i);
            e.WriteInt64(0, 100 + i);
            e.WriteText(0, "old" + i);
        }

        var news = holder.News;
        var second = news[1];
        second.New2 = "added";
        second.New1 = 5;
        var first = news[0];
        var ints = first.InitNew3(1);
        ints[0] = 9;

        var r = MessageReader.FromFramed(mb.ToFramedArray()).GetRoot<global::Test.VersionLists.Reader>();
        Assert.Equal(100, r.News[0].Old1);
        Assert.Equal("old0", r.News[0].Old2);
        Assert.Equal(987, r.News[0].New1);
        Assert.Equal(9, r.News[0].New3[0]);
        Assert.Equal(101, r.News[1].Old1);
        Assert.Equal("old1", r.News[1].Old2);
        Assert.Equal("added", r.News[1].New2);
        Assert.Equal(5, r.News[1].New1);
        Assert.Equal("(news = [(old1 = 100, old2 = \"old0\", new1 = 987, new3 = [9]), " +
                     "(old1 = 101, old2 = \"old1\", new1 = 5, new2 = \"added\")])",
                     await DecodeAsync(mb, SerializationSchemaDir, "test.capnp", "VersionLists"));
    }

    [Fact]
    public async Task PrimitiveListIsUpgradedToAStructList()
    {
        using var mb = new MessageBuilder();
        var holder = mb.InitRoot<global::Test.UpgradeHolder.Builder>();
        // `structs` (List(Inner), Inner.a is an Int32 at offset 0) as written by a schema where it was List(Int32).
        var ints = holder.Raw.InitList(1, ElementSize.FourBytes, 3).AsPrimitives<int>();
        ints[0] = 1; ints[1] = 2; ints[2] = 3;
        // And `wrapped` (List(TextWrapper)) as List(Text).
        var texts = holder.Raw.InitList(3, ElementSize.Pointer, 2).AsTextList();
        texts[0] = "t0"; texts[1] = "t1";

        var structs = holder.Structs;
        Assert.Equal(3, structs.Count);
        Assert.Equal(2, structs[1].A);
        var e = structs[1];
        e.S = "two";
        var w = holder.Wrapped[1];
        Assert.Equal("t1", w.T);
        w.T = "changed";

        Assert.Equal("(structs = [(a = 1), (a = 2, s = \"two\"), (a = 3)], wrapped = [(t = \"t0\"), (t = \"changed\")])",
                     await DecodeAsync(mb, SerializationSchemaDir, "test.capnp", "UpgradeHolder"));
    }

    [Fact]
    public void BitListCannotBecomeAStructList()
    {
        using var mb = new MessageBuilder();
        var holder = mb.InitRoot<global::Test.UpgradeHolder.Builder>();
        holder.Raw.InitList(1, ElementSize.Bit, 3);
        Assert.Throws<CapnpFormatException>(() => holder.Structs);
    }

    [Fact]
    public void RootReadWithANewerSchemaAfterSetRootCanSetNewFieldsInsideLists()
    {
        // The scenario: SetRoot(oldMessage), then read the root as the newer type.
        using var oldMb = new MessageBuilder();
        var oldRoot = oldMb.InitRoot<global::Test.VersionLists.Builder>();
        var olds = oldRoot.InitOlds(1);
        var o = olds[0];
        o.Old1 = 42;
        var oldMessage = MessageReader.FromFramed(oldMb.ToFramedArray()).Root;

        using var mb = new MessageBuilder();
        mb.SetRoot(oldMessage);
        // Same layout trick: read `olds` through a schema whose element type is NewVersion.
        var list = mb.GetRoot<global::Test.VersionLists.Builder>().Raw.GetAnyPointer(0).GetStructList<global::Test.NewVersion.Builder>();
        var n = list[0];
        n.New2 = "upgraded";
        Assert.Equal(42, n.Old1);
        var r = mb.AsReader().Root.ReadList(0).AsStructs<global::Test.NewVersion.Reader>()[0];
        Assert.Equal("upgraded", r.New2);
        Assert.Equal(42, r.Old1);
    }
}
