using System.Diagnostics;
using System.Text;

namespace Capnp.Native.CodeGen.Tests;

/// <summary>Paths and process helpers shared by the tests.</summary>
internal static class TestEnvironment
{
    public static string BinDir => AppContext.BaseDirectory;

    /// <summary>The capnpc-csharp apphost copied next to the tests by the project reference.</summary>
    public static string PluginPath => Path.Combine(BinDir, "capnpc-csharp");

    public static string SchemaDir => Path.Combine(BinDir, "schemas");

    public static string RepoRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(BinDir); dir != null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "CapnpNative.sln"))) return dir.FullName;
            throw new InvalidOperationException("Repository root (CapnpNative.sln) not found above " + BinDir);
        }
    }

    public static string CodeGenDir => Path.Combine(RepoRoot, "managed", "Capnp.Native.CodeGen");

    public static string AnnotationSchemaDir => Path.Combine(CodeGenDir, "schemas");

    public sealed record Result(int ExitCode, byte[] Stdout, string Stderr)
    {
        public string StdoutText => Encoding.UTF8.GetString(Stdout);
    }

    /// <summary>Runs a process with a bounded timeout, feeding <paramref name="stdin"/>.</summary>
    public static async Task<Result> RunAsync(string file, IEnumerable<string> args, byte[]? stdin = null,
        string? workingDirectory = null, TimeSpan? timeout = null, IDictionary<string, string?>? env = null)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? BinDir,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (env != null) foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        var stdoutTask = Task.Run(async () =>
        {
            using var ms = new MemoryStream();
            await p.StandardOutput.BaseStream.CopyToAsync(ms, cts.Token);
            return ms.ToArray();
        });
        var stderrTask = p.StandardError.ReadToEndAsync(cts.Token);
        if (stdin != null) await p.StandardInput.BaseStream.WriteAsync(stdin, cts.Token);
        p.StandardInput.Close();
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in time.");
        }
        return new Result(p.ExitCode, await stdoutTask, await stderrTask);
    }

    /// <summary>Runs the capnp tool on the test schemas.</summary>
    public static Task<Result> CapnpAsync(byte[]? stdin, params string[] args)
        => RunAsync("capnp", new[] { args[0], "-I" + AnnotationSchemaDir }.Concat(args.Skip(1)), stdin, SchemaDir);
}
