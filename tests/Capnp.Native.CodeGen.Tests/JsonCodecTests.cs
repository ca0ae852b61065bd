using System.Text;
using Capnp.Native.Serialization;
using CodeGenTests.Schema;

namespace Capnp.Native.CodeGen.Tests;

/// <summary>JsonCodec against <c>capnp convert</c> (C++ JsonCodec): byte for byte when encoding, value for value when decoding.</summary>
public class JsonCodecTests
{
    public static IEnumerable<object[]> Cases() => TextFormatTests.Cases().Concat(AnnotatedCases());

    // Schemas with the $Json annotations of /capnp/compat/json.capnp. A null Text in a union with a valueName is
    // written as "" (the default), which decodes as an empty Text, not null: those values cannot round-trip.
    private static IEnumerable<object[]> AnnotatedCases() => new[]
    {
        new object[] { "json_annotated.capnp", "Renamed", "(fooBar = 5, plain = \"p\", mood = sleepyHead, moods = [happy, grumpy, sleepyHead], inner = (fooBar = 1, mood = happy), grp = (x = 3, y = \"yy\"), count = 7, named = (a = -2))" },
        new object[] { "json_annotated.capnp", "Renamed", "(none = void, named = (b = true), mood = grumpy)" },
        new object[] { "json_annotated.capnp", "Renamed", "(label = \"l\", inner = (inner = (count = 0, moods = [])))" },
        new object[] { "json_annotated.capnp", "Renamed", "()" },
        new object[] { "json_annotated.capnp", "Blobs", "(b64 = \"hi\", hex = \"hi\", plain = \"hi\", renamed = \"a longer piece of bytes\\xff\\x00\", withDefault = \"\", bytes = \"\\xab\\xcd\", list = [\"x\"])" },
        new object[] { "json_annotated.capnp", "Blobs", "(b64 = \"\", hex = \"\", renamed = \"ab\")" },
        new object[] { "json_annotated.capnp", "Blobs", "(b64 = \"abcd\", withDefault = \"\\x01\\x02\\x03\", bytes = \"\")" },
        new object[] { "json_annotated.capnp", "Blobs", "()" },
        new object[] { "json_annotated.capnp", "Flat", "(id = 1, pos = (x = 1, y = 2), other = (x = 3), meta = (tag = \"t\", count = 4), kind = (square = (side = 2.5, fill = \"red\")), shape = (b = (x = 5)), plain = (u = 3))" },
        new object[] { "json_annotated.capnp", "Flat", "(kind = (circle = 1), shape = (a = \"s\"), plain = (v = void))" },
        new object[] { "json_annotated.capnp", "Flat", "(kind = (empty = void), other = (y = -1), shape = (a = \"x\"))" },
        new object[] { "json_annotated.capnp", "Flat", "(kind = (point = (x = 7, y = 8)), shape = (b = ()))" },
        new object[] { "json_annotated.capnp", "Flat", "(shape = (a = \"\"))" },
        new object[] { "json_annotated.capnp", "Tagged", "(text = \"hi\", common = true)" },
        new object[] { "json_annotated.capnp", "Tagged", "(num = 5)" },
        new object[] { "json_annotated.capnp", "Tagged", "(nothing = void)" },
        new object[] { "json_annotated.capnp", "Outermost", "(flat = (id = 2, kind = (point = (x = 1)), pos = (y = 3), shape = (a = \"z\")), tagged = (num = 1), tags = [(text = \"a\"), (nothing = void)])" },
    };

    private sealed record Codec(
        Func<MessageReader, JsonOptions, string> Encode,
        Func<string, byte[]> Decode,
        Func<MessageReader, MessageReader, bool> Same);

    private static Codec For<TReader, TBuilder>()
        where TReader : struct, IStructReader<TReader>, IStructSchemaProvider, IEquatable<TReader>
        where TBuilder : IStructBuilder<TBuilder>, IStructSchemaProvider
        => new(
            (m, o) => JsonCodec.Encode(m.GetRoot<TReader>(), o),
            json => { using var mb = new MessageBuilder(); JsonCodec.DecodeRoot<TBuilder>(json, mb); return mb.ToFramedArray(); },
            (a, b) => a.GetRoot<TReader>().Equals(b.GetRoot<TReader>()));

