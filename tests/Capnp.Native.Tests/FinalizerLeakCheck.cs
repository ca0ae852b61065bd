using System.Reflection;
using Capnp.Native.Rpc;
using Xunit.Sdk;

// With CAPNP_NATIVE_FAIL_ON_LEAK=1 (./build.sh test sets it), every test of this assembly fails
// if a native reference was released by a finalizer (a LeakTracker report) while it ran: after
// each test the garbage is collected and the finalizers run, so a reference the test dropped
// undisposed is reported at the end of that test (tests run one at a time, see LoopCollection).
[assembly: Capnp.Native.Tests.FailOnFinalizerLeaks]

namespace Capnp.Native.Tests;

/// <summary>Collects <see cref="LeakTracker"/> reports that no test said to expect.</summary>
internal sealed class FinalizerLeakRecorder : IDisposable
{
    private readonly List<string> unexpected = [];
    private int expecting;

    public FinalizerLeakRecorder() => LeakTracker.LeakReported += OnLeak;

    /// <summary>While the returned scope is open, reports are expected (a test that leaks on purpose).</summary>
    public IDisposable ExpectLeaks()
    {
        Interlocked.Increment(ref expecting);
        return new Scope(this);
    }

    /// <summary>Collects and finalizes, then throws naming every unexpected report since the last check.</summary>
    public void ThrowIfLeaked(string test)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        string[] reports;
        lock (unexpected)
        {
            reports = [.. unexpected];
            unexpected.Clear();
        }

        if (reports.Length > 0)
        {
            throw new XunitException(
                $"{test}: {reports.Length} native reference(s) released by a finalizer (dispose them):\n  "
                + string.Join("\n  ", reports));
        }
    }

    public void Dispose() => LeakTracker.LeakReported -= OnLeak;

    private void OnLeak(string report)
    {
        if (Volatile.Read(ref expecting) > 0)
        {
            return;
        }

        lock (unexpected)
        {
            unexpected.Add(report);
        }
    }

    private sealed class Scope(FinalizerLeakRecorder owner) : IDisposable
    {
        private int disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) == 0)
            {
                Interlocked.Decrement(ref owner.expecting);
            }
        }
    }
}

/// <summary>Fails a test after which a finalizer released a native reference, when CAPNP_NATIVE_FAIL_ON_LEAK=1.</summary>
[AttributeUsage(AttributeTargets.Assembly)]
internal sealed class FailOnFinalizerLeaksAttribute : BeforeAfterTestAttribute
{
    /// <summary>The assembly's recorder; null when the mode is off.</summary>
    public static FinalizerLeakRecorder? Recorder { get; } =
        Environment.GetEnvironmentVariable("CAPNP_NATIVE_FAIL_ON_LEAK") == "1" ? new FinalizerLeakRecorder() : null;

    /// <summary>For tests that leak on purpose: their reports do not fail them.</summary>
    public static IDisposable ExpectLeaks() => Recorder?.ExpectLeaks() ?? NoScope.Instance;

    public override void After(MethodInfo methodUnderTest)
        => Recorder?.ThrowIfLeaked($"{methodUnderTest.DeclaringType?.Name}.{methodUnderTest.Name}");

    private sealed class NoScope : IDisposable
    {
        public static readonly NoScope Instance = new();

        public void Dispose()
        {
        }
    }
}
