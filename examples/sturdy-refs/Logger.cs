using Api;

/// <summary>A logger that prints each message with its label.</summary>
internal sealed class LoggerService(string label) : Logger.Server
{
    public override Task LogAsync(Logger.LogParams.Reader parameters, Logger.LogResults.Builder results, CancellationToken cancellationToken)
    {
        Console.WriteLine($"[server] \"{label}\" says \"{parameters.Msg}\"");
        return Task.CompletedTask;
    }
}
