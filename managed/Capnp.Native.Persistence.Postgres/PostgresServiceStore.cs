using System.Text.RegularExpressions;
using Npgsql;
using NpgsqlTypes;

namespace Capnp.Native.Persistence.Postgres;

/// <summary>
/// An <see cref="IServiceStore"/> in a PostgreSQL table, for several vat replicas that share one
/// identity behind one address: a service saved through one replica is restored through any
/// other. One row per service keyed by its digest (<c>bytea</c>); every operation is a single
/// transactional statement, so a crash leaves the old entry or the new one.
/// </summary>
public sealed partial class PostgresServiceStore : IServiceStore, IAsyncDisposable
{
    private readonly NpgsqlDataSource dataSource;
    private readonly bool ownsDataSource;

    private PostgresServiceStore(NpgsqlDataSource dataSource, bool ownsDataSource, string table)
    {
        this.dataSource = dataSource;
        this.ownsDataSource = ownsDataSource;
        Table = table;
    }

    /// <summary>The table holding the services.</summary>
    public string Table { get; }

    /// <summary>
    /// Opens the store in <paramref name="table"/> of the database <paramref name="connectionString"/>
    /// names, creating the table when missing (replicas may do so concurrently).
    /// </summary>
    /// <exception cref="ArgumentException">The table name is not a plain lower-case SQL identifier.</exception>
    /// <exception cref="ServiceStoreException">The database cannot be reached or the table cannot be created.</exception>
    public static Task<PostgresServiceStore> OpenAsync(string connectionString, string table = "capnp_services", CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(connectionString);
        return OpenAsync(NpgsqlDataSource.Create(connectionString), ownsDataSource: true, table, cancellationToken);
    }

    /// <summary>Like <see cref="OpenAsync(string, string, CancellationToken)"/>, over a data source the caller keeps (and disposes).</summary>
    public static Task<PostgresServiceStore> OpenAsync(NpgsqlDataSource dataSource, string table = "capnp_services", CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        return OpenAsync(dataSource, ownsDataSource: false, table, cancellationToken);
    }

    private static async Task<PostgresServiceStore> OpenAsync(NpgsqlDataSource dataSource, bool ownsDataSource, string table, CancellationToken cancellationToken)
    {
        if (!Identifier().IsMatch(table))
        {
            if (ownsDataSource)
                await dataSource.DisposeAsync().ConfigureAwait(false);
            throw new ArgumentException("The table name must be a lower-case SQL identifier ([a-z_][a-z0-9_]*, at most 63 characters).", nameof(table));
        }

        var store = new PostgresServiceStore(dataSource, ownsDataSource, table);
        try
        {
            await store.RunAsync(async connection =>
            {
                await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
                // Concurrent CREATE TABLE IF NOT EXISTS can still collide: serialize on a lock named after the table.
                await using (var lockCommand = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtext($1))", connection, transaction))
                {
                    lockCommand.Parameters.Add(new NpgsqlParameter { Value = table });
                    await lockCommand.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                await using (var create = new NpgsqlCommand(
                    $"CREATE TABLE IF NOT EXISTS {table} (digest bytea PRIMARY KEY CHECK (length(digest) = 32), data bytea NOT NULL)",
                    connection, transaction))
                {
                    await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                return 0;
            }, "open", cancellationToken).ConfigureAwait(false);
            return store;
        }
        catch
        {
            await store.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <inheritdoc />
    public async ValueTask SaveAsync(ServiceDigest digest, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(digest);
        await RunAsync(async connection =>
        {
            await using var command = new NpgsqlCommand(
                $"INSERT INTO {Table} (digest, data) VALUES ($1, $2) ON CONFLICT (digest) DO UPDATE SET data = EXCLUDED.data", connection);
            command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Bytea, Value = digest.ToArray() });
            command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Bytea, Value = data.ToArray() });
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            return 0;
        }, $"save {digest}", cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<byte[]?> LoadAsync(ServiceDigest digest, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(digest);
        return await RunAsync(async connection =>
        {
            await using var command = new NpgsqlCommand($"SELECT data FROM {Table} WHERE digest = $1", connection);
            command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Bytea, Value = digest.ToArray() });
            return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as byte[];
        }, $"load {digest}", cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<bool> RemoveAsync(ServiceDigest digest, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(digest);
        return await RunAsync(async connection =>
        {
            await using var command = new NpgsqlCommand($"DELETE FROM {Table} WHERE digest = $1", connection);
            command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Bytea, Value = digest.ToArray() });
            return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) > 0;
        }, $"remove {digest}", cancellationToken).ConfigureAwait(false);
    }

    private async Task<T> RunAsync<T>(Func<NpgsqlConnection, Task<T>> work, string what, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            return await work(connection).ConfigureAwait(false);
        }
        catch (Exception e) when (e is NpgsqlException or PostgresException)
        {
            throw new ServiceStoreException($"PostgreSQL service store '{Table}': cannot {what}: {e.Message}", e);
        }
    }

    /// <summary>Closes the store's connections (unless the data source was given by the caller).</summary>
    public async ValueTask DisposeAsync()
    {
        if (ownsDataSource)
            await dataSource.DisposeAsync().ConfigureAwait(false);
    }

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,62}$")]
    private static partial Regex Identifier();
}
