namespace Capnp.Native.Rpc;

/// <summary>
/// Reports native references that were released by a finalizer instead of being disposed. Each
/// report goes to <see cref="LeakReported"/> (tests can subscribe and fail) and, as a warning, to
/// the logger of every vat alive at the time; the library writes nothing to the console.
/// </summary>
public static class LeakTracker
{
    private static long count;

    /// <summary>Raised (on the finalizer thread) for every leaked reference, with a description.</summary>
    public static event Action<string>? LeakReported;

    /// <summary>How many leaks were reported in this process.</summary>
    public static long Count => Interlocked.Read(ref count);

    internal static void Report(string description)
    {
        Interlocked.Increment(ref count);
        try
        {
            LeakReported?.Invoke(description);
        }
        catch
        {
            // A finalizer must never throw.
        }
    }
}
