using Capnp.Native.BindingGen;

namespace Capnp.Native.BindingGen.Tests;

/// <summary>Wraps declarations in the mandatory frame (include guard, includes, extern "C", export macro).</summary>
internal static class TestHeader
{
    public const string Prologue =
        "#ifndef T_H\n" +
        "#define T_H\n" +
        "#include <stddef.h>\n" +
        "#include <stdint.h>\n" +
        "#ifdef __cplusplus\n" +
        "extern \"C\" {\n" +
        "#endif\n" +
        "#define CAPNP_NATIVE_API __attribute__((visibility(\"default\")))\n";

    /// <summary>Line number of the first line of a wrapped body.</summary>
    public const int FirstBodyLine = 9;

    public const string Epilogue =
        "#ifdef __cplusplus\n" +
        "}\n" +
        "#endif\n" +
        "#endif\n";

    public static string Wrap(string body) => Prologue + body + (body.EndsWith('\n') ? "" : "\n") + Epilogue;

    public static string Generate(string body) => CSharpEmitter.Emit(HeaderParser.Parse("t.h", Wrap(body)));

    public static string GenerateRaw(string header) => CSharpEmitter.Emit(HeaderParser.Parse("t.h", header));

    public static HeaderParseException Fail(string body) =>
        Assert.Throws<HeaderParseException>(() => HeaderParser.Parse("t.h", Wrap(body)));

    public static HeaderParseException FailRaw(string header) =>
        Assert.Throws<HeaderParseException>(() => HeaderParser.Parse("t.h", header));
}