    private static readonly Dictionary<string, Codec> Codecs = new()
    {
        ["AllTypes"] = For<AllTypes.Reader, AllTypes.Builder>(),
        ["Shape"] = For<Shape.Reader, Shape.Builder>(),
        ["Outer"] = For<Outer.Reader, Outer.Builder>(),
        ["Keywords"] = For<Keywords.Reader, Keywords.Builder>(),
        ["UsesGenerics"] = For<UsesGenerics.Reader, UsesGenerics.Builder>(),
        ["TestAll"] = For<global::Test.TestAll.Reader, global::Test.TestAll.Builder>(),
        ["TestDefaults"] = For<global::Test.TestDefaults.Reader, global::Test.TestDefaults.Builder>(),
        ["Node"] = For<global::Test.Node.Reader, global::Test.Node.Builder>(),
        ["UsesWrap"] = For<global::CodeGenTests.Generics.UsesWrap.Reader, global::CodeGenTests.Generics.UsesWrap.Builder>(),
        ["Renamed"] = For<global::CodeGenTests.Json.Renamed.Reader, global::CodeGenTests.Json.Renamed.Builder>(),
        ["Blobs"] = For<global::CodeGenTests.Json.Blobs.Reader, global::CodeGenTests.Json.Blobs.Builder>(),
        ["Flat"] = For<global::CodeGenTests.Json.Flat.Reader, global::CodeGenTests.Json.Flat.Builder>(),
        ["Tagged"] = For<global::CodeGenTests.Json.Tagged.Reader, global::CodeGenTests.Json.Tagged.Builder>(),
        ["Outermost"] = For<global::CodeGenTests.Json.Outermost.Reader, global::CodeGenTests.Json.Outermost.Builder>(),
    };

    private static async Task<byte[]> CapnpEncode(string schema, string type, string literal)
    {
        var enc = await TestEnvironment.CapnpAsync(Encoding.UTF8.GetBytes(literal), "encode", schema, type);
        Assert.True(enc.ExitCode == 0, enc.Stderr);
        return enc.Stdout;
    }

