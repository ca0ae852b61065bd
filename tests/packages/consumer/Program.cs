// A consumer of the Capnp.Native packages, built outside the repository by tests/packages/run.sh:
// an echo server vat and a client vat over loopback TCP with TLS, joined by a sturdy ref.
using Capnp.Native;
using PackageConsumer.Schema;

var bound = TimeSpan.FromSeconds(30);
await using var server = await Vat.StartAsync(new VatOptions
{
    ListenAddress = VatAddress.Parse("tcp:127.0.0.1:0"),
    Bootstrap = new EchoImpl(),
}).WaitAsync(bound);
var uri = server.GetSturdyRef().ToString();
Console.WriteLine($"sturdy ref: {SturdyRef.Parse(uri).ToRedactedString()}");

await using var client = await Vat.StartAsync(new VatOptions()).WaitAsync(bound);
using var echo = await client.ConnectAsync<Echo.Client>(SturdyRef.Parse(uri)).WaitAsync(bound);
using var ping = echo.PingAsync("hello from a package consumer");
var answer = await ping.AsTask().WaitAsync(bound);
Console.WriteLine($"reply: {answer.Reply}");

// Which native libraries this process mapped, and from where.
foreach (var path in File.ReadLines("/proc/self/maps")
             .Select(line => line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries))
             .Where(fields => fields.Length == 6 && fields[5].StartsWith('/'))
             .Select(fields => fields[5].Trim())
             .Where(path => Path.GetFileName(path) is var name && (name.StartsWith("libcapnp") || name.StartsWith("libkj")))
             .Distinct())
{
    Console.WriteLine($"native: {path}");
}

return 0;

internal sealed class EchoImpl : Echo.Server
{
    public override Task PingAsync(Echo.PingParams.Reader parameters, Echo.PingResults.Builder results, CancellationToken cancellationToken)
    {
        results.Reply = "echo:" + parameters.Msg;
        return Task.CompletedTask;
    }
}
