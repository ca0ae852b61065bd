// Creating services dynamically: the server vat hosts one sturdy ref, the root logger. The admin
// connects to it, and asks it for sub-loggers for Alice and Bob, which exist only as live
// references (step sturdy-refs-3 gives them sturdy refs).

using Api;
using Capnp.Native;
using Capnp.Native.Persistence;

// The server: a table of services (the seed's Restorer.Table) holding the root logger under an ID
// derived from the vat's key. The table owns the root; it is disposed last, after the vats.
var identity = VatIdentity.CreateEphemeral();
var rootId = identity.DerivedServiceId("root");
await using var services = new RestorerTable();
services.Add(rootId, new LoggerService("root"));
await using var server = await Vat.StartAsync(new VatOptions
{
    Identity = identity,
    ListenAddress = VatAddress.Parse("tcp:127.0.0.1:0"),
    Restorer = services,
});

// The admin, with a vat of its own.
await using var vat = await Vat.StartAsync(new VatOptions());
using var admin = await vat.ConnectAsync<Logger.Client>(server.GetSturdyRef(rootId));
await admin.LogAsync("Message from Admin");
// SubAsync sends the call and returns its answer-to-be, not awaited here; GetLogger() is the
// logger in it, usable before the answer arrives (pipelining). Answers and loggers are references: `using`
// releases them.
using var aliceAnswer = admin.SubAsync("alice");
using var forAlice = aliceAnswer.GetLogger();
using var bobAnswer = admin.SubAsync("bob");
using var forBob = bobAnswer.GetLogger();
await forAlice.LogAsync("Message from Alice");
await forBob.LogAsync("Message from Bob");
