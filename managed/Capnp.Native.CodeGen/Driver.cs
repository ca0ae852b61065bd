using System.ComponentModel;
using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Capnp.Native.CodeGen;

/// <summary>
/// Driver mode, <c>capnpc-csharp --compile</c> (what the MSBuild targets run): runs <c>capnp compile -o-</c> itself,
/// generates in-process, and reports capnp's diagnostics in MSBuild's canonical format
/// (<c>file(line,col): error CAPNP0001: msg</c>). An imported schema whose types the generated code uses is generated
/// too, unless it is declared as compiled by a referenced project (<c>--referenced</c>).
/// </summary>
internal static class Driver
{
    /// <summary>
    /// The folders capnp searches for <c>/absolute</c> imports after its <c>-I</c> folders (unless
    /// <c>--no-standard-import</c>, which the driver never passes): an imported schema may be found there.
    /// </summary>
    private static readonly string[] StandardImportDirs = { "/usr/local/include", "/usr/include" };

    private static readonly Regex Diagnostic = new(@"^(?<file>.+?):(?<line>\d+):(?<col>\d+)(-\d+)?: (?<sev>error|warning): (?<msg>.*)$", RegexOptions.Compiled);

    internal const string Usage = "capnpc-csharp --compile --out DIR [--capnp PATH] [-I DIR]... [--referenced FILE]... " +
        "[--imported-schemas FILE] [--imported-code FILE] [--output NAME] file.capnp...";

