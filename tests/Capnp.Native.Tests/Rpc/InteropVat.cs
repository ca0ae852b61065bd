using System.Diagnostics;

namespace Capnp.Native.Tests.Rpc;

/// <summary>
/// Runs tests/interop's C++ peer vat (built by CMake into build/interop) as a separate process:
/// a server whose lifetime is its stdin, or a client running one scenario.
/// </summary>
internal sealed class InteropVat : IAsyncDisposable
{
    private readonly Process process;
    private readonly StandardError errors;

    private InteropVat(Process process, StandardError errors, string address, string? uri)
    {
        this.process = process;
        this.errors = errors;
        Address = address;
        Uri = uri;
    }

    /// <summary>The address a server vat listens on.</summary>
    public string Address { get; }

    /// <summary>The sturdy ref URI of its bootstrap a server vat printed (with --tls-key or --service).</summary>
    public string? Uri { get; }

    /// <summary>Waits (bounded) until the vat has written a line containing <paramref name="text"/> on stderr.</summary>
    public Task WaitForStandardErrorAsync(string text) => errors.WaitForAsync(text).WaitAsync(RpcPair.Bound);

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
    public static Task<InteropVat> ServeAsync(string address) => ServeAsync(address, []);

    /// <summary>
    /// Starts a C++ server vat with more serve options (<c>--tls-key PATH</c>, <c>--service ID</c>,
    /// <c>--client-certificate required</c>) and waits for its LISTENING line and, when those
    /// options make it print one, its URI line.
    /// </summary>
    public static async Task<InteropVat> ServeAsync(string address, IReadOnlyList<string> options)
    {
        var (process, errors) = Start(["serve", "--listen", address, "--timeout-seconds", "300", .. options], redirectInput: true);
        var line = await process.StandardOutput.ReadLineAsync().WaitAsync(RpcPair.Bound);
        if (line is null || !line.StartsWith("LISTENING ", StringComparison.Ordinal))
        {
            process.Kill();
            throw new InvalidOperationException($"interop-vat serve printed '{line}': {errors}");
        }

        string? uri = null;
        if (options.Contains("--tls-key") || options.Contains("--service"))
        {
            var uriLine = await process.StandardOutput.ReadLineAsync().WaitAsync(RpcPair.Bound);
            if (uriLine is null || !uriLine.StartsWith("URI ", StringComparison.Ordinal))
            {
                process.Kill();
                throw new InvalidOperationException($"interop-vat serve printed '{uriLine}' where its URI was expected: {errors}");
            }

            uri = uriLine["URI ".Length..];
        }

        return new InteropVat(process, errors, line["LISTENING ".Length..], uri);
    }

    /// <summary>Runs one client scenario against <paramref name="address"/>; returns its exit code and output.</summary>
    public static Task<(int ExitCode, string Output)> RunClientAsync(string address, string scenario, Func<string, Task>? onLine = null)
        => RunClientAsync(["--connect", address], scenario, onLine);

    /// <summary>
    /// Runs one client scenario against the service a sturdy ref URI names (TLS by its fingerprint,
    /// restore by its ID); <paramref name="options"/> e.g. <c>--client-certificate none</c>.
    /// </summary>
    public static Task<(int ExitCode, string Output)> RunClientByUriAsync(string uri, string scenario, params string[] options)
        => RunClientAsync(["--uri", uri, .. options], scenario, onLine: null);

    private static async Task<(int ExitCode, string Output)> RunClientAsync(IReadOnlyList<string> target, string scenario, Func<string, Task>? onLine)
    {
        var (process, errors) = Start(["client", .. target, "--scenario", scenario, "--timeout-seconds", "30"], redirectInput: false);
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
    private static (Process Process, StandardError Errors) Start(IReadOnlyList<string> arguments, bool redirectInput)
    {
        var info = new ProcessStartInfo(ExecutablePath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = redirectInput,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("interop-vat did not start");
        var errors = new StandardError();
        process.ErrorDataReceived += (_, e) => errors.Add(e.Data);
        process.BeginErrorReadLine();
        return (process, errors);
    }

    /// <summary>What a vat wrote on stderr so far; lets a test wait for a line without polling.</summary>
    private sealed class StandardError
    {
        private readonly System.Text.StringBuilder text = new();
        private readonly List<(string Text, TaskCompletionSource Seen)> waiters = [];

        public void Add(string? line)
        {
            lock (text)
            {
                text.AppendLine(line);
                var all = text.ToString();
                waiters.RemoveAll(w => all.Contains(w.Text, StringComparison.Ordinal) && w.Seen.TrySetResult());
            }
        }

        public Task WaitForAsync(string wanted)
        {
            lock (text)
            {
                if (text.ToString().Contains(wanted, StringComparison.Ordinal))
                {
                    return Task.CompletedTask;
                }

                var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                waiters.Add((wanted, seen));
                return seen.Task;
            }
        }

        public override string ToString()
        {
            lock (text)
            {
                return text.ToString();
            }
        }
    }
}
