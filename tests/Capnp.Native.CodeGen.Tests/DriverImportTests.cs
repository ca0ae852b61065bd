namespace Capnp.Native.CodeGen.Tests;

/// <summary>
/// The driver (<c>capnpc-csharp --compile</c>) on imported schemas, run directly: what it cannot generate is a clear
/// error, and a schema both listed and imported is one file to capnp.
/// </summary>
public class DriverImportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("capnp-imports-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private void WriteSchemas()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "schemas"));
        Directory.CreateDirectory(Path.Combine(_dir, "include", "shared"));
        File.WriteAllText(Path.Combine(_dir, "include", "shared", "common.capnp"), "@0xe3b4c2d1a0f9e8d7;\nenum Level { low @0; high @1; }\n");
        File.WriteAllText(Path.Combine(_dir, "schemas", "person.capnp"),
            "@0xd1c2b3a4f5e6d7c8;\nusing Common = import \"/shared/common.capnp\";\nstruct Person { level @0 :Common.Level; }\n");
    }

    // PWD as a shell (MSBuild's Exec) sets it: capnp warns when it is not the working directory.
    private Task<TestEnvironment.Result> DriverAsync(params string[] args)
        => TestEnvironment.RunAsync(TestEnvironment.PluginPath, new[] { "--compile", "--out", "out" }.Concat(args), workingDirectory: _dir,
            env: new Dictionary<string, string?> { ["PWD"] = _dir });

    [Fact]
    public async Task ImportTheDriverCannotFindIsCapnp0008()
    {
        WriteSchemas();
        // capnp finds /shared/common.capnp through an import folder the driver is not given (as capnp's compiled-in
        // include folder would be): a wrapper adds it.
        var capnp = Path.Combine(_dir, "capnp-with-hidden-include");
        File.WriteAllText(capnp, $"#!/bin/sh\ncommand=$1\nshift\nexec capnp \"$command\" -I{Path.Combine(_dir, "include")} \"$@\"\n");
        File.SetUnixFileMode(capnp, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        var res = await DriverAsync("--capnp", capnp, "schemas/person.capnp");
        Assert.NotEqual(0, res.ExitCode);
        var person = Path.Combine(_dir, "schemas", "person.capnp");
        Assert.Contains($"{person}: error CAPNP0008: person.capnp uses types of the imported schema 'shared/common.capnp', whose file capnpc-csharp cannot find", res.Stderr);
        Assert.Contains("<CapnpImportPath Include=\"DIR\" />", res.Stderr);
        Assert.False(Directory.Exists(Path.Combine(_dir, "out")));
    }

    [Fact]
    public async Task ListedSchemaThatIsAlsoImportedIsOneFileToCapnp()
    {
        WriteSchemas();
        var res = await DriverAsync("-I", "include", "schemas/person.capnp", "include/shared/common.capnp");
        Assert.True(res.ExitCode == 0, res.Stderr);
        // Without --src-prefix for the import folder capnp warns "Found exactly the same source file mapped at two
        // different paths".
        Assert.Equal("", res.Stderr);
        Assert.True(File.Exists(Path.Combine(_dir, "out", "schemas", "person.capnp.cs")));
        Assert.True(File.Exists(Path.Combine(_dir, "out", "include", "shared", "common.capnp.cs")));
    }

    [Fact]
    public async Task ImportedSchemaIsGeneratedAndListed()
    {
        WriteSchemas();
        var res = await DriverAsync("-I", "include", "--imported-schemas", "out/schemas.txt", "--imported-code", "out/code.txt", "schemas/person.capnp");
        Assert.True(res.ExitCode == 0, res.Stderr);
        Assert.Equal("", res.Stderr);
        var code = Path.Combine(_dir, "out", "include", "shared", "common.capnp.cs");
        Assert.Contains("enum Level", File.ReadAllText(code));
        Assert.Equal(new[] { Path.Combine(_dir, "include", "shared", "common.capnp") }, File.ReadAllLines(Path.Combine(_dir, "out", "schemas.txt")));
        Assert.Equal(new[] { code }, File.ReadAllLines(Path.Combine(_dir, "out", "code.txt")));
    }
}
