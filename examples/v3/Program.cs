// Tutorial step 3: networking. A server vat serves the echo service under a secret ID; a client
// vat in the same process connects to it by its sturdy ref (a capnp:// URI), over TLS, and runs
// the client of step 2 unchanged.

using Capnp.Native;
using Capnp.Native.Persistence;
using EchoApi;

var delay = Environment.GetEnvironmentVariable("CI") is null ? TimeSpan.FromSeconds(1) : TimeSpan.Zero;

// The server. A new key each run, so the URI changes each run (VatIdentity.LoadOrCreate("secret-key.pem")
// keeps one); port 0 asks for any free port, and the URI gives the one bound.
var identity = VatIdentity.CreateEphemeral();
var serviceId = identity.DerivedServiceId("main");
await using var server = await Vat.StartAsync(new VatOptions
{
    Identity = identity,
    ListenAddress = VatAddress.Parse("tcp:127.0.0.1:0"),
    Restorer = new SingleRestorer(serviceId, new EchoService(delay)),
});
var uri = server.GetSturdyRef(serviceId);
Console.WriteLine($"Connecting to echo service at: {uri}");

// The client: a vat that only connects.
await using var client = await Vat.StartAsync(new VatOptions());
using var service = await client.ConnectAsync<Echo.Client>(uri);
using var callback = Callback.Client.Create(new CallbackService(msg => Console.WriteLine($"Callback got \"{msg}\"")));
await service.HeartbeatAsync("foo", callback);
