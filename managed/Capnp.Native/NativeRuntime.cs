using Capnp.Native.Interop;

namespace Capnp.Native;

/// <summary>Loads libcapnp_native once, checks its ABI version and registers the completion callback.</summary>
public static unsafe class NativeRuntime
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
            return NativeMethods.capnp_abi_version();
        }
    }

    /// <summary>The version of the Cap'n Proto C++ library the native shim was built against.</summary>
    public static Version CapnpVersion
    {
        get
        {
            EnsureInitialized();
            int major, minor, micro;
            NativeStatus.ThrowIfFailed(NativeMethods.capnp_library_version(&major, &minor, &micro));
            return new Version(major, minor, micro);
        }
    }

    /// <summary>
    /// Loads and initializes the native library; throws <see cref="CapnpNativeLoadException"/>
    /// if it is missing or of another ABI version. Called by every entry point; idempotent.
    /// </summary>
    public static void EnsureInitialized() => _ = Initialized.Value;

    private static bool Initialize()
    {
        NativeLibraryResolver.EnsureLoaded();
        NativeStatus.ThrowIfFailed(NativeMethods.capnp_initialize(CompletionDispatcher.Pointer));
        return true;
    }
}
