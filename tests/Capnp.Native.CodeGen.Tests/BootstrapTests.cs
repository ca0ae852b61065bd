namespace Capnp.Native.CodeGen.Tests;

/// <summary>The committed readers for schema.capnp are exactly what the plugin generates today.</summary>
public class BootstrapTests
{
    [Fact]
    public async Task CommittedBootstrapEqualsFreshPluginOutput()
    {
        var outDir = Directory.CreateTempSubdirectory("capnp-bootstrap-").FullName;
        try
        {
            // Plugin mode, exactly as regenerate-bootstrap.sh runs it.
            var res = await TestEnvironment.RunAsync("capnp", new[]
            {
                "compile", "--src-prefix=/usr/include/capnp", "-I/usr/include",
                $"-o{TestEnvironment.PluginPath}:{outDir}", "/usr/include/capnp/schema.capnp",
            });
            Assert.True(res.ExitCode == 0, res.Stderr);
            var fresh = await File.ReadAllTextAsync(Path.Combine(outDir, "schema.capnp.cs"));
            var committed = await File.ReadAllTextAsync(Path.Combine(TestEnvironment.CodeGenDir, "Bootstrap", "schema.capnp.cs"));
            Assert.True(fresh == committed,
                "Bootstrap/schema.capnp.cs is stale: run managed/Capnp.Native.CodeGen/regenerate-bootstrap.sh (twice) and commit.");
        }
        finally
        {
            Directory.Delete(outDir, recursive: true);
        }
    }

    [Fact]
    public async Task PluginRejectsMalformedRequest()
    {
        var res = await TestEnvironment.RunAsync(TestEnvironment.PluginPath, Array.Empty<string>(), new byte[] { 1, 2, 3 });
        Assert.NotEqual(0, res.ExitCode);
        Assert.Contains("error CAPNP0003", res.Stderr);
    }
}
