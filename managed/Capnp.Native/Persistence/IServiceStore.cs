namespace Capnp.Native.Persistence;

/// <summary>
/// Durable storage for persistent services: opaque bytes (typically a Cap'n Proto struct that
/// says how to rebuild the service) under the <see cref="ServiceDigest"/> of the service's secret
/// ID, never the ID itself. Used by <see cref="RestorerTable.FromStore"/>. Implementations: the
/// file store here (<see cref="FileServiceStore"/>), SQLite (<c>Capnp.Native.Persistence.Sqlite</c>,
/// the default) and PostgreSQL (<c>Capnp.Native.Persistence.Postgres</c>, for replicas that share one
/// identity). Every operation is atomic and durable once it completes: a crash leaves the old entry
/// or the new one, never a part; an entry goes only by <see cref="RemoveAsync"/>. Safe to call concurrently.
/// </summary>
public interface IServiceStore
{
    /// <summary>Stores <paramref name="data"/> under <paramref name="digest"/>, replacing what was there.</summary>
    /// <exception cref="ServiceStoreException">The store could not write it (the old entry, if any, is kept).</exception>
    ValueTask SaveAsync(ServiceDigest digest, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default);

    /// <summary>The data stored under <paramref name="digest"/>, or null when there is none.</summary>
    /// <exception cref="ServiceStoreException">The store could not be read, or the entry is not one this store wrote.</exception>
    ValueTask<byte[]?> LoadAsync(ServiceDigest digest, CancellationToken cancellationToken = default);

    /// <summary>Removes the entry for <paramref name="digest"/>; returns whether there was one.</summary>
    /// <exception cref="ServiceStoreException">The store could not remove it.</exception>
    ValueTask<bool> RemoveAsync(ServiceDigest digest, CancellationToken cancellationToken = default);
}

/// <summary>Helpers over any <see cref="IServiceStore"/>.</summary>
public static class ServiceStoreExtensions
{
    /// <summary>
    /// Stores <paramref name="data"/> for a new service and returns its new random ID
    /// (<see cref="ServiceId.Random"/>; the seed's <c>save_new</c>). The ID is the secret the
    /// store does not keep: give it to the client as a sturdy ref (<see cref="RestorerTable.GetSturdyRef"/>).
    /// </summary>
    public static async ValueTask<byte[]> AddNewAsync(this IServiceStore store, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        var id = ServiceId.Random();
        await store.SaveAsync(ServiceDigest.Of(id), data, cancellationToken).ConfigureAwait(false);
        return id;
    }
}

/// <summary>A service store failed: it could not be read or written, or holds an entry it did not write. The message names the store and the digest, never an ID.</summary>
public sealed class ServiceStoreException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ServiceStoreException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}
