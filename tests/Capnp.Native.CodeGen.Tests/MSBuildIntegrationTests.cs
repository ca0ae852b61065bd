using System.Text.RegularExpressions;

namespace Capnp.Native.CodeGen.Tests;

/// <summary>
/// Builds a tiny consumer project that imports build/Capnp.Native.CodeGen.targets, with the real
/// dotnet CLI in a per-test temporary directory.
/// </summary>
public class MSBuildIntegrationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("capnp-msbuild-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private const string Schema = """
        @0xd1c2b3a4f5e6d7c8;
        using CSharp = import "/csharp.capnp";
        $CSharp.namespace("Consumer.Schema");
        using Common = import "/shared/common.capnp";
        struct Person {
          name @0 :Text;
          age @1 :UInt32 = 7;
          level @2 :Common.Level = high;
        }

        """;

    private void WriteProject(string schema, string? toolPath = null)
    {
        var targets = Path.Combine(TestEnvironment.CodeGenDir, "build", "Capnp.Native.CodeGen.targets");
        var runtime = Path.Combine(TestEnvironment.BinDir, "Capnp.Native.Serialization.dll");
        File.WriteAllText(Path.Combine(_dir, "Consumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
                <CapnpPluginPath>{TestEnvironment.PluginPath}</CapnpPluginPath>
                {(toolPath == null ? "" : $"<CapnpToolPath>{toolPath}</CapnpToolPath>")}
              </PropertyGroup>
              <ItemGroup>
                <Reference Include="{runtime}" />
                <CapnpSchema Include="schemas/person.capnp" />
                <CapnpSchema Include="include/shared/common.capnp" />
                <CapnpImportPath Include="include" />
              </ItemGroup>
              <Import Project="{targets}" />
            </Project>
            """);
        Directory.CreateDirectory(Path.Combine(_dir, "schemas"));
        File.WriteAllText(Path.Combine(_dir, "schemas", "person.capnp"), schema);
        // Found through <CapnpImportPath Include="include" /> (capnp -I).
        Directory.CreateDirectory(Path.Combine(_dir, "include", "shared"));
        File.WriteAllText(Path.Combine(_dir, "include", "shared", "common.capnp"), "@0xe3b4c2d1a0f9e8d7;\nenum Level { low @0; high @1; }\n");
        File.WriteAllText(Path.Combine(_dir, "Program.cs"), """
            var mb = new Capnp.Native.Serialization.MessageBuilder();
            var p = mb.InitRoot<Consumer.Schema.Person.Builder>();
            p.Name = "Ada";
            var r = mb.AsReader().GetRoot<Consumer.Schema.Person.Reader>();
            Console.WriteLine($"{r.Name} {r.Age} {r.Level}");
            """);
    }

    // Generated files mirror the schemas' paths in the project.
    private string GeneratedFile => Path.Combine(_dir, "obj", "Debug", "net10.0", "capnp", "schemas", "person.capnp.cs");

    private Task<TestEnvironment.Result> DotnetAsync(params string[] args)
    {
        var env = new Dictionary<string, string?>
        {
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
            ["DOTNET_NOLOGO"] = "1",
            ["MSBUILDDISABLENODEREUSE"] = "1",
        };
        // Do not leak the test host's MSBuild settings into the child build.
        foreach (var key in Environment.GetEnvironmentVariables().Keys.Cast<string>())
            if (key.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) && key != "MSBUILDDISABLENODEREUSE") env[key] = null;
        return TestEnvironment.RunAsync("dotnet",
            args.Concat(new[] { "-nodeReuse:false", "-p:UseSharedCompilation=false" }),
            workingDirectory: _dir, timeout: TimeSpan.FromMinutes(3), env: env);
    }

    [Fact]
    public async Task ConsumerCompilesGeneratedCodeAndRebuildsOnlyWhenSchemaChanges()
    {
        WriteProject(Schema);
        var build = await DotnetAsync("build", "-v:n");
        Assert.True(build.ExitCode == 0, build.StdoutText + build.Stderr);
        Assert.True(File.Exists(GeneratedFile));

        var run = await TestEnvironment.RunAsync("dotnet", new[] { Path.Combine(_dir, "bin", "Debug", "net10.0", "Consumer.dll") });
        Assert.Equal("Ada 7 High", run.StdoutText.Trim());

        // Unchanged inputs: the generation target is skipped and the file is not rewritten.
        var stamp = File.GetLastWriteTimeUtc(GeneratedFile);
        var again = await DotnetAsync("build", "--no-restore", "-v:n");
        Assert.True(again.ExitCode == 0, again.StdoutText);
        Assert.Contains("Skipping target \"CapnpGenerate\"", again.StdoutText);
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(GeneratedFile));

        // A changed schema is regenerated.
        File.WriteAllText(Path.Combine(_dir, "schemas", "person.capnp"), Schema.Replace("age @1 :UInt32 = 7;", "age @1 :UInt32 = 7;\n  email @3 :Text;"));
        var changed = await DotnetAsync("build", "--no-restore", "-v:n");
        Assert.True(changed.ExitCode == 0, changed.StdoutText);
        Assert.DoesNotContain("Skipping target \"CapnpGenerate\"", changed.StdoutText);
        Assert.Contains("Email", File.ReadAllText(GeneratedFile));
    }

    [Fact]
    public async Task SchemasWithTheSameFileNameInDifferentFoldersBothCompile()
    {
        WriteProject(Schema);
        // A second schema named like the shared one, in another folder: its output must not replace common.capnp's.
        Directory.CreateDirectory(Path.Combine(_dir, "schemas", "other"));
        File.WriteAllText(Path.Combine(_dir, "schemas", "other", "common.capnp"),
            """
            @0xe3b4c2d1a0f9e8d6;
            using CSharp = import "/csharp.capnp";
            $CSharp.namespace("Consumer.Other");
            struct Tag { label @0 :Text; }

            """);
        var project = Path.Combine(_dir, "Consumer.csproj");
        File.WriteAllText(project, File.ReadAllText(project).Replace(
            "<CapnpImportPath Include=\"include\" />",
            "<CapnpImportPath Include=\"include\" />\n    <CapnpSchema Include=\"schemas/other/common.capnp\" />"));
        File.AppendAllText(Path.Combine(_dir, "Program.cs"), """

            var tb = new Capnp.Native.Serialization.MessageBuilder();
            tb.InitRoot<Consumer.Other.Tag.Builder>().Label = "t";
            Console.WriteLine(tb.AsReader().GetRoot<Consumer.Other.Tag.Reader>().Label + " " + Common.Level.High);
            """);

        var build = await DotnetAsync("build", "-v:n");
        Assert.True(build.ExitCode == 0, build.StdoutText + build.Stderr);
        var capnpDir = Path.Combine(_dir, "obj", "Debug", "net10.0", "capnp");
        Assert.True(File.Exists(Path.Combine(capnpDir, "include", "shared", "common.capnp.cs")));
        Assert.True(File.Exists(Path.Combine(capnpDir, "schemas", "other", "common.capnp.cs")));
        var run = await TestEnvironment.RunAsync("dotnet", new[] { Path.Combine(_dir, "bin", "Debug", "net10.0", "Consumer.dll") });
        Assert.Equal("Ada 7 High\nt High", run.StdoutText.Trim().ReplaceLineEndings("\n"));
    }

    private string CapnpDir => Path.Combine(_dir, "obj", "Debug", "net10.0", "capnp");

    private string ImportedCommon => Path.Combine(CapnpDir, "include", "shared", "common.capnp.cs");

    /// <summary>The project without the <c>CapnpSchema</c> item for common.capnp, which person.capnp imports.</summary>
    private void UnlistCommon()
    {
        var project = Path.Combine(_dir, "Consumer.csproj");
        File.WriteAllText(project, File.ReadAllText(project).Replace("<CapnpSchema Include=\"include/shared/common.capnp\" />", ""));
    }

    private void AddToProject(string items)
    {
        var project = Path.Combine(_dir, "Consumer.csproj");
        File.WriteAllText(project, File.ReadAllText(project).Replace("<CapnpImportPath Include=\"include\" />", "<CapnpImportPath Include=\"include\" />\n    " + items));
    }

    private Task<TestEnvironment.Result> RunConsumerAsync()
        => TestEnvironment.RunAsync("dotnet", new[] { Path.Combine(_dir, "bin", "Debug", "net10.0", "Consumer.dll") });

    private string[] ImportedSchemasList => File.ReadAllLines(Path.Combine(CapnpDir, "imported-schemas.txt"));

    [Fact]
    public async Task ImportedSchemaIsGeneratedWithoutBeingListed()
    {
        WriteProject(Schema);
        // Only person.capnp is an item; its Level field is common.capnp's enum, and the program uses that type directly.
        UnlistCommon();
        File.AppendAllText(Path.Combine(_dir, "Program.cs"), "\nConsole.WriteLine(Common.Level.Low);\n");
        var build = await DotnetAsync("build", "-v:n");
        Assert.True(build.ExitCode == 0, build.StdoutText + build.Stderr);
        Assert.DoesNotContain("CAPNP0008", build.StdoutText);
        // Generated where it would be as an item (its path in the project mirrored), and no file for /csharp.capnp, which
        // person.capnp imports for annotations only.
        Assert.True(File.Exists(ImportedCommon));
        Assert.Equal(new[] { Path.Combine(_dir, "include", "shared", "common.capnp") }, ImportedSchemasList);
        Assert.Equal(new[] { ImportedCommon }, File.ReadAllLines(Path.Combine(CapnpDir, "imported-code.txt")));
        Assert.Equal(new[] { "common.capnp.cs", "person.capnp.cs" },
            Directory.EnumerateFiles(CapnpDir, "*.cs", SearchOption.AllDirectories).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        var run = await RunConsumerAsync();
        Assert.Equal("Ada 7 High\nLow", run.StdoutText.Trim().ReplaceLineEndings("\n"));

        // Clean removes the imported schema's code and the lists with the items' code.
        var clean = await DotnetAsync("clean");
        Assert.True(clean.ExitCode == 0, clean.StdoutText + clean.Stderr);
        Assert.False(File.Exists(ImportedCommon));
        Assert.False(File.Exists(GeneratedFile));
        Assert.False(File.Exists(Path.Combine(CapnpDir, "imported-schemas.txt")));
    }

    [Fact]
    public async Task ImportOfAnImportIsGenerated()
    {
        WriteProject(Schema);
        UnlistCommon();
        // common.capnp's generated code uses base.capnp's struct; person.capnp uses only common.capnp's enum.
        File.WriteAllText(Path.Combine(_dir, "include", "shared", "base.capnp"), "@0xe3b4c2d1a0f9e8d5;\nstruct Base { x @0 :UInt8 = 5; }\n");
        File.WriteAllText(Path.Combine(_dir, "include", "shared", "common.capnp"),
            "@0xe3b4c2d1a0f9e8d7;\nusing B = import \"base.capnp\";\nenum Level { low @0; high @1; }\nstruct Holder { base @0 :B.Base; }\n");
        File.AppendAllText(Path.Combine(_dir, "Program.cs"), """

            var hb = new Capnp.Native.Serialization.MessageBuilder();
            var holder = hb.InitRoot<Common.Holder.Builder>();
            holder.InitBase();
            Console.WriteLine(hb.AsReader().GetRoot<Common.Holder.Reader>().Base.X);
            """);
        var build = await DotnetAsync("build", "-v:n");
        Assert.True(build.ExitCode == 0, build.StdoutText + build.Stderr);
        Assert.True(File.Exists(Path.Combine(CapnpDir, "include", "shared", "base.capnp.cs")));
        Assert.Equal(new[] { "base.capnp", "common.capnp" }, ImportedSchemasList.Select(Path.GetFileName).Order(StringComparer.Ordinal));
        var run = await RunConsumerAsync();
        Assert.Equal("Ada 7 High\n5", run.StdoutText.Trim().ReplaceLineEndings("\n"));
    }

    [Fact]
    public async Task SchemaImportedByTwoItemsIsGeneratedOnce()
    {
        WriteProject(Schema);
        UnlistCommon();
        File.WriteAllText(Path.Combine(_dir, "schemas", "team.capnp"), """
            @0xd1c2b3a4f5e6d7c9;
            using Common = import "/shared/common.capnp";
            struct Team { level @0 :Common.Level = low; }

            """);
        AddToProject("<CapnpSchema Include=\"schemas/team.capnp\" />");
        File.AppendAllText(Path.Combine(_dir, "Program.cs"), """

            var tb = new Capnp.Native.Serialization.MessageBuilder();
            tb.InitRoot<Team.Team.Builder>();
            Console.WriteLine(tb.AsReader().GetRoot<Team.Team.Reader>().Level);
            """);
        var build = await DotnetAsync("build", "-v:n");
        // Generated twice, Common.Level would be declared twice (CS0101) or the list would name it twice.
        Assert.True(build.ExitCode == 0, build.StdoutText + build.Stderr);
        Assert.Equal(new[] { Path.Combine(_dir, "include", "shared", "common.capnp") }, ImportedSchemasList);
        var run = await RunConsumerAsync();
        Assert.Equal("Ada 7 High\nLow", run.StdoutText.Trim().ReplaceLineEndings("\n"));
    }

    [Fact]
    public async Task ReferencedSchemaIsNotGenerated()
    {
        WriteProject(Schema);
        UnlistCommon();
        // Compiled by a referenced project instead: the consumer declares it, and only the C# compiler is left to find the
        // types (here they are missing, so it is the compiler that fails, not the driver).
        AddToProject("<CapnpReferencedSchema Include=\"include/shared/common.capnp\" />");
        var build = await DotnetAsync("build");
        Assert.NotEqual(0, build.ExitCode);
        Assert.DoesNotContain("CAPNP", build.StdoutText);
        Assert.Contains("error CS0400", build.StdoutText);
        Assert.True(File.Exists(GeneratedFile));
        Assert.False(File.Exists(ImportedCommon));
        Assert.Empty(ImportedSchemasList);
    }

    [Fact]
    public async Task ChangedImportedSchemaIsRegenerated()
    {
        WriteProject(Schema);
        UnlistCommon();
        var build = await DotnetAsync("build", "-v:n");
        Assert.True(build.ExitCode == 0, build.StdoutText + build.Stderr);

        // Unchanged inputs, the imported schema included: the generation target is skipped.
        var stamp = File.GetLastWriteTimeUtc(ImportedCommon);
        var again = await DotnetAsync("build", "--no-restore", "-v:n");
        Assert.True(again.ExitCode == 0, again.StdoutText);
        Assert.Contains("Skipping target \"CapnpGenerate\"", again.StdoutText);
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(ImportedCommon));

        // The imported schema changes (the items do not): regenerated, and the program uses the new enumerant.
        File.WriteAllText(Path.Combine(_dir, "include", "shared", "common.capnp"), "@0xe3b4c2d1a0f9e8d7;\nenum Level { low @0; high @1; top @2; }\n");
        File.AppendAllText(Path.Combine(_dir, "Program.cs"), "\nConsole.WriteLine(Common.Level.Top);\n");
        var changed = await DotnetAsync("build", "--no-restore", "-v:n");
        Assert.True(changed.ExitCode == 0, changed.StdoutText);
        Assert.DoesNotContain("Skipping target \"CapnpGenerate\"", changed.StdoutText);
        Assert.Contains("Top", File.ReadAllText(ImportedCommon));
        var run = await RunConsumerAsync();
        Assert.Equal("Ada 7 High\nTop", run.StdoutText.Trim().ReplaceLineEndings("\n"));
    }

    [Fact]
    public async Task ListingOrUnlistingAnImportedSchemaRegenerates()
    {
        WriteProject(Schema);
        UnlistCommon();
        var build = await DotnetAsync("build", "-v:n");
        Assert.True(build.ExitCode == 0, build.StdoutText + build.Stderr);
        Assert.Single(ImportedSchemasList);

        // No schema changes, the items do: common.capnp is an item now, so no longer an import to list (and compile twice).
        AddToProject("<CapnpSchema Include=\"include/shared/common.capnp\" />");
        var listed = await DotnetAsync("build", "--no-restore", "-v:n");
        Assert.True(listed.ExitCode == 0, listed.StdoutText);
        Assert.DoesNotContain("Skipping target \"CapnpGenerate\"", listed.StdoutText);
        Assert.DoesNotContain("CS2002", listed.StdoutText);
        Assert.Empty(ImportedSchemasList);

        // And unlisted again: generated as an import, or the program would not compile.
        UnlistCommon();
        var unlisted = await DotnetAsync("build", "--no-restore", "-v:n");
        Assert.True(unlisted.ExitCode == 0, unlisted.StdoutText);
        Assert.Single(ImportedSchemasList);
        var run = await RunConsumerAsync();
        Assert.Equal("Ada 7 High", run.StdoutText.Trim());
    }

    [Fact]
    public async Task SchemaErrorIsReportedAtFileAndLine()
    {
        var schema = Schema + "struct Broken {\n  field @0 :NoSuchType;\n}\n";
        WriteProject(schema);
        int line = Array.FindIndex(schema.Split('\n'), l => l.Contains("NoSuchType")) + 1;
        var build = await DotnetAsync("build");
        Assert.NotEqual(0, build.ExitCode);
        var schemaPath = Path.Combine(_dir, "schemas", "person.capnp");
        // "  field @0 :NoSuchType;": the type name starts at column 13 (1-based).
        var pattern = new Regex(Regex.Escape(schemaPath) + $@"\({line},13\): error CAPNP0001: .*NoSuchType");
        Assert.True(pattern.IsMatch(build.StdoutText), build.StdoutText);
    }

    [Fact]
    public async Task MissingCapnpToolIsAClearError()
    {
        WriteProject(Schema, toolPath: Path.Combine(_dir, "no-such-capnp"));
        var build = await DotnetAsync("build");
        Assert.NotEqual(0, build.ExitCode);
        Assert.Contains("error CAPNP0002", build.StdoutText);
        Assert.Contains("CapnpToolPath", build.StdoutText);
        Assert.Contains("Debian/Ubuntu package capnproto", build.StdoutText);
    }
}
