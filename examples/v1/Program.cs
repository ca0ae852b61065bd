// Tutorial step 1: a local echo service. The client calls the server object directly, in
// process; the same client code works unchanged once a network is put between them (v3).

using EchoApi;

using var service = Echo.Client.Create(new EchoService());
var reply = await service.PingAsync("foo");
Console.WriteLine($"Got reply \"{reply.Reply}\"");
