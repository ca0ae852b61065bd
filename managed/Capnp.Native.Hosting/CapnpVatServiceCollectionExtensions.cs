using Capnp.Native.Hosting;
using Microsoft.Extensions.Configuration;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds a Cap'n Proto vat to a host's services.</summary>
public static class CapnpVatServiceCollectionExtensions
{
    /// <summary>
    /// Adds a vat that the host starts and stops (a hosted service), <see cref="VatHost"/> (a
    /// singleton) to reach it, and <see cref="VatHostOptions"/> set by <paramref name="configure"/>.
    /// The vat logs to the host's logging (category <c>Capnp.Native.Vat</c>; the hosting itself
    /// under <c>Capnp.Native.Hosting.VatHost</c>). Say what it serves on the returned builder.
    /// One vat per service collection.
    /// </summary>
    /// <exception cref="InvalidOperationException">A vat was added already.</exception>
    public static CapnpVatBuilder AddCapnpVat(this IServiceCollection services, Action<VatHostOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        if (services.Any(service => service.ServiceType == typeof(VatHost)))
        {
            throw new InvalidOperationException("A Cap'n Proto vat was added to these services already (one vat per host).");
        }

        var registration = new VatRegistration();
        var options = services.AddOptions<VatHostOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.AddSingleton(new VatHost());
        services.AddSingleton(registration);
        services.AddHostedService<VatHostedService>();
        return new CapnpVatBuilder(services, registration);
    }

    /// <summary>
    /// Like <see cref="AddCapnpVat(IServiceCollection, Action{VatHostOptions}?)"/>, with the
    /// options first bound from <paramref name="configuration"/> (e.g.
    /// <c>builder.Configuration.GetSection("Capnp")</c>; see
    /// <see cref="VatHostOptions.BindConfiguration"/>), then set by <paramref name="configure"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">A vat was added already.</exception>
    public static CapnpVatBuilder AddCapnpVat(this IServiceCollection services, IConfiguration configuration, Action<VatHostOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return services.AddCapnpVat(options =>
        {
            options.BindConfiguration(configuration);
            configure?.Invoke(options);
        });
    }
}
