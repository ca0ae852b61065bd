using Api;
using Capnp.Native;
using Capnp.Native.Persistence;
using Capnp.Native.Rpc;

/// <summary>
/// A logger that prints each message with its label, and makes sub-loggers whose label extends
/// its own. Each sub-logger gets a new random ID in the vat's table, so it has a sturdy ref.
/// </summary>
internal sealed class LoggerService(RestorerTable services, string label) : Logger.Server
{
    /// <summary>
    /// A logger that also answers <c>Persistent.save</c> with <paramref name="sturdyRef"/>
    /// (the seed's <c>Persistence.with_sturdy_ref</c>).
    /// </summary>
    public static CapabilityServer Create(RestorerTable services, SturdyRef sturdyRef, string label)
        => SturdyRefs.WithSturdyRef(sturdyRef, new LoggerService(services, label));

    public override Task LogAsync(Logger.LogParams.Reader parameters, Logger.LogResults.Builder results, CancellationToken cancellationToken)
    {
        Console.WriteLine($"[server] \"{label}\" says \"{parameters.Msg}\"");
        return Task.CompletedTask;
    }

    public override Task SubAsync(Logger.SubParams.Reader parameters, Logger.SubResults.Builder results, CancellationToken cancellationToken)
    {
        var id = ServiceId.Random();
        var sub = Create(services, services.GetSturdyRef(id), $"{label}/{parameters.Label}");
        // The table owns the sub-logger from now on: it stays reachable by its sturdy ref while
        // the server runs, even after every live reference is gone. The results take a reference
        // of their own.
        services.Add(id, sub);
        using var client = Logger.Client.Create(sub);
        results.Logger = client;
        return Task.CompletedTask;
    }
}