    /// <summary>Runs driver mode on the arguments after <c>--compile</c>; returns the process exit code.</summary>
    public static int Run(string[] args)
    {
        string? outDir = null, capnp = "capnp", schemasList = null, codeList = null;
        var importDirs = new List<string>();
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
                case "-I": importDirs.Add(Path.GetFullPath(args[++i])); break;
                case "--output": nextOutput = args[++i]; break;
                case "--referenced": referenced.Add(Path.GetFullPath(args[++i])); break;
                case "--imported-schemas": schemasList = args[++i]; break;
                case "--imported-code": codeList = args[++i]; break;
                default:
                    if (args[i].StartsWith("-I", StringComparison.Ordinal)) importDirs.Add(Path.GetFullPath(args[i][2..]));
                    else { files.Add(args[i]); outputNames.Add(nextOutput); nextOutput = null; }
                    break;
            }
        }
        if (outDir == null || files.Count == 0)
        {
            Console.Error.WriteLine($"capnpc-csharp : error CAPNP0004: usage: {Usage}");
            return 2;
        }

        // capnp only emits requestedFiles (and the nodes of an imported file that its importers use, without doc
        // comments) for the files on its command line. So an imported schema to generate is put on the command line
        // and capnp runs again, until no generated file uses an uncompiled schema (an import's own imports are found
        // by the next run): each file is then generated from a complete request, exactly as if it were an item.
        // This costs one more capnp run per level of imports, and none when every used import is an item.
        var imported = new List<string>();
        RequestModel model;
        while (true)
        {
            int exit = Compile(capnp, importDirs, files.Concat(imported), out var compiled);
            if (compiled == null) return exit;
            model = compiled;
            bool unlocated = false, added = false;
            foreach (var (file, import) in UsedImports.NotRequested(model, f => referenced.Contains(SchemaPath(f.DisplayName, importDirs))))
            {
                var path = SchemaPath(import.DisplayName, importDirs);
                if (!File.Exists(path))
                {
                    var importer = SchemaPath(file.Filename, importDirs);
                    Console.Error.WriteLine($"{importer}: error CAPNP0008: {Path.GetFileName(importer)} uses types of the imported schema '{import.DisplayName}', " +
                        "whose file capnpc-csharp cannot find to compile it: add the folder capnp found it in as <CapnpImportPath Include=\"DIR\" /> " +
                        "(or list the schema as <CapnpSchema Include=\"FILE\" />, or as <CapnpReferencedSchema Include=\"FILE\" /> when a referenced project compiles it).");
                    unlocated = true;
                }
                // A schema imported by several files is generated once.
                else if (!imported.Contains(path))
                {
                    imported.Add(path);
                    added = true;
                }
            }
            if (unlocated) return 1;
            if (!added) break;
        }

        var generated = new CodeGenerator(model).GenerateAll().ToList();
        // capnp lists the requested files in command-line order: the items, then the imports.
        if (generated.Count != files.Count + imported.Count)
        {
            Console.Error.WriteLine($"capnpc-csharp : error CAPNP0007: capnp compiled {generated.Count} files for {files.Count + imported.Count} schemas; is a schema listed twice?");
            return 1;
        }
        var schemas = files.Concat(imported).ToList();
        var names = schemas.Select((f, i) => (i < files.Count ? outputNames[i] : null) ?? MirroredName(f)).ToList();
        var paths = names.Select(n => Path.GetFullPath(Path.Combine(outDir, n))).ToList();
        if (Program.Collision(schemas, paths) is { } collision)
        {
            Console.Error.WriteLine($"capnpc-csharp : error CAPNP0007: {collision}");
            return 1;
        }
        for (int i = 0; i < generated.Count; i++)
            Program.WriteFile(paths[i], generated[i].Content);
        // Written last, after the code they list: the MSBuild targets compile the code, clean it, and regenerate when
        // one of these schemas changes.
        if (schemasList != null) Program.WriteFile(schemasList, string.Concat(imported.Select(p => p + "\n")));
        if (codeList != null) Program.WriteFile(codeList, string.Concat(paths.Skip(files.Count).Select(p => p + "\n")));
        return 0;
    }

    /// <summary>
    /// The generated file's path relative to the output folder, as the MSBuild targets name items (the driver runs in
    /// the project folder): the schema's path relative to the working directory when inside it, else its full path
    /// without the root, so schemas with the same file name in different folders give different files.
    /// </summary>
    private static string MirroredName(string schema)
    {
        var full = Path.GetFullPath(schema);
        var cwd = Path.TrimEndingDirectorySeparator(Environment.CurrentDirectory) + Path.DirectorySeparatorChar;
        var name = full.StartsWith(cwd, StringComparison.Ordinal) ? full[cwd.Length..] : full[(Path.GetPathRoot(full)?.Length ?? 0)..];
        return CodeGenerator.OutputFileName(name);
    }

    /// <summary>
    /// Runs <c>capnp compile -o-</c> on <paramref name="files"/> and loads its request into <paramref name="model"/>
    /// (null when capnp failed, its diagnostics reported); returns the exit code for a failure.
    /// </summary>
    private static int Compile(string capnp, IReadOnlyList<string> importDirs, IEnumerable<string> files, out RequestModel? model)
    {
        model = null;
        var psi = new ProcessStartInfo(capnp)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("compile");
        psi.ArgumentList.Add("-o-");
        foreach (var dir in importDirs) psi.ArgumentList.Add("-I" + dir);
        // A file on the command line inside an import folder is then named as an import of it names it: capnp sees one
        // file, not the same file at two paths (which it warns about), when an imported schema is compiled too.
        foreach (var dir in importDirs.Concat(StandardImportDirs).Where(Directory.Exists).Distinct())
            psi.ArgumentList.Add("--src-prefix=" + dir);
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

        using (proc)
        {
            var stderr = proc.StandardError.ReadToEndAsync();
            using var ms = new MemoryStream();
            proc.StandardOutput.BaseStream.CopyTo(ms);
            proc.WaitForExit();

            bool reported = false;
            foreach (var line in stderr.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                var m = Diagnostic.Match(line.TrimEnd('\r'));
                if (m.Success)
                {
                    // capnp names a file relative to the working directory or to the import folder it was found in.
                    var file = SchemaPath(m.Groups["file"].Value, importDirs);
                    var sev = m.Groups["sev"].Value;
                    Console.Error.WriteLine($"{Path.GetFullPath(file)}({m.Groups["line"].Value},{m.Groups["col"].Value}): {sev} CAPNP0001: {m.Groups["msg"].Value}");
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
            model = Program.Load(ms.ToArray());
            return 0;
        }
    }

    /// <summary>
    /// The full path of a schema capnp names relative to the working directory, to an import folder (or
    /// <c>--src-prefix</c>, the same folders), or by its absolute path without the root; the name itself when no such
    /// file exists.
    /// </summary>
    private static string SchemaPath(string capnpName, IReadOnlyList<string> importDirs)
    {
        var candidates = new[] { Path.GetFullPath(capnpName), Path.GetFullPath(Path.Combine(Path.GetPathRoot(Environment.CurrentDirectory) ?? "/", capnpName)) }
            .Concat(importDirs.Concat(StandardImportDirs).Select(d => Path.GetFullPath(Path.Combine(d, capnpName.TrimStart('/')))));
        return candidates.FirstOrDefault(File.Exists) ?? capnpName;
    }
}
