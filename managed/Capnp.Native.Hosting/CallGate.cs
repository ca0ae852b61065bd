namespace Capnp.Native.Hosting;

/// <summary>
/// Counts the calls in flight of a hosted server (dispatched by the engine and not yet answered)
/// and, once closed, refuses new ones and tells when the last one in flight has been answered.
/// </summary>
internal sealed class CallGate
{
    /// <summary>What a call that arrives while the host stops fails with (as <see cref="RpcDisconnectedException"/>).</summary>
    public const string RefusalMessage = "The vat is shutting down: it accepts no new calls.";

    private readonly Lock sync = new();
    private readonly TaskCompletionSource drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int inFlight;
    private bool closed;

    /// <summary>Calls dispatched and not yet answered (refused ones too, until their refusal is sent).</summary>
    public int InFlight
    {
        get
        {
            lock (sync)
            {
                return inFlight;
            }
        }
    }

    /// <summary>Whether <see cref="Close"/> was called.</summary>
    public bool IsClosed
    {
        get
        {
            lock (sync)
            {
                return closed;
            }
        }
    }

    /// <summary>
    /// Counts a call the engine is about to start: false when the gate is closed (the call is to
    /// be refused; it is counted all the same, until <see cref="Exit"/>).
    /// </summary>
    public bool Enter()
    {
        lock (sync)
        {
            inFlight++;
            return !closed;
        }
    }

    /// <summary>A call's answer (or refusal) was handed to the engine.</summary>
    public void Exit()
    {
        lock (sync)
        {
            inFlight--;
            if (closed && inFlight == 0)
            {
                drained.TrySetResult();
            }
        }
    }

    /// <summary>Refuses every call from now on.</summary>
    public void Close()
    {
        lock (sync)
        {
            closed = true;
            if (inFlight == 0)
            {
                drained.TrySetResult();
            }
        }
    }

    /// <summary>Completes once the gate is closed and no call is in flight.</summary>
    public Task WhenDrainedAsync(CancellationToken cancellationToken) => drained.Task.WaitAsync(cancellationToken);
}
