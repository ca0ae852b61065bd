using EchoApi;

/// <summary>A callback service that passes each message it is sent to a C# function.</summary>
internal sealed class CallbackService(Action<string> log) : Callback.Server
{
    public override Task LogAsync(Callback.LogParams.Reader parameters, Callback.LogResults.Builder results, CancellationToken cancellationToken)
    {
        log(parameters.Msg);
        return Task.CompletedTask;
    }
}
