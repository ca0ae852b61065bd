namespace Capnp.Native.CodeGen.Tests;

/// <summary>
/// Schemas with the same file name in different folders give different generated files (issue 12: one silently
/// overwrote the other, with exit code 0); a collision that remains is an error.
/// </summary>
public class OutputNameTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("capnp-names-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private void WriteSchemas()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "a"));
        Directory.CreateDirectory(Path.Combine(_dir, "b"));
        Directory.CreateDirectory(Path.Combine(_dir, "out"));
        File.WriteAllText(Path.Combine(_dir, "a", "x.capnp"), "@0xd1c2b3a4f5e6d7c1;\nstruct FromA { a @0 :Int32; }\n");
        File.WriteAllText(Path.Combine(_dir, "b", "x.capnp"), "@0xd1c2b3a4f5e6d7c2;\nstruct FromB { b @0 :Int32; }\n");
    }

    [Fact]
    public async Task PluginMirrorsTheSchemaPaths()
    {
        WriteSchemas();
        var res = await TestEnvironment.RunAsync("capnp",
            new[] { "compile", $"-o{TestEnvironment.PluginPath}:out", "a/x.capnp", "b/x.capnp" }, workingDirectory: _dir);
        Assert.True(res.ExitCode == 0, res.Stderr);
        Assert.Contains("class FromA", File.ReadAllText(Path.Combine(_dir, "out", "a", "x.capnp.cs")));
        Assert.Contains("class FromB", File.ReadAllText(Path.Combine(_dir, "out", "b", "x.capnp.cs")));
        Assert.False(File.Exists(Path.Combine(_dir, "out", "x.capnp.cs")));
    }

    [Fact]
    public async Task PluginRefusesTwoSchemasNamedAlike()
    {
        WriteSchemas();
        // Both prefixes stripped: capnp names both files x.capnp.
        var res = await TestEnvironment.RunAsync("capnp",
            new[] { "compile", "--src-prefix=a", "--src-prefix=b", $"-o{TestEnvironment.PluginPath}:out", "a/x.capnp", "b/x.capnp" },
            workingDirectory: _dir);
        Assert.NotEqual(0, res.ExitCode);
        Assert.Contains("error CAPNP0007", res.Stderr);
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(_dir, "out"), "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task DriverRefusesTwoSchemasGivenTheSameOutputName()
    {
        WriteSchemas();
        var res = await TestEnvironment.RunAsync(TestEnvironment.PluginPath,
            new[] { "--compile", "--out", "out", "--output", "x.cs", "a/x.capnp", "--output", "x.cs", "b/x.capnp" },
            workingDirectory: _dir);
        Assert.NotEqual(0, res.ExitCode);
        Assert.Contains("error CAPNP0007", res.Stderr);
        Assert.Contains("a/x.capnp", res.Stderr);
        Assert.Contains("b/x.capnp", res.Stderr);
    }
}
