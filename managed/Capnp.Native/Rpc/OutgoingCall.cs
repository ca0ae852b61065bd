using Capnp.Native.Interop;
using Capnp.Native.Rpc.Generated;
using Capnp.Native.Serialization;

namespace Capnp.Native.Rpc;

/// <summary>
/// One call sent through the engine: its pinned parameters, its pipeline while the answer is
/// pending, its cancellation, and the task its completion resolves. The shim completes it exactly
/// once (results, failure, CANCELLED, or DISPOSED when the loop stops first). Small parameters
/// are freed then; large ones are lent (<see cref="LentMessage"/>) and freed when the shim's lease
/// on them ends.
/// </summary>
internal sealed class OutgoingCall : CallbackTarget
{
    // Parameters this large may hold a blob the shim sends by reference (it references blobs of
    // 64 KiB and more): they are lent, and live until the shim's lease ends, not the call.
    private const long LendParametersBytes = 64 * 1024;

    private readonly NativeCapability target;
    private readonly OutgoingMessage parameters;
    private readonly LentMessage? lentParameters;
    private bool leaseRegistered;
    private readonly CancellationToken cancellationToken;
    // Cancels the call's tag only while it is pending (the tag may be reused once it completes);
    // none for a token that cannot be cancelled.
    private readonly CancellationLink? cancellation;
    // The answer, once in. The task is made only for code that asks for it (Task): an awaited
    // generated answer hears of it through its listener, so most calls never make one. Guarded
    // by `this` (the call is internal: nothing else locks it), as are the fields below.
    private MessageReader? answerResults;
    private Exception? answerFailure;
    private TaskCompletionSource<MessageReader?>? answerTask;
    private PipelineHandle? pipeline;
    private IDisposable? results;
    private bool completed;
    private bool answered;
    private IAnswerListener? listener;

    public OutgoingCall(NativeCapability target, MessageBuilder parameters, CancellationToken cancellationToken)
        : base(target.Loop)
    {
        this.target = target;
        this.cancellationToken = cancellationToken;
        if (cancellationToken.CanBeCanceled)
        {
            cancellation = new CancellationLink();
        }

        this.parameters = new OutgoingMessage(target.Loop, parameters);
        if (parameters.SizeInWords * 8 >= LendParametersBytes)
        {
            lentParameters = new LentMessage(target.Loop, this.parameters);
        }
    }

    /// <summary>The results (null for a streaming call).</summary>
    public Task<MessageReader?> Task
    {
        get
        {
            TaskCompletionSource<MessageReader?> task;
            lock (this)
            {
                if (answerTask is { } made)
                {
                    return made.Task;
                }

                task = answerTask = new TaskCompletionSource<MessageReader?>(TaskCreationOptions.RunContinuationsAsynchronously);
                if (!answered)
                {
                    return task.Task;
                }
            }

            Complete(task, answerResults, answerFailure);
            return task.Task;
        }
    }

    /// <summary>
    /// Posts the call, with a pipeline for its results when <paramref name="pipelined"/>; throws
    /// (and cleans up) if the shim refuses it.
    /// </summary>
    public void Send(ulong interfaceId, ushort methodId, bool streaming, bool pipelined)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var tag = Register();
        int status;
        PipelineHandle? created;
        try
        {
            ulong leaseTag = 0;
            if (lentParameters is not null)
            {
                leaseTag = lentParameters.Register();
                leaseRegistered = true;
            }

            status = NativeGateway.SendCall(target.LiveHandle, parameters, interfaceId, methodId, streaming, tag, leaseTag, pipelined, out created);
        }
        catch
        {
            Abandon();
            throw;
        }

        if (status != 0)
        {
            Abandon();
            NativeStatus.ThrowIfFailed(status);
        }

