using System.Runtime.InteropServices;

namespace Capnp.Native;

/// <summary>
/// An asynchronous native operation waiting for its completion. Its tag, passed to the shim, is a
/// GCHandle to this object; the completion callback resolves the tag, frees the handle and
/// completes the task, exactly once.
/// </summary>
internal abstract unsafe class PendingOperation
{
    private static long liveCount;
    private GCHandle handle;

    /// <summary>Operations registered and not yet completed or unregistered (for leak tests).</summary>
    public static long LiveCount => Interlocked.Read(ref liveCount);

    /// <summary>Pins this operation behind a tag for the shim.</summary>
    public ulong Register()
    {
        handle = GCHandle.Alloc(this);
        Interlocked.Increment(ref liveCount);
        return (ulong)GCHandle.ToIntPtr(handle);
    }

    /// <summary>Frees the tag of an operation the shim refused, so no completion will come.</summary>
    public void Unregister()
    {
        handle.Free();
        Interlocked.Decrement(ref liveCount);
    }

    /// <summary>Called by the completion dispatcher on a loop thread: resolves the tag and completes.</summary>
    public static void CompleteTag(ulong tag, int status, byte* payload, nuint length)
    {
        var tagHandle = GCHandle.FromIntPtr((nint)tag);
        var operation = (PendingOperation)tagHandle.Target!;
        operation.Unregister();
        operation.Complete(status, payload, length);
    }

    /// <summary>Completes the task. Runs on the loop thread: must not block, throw or run user code.</summary>
    protected abstract void Complete(int status, byte* payload, nuint length);
}

/// <summary>Reads an operation's result out of its native payload, which is valid only during the call.</summary>
internal unsafe delegate T PayloadReader<T>(ReadOnlySpan<byte> payload);

/// <summary>A pending operation whose result is read from the payload by <see cref="PayloadReader{T}"/>.</summary>
internal sealed unsafe class PendingOperation<T>(PayloadReader<T> readResult) : PendingOperation
{
    // Continuations must never run on the loop thread: they would block it and could re-enter it.
    private readonly TaskCompletionSource<T> completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task<T> Task => completion.Task;

    protected override void Complete(int status, byte* payload, nuint length)
    {
        try
        {
            if (status == 0)
            {
                completion.TrySetResult(readResult(new ReadOnlySpan<byte>(payload, checked((int)length))));
            }
            else
            {
                completion.TrySetException(NativeStatus.ToException(status, NativeStatus.DecodeMessage(payload, length)));
            }
        }
        catch (Exception e)
        {
            completion.TrySetException(e);
        }
    }
}
