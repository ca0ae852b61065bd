using System.Diagnostics;

namespace Capnp.Native.Serialization.Tests;

/// <summary>Runs the reference `capnp` tool (the oracle) with a timeout.</summary>
internal static class CapnpTool
{
    public static string SchemaDir => Path.Combine(AppContext.BaseDirectory, "schemas");
    public static string Schema => Path.Combine(SchemaDir, "test.capnp");

    public static byte[] Run(byte[] stdin, params string[] args)
    {
        var psi = new ProcessStartInfo("capnp")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = SchemaDir,
        };
        psi.Environment["PWD"] = SchemaDir;
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var outTask = Task.Run(() => { var ms = new MemoryStream(); p.StandardOutput.BaseStream.CopyTo(ms); return ms.ToArray(); });
        var errTask = p.StandardError.ReadToEndAsync();
        p.StandardInput.BaseStream.Write(stdin);
        p.StandardInput.Close();
        if (!p.WaitForExit(30_000)) { p.Kill(true); throw new TimeoutException("capnp timed out"); }
        var output = outTask.Result;
        if (p.ExitCode != 0) throw new InvalidOperationException($"capnp {string.Join(' ', args)} failed: {errTask.Result}");
        return output;
    }

    public static byte[] Encode(string type, string text, bool packed = false, int? segmentSize = null)
    {
        var args = new List<string> { "convert", packed ? "text:packed" : "text:binary" };
        if (segmentSize is int s) args.Add($"--segment-size={s}");
        args.Add("test.capnp"); args.Add(type);
        return Run(System.Text.Encoding.UTF8.GetBytes(text), args.ToArray());
    }

    public static string Decode(string type, byte[] data, bool packed = false)
        => System.Text.Encoding.UTF8.GetString(Run(data, DecodeArgs(type, packed))).Trim();

    private static string[] DecodeArgs(string type, bool packed)
        => packed ? new[] { "decode", "--short", "--packed", "test.capnp", type } : new[] { "decode", "--short", "test.capnp", type };

    public static byte[] Canonical(byte[] framed) => Run(framed, "convert", "binary:canonical");

    public static byte[] EvalConst(string name) => Run(Array.Empty<byte>(), "eval", "-b", "test.capnp", name);
}
