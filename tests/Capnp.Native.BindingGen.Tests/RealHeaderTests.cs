using Capnp.Native.BindingGen;

namespace Capnp.Native.BindingGen.Tests;

/// <summary>The repository's own header and the committed generated file.</summary>
public class RealHeaderTests
{
    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "CapnpNative.sln"))) return dir.FullName;
        throw new InvalidOperationException("repository root (CapnpNative.sln) not found above " + AppContext.BaseDirectory);
    }

    [Fact]
    public void Committed_bindings_are_up_to_date_with_the_header()
    {
        var root = RepoRoot();
        var o = new StringWriter();
        var e = new StringWriter();
        int code = BindingGenCli.Run(new[]
        {
            "check",
            Path.Combine(root, BindingGenCli.CanonicalHeader),
            Path.Combine(root, BindingGenCli.CanonicalOutput),
        }, o, e);
        Assert.True(code == 0, e.ToString());
    }

    [Fact]
    public void Every_exported_function_of_the_header_is_declared()
    {
        var root = RepoRoot();
        var header = File.ReadAllText(Path.Combine(root, BindingGenCli.CanonicalHeader));
        var generated = BindingGenCli.Generate(Path.Combine(root, BindingGenCli.CanonicalHeader));
        var exported = System.Text.RegularExpressions.Regex.Matches(header, @"CAPNP_NATIVE_API\s[^;(]*?\b(capnp_\w+)\s*\(")
            .Select(m => m.Groups[1].Value).ToList();
        Assert.NotEmpty(exported);
        foreach (var name in exported)
            Assert.Contains($"[LibraryImport(LibraryName, EntryPoint = \"{name}\")]", generated);
        Assert.Equal(exported.Count, System.Text.RegularExpressions.Regex.Matches(generated, @"\[LibraryImport\(").Count);
    }

    [Fact]
    public void Bindings_generated_from_the_header_compile_with_the_library_import_generator()
    {
        var code = BindingGenCli.Generate(Path.Combine(RepoRoot(), BindingGenCli.CanonicalHeader));
        var errors = RoslynCompiler.Compile(code, out bool generatorRan);
        Assert.True(generatorRan);
        Assert.True(errors.Length == 0, string.Join("\n", errors));
    }
}
