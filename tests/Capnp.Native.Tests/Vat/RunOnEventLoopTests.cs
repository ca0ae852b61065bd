using Capnp.Native.Rpc;
using Capnp.Native.Tests.Rpc;
using Interop;

namespace Capnp.Native.Tests.Vat;

/// <summary>
/// <see cref="Native.Vat.RunOnEventLoopAsync{T}"/>: code that runs on the vat's loop thread, whose
/// awaits resume there, and what happens around it (results, failures, other threads, yielding,
/// disposal).
/// </summary>
public sealed class RunOnEventLoopTests : IAsyncLifetime
{
    private Native.Vat server = null!;
    private Native.Vat client = null!;
    private TestService.Client service = null!;

    public async Task InitializeAsync()
    {
        server = await Native.Vat.StartAsync(new VatOptions { ListenAddress = VatAddress.Parse("tcp:127.0.0.1:0"), Bootstrap = new TestServiceImpl() });
        client = await Native.Vat.StartAsync(new VatOptions());
        service = await client.ConnectAsync<TestService.Client>(server.GetSturdyRef()).WaitAsync(RpcPair.Bound);
    }

    public async Task DisposeAsync()
    {
        service.Dispose();
        await client.DisposeAsync();
        await server.DisposeAsync();
    }

    [Fact]
    public async Task TheWorkAndEveryAwaitOfACallRunOnTheLoopThreadButTheCallerResumesElsewhere()
    {
        var threads = await client.RunOnEventLoopAsync(async () =>
        {
            var seen = new List<(int Thread, bool HasContext, string Text)> { (Environment.CurrentManagedThreadId, SynchronizationContext.Current is not null, "") };
            for (var i = 0; i < 20; i++)
            {
                var echoed = (await service.EchoAsync($"call {i}")).Text;
                seen.Add((Environment.CurrentManagedThreadId, SynchronizationContext.Current is not null, echoed!));
            }

            return seen;
        }).WaitAsync(RpcPair.Bound);

        var loopThread = threads[0].Thread;
        Assert.All(threads, t => Assert.Equal(loopThread, t.Thread));
        Assert.All(threads, t => Assert.True(t.HasContext));
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"call {i}"), threads.Skip(1).Select(t => t.Text));
        Assert.NotEqual(loopThread, Environment.CurrentManagedThreadId);
    }

    [Fact]
    public async Task AnAwaitCompletedByAnotherThreadComesBackToTheLoopThread()
    {
        var (before, afterDelay, afterPool) = await client.RunOnEventLoopAsync(async () =>
        {
            var first = Environment.CurrentManagedThreadId;
            await Task.Delay(1);
            var second = Environment.CurrentManagedThreadId;
            await Task.Run(() => Thread.Yield());
            return (first, second, Environment.CurrentManagedThreadId);
        }).WaitAsync(RpcPair.Bound);

        Assert.Equal(before, afterDelay);
        Assert.Equal(before, afterPool);
    }

    [Fact]
    public async Task ManyCallsInFlightFromTheLoopAllComplete()
    {
        var sums = await client.RunOnEventLoopAsync(async () =>
        {
            var answers = Enumerable.Range(0, 200).Select(i => service.AddAsync(i, 1000).AsTask()).ToArray();
            return (await Task.WhenAll(answers)).Select(r => r.Sum).ToArray();
        }).WaitAsync(RpcPair.Bound);

        Assert.Equal(Enumerable.Range(1000, 200).Select(i => (long)i), sums);
    }

    [Fact]
    public async Task AFailedCallFailsTheWorkWithTheSameExceptionType()
    {
        var error = await Assert.ThrowsAsync<RpcOverloadedException>(() => client.RunOnEventLoopAsync(async () =>
        {
            await service.FailAsync(FailKind.Overloaded, "busy");
        }).WaitAsync(RpcPair.Bound));
        Assert.Contains("busy", error.Message);

        await Assert.ThrowsAsync<InvalidOperationException>(() => client.RunOnEventLoopAsync<int>(() => throw new InvalidOperationException("at once")).WaitAsync(RpcPair.Bound));
    }

    [Fact]
    public async Task WorkCancelledBeforeItStartsNeverRuns()
    {
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        var ran = false;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.RunOnEventLoopAsync(() =>
        {
            ran = true;
            return Task.CompletedTask;
        }, cancelled.Token));
        Assert.False(ran);
    }

    [Fact]
    public async Task CodeThatKeepsYieldingDoesNotStarveTheLoop()
    {
        // Each Task.Yield posts to the loop; if those posts ran before the loop's own work, the
        // answer could never be delivered and this would spin until the bound.
        var (arrived, yields) = await client.RunOnEventLoopAsync(async () =>
        {
            var answer = service.EchoAsync("while yielding").AsTask();
            var count = 0;
            while (!answer.IsCompleted && count < 1_000_000)
            {
                await Task.Yield();
                count++;
            }

            return (answer.IsCompletedSuccessfully ? (await answer).Text : null, count);
        }).WaitAsync(RpcPair.Bound);

        Assert.Equal("while yielding", arrived);
        Assert.True(yields < 1_000_000, $"the answer did not arrive in {yields} yields");
    }

    [Fact]
    public async Task DisposingTheVatLetsWaitingWorkFinishWithObjectDisposedException()
    {
        var vat = await Native.Vat.StartAsync(new VatOptions());
        var remote = await vat.ConnectAsync<TestService.Client>(server.GetSturdyRef()).WaitAsync(RpcPair.Bound);
        var waiting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var work = vat.RunOnEventLoopAsync(async () =>
        {
            started.SetResult();
            await waiting.Task;
            // The loop is gone: this continuation runs on the thread pool, and calls fail.
            await remote.EchoAsync("after disposal");
        });
        await started.Task.WaitAsync(RpcPair.Bound);
        await vat.DisposeAsync();
        waiting.SetResult();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => work.WaitAsync(RpcPair.Bound));
        remote.Dispose();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => vat.RunOnEventLoopAsync(() => Task.CompletedTask));
    }
}
