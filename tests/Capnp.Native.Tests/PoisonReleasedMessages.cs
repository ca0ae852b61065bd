using System.Runtime.CompilerServices;
using Capnp.Native.Interop;

namespace Capnp.Native.Tests;

/// <summary>
/// Every test runs with the transport overwriting received messages once the engine releases
/// them, so that reading a message after its release (a lifetime bug) fails the test that does
/// it instead of reading stale bytes that happen to still be right.
/// </summary>
internal static class PoisonReleasedMessages
{
#pragma warning disable CA2255 // A test assembly's set-up: it must run before any test.
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Enable()
    {
        NativeRuntime.EnsureInitialized();
        NativeStatus.ThrowIfFailed(NativeMethods.capnp_test_poison_released_messages(1));
    }
}
