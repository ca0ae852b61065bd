// The Persistence API: the admin asks a new sub-logger for its sturdy ref (Persistent.save),
// writes it to alice.cap, and Alice, with a vat of her own, uses that file to reach her logger.

using Api;
using Capnp.Native;
using Capnp.Native.Persistence;

// The server: the root logger, with its sturdy ref, in a table that sub-loggers are added to.
// The table owns its loggers; it is disposed last, after the vats.
var identity = VatIdentity.CreateEphemeral();
await using var services = new RestorerTable();
await using var server = await Vat.StartAsync(new VatOptions
{
    Identity = identity,
    ListenAddress = VatAddress.Parse("tcp:127.0.0.1:0"),
    Restorer = services,
});
// The table knows the vat's address once the vat serves it: only then can it make sturdy refs.
var rootId = identity.DerivedServiceId("root");
services.Add(rootId, LoggerService.Create(services, services.GetSturdyRef(rootId), "root"));

// The admin, with a vat of its own.
await using var vat = await Vat.StartAsync(new VatOptions());
using var root = await vat.ConnectAsync<Logger.Client>(server.GetSturdyRef(rootId));
await root.LogAsync("Message from Admin");

// The admin creates a logger for Alice and saves it:
using (var answer = root.SubAsync("alice"))
using (var forAlice = answer.GetLogger())
{
    var uri = await forAlice.SaveAsync();
    CapFile.Save("alice.cap", uri);
}

// Alice uses it:
await RunClientAsync("alice.cap");

static async Task RunClientAsync(string capFile)
{
    await using var vat = await Vat.StartAsync(new VatOptions());
    using var forAlice = await CapFile.LoadAsync<Logger.Client>(vat, capFile);
    await forAlice.LogAsync("Message from Alice");
}
