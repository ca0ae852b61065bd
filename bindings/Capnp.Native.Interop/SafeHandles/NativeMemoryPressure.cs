namespace Capnp.Native.Interop;

/// <summary>
/// Tells the garbage collector about native message memory, but only beyond an allowance.
/// Messages released promptly (disposed answers, parameters freed when their method completes)
/// come and go far faster than any collection could help with, and reporting each of them made
/// the runtime run a full collection every few megabytes. Memory left for finalizers to free
/// piles up past the allowance, and from there on every byte is reported, so the collector still
/// runs the finalizers in time.
/// </summary>
internal static class NativeMemoryPressure
{
    /// <summary>Native message bytes that may be outstanding before the collector hears of them.</summary>
    public const long Allowance = 64L * 1024 * 1024;

    private static long outstanding;

    /// <summary>Counts <paramref name="bytes"/> as outstanding; returns how many were reported to the collector.</summary>
    public static long Add(long bytes)
    {
        var total = Interlocked.Add(ref outstanding, bytes);
        var reported = Math.Clamp(total - Allowance, 0, bytes);
        if (reported > 0)
        {
            GC.AddMemoryPressure(reported);
        }

        return reported;
    }

    /// <summary>Counts <paramref name="bytes"/> as freed, withdrawing what <see cref="Add"/> reported for them.</summary>
    public static void Remove(long bytes, long reported)
    {
        Interlocked.Add(ref outstanding, -bytes);
        if (reported > 0)
        {
            GC.RemoveMemoryPressure(reported);
        }
    }
}