    private static async Task<TestEnvironment.Result> Convert(byte[] input, string formats, string schema, string type, bool pretty)
    {
        var args = new List<string> { "convert" };
        if (!pretty) args.Add("--short");
        args.AddRange(new[] { formats, schema, type });
        var res = await TestEnvironment.CapnpAsync(input, args.ToArray());
        Assert.True(res.ExitCode == 0, res.Stderr);
        return res;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task EncodeMatchesCapnpConvertByteForByte(string schema, string type, string literal)
    {
        var framed = await CapnpEncode(schema, type, literal);
        var codec = Codecs[type];
        var m = MessageReader.FromFramed(framed);
        foreach (bool pretty in new[] { false, true })
        {
            var theirs = await Convert(framed, "binary:json", schema, type, pretty);
            Assert.Equal(theirs.StdoutText.TrimEnd('\n'), codec.Encode(m, new JsonOptions { Pretty = pretty }));
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task DecodeMatchesCapnpConvertValueForValue(string schema, string type, string literal)
    {
        var framed = await CapnpEncode(schema, type, literal);
        var codec = Codecs[type];
        var original = MessageReader.FromFramed(framed);
        foreach (bool pretty in new[] { false, true })
        {
            // Their JSON, decoded by us, is the original value.
            var json = (await Convert(framed, "binary:json", schema, type, pretty)).StdoutText;
            var ours = MessageReader.FromFramed(codec.Decode(json));
            Assert.True(codec.Same(original, ours), $"decoded {json}");
            // Our JSON, decoded by capnp, is the original value too.
            var ourJson = codec.Encode(original, new JsonOptions { Pretty = pretty });
            var theirs = await Convert(Encoding.UTF8.GetBytes(ourJson), "json:binary", schema, type, pretty: true);
            Assert.True(codec.Same(original, MessageReader.FromFramed(theirs.Stdout)), $"capnp decoded {ourJson}");
        }
    }

    [Fact]
    public void DecodeAcceptsWhatCxxAcceptsForScalars()
    {
        using var mb = new MessageBuilder();
        var b = JsonCodec.DecodeRoot<AllTypes.Builder>(
            "{ \"int64Field\": -5, \"uint64Field\": \"18446744073709551615\", \"int32Field\": \"-7\", \"float32Field\": null, " +
            "\"float64Field\": \"-Infinity\", \"intDefault\": 0, \"enumField\": 2, \"boolDefault\": false, \"unknown\": [1, {\"x\": 2}] }", mb);
        Assert.Equal(-5, b.Int64Field);
        Assert.Equal(ulong.MaxValue, b.Uint64Field);
        Assert.Equal(-7, b.Int32Field);
        Assert.True(float.IsNaN(b.Float32Field));
        Assert.Equal(double.NegativeInfinity, b.Float64Field);
        Assert.Equal(0, b.IntDefault);
        Assert.Equal(Color.Blue, b.EnumField);
        Assert.False(b.BoolDefault);

        // Integers in strings are parsed as kj parses them: sign, leading white space, hexadecimal after 0x.
        using var hm = new MessageBuilder();
        var h = JsonCodec.DecodeRoot<AllTypes.Builder>(
            "{\"int32Field\": \"0x7fffffff\", \"int64Field\": \"-0x10\", \"uint16Field\": \"+65535\", \"int8Field\": \" -128\", \"uint64Field\": \"0XFFFFFFFFFFFFFFFF\"}", hm);
        Assert.Equal(int.MaxValue, h.Int32Field);
        Assert.Equal(-16, h.Int64Field);
        Assert.Equal(ushort.MaxValue, h.Uint16Field);
        Assert.Equal(sbyte.MinValue, h.Int8Field);
        Assert.Equal(ulong.MaxValue, h.Uint64Field);

        // Union members set the discriminant; groups decode into the same struct.
        using var sm = new MessageBuilder();
        var s = JsonCodec.DecodeRoot<Shape.Builder>("{\"rectangle\": {\"width\": 2}, \"fill\": {\"named\": \"blue\"}, \"nothing\": null}", sm);
        Assert.Equal(Shape.Which.Nothing, s.Which);
        // The later member won; the earlier one reads as its default (RuntimeContract: inactive members).
        Assert.Equal(0, s.AsReader().Rectangle.Width);
        Assert.Equal(Color.Blue, s.Fill.Named);
    }

    [Fact]
    public async Task Base64AndHexDecodeAsCapnpConvertDoes()
    {
        // Padding may be left out; hex digits may be uppercase; white space in Base64 is skipped.
        const string json = "{\"b64\": \"aGk\", \"hex\": \"6A6b\", \"r\": \" YW\\nI= \"}";
        using var mb = new MessageBuilder();
        var ours = JsonCodec.DecodeRoot<global::CodeGenTests.Json.Blobs.Builder>(json, mb).AsReader();
        Assert.Equal("hi"u8.ToArray(), ours.B64.ToArray());
        Assert.Equal("jk"u8.ToArray(), ours.Hex.ToArray());
        Assert.Equal("ab"u8.ToArray(), ours.Renamed.ToArray());
        var theirs = await Convert(Encoding.UTF8.GetBytes(json), "json:binary", "json_annotated.capnp", "Blobs", pretty: true);
        Assert.Equal(MessageReader.FromFramed(theirs.Stdout).GetRoot<global::CodeGenTests.Json.Blobs.Reader>(), ours);
    }

    [Theory]
    [InlineData("Flat", "{\"side\": 3, \"fill\": \"f\", \"type\": \"square\", \"p_x\": 1, \"x\": 2}")]
    [InlineData("Flat", "{\"p_y\": 4, \"type\": \"point\", \"value\": {\"y\": 1}, \"shape\": {\"value\": {\"x\": 2}, \"shapeType\": \"b\"}}")]
    [InlineData("Flat", "{\"type\": \"nope\", \"circle\": 2, \"plain\": {\"v\": null, \"which\": \"v\"}}")]
    [InlineData("Flat", "{\"shape\": {\"value\": \"never tagged\"}, \"m.tag\": \"t\", \"tag\": \"x\"}")]
    [InlineData("Tagged", "{\"val\": \"12\", \"t\": \"num\", \"num\": 3}")]
    [InlineData("Tagged", "{\"t\": \"txt\", \"txt\": \"ignored\"}")]
    [InlineData("Outermost", "{\"f_type\": \"empty\", \"f_o_x\": 1, \"tags\": [{\"val\": \"v\", \"t\": \"txt\"}], \"tagged\": {\"t\": \"nothing\"}}")]
    public async Task FlattenedAndDiscriminatedJsonDecodesAsCapnpConvertDecodesIt(string type, string json)
    {
        // Members before their union's tag are retried once it is known; unknown tags and names are ignored.
        var codec = Codecs[type];
        var ours = MessageReader.FromFramed(codec.Decode(json));
        var theirs = await Convert(Encoding.UTF8.GetBytes(json), "json:binary", "json_annotated.capnp", type, pretty: true);
        Assert.True(codec.Same(MessageReader.FromFramed(theirs.Stdout), ours), codec.Encode(ours, JsonOptions.Default));
    }

    [Fact]
    public void FlattenedNamesAreCheckedWhenUnknownFieldsAreRejected()
    {
        using var mb = new MessageBuilder();
        var options = new JsonOptions { RejectUnknownFields = true };
        var b = JsonCodec.DecodeRoot<global::CodeGenTests.Json.Flat.Builder>("{\"o_y\": 2, \"m.n\": 3, \"type\": \"circle\", \"circle\": 1.5}", mb, options);
        Assert.Equal(2, b.Other.Y);
        Assert.Equal(3, b.Meta.Count);
        Assert.Equal(1.5, b.Kind.Circle);
        Assert.Throws<JsonCodecException>(() => JsonCodec.DecodeRoot<global::CodeGenTests.Json.Flat.Builder>("{\"pos\": {}}", mb, options));

        // A tag clears the member it selects, as C++'s DynamicStruct::Builder::clear does (a group: all its members).
        JsonCodec.Decode("{\"type\": \"square\", \"plain\": {\"which\": \"u\"}}", b);
        Assert.Equal(global::CodeGenTests.Json.Flat.Kind.Which.Square, b.Kind.Which);
        Assert.Equal(0.0, b.Kind.Square.Side);
        b.Kind.Square.Side = 4;
        b.Kind.Square.Fill = "red";
        b.Plain.U = 9;
        JsonCodec.Decode("{\"type\": \"square\", \"plain\": {\"which\": \"u\"}}", b);
        Assert.Equal(0.0, b.Kind.Square.Side);
        Assert.False(b.AsReader().Kind.Square.HasFill);
        Assert.Equal(0, b.Plain.U);
        Assert.Throws<JsonCodecException>(() => JsonCodec.DecodeRoot<global::CodeGenTests.Json.Flat.Builder>("{\"type\": 1}", mb));
    }

    [Theory]
    [InlineData("{\"b64\": [1]}")]
    [InlineData("{\"b64\": \"a?Gk\"}")]
    [InlineData("{\"b64\": \"a\"}")]
    [InlineData("{\"hex\": \"6A6\"}")]
    [InlineData("{\"hex\": \"zz\"}")]
    [InlineData("{\"plain\": \"aGk=\"}")]
    public void MalformedBase64OrHexThrowsJsonCodecException(string json)
    {
        // Stricter than C++, whose kj::decodeBase64/decodeHex skip what they cannot read.
        using var mb = new MessageBuilder();
        Assert.Throws<JsonCodecException>(() => JsonCodec.DecodeRoot<global::CodeGenTests.Json.Blobs.Builder>(json, mb));
    }

    [Theory]
    [InlineData("")]
    [InlineData("{")]
    [InlineData("{\"int32Field\": }")]
    [InlineData("{\"int32Field\": 1,}")]
    [InlineData("{\"int32Field\" 1}")]
    [InlineData("{int32Field: 1}")]
    [InlineData("{} x")]
    [InlineData("[1]")]
    [InlineData("{\"textField\": \"a\\q\"}")]
    [InlineData("{\"textField\": \"\\u12\"}")]
    [InlineData("{\"textField\": \"unterminated}")]
    [InlineData("{\"int32Field\": 1.5}")]
    [InlineData("{\"int32Field\": 01}")]
    [InlineData("{\"int32Field\": -}")]
    [InlineData("{\"int8Field\": 300}")]
    [InlineData("{\"uint8Field\": -1}")]
    [InlineData("{\"int64Field\": \"12x\"}")]
    [InlineData("{\"uint64Field\": \"18446744073709551616\"}")]
    [InlineData("{\"uint64Field\": \"-1\"}")]
    [InlineData("{\"int64Field\": \"0x\"}")]
    [InlineData("{\"int64Field\": \"0x8000000000000000\"}")]
    [InlineData("{\"int64Field\": \"\"}")]
    [InlineData("{\"int32Field\": \"12 \"}")]
    [InlineData("{\"boolField\": 1}")]
    [InlineData("{\"textField\": 5}")]
    [InlineData("{\"dataField\": [256]}")]
    [InlineData("{\"dataField\": [1.5]}")]
    [InlineData("{\"dataField\": \"abc\"}")]
    [InlineData("{\"enumField\": \"purple\"}")]
    [InlineData("{\"enumField\": true}")]
    [InlineData("{\"structField\": [1]}")]
    [InlineData("{\"int32List\": {\"a\": 1}}")]
    [InlineData("{\"structList\": [1]}")]
    [InlineData("{\"listList\": [[1], 2]}")]
    [InlineData("{\"float64Field\": \"fast\"}")]
    [InlineData("{\"anyField\": {}}")]
    [InlineData("nul")]
    public void MalformedOrMismatchedJsonThrowsJsonCodecException(string json)
    {
        using var mb = new MessageBuilder();
        Assert.Throws<JsonCodecException>(() => JsonCodec.DecodeRoot<AllTypes.Builder>(json, mb));
    }

    [Fact]
    public void NestingDepthAndUnknownFieldsAreEnforced()
    {
        using var mb = new MessageBuilder();
        var deep = "{\"unknown\": " + new string('[', 100_000) + new string(']', 100_000) + "}";
        var e = Assert.Throws<JsonCodecException>(() => JsonCodec.DecodeRoot<AllTypes.Builder>(deep, mb));
        Assert.Contains("nested too deeply", e.Message);
        // Within the limit it is fine (and ignored).
        JsonCodec.DecodeRoot<AllTypes.Builder>("{\"unknown\": " + new string('[', 60) + new string(']', 60) + "}", mb);
        Assert.Throws<JsonCodecException>(() => JsonCodec.DecodeRoot<AllTypes.Builder>("{\"unknown\": 1}", mb, new JsonOptions { RejectUnknownFields = true }));

        // Recursive structs: the depth limit stops hostile JSON before the stack does.
        var chain = new StringBuilder();
        for (int i = 0; i < 10_000; i++) chain.Append("{\"next\": ");
        chain.Append("{}").Append('}', 10_000);
        Assert.Throws<JsonCodecException>(() => JsonCodec.DecodeRoot<global::Test.Node.Builder>(chain.ToString(), mb));
    }

    [Fact]
    public void EncodingHostileMessagesThrowsTypedExceptions()
    {
        using var mb = new MessageBuilder();
        var cur = mb.InitRoot<global::Test.Node.Builder>();
        for (int i = 0; i < 100_000; i++) cur = cur.InitNext();
        var framed = mb.ToFramedArray();
        var r = MessageReader.FromFramed(framed).GetRoot<global::Test.Node.Reader>();
        Assert.ThrowsAny<CapnpFormatException>(() => JsonCodec.Encode(r)); // nesting limit 64
        Assert.ThrowsAny<CapnpFormatException>(() => r.Equals(r));
        var deep = MessageReader.FromFramed(framed, new ReaderOptions { NestingLimit = 1_000_000, TraversalLimitInWords = 1L << 30 })
            .GetRoot<global::Test.Node.Reader>();
        Exception? error = null;
        var t = new Thread(() => { try { JsonCodec.Encode(deep); } catch (Exception e) { error = e; } }, 256 * 1024);
        t.Start(); t.Join();
        Assert.IsAssignableFrom<CapnpLimitExceededException>(error);

        // A list pointer claiming more elements than the message holds.
        var seg = new byte[24];
        seg[0] = 0x00; // root struct pointer: offset 0, 0 data words, 1 pointer
        seg[6] = 1;
        seg[8] = 0x01; seg[12] = 0x05 | (0xff << 3) & 0xff; seg[13] = 0xff; seg[14] = 0xff; seg[15] = 0x0f; // list of 8-byte values, huge count
        var bad = MessageReader.FromSingleSegment(seg).GetRoot<AllTypes.Reader>();
        Assert.ThrowsAny<CapnpFormatException>(() => JsonCodec.Encode(bad));
        Assert.ThrowsAny<CapnpFormatException>(() => bad.ToString());
    }

    [Fact]
    public async Task NullPointerUnionMembersPrintTheirDefaultAsCapnpDoes()
    {
        // unionText is the active member, but its pointer is null: C++ prints the default ("").
        using var mb = new MessageBuilder();
        var b = mb.InitRoot<global::Test.TestAll.Builder>();
        b.Raw.SetWhich((int)global::Test.TestAll.__Schema.DiscriminantOffset, 1);
        var framed = mb.ToFramedArray();
        var r = MessageReader.FromFramed(framed).GetRoot<global::Test.TestAll.Reader>();
        foreach (bool pretty in new[] { false, true })
        {
            var theirs = await Convert(framed, "binary:json", TextFormatTests.TestCapnp, "TestAll", pretty);
            Assert.Equal(theirs.StdoutText.TrimEnd('\n'), JsonCodec.Encode(r, new JsonOptions { Pretty = pretty }));
        }
        Assert.Contains("unionText = \"\"", r.ToString());
        await TextFormatTests.AssertDecodesAs(framed, TextFormatTests.TestCapnp, "TestAll", r.ToString(), TextFormat.FormatPretty(r));
    }

    [Fact]
    public void CapabilitiesAndAnyPointersCannotBeEncodedAsInCxx()
    {
        using var mb = new MessageBuilder();
        var b = mb.InitRoot<AllTypes.Builder>();
        Assert.DoesNotContain("anyField", JsonCodec.Encode(b.AsReader())); // null pointers are left out
        b.AnyField.InitStruct(1, 0);
        Assert.Throws<NotSupportedException>(() => JsonCodec.Encode(b.AsReader()));
    }

    [Fact]
    public void UnknownEnumValuesRoundTripAsNumbers()
    {
        using var mb = new MessageBuilder();
        var b = mb.InitRoot<Outer.Builder>();
        var inner = b.InitInner();
        inner.Raw.WriteUInt16((int)Outer.Inner.__Schema.FindField("kind")!.Offset, 9);
        var json = JsonCodec.Encode(b.AsReader());
        Assert.Equal("{\"inner\":{\"kind\":9}}", json);
        using var back = new MessageBuilder();
        Assert.Equal(b.AsReader(), JsonCodec.DecodeRoot<Outer.Builder>(json, back).AsReader());
    }
}
