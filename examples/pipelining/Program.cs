// Pipelining: the client asks the echo service for its logger and, without waiting for the
// answer, calls log on the logger it will get. Both calls go out together; the second is
// delivered to the capability in the first one's answer, in the server's vat.

using Capnp.Native;
using Capnp.Native.Persistence;
using EchoApi;

var delay = Environment.GetEnvironmentVariable("CI") is null ? TimeSpan.FromSeconds(1) : TimeSpan.Zero;

var identity = VatIdentity.CreateEphemeral();
var serviceId = identity.DerivedServiceId("main");
await using var server = await Vat.StartAsync(new VatOptions
{
    Identity = identity,
    ListenAddress = VatAddress.Parse("tcp:127.0.0.1:0"),
    Restorer = new SingleRestorer(serviceId, new EchoService(delay)),
});

Console.WriteLine("[client] Connecting to echo service...");
await using var client = await Vat.StartAsync(new VatOptions());
using var service = await client.ConnectAsync<Echo.Client>(server.GetSturdyRef(serviceId));

// GetLoggerAsync sends the call and gives its answer-to-be, not awaited here: GetCallback() is a
// promise of the logger in it, usable at once. Both are ours to dispose: `using` releases them.
using var answer = service.GetLoggerAsync();
using var logger = answer.GetCallback();
try
{
    await logger.LogAsync("Message from client");
}
catch (RpcException e)
{
    Console.Error.WriteLine($"Server's logger failed: {e.Message}");
    return 1;
}

return 0;
