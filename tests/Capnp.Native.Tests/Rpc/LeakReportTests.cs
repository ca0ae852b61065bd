using System.Runtime.CompilerServices;
using Capnp.Native.Rpc;
using Interop;

namespace Capnp.Native.Tests.Rpc;

public sealed class LeakReportTests
{
    [Fact]
    public async Task AnUndisposedCapabilityIsReportedNamingItsInterfaceAndReleased()
    {
        await using var loop = EventLoop.Start();
        var callback = new PrefixCallback("leaked:");
        var reports = new List<string>();
        void OnLeak(string report)
        {
            lock (reports)
            {
                reports.Add(report);
            }
        }

        LeakTracker.LeakReported += OnLeak;
        try
        {
            Leak(loop, callback);
            GC.Collect();
            GC.WaitForPendingFinalizers();

            // The finalizer released the last reference: the server's release hook runs.
            await callback.Released.Task.WaitAsync(RpcPair.Bound);
            lock (reports)
            {
                Assert.Contains(reports, report => report.Contains(typeof(Callback.Client).FullName!));
            }
        }
        finally
        {
            LeakTracker.LeakReported -= OnLeak;
        }
    }

    // In its own frame, so that nothing on the test's stack keeps the client reachable.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Leak(EventLoop loop, PrefixCallback callback)
        => _ = Callback.Client.Create(loop.CreateCapability(callback));
}
