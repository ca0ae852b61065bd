using System.Collections.Concurrent;
using Capnp.Native.Tests.Rpc;
using Interop;
using Microsoft.Extensions.Logging;

namespace Capnp.Native.Tests.Vat;

/// <summary>What the engine logs reaches the vat's logger, not the console.</summary>
public sealed class VatLoggingTests
{
    internal sealed class CapturingLogger : ILogger
    {
        public ConcurrentQueue<(LogLevel Level, string Text)> Entries { get; } = new();

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            => Entries.Enqueue((logLevel, formatter(state, exception) + (exception is null ? "" : " | " + exception.Message)));
    }

    [Fact]
    public async Task WhatTheEngineLogsOnTheVatsLoopReachesTheVatsLogger()
    {
        var logger = new CapturingLogger();
        await using var vat = await Native.Vat.StartAsync(new VatOptions { Logger = logger });
        // Let the routing command run before the failure is provoked.
        await vat.Loop.EchoAsync(new byte[] { 1 }).WaitAsync(RpcPair.Bound);

        _ = TestHooks.FailLoopThreadAsync(vat.Loop);

        await Assert.ThrowsAsync<EventLoopFailedException>(() => vat.Loop.Completion.WaitAsync(RpcPair.Bound));
        // The engine's message is logged on the thread pool, and the router lets go of its tag
        // after the loop's work has failed: wait (bounded) for all three.
        bool Logged(LogLevel level, string text) => logger.Entries.Any(e => e.Level == level && e.Text.Contains(text));
        for (var poll = 0; poll < 100_000 && !(Logged(LogLevel.Warning, "the event loop thread failed") && Logged(LogLevel.Critical, "event loop failed") && vat.Loop.LiveCallbackTargets == 0); poll++)
        {
            await Task.Yield();
        }

        Assert.Contains(logger.Entries, e => e.Level == LogLevel.Warning && e.Text.Contains("Cap'n Proto engine") && e.Text.Contains("the event loop thread failed"));
        Assert.Contains(logger.Entries, e => e.Level == LogLevel.Critical && e.Text.Contains("event loop failed"));
        Assert.Equal(0, vat.Loop.LiveCallbackTargets);
    }

    [Fact]
    public async Task AtDebugLevelEachVatLogsWhatItImportsAndExportsAsItChanges()
    {
        var serverLog = new CapturingLogger();
        var clientLog = new CapturingLogger();
        await using var server = await VatTests.StartServerAsync(new VatOptions { Logger = serverLog });
        await using var client = await Native.Vat.StartAsync(new VatOptions { Logger = clientLog });
        using (var service = await client.ConnectAsync<TestService.Client>(server.GetSturdyRef()).WaitAsync(RpcPair.Bound))
        {
            await service.EchoAsync("a").AsTask().WaitAsync(RpcPair.Bound);
        }

        // The client's release reaches the server: wait (bounded) for the server's line about it.
        bool Logged(CapturingLogger log, string text) => log.Entries.Any(e => e.Level == LogLevel.Debug && e.Text.Contains(text));
        var clientPeer = $"peer {client.Identity.Digest}: export";
        for (var poll = 0; poll < 100_000 && !(Logged(serverLog, clientPeer) && serverLog.Entries.Any(e => e.Text.Contains(" released"))); poll++)
        {
            await Task.Yield();
        }

        Assert.True(Logged(serverLog, clientPeer), "the server logs what it exports to the client, naming the client's key");
        Assert.True(Logged(serverLog, " released"), "the server logs the client's release");
        Assert.True(Logged(clientLog, $"peer {server.Digest}: import"), "the client logs what it imports from the server");
    }
}
