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
        };
        return new ReplicaProcess(System.Diagnostics.Process.Start(start)!);
    }

    public async Task<VatAddress> AddressAsync()
    {
        var line = await process.StandardOutput.ReadLineAsync().WaitAsync(Bound);
        Assert.NotNull(line);
        Assert.StartsWith("LISTENING ", line);
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
