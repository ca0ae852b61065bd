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
public abstract class RemoteAnswer<TReader> : IDisposable where TReader : struct, IStructReader<TReader>
{
    private readonly PromisedAnswer answer;
    private readonly Task<TReader> results;

    /// <summary>Wraps a promised answer (generated promises call it).</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected RemoteAnswer(PromisedAnswer answer)
    {
        this.answer = answer;
        results = ReadAsync(answer.Result);
    }

    /// <summary>The results as a task (e.g. for <see cref="Task.WhenAll(Task[])"/>); awaiting the answer itself is the same.</summary>
    public Task<TReader> AsTask() => results;

    /// <summary>Makes the answer awaitable.</summary>
    public TaskAwaiter<TReader> GetAwaiter() => results.GetAwaiter();

    /// <summary>Frees the results now; readers of them throw <see cref="ObjectDisposedException"/> afterwards.</summary>
    public void Dispose() => answer.ReleaseResults();

    private static async Task<TReader> ReadAsync(Task<MessageReader> result)
        => (await result.ConfigureAwait(false)).GetRoot<TReader>();
}
