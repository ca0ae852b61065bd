using System.Diagnostics;

namespace Capnp.Native.Tests.Vat;

/// <summary>A fresh folder under the system temp folder, deleted on dispose.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "capnp-vat-tests-" + Guid.NewGuid().ToString("N"));

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose() => Directory.Delete(Path, recursive: true);

    /// <summary>Runs a shell command line (bash -o pipefail -c) and returns its standard output; fails the test on a non-zero exit.</summary>
    public static string Shell(string commandLine)
    {
        var start = new ProcessStartInfo("bash", ["-o", "pipefail", "-c", commandLine])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(60_000), $"'{commandLine}' did not finish within 60 s");
        Assert.True(process.ExitCode == 0, $"'{commandLine}' exited with {process.ExitCode}: {stderr.Result}");
        return stdout;
    }
}
