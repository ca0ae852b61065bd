using Capnp.Native.Interop;

namespace Capnp.Native;

/// <summary>Loads libcapnp_native once, checks its ABI version and registers the completion callback.</summary>
public static class NativeRuntime
{
    private static readonly Lazy<bool> Initialized = new(Initialize, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>
    /// Loads the native library from this file or folder instead of the default locations. Set it
    /// before the first use of any other CapnpNative type; the environment variable
    /// <c>CAPNP_NATIVE_LIBRARY_PATH</c> does the same.
    /// </summary>
    public static string? LibraryPathOverride
    {
        get => NativeLibraryResolver.OverridePath;
        set => NativeLibraryResolver.OverridePath = value;
    }

    /// <summary>The ABI version of the loaded native library (equal to the one these bindings expect).</summary>
    public static int AbiVersion
    {
        get
        {
            EnsureInitialized();
            return NativeGateway.AbiVersion();
        }
    }

    /// <summary>The version of the Cap'n Proto C++ library the native shim was built against.</summary>
    public static Version CapnpVersion
    {
        get
        {
            EnsureInitialized();
            return NativeGateway.LibraryVersion();
        }
    }

    /// <summary>Blocks up to this size come from the heap after <see cref="TuneAllocatorForThroughput"/> (16 MiB).</summary>
    public const long ThroughputLargestHeapBlock = 16L * 1024 * 1024;

    /// <summary>Freed heap memory kept for reuse after <see cref="TuneAllocatorForThroughput"/> (64 MiB).</summary>
    public const long ThroughputRetainedBytes = 64L * 1024 * 1024;

    /// <summary>
    /// Opt-in, process-wide: tunes the C allocator (glibc) for large-message traffic, as
    /// <see cref="RetainFreedMemory"/> with <see cref="ThroughputLargestHeapBlock"/> (16 MiB) and
    /// <see cref="ThroughputRetainedBytes"/> (64 MiB). What it buys: the C++ engine allocates every
    /// message afresh, and by default glibc maps each block over 128 KiB separately, so every
    /// large message costs a new mapping, page faults and zeroing by the kernel; with the tuning
    /// 1 MiB echoes ran about 1.5 times as fast. What it costs: up to 64 MiB of freed memory stays
    /// resident after a burst, for the whole process (other libraries included). The library
    /// never does this by itself; applications that move large messages call it once at start.
    /// Returns false, changing nothing, when the C library has no such settings.
    /// </summary>
    public static bool TuneAllocatorForThroughput()
    {
        try
        {
            RetainFreedMemory(ThroughputLargestHeapBlock, ThroughputRetainedBytes);
            return true;
        }
        catch (RpcUnimplementedException)
        {
            return false;
        }
    }

    /// <summary>
    /// Makes the C allocator (glibc) serve blocks of up to <paramref name="largestHeapBlock"/> bytes
    /// from its heap and keep up to <paramref name="retainedBytes"/> of freed memory for reuse.
    /// The C++ engine allocates every message afresh, so without this each message over 128 KiB
    /// costs a new memory mapping, page faults and zeroing by the kernel: 1 MiB echoes ran about
    /// 1.5 times as fast with it. The price is up to <paramref name="retainedBytes"/> of resident
    /// memory kept after a burst. Process-wide; the library never calls it by itself
    /// (<see cref="TuneAllocatorForThroughput"/> applies the settings the benchmarks use).
    /// </summary>
    /// <exception cref="ArgumentException">A block above 32 MiB, or retained memory above 2 GiB.</exception>
    /// <exception cref="RpcUnimplementedException">The C library has no such settings.</exception>
    public static void RetainFreedMemory(long largestHeapBlock, long retainedBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(largestHeapBlock);
        ArgumentOutOfRangeException.ThrowIfNegative(retainedBytes);
        EnsureInitialized();
        NativeGateway.RetainFreedMemory((ulong)largestHeapBlock, (ulong)retainedBytes);
    }

    /// <summary>
    /// The native objects alive in this process now (all event loops): for leak checks, soak runs
    /// and diagnostics. Every count returns to its earlier value once what was made is released.
    /// </summary>
    public static NativeObjectCounts GetLiveObjectCounts()
    {
        EnsureInitialized();
        return NativeGateway.ReadLiveObjectCounts();
    }

    /// <summary>
    /// Loads and initializes the native library; throws <see cref="CapnpNativeLoadException"/>
    /// if it is missing or of another ABI version. Called by every entry point; idempotent.
    /// </summary>
    public static void EnsureInitialized() => _ = Initialized.Value;

    private static bool Initialize()
    {
        NativeLibraryResolver.EnsureLoaded();
        NativeGateway.Initialize();
        return true;
    }
}

/// <summary>Native objects alive in the process (see <see cref="NativeRuntime.GetLiveObjectCounts"/>).</summary>
/// <param name="Loops">Event loops.</param>
/// <param name="Connections">Two-party connections.</param>
/// <param name="Capabilities">Capability references held by managed code or in flight.</param>
/// <param name="Servers">Managed servers exported to the engine.</param>
/// <param name="Calls">Incoming calls not yet answered.</param>
/// <param name="Messages">Received messages not yet released.</param>
/// <param name="PendingOperations">Asynchronous native operations not yet completed.</param>
public readonly record struct NativeObjectCounts(long Loops, long Connections, long Capabilities, long Servers, long Calls, long Messages, long PendingOperations);
