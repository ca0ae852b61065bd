using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Capnp.Native.Interop;

/// <summary>
/// Finds, loads and verifies libcapnp_native for every <c>[LibraryImport]</c> of this assembly.
/// Order: the override (<see cref="OverrideEnvironmentVariable"/> or <see cref="OverridePath"/>),
/// then <c>runtimes/&lt;rid&gt;/native/</c> beside the application (the NuGet layout copied into
/// the output), the folders the .NET host resolved native assets to (NuGet packages used from the
/// package cache), <c>runtimes/&lt;rid&gt;/native/</c> of the package this assembly came from,
/// the application folder (a RID-specific or AOT publish), then the repository's CMake output
/// (<c>artifacts/native/</c>) for developers running from a source tree.
/// </summary>
internal static class NativeLibraryResolver
{
    /// <summary>A file or folder that overrides every other location.</summary>
    public const string OverrideEnvironmentVariable = "CAPNP_NATIVE_LIBRARY_PATH";

    private static readonly Lazy<IntPtr> Handle = new(LoadAndVerify, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The library's file name on this operating system.</summary>
    internal static string FileName { get; } = FileNameFor(
        OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : "linux");

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

    /// <summary>The native library's file name for an operating system part of a runtime identifier (linux, linux-musl, osx, win).</summary>
    internal static string FileNameFor(string operatingSystem) => operatingSystem switch
    {
        "win" => "capnp_native.dll",
        "osx" => "libcapnp_native.dylib",
        _ => "libcapnp_native.so",
    };

    /// <summary>Loads the first existing file of <paramref name="candidatePaths"/> and checks its ABI version.</summary>
    internal static IntPtr LoadFirstExisting(IEnumerable<string> candidatePaths) =>
        LoadFirstExisting(candidatePaths, RuntimeInformation.RuntimeIdentifier, FileName);

    /// <summary>As <see cref="LoadFirstExisting(IEnumerable{string})"/>, naming <paramref name="runtimeIdentifier"/> and <paramref name="fileName"/> when nothing is found.</summary>
    internal static IntPtr LoadFirstExisting(IEnumerable<string> candidatePaths, string runtimeIdentifier, string fileName)
    {
        var candidates = candidatePaths.ToList();
        var path = candidates.FirstOrDefault(File.Exists) ?? throw new CapnpNativeLoadException(
            $"{fileName} was not found: CapnpNative has no native library for runtime identifier '{runtimeIdentifier}' " +
            $"here (in a NuGet package it is runtimes/{runtimeIdentifier}/native/{fileName}). Looked in:\n  " +
            string.Join("\n  ", candidates) +
            $"\nThe Capnp.Native package ships the runtimes listed under its runtimes/ folder; for another one, build " +
            $"the native library for {runtimeIdentifier} (README, \"Other runtimes\") and add it under runtimes/{runtimeIdentifier}/native/, " +
            $"or point {OverrideEnvironmentVariable} at it. In the source tree, build it with `dotnet build CapnpNative.sln` " +
            $"(which runs CMake on native/) or `cmake -S native -B build/native && cmake --build build/native`.");

        IntPtr handle;
        try
        {
            handle = NativeLibrary.Load(path);
        }
        catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
        {
            throw new CapnpNativeLoadException(
                $"{path} exists but could not be loaded (are the bundled libcapnp*/libkj* beside it, and the system's " +
                $"glibc, libstdc++ and OpenSSL 3 recent enough?): {e.Message}", e);
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
    [UnconditionalSuppressMessage("SingleFile", "IL3000:Avoid accessing Assembly file path when publishing as a single file",
        Justification = "An empty Location (single-file, NativeAOT) is skipped; AppContext.BaseDirectory is searched first.")]
    internal static IEnumerable<string> DefaultCandidatePaths()
    {
        var assemblyDirectory = Path.GetDirectoryName(typeof(NativeLibraryResolver).Assembly.Location);
        var hostDirectories = (AppContext.GetData("NATIVE_DLL_SEARCH_DIRECTORIES") as string ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        string? repositoryRoot = null;
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory != null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "CapnpNative.sln")))
            {
                repositoryRoot = directory.FullName;
                break;
            }
        }

        return CandidatePaths(
            OverridePath ?? Environment.GetEnvironmentVariable(OverrideEnvironmentVariable),
            AppContext.BaseDirectory, assemblyDirectory, hostDirectories, RuntimeIdentifiers().ToList(), FileName, repositoryRoot);
    }

    /// <summary>The search order, from its inputs (see the class summary).</summary>
    internal static IEnumerable<string> CandidatePaths(
        string? overridePath, string applicationDirectory, string? assemblyDirectory, IReadOnlyList<string> hostNativeDirectories,
        IReadOnlyList<string> runtimeIdentifiers, string fileName, string? repositoryRoot)
    {
        if (!string.IsNullOrEmpty(overridePath))
        {
            // An override is exclusive: silently falling back elsewhere would hide a mistake.
            return [Directory.Exists(overridePath) ? Path.Combine(overridePath, fileName) : overridePath];
        }

        var candidates = new List<string>();
        var baseDirectories = new[] { applicationDirectory, assemblyDirectory }
            .Where(d => !string.IsNullOrEmpty(d)).Select(d => d!).Distinct().ToList();
        foreach (var directory in baseDirectories)
        {
            candidates.AddRange(runtimeIdentifiers.Select(rid => Path.Combine(directory, "runtimes", rid, "native", fileName)));
        }

        candidates.AddRange(hostNativeDirectories.Select(directory => Path.Combine(directory, fileName)));

        // Loaded from a package folder (lib/<tfm>/ of the package cache): the package's own runtimes/.
        if (!string.IsNullOrEmpty(assemblyDirectory) && Directory.GetParent(assemblyDirectory)?.Parent is { } packageRoot)
        {
            candidates.AddRange(runtimeIdentifiers.Select(rid => Path.Combine(packageRoot.FullName, "runtimes", rid, "native", fileName)));
        }

        candidates.AddRange(baseDirectories.Select(directory => Path.Combine(directory, fileName)));
        if (repositoryRoot != null)
        {
            candidates.Add(Path.Combine(repositoryRoot, "artifacts", "native", fileName));
        }

        return candidates.Distinct();
    }

    private static IEnumerable<string> RuntimeIdentifiers()
    {
        var os = OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : "linux";
        var portable = os + "-" + RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();
        if (RuntimeInformation.RuntimeIdentifier != portable)
        {
            yield return RuntimeInformation.RuntimeIdentifier;
        }

        yield return portable;
    }
}
