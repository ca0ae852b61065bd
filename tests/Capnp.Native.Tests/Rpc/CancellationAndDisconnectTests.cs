using Capnp.Native.Rpc;
using Interop;

namespace Capnp.Native.Tests.Rpc;

public sealed class CancellationAndDisconnectTests
{
    [Fact]
    public async Task CancellingACallEndsItsTaskAsCancelledAndReachesTheServerMethodToken()
    {
        await using var pair = await RpcPair.StartAsync();
        using var cancellation = new CancellationTokenSource();
        var waiting = pair.TestService.WaitForeverAsync(cancellation.Token);
        await pair.TestService.EchoAsync("sync").AsTask().WaitAsync(RpcPair.Bound);

        cancellation.Cancel();

        var error = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.AsTask().WaitAsync(RpcPair.Bound));
        Assert.Equal(cancellation.Token, error.CancellationToken);
        uint count = 0;
        for (var poll = 0; poll < 10_000 && count == 0; poll++)
        {
            count = (await pair.TestService.GetCancelCountAsync().AsTask().WaitAsync(RpcPair.Bound)).Count;
        }

        Assert.Equal(1u, count);
    }

    [Fact]
    public async Task OutstandingCallsFailDisconnectedWhenThePeerClosesAndTheCapabilitySaysSo()
    {
        await using var pair = await RpcPair.StartAsync();
        var waiting = pair.TestService.WaitForeverAsync();
        await pair.TestService.EchoAsync("sync").AsTask().WaitAsync(RpcPair.Bound);

        await pair.ServerConnection.DisposeAsync();

        await Assert.ThrowsAsync<RpcDisconnectedException>(() => waiting.AsTask().WaitAsync(RpcPair.Bound));
        await pair.ClientConnection.Disconnected.WaitAsync(RpcPair.Bound);
        await Assert.ThrowsAsync<RpcDisconnectedException>(() => pair.TestService.EchoAsync("late").AsTask().WaitAsync(RpcPair.Bound));
    }

    [Fact]
    public async Task DisposingTheLoopWithCallsInFlightEndsThemPromptly()
    {
        var pair = await RpcPair.StartAsync();
        var waiting = Enumerable.Range(0, 10).Select(_ => pair.TestService.WaitForeverAsync()).ToArray();
        await pair.TestService.EchoAsync("sync").AsTask().WaitAsync(RpcPair.Bound);

        await pair.ClientLoop.DisposeAsync().AsTask().WaitAsync(RpcPair.Bound);

        foreach (var call in waiting)
        {
            await Assert.ThrowsAsync<ObjectDisposedException>(() => call.AsTask().WaitAsync(RpcPair.Bound));
        }

        Assert.Throws<ObjectDisposedException>(() => { _ = pair.TestService.EchoAsync("after"); });
        await pair.DisposeAsync();
    }

    [Fact]
    public async Task DisposingTheServerLoopFailsTheClientsCallsWithDisconnected()
    {
        var pair = await RpcPair.StartAsync();
        var waiting = pair.TestService.WaitForeverAsync();
        await pair.TestService.EchoAsync("sync").AsTask().WaitAsync(RpcPair.Bound);

        await pair.ServerLoop.DisposeAsync().AsTask().WaitAsync(RpcPair.Bound);

        await Assert.ThrowsAsync<RpcDisconnectedException>(() => waiting.AsTask().WaitAsync(RpcPair.Bound));
        await pair.DisposeAsync();
    }

    [Fact]
    public void ACancellationArrivingAfterTheMethodCompletedIsIgnored()
    {
        // The method completed and disposed its source before the queued cancellation ran: on
        // the thread pool, an exception here would end the process.
        var completed = new CancellationTokenSource();
        completed.Dispose();
        var log = new Vat.VatLoggingTests.CapturingLogger();
        ServerDispatcher.CancelRunningCall(completed, log);
        Assert.Empty(log.Entries);

        using var throwing = new CancellationTokenSource();
        throwing.Token.Register(() => throw new InvalidOperationException("a handler's callback failed"));
        ServerDispatcher.CancelRunningCall(throwing, log);
        Assert.True(throwing.IsCancellationRequested);
        // Reported to the vat's logger (the library writes nothing to the console).
        Assert.Contains(log.Entries, e => e.Level == Microsoft.Extensions.Logging.LogLevel.Error && e.Text.Contains("a handler's callback failed"));
    }

    [Fact]
    public async Task ConnectingToNothingFailsWithATypedError()
    {
        await using var loop = EventLoop.Start();
        var missing = "unix:" + Path.Combine(Path.GetTempPath(), $"capnp-missing-{Guid.NewGuid():N}.sock");

        await Assert.ThrowsAnyAsync<RpcException>(() => loop.ConnectAsync(missing).WaitAsync(RpcPair.Bound));
        await Assert.ThrowsAsync<ArgumentException>(() => loop.ConnectAsync("http://example").WaitAsync(RpcPair.Bound));
    }
}

public sealed class ParameterLifetimeTests
{
    [Fact]
    public async Task LargeParametersAreReleasedWhenTheMethodCompletesAndALaterReadThrowsTyped()
    {
        await using var pair = await RpcPair.StartAsync();
        var keeper = new KeepingCallback();
        using var callback = Callback.Client.Create(pair.ClientLoop.CreateCapability(keeper));
        var large = new string('x', 20_000); // read in place from native memory, not copied

        var reply = await pair.TestService.CallBackAsync(callback, large).AsTask().WaitAsync(RpcPair.Bound);

        Assert.Equal(large, reply.Reply);
        var kept = keeper.Kept!.Value;
        Assert.Throws<ObjectDisposedException>(() => kept.Value);
    }

    private sealed class KeepingCallback : Callback.Server
    {
        public Callback.CallParams.Reader? Kept { get; private set; }

        public override Task CallAsync(Callback.CallParams.Reader parameters, Callback.CallResults.Builder results, CancellationToken cancellationToken)
        {
            Kept = parameters;
            results.Reply = parameters.Value;
            return Task.CompletedTask;
        }
    }
}

public sealed class ResultLifetimeTests
{
    [Fact]
    public async Task DisposingAnAnswerFreesLargeResultsAndALaterReadThrowsTyped()
    {
        await using var pair = await RpcPair.StartAsync();
        var large = new string('y', 20_000);

        TestService.EchoResults.Reader results;
        using (var answer = pair.TestService.EchoAsync(large))
        {
            results = await answer.AsTask().WaitAsync(RpcPair.Bound);
            Assert.Equal(large, results.Text);
        }

        Assert.Throws<ObjectDisposedException>(() => results.Text);
    }
}
