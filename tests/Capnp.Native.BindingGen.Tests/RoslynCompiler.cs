using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;

namespace Capnp.Native.BindingGen.Tests;

/// <summary>
/// Compiles one C# file against the installed targeting pack's reference assemblies, running the pack's own
/// LibraryImport source generator, and returns the errors.
/// </summary>
internal static class RoslynCompiler
{
    public static string[] Compile(string code, out bool generatorRan)
    {
        var dotnetRoot = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(typeof(object).Assembly.Location)!, "..", "..", ".."));
        var version = Environment.Version;
        var refPack = Directory.GetDirectories(Path.Combine(dotnetRoot, "packs", "Microsoft.NETCore.App.Ref"))
            .Where(d => Path.GetFileName(d).StartsWith($"{version.Major}.{version.Minor}."))
            .OrderBy(d => Version.TryParse(Path.GetFileName(d), out var v) ? v : new Version())
            .Last();
        var refs = Directory.GetFiles(Path.Combine(refPack, "ref", $"net{version.Major}.{version.Minor}"), "*.dll")
            .Select(p => MetadataReference.CreateFromFile(p));
        var parse = new CSharpParseOptions(LanguageVersion.Preview);
        var compilation = CSharpCompilation.Create(
            "Generated",
            new[] { CSharpSyntaxTree.ParseText(code, parse, path: "NativeMethods.g.cs") },
            refs,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, allowUnsafe: true, nullableContextOptions: NullableContextOptions.Enable));

        var generatorDll = Path.Combine(refPack, "analyzers", "dotnet", "cs", "Microsoft.Interop.LibraryImportGenerator.dll");
        var analyzerRef = new AnalyzerFileReference(generatorDll, new Loader(Path.GetDirectoryName(generatorDll)!));
        var generators = analyzerRef.GetGenerators(LanguageNames.CSharp);
        Assert.NotEmpty(generators);
        GeneratorDriver driver = CSharpGeneratorDriver.Create(generators, parseOptions: parse, optionsProvider: new OptionsProvider(new Dictionary<string, string>
        {
            ["build_property.TargetFrameworkIdentifier"] = ".NETCoreApp",
            ["build_property.TargetFrameworkVersion"] = $"v{version.Major}.{version.Minor}",
            ["build_property.TargetFramework"] = $"net{version.Major}.{version.Minor}",
        }));
        driver = driver.RunGeneratorsAndUpdateCompilation(compilation, out var output, out var genDiagnostics);
        foreach (var r in driver.GetRunResult().Results)
            Assert.True(r.Exception == null, $"{r.Generator.GetGeneratorType().FullName} failed: {r.Exception}");
        generatorRan = output.SyntaxTrees.Count() > 1;
        return genDiagnostics.Concat(output.GetDiagnostics())
            .Where(d => d.Severity == DiagnosticSeverity.Error)
            .Select(d => d.ToString())
            .ToArray();
    }

    private sealed class OptionsProvider(Dictionary<string, string> values) : AnalyzerConfigOptionsProvider
    {
        private readonly Options _global = new(values);
        private static readonly Options Empty = new(new Dictionary<string, string>());
        public override AnalyzerConfigOptions GlobalOptions => _global;
        public override AnalyzerConfigOptions GetOptions(SyntaxTree tree) => Empty;
        public override AnalyzerConfigOptions GetOptions(AdditionalText textFile) => Empty;

        private sealed class Options(Dictionary<string, string> values) : AnalyzerConfigOptions
        {
            public override bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? value) =>
                values.TryGetValue(key, out value);
        }
    }

    private sealed class Loader(string directory) : IAnalyzerAssemblyLoader
    {
        public void AddDependencyLocation(string fullPath) { }

        private static int _resolverInstalled;

        public System.Reflection.Assembly LoadFromPath(string fullPath)
        {
            // The generator's own dependencies sit beside it; the default context would not look there.
            if (Interlocked.Exchange(ref _resolverInstalled, 1) == 0)
            {
                System.Runtime.Loader.AssemblyLoadContext.Default.Resolving += (context, name) =>
                {
                    var candidate = Path.Combine(directory, name.Name + ".dll");
                    return File.Exists(candidate) ? context.LoadFromAssemblyPath(candidate) : null;
                };
            }
            var name = System.Reflection.AssemblyName.GetAssemblyName(fullPath);
            var loaded = AppDomain.CurrentDomain.GetAssemblies().FirstOrDefault(a => a.GetName().Name == name.Name);
            return loaded ?? System.Runtime.Loader.AssemblyLoadContext.Default.LoadFromAssemblyPath(
                File.Exists(fullPath) ? fullPath : Path.Combine(directory, Path.GetFileName(fullPath)));
        }
    }
}
