using Capnp.Native.Rpc;
using Microsoft.Extensions.DependencyInjection;

namespace Capnp.Native.Hosting;

/// <summary>
/// Says what the hosted vat serves, from dependency injection; returned by <c>AddCapnpVat</c>.
/// The services are resolved when the host starts the vat.
/// </summary>
public sealed class CapnpVatBuilder
{
    private readonly VatRegistration registration;

    internal CapnpVatBuilder(IServiceCollection services, VatRegistration registration)
    {
        Services = services;
        this.registration = registration;
    }

    /// <summary>The service collection the vat was added to.</summary>
    public IServiceCollection Services { get; }

    /// <summary>
    /// Serves <typeparamref name="TServer"/> (a generated <c>X.Server</c> subclass, registered in
    /// the container, usually as a singleton) as the vat's bootstrap: what peers get for the
    /// vat's plain sturdy ref. The container owns it: the vat never runs its release hook.
    /// </summary>
    /// <exception cref="InvalidOperationException">A bootstrap service was set already.</exception>
    public CapnpVatBuilder WithBootstrap<TServer>()
        where TServer : CapabilityServer
        => WithBootstrap(static services => services.GetRequiredService<TServer>());

    /// <summary>
    /// Serves the server <paramref name="factory"/> returns (called once, when the host starts the
    /// vat) as the vat's bootstrap. The vat does not run its release hook: dispose it yourself if
    /// it needs that (e.g. return a server the container owns).
    /// </summary>
    /// <exception cref="InvalidOperationException">A bootstrap service was set already.</exception>
    public CapnpVatBuilder WithBootstrap(Func<IServiceProvider, CapabilityServer> factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        if (registration.Bootstrap is not null)
        {
            throw new InvalidOperationException("The vat's bootstrap service was set already.");
        }

        registration.Bootstrap = factory;
        return this;
    }

    /// <summary>
    /// Answers sturdy refs with a service ID (<c>capnp://…/ID</c>) with <typeparamref name="TRestorer"/>,
    /// registered in the container (e.g. a <c>RestorerTable</c> or <c>SingleRestorer</c>; it binds
    /// to this vat as with <see cref="VatOptions.Restorer"/>). The container owns it.
    /// </summary>
    /// <exception cref="InvalidOperationException">A restorer was set already.</exception>
    public CapnpVatBuilder WithRestorer<TRestorer>()
        where TRestorer : class, IRestorer
        => WithRestorer(static services => services.GetRequiredService<TRestorer>());

    /// <summary>Answers sturdy refs with a service ID with the restorer <paramref name="factory"/> returns (called once, when the host starts the vat).</summary>
    /// <exception cref="InvalidOperationException">A restorer was set already.</exception>
    public CapnpVatBuilder WithRestorer(Func<IServiceProvider, IRestorer> factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        if (registration.Restorer is not null)
        {
            throw new InvalidOperationException("The vat's restorer was set already.");
        }

        registration.Restorer = factory;
        return this;
    }
}

/// <summary>What the builder was told to serve.</summary>
internal sealed class VatRegistration
{
    public Func<IServiceProvider, CapabilityServer>? Bootstrap { get; set; }

    public Func<IServiceProvider, IRestorer>? Restorer { get; set; }
}
