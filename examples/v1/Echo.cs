using EchoApi;

/// <summary>The echo service: replies to each ping with its message, prefixed with "echo:".</summary>
internal sealed class EchoService : Echo.Server
{
    public override Task PingAsync(Echo.PingParams.Reader parameters, Echo.PingResults.Builder results, CancellationToken cancellationToken)
    {
        results.Reply = "echo:" + parameters.Msg;
        return Task.CompletedTask;
    }
}
