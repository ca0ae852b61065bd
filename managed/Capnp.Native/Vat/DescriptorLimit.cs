using System.Runtime.InteropServices;

namespace Capnp.Native;

/// <summary>The process's file-descriptor limit, from which the default connection maximum is derived.</summary>
internal static partial class DescriptorLimit
{
    private const int RLIMIT_NOFILE = 7;

    // Used when the limit cannot be read: Linux's usual default soft limit.
    private const ulong FallbackLimit = 1024;

    /// <summary>Three quarters of the soft limit (at least 1): the rest is left to the runtime and the application.</summary>
    public static int DefaultMaxConnections()
    {
        var limit = GetRLimit(RLIMIT_NOFILE, out var current) == 0 ? current.Soft : FallbackLimit;
        var share = Math.Min(limit, int.MaxValue) / 4 * 3;
        return (int)Math.Max(1, share);
    }

    [StructLayout(LayoutKind.Sequential)]
    private readonly record struct ResourceLimit(ulong Soft, ulong Hard);

    [LibraryImport("libc", EntryPoint = "getrlimit")]
    private static partial int GetRLimit(int resource, out ResourceLimit limit);
}
