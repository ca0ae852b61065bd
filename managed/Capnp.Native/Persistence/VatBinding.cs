using Capnp.Native.Rpc;

namespace Capnp.Native.Persistence;

/// <summary>The vat a restorer serves, set once by <see cref="Vat.StartAsync"/>; requests that come earlier wait for it.</summary>
internal sealed class VatBinding
{
    private readonly TaskCompletionSource<Vat> attached = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public bool IsAttached => attached.Task.IsCompleted;

    /// <summary>The vat, or null before it is attached.</summary>
    public Vat? Vat => attached.Task.IsCompletedSuccessfully ? attached.Task.Result : null;

    public void Attach(Vat vat)
    {
        ArgumentNullException.ThrowIfNull(vat);
        if (!attached.TrySetResult(vat))
        {
            throw new InvalidOperationException("The restorer already serves another vat; give each vat its own.");
        }
    }

    public Task<Vat> WaitAsync(CancellationToken cancellationToken) => attached.Task.WaitAsync(cancellationToken);

    public Vat Required => Vat ?? throw new InvalidOperationException(
        "The restorer is not serving a vat yet: pass it as VatOptions.Restorer to Vat.StartAsync first.");

    /// <summary>
    /// A new reference to <paramref name="service"/> that a caller may own and dispose
    /// independently: a server object is itself (each export counts), a capability is duplicated.
    /// </summary>
    public static ICallTarget NewReference(ICallTarget service) => service switch
    {
        NativeCapability native => native.Duplicate(),
        CapabilityServer => service,
        LocalServerReference local => local.Server,
        _ => throw new ArgumentException(
            $"A restorer holds server objects or capabilities, not {service.GetType()}.", nameof(service)),
    };
}
