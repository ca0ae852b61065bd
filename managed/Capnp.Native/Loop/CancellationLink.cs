namespace Capnp.Native;

/// <summary>
/// Links a CancellationToken to a pending native operation. Cancelling asks the loop to cancel
/// the operation's tag, but only while it is pending: once the completion has been delivered the
/// tag may be reused, so <see cref="Complete"/> (called by the completion, before the tag is
/// freed) closes the link under the same lock.
/// </summary>
internal sealed class CancellationLink
{
    // Guarded by `this`: the link is internal, nothing else locks it.
    private CancellationTokenRegistration registration;
    private EventLoop? loop;
    private ulong tag;
    private bool completed;

    /// <summary>Arms cancellation once the operation was posted under <paramref name="postedTag"/>.</summary>
    public void Arm(EventLoop owner, ulong postedTag, CancellationToken cancellationToken)
    {
        if (!cancellationToken.CanBeCanceled)
        {
            return;
        }

        lock (this)
        {
            if (completed)
            {
                return;
            }

            loop = owner;
            tag = postedTag;
        }

        var armed = cancellationToken.Register(static link => ((CancellationLink)link!).RequestCancel(), this);
        lock (this)
        {
            if (!completed)
            {
                registration = armed;
                return;
            }
        }

        armed.Dispose();
    }

    /// <summary>Called by the completion before the tag is freed.</summary>
    public void Complete()
    {
        CancellationTokenRegistration toDispose;
        lock (this)
        {
            completed = true;
            toDispose = registration;
            registration = default;
        }

        toDispose.Dispose();
    }

    private void RequestCancel()
    {
        lock (this)
        {
            if (!completed)
            {
                loop?.CancelOperation(tag);
            }
        }
    }
}
