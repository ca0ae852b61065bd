using System.ComponentModel;
using Capnp.Native.Serialization;

namespace Capnp.Native.Rpc.Generated;

/// <summary>
/// The answer to a call that may not have arrived yet, as generated promises and pipelines use
/// it; application code uses the generated <c>Promise</c> types instead. The base implementation
/// pipelines locally: a pipelined capability waits for the answer, then forwards calls to the
/// capability found at the path. Answers of calls through the engine pipeline in the engine (one
/// network round trip for a chain of calls).
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public class PromisedAnswer
{
    private Task<MessageReader>? result;

    internal PromisedAnswer(Task<MessageReader> result)
    {
        this.result = result;
    }

    /// <summary>For answers that make <see cref="Result"/> only when something asks for it (<see cref="CreateResult"/>).</summary>
    private protected PromisedAnswer()
    {
    }

    /// <summary>Completes with the results message.</summary>
    internal Task<MessageReader> Result
    {
        get
        {
            if (result is null)
            {
                Interlocked.CompareExchange(ref result, CreateResult(), null);
            }

            return result;
        }
    }

    /// <summary>Makes <see cref="Result"/> on first use (answers built with the parameterless constructor).</summary>
    private protected virtual Task<MessageReader> CreateResult()
        => throw new InvalidOperationException("This answer was built without its result.");

    /// <summary>
    /// Tells <paramref name="listener"/> once the answer is in (at once if it is). This one does so
    /// from a continuation of <see cref="Result"/>; answers through the engine do so on the loop
    /// thread as the answer is delivered, without a hand-off.
    /// </summary>
    internal virtual void NotifyWhenAnswered(IAnswerListener listener)
        => Result.ContinueWith(
            static (done, s) => ((IAnswerListener)s!).Answered(done.IsCompletedSuccessfully ? done.Result : null, FailureOf(done)), listener,
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    // What awaiting the completed task would throw (null when it succeeded).
    private static Exception? FailureOf(Task done)
        => done.IsCanceled ? new TaskCanceledException(done) : done.Exception?.InnerException;

    /// <summary>
    /// A capability inside the results, addressed by pointer indices from the results root (each
    /// but the last names a struct field; the last names the capability field). The caller owns
    /// the returned reference.
    /// </summary>
    public virtual ICallTarget GetPipelinedCapability(ReadOnlyMemory<ushort> pointerPath)
        => new LocalPipelineTarget(this, pointerPath.ToArray());

    /// <summary>
    /// Frees the results now instead of when the garbage collector finds them (as a C++
    /// Response going out of scope): readers of them throw <see cref="ObjectDisposedException"/>
    /// afterwards, and their capability references are released. Does nothing for answers whose
    /// results live in managed memory.
    /// </summary>
    internal virtual void ReleaseResults()
    {
    }

    /// <summary>A pointer path extended by one more pointer index (for nested pipelines).</summary>
    public static ushort[] Extend(ushort[] path, ushort index)
    {
        ArgumentNullException.ThrowIfNull(path);
        var extended = new ushort[path.Length + 1];
        path.CopyTo(extended, 0);
        extended[^1] = index;
        return extended;
    }

    /// <summary>Resolves a capability inside a results message (null when the field is null).</summary>
    internal static ICallTarget? ResolveCapability(MessageReader results, ReadOnlySpan<ushort> pointerPath)
    {
        var current = results.Root;
        for (var i = 0; i < pointerPath.Length - 1; i++)
        {
            current = current.ReadStruct(pointerPath[i]);
        }

        var index = current.ReadCapabilityIndex(pointerPath[^1]);
        if (index is not uint capIndex || results.CapTable is not { } table || capIndex >= table.Count)
        {
            return null;
        }

        return table[(int)capIndex] as ICallTarget;
    }

    // Calls on a pipelined capability start in the order they were made (E-order): each waits
    // until the previous one has started, then for the answer.
    private sealed class LocalPipelineTarget(PromisedAnswer answer, ushort[] path) : ICallTarget, IDisposable, IBreakableTarget
    {
        private readonly object gate = new();
        private Task previousStarted = Task.CompletedTask;

        public Task<MessageReader> CallAsync(ulong interfaceId, ushort methodId, MessageBuilder parameters, CancellationToken cancellationToken)
        {
            // Continuations run synchronously, so the next call starts right after this one.
            var started = new TaskCompletionSource();
            Task before;
            lock (gate)
            {
                before = previousStarted;
                previousStarted = started.Task;
            }

            return CallInOrderAsync(before, started, interfaceId, methodId, parameters, cancellationToken);
        }

        public void Dispose()
        {
        }

        public async Task<RpcException> WhenBrokenAsync(CancellationToken cancellationToken = default)
        {
            ICallTarget? target;
            try
            {
                var results = await answer.Result.WaitAsync(cancellationToken).ConfigureAwait(false);
                target = ResolveCapability(results, path);
            }
            catch (RpcException reason)
            {
                return reason;
            }
            catch (Exception failure) when (failure is not OperationCanceledException)
            {
                return new RpcFailedException(failure.Message, failure);
            }

            return target switch
            {
                null => new RpcFailedException("The pipelined capability is null in the results."),
                IBreakableTarget breakable => await breakable.WhenBrokenAsync(cancellationToken).ConfigureAwait(false),
                _ => await CapabilityClient.NeverBrokenAsync(cancellationToken).ConfigureAwait(false),
            };
        }

        private async Task<MessageReader> CallInOrderAsync(Task before, TaskCompletionSource started, ulong interfaceId, ushort methodId, MessageBuilder parameters, CancellationToken cancellationToken)
        {
            Task<MessageReader> call;
            try
            {
                await before.ConfigureAwait(false);
                var results = await answer.Result.ConfigureAwait(false);
                var target = ResolveCapability(results, path)
                    ?? throw new RpcFailedException("The pipelined capability is null in the results.");
                call = target.CallAsync(interfaceId, methodId, parameters, cancellationToken);
            }
            finally
            {
                started.TrySetResult();
            }

            return await call.ConfigureAwait(false);
        }
    }
}

/// <summary>Learns that an answer is in: <see cref="PromisedAnswer.NotifyWhenAnswered"/>.</summary>
internal interface IAnswerListener
{
    /// <summary>
    /// The answer is in: <paramref name="results"/> when it succeeded (null for a call that
    /// returned none), else <paramref name="failure"/>, what awaiting the call throws (an
    /// <see cref="OperationCanceledException"/> when it was cancelled). May run on a loop thread:
    /// it must be quick and never run user code there.
    /// </summary>
    void Answered(MessageReader? results, Exception? failure);
}
