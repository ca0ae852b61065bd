using Capnp.Native.Interop;

namespace Capnp.Native;

internal static unsafe partial class NativeGateway
{
    /// <summary>Registers the one completion callback; the library refuses everything before it.</summary>
    public static void Initialize() => NativeStatus.ThrowIfFailed(NativeMethods.capnp_initialize(CompletionDispatcher.Pointer));

    public static int AbiVersion() => NativeMethods.capnp_abi_version();

    public static Version LibraryVersion()
    {
        int major, minor, micro;
        NativeStatus.ThrowIfFailed(NativeMethods.capnp_library_version(&major, &minor, &micro));
        return new Version(major, minor, micro);
    }

    /// <summary>Process-wide C allocator settings (see <see cref="NativeRuntime.RetainFreedMemory"/>).</summary>
    public static void RetainFreedMemory(ulong largestHeapBlock, ulong retainedBytes)
        => NativeStatus.ThrowIfFailed(NativeMethods.capnp_allocator_retain_freed(largestHeapBlock, retainedBytes));

    public static NativeObjectCounts ReadLiveObjectCounts()
    {
        capnp_counters counters;
        NativeStatus.ThrowIfFailed(NativeMethods.capnp_counters_read(&counters));
        return new NativeObjectCounts(counters.live_loops, counters.live_connections, counters.live_caps, counters.live_servers,
                                      counters.live_calls, counters.live_messages, counters.live_pending_operations);
    }
}
