using Capnp.Native.Rpc;
using Interop;

namespace Capnp.Native.Persistence.Tests;

/// <summary>A persistent test service: answers <c>label + value</c>; its stored data is its label.</summary>
internal sealed class LabelService(string label) : Callback.Server
{
    public override Task CallAsync(Callback.CallParams.Reader parameters, Callback.CallResults.Builder results, CancellationToken cancellationToken)
    {
        results.Reply = label + parameters.Value;
        return Task.CompletedTask;
    }

    /// <summary>A table restoring label services from <paramref name="store"/>, each answering Persistent.save.</summary>
    public static RestorerTable Table(IServiceStore store) => RestorerTable.FromStore(store,
        (sturdyRef, data, _) => ValueTask.FromResult<ICallTarget>(
            SturdyRefs.WithSturdyRef(sturdyRef, new LabelService(System.Text.Encoding.UTF8.GetString(data.Span)))));
}
