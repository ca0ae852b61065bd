using System.Text.RegularExpressions;
using Capnp.Native.Serialization;

namespace Capnp.Native.CodeGen.Tests;

/// <summary>
/// Every schema the test projects own is compiled by some test project's build, so each field kind
/// a schema declares reaches the C# compiler (issue 12: List(Void) generated code that did not compile).
/// </summary>
public class TestSchemaCoverageTests
{
    [Fact]
    public void EveryTestSchemaIsCompiledByATestProject()
    {
        var testsDir = Path.Combine(TestEnvironment.RepoRoot, "tests");
        var compiled = new HashSet<string>(StringComparer.Ordinal);
        var item = new Regex("<CapnpSchema\\s+Include=\"([^\"]+)\"");
        foreach (var project in Directory.EnumerateFiles(testsDir, "*.csproj", SearchOption.AllDirectories))
        {
            var dir = Path.GetDirectoryName(project)!;
            foreach (Match m in item.Matches(File.ReadAllText(project)))
                foreach (var include in m.Groups[1].Value.Split(';'))
                    if (!include.Contains("$(")) compiled.Add(Path.GetFullPath(Path.Combine(dir, include)));
        }

        // The package test (tests/packages/run.sh) builds a consumer outside the repository from
        // tests/packages/consumer/, compiling every schema there with <CapnpSchema Include="*.capnp" />.
        var packageTest = Path.Combine(testsDir, "packages", "run.sh");
        Assert.Contains("<CapnpSchema Include=\"*.capnp\" />", File.ReadAllText(packageTest));
        foreach (var schema in Directory.EnumerateFiles(Path.Combine(testsDir, "packages", "consumer"), "*.capnp"))
            compiled.Add(Path.GetFullPath(schema));

        var missing = Directory.EnumerateFiles(testsDir, "*.capnp", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}")
                     && !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}"))
            .Select(Path.GetFullPath)
            .Where(f => !compiled.Contains(f))
            .ToList();
        Assert.True(missing.Count == 0, "Test schemas no test project compiles: " + string.Join(", ", missing));
    }

    [Fact]
    public async Task VoidListIsGeneratedAndRoundTripsThroughCapnp()
    {
        using var mb = new MessageBuilder();
        var b = mb.InitRoot<global::Test.TestAll.Builder>();
        var voids = b.InitVoidList(3);
        Assert.Equal(3, voids.Count);
        Assert.Equal(ElementSize.Void, voids.ElementSize);

        var r = MessageReader.FromFramed(mb.ToFramedArray()).GetRoot<global::Test.TestAll.Reader>();
        Assert.Equal(3, r.VoidList.Count);

        var schemaDir = Path.Combine(TestEnvironment.RepoRoot, "tests", "Capnp.Native.Serialization.Tests", "schemas");
        var res = await TestEnvironment.RunAsync("capnp", new[] { "decode", "--short", "test.capnp", "TestAll" }, mb.ToFramedArray(), schemaDir);
        Assert.True(res.ExitCode == 0, res.Stderr);
        Assert.Contains("voidList = [void, void, void]", res.StdoutText);
    }
}
