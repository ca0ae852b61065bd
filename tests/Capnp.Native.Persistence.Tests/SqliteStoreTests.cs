namespace Capnp.Native.Persistence.Tests;

/// <summary>The suite on the SQLite store.</summary>
public sealed class SqliteStoreTests : ServiceStoreSuite
{
    private readonly string root = Path.Combine(Path.GetTempPath(), "capnp-store-tests-" + Guid.NewGuid().ToString("N"));

    protected override string Kind => Stores.Sqlite;

    protected override string Location => Path.Combine(root, "services.db");

    public override Task InitializeAsync()
    {
        Directory.CreateDirectory(root);
        return Task.CompletedTask;
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        Directory.Delete(root, recursive: true);
    }

    [Fact]
    public async Task TheDatabaseUsesTheWriteAheadLog()
    {
        var store = await OpenAsync();
        await store.SaveAsync(ServiceDigest.Of("w"u8), "x"u8.ToArray());
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Location}");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode";
        Assert.Equal("wal", (string?)await command.ExecuteScalarAsync());
    }
}
