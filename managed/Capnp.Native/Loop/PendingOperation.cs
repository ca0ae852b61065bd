namespace Capnp.Native;

/// <summary>Reads an operation's result out of its native payload, which is valid only during the call.</summary>
internal unsafe delegate T PayloadReader<T>(ReadOnlySpan<byte> payload);

/// <summary>
/// An asynchronous native operation waiting for its completion, which the shim delivers exactly
/// once (DISPOSED if its loop stops first). The result is read from the payload on the loop thread
/// by a <see cref="PayloadReader{T}"/>; the task's continuations run on the thread pool.
/// </summary>
internal sealed class PendingOperation<T>(EventLoop owner, PayloadReader<T> readResult, CancellationToken cancellationToken = default)
    : CallbackTarget(owner)
{
    // Continuations must never run on the loop thread: they would block it and could re-enter it.
    private readonly TaskCompletionSource<T> task = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task<T> Task => task.Task;

    public CancellationLink Cancellation { get; } = new();

    public CancellationToken CancellationToken => cancellationToken;

    protected override void OnCallback(NativeCompletion completed)
    {
        Cancellation.Complete();
        Unregister();
        try
        {
            if (completed.Succeeded)
            {
                task.TrySetResult(readResult(completed.Payload));
            }
            else if (completed.Cancelled)
            {
                task.TrySetCanceled(cancellationToken);
            }
            else
            {
                task.TrySetException(completed.ToException());
            }
        }
        catch (Exception e)
        {
            task.TrySetException(e);
        }
    }
}
