using Capnp.Native.Interop;
using Capnp.Native.Rpc;

namespace Capnp.Native;

/// <summary>
/// A Cap'n Proto (KJ) event loop running on its own native thread. Every native object of the
/// RPC system lives on one loop; any .NET thread may use it: work is queued to the loop thread
/// and its completion comes back as a task whose continuations run on the thread pool, never on
/// the loop thread, unless the awaiting code itself runs on the loop (<see cref="RunAsync{T}"/>:
/// then they resume there, without a hand-off). Disposing stops the loop, fails pending work with
/// <see cref="ObjectDisposedException"/> and joins the thread.
/// </summary>
internal sealed partial class EventLoop : IAsyncDisposable, IDisposable
{
    private readonly LoopHandle handle;
    // Watching costs a pending native operation: started on first use of Completion.
    private readonly Lazy<Task> completion;
    private int logRouted;
    private int disposed;
    private long liveCallbackTargets;

    private EventLoop(LoopHandle handle)
    {
        this.handle = handle;
        completion = new Lazy<Task>(WatchAsync);
        SynchronizationContext = new EventLoopSynchronizationContext(this);
    }

    /// <summary>The context of code that runs on this loop's thread (<see cref="RunAsync{T}"/>).</summary>
    internal EventLoopSynchronizationContext SynchronizationContext { get; }

    /// <summary>
    /// Runs <paramref name="work"/> on this loop's thread with <see cref="SynchronizationContext"/>
    /// current, so its awaits resume on the loop thread too; the returned task completes (on the
    /// thread pool) as the work's task does. Work cancelled before it starts does not start.
    /// </summary>
    internal Task<T> RunAsync<T>(Func<Task<T>> work, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(work);
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        cancellationToken.ThrowIfCancellationRequested();
        var run = new LoopRun<T>(work, cancellationToken);
        SynchronizationContext.PostThroughQueue(static s => ((LoopRun<T>)s!).Start(), run);
        return run.Task;
    }

    // One RunAsync: starts the work where it is posted, and passes its outcome on.
    private sealed class LoopRun<T>(Func<Task<T>> work, CancellationToken cancellationToken)
    {
        private readonly TaskCompletionSource<T> outcome = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<T> Task => outcome.Task;

