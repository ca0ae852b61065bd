// Persisting sturdy refs: a logger server whose sub-loggers are saved in a file store (./store),
// so their sturdy refs keep working after the server restarts, and a command line to use it:
//
//   dotnet run --project examples/sturdy-refs-4 -- serve --capnp-secret-key-file server.key --capnp-listen-address unix:/tmp/demo.sock
//   dotnet run --project examples/sturdy-refs-4 -- log admin.cap "Hello from Admin"
//   dotnet run --project examples/sturdy-refs-4 -- sub admin.cap alice
//   dotnet run --project examples/sturdy-refs-4 -- log alice.cap "Hello from Alice"
//
// serve writes admin.cap (the root logger), sub writes LABEL.cap, in the working directory.

using System.CommandLine;
using Api;
using Capnp.Native;
using Capnp.Native.Persistence;

var vatOptions = new VatCommandLineOptions();
var serve = new Command("serve", "Run the server.");
vatOptions.AddTo(serve);
serve.SetAction(async (parseResult, cancellationToken) =>
{
    var options = vatOptions.GetVatOptions(parseResult);
    // With the key from --capnp-secret-key-file, the root's ID (and so admin.cap) is the same on every run.
    var identity = options.Identity ?? VatIdentity.CreateEphemeral();

    // Create the on-disk store, and the restorer: a table that loads saved loggers from it on demand.
    // The table's loader makes loggers, and loggers save new ones through the table: assigned below.
    var db = new Db("store");
    RestorerTable? services = null;
    services = db.CreateTable((sturdyRef, label) => LoggerService.Create(sturdyRef, label, PersistNewAsync));
    await using var _ = services;

    // Save a new logger, then get it the way a client's sturdy ref would: through the table,
    // which holds one live logger per ID.
    async Task<Logger.Client> PersistNewAsync(string label, CancellationToken cancellationToken)
    {
        var id = await db.SaveNewAsync(label, cancellationToken);
        var logger = await services!.RestoreAsync(id, cancellationToken) ?? throw new RpcFailedException("A logger just saved is missing from the store.");
        return Logger.Client.Create(logger);
    }

    // Run the server, then add the root service (the table makes sturdy refs for the vat it serves).
    await using var vat = await Vat.StartAsync(options with { Identity = identity, Restorer = services }, cancellationToken);
    var rootId = identity.DerivedServiceId("root");
    services.Add(rootId, LoggerService.Create(services.GetSturdyRef(rootId), "root", PersistNewAsync));
    await CapFile.SaveServiceAsync(vat, rootId, "admin.cap", cancellationToken);
    Console.WriteLine("Wrote admin.cap");
    try
    {
        await Task.Delay(Timeout.Infinite, cancellationToken);
    }
    catch (OperationCanceledException)
    {
        // Interrupted (Ctrl+C or SIGTERM): disposing the vat closes every connection.
    }
});

var capFile = new Argument<string>("PATH") { Description = "logger.cap file" };
var msg = new Argument<string>("MSG") { Description = "Message to send" };
var log = new Command("log", "Log a message.") { capFile, msg };
log.SetAction((parseResult, cancellationToken) => WithLoggerAsync(parseResult.GetRequiredValue(capFile), async logger =>
{
    await logger.LogAsync(parseResult.GetRequiredValue(msg), cancellationToken);
    return 0;
}, cancellationToken));

var label = new Argument<string>("LABEL") { Description = "Tag for new logger" };
var sub = new Command("sub", "Create a sub-logger.") { capFile, label };
sub.SetAction((parseResult, cancellationToken) =>
{
    var subFile = parseResult.GetRequiredValue(label) + ".cap";
    if (File.Exists(subFile))
    {
        Console.Error.WriteLine($"\"{subFile}\" already exists!");
        return Task.FromResult(1);
    }

    return WithLoggerAsync(parseResult.GetRequiredValue(capFile), async logger =>
    {
        using var answer = logger.SubAsync(parseResult.GetRequiredValue(label), cancellationToken);
        using var subLogger = answer.GetLogger();
        var uri = await subLogger.SaveAsync(cancellationToken);
        CapFile.Save(subFile, uri);
        Console.WriteLine($"Wrote \"{subFile}\"");
        return 0;
    }, cancellationToken);
});

var root = new RootCommand("A command-line interface for the logger service.") { serve, log, sub };
return await root.Parse(args).InvokeAsync();

// Connects a client-only vat to the logger in capFile and runs use on it. Failures are reported in
// one line, with the sturdy ref redacted (its service ID is the secret that grants access).
static async Task<int> WithLoggerAsync(string capFile, Func<Logger.Client, Task<int>> use, CancellationToken cancellationToken)
{
    SturdyRef sturdyRef;
    try
    {
        sturdyRef = CapFile.Load(capFile);
    }
    catch (CapFileException e)
    {
        Console.Error.WriteLine(e.Message);
        return 1;
    }

    try
    {
        await using var vat = await Vat.StartAsync(new VatOptions(), cancellationToken);
        using var logger = await vat.ConnectAsync<Logger.Client>(sturdyRef, cancellationToken);
        return await use(logger);
    }
    catch (RpcException e)
    {
        Console.Error.WriteLine($"{sturdyRef.ToRedactedString()}: {e.Message}");
        return 1;
    }
}
