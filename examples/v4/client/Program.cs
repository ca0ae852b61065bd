// Tutorial step 4, the client: connects to the echo service named by a cap file (the server's
// echo.cap) or a capnp:// URI, and asks for three heartbeats, e.g.
//
//   dotnet run --project examples/v4/client -- echo.cap

using System.CommandLine;
using Capnp.Native;
using EchoApi;

var address = new Argument<string>("ADDR") { Description = "The echo service: a cap file (echo.cap) or its capnp:// URI." };
var connect = new RootCommand("Run the echo client.") { address };
connect.SetAction(async (parseResult, cancellationToken) =>
{
    SturdyRef sturdyRef;
    try
    {
        sturdyRef = CapFile.LoadUriOrFile(parseResult.GetRequiredValue(address));
    }
    catch (Exception e) when (e is CapFileException or SturdyRefFormatException)
    {
        Console.Error.WriteLine(e.Message);
        return 1;
    }

    try
    {
        await using var vat = await Vat.StartAsync(new VatOptions(), cancellationToken);
        using var service = await vat.ConnectAsync<Echo.Client>(sturdyRef, cancellationToken);
        using var callback = Callback.Client.Create(new CallbackService(msg => Console.WriteLine($"Callback got \"{msg}\"")));
        await service.HeartbeatAsync("foo", callback, cancellationToken);
        return 0;
    }
    catch (RpcException e)
    {
        // Unreachable server, wrong key, unknown service ID, lost connection... The service ID is
        // a secret: messages show the sturdy ref redacted.
        Console.Error.WriteLine($"{sturdyRef.ToRedactedString()}: {e.Message}");
        return 1;
    }
});

return await connect.Parse(args).InvokeAsync();
