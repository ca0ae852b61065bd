using Capnp.Native.Persistence.Postgres;
using Capnp.Native.Persistence.Sqlite;

namespace Capnp.Native.Persistence.Tests;

/// <summary>Opens a store by kind and location, the same way in the tests and in the child writer.</summary>
public static class Stores
{
    public const string File = "file";
    public const string Sqlite = "sqlite";
    public const string Postgres = "postgres";

    /// <summary>Location: a folder (file), a database path (sqlite), or "CONNECTION-STRING|TABLE" (postgres).</summary>
    public static async Task<IServiceStore> OpenAsync(string kind, string location) => kind switch
    {
        File => new FileServiceStore(location),
        Sqlite => await SqliteServiceStore.OpenAsync(location),
        Postgres => await PostgresServiceStore.OpenAsync(location.Split('|')[0], location.Split('|')[1]),
        _ => throw new ArgumentException($"Unknown store kind '{kind}'.", nameof(kind)),
    };

    public static async ValueTask CloseAsync(IServiceStore store)
    {
        if (store is IAsyncDisposable disposable)
            await disposable.DisposeAsync();
    }
}
