using System.Text;
using Capnp.Native.Serialization;
using CodeGenTests.Schema;

namespace Capnp.Native.CodeGen.Tests;

/// <summary>The reference capnp tool decodes what generated builders write, and encodes what generated readers read.</summary>
public class CapnpOracleTests
{
    [Fact]
    public async Task CapnpDecodesMessagesBuiltWithGeneratedBuilders()
    {
        var mb = new MessageBuilder();
        var s = mb.InitRoot<Shape.Builder>();
        s.Name = "box";
        var rect = s.InitRectangle();
        rect.Width = 2; rect.Height = 3;
        var fill = s.Fill;
        fill.Named = Color.LightGoldenrodYellow;
        var pos = s.Position;
        pos.X = 0.5;

        var res = await TestEnvironment.CapnpAsync(mb.ToFramedArray(), "decode", "--short", "codegen_test.capnp", "Shape");
        Assert.True(res.ExitCode == 0, res.Stderr);
        Assert.Equal(
            "(name = \"box\", rectangle = (width = 2, height = 3), fill = (named = lightGoldenrodYellow), position = (x = 0.5, y = 0))",
            res.StdoutText.Trim());
    }

    [Fact]
    public async Task CapnpDecodesAllTypesIncludingDefaults()
    {
        var mb = new MessageBuilder();
        var b = mb.InitRoot<AllTypes.Builder>();
        b.Int32Field = -5;
        b.IntDefault = 0;
        b.TextField = "t";
        var l = b.InitInt32List(2);
        l[0] = 4; l[1] = 5;
        b.ImportedEnum = OtherTypes.Level.High;
        var res = await TestEnvironment.CapnpAsync(mb.ToFramedArray(), "decode", "codegen_test.capnp", "AllTypes");
        Assert.True(res.ExitCode == 0, res.Stderr);
        var text = res.StdoutText;
        Assert.Contains("int32Field = -5", text);
        Assert.Contains("intDefault = 0", text);
        Assert.Contains("textField = \"t\"", text);
        Assert.Contains("int32List = [4, 5]", text);
        Assert.Contains("importedEnum = high", text);
        Assert.Contains("boolDefault = true", text);
    }

    [Fact]
    public async Task GeneratedReadersReadMessagesEncodedByCapnp()
    {
        const string text = "(name = \"c\", circle = 1.5, fill = (rgb = 255), position = (x = -1, y = 2))";
        var res = await TestEnvironment.CapnpAsync(Encoding.UTF8.GetBytes(text), "encode", "codegen_test.capnp", "Shape");
        Assert.True(res.ExitCode == 0, res.Stderr);
        var r = MessageReader.FromFramed(res.Stdout).GetRoot<Shape.Reader>();
        Assert.Equal("c", r.Name);
        Assert.Equal(Shape.Which.Circle, r.Which);
        Assert.Equal(1.5, r.Circle);
        Assert.Equal(Shape.Fill.Which.Rgb, r.Fill.Which);
        Assert.Equal(255u, r.Fill.Rgb);
        Assert.Equal(-1, r.Position.X);
        Assert.Equal(2, r.Position.Y);
    }

    [Fact]
    public async Task ConstantsMatchCapnpEval()
    {
        var res = await TestEnvironment.CapnpAsync(null, "eval", "codegen_test.capnp", "origin");
        Assert.True(res.ExitCode == 0, res.Stderr);
        Assert.Equal($"(x = {CodegenTestConstants.Origin.X}, y = {CodegenTestConstants.Origin.Y})", res.StdoutText.Trim());
        res = await TestEnvironment.CapnpAsync(null, "eval", "codegen_test.capnp", "primes");
        Assert.Equal("[" + string.Join(", ", CodegenTestConstants.Primes.ToArray()) + "]", res.StdoutText.Trim());
    }
}
