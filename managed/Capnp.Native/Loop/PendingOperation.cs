namespace Capnp.Native;

/// <summary>Reads an operation's result out of its native payload, which is valid only during the call.</summary>
internal unsafe delegate T PayloadReader<T>(ReadOnlySpan<byte> payload);

/// <summary>
/// An asynchronous native operation waiting for its completion, which the shim delivers exactly
/// once (DISPOSED if its loop stops first). The result is read from the payload on the loop thread
/// by a <see cref="PayloadReader{T}"/>; the task's continuations run on the thread pool.
/// </summary>
internal sealed unsafe class PendingOperation<T>(EventLoop owner, PayloadReader<T> readResult, CancellationToken cancellationToken = default)
    : CallbackTarget(owner)
{
    // Continuations must never run on the loop thread: they would block it and could re-enter it.
    private readonly TaskCompletionSource<T> completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task<T> Task => completion.Task;

    public CancellationLink Cancellation { get; } = new();

    public CancellationToken CancellationToken => cancellationToken;

    protected override void OnCallback(int status, byte* payload, nuint length)
    {
        Cancellation.Complete();
        Unregister();
        try
        {
            if (status == 0)
            {
                completion.TrySetResult(readResult(new ReadOnlySpan<byte>(payload, checked((int)length))));
            }
            else if (status == (int)Interop.capnp_status.CAPNP_STATUS_CANCELLED)
            {
                completion.TrySetCanceled(cancellationToken);
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
