// The CapnpNative demo: starts a Cap'n Proto event loop, round-trips a buffer through its thread
// and prints the versions of the native layers. The RPC examples will join it as they land.

using System.Diagnostics;
using System.Text;
using Capnp.Native;

var version = NativeRuntime.CapnpVersion;
Console.WriteLine($"libcapnp_native ABI version {NativeRuntime.AbiVersion}, built against Cap'n Proto {version}");

await using var loop = EventLoop.Start();
var message = Encoding.UTF8.GetBytes("hello from C#, via the KJ event loop thread");

var watch = Stopwatch.StartNew();
var echoed = await loop.EchoAsync(message);
watch.Stop();
Console.WriteLine($"round trip: \"{Encoding.UTF8.GetString(echoed)}\" ({echoed.Length} bytes) in {watch.Elapsed.TotalMicroseconds:F0} µs");

const int Count = 100_000;
watch.Restart();
var tasks = new Task<byte[]>[Count];
for (var i = 0; i < Count; i++)
{
    tasks[i] = loop.EchoAsync(message);
}

await Task.WhenAll(tasks);
watch.Stop();
Console.WriteLine($"{Count:N0} round trips in flight together: {Count / watch.Elapsed.TotalSeconds:N0}/s");
return echoed.AsSpan().SequenceEqual(message) ? 0 : 1;
