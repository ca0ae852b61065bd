using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace Capnp.Native;

/// <summary>
/// Something the shim calls back: a pending operation (called once) or a served capability
/// (called for every incoming call, until it is released). Its tag, passed to the shim, is a
/// GCHandle to this object.
/// </summary>
internal abstract unsafe class CallbackTarget(EventLoop owner)
{
    private static long liveCount;
    private GCHandle handle;

    /// <summary>Targets registered and not yet unregistered, in the process (for leak tests).</summary>
    public static long LiveCount => Interlocked.Read(ref liveCount);

    /// <summary>The loop whose shim calls this target back.</summary>
    public EventLoop Owner { get; } = owner;

    /// <summary>Pins this target behind a tag for the shim.</summary>
    public ulong Register()
    {
        handle = GCHandle.Alloc(this);
        Interlocked.Increment(ref liveCount);
        Owner.CallbackTargetRegistered();
        return (ulong)GCHandle.ToIntPtr(handle);
    }

    /// <summary>Frees the tag: after this the shim must never use it again.</summary>
    public void Unregister()
    {
        handle.Free();
        Interlocked.Decrement(ref liveCount);
        Owner.CallbackTargetUnregistered();
    }

    /// <summary>Called by the completion dispatcher on a loop thread: resolves the tag and delivers.</summary>
    public static void Dispatch(ulong tag, int status, byte* payload, nuint length)
    {
        var target = (CallbackTarget)GCHandle.FromIntPtr((nint)tag).Target!;
        LoopThread.Enter(target.Owner);
        try
        {
            target.OnCallback(new NativeCompletion(status, payload, length));
        }
        catch (Exception e)
        {
            // A fault of this library, not of a peer: reported to the owner's log, never the loop.
            target.Owner.Logger.LogError(e, "Delivering a completion to {Target} failed", target.GetType().Name);
        }
        finally
        {
            // Runs what code on this loop (EventLoopSynchronizationContext) deferred meanwhile.
            LoopThread.Exit();
        }
    }

    /// <summary>
    /// Handles one callback. Runs on the loop thread: must not block, throw, or call back into the
    /// shim's loop synchronously; user code runs here only where the user asked for the loop
    /// thread (servers that opt in, code run through the loop's synchronization context).
    /// </summary>
    protected abstract void OnCallback(NativeCompletion completion);
}
