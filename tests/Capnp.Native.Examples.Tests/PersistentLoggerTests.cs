using System.Text.RegularExpressions;

namespace Capnp.Native.Examples.Tests;

/// <summary>
/// The sturdy-refs-4 example (the seed's "Persisting sturdy refs") run as the seed runs it: a
/// server process over TLS on a unix socket, and one client process per command (log, sub),
/// joined by cap files; the sub-loggers' cap files still work after the server restarts.
/// </summary>
public sealed class PersistentLoggerTests
{
    private const string Example = "sturdy-refs-4";

    [Fact]
    public async Task SubLoggersCreatedByClientsSurviveAServerRestart()
    {
        using var folder = new TempFolder();
        string adminUri;
        await using (var server = await StartServerAsync(folder))
        {
            adminUri = File.ReadAllText(folder.File("admin.cap")).TrimEnd('\n');
            Assert.Matches(@"^capnp://sha-256:[A-Za-z0-9_-]{43}@" + Regex.Escape(folder.File("demo.sock")) + "/[A-Za-z0-9_-]{43}$", adminUri);

            await LogAsync(folder, server, "admin.cap", "Hello from Admin", "root");
            Assert.Equal(["Wrote \"alice.cap\""], await RunClientAsync(folder, "sub", "admin.cap", "alice"));
            await LogAsync(folder, server, "alice.cap", "Hello from Alice", "root/alice");
            Assert.Equal(["Wrote \"bob.cap\""], await RunClientAsync(folder, "sub", "alice.cap", "bob"));
            await LogAsync(folder, server, "bob.cap", "Hello from Bob", "root/alice/bob");

            // Two saved loggers (the root is not saved: its ID is derived from the key each run).
            Assert.Equal(2, Directory.GetFiles(folder.File("store")).Length);
            Assert.Equal(0, await server.TerminateAsync());
            Assert.Empty(server.Errors);
        }

        await using (var server = await StartServerAsync(folder))
        {
            // Same key, same address: the same admin.cap; the saved loggers load from the store.
            Assert.Equal(adminUri, File.ReadAllText(folder.File("admin.cap")).TrimEnd('\n'));
            await LogAsync(folder, server, "bob.cap", "Hello again from Bob", "root/alice/bob");
            await LogAsync(folder, server, "alice.cap", "Hello again from Alice", "root/alice");
            await LogAsync(folder, server, "admin.cap", "Hello again from Admin", "root");
            Assert.Equal(0, await server.TerminateAsync());
            Assert.Empty(server.Errors);
        }
    }

    [Fact]
    public async Task ClientsReportAnExistingCapFileAndAnUnknownLoggerWithoutItsSecret()
    {
        using var folder = new TempFolder();
        await using var server = await StartServerAsync(folder);

        // sub never overwrites a cap file (it may be the only copy of a sturdy ref).
        File.WriteAllText(folder.File("alice.cap"), "kept\n");
        await using (var sub = ExampleProcess.Start(Example, folder.Path, "sub", "admin.cap", "alice"))
        {
            Assert.Equal(1, await sub.WaitForExitAsync());
            Assert.Equal("\"alice.cap\" already exists!", sub.Errors.TrimEnd('\n'));
        }

        Assert.Equal("kept\n", File.ReadAllText(folder.File("alice.cap")));

        // The admin's sturdy ref with another service ID: the server has no such logger.
        var admin = File.ReadAllText(folder.File("admin.cap")).TrimEnd('\n');
        var secret = new string('A', 27);
        File.WriteAllText(folder.File("forged.cap"), admin[..(admin.LastIndexOf('/') + 1)] + secret + "\n");
        await using (var log = ExampleProcess.Start(Example, folder.Path, "log", "forged.cap", "Hello"))
        {
            Assert.Equal(1, await log.WaitForExitAsync());
            Assert.Empty(log.Output);
            Assert.EndsWith("/<redacted>: Unknown persistent service ID", log.Errors.TrimEnd('\n'));
            Assert.DoesNotContain(secret, log.Errors);
        }

        Assert.Equal(0, await server.TerminateAsync());
        Assert.Empty(server.Errors);
    }

    /// <summary>Starts the server as the seed does (a key file, a unix socket in the folder) and waits until it has written admin.cap.</summary>
    private static async Task<ExampleProcess> StartServerAsync(TempFolder folder)
    {
        var server = ExampleProcess.Start(Example, folder.Path,
            "serve", "--capnp-secret-key-file", "server.key", "--capnp-listen-address", "unix:demo.sock");
        try
        {
            await server.WaitForLineAsync(line => line == "Wrote admin.cap", "saying the server wrote admin.cap");
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Runs a client command to success and returns what it printed.</summary>
    private static async Task<IReadOnlyList<string>> RunClientAsync(TempFolder folder, params string[] arguments)
    {
        await using var client = ExampleProcess.Start(Example, folder.Path, arguments);
        var output = await client.WaitForSuccessAsync();
        Assert.Empty(client.Errors);
        return output;
    }

    /// <summary>Logs a message through a cap file and waits for the server to print it under the logger's label.</summary>
    private static async Task LogAsync(TempFolder folder, ExampleProcess server, string capFile, string msg, string label)
    {
        Assert.Empty(await RunClientAsync(folder, "log", capFile, msg));
        // The client's call returns once the server has logged: the line is there already.
        var expected = $"[server] \"{label}\" says \"{msg}\"";
        await server.WaitForLineAsync(line => line == expected, $"'{expected}'");
    }
}
