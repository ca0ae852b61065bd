namespace Capnp.Native;

/// <summary>
/// What managed code on a loop thread knows about that thread: which loop is delivering a
/// completion, and the work deferred until that delivery is over. Code posted to an
/// <see cref="EventLoopSynchronizationContext"/> from its own loop thread (the continuation of an
/// <c>await</c> whose task the completion just finished) runs here, right after the completion,
/// without a round trip through the loop's queue.
/// </summary>
internal static class LoopThread
{
    [ThreadStatic]
    private static EventLoop? delivering;

    [ThreadStatic]
    private static int depth;

    [ThreadStatic]
    private static Queue<(SendOrPostCallback Callback, object? State)>? deferred;

    /// <summary>The loop whose completion this thread is delivering, or null (not a loop thread, or between deliveries).</summary>
    public static EventLoop? Current => delivering;

    /// <summary>Marks the start of a delivery by <paramref name="loop"/> (deliveries may nest when a completion completes another synchronously).</summary>
    public static void Enter(EventLoop loop)
    {
        delivering = loop;
        depth++;
    }

    /// <summary>Ends a delivery; the outermost one first runs the work deferred during it.</summary>
    public static void Exit()
    {
        try
        {
            if (depth == 1 && deferred is { Count: > 0 } queue)
            {
                RunDeferred(delivering!, queue);
            }
        }
        finally
        {
            if (--depth == 0)
            {
                delivering = null;
            }
        }
    }

    /// <summary>Defers <paramref name="callback"/> until the current delivery is over (loop thread, during a delivery).</summary>
    public static void Defer(SendOrPostCallback callback, object? state)
        => (deferred ??= new Queue<(SendOrPostCallback, object?)>()).Enqueue((callback, state));

    // Runs what was deferred before this drain began; what that work defers in turn goes back
    // through the loop's queue, so code that keeps yielding (await Task.Yield() in a loop) takes
    // turns with the loop's I/O instead of starving it.
    private static void RunDeferred(EventLoop loop, Queue<(SendOrPostCallback Callback, object? State)> queue)
    {
        var context = loop.SynchronizationContext;
        for (var count = queue.Count; count > 0; count--)
        {
            var (callback, state) = queue.Dequeue();
            context.Run(callback, state);
        }

        while (queue.TryDequeue(out var later))
        {
            context.PostThroughQueue(later.Callback, later.State);
        }
    }
}
