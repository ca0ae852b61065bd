using Api;

/// <summary>
/// A logger that prints each message with its label, and makes sub-loggers whose label extends
/// its own ("root" → "root/alice").
/// </summary>
internal sealed class LoggerService(string label) : Logger.Server
{
    public override Task LogAsync(Logger.LogParams.Reader parameters, Logger.LogResults.Builder results, CancellationToken cancellationToken)
    {
        Console.WriteLine($"[server] \"{label}\" says \"{parameters.Msg}\"");
        return Task.CompletedTask;
    }

    public override Task SubAsync(Logger.SubParams.Reader parameters, Logger.SubResults.Builder results, CancellationToken cancellationToken)
    {
        // A new live service: no sturdy ref yet, so it lives only while someone holds a reference.
        // The results take a reference of their own; ours is released by `using`.
        using var sub = Logger.Client.Create(new LoggerService($"{label}/{parameters.Label}"));
        results.Logger = sub;
        return Task.CompletedTask;
    }
}
