// Tutorial step 2: passing capabilities. The client wraps a C# function as a Callback service
// and passes it to the echo service's heartbeat method, which calls it back three times.

using EchoApi;

// The seed's one-second pause between heartbeats, skipped in CI.
var delay = Environment.GetEnvironmentVariable("CI") is null ? TimeSpan.FromSeconds(1) : TimeSpan.Zero;

using var service = Echo.Client.Create(new EchoService(delay));
using var callback = Callback.Client.Create(new CallbackService(msg => Console.WriteLine($"Callback got \"{msg}\"")));
await service.HeartbeatAsync("foo", callback);
