using Capnp.Native.Interop;
using Interop;

namespace Capnp.Native.Tests.Rpc;

public sealed class LeakTests
{
    [Fact]
    public async Task OneHundredThousandCallsReturnNativeObjectsAndGcHandlesToTheirStartingCounts()
    {
        await using var pair = await RpcPair.StartAsync();
        var callback = new PrefixCallback("leak:");
        using var callbackClient = Callback.Client.Create(pair.ClientLoop.CreateCapability(callback));
        await pair.TestService.EchoAsync("warm-up").AsTask().WaitAsync(RpcPair.Bound);
        var before = Settle();
        var clientTargets = pair.ClientLoop.LiveCallbackTargets;
        var serverTargets = pair.ServerLoop.LiveCallbackTargets;

        // 100,000 calls, 64 in flight; every tenth passes a capability and gets one back.
        const int Calls = 100_000;
        var inFlight = new List<Task>(64);
        for (var i = 0; i < Calls; i++)
        {
            inFlight.Add(i % 10 == 0 ? EchoCapabilityAsync(pair, callbackClient) : AddAsync(pair, i));
            if (inFlight.Count == 64)
            {
                await Task.WhenAll(inFlight).WaitAsync(TimeSpan.FromMinutes(2));
                inFlight.Clear();
            }
        }

        await Task.WhenAll(inFlight).WaitAsync(TimeSpan.FromMinutes(2));
        var after = Settle();

        Assert.Equal(clientTargets, pair.ClientLoop.LiveCallbackTargets);
        Assert.Equal(serverTargets, pair.ServerLoop.LiveCallbackTargets);
        Assert.Equal(before.live_caps, after.live_caps);
        Assert.Equal(before.live_messages, after.live_messages);
        Assert.Equal(before.live_calls, after.live_calls);
        Assert.Equal(before.live_servers, after.live_servers);
        Assert.Equal(before.live_pending_operations, after.live_pending_operations);
    }

    private static async Task AddAsync(RpcPair pair, int i)
    {
        var result = await pair.TestService.AddAsync(i, 1);
        Assert.Equal(i + 1, result.Sum);
    }

    private static async Task EchoCapabilityAsync(RpcPair pair, Callback.Client callback)
    {
        var result = await pair.TestService.EchoCapAsync(callback);
        using var returned = result.GetCap();
        Assert.NotNull(returned);
    }

    // Received messages are freed with their last reader: collect, then let finalizers and the
    // loops' queued releases run, using an echo through each loop as the barrier.
    private static capnp_counters Settle()
    {
        for (var round = 0; round < 3; round++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        return NativeCounters.Read();
    }
}
