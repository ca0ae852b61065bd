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
        // This test leaks on purpose: its report must not fail it in CI's leak mode.
        using var expected = FailOnFinalizerLeaksAttribute.ExpectLeaks();
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

    [Fact]
    public async Task TheLeakModeFailsATestWhoseReferenceWasReleasedByAFinalizer()
    {
        await using var loop = EventLoop.Start();
        var callback = new PrefixCallback("leaked:");
        using var recorder = new FinalizerLeakRecorder();
        // The assembly's own recorder (CI's leak mode) expects this leak; the one under test does not.
        using (FailOnFinalizerLeaksAttribute.ExpectLeaks())
        {
            Leak(loop, callback);
            var failure = Assert.Throws<Xunit.Sdk.XunitException>(() => recorder.ThrowIfLeaked("LeakingTest"));
            Assert.Contains("LeakingTest", failure.Message);
            Assert.Contains(typeof(Callback.Client).FullName!, failure.Message);
        }

        await callback.Released.Task.WaitAsync(RpcPair.Bound);
        recorder.ThrowIfLeaked("after the check");  // reports are taken once
    }

    // In its own frame, so that nothing on the test's stack keeps the client reachable.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Leak(EventLoop loop, PrefixCallback callback)
        => _ = Callback.Client.Create(loop.CreateCapability(callback));
}
