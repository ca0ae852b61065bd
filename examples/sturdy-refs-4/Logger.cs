using Api;
using Capnp.Native;
using Capnp.Native.Persistence;
using Capnp.Native.Rpc;

/// <summary>Saves a new logger with the label and returns a reference to it (yours to dispose).</summary>
internal delegate Task<Logger.Client> PersistNew(string label, CancellationToken cancellationToken);

/// <summary>
/// A logger that prints each message with its label, and makes sub-loggers whose label extends
/// its own; sub-loggers are saved with <see cref="PersistNew"/>, so they outlive the server process.
/// </summary>
internal sealed class LoggerService(string label, PersistNew persistNew) : Logger.Server
{
    /// <summary>A logger that also answers <c>Persistent.save</c> with <paramref name="sturdyRef"/>.</summary>
    public static CapabilityServer Create(SturdyRef sturdyRef, string label, PersistNew persistNew)
        => SturdyRefs.WithSturdyRef(sturdyRef, new LoggerService(label, persistNew));

    public override Task LogAsync(Logger.LogParams.Reader parameters, Logger.LogResults.Builder results, CancellationToken cancellationToken)
    {
        Console.WriteLine($"[server] \"{label}\" says \"{parameters.Msg}\"");
        return Task.CompletedTask;
    }

    public override async Task SubAsync(Logger.SubParams.Reader parameters, Logger.SubResults.Builder results, CancellationToken cancellationToken)
    {
        // The parameters are valid until this method completes: the label string is ours to keep.
        var subLabel = $"{label}/{parameters.Label}";
        using var logger = await persistNew(subLabel, cancellationToken);
        results.Logger = logger;
    }
}
