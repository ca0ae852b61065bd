using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Capnp.Native.Serialization;
using Microsoft.Extensions.Logging;

namespace Capnp.Native.Rpc;

/// <summary>
/// The managed side of one native server (one export of a <see cref="CapabilityServer"/>):
/// receives its incoming calls, cancellations and final release from the loop thread, and runs
/// the server's methods on the thread pool (or, when the server opts in with
/// <see cref="CapabilityServer.RunsOnEventLoopThread"/>, on the loop thread as they arrive).
/// Calls are started in the order they arrived (E-order) by one drain at a time; their
/// asynchronous parts then run concurrently.
/// </summary>
internal sealed class ServerDispatcher : CallbackTarget
{
    private readonly EventLoop loop;
    private readonly ConcurrentQueue<IncomingCall> arrivals = new();
    // The cancellation of each running call, for the engine's CallCancelled events. A plain
    // dictionary under its own lock: a concurrent one allocates a node per call.
    private readonly Dictionary<NativeCall, CancellationTokenSource> running = new();
    private ServerCallContext? lastPeerContext;
    private int draining;

    public ServerDispatcher(EventLoop loop, CapabilityServer server)
        : base(loop)
    {
        this.loop = loop;
        Server = server;
    }

    public CapabilityServer Server { get; }

    /// <summary>The dispatcher behind a server tag the shim reported (loop thread, while the server lives).</summary>
    public static ServerDispatcher? FromTag(ulong tag) => GCHandle.FromIntPtr((nint)tag).Target as ServerDispatcher;

    protected override void OnCallback(NativeCompletion completion)
    {
        switch (completion.Event)
        {
            case NativeEvent.IncomingCall:
                Arrive(completion.ReadIncomingCall());
                break;
            case NativeEvent.CallCancelled:
                CancellationTokenSource? cancellation;
                lock (running)
                {
                    running.TryGetValue(completion.ReadCancelledCall(), out cancellation);
                }

                if (cancellation is not null)
                {
                    // Cancel runs the handler's callbacks: never on the loop thread.
                    ThreadPool.UnsafeQueueUserWorkItem(static s => CancelRunningCall(s.cancellation, s.Logger), (cancellation, loop.Logger), preferLocal: false);
                }

                break;
            case NativeEvent.ServerReleased:
                Unregister();
                ServerExports.Released(Server, loop.Logger);
                break;
        }
    }

    private void Arrive(IncomingCallEvent call)
    {
        MessageReader parameters;
        IDisposable? nativeMemory;
        try
        {
            parameters = call.AdoptParameters(loop, out var memory);
            nativeMemory = memory;
        }
        catch (Exception e)
        {
            NativeGateway.FailCall(call.Call, RpcExceptionType.Failed, e.Message);
            return;
        }

        var cancellation = new CancellationTokenSource();
        lock (running)
        {
            running[call.Call] = cancellation;
        }

        var incoming = new IncomingCall(call.Call, call.InterfaceId, call.MethodId, parameters, nativeMemory, ContextOf(call), cancellation);
        if (Server.MethodsRunOnLoopThread)
        {
            // The server asked for it: start the method here, on the loop thread, in arrival order.
            Start(incoming);
            return;
        }

        arrivals.Enqueue(incoming);
        if (Interlocked.Exchange(ref draining, 1) == 0)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static d => d.Drain(), this, preferLocal: false);
        }
    }

    // Loop thread. Consecutive calls from one authenticated peer share a context.
    private ServerCallContext ContextOf(IncomingCallEvent call)
    {
        switch (call.Caller)
        {
            case 1:
                return ServerCallContext.FromAnonymousPeer;
            case 2:
                var fingerprint = call.CallerFingerprint[..PeerDigest.Sha256Length];
                var last = lastPeerContext;
                if (last?.PeerDigest is not { } digest || !digest.Sha256.Span.SequenceEqual(fingerprint))
                {
                    last = new ServerCallContext(CallOrigin.AuthenticatedPeer, PeerDigest.FromSha256(fingerprint));
                    lastPeerContext = last;
                }

                return last;
            default:
                return ServerCallContext.UnknownOrigin;
        }
    }

    // Runs on the thread pool, so nothing may escape: an exception there ends the process.
    internal static void CancelRunningCall(CancellationTokenSource cancellation, ILogger logger)
    {
        try
        {
            cancellation.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The method completed (and its source was disposed) before the cancellation ran.
        }
        catch (AggregateException e)
        {
            // Callbacks the method registered on its token threw; the call ends as cancelled anyway.
            logger.LogError(e, "{Count} cancellation callback(s) of a server method threw", e.InnerExceptions.Count);
        }
    }

    private void Drain()
    {
        while (true)
        {
            while (arrivals.TryDequeue(out var call))
            {
                Start(call);
            }

            // A full fence, not a release store: the emptiness check below must not be answered
            // before the reset is visible, or an arrival that saw `draining` still set and this
            // check that saw the queue still empty both pass, and the call waits for the next
            // arrival (seen as a call stuck under load until another call came in).
            Interlocked.Exchange(ref draining, 0);
            // A call that arrived after the last dequeue but before the reset needs a drain too.
            if (arrivals.IsEmpty || Interlocked.Exchange(ref draining, 1) != 0)
            {
                return;
            }
        }
    }

    private void Start(IncomingCall call)
    {
        var cancellation = call.Cancellation;
        var results = new MessageBuilder();
        Task work;
        try
        {
            // Runs the method's synchronous part now, in arrival order; the method's awaits
            // carry the context on.
            Server.CallStarting();
            var previous = ServerCallContext.Enter(call.Context);
            try
            {
                work = Server.InvokeAsync(call.InterfaceId, call.MethodId, call.Parameters, results, cancellation.Token);
            }
            finally
            {
                ServerCallContext.Enter(previous);
            }
        }
        catch (Exception e)
        {
            work = Task.FromException(e);
        }

        if (work.IsCompleted)
        {
            Answer(call, work, results);
        }
        else
        {
            work.ContinueWith(
                (done, state) => Answer((IncomingCall)state!, done, results),
                call, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    private void Answer(IncomingCall incoming, Task work, MessageBuilder results)
    {
        try
        {
            AnswerCall(incoming, work, results);
        }
        finally
        {
            Server.CallAnswered();
        }
    }

    private void AnswerCall(IncomingCall incoming, Task work, MessageBuilder results)
    {
        // As in C++, parameters live until the method completes: large ones are freed now rather
        // than when the garbage collector finds them (a later read throws ObjectDisposedException).
        IncomingMessage.ReleaseCapabilities(incoming.Parameters);
        incoming.NativeMemory?.Dispose();
        lock (running)
        {
            running.Remove(incoming.Call);
        }

        incoming.Cancellation.Dispose();
        if (work.IsCompletedSuccessfully)
        {
            NativeGateway.ReturnResults(loop, incoming.Call, results);
            return;
        }

        results.Dispose();
        var (kind, message) = Describe(work.Exception?.InnerException ?? new OperationCanceledException());
        NativeGateway.FailCall(incoming.Call, kind, message);
    }

    private static (RpcExceptionType Kind, string Message) Describe(Exception exception) => exception switch
    {
        RpcException rpc => (rpc.Type, rpc.Message),
        OperationCanceledException => (RpcExceptionType.Failed, "the call was cancelled"),
        _ => (RpcExceptionType.Failed, exception.Message),
    };

    private sealed record IncomingCall(NativeCall Call, ulong InterfaceId, ushort MethodId, MessageReader Parameters, IDisposable? NativeMemory, ServerCallContext Context, CancellationTokenSource Cancellation);
}
