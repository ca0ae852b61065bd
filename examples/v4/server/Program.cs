// Tutorial step 4, the server: serves the echo service under a secret ID derived from its key,
// and writes the service's sturdy ref to echo.cap for clients. The vat is configured by the
// seed's command-line options, e.g.
//
//   dotnet run --project examples/v4/server -- --capnp-secret-key-file key.pem --capnp-listen-address tcp:localhost:7000
//
// It runs until interrupted (Ctrl+C or SIGTERM).

using System.CommandLine;
using Capnp.Native;
using Capnp.Native.Persistence;

const string CapFileName = "echo.cap";
var delay = Environment.GetEnvironmentVariable("CI") is null ? TimeSpan.FromSeconds(1) : TimeSpan.Zero;

var vatOptions = new VatCommandLineOptions();
var serve = new RootCommand("Run the echo server.");
vatOptions.AddTo(serve);
serve.SetAction(async (parseResult, cancellationToken) =>
{
    var options = vatOptions.GetVatOptions(parseResult);
    // With the key from --capnp-secret-key-file, the ID (and so echo.cap) is the same on every run.
    var identity = options.Identity ?? VatIdentity.CreateEphemeral();
    var serviceId = identity.DerivedServiceId("main");
    await using var vat = await Vat.StartAsync(options with
    {
        Identity = identity,
        Restorer = new SingleRestorer(serviceId, new EchoService(delay)),
    }, cancellationToken);

    CapFile.Save(CapFileName, vat.GetSturdyRef(serviceId));
    Console.WriteLine($"Server running. Connect using \"{CapFileName}\".");
    try
    {
        await Task.Delay(Timeout.Infinite, cancellationToken);
    }
    catch (OperationCanceledException)
    {
        // Interrupted: disposing the vat closes every connection.
    }
});

return await serve.Parse(args).InvokeAsync();
