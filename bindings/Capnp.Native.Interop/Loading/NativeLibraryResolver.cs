using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Capnp.Native.Interop;

/// <summary>
/// Finds, loads and verifies libcapnp_native for every <c>[LibraryImport]</c> of this assembly.
/// Order: the override (<see cref="OverrideEnvironmentVariable"/> or <see cref="OverridePath"/>),
/// then <c>runtimes/&lt;rid&gt;/native/</c> beside the application (the NuGet layout), then the
/// application folder, then the repository's CMake output (<c>artifacts/native/</c>) for
/// developers running from a source tree.
/// </summary>
internal static class NativeLibraryResolver
{
    /// <summary>A file or folder that overrides every other location.</summary>
    public const string OverrideEnvironmentVariable = "CAPNP_NATIVE_LIBRARY_PATH";

    private const string FileName = "libcapnp_native.so";

    private static readonly Lazy<IntPtr> Handle = new(LoadAndVerify, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Set before the first native call to load the library from this file or folder.</summary>
    public static string? OverridePath { get; set; }

    [ModuleInitializer]
    internal static void Register() =>
        NativeLibrary.SetDllImportResolver(typeof(NativeLibraryResolver).Assembly, Resolve);

    /// <summary>Loads and verifies the library now, throwing <see cref="CapnpNativeLoadException"/> if it cannot.</summary>
    public static IntPtr EnsureLoaded() => Handle.Value;

    private static IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath) =>
        libraryName == NativeMethods.LibraryName ? Handle.Value : IntPtr.Zero;

    private static IntPtr LoadAndVerify() => LoadFirstExisting(DefaultCandidatePaths());

    /// <summary>Loads the first existing file of <paramref name="candidatePaths"/> and checks its ABI version.</summary>
    internal static IntPtr LoadFirstExisting(IEnumerable<string> candidatePaths)
    {
        var candidates = candidatePaths.ToList();
        var path = candidates.FirstOrDefault(File.Exists) ?? throw new CapnpNativeLoadException(
            $"{FileName} was not found. Looked in:\n  " + string.Join("\n  ", candidates) +
            $"\nBuild it with `dotnet build CapnpNative.sln` (which runs CMake on native/), or " +
            $"`cmake -S native -B build/native && cmake --build build/native`, or point " +
            $"{OverrideEnvironmentVariable} at the file.");

        IntPtr handle;
        try
        {
            handle = NativeLibrary.Load(path);
        }
        catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
        {
            throw new CapnpNativeLoadException(
                $"{path} exists but could not be loaded (are the bundled libcapnp*/libkj* beside it?): {e.Message}", e);
        }

        CheckAbiVersion(ReadAbiVersion(handle, path), path);
        return handle;
    }

    private static unsafe int ReadAbiVersion(IntPtr handle, string path)
    {
        if (!NativeLibrary.TryGetExport(handle, "capnp_abi_version", out var export))
        {
            throw new CapnpNativeLoadException($"{path} does not export capnp_abi_version: it is not libcapnp_native.");
        }

        return ((delegate* unmanaged<int>)export)();
    }

    /// <summary>Throws unless <paramref name="actual"/> is the ABI version these bindings were generated for.</summary>
    internal static void CheckAbiVersion(int actual, string path)
    {
        if (actual != NativeMethods.CAPNP_NATIVE_ABI_VERSION)
        {
            throw new CapnpNativeLoadException(
                $"{path} implements ABI version {actual}, but this assembly was generated for ABI version " +
                $"{NativeMethods.CAPNP_NATIVE_ABI_VERSION}. Rebuild the native library and the bindings from the same commit.");
        }
    }

    /// <summary>The locations searched, in order (only the override when one is set).</summary>
    internal static IEnumerable<string> DefaultCandidatePaths()
    {
        var overridePath = OverridePath ?? Environment.GetEnvironmentVariable(OverrideEnvironmentVariable);
        if (!string.IsNullOrEmpty(overridePath))
        {
            // An override is exclusive: silently falling back elsewhere would hide a mistake.
            yield return Directory.Exists(overridePath) ? Path.Combine(overridePath, FileName) : overridePath;
            yield break;
        }

        var baseDirectories = new[] { AppContext.BaseDirectory, Path.GetDirectoryName(typeof(NativeLibraryResolver).Assembly.Location) }
            .Where(d => !string.IsNullOrEmpty(d)).Select(d => d!).Distinct().ToList();
        foreach (var directory in baseDirectories)
        {
            foreach (var rid in RuntimeIdentifiers())
            {
                yield return Path.Combine(directory, "runtimes", rid, "native", FileName);
            }
        }

        foreach (var directory in baseDirectories)
        {
            yield return Path.Combine(directory, FileName);
        }

        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory != null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "CapnpNative.sln")))
            {
                yield return Path.Combine(directory.FullName, "artifacts", "native", FileName);
                break;
            }
        }
    }

    private static IEnumerable<string> RuntimeIdentifiers()
    {
        var portable = "linux-" + RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();
        if (RuntimeInformation.RuntimeIdentifier != portable)
        {
            yield return RuntimeInformation.RuntimeIdentifier;
        }

        yield return portable;
    }
}