        cancellation?.Arm(target.Loop, tag, cancellationToken);
        if (created is not null)
        {
            AttachPipeline(created);
        }
    }

    /// <summary>Keeps the pipeline until the answer arrives (then the engine may send Finish).</summary>
    private void AttachPipeline(PipelineHandle handle)
    {
        lock (this)
        {
            if (completed)
            {
                handle.Dispose();
            }
            else
            {
                pipeline = handle;
            }
        }
    }

    /// <summary>A capability from the results, pipelined if they have not arrived, else read from them.</summary>
    public ICallTarget? TryGetPipelinedCapability(ReadOnlySpan<ushort> pointerPath)
    {
        lock (this)
        {
            if (pipeline is null)
            {
                return null;
            }

            return new NativeCapability(target.Loop, NativeGateway.GetPipelinedCapability(pipeline, pointerPath));
        }
    }

    protected override void OnCallback(NativeCompletion completion)
    {
        cancellation?.Complete();
        Unregister();
        lock (this)
        {
            completed = true;
            pipeline?.Dispose();
            pipeline = null;
        }

        MessageReader? reader = null;
        Exception? failure = null;
        try
        {
            if (lentParameters is null)
            {
                parameters.Dispose();
            }

            if (completion.Succeeded)
            {
                if (!completion.IsEmpty)
                {
                    reader = completion.AdoptResults(target.Loop, out var nativeMemory);
                    results = nativeMemory;
                }
            }
            else if (completion.Cancelled)
            {
                failure = new OperationCanceledException(cancellationToken);
            }
            else
            {
                failure = completion.ToException();
            }
        }
        catch (Exception e)
        {
            failure = e;
        }

        IAnswerListener? waiting;
        TaskCompletionSource<MessageReader?>? task;
        lock (this)
        {
            answerResults = reader;
            answerFailure = failure;
            answered = true;
            task = answerTask;
            waiting = listener;
            listener = null;
        }

        if (task is not null)
        {
            Complete(task, reader, failure);
        }

        waiting?.Answered(reader, failure);
    }

    private static void Complete(TaskCompletionSource<MessageReader?> task, MessageReader? reader, Exception? failure)
    {
        switch (failure)
        {
            case null:
                task.TrySetResult(reader);
                break;
            case OperationCanceledException cancelled:
                task.TrySetCanceled(cancelled.CancellationToken);
                break;
            default:
                task.TrySetException(failure);
                break;
        }
    }

    /// <summary>
    /// Tells <paramref name="waiting"/> once the answer is in: on the loop thread as it is delivered,
    /// or at once if it is in already. One listener per call.
    /// </summary>
    public void NotifyWhenAnswered(IAnswerListener waiting)
    {
        lock (this)
        {
            if (!answered)
            {
                listener = listener is null ? waiting : throw new InvalidOperationException("The call has a listener already.");
                return;
            }
        }

        waiting.Answered(answerResults, answerFailure);
    }

    /// <summary>Frees the results' native memory and capability references now.</summary>
    public void ReleaseResults()
    {
        MessageReader? reader;
        lock (this)
        {
            reader = answered ? answerResults : null;
        }

        if (reader is not null)
        {
            IncomingMessage.ReleaseCapabilities(reader);
        }

        results?.Dispose();
    }

    // The shim refused the call: neither tag will complete, the parameters are ours again.
    private void Abandon()
    {
        Unregister();
        if (leaseRegistered)
        {
            lentParameters!.Unregister();
        }

        parameters.Dispose();
    }
}

/// <summary>The answer of a call through the engine: pipelined capabilities are requested from the engine.</summary>
internal sealed class NativeAnswer : PromisedAnswer
{
    private readonly OutgoingCall call;

    public NativeAnswer(OutgoingCall call)
    {
        this.call = call;
    }

    // Made only when asked for (pipelining from the results, ICallTarget.CallAsync): an awaited
    // answer is delivered through NotifyWhenAnswered, without this task's thread-pool hop.
    private protected override Task<MessageReader> CreateResult() => ResultsOf(call.Task);

    internal override void NotifyWhenAnswered(IAnswerListener listener) => call.NotifyWhenAnswered(listener);

    public override ICallTarget GetPipelinedCapability(ReadOnlyMemory<ushort> pointerPath)
    {
        if (call.TryGetPipelinedCapability(pointerPath.Span) is { } pipelined)
        {
            return pipelined;
        }

        // The answer is in: read the capability from it (a reference of the caller's own). One of
        // our own servers is called in process, directly, so calls keep their order.
        if (Result.IsCompletedSuccessfully)
        {
            switch (ResolveCapability(Result.Result, pointerPath.Span))
            {
                case NativeCapability native:
                    return native.Duplicate();
                case LocalServerReference local:
                    return local;
            }
        }

        return base.GetPipelinedCapability(pointerPath);
    }

    internal override void ReleaseResults() => call.ReleaseResults();

    private static async Task<MessageReader> ResultsOf(Task<MessageReader?> results)
        => await results.ConfigureAwait(false) ?? throw new RpcFailedException("the call returned no results");
}
