using Capnp.Native.Rpc;
using Capnp.Native.Serialization;

namespace Capnp.Native.Persistence;

/// <summary>
/// The Persistence API (<see cref="Persistent"/>, interface <c>0xc8cb212fcd9f5691</c>), the seed's
/// <c>Persistence</c> module: a service made with <see cref="WithSturdyRef"/> answers
/// <c>save</c> with its sturdy ref, and <see cref="SaveAsync"/> asks any capability for its
/// sturdy ref. The sturdy ref travels as its <c>capnp://</c> URI in Text, as the OCaml vats send it.
/// A service that does not implement the interface answers Unimplemented.
/// </summary>
public static class SturdyRefs
{
    /// <summary>
    /// <paramref name="service"/>, answering <c>Persistent.save</c> with <paramref name="sturdyRef"/>
    /// as well as its own methods. The returned server owns <paramref name="service"/>: its release
    /// hook runs the service's.
    /// </summary>
    public static CapabilityServer WithSturdyRef(SturdyRef sturdyRef, CapabilityServer service)
    {
        ArgumentNullException.ThrowIfNull(sturdyRef);
        ArgumentNullException.ThrowIfNull(service);
        return new PersistentService(sturdyRef, service);
    }

    /// <summary>
    /// Asks <paramref name="capability"/> for its sturdy ref (<c>Persistent.save</c>), to store or
    /// hand on (it holds a secret ID: log it only redacted).
    /// </summary>
    /// <exception cref="RpcUnimplementedException">The service does not implement the Persistence API.</exception>
    /// <exception cref="SturdyRefFormatException">The service answered with something that is not a valid <c>capnp://</c> URI.</exception>
    public static async Task<SturdyRef> SaveAsync(this CapabilityClient capability, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(capability);
        var request = new MessageBuilder();
        request.InitRoot<Persistent.SaveParams.Builder>();
        var answer = await capability.Target.CallAsync(Persistent.InterfaceId, 0, request, cancellationToken).ConfigureAwait(false);
        string uri;
        try
        {
            var results = answer.GetRoot<Persistent.SaveResults.Reader>();
            uri = results.HasSturdyRef ? results.Raw.ReadText(0) : "";
        }
        catch (Exception e)
        {
            throw new SturdyRefFormatException(SturdyRefProblem.Empty, "The service's save answer does not hold the sturdy ref as Text.", e);
        }

        return SturdyRef.Parse(uri);
    }

    private sealed class PersistentService(SturdyRef sturdyRef, CapabilityServer service) : CapabilityServer
    {
        protected override IReadOnlyList<(ulong InterfaceId, ushort MethodId)> StreamingMethods => service.StreamingMethodKeys;

        protected override Task DispatchAsync(ulong interfaceId, ushort methodId, MessageReader parameters, MessageBuilder results, CancellationToken cancellationToken)
        {
            if (interfaceId == Persistent.InterfaceId && methodId == 0)
            {
                var root = results.InitRoot<Persistent.SaveResults.Builder>();
                root.Raw.WriteText(0, sturdyRef.ToString());
                return Task.CompletedTask;
            }

            return service.InvokeAsync(interfaceId, methodId, parameters, results, cancellationToken);
        }

        // A failure of the wrapped hook is reported by whoever runs this one (with the vat's logger).
        protected override ValueTask OnReleasedAsync() => service.RunReleaseHookAsync();
    }
}
