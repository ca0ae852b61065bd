using System.Runtime.InteropServices;
using Capnp.Native.Interop;

namespace Capnp.Native.Tests;

public sealed class NativeLibraryResolverTests
{
    [Fact]
    public void AMissingLibraryFailsWithAnErrorNamingTheFileAndHowToBuildIt()
    {
        var missing = Path.Combine(Path.GetTempPath(), Guid.NewGuid().ToString("N"), "libcapnp_native.so");

        var error = Assert.Throws<CapnpNativeLoadException>(() => NativeLibraryResolver.LoadFirstExisting(new[] { missing }));

        Assert.Contains(missing, error.Message);
        Assert.Contains("libcapnp_native.so was not found", error.Message);
        Assert.Contains("dotnet build CapnpNative.sln", error.Message);
    }

    [Fact]
    public void AFileThatIsNotALibraryFailsClearly()
    {
        var bogus = Path.Combine(Path.GetTempPath(), $"{Guid.NewGuid():N}-libcapnp_native.so");
        File.WriteAllText(bogus, "not an ELF file");
        try
        {
            var error = Assert.Throws<CapnpNativeLoadException>(() => NativeLibraryResolver.LoadFirstExisting(new[] { bogus }));
            Assert.Contains(bogus, error.Message);
        }
        finally
        {
            File.Delete(bogus);
        }
    }

    [Fact]
    public void AnAbiVersionMismatchFailsClearly()
    {
        var error = Assert.Throws<CapnpNativeLoadException>(() =>
            NativeLibraryResolver.CheckAbiVersion(NativeMethods.CAPNP_NATIVE_ABI_VERSION + 1, "/some/libcapnp_native.so"));

        Assert.Contains($"ABI version {NativeMethods.CAPNP_NATIVE_ABI_VERSION + 1}", error.Message);
        Assert.Contains("/some/libcapnp_native.so", error.Message);
    }

    [Fact]
    public void TheLoadedLibraryMatchesTheBindingsAndTheDebianEngine()
    {
        Assert.Equal(NativeMethods.CAPNP_NATIVE_ABI_VERSION, NativeRuntime.AbiVersion);
        Assert.Equal(new Version(0, 9, 2), NativeRuntime.CapnpVersion);
    }

    [Fact]
    public void TheRuntimesFolderIsTheFirstDefaultLocation()
    {
        var candidates = NativeLibraryResolver.DefaultCandidatePaths().ToList();
        Assert.Matches("/runtimes/[^/]+/native/libcapnp_native.so$", candidates[0]);
        // The build copies the native folder into the test output, so that is what gets loaded.
        Assert.Matches("/runtimes/linux-x64/native/libcapnp_native.so$", candidates.First(File.Exists));
    }

    [Theory]
    [InlineData("linux-arm64", "linux", "libcapnp_native.so")]
    [InlineData("osx-arm64", "osx", "libcapnp_native.dylib")]
    [InlineData("win-x64", "win", "capnp_native.dll")]
    public void AMissingRuntimeFailsNamingTheRuntimeIdentifierAndTheFileItLookedFor(string rid, string os, string expectedFile)
    {
        var app = Path.Combine(Path.GetTempPath(), Guid.NewGuid().ToString("N"));
        var fileName = NativeLibraryResolver.FileNameFor(os);
        Assert.Equal(expectedFile, fileName);
        var candidates = NativeLibraryResolver.CandidatePaths(null, app, app, [], [rid], fileName, null).ToList();

        var error = Assert.Throws<CapnpNativeLoadException>(() => NativeLibraryResolver.LoadFirstExisting(candidates, rid, fileName));

        Assert.Contains($"runtime identifier '{rid}'", error.Message);
        Assert.Contains(Path.Combine(app, "runtimes", rid, "native", expectedFile), error.Message);
        Assert.Contains($"runtimes/{rid}/native/{expectedFile}", error.Message);
    }

    [Fact]
    public void TheProcessRuntimeIsNamedWhenNothingIsFound()
    {
        var missing = Path.Combine(Path.GetTempPath(), Guid.NewGuid().ToString("N"), "libcapnp_native.so");

        var error = Assert.Throws<CapnpNativeLoadException>(() => NativeLibraryResolver.LoadFirstExisting(new[] { missing }));

        Assert.Contains($"runtime identifier '{RuntimeInformation.RuntimeIdentifier}'", error.Message);
    }

    [Fact]
    public void AnAssemblyUsedFromThePackageCacheFindsThePackagesRuntimesFolder()
    {
        // ~/.nuget/packages/capnp.native/1.0.0/lib/net10.0/Capnp.Native.Interop.dll, not copied to the application.
        var package = Path.Combine(Path.GetTempPath(), Guid.NewGuid().ToString("N"), "capnp.native", "1.0.0");
        var candidates = NativeLibraryResolver.CandidatePaths(
            null, "/app/", Path.Combine(package, "lib", "net10.0"), ["/host/native/dir"], ["linux-x64"], "libcapnp_native.so", null).ToList();

        Assert.Equal("/app/runtimes/linux-x64/native/libcapnp_native.so", candidates[0]);
        Assert.Contains("/host/native/dir/libcapnp_native.so", candidates);
        Assert.Contains(Path.Combine(package, "runtimes", "linux-x64", "native", "libcapnp_native.so"), candidates);
        Assert.True(candidates.IndexOf("/host/native/dir/libcapnp_native.so") < candidates.IndexOf("/app/libcapnp_native.so"));
    }

    [Fact]
    public void AnOverrideIsTheOnlyCandidate()
    {
        var candidates = NativeLibraryResolver.CandidatePaths("/opt/x/libcapnp_native.so", "/app/", "/app/", ["/host"], ["linux-x64"], "libcapnp_native.so", "/repo").ToList();

        Assert.Equal(["/opt/x/libcapnp_native.so"], candidates);
    }
}
