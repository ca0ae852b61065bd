using Microsoft.Data.Sqlite;

namespace Capnp.Native.Persistence.Sqlite;

/// <summary>
/// The default <see cref="IServiceStore"/>: an embedded SQLite database file (write-ahead log,
/// <c>synchronous=FULL</c>), one row per service keyed by its digest. Each operation is one
/// transaction, so a crash leaves the old entry or the new one. Several processes may share the
/// file on one machine; for replicas on several machines use the PostgreSQL store.
/// </summary>
public sealed class SqliteServiceStore : IServiceStore, IAsyncDisposable
{
    private const string Table = "capnp_services";
    private readonly string connectionString;

    private SqliteServiceStore(string path, string connectionString)
    {
        Path = path;
        this.connectionString = connectionString;
    }

    /// <summary>The database file (absolute).</summary>
    public string Path { get; }

    /// <summary>Opens the store in the database file <paramref name="path"/>, creating it (and its table) when missing.</summary>
    /// <exception cref="ServiceStoreException">The file cannot be opened or is not a SQLite database.</exception>
    public static async Task<SqliteServiceStore> OpenAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = System.IO.Path.GetFullPath(path);
        var connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = full,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
        var store = new SqliteServiceStore(full, connectionString);
        await store.RunAsync(async connection =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA journal_mode=WAL;"
                + $"CREATE TABLE IF NOT EXISTS {Table} (digest BLOB PRIMARY KEY NOT NULL CHECK (length(digest) = 32), data BLOB NOT NULL) WITHOUT ROWID;";
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            return 0;
        }, "open", cancellationToken).ConfigureAwait(false);
        return store;
    }

    /// <inheritdoc />
    public async ValueTask SaveAsync(ServiceDigest digest, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(digest);
        await RunAsync(async connection =>
        {
            await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = $"INSERT INTO {Table} (digest, data) VALUES ($digest, $data) ON CONFLICT (digest) DO UPDATE SET data = excluded.data";
            command.Parameters.Add("$digest", SqliteType.Blob).Value = digest.ToArray();
            command.Parameters.Add("$data", SqliteType.Blob).Value = data.ToArray();
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            return 0;
        }, $"save {digest}", cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<byte[]?> LoadAsync(ServiceDigest digest, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(digest);
        return await RunAsync(async connection =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = $"SELECT data FROM {Table} WHERE digest = $digest";
            command.Parameters.Add("$digest", SqliteType.Blob).Value = digest.ToArray();
            return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as byte[];
        }, $"load {digest}", cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<bool> RemoveAsync(ServiceDigest digest, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(digest);
        return await RunAsync(async connection =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = $"DELETE FROM {Table} WHERE digest = $digest";
            command.Parameters.Add("$digest", SqliteType.Blob).Value = digest.ToArray();
            return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) > 0;
        }, $"remove {digest}", cancellationToken).ConfigureAwait(false);
    }

    private async Task<T> RunAsync<T>(Func<SqliteConnection, Task<T>> work, string what, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = new SqliteConnection(connectionString);
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using (var pragma = connection.CreateCommand())
            {
                // Durable commits (WAL's default NORMAL can lose the last ones on power loss).
                pragma.CommandText = "PRAGMA synchronous=FULL";
                await pragma.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            return await work(connection).ConfigureAwait(false);
        }
        catch (SqliteException e)
        {
            throw new ServiceStoreException($"SQLite service store '{Path}': cannot {what}: {e.Message}", e);
        }
    }

    /// <summary>Closes the store's pooled connections.</summary>
    public ValueTask DisposeAsync()
    {
        using var connection = new SqliteConnection(connectionString);
        SqliteConnection.ClearPool(connection);
        return ValueTask.CompletedTask;
    }
}
