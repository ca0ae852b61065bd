// The CapnpNative demo: the seed tutorial's echo service, served by C# on one event loop and
// called over a unix socket from another, after a round trip through a bare event loop.

using System.Diagnostics;
using System.Text;
using Capnp.Native;
using EchoApi;

Console.WriteLine($"libcapnp_native ABI version {NativeRuntime.AbiVersion}, built against Cap'n Proto {NativeRuntime.CapnpVersion}");

await using var serverLoop = EventLoop.Start();
var bytes = Encoding.UTF8.GetBytes("hello from C#, via the KJ event loop thread");
var echoed = await serverLoop.EchoAsync(bytes);
Console.WriteLine($"event loop round trip: \"{Encoding.UTF8.GetString(echoed)}\"");

var socket = Path.Combine(Path.GetTempPath(), $"capnp-native-demo-{Environment.ProcessId}.sock");
await using var listener = await serverLoop.ListenAsync($"unix:{socket}", new EchoService());
var accepting = listener.AcceptAsync();

await using var clientLoop = EventLoop.Start();
await using var connection = await clientLoop.ConnectAsync(listener.Address);
await using var served = await accepting;
using var echo = connection.GetBootstrap<Echo.Client>();

var reply = await echo.PingAsync("foo");
Console.WriteLine($"Got reply \"{reply.Reply}\" from {listener.Address}");

const int Calls = 10_000;
var watch = Stopwatch.StartNew();
var pending = new List<Task>(64);
for (var i = 0; i < Calls; i++)
{
    pending.Add(echo.PingAsync("bar"));
    if (pending.Count == 64)
    {
        await Task.WhenAll(pending);
        pending.Clear();
    }
}

await Task.WhenAll(pending);
Console.WriteLine($"{Calls:N0} pings with 64 in flight: {Calls / watch.Elapsed.TotalSeconds:N0} calls/s");
File.Delete(socket);
return reply.Reply == "echo:foo" ? 0 : 1;

/// <summary>The tutorial's echo service: replies with the message, prefixed.</summary>
internal sealed class EchoService : Echo.Server
{
    public override Task PingAsync(Echo.PingParams.Reader parameters, Echo.PingResults.Builder results, CancellationToken cancellationToken)
    {
        results.Reply = "echo:" + parameters.Msg;
        return Task.CompletedTask;
    }
}
