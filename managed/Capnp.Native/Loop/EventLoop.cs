using Capnp.Native.Interop;

namespace Capnp.Native;

/// <summary>
/// A Cap'n Proto (KJ) event loop running on its own native thread. Every native object of the
/// RPC system lives on one loop; any .NET thread may use it: work is queued to the loop thread
/// and its completion comes back as a task whose continuations run on the thread pool, never on
/// the loop thread. Disposing stops the loop, fails pending work with
/// <see cref="ObjectDisposedException"/> and joins the thread.
/// </summary>
public sealed class EventLoop : IAsyncDisposable, IDisposable
{
    private readonly LoopHandle handle;
    private int disposed;

    private EventLoop(LoopHandle handle)
    {
        this.handle = handle;
    }

    /// <summary>Starts a new event loop thread and returns once it is running.</summary>
    public static unsafe EventLoop Start()
    {
        NativeRuntime.EnsureInitialized();
        capnp_loop* loop;
        NativeStatus.ThrowIfFailed(NativeMethods.capnp_loop_create(&loop));
        return new EventLoop(LoopHandle.FromCreated(loop));
    }

    /// <summary>True once <see cref="Dispose"/> or <see cref="DisposeAsync"/> has been called.</summary>
    public bool IsDisposed => Volatile.Read(ref disposed) != 0;

    /// <summary>
    /// Sends a copy of <paramref name="data"/> through the loop thread and back: a health check
    /// of the queue, the loop and the completion path.
    /// </summary>
    public unsafe Task<byte[]> EchoAsync(ReadOnlyMemory<byte> data)
    {
        return PostAsync(
            (loop, tag) =>
            {
                fixed (byte* bytes = data.Span)
                {
                    return NativeMethods.capnp_test_echo(loop, tag, bytes, (nuint)data.Length);
                }
            },
            static payload => payload.ToArray());
    }

    /// <summary>
    /// Queues a native command for operation <paramref name="post"/> and returns the task its
    /// completion resolves. A command the shim refuses fails synchronously with its exception.
    /// </summary>
    internal unsafe Task<T> PostAsync<T>(NativePost post, PayloadReader<T> readResult)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        var operation = new PendingOperation<T>(readResult);
        var tag = operation.Register();
        var posted = false;
        var addedReference = false;
        try
        {
            // Holds the handle so a concurrent Dispose waits until the shim has the command.
            handle.DangerousAddRef(ref addedReference);
            NativeStatus.ThrowIfFailed(post(handle.Pointer, tag));
            posted = true;
        }
        finally
        {
            if (addedReference)
            {
                handle.DangerousRelease();
            }

            if (!posted)
            {
                operation.Unregister();
            }
        }

        return operation.Task;
    }

    /// <summary>Runs <paramref name="call"/> with the loop pointer, holding the handle for its duration.</summary>
    internal unsafe T WithPointer<T>(Func<IntPtr, T> call)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        var addedReference = false;
        try
        {
            handle.DangerousAddRef(ref addedReference);
            return call((IntPtr)handle.Pointer);
        }
        finally
        {
            if (addedReference)
            {
                handle.DangerousRelease();
            }
        }
    }

    /// <summary>Stops the loop and joins its thread on the thread pool; pending work fails.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) == 0)
        {
            // Joining the loop thread blocks; keep that off the caller's thread.
            await Task.Run(handle.Dispose).ConfigureAwait(false);
        }
    }

    /// <summary>Stops the loop and joins its thread; pending work fails.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) == 0)
        {
            handle.Dispose();
        }
    }
}

/// <summary>Posts one native command for the operation identified by <paramref name="tag"/>; returns a status.</summary>
internal unsafe delegate int NativePost(capnp_loop* loop, ulong tag);
