// The CapnpNative demo: the seed tutorial's echo service, served by a vat with TLS in one process
// and called from another process through the sturdy ref it saved in a cap file.
//
//   dotnet run --project examples/Demo              runs both: starts the server as a child process
//   dotnet run --project examples/Demo serve FILE   only the server, writing its cap file to FILE

using System.Diagnostics;
using Capnp.Native;
using Capnp.Native.Persistence;
using EchoApi;

// Opt-in: large messages without a fresh memory mapping each (see the README, "Allocator").
NativeRuntime.TuneAllocatorForThroughput();

if (args is ["serve", var capFile])
{
    return await ServeAsync(capFile);
}

Console.WriteLine($"libcapnp_native ABI version {NativeRuntime.AbiVersion}, built against Cap'n Proto {NativeRuntime.CapnpVersion}");
var folder = Directory.CreateTempSubdirectory("capnp-native-demo-");
try
{
    var capPath = Path.Combine(folder.FullName, "echo.cap");
    using var server = StartServerProcess(capPath);
    var ready = await server.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
    Console.WriteLine(ready);

    // The client: a vat of its own (an ephemeral key), reaching the service by its URI alone.
    var sturdyRef = CapFile.Load(capPath);
    Console.WriteLine($"[client] connecting to {sturdyRef.ToRedactedString()}");
    await using var client = await Vat.StartAsync(new VatOptions());
    using var echo = await client.ConnectAsync<Echo.Client>(sturdyRef);

    var reply = await echo.PingAsync("foo");
    Console.WriteLine($"[client] Got reply \"{reply.Reply}\"");

    const int Calls = 10_000;
    var watch = Stopwatch.StartNew();
    var pending = new List<Echo.PingResults.Promise>(64);
    for (var i = 0; i < Calls; i++)
    {
        pending.Add(echo.PingAsync("bar"));
        if (pending.Count == 64)
        {
            await AwaitAndReleaseAsync(pending);
        }
    }

    await AwaitAndReleaseAsync(pending);
    Console.WriteLine($"[client] {Calls:N0} pings over TLS with 64 in flight: {Calls / watch.Elapsed.TotalSeconds:N0} calls/s");

    // Closing the server's input asks it to stop.
    server.StandardInput.Close();
    await server.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
    return reply.Reply == "echo:foo" && server.ExitCode == 0 ? 0 : 1;
}
finally
{
    folder.Delete(recursive: true);
}

// Awaits a batch of answers together (AsTask for Task.WhenAll), then frees their results.
static async Task AwaitAndReleaseAsync(List<Echo.PingResults.Promise> answers)
{
    await Task.WhenAll(answers.Select(answer => answer.AsTask()));
    answers.ForEach(answer => answer.Dispose());
    answers.Clear();
}

static Process StartServerProcess(string capPath)
{
    // This same program, in server mode: through `dotnet Demo.dll` or the apphost.
    var self = Environment.ProcessPath!;
    var start = new ProcessStartInfo(self) { RedirectStandardInput = true, RedirectStandardOutput = true };
    if (Path.GetFileNameWithoutExtension(self) == "dotnet")
    {
        start.ArgumentList.Add(typeof(EchoService).Assembly.Location);
    }

    start.ArgumentList.Add("serve");
    start.ArgumentList.Add(capPath);
    return Process.Start(start)!;
}

static async Task<int> ServeAsync(string capFile)
{
    var identity = VatIdentity.CreateEphemeral();
    var serviceId = identity.DerivedServiceId("main");
    await using var vat = await Vat.StartAsync(new VatOptions
    {
        Identity = identity,
        ListenAddress = VatAddress.Parse("tcp:127.0.0.1:0"),
        Restorer = new SingleRestorer(serviceId, new EchoService()),
    });
    var sturdyRef = vat.GetSturdyRef(serviceId);
    CapFile.Save(capFile, sturdyRef);
    Console.WriteLine($"[server] serving Echo over TLS at {sturdyRef.ToRedactedString()}; cap file {Path.GetFileName(capFile)}");
    Console.Out.Flush();
    // Serve until the parent closes our input.
    await Console.In.ReadToEndAsync();
    return 0;
}

/// <summary>The tutorial's echo service: replies with the message, prefixed.</summary>
internal sealed class EchoService : Echo.Server
{
    public override Task PingAsync(Echo.PingParams.Reader parameters, Echo.PingResults.Builder results, CancellationToken cancellationToken)
    {
        results.Reply = "echo:" + parameters.Msg;
        return Task.CompletedTask;
    }
}
