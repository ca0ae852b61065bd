using System.Diagnostics;

namespace Capnp.Native.Tests.Rpc;

/// <summary>
/// Runs tests/interop's C++ peer vat (built by CMake into build/interop) as a separate process:
/// a server whose lifetime is its stdin, or a client running one scenario.
/// </summary>
internal sealed class InteropVat : IAsyncDisposable
{
    private readonly Process process;

    private InteropVat(Process process, string address)
    {
        this.process = process;
        Address = address;
    }

    /// <summary>The address a server vat listens on.</summary>
    public string Address { get; }

    public static string ExecutablePath
    {
        get
        {
            for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory != null; directory = directory.Parent)
            {
                if (File.Exists(Path.Combine(directory.FullName, "CapnpNative.sln")))
                {
                    var path = Path.Combine(directory.FullName, "build", "interop", "interop-vat");
                    return File.Exists(path)
                        ? path
                        : throw new FileNotFoundException($"{path} is missing: build it with `cmake -S tests/interop -B build/interop && cmake --build build/interop` (./build.sh test does).");
                }
            }

            throw new DirectoryNotFoundException("the repository root (CapnpNative.sln) was not found above the test output");
        }
    }

    /// <summary>Starts a C++ server vat on <paramref name="address"/> and waits for its LISTENING line.</summary>
    public static async Task<InteropVat> ServeAsync(string address)
    {
        var (process, errors) = Start($"serve --listen {address} --timeout-seconds 300", redirectInput: true);
        var line = await process.StandardOutput.ReadLineAsync().WaitAsync(RpcPair.Bound);
        if (line is null || !line.StartsWith("LISTENING ", StringComparison.Ordinal))
        {
            process.Kill();
            throw new InvalidOperationException($"interop-vat serve printed '{line}': {errors}");
        }

        return new InteropVat(process, line["LISTENING ".Length..]);
    }

    /// <summary>Runs one client scenario against <paramref name="address"/>; returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> RunClientAsync(string address, string scenario, Func<string, Task>? onLine = null)
    {
        var (process, errors) = Start($"client --connect {address} --scenario {scenario} --timeout-seconds 30", redirectInput: false);
        using var owned = process;
        var output = new System.Text.StringBuilder();
        while (await process.StandardOutput.ReadLineAsync().WaitAsync(RpcPair.Bound) is { } line)
        {
            output.AppendLine(line);
            if (onLine != null)
            {
                await onLine(line);
            }
        }

        await process.WaitForExitAsync().WaitAsync(RpcPair.Bound);
        return (process.ExitCode, output + errors.ToString());
    }

    /// <summary>Kills the server at once (as a crash would).</summary>
    public void Kill() => process.Kill();

    /// <summary>Stops the server by closing its stdin, and waits for it.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            process.StandardInput.Close();
            await process.WaitForExitAsync().WaitAsync(RpcPair.Bound);
        }

        process.Dispose();
    }

    // Standard error is drained as it comes, so a chatty vat never blocks on a full pipe.
    private static (Process Process, System.Text.StringBuilder Errors) Start(string arguments, bool redirectInput)
    {
        var info = new ProcessStartInfo(ExecutablePath, arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = redirectInput,
            UseShellExecute = false,
        };
        var process = Process.Start(info) ?? throw new InvalidOperationException("interop-vat did not start");
        var errors = new System.Text.StringBuilder();
        process.ErrorDataReceived += (_, e) =>
        {
            lock (errors)
            {
                errors.AppendLine(e.Data);
            }
        };
        process.BeginErrorReadLine();
        return (process, errors);
    }
}
