using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading.Channels;

namespace Capnp.Native.Examples.Tests;

/// <summary>
/// A running example program (<c>dotnet examples/NAME/bin/.../NAME.dll ARGS</c>) whose output
/// lines are collected as they come, so that a test can wait for a line (with a bound) rather
/// than sleep. Disposing kills the process if it is still running.
/// </summary>
internal sealed partial class ExampleProcess : IAsyncDisposable
{
    private const int SigTerm = 15;

    /// <summary>How long any single wait on an example may take (the machine may be busy).</summary>
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private readonly Process process;
    private readonly Channel<string> lines = Channel.CreateUnbounded<string>();
    private readonly List<string> output = [];
    private readonly StringBuilder errors = new();
    private readonly TaskCompletionSource outputClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource errorsClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ExampleProcess(Process process)
    {
        this.process = process;
    }

    /// <summary>Every line the process printed on standard output so far.</summary>
    public IReadOnlyList<string> Output
    {
        get
        {
            lock (output)
            {
                return [.. output];
            }
        }
    }

    /// <summary>What the process printed on standard error so far.</summary>
    public string Errors
    {
        get
        {
            lock (errors)
            {
                return errors.ToString();
            }
        }
    }

    /// <summary>
    /// The built assembly of an example: <c>examples/{project}/bin/{Configuration}/{TFM}/{name}.dll</c>,
    /// where the name is the project's path with '-' for '/' (<c>v4/server</c> → <c>v4-server</c>).
    /// </summary>
    public static string AssemblyPath(string project)
    {
        var metadata = typeof(ExampleProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().ToDictionary(a => a.Key, a => a.Value);
        var path = Path.Combine(metadata["ExamplesFolder"]!, project, metadata["ExamplesOutputPath"]!, project.Replace('/', '-') + ".dll");
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"The example {project} is not built (expected {path}); build this test project first.", path);
        }

        return path;
    }

    /// <summary>Starts an example with <c>CI=1</c> (no demonstration delays) in <paramref name="workingDirectory"/>.</summary>
    public static ExampleProcess Start(string project, string workingDirectory, params string[] arguments)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(AssemblyPath(project));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["CI"] = "1";
        var process = new Process { StartInfo = start };
        var example = new ExampleProcess(process);
        process.OutputDataReceived += (_, e) => example.OnOutput(e.Data);
        process.ErrorDataReceived += (_, e) => example.OnError(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return example;
    }

    private void OnOutput(string? line)
    {
        if (line is null)
        {
            lines.Writer.TryComplete();
            outputClosed.TrySetResult();
            return;
        }

        lock (output)
        {
            output.Add(line);
        }

        lines.Writer.TryWrite(line);
    }

    private void OnError(string? line)
    {
        if (line is null)
        {
            errorsClosed.TrySetResult();
            return;
        }

        lock (errors)
        {
            errors.AppendLine(line);
        }
    }

    /// <summary>
    /// Reads output lines until one matches <paramref name="predicate"/> and returns it; fails if
    /// the process ends its output first or the bound passes.
    /// </summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> predicate, string description)
    {
        using var timeout = new CancellationTokenSource(Bound);
        try
        {
            await foreach (var line in lines.Reader.ReadAllAsync(timeout.Token))
            {
                if (predicate(line))
                {
                    return line;
                }
            }
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            throw new TimeoutException($"No line {description} within {Bound.TotalSeconds} s. {Describe()}");
        }

        throw new InvalidOperationException($"The example ended its output without a line {description}. {Describe()}");
    }

    /// <summary>Waits (bounded) for the process to exit and for all its output, and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync()
    {
        try
        {
            await Task.WhenAll(process.WaitForExitAsync(), outputClosed.Task, errorsClosed.Task).WaitAsync(Bound);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"The example did not exit within {Bound.TotalSeconds} s. {Describe()}");
        }

        return process.ExitCode;
    }

    /// <summary>Waits for a successful exit and returns the whole standard output.</summary>
    public async Task<IReadOnlyList<string>> WaitForSuccessAsync()
    {
        var exitCode = await WaitForExitAsync();
        Assert.True(exitCode == 0, $"The example exited with {exitCode}. {Describe()}");
        return Output;
    }

    /// <summary>Asks the process to stop as a service manager would (SIGTERM) and returns its exit code (bounded).</summary>
    public Task<int> TerminateAsync()
    {
        if (Kill(process.Id, SigTerm) != 0)
        {
            throw new InvalidOperationException($"kill({process.Id}, SIGTERM) failed: errno {Marshal.GetLastPInvokeError()}");
        }

        return WaitForExitAsync();
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    /// <summary>The output so far, for failure messages.</summary>
    public string Describe()
        => $"Standard output:\n{string.Join('\n', Output)}\nStandard error:\n{Errors}";

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync().WaitAsync(Bound);
            }
        }
        finally
        {
            process.Dispose();
        }
    }
}
