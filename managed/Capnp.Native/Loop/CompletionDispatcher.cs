using System.Runtime.InteropServices;

namespace Capnp.Native;

/// <summary>The one completion callback registered with the shim (capnp_initialize).</summary>
internal static unsafe class CompletionDispatcher
{
    public static delegate* unmanaged<ulong, int, byte*, nuint, void> Pointer => &OnComplete;

    [UnmanagedCallersOnly]
    private static void OnComplete(ulong tag, int status, byte* payload, nuint length)
    {
        // No managed exception may unwind into the loop thread's C++ frames.
        try
        {
            CallbackTarget.Dispatch(tag, status, payload, length);
        }
        catch (Exception e)
        {
            // The tag itself did not resolve to a target (CallbackTarget.Dispatch logs the
            // failures of targets it found): there is no owner to tell, only the trace.
            System.Diagnostics.Trace.TraceError($"CapnpNative: completion of operation {tag:x} failed: {e}");
        }
    }
}
