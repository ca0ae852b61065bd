using Capnp.Native.Rpc;
using Capnp.Native.Tests.Vat;
using Interop;

namespace Capnp.Native.Tests.Rpc;

/// <summary>Servers that opt in run their methods on the event loop thread, in arrival order.</summary>
public sealed class MethodsOnLoopThreadTests
{
    [Fact]
    public async Task AnOptedInServerRunsItsMethodsOnTheLoopThreadAndAnswersInOrder()
    {
        var service = new OnLoopService();
        await using var server = await VatTests.StartServerAsync(new VatOptions { Bootstrap = service });
        await using var client = await Native.Vat.StartAsync(new VatOptions());
        using var remote = await client.ConnectAsync<TestService.Client>(server.GetSturdyRef()).WaitAsync(RpcPair.Bound);

        var calls = Enumerable.Range(0, 50).Select(i => remote.EchoAsync($"{i}")).ToList();
        for (var i = 0; i < calls.Count; i++)
        {
            Assert.Equal($"{i}", (await calls[i].AsTask().WaitAsync(RpcPair.Bound)).Text);
        }

        // Every Echo ran on one thread, the vat's loop thread: not a thread-pool thread.
        Assert.Single(service.Threads.Distinct());
        Assert.False(service.RanOnThreadPool);
        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"{i}"), service.Order);
    }

    // A server on the loop thread answers inside the delivery of its call, or from a continuation
    // there; small results go to the engine at once (capnp_call_return on the loop thread), large
    // ones are lent. Each kind of answer must reach the caller intact.
    [Fact]
    public async Task AnOptedInServerAnswersEveryKindOfResult()
    {
        var service = new OnLoopService();
        await using var server = await VatTests.StartServerAsync(new VatOptions { Bootstrap = service });
        await using var client = await Native.Vat.StartAsync(new VatOptions());
        using var remote = await client.ConnectAsync<TestService.Client>(server.GetSturdyRef()).WaitAsync(RpcPair.Bound);

        // Small results, answered as the call is delivered.
        Assert.Equal("small", (await remote.EchoAsync("small").AsTask().WaitAsync(RpcPair.Bound)).Text);
        // Results over the 4 KiB copy limit: lent to the shim, not answered at once.
        var large = new string('x', 64 * 1024);
        Assert.Equal(large, (await remote.EchoAsync(large).AsTask().WaitAsync(RpcPair.Bound)).Text);

        // Capabilities in results: one passed through, one made by the method.
        var callback = new PrefixCallback("back:");
        using (var sent = Callback.Client.Create(callback))
        {
            using var returned = (await remote.EchoCapAsync(sent).AsTask().WaitAsync(RpcPair.Bound)).GetCap()!;
            Assert.Equal("back:1", (await returned.CallAsync("1").AsTask().WaitAsync(RpcPair.Bound)).Reply);
        }

        using var counter = (await remote.GetCounterAsync().AsTask().WaitAsync(RpcPair.Bound)).GetCounter()!;
        Assert.Equal(1u, (await counter.IncrementAsync().AsTask().WaitAsync(RpcPair.Bound)).Value);
        Assert.Equal(2u, (await counter.IncrementAsync().AsTask().WaitAsync(RpcPair.Bound)).Value);

        // Answered from a continuation on the loop thread, after the method's own call came back.
        using (var cb = Callback.Client.Create(new PrefixCallback("via:")))
        {
            Assert.Equal("via:v", (await remote.CallBackAsync(cb, "v").AsTask().WaitAsync(RpcPair.Bound)).Reply);
        }

        // A failure, and a call after it on the same connection.
        var error = await Assert.ThrowsAsync<RpcFailedException>(() => remote.FailAsync(FailKind.Failed, "boom").AsTask().WaitAsync(RpcPair.Bound));
        Assert.Contains("boom", error.Message);
        Assert.Equal(5, (await remote.AddAsync(2, 3).AsTask().WaitAsync(RpcPair.Bound)).Sum);
        Assert.Equal(1, callback.Calls);
    }

    [Fact]
    public async Task ByDefaultMethodsRunOnTheThreadPool()
    {
        var service = new TestServiceImpl();
        await using var server = await VatTests.StartServerAsync(new VatOptions { Bootstrap = service });
        await using var client = await Native.Vat.StartAsync(new VatOptions());
        using var remote = await client.ConnectAsync<TestService.Client>(server.GetSturdyRef()).WaitAsync(RpcPair.Bound);

        await remote.EchoAsync("pool").AsTask().WaitAsync(RpcPair.Bound);

        Assert.True(service.LastEchoOnThreadPool);
    }

    private sealed class OnLoopService : TestServiceImpl
    {
        public List<int> Threads { get; } = [];

        public List<string> Order { get; } = [];

        public bool RanOnThreadPool { get; private set; }

        // protected internal: this test assembly sees the library's internals; users write protected.
        protected override bool RunsOnEventLoopThread => true;

        public override Task EchoAsync(TestService.EchoParams.Reader parameters, TestService.EchoResults.Builder results, CancellationToken cancellationToken)
        {
            // Only the loop thread runs this: no lock needed, and none would be a test of it.
            Threads.Add(Environment.CurrentManagedThreadId);
            Order.Add(parameters.Text ?? "");
            RanOnThreadPool |= Thread.CurrentThread.IsThreadPoolThread;
            return base.EchoAsync(parameters, results, cancellationToken);
        }
    }
}
