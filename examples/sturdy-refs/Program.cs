// Hosting multiple sturdy refs: the server vat serves two loggers, "alice" and "bob", each
// under its own secret ID, and writes a cap file for each. Two clients, each with its own vat,
// load the files and log a message to their logger.

using Api;
using Capnp.Native;
using Capnp.Native.Persistence;

string[] names = ["alice", "bob"];
var identity = VatIdentity.CreateEphemeral();
// The vat's services by ID (the seed's Restorer.Table); it owns the services added to it.
await using var services = new RestorerTable();
foreach (var name in names)
{
    // A derived ID is the same each time for the same key and name.
    services.Add(identity.DerivedServiceId(name), new LoggerService(name));
}

await using var server = await Vat.StartAsync(new VatOptions
{
    Identity = identity,
    ListenAddress = VatAddress.Parse("tcp:127.0.0.1:0"),
    Restorer = services,
});
foreach (var name in names)
{
    var capFile = name + ".cap";
    await CapFile.SaveServiceAsync(server, identity.DerivedServiceId(name), capFile);
    Console.WriteLine($"[server] saved \"{capFile}\"");
}

await RunClientAsync("./alice.cap", "Message from Alice");
await RunClientAsync("./bob.cap", "Message from Bob");

static async Task RunClientAsync(string capFile, string msg)
{
    await using var vat = await Vat.StartAsync(new VatOptions());
    var sturdyRef = CapFile.Load(capFile);
    Console.WriteLine($"[client] loaded \"{capFile}\"");
    using var logger = await vat.ConnectAsync<Logger.Client>(sturdyRef);
    await logger.LogAsync(msg);
}
