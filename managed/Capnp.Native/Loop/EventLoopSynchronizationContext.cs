using Microsoft.Extensions.Logging;

namespace Capnp.Native;

/// <summary>
/// The synchronization context of code that runs on an event loop's thread (see
/// <see cref="EventLoop.RunAsync{T}"/>): what it posts, such as the continuation of an
/// <c>await</c>, runs on the loop thread, between the loop's own work. Posted from the loop thread
/// while a completion is delivered, it runs right after that completion (no queue round trip);
/// posted from another thread, it goes through the loop's command queue. Once the loop has
/// stopped, posted work runs on the thread pool instead, so awaits never hang: the calls it then
/// makes fail with <see cref="ObjectDisposedException"/>.
/// </summary>
internal sealed class EventLoopSynchronizationContext(EventLoop loop) : SynchronizationContext
{
    public override void Post(SendOrPostCallback d, object? state)
    {
        ArgumentNullException.ThrowIfNull(d);
        if (LoopThread.Current == loop)
        {
            LoopThread.Defer(d, state);
        }
        else
        {
            PostThroughQueue(d, state);
        }
    }

    /// <summary>Not supported: waiting for the loop thread from another thread is how event-loop programs deadlock.</summary>
    public override void Send(SendOrPostCallback d, object? state)
        => throw new NotSupportedException("Code cannot wait synchronously for an event loop thread; post to it (await) instead.");

    public override SynchronizationContext CreateCopy() => this;

    /// <summary>Posts <paramref name="callback"/> through the loop's command queue (any thread).</summary>
    internal void PostThroughQueue(SendOrPostCallback callback, object? state)
    {
        var item = new LoopWorkItem(this, loop, callback, state);
        var tag = item.Register();
        try
        {
            NativeGateway.CallBack(loop.LiveHandle, tag);
        }
        catch (Exception e) when (e is ObjectDisposedException or RpcException)
        {
            // The loop is stopping or gone: the work still runs, where it can.
            item.Unregister();
            RunOnThreadPool(callback, state);
        }
    }

    /// <summary>Runs posted work on the loop thread with this context current; a fault is logged, never thrown into the loop.</summary>
    internal void Run(SendOrPostCallback callback, object? state)
    {
        var previous = Current;
        SetSynchronizationContext(this);
        try
        {
            callback(state);
        }
        catch (Exception e)
        {
            // Only work posted by hand (or an async void method) can throw here; an await's
            // continuation keeps its exception in its task.
            loop.Logger.LogError(e, "Work posted to the event loop thread threw");
        }
        finally
        {
            SetSynchronizationContext(previous);
        }
    }

    internal void RunOnThreadPool(SendOrPostCallback callback, object? state)
        => ThreadPool.UnsafeQueueUserWorkItem(static s => s.Context.RunWithoutContext(s.Callback, s.State), (Context: this, Callback: callback, State: state), preferLocal: false);

    private void RunWithoutContext(SendOrPostCallback callback, object? state)
    {
        try
        {
            callback(state);
        }
        catch (Exception e)
        {
            loop.Logger.LogError(e, "Work posted to a stopped event loop threw");
        }
    }

    // One posted piece of work, delivered by the loop thread (or, if the loop stops first, run on
    // the thread pool).
    private sealed class LoopWorkItem(EventLoopSynchronizationContext context, EventLoop loop, SendOrPostCallback callback, object? state)
        : CallbackTarget(loop)
    {
        protected override void OnCallback(NativeCompletion completion)
        {
            Unregister();
            if (completion.Succeeded)
            {
                context.Run(callback, state);
            }
            else
            {
                context.RunOnThreadPool(callback, state);
            }
        }
    }
}
