using Capnp.Native.BindingGen;

namespace Capnp.Native.BindingGen.Tests;

/// <summary>The generate/check command line, run in-process on temporary files.</summary>
public sealed class CheckCommandTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("bindinggen-");
    private readonly string _header;
    private readonly string _output;

    public CheckCommandTests()
    {
        _header = Path.Combine(_dir.FullName, "api.h");
        _output = Path.Combine(_dir.FullName, "out", "NativeMethods.g.cs");
    }

    public void Dispose() => _dir.Delete(recursive: true);

    private const string Body = """
        typedef struct h h;
        CAPNP_NATIVE_API int32_t h_create(h** out_h);
        CAPNP_NATIVE_API void h_release(h* x);
        """;

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = BindingGenCli.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    private void WriteHeader(string body) => File.WriteAllText(_header, TestHeader.Wrap(body));

    [Fact]
    public void Generate_writes_the_file_and_check_accepts_it_unchanged()
    {
        WriteHeader(Body);
        var g = Run("generate", _header, _output);
        Assert.Equal(0, g.Code);
        Assert.Equal(TestHeader.Generate(Body).Replace("t.h", "api.h"), File.ReadAllText(_output));

        var c = Run("check", _header, _output);
        Assert.Equal(0, c.Code);
        Assert.Contains("up to date", c.Out);
        Assert.Equal("", c.Err);
    }

    [Fact]
    public void Check_reports_stale_when_a_function_is_added_without_regenerating()
    {
        WriteHeader(Body);
        Assert.Equal(0, Run("generate", _header, _output).Code);
        var before = File.ReadAllText(_output);
        WriteHeader(Body + "CAPNP_NATIVE_API int32_t h_ping(h* x);\n");

        var c = Run("check", _header, _output);
        Assert.Equal(1, c.Code);
        Assert.Contains($"STALE: {_output} is out of date with {_header}", c.Err);
        Assert.Contains("first difference at line", c.Err);
        Assert.Contains("generated: ", c.Err);
        Assert.Contains($"dotnet run --project bindings/generator/Capnp.Native.BindingGen -- generate {_header} {_output}", c.Err);
        Assert.Equal(before, File.ReadAllText(_output)); // check never writes
    }

    [Fact]
    public void Check_reports_stale_and_shows_the_line_when_a_parameter_type_changes()
    {
        WriteHeader(Body);
        Assert.Equal(0, Run("generate", _header, _output).Code);
        WriteHeader(Body.Replace("void h_release(h* x)", "void h_release(h** x)"));

        var c = Run("check", _header, _output);
        Assert.Equal(1, c.Code);
        Assert.Contains(_output, c.Err);
        Assert.Contains("committed:     internal static partial void h_release(h* x);", c.Err);
        Assert.Contains("generated:     internal static partial void h_release(h** x);", c.Err);

        Assert.Equal(0, Run("generate", _header, _output).Code);
        Assert.Equal(0, Run("check", _header, _output).Code);
    }

    [Fact]
    public void Check_reports_stale_when_the_committed_file_was_edited_by_hand()
    {
        WriteHeader(Body);
        Assert.Equal(0, Run("generate", _header, _output).Code);
        File.AppendAllText(_output, "// hand edit\n");
        var c = Run("check", _header, _output);
        Assert.Equal(1, c.Code);
        Assert.Contains("committed: // hand edit", c.Err);
        Assert.Contains("generated: (end of file)", c.Err);
    }

    [Fact]
    public void Check_reports_stale_when_only_the_final_newline_differs()
    {
        WriteHeader(Body);
        Assert.Equal(0, Run("generate", _header, _output).Code);
        File.WriteAllText(_output, File.ReadAllText(_output).TrimEnd('\n'));
        var c = Run("check", _header, _output);
        Assert.Equal(1, c.Code);
        Assert.Contains("differ only in the final newline", c.Err);
    }

    [Fact]
    public void Check_reports_stale_when_the_committed_file_is_missing()
    {
        WriteHeader(Body);
        var c = Run("check", _header, _output);
        Assert.Equal(1, c.Code);
        Assert.Contains($"{_output} does not exist", c.Err);
    }

    [Fact]
    public void Check_accepts_a_crlf_checkout_of_the_same_content()
    {
        WriteHeader(Body);
        Assert.Equal(0, Run("generate", _header, _output).Code);
        File.WriteAllText(_output, File.ReadAllText(_output).Replace("\n", "\r\n"));
        Assert.Equal(0, Run("check", _header, _output).Code);
    }

    [Fact]
    public void Unparsable_header_exits_2_with_location_for_both_modes()
    {
        WriteHeader("CAPNP_NATIVE_API int32_t f(bool b);");
        foreach (var mode in new[] { "check", "generate" })
        {
            var r = Run(mode, _header, _output);
            Assert.Equal(2, r.Code);
            Assert.Contains($"{_header}:{TestHeader.FirstBodyLine}:28: error: ", r.Err);
        }
        Assert.False(File.Exists(_output)); // nothing written on error
    }

    [Fact]
    public void Missing_header_exits_2()
    {
        var r = Run("generate", Path.Combine(_dir.FullName, "nope.h"), _output);
        Assert.Equal(2, r.Code);
        Assert.Contains("cannot read the header", r.Err);
    }

    [Theory]
    [InlineData()]
    [InlineData("generate", "only-one")]
    [InlineData("frobnicate", "a.h", "b.cs")]
    public void Bad_usage_exits_2(params string[] args)
    {
        var r = Run(args);
        Assert.Equal(2, r.Code);
        Assert.Contains("usage:", r.Err);
    }

    [Fact]
    public void Canonical_paths_point_to_regenerate_script_and_banner_is_repo_relative()
    {
        Directory.CreateDirectory(Path.Combine(_dir.FullName, ".git"));
        var header = Path.Combine(_dir.FullName, "native", "include", "capnp_native.h");
        var output = Path.Combine(_dir.FullName, "bindings", "Capnp.Native.Interop", "Generated", "NativeMethods.g.cs");
        Directory.CreateDirectory(Path.GetDirectoryName(header)!);
        File.WriteAllText(header, TestHeader.Wrap(Body));
        Assert.Equal(0, Run("generate", header, output).Code);
        Assert.Contains("generated by Capnp.Native.BindingGen from native/include/capnp_native.h;", File.ReadAllText(output));

        File.WriteAllText(header, TestHeader.Wrap(Body + "CAPNP_NATIVE_API void more(void);"));
        var c = Run("check", header, output);
        Assert.Equal(1, c.Code);
        Assert.Contains("    bindings/generator/regenerate.sh\n", c.Err.Replace("\r\n", "\n"));
    }

    [Theory]
    [InlineData("a\nb\nc", "a\nb\nc\nd", 4, "d", null)]
    [InlineData("a\nX\nc", "a\nb\nc", 2, "b", "X")]
    [InlineData("a\nb\n", "a\n", 2, null, "b")]
    [InlineData("a\n", "a", 2, null, null)]
    public void First_difference_is_the_first_differing_line(string committed, string generated, int line, string? gen, string? com)
    {
        var d = BindingGenCli.FirstDifference(committed, generated);
        Assert.Equal((line, gen, com), d);
    }
}
