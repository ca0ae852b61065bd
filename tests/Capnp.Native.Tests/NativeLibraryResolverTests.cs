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
}
