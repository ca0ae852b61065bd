using System.Collections.Concurrent;
using Capnp.Native.Hosting.Tests.Schema;
using Microsoft.Extensions.Logging;

namespace Capnp.Native.Hosting.Tests;

/// <summary>A dependency of the echo service, registered in the container with a per-test prefix.</summary>
public sealed class Greeting(string prefix)
{
    public string Prefix { get; } = prefix;
}

/// <summary>Gates of the echo service's "slow" call: the test sees it enter, and lets it finish.</summary>
public sealed class CallGates
{
    public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>The hosted bootstrap: replies with the greeting's prefix; "slow" waits for the test's gate.</summary>
public sealed class EchoService(Greeting greeting, CallGates gates) : Echo.Server
{
    public override async Task PingAsync(Echo.PingParams.Reader parameters, Echo.PingResults.Builder results, CancellationToken cancellationToken)
    {
        var message = parameters.Msg;
        if (message == "slow")
        {
            gates.Entered.TrySetResult();
            await gates.Release.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        results.Reply = greeting.Prefix + message;
    }
}

/// <summary>Keeps what the host's logging receives.</summary>
public sealed class CapturingLoggerProvider : ILoggerProvider
{
    public ConcurrentQueue<(string Category, LogLevel Level, string Message)> Entries { get; } = new();

    public ILogger CreateLogger(string categoryName) => new CapturingLogger(this, categoryName);

    public bool Logged(string category, LogLevel level, string text)
        => Entries.Any(entry => entry.Category == category && entry.Level == level && entry.Message.Contains(text, StringComparison.Ordinal));

    public void Dispose()
    {
    }

    private sealed class CapturingLogger(CapturingLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            => owner.Entries.Enqueue((category, logLevel, formatter(state, exception)));
    }
}
