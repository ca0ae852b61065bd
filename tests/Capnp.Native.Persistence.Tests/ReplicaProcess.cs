namespace Capnp.Native.Persistence.Tests;

/// <summary>A replica vat in a child process (see <see cref="Program"/>), stopped by closing its input.</summary>
internal sealed class ReplicaProcess : IDisposable
{
    private readonly System.Diagnostics.Process process;

    private ReplicaProcess(System.Diagnostics.Process process) => this.process = process;

    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    public static ReplicaProcess Start(string keyFile, string kind, string location, VatAddress? address = null)
    {
        var start = new System.Diagnostics.ProcessStartInfo("dotnet", [typeof(Program).Assembly.Location, "replica", keyFile, kind, location, .. address is null ? Array.Empty<string>() : [address.ToString()]])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var process = System.Diagnostics.Process.Start(start)!;
        var replica = new ReplicaProcess(process);
        // Kept for the failure message: a replica that cannot start says why on its error output.
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) replica.errors.Enqueue(e.Data); };
        process.BeginErrorReadLine();
        return replica;
    }

    private readonly System.Collections.Concurrent.ConcurrentQueue<string> errors = new();

    public async Task<VatAddress> AddressAsync()
    {
        var line = await process.StandardOutput.ReadLineAsync().WaitAsync(Bound);
        if (line is null || !line.StartsWith("LISTENING ", StringComparison.Ordinal))
        {
            await process.WaitForExitAsync().WaitAsync(Bound);
            Assert.Fail($"the replica did not start ({line ?? "no output"}; exit {process.ExitCode}): {string.Join(" | ", errors)}");
        }

        return VatAddress.Parse(line["LISTENING ".Length..]);
    }

    public void Dispose()
    {
        process.StandardInput.Close();
        if (!process.WaitForExit(Bound))
        {
            process.Kill(entireProcessTree: true);
        }

        process.Dispose();
    }
}

internal sealed class TempFolderForReplicas : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("capnp-replicas-").FullName;

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
