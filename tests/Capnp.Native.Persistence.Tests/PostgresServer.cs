using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Capnp.Native.Persistence.Tests;

/// <summary>
/// A real PostgreSQL server for the tests: a fresh cluster (Debian's <c>postgresql</c> package:
/// <c>/usr/lib/postgresql/N/bin</c>, or <c>CAPNP_TEST_POSTGRES_BIN</c>) in a temporary folder,
/// listening on a free loopback port, run as the <c>postgres</c> user when the tests run as root
/// (PostgreSQL refuses root), stopped and deleted after the tests. When it cannot start, every
/// test that uses it fails, saying why: nothing is skipped or mocked.
/// </summary>
public sealed class PostgresServer : IAsyncLifetime
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);
    private readonly string root = Path.Combine(Path.GetTempPath(), "capnp-pg-" + Guid.NewGuid().ToString("N"));
    private string? bin;
    private bool started;

    /// <summary>The connection string of the running server (database postgres, user capnp, trust authentication on loopback).</summary>
    public string ConnectionString { get; private set; } = "";

    private string DataFolder => Path.Combine(root, "data");

    private static bool RunningAsRoot => Environment.IsPrivilegedProcess;

    public async Task InitializeAsync()
    {
        try
        {
            await StartAsync();
        }
        catch
        {
            // xunit does not dispose a fixture whose initialization failed.
            await DisposeAsync();
            throw;
        }
    }

    private async Task StartAsync()
    {
        bin = FindBinaries();
        Directory.CreateDirectory(root);
        if (RunningAsRoot)
            await RunAsync("chown", ["postgres:postgres", root], asPostgres: false);
        await RunAsync(Path.Combine(bin, "initdb"), ["-D", DataFolder, "-U", "capnp", "-A", "trust", "-E", "UTF8", "--no-sync"], asPostgres: true);

        // Another process may take the free port between the probe and the start: try a few.
        Exception? last = null;
        for (var attempt = 0; attempt < 3 && !started; attempt++)
        {
            var port = FreeLoopbackPort();
            try
            {
                await RunAsync(Path.Combine(bin, "pg_ctl"),
                    ["-D", DataFolder, "-l", Path.Combine(root, "server.log"), "-w", "-t", "60",
                     "-o", $"-h 127.0.0.1 -p {port} -k {root} -c fsync=on", "start"], asPostgres: true);
                started = true;
                ConnectionString = $"Host=127.0.0.1;Port={port};Username=capnp;Database=postgres;Timeout=15;Command Timeout=60";
            }
            catch (Exception e)
            {
                last = e;
            }
        }

        if (!started)
            throw new InvalidOperationException($"PostgreSQL did not start: {last?.Message}\n{ServerLog()}", last);
    }

    public async Task DisposeAsync()
    {
        try
        {
            if (started)
                await RunAsync(Path.Combine(bin!, "pg_ctl"), ["-D", DataFolder, "-m", "fast", "-w", "-t", "60", "stop"], asPostgres: true);
        }
        finally
        {
            started = false;
            if (Directory.Exists(root))
                Directory.Delete(root, recursive: true);
        }
    }

    private static string FindBinaries()
    {
        var configured = Environment.GetEnvironmentVariable("CAPNP_TEST_POSTGRES_BIN");
        var candidates = configured is { Length: > 0 }
            ? [configured]
            : Directory.Exists("/usr/lib/postgresql")
                ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin"))
                    .OrderByDescending(d => int.TryParse(Path.GetFileName(Path.GetDirectoryName(d)), out var v) ? v : 0).ToArray()
                : [];
        return candidates.FirstOrDefault(d => File.Exists(Path.Combine(d, "initdb")) && File.Exists(Path.Combine(d, "pg_ctl")))
            ?? throw new InvalidOperationException(
                "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb; set CAPNP_TEST_POSTGRES_BIN): "
                + "install Debian's postgresql package (./build.sh does).");
    }

    private async Task RunAsync(string program, string[] arguments, bool asPostgres)
    {
        var start = asPostgres && RunningAsRoot
            ? new ProcessStartInfo("runuser", ["-u", "postgres", "--", program, .. arguments])
            : new ProcessStartInfo(program, arguments);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.RedirectStandardInput = true;
        start.WorkingDirectory = root;
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Cannot start {program}.");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(Bound);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{Path.GetFileName(program)} did not finish within {Bound}.");
        }

        if (process.ExitCode != 0)
            throw new InvalidOperationException(
                $"{Path.GetFileName(program)} {string.Join(' ', arguments)} exited with {process.ExitCode}: {await stderr}{await stdout}");
    }

    private string ServerLog()
    {
        var log = Path.Combine(root, "server.log");
        return File.Exists(log) ? File.ReadAllText(log) : "(no server log)";
    }

    private static int FreeLoopbackPort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}

/// <summary>The test classes that share one PostgreSQL server.</summary>
[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresServer>
{
    public const string Name = "PostgreSQL";
}