        public void Start()
        {
            if (cancellationToken.IsCancellationRequested)
            {
                outcome.TrySetCanceled(cancellationToken);
                return;
            }

            Task<T> started;
            try
            {
                started = work();
            }
            catch (Exception e)
            {
                outcome.TrySetException(e);
                return;
            }

            started.ContinueWith(
                static (done, s) => ((LoopRun<T>)s!).Finish(done), this,
                CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        private void Finish(Task<T> done)
        {
            if (done.IsCompletedSuccessfully)
            {
                outcome.TrySetResult(done.Result);
            }
            else if (done.IsCanceled)
            {
                try
                {
                    done.GetAwaiter().GetResult();
                }
                catch (OperationCanceledException e)
                {
                    outcome.TrySetCanceled(e.CancellationToken);
                }
            }
            else
            {
                outcome.TrySetException(done.Exception!.InnerExceptions);
            }
        }
    }

    /// <summary>Starts a new event loop thread and returns once it is running.</summary>
    public static EventLoop Start()
    {
        NativeRuntime.EnsureInitialized();
        return new EventLoop(NativeGateway.CreateLoop());
    }

    /// <summary>
    /// Completes when the loop has stopped: successfully once it is disposed, or faulted with
    /// <see cref="EventLoopFailedException"/> if its native thread failed, in which case all its
    /// work has failed the same way. Owners watch it to learn that a loop died.
    /// </summary>
    public Task Completion => completion.Value;

    private async Task WatchAsync()
    {
        try
        {
            await NativeGateway.WatchAsync(this).ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
            // The orderly end: the loop was disposed.
        }
    }

    /// <summary>Operations and servers of this loop still registered for callbacks (GC handles; for leak tests).</summary>
    internal long LiveCallbackTargets => Interlocked.Read(ref liveCallbackTargets);

    internal void CallbackTargetRegistered() => Interlocked.Increment(ref liveCallbackTargets);

    internal void CallbackTargetUnregistered() => Interlocked.Decrement(ref liveCallbackTargets);

    /// <summary>True once <see cref="Dispose"/> or <see cref="DisposeAsync"/> has been called.</summary>
    public bool IsDisposed => Volatile.Read(ref disposed) != 0;

    /// <summary>
    /// Sends a copy of <paramref name="data"/> through the loop thread and back: a health check
    /// of the queue, the loop and the completion path (for tests).
    /// </summary>
    internal Task<byte[]> EchoAsync(ReadOnlyMemory<byte> data) => NativeGateway.EchoAsync(this, data);

    /// <summary>
    /// Queues a native command for operation <paramref name="post"/> and returns the task its
    /// completion resolves. A command the shim refuses fails synchronously with its exception.
    /// </summary>
    internal unsafe Task<T> PostAsync<T>(NativePost post, PayloadReader<T> readResult, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        cancellationToken.ThrowIfCancellationRequested();
        var operation = new PendingOperation<T>(this, readResult, cancellationToken);
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

        operation.Cancellation.Arm(this, tag, cancellationToken);
        return operation.Task;
    }

    /// <summary>Asks the loop to cancel a pending operation (a no-op once it has completed).</summary>
    internal void CancelOperation(ulong tag)
    {
        if (IsDisposed)
        {
            return;
        }

        try
        {
            // A refusal means the loop is stopping, and then the operation fails DISPOSED anyway.
            NativeGateway.CancelOperation(handle, tag);
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>
    /// Makes a capability served by <paramref name="server"/> through this loop: remote and local
    /// callers reach it through the engine (in E-order), and its release hook runs when the last
    /// reference anywhere is dropped. Any other <see cref="ICallTarget"/> is served by forwarding.
    /// </summary>
    public NativeCapability CreateCapability(ICallTarget server)
    {
        ArgumentNullException.ThrowIfNull(server);
        switch (server)
        {
            case NativeCapability native when native.Loop == this:
                return native.Duplicate();
            case LocalServerReference local:
                return CreateCapability(local.Server);
        }

        var served = server as CapabilityServer ?? new ForwardingServer(server);
        return Export(served);
    }

    /// <summary>
    /// Like <see cref="CreateCapability(ICallTarget)"/>, but takes over the caller's reference
    /// (what <see cref="IRestorer.RestoreAsync"/> returns): a capability of this loop is returned
    /// as it is (not duplicated), a server object is exported, and
    /// any other target is served by forwarding and disposed when released.
    /// </summary>
    internal NativeCapability Adopt(ICallTarget target)
    {
        ArgumentNullException.ThrowIfNull(target);
        return target switch
        {
            NativeCapability native when native.Loop == this => native,
            LocalServerReference local => Export(local.Server),
            CapabilityServer server => Export(server),
            _ => Export(new ForwardingServer(target)),
        };
    }

    private NativeCapability Export(CapabilityServer server)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        var dispatcher = new ServerDispatcher(this, server);
        var streaming = server.StreamingMethodKeys;
        var keys = new ulong[streaming.Count * 2];
        for (var i = 0; i < streaming.Count; i++)
        {
            keys[2 * i] = streaming[i].InterfaceId;
            keys[2 * i + 1] = streaming[i].MethodId;
        }

        var tag = dispatcher.Register();
        CapHandle cap;
        try
        {
            cap = NativeGateway.CreateServer(handle, tag, keys);
        }
        catch
        {
            dispatcher.Unregister();
            throw;
        }

        ServerExports.Exported(server);
        return new NativeCapability(this, cap);
    }

    /// <summary>The native loop, for the gateway; <see cref="ObjectDisposedException"/> once this loop is disposed.</summary>
    internal LoopHandle LiveHandle
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsDisposed, this);
            return handle;
        }
    }

    /// <summary>Where the library's own reports about this loop's work go (the vat's logger; nowhere until routed).</summary>
    internal Microsoft.Extensions.Logging.ILogger Logger { get; private set; } = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    /// <summary>
    /// Sends what the engine logs on this loop's thread to <paramref name="logger"/> (rate-limited)
    /// instead of standard error. Once per loop.
    /// </summary>
    internal void RouteLogTo(Microsoft.Extensions.Logging.ILogger logger)
    {
        if (Interlocked.CompareExchange(ref logRouted, 1, 0) != 0)
        {
            throw new InvalidOperationException("This loop's log is already routed.");
        }

        Logger = logger;
        // The shim completes the tag one last time when the loop stops; the router then unregisters.
        var router = new LogRouter(this, logger);
        var tag = router.Register();
        try
        {
            NativeGateway.RouteLog(LiveHandle, tag);
        }
        catch
        {
            router.Unregister();
            throw;
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
