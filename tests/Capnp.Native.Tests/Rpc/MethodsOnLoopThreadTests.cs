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
