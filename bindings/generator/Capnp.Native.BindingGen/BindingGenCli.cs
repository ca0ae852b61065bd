using System.Text;

namespace Capnp.Native.BindingGen;

/// <summary>
/// Command line: <c>generate &lt;header.h&gt; &lt;out.cs&gt;</c> and <c>check &lt;header.h&gt; &lt;committed.cs&gt;</c>.
/// Exit codes: 0 = written / up to date, 1 = committed file is stale, 2 = unreadable or unparsable input, or bad usage.
/// </summary>
public static class BindingGenCli
{
    public const int Ok = 0;
    public const int Stale = 1;
    public const int Error = 2;

    public const string CanonicalHeader = "native/include/capnp_native.h";
    public const string CanonicalOutput = "bindings/Capnp.Native.Interop/Generated/NativeMethods.g.cs";
    private const string ProjectPath = "bindings/generator/Capnp.Native.BindingGen";

    private static readonly UTF8Encoding Utf8NoBom = new(encoderShouldEmitUTF8Identifier: false);

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Length != 3 || args[0] is not ("generate" or "check"))
        {
            stderr.WriteLine("usage: Capnp.Native.BindingGen generate <header.h> <out.cs>");
            stderr.WriteLine("       Capnp.Native.BindingGen check <header.h> <committed.cs>");
            stderr.WriteLine("exit codes: 0 ok / up to date, 1 stale (check), 2 error");
            return Error;
        }
        var (mode, header, output) = (args[0], args[1], args[2]);

        string generated;
        try
        {
            generated = Generate(header);
        }
        catch (HeaderParseException e)
        {
            stderr.WriteLine(e.Message);
            stderr.WriteLine($"{header}: the header is outside the grammar supported by Capnp.Native.BindingGen (see bindings/generator/README.md)");
            return Error;
        }
        catch (IOException e)
        {
            stderr.WriteLine($"{header}: error: cannot read the header: {e.Message}");
            return Error;
        }
        catch (UnauthorizedAccessException e)
        {
            stderr.WriteLine($"{header}: error: cannot read the header: {e.Message}");
            return Error;
        }

        return mode == "generate" ? Write(header, output, generated, stdout, stderr) : Check(header, output, generated, stdout, stderr);
    }

    /// <summary>Parses <paramref name="headerPath"/> and returns the C# text. Throws <see cref="HeaderParseException"/>.</summary>
    public static string Generate(string headerPath)
    {
        var source = File.ReadAllText(headerPath);
        var model = HeaderParser.Parse(headerPath, source, RepoRelativeName(headerPath));
        return CSharpEmitter.Emit(model);
    }

    private static int Write(string header, string output, string generated, TextWriter stdout, TextWriter stderr)
    {
        try
        {
            var dir = Path.GetDirectoryName(Path.GetFullPath(output));
            if (dir != null) Directory.CreateDirectory(dir);
            File.WriteAllText(output, generated, Utf8NoBom);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"{output}: error: cannot write: {e.Message}");
            return Error;
        }
        stdout.WriteLine($"generated {output} from {header}");
        return Ok;
    }

    private static int Check(string header, string committedPath, string generated, TextWriter stdout, TextWriter stderr)
    {
        string? committed;
        try
        {
            committed = File.Exists(committedPath) ? File.ReadAllText(committedPath) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"{committedPath}: error: cannot read: {e.Message}");
            return Error;
        }

        if (committed != null)
        {
            // Tolerate CRLF checkouts (git autocrlf); everything else must match exactly.
            committed = committed.Replace("\r\n", "\n");
            if (committed == generated)
            {
                stdout.WriteLine($"up to date: {committedPath} matches {header}");
                return Ok;
            }
        }

        stderr.WriteLine($"STALE: {committedPath} is out of date with {header}.");
        if (committed == null)
        {
            stderr.WriteLine($"  {committedPath} does not exist.");
        }
        else
        {
            var (line, mine, theirs) = FirstDifference(committed, generated);
            if (mine == null && theirs == null)
                stderr.WriteLine($"  the files differ only in the final newline (line {line})");
            else
                stderr.WriteLine($"  first difference at line {line}:");
            if (mine != null || theirs != null)
            {
                stderr.WriteLine($"    committed: {theirs ?? "(end of file)"}");
                stderr.WriteLine($"    generated: {mine ?? "(end of file)"}");
            }
        }
        stderr.WriteLine("  Regenerate and commit the result:");
        if (RepoRelativeName(header) == CanonicalHeader && RepoRelativeName(committedPath) == CanonicalOutput)
            stderr.WriteLine($"    {CSharpEmitter.RegenerateCommand}");
        stderr.WriteLine($"    dotnet run --project {ProjectPath} -- generate {header} {committedPath}");
        return Stale;
    }

    /// <returns>1-based line number of the first differing line, and the generated and committed text of it (null past the end).</returns>
    public static (int Line, string? Generated, string? Committed) FirstDifference(string committed, string generated)
    {
        var a = Lines(committed);
        var b = Lines(generated);
        for (int i = 0; ; i++)
        {
            string? x = i < a.Length ? a[i] : null;
            string? y = i < b.Length ? b[i] : null;
            if (x != y || (x == null && y == null)) return (i + 1, y, x);
        }
    }

    private static string[] Lines(string text)
    {
        var lines = text.Split('\n');
        return text.EndsWith('\n') ? lines[..^1] : lines;
    }

    /// <summary>The path of <paramref name="path"/> relative to the enclosing git work tree ('/' separators), else its file name,
    /// so that the generated banner does not depend on the current directory or the checkout location.</summary>
    public static string RepoRelativeName(string path)
    {
        var full = Path.GetFullPath(path);
        for (var dir = Path.GetDirectoryName(full); dir != null; dir = Path.GetDirectoryName(dir))
        {
            var git = Path.Combine(dir, ".git");
            if (Directory.Exists(git) || File.Exists(git))
                return Path.GetRelativePath(dir, full).Replace(Path.DirectorySeparatorChar, '/');
        }
        return Path.GetFileName(full);
    }
}
