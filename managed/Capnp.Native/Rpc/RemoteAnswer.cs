using System.ComponentModel;
using System.Runtime.CompilerServices;
using Capnp.Native.Rpc.Generated;
using Capnp.Native.Serialization;

namespace Capnp.Native.Rpc;

/// <summary>
/// The answer of a call, as the generated <c>XxxAsync</c> methods return it (each results struct
/// derives a <c>Promise</c> from it that offers the results' pipelined capabilities). Await it
/// for the results; dispose it to free them at once (their readers throw
/// <see cref="ObjectDisposedException"/> afterwards):
/// <c>using var answer = client.EchoAsync(data); var results = await answer;</c>
/// </summary>
/// <typeparam name="TReader">The generated reader of the results struct.</typeparam>
public abstract class RemoteAnswer<TReader> : IDisposable, IAnswerListener where TReader : struct, IStructReader<TReader>
{
    private readonly PromisedAnswer answer;
    // Continuations never run where the answer is delivered (a loop thread): they are posted to
    // the awaiting code's synchronization context, or to the thread pool when it has none.
    private readonly TaskCompletionSource<TReader> results = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Wraps a promised answer (generated promises call it).</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected RemoteAnswer(PromisedAnswer answer)
    {
        this.answer = answer;
        answer.NotifyWhenAnswered(this);
    }

    /// <summary>The results as a task (e.g. for <see cref="Task.WhenAll(Task[])"/>); awaiting the answer itself is the same.</summary>
    public Task<TReader> AsTask() => results.Task;

    /// <summary>Makes the answer awaitable.</summary>
    public TaskAwaiter<TReader> GetAwaiter() => results.Task.GetAwaiter();

    /// <summary>Frees the results now; readers of them throw <see cref="ObjectDisposedException"/> afterwards.</summary>
    public void Dispose() => answer.ReleaseResults();

    void IAnswerListener.Answered(MessageReader? reader, Exception? failure)
    {
        switch (failure)
        {
            case OperationCanceledException cancelled:
                results.TrySetCanceled(cancelled.CancellationToken);
                return;
            case not null:
                results.TrySetException(failure);
                return;
        }

        try
        {
            results.TrySetResult((reader ?? throw new RpcFailedException("the call returned no results")).GetRoot<TReader>());
        }
        catch (Exception e)
        {
            results.TrySetException(e);
        }
    }
}
