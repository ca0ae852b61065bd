using System.ComponentModel;
using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Capnp.Native.Serialization;

namespace Capnp.Native.CodeGen;

/// <summary>
/// capnpc-csharp. Two modes:
/// <list type="bullet">
/// <item>Plugin (no arguments): <c>capnp compile -o/path/capnpc-csharp:OUTDIR file.capnp</c> — reads a
/// CodeGeneratorRequest on stdin and writes <c>dir/file.capnp.cs</c> into the current directory (capnp chdirs to OUTDIR),
/// mirroring each schema's path as capnp names it, as the C++ plugin does.</item>
/// <item>Driver (<c>--compile</c>, used by the MSBuild targets): runs <c>capnp compile -o-</c> itself, generates
/// in-process and reports capnp's diagnostics in MSBuild's canonical format (<c>file(line,col): error CAPNP0001: msg</c>).</item>
/// </list>
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        try
        {
            if (args.Length > 0 && args[0] == "--compile") return Driver(args.AsSpan(1).ToArray());
            if (args.Length > 0 && args[0] is "-h" or "--help")
            {
                Console.WriteLine("usage: capnp compile -o<path>/capnpc-csharp:OUTDIR file.capnp");
                Console.WriteLine("       capnpc-csharp --compile --out DIR [--capnp PATH] [-I DIR]... [--output NAME] file.capnp...");
                return 0;
            }
            using var stdin = Console.OpenStandardInput();
            using var ms = new MemoryStream();
            stdin.CopyTo(ms);
            var outputs = Generate(ms.ToArray());
            if (Collision(outputs.Select(o => o.FileName[..^3]).ToList(), outputs.Select(o => o.FileName).ToList()) is { } collision)
            {
                Console.Error.WriteLine($"capnpc-csharp : error CAPNP0007: {collision}");
                return 1;
            }
            foreach (var (name, content) in outputs)
                WriteFile(Path.Combine(Directory.GetCurrentDirectory(), name), content);
            return 0;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"capnpc-csharp : error CAPNP0003: {e.GetType().Name}: {e.Message}");
            return 1;
        }
    }

    /// <summary>Generates C# for every requested file of a framed CodeGeneratorRequest.</summary>
    public static IReadOnlyList<(string FileName, string Content)> Generate(ReadOnlyMemory<byte> framedRequest)
        => new CodeGenerator(Load(framedRequest)).GenerateAll().ToList();

    private static RequestModel Load(ReadOnlyMemory<byte> framedRequest)
    {
        var message = MessageReader.FromFramed(framedRequest, new ReaderOptions { TraversalLimitInWords = long.MaxValue / 2, NestingLimit = 128 });
        return SchemaLoader.Load(message);
    }

    /// <summary>A message naming two schemas whose generated files would be the same file, or null when all differ.</summary>
    private static string? Collision(IReadOnlyList<string> schemas, IReadOnlyList<string> outputs)
    {
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < outputs.Count; i++)
        {
            var key = Path.GetFullPath(outputs[i]);
            if (seen.TryGetValue(key, out int j))
                return $"The schemas '{schemas[j]}' and '{schemas[i]}' would both be generated into '{outputs[i]}': give them different paths or output names.";
            seen.Add(key, i);
        }
        return null;
    }

    private static void WriteFile(string path, string content)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content, new UTF8Encoding(false));
    }

    /// <summary>The full path of a schema capnp names relative to the working directory or to an import directory.</summary>
    private static string SchemaPath(string capnpName, IReadOnlyList<string> importDirs)
    {
        // capnp names a schema outside the working directory by its absolute path without the root.
        var candidates = new[] { Path.GetFullPath(capnpName), Path.GetFullPath(Path.Combine(Path.GetPathRoot(Environment.CurrentDirectory) ?? "/", capnpName)) }
            .Concat(importDirs.Select(d => Path.GetFullPath(Path.Combine(d, capnpName.TrimStart('/')))));
        return candidates.FirstOrDefault(File.Exists) ?? capnpName;
    }

    private static readonly Regex Diagnostic = new(@"^(?<file>.+?):(?<line>\d+):(?<col>\d+)(-\d+)?: (?<sev>error|warning): (?<msg>.*)$", RegexOptions.Compiled);

    private static int Driver(string[] args)
    {
        string? outDir = null, capnp = "capnp";
        var imports = new List<string>();
        var files = new List<string>();
        // Schemas whose generated code another assembly (a referenced project) provides: importing them is fine.
        var referenced = new HashSet<string>(StringComparer.Ordinal);
        // Output path (relative to --out) of each file, when given by `--output NAME` before it (the MSBuild targets
        // name every output, so they know the files to compile before the driver runs).
        var outputNames = new List<string?>();
        string? nextOutput = null;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--out": outDir = args[++i]; break;
                case "--capnp": capnp = args[++i]; break;
                case "-I": imports.Add(args[++i]); break;
                case "--output": nextOutput = args[++i]; break;
                case "--referenced": referenced.Add(Path.GetFullPath(args[++i])); break;
                default:
                    if (args[i].StartsWith("-I", StringComparison.Ordinal)) imports.Add(args[i][2..]);
                    else { files.Add(args[i]); outputNames.Add(nextOutput); nextOutput = null; }
                    break;
            }
        }
        if (outDir == null || files.Count == 0)
        {
            Console.Error.WriteLine("capnpc-csharp : error CAPNP0004: usage: capnpc-csharp --compile --out DIR [--capnp PATH] [-I DIR]... [--referenced FILE]... [--output NAME] file.capnp...");
            return 2;
        }

        var psi = new ProcessStartInfo(capnp)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("compile");
        psi.ArgumentList.Add("-o-");
        foreach (var imp in imports) psi.ArgumentList.Add("-I" + Path.GetFullPath(imp));
        foreach (var f in files) psi.ArgumentList.Add(f);

        Process proc;
        try
        {
            proc = Process.Start(psi) ?? throw new Win32Exception("Process.Start returned null");
        }
        catch (Win32Exception e)
        {
            Console.Error.WriteLine($"capnpc-csharp : error CAPNP0002: The Cap'n Proto compiler '{capnp}' could not be started ({e.Message}). " +
                "Install the Cap'n Proto tools, which provide capnp: the Debian/Ubuntu package capnproto (sudo apt-get install capnproto), " +
                "Fedora's capnproto, Homebrew's capnp, or a build from capnproto.org; or set the CapnpToolPath MSBuild property to the capnp executable.");
            return 2;
        }

        var stderr = proc.StandardError.ReadToEndAsync();
        using var ms = new MemoryStream();
        proc.StandardOutput.BaseStream.CopyTo(ms);
        proc.WaitForExit();
        var errText = stderr.Result;

        bool reported = false;
        foreach (var line in errText.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var m = Diagnostic.Match(line.TrimEnd('\r'));
            if (m.Success)
            {
                var file = Path.GetFullPath(m.Groups["file"].Value);
                var sev = m.Groups["sev"].Value;
                Console.Error.WriteLine($"{file}({m.Groups["line"].Value},{m.Groups["col"].Value}): {sev} CAPNP0001: {m.Groups["msg"].Value}");
                reported |= sev == "error";
            }
            else
            {
                Console.Error.WriteLine(proc.ExitCode != 0 ? $"capnpc-csharp : error CAPNP0001: {line}" : line);
                reported |= proc.ExitCode != 0;
            }
        }
        if (proc.ExitCode != 0)
        {
            if (!reported) Console.Error.WriteLine($"capnpc-csharp : error CAPNP0001: capnp compile exited with code {proc.ExitCode}.");
            return 1;
        }

        var model = Load(ms.ToArray());
        bool missing = false;
        foreach (var (file, imported) in ImportCheck.Uncompiled(model, f => referenced.Contains(SchemaPath(f.DisplayName, imports))))
        {
            var importer = SchemaPath(file.Filename, imports);
            var path = SchemaPath(imported.DisplayName, imports);
            Console.Error.WriteLine($"{importer}: error CAPNP0008: {Path.GetFileName(importer)} uses types of the imported schema '{path}', which is not compiled: " +
                $"add <CapnpSchema Include=\"{path}\" /> (or <CapnpReferencedSchema Include=\"{path}\" /> when a referenced project compiles it).");
            missing = true;
        }
        if (missing) return 1;

        var generated = new CodeGenerator(model).GenerateAll().ToList();
        // capnp lists the requested files in command-line order.
        if (generated.Count != files.Count)
        {
            Console.Error.WriteLine($"capnpc-csharp : error CAPNP0007: capnp compiled {generated.Count} files for {files.Count} schema arguments; is a schema listed twice?");
            return 1;
        }
        var names = generated.Select((g, i) => outputNames[i] ?? g.FileName).ToList();
        if (Collision(files, names.Select(n => Path.Combine(outDir, n)).ToList()) is { } collision)
        {
            Console.Error.WriteLine($"capnpc-csharp : error CAPNP0007: {collision}");
            return 1;
        }
        for (int i = 0; i < generated.Count; i++)
            WriteFile(Path.Combine(outDir, names[i]), generated[i].Content);
        return 0;
    }
}
