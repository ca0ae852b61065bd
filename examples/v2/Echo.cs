using Capnp.Native;
using EchoApi;

/// <summary>
/// The echo service: replies to pings, and sends a heartbeat's message to its callback three
/// times, <paramref name="delay"/> apart.
/// </summary>
internal sealed class EchoService(TimeSpan delay) : Echo.Server
{
    public override Task PingAsync(Echo.PingParams.Reader parameters, Echo.PingResults.Builder results, CancellationToken cancellationToken)
    {
        results.Reply = "echo:" + parameters.Msg;
        return Task.CompletedTask;
    }

    public override async Task HeartbeatAsync(Echo.HeartbeatParams.Reader parameters, Echo.HeartbeatResults.Builder results, CancellationToken cancellationToken)
    {
        var msg = parameters.Msg;
        // Every parameter is optional in Cap'n Proto: a client may send no callback. Reading a
        // capability gives us a reference of our own, released by `using`.
        using var callback = parameters.GetCallback() ?? throw new RpcFailedException("No callback parameter!");
        for (var i = 0; i < 3; i++)
        {
            await callback.LogAsync(msg, cancellationToken);
            await Task.Delay(delay, cancellationToken);
        }
    }
}

/// <summary>A callback service that passes each message it is sent to a C# function.</summary>
internal sealed class CallbackService(Action<string> log) : Callback.Server
{
    public override Task LogAsync(Callback.LogParams.Reader parameters, Callback.LogResults.Builder results, CancellationToken cancellationToken)
    {
        log(parameters.Msg);
        return Task.CompletedTask;
    }
}
