using Capnp.Native.Serialization;

namespace Capnp.Native.Serialization.Tests;

/// <summary>TextFormat and JsonCodec over a hand-written StructSchema: the runtime needs no generated code.</summary>
public class SchemaDrivenTests
{
    // struct S { d @0 :Float64; name @1 :Text; tags @2 :List(Text); kind @3 :E; union { a @4 :Int64; b @5 :Void; } }
    private static readonly EnumSchema E = new(1, "E", new[] { "zero", "one" });
    private static readonly StructSchema S = new(2, "S", 3, 2, 2, 8, new[]
    {
        FieldSchema.Slot("d", FieldSchema.NoDiscriminant, 0, TypeSchema.Float64),
        FieldSchema.Slot("name", FieldSchema.NoDiscriminant, 0, TypeSchema.Text),
        FieldSchema.Slot("tags", FieldSchema.NoDiscriminant, 1, TypeSchema.ListOf(TypeSchema.Text)),
        FieldSchema.Slot("kind", FieldSchema.NoDiscriminant, 4, TypeSchema.EnumOf(E), defaultBits: 1),
        FieldSchema.Slot("a", 0, 2, TypeSchema.Int64),
        FieldSchema.Slot("b", 1, 0, TypeSchema.Void),
    });

    // Expected strings: C's printf("%.15g"), else "%.17g", with the exponent's '+' removed (what kj::str(double) does).
    [Theory]
    [InlineData(0.1, "0.1")]
    [InlineData(0.3333333333333333, "0.33333333333333331")]
    [InlineData(0.6666666666666666, "0.66666666666666663")]
    [InlineData(1e+22, "1e22")]
    [InlineData(1e+23, "1e23")]
    [InlineData(1.2345678901234568e+17, "1.2345678901234568e17")]
    [InlineData(9007199254740992.0, "9007199254740992")]
    [InlineData(5e-324, "4.94065645841247e-324")]
    [InlineData(2.2250738585072014e-308, "2.2250738585072014e-308")]
    [InlineData(1.7976931348623157e+308, "1.7976931348623157e308")]
    [InlineData(0.000123456789, "0.000123456789")]
    [InlineData(0.0001, "0.0001")]
    [InlineData(1e-05, "1e-05")]
    [InlineData(1234567.0, "1234567")]
    [InlineData(100.0, "100")]
    [InlineData(-2.5e-07, "-2.5e-07")]
    [InlineData(7.797321716796032e-143, "7.7973217167960318e-143")]
    [InlineData(1.9136501335079107e+18, "1.9136501335079107e18")]
    [InlineData(5.217661241107128e-93, "5.2176612411071278e-93")]
    [InlineData(2.2650931316539388e-73, "2.2650931316539388e-73")]
    [InlineData(3.0401619337755356e+306, "3.0401619337755356e306")]
    [InlineData(3.6073848762432704e-11, "3.6073848762432704e-11")]
    [InlineData(5.414431513894442e+88, "5.4144315138944417e88")]
    [InlineData(6.3156354363724975e-25, "6.3156354363724975e-25")]
    [InlineData(8.717947767187401e+224, "8.717947767187401e224")]
    [InlineData(2.5769428138733223e-168, "2.5769428138733223e-168")]
    [InlineData(1.2564689823522835e-307, "1.2564689823522835e-307")]
    [InlineData(8.273000005181385e+76, "8.2730000051813851e76")]
    [InlineData(1.0492927191805842e+295, "1.0492927191805842e295")]
    [InlineData(5.160900119200586e-82, "5.160900119200586e-82")]
    [InlineData(3.044915135496874e-99, "3.0449151354968741e-99")]
    [InlineData(4.92130496393341e-179, "4.92130496393341e-179")]
    [InlineData(1.9866480505317802e+47, "1.9866480505317802e47")]
    [InlineData(1.3602669142155008e-185, "1.3602669142155008e-185")]
    [InlineData(453299219.10006523, "453299219.10006523")]
    [InlineData(1.3632627364255739e+197, "1.3632627364255739e197")]
    public void DoublesPrintAsKjPrintsThem(double value, string expected)
    {
        using var mb = new MessageBuilder();
        var b = mb.InitRoot(3, 2);
        b.WriteFloat64(0, value);
        Assert.Equal("(d = " + expected + ", kind = one, a = 0)", TextFormat.Format(b.AsReader(), S));
        Assert.Equal("{\"d\":" + expected + ",\"kind\":\"one\",\"a\":\"0\"}", JsonCodec.Encode(b.AsReader(), S));
    }

    [Fact]
    public void HandWrittenSchemaRoundTripsThroughJson()
    {
        using var mb = new MessageBuilder();
        var b = mb.InitRoot(3, 2);
        JsonCodec.Decode("{\"name\": \"n\", \"tags\": [\"x\", \"\"], \"kind\": \"zero\", \"b\": null, \"d\": -0.5}", b, S);
        var r = b.AsReader();
        Assert.Equal("(d = -0.5, name = \"n\", tags = [\"x\", \"\"], kind = zero, b = void)", TextFormat.Format(r, S));
        Assert.Equal(1, r.ReadUInt16(4)); // zero is stored XORed with the default (one)
        Assert.Equal("{\"d\": -0.5, \"name\": \"n\", \"tags\": [\"x\", \"\"], \"kind\": \"zero\", \"b\": null}", JsonCodec.Encode(r, S, new JsonOptions { Pretty = true }));
    }

    [Fact]
    public void NullAndEmptyStructsAreEqualButNullAndEmptyListsAreNot()
    {
        using var m1 = new MessageBuilder();
        var a = m1.InitRoot(3, 2);
        using var m2 = new MessageBuilder();
        var b = m2.InitRoot(1, 0);
        Assert.True(CanonicalEquality.AreEqual(a.AsReader(), b.AsReader()));
        Assert.True(CanonicalEquality.AreEqual(default, b.AsReader()));
        Assert.Equal(CanonicalEquality.GetHashCode(default), CanonicalEquality.GetHashCode(a.AsReader()));
        a.InitList(1, ElementSize.Pointer, 0);
        Assert.False(CanonicalEquality.AreEqual(a.AsReader(), b.AsReader()));
    }
}
