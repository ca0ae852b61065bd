using Capnp.Native.Rpc;
using Capnp.Native.Serialization;

namespace Capnp.Native.Persistence;

/// <summary>
/// Loads the service a sturdy ref names, for a <see cref="RestorerTable"/>: called with the
/// digest of the ID a peer presented (never the ID itself, so a slow or fast answer teaches a
/// guesser nothing about valid IDs) and the sturdy ref for it (so the service can answer
/// <c>Persistent.save</c>, see <see cref="SturdyRefs.WithSturdyRef"/>). Returns the service (a
/// server object, or a capability reference the table takes over), or null when there is no such
/// service. An exception fails this request only; the next request loads again.
/// </summary>
public delegate ValueTask<ICallTarget?> ServiceLoader(SturdyRef sturdyRef, ServiceDigest digest, CancellationToken cancellationToken);

/// <summary>
/// A vat's services by ID (the seed's <c>Restorer.Table</c>): services added at run time, and,
/// with a <see cref="ServiceLoader"/>, services loaded on demand (e.g. from an
/// <see cref="IServiceStore"/>). Pass it as <see cref="VatOptions.Restorer"/>.
/// <list type="bullet">
/// <item>Services are found by the SHA-256 digest of their ID, compared in constant time; the table keeps no ID.</item>
/// <item>An added service is owned by the table (it holds a reference) until removed, cleared or the table is disposed.</item>
/// <item>A loaded service is held only while some peer or local client holds it: concurrent requests for
/// one ID share one load, at most one live capability exists per ID, and when its last reference
/// anywhere is released the entry is dropped, so the next request loads again. A failed or empty load is not cached.</item>
/// </list>
/// </summary>
public sealed class RestorerTable : IRestorer, IVatBoundRestorer, IAsyncDisposable
{
    private readonly ServiceLoader? loader;
    private readonly VatBinding binding = new();
    private readonly Lock gate = new();
    private readonly Dictionary<ServiceDigest, ICallTarget> added = [];
    private readonly Dictionary<ServiceDigest, LoadedEntry> loaded = [];
    private readonly CancellationTokenSource disposing = new();
    private bool disposed;

    /// <summary>A table of services added with <see cref="Add"/>; other IDs are unknown.</summary>
    public RestorerTable()
    {
    }

    /// <summary>A table that also loads services on demand with <paramref name="loader"/>.</summary>
    public RestorerTable(ServiceLoader loader)
    {
        ArgumentNullException.ThrowIfNull(loader);
        this.loader = loader;
    }

    /// <summary>
    /// A table that loads services from <paramref name="store"/>: the stored bytes for the
    /// digest (none: unknown ID) go to <paramref name="create"/>, which makes the live service.
    /// </summary>
    public static RestorerTable FromStore(IServiceStore store,
        Func<SturdyRef, ReadOnlyMemory<byte>, CancellationToken, ValueTask<ICallTarget>> create)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(create);
        return new RestorerTable(async (sturdyRef, digest, cancellationToken) =>
            await store.LoadAsync(digest, cancellationToken).ConfigureAwait(false) is { } data
                ? await create(sturdyRef, data, cancellationToken).ConfigureAwait(false)
                : null);
    }

    /// <summary>How many services the table holds: added ones and live loaded ones (loads in progress count too).</summary>
    public int Count
    {
        get
        {
            lock (gate)
            {
                return added.Count + loaded.Count;
            }
        }
    }

    /// <summary>Whether a loaded service for <paramref name="digest"/> is held live (or loading) now.</summary>
    public bool IsLoaded(ServiceDigest digest)
    {
        ArgumentNullException.ThrowIfNull(digest);
        lock (gate)
        {
            return loaded.ContainsKey(digest);
        }
    }

    bool IVatBoundRestorer.IsAttached => binding.IsAttached;

    void IVatBoundRestorer.Attach(Vat vat)
    {
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            binding.Attach(vat);
            foreach (var digest in added.Keys.ToArray())
            {
                added[digest] = vat.Loop.Adopt(added[digest]);
            }
        }
    }

    /// <summary>
    /// Serves <paramref name="service"/> (a server object, or a capability whose reference the
    /// table takes over) under <paramref name="serviceId"/> until removed.
    /// </summary>
    /// <exception cref="ArgumentException">The ID is empty (the vat's bootstrap), or the table has a service with this ID already.</exception>
    /// <exception cref="ObjectDisposedException">The table was disposed.</exception>
    public void Add(ReadOnlySpan<byte> serviceId, ICallTarget service)
    {
        ArgumentNullException.ThrowIfNull(service);
        if (serviceId.IsEmpty)
            throw new ArgumentException("The empty service ID is the vat's bootstrap service: use VatOptions.Bootstrap.", nameof(serviceId));
        var digest = ServiceDigest.Of(serviceId);
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            if (added.ContainsKey(digest))
                throw new ArgumentException("The table already has a service with this ID.", nameof(serviceId));
            added.Add(digest, binding.Vat is { } vat ? vat.Loop.Adopt(service) : service);
        }
    }

    /// <summary>
    /// Stops serving <paramref name="serviceId"/>: an added service's reference is released; a
    /// loaded one is forgotten (peers holding it keep it; the next request loads again). Stored
    /// data is untouched (remove it from the store yourself).
    /// </summary>
    /// <returns>Whether the table had the ID.</returns>
    public bool Remove(ReadOnlySpan<byte> serviceId)
    {
        var digest = ServiceDigest.Of(serviceId);
        ICallTarget? released;
        bool forgot;
        lock (gate)
        {
            added.Remove(digest, out released);
            forgot = loaded.Remove(digest);
        }

        released?.Release();
        return released is not null || forgot;
    }

    /// <summary>
    /// The sturdy ref of <paramref name="serviceId"/> in the vat this table serves, to hand to
    /// clients (it holds the secret ID: log it only redacted).
    /// </summary>
    /// <exception cref="InvalidOperationException">The table does not serve a vat yet.</exception>
    public SturdyRef GetSturdyRef(ReadOnlySpan<byte> serviceId) => binding.Required.GetSturdyRef(serviceId);

    /// <summary>Removes every service (see <see cref="Remove"/>).</summary>
    public void Clear()
    {
        ICallTarget[] released;
        lock (gate)
        {
            released = [.. added.Values];
            added.Clear();
            loaded.Clear();
        }

        foreach (var service in released)
        {
            service.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask<ICallTarget?> RestoreAsync(ReadOnlyMemory<byte> serviceId, CancellationToken cancellationToken)
    {
        var vat = await binding.WaitAsync(cancellationToken).ConfigureAwait(false);
        var digest = ServiceDigest.Of(serviceId.Span);
        while (true)
        {
            LoadedEntry entry;
            lock (gate)
            {
                ObjectDisposedException.ThrowIf(disposed, this);
                if (added.TryGetValue(digest, out var service))
                    return VatBinding.NewReference(service);
                if (loader is null)
                    return null;
                if (loaded.TryGetValue(digest, out entry!))
                {
                    if (entry.Live is { } live)
                    {
                        // Exported under the lock: its release hook cannot drop the entry in between.
                        return vat.Loop.CreateCapability(live);
                    }
                }
                else
                {
                    entry = new LoadedEntry(digest);
                    loaded.Add(digest, entry);
                    var sturdyRef = vat.GetSturdyRef(serviceId.Span);
                    entry.Load = Task.Run(() => LoadAsync(entry, sturdyRef));
                }

                entry.Waiters++;
            }

            bool found;
            try
            {
                found = await entry.Load!.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                LeaveWaiting(entry);
                throw;
            }

            lock (gate)
            {
                entry.Waiters--;
                ObjectDisposedException.ThrowIf(disposed, this);
                if (!found)
                    return null;
                if (entry.Live is { } live && loaded.TryGetValue(digest, out var current) && current == entry)
                    return vat.Loop.CreateCapability(live);
            }

            // The entry went while loading (removed, or released already): look again.
        }
    }

    private async Task<bool> LoadAsync(LoadedEntry entry, SturdyRef sturdyRef)
    {
        ICallTarget? service;
        try
        {
            service = await loader!(sturdyRef, entry.Digest, disposing.Token).ConfigureAwait(false);
        }
        catch
        {
            Forget(entry);
            throw;
        }

        if (service is null)
        {
            Forget(entry);
            return false;
        }

        lock (gate)
        {
            if (!disposed && loaded.TryGetValue(entry.Digest, out var current) && current == entry)
            {
                entry.Live = new LoadedService(this, entry, service);
                if (entry.Waiters > 0)
                    return true;
                // Every requester gave up while it loaded: hold nothing nobody asked for.
                loaded.Remove(entry.Digest);
            }
        }

        // Removed or disposed while loading: nobody will get it.
        await ReleaseAsync(service).ConfigureAwait(false);
        return true;
    }

    // A waiter gave up (cancelled): when it was the last and nobody holds the loaded service, drop it.
    private void LeaveWaiting(LoadedEntry entry)
    {
        LoadedService? orphan = null;
        lock (gate)
        {
            entry.Waiters--;
            if (entry.Waiters == 0 && entry.Live is { } live && !ServerExports.IsExported(live)
                && loaded.TryGetValue(entry.Digest, out var current) && current == entry)
            {
                loaded.Remove(entry.Digest);
                orphan = live;
            }
        }

        if (orphan is not null)
            _ = ReleaseAsync(orphan.Service);
    }

    private void Forget(LoadedEntry entry)
    {
        lock (gate)
        {
            if (loaded.TryGetValue(entry.Digest, out var current) && current == entry)
                loaded.Remove(entry.Digest);
        }
    }

    // The release hook of a loaded service: every reference anywhere is gone.
    private async ValueTask ReleasedAsync(LoadedService service)
    {
        lock (gate)
        {
            // Restored again after the engine dropped the last export and before this hook ran: keep it.
            if (ServerExports.IsExported(service))
                return;
            if (loaded.TryGetValue(service.Entry.Digest, out var current) && current.Live == service)
                loaded.Remove(service.Entry.Digest);
        }

        await ReleaseAsync(service.Service).ConfigureAwait(false);
    }

    private async ValueTask ReleaseAsync(ICallTarget service)
    {
        if (service is CapabilityServer server)
            await ServerExports.RunReleaseHookAsync(server, binding.Vat?.Loop.Logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance).ConfigureAwait(false);
        else
            service.Release();
    }

    /// <summary>Releases every added service, forgets the loaded ones and cancels loads in progress; later requests fail.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (gate)
        {
            if (disposed)
                return;
            disposed = true;
        }

        await disposing.CancelAsync().ConfigureAwait(false);
        Clear();
    }

    private sealed class LoadedEntry(ServiceDigest digest)
    {
        public ServiceDigest Digest { get; } = digest;

        public Task<bool>? Load { get; set; }

        public LoadedService? Live { get; set; }

        public int Waiters { get; set; }
    }

    /// <summary>
    /// What the table exports for a loaded service: calls go to the service, and its release
    /// hook (every reference anywhere dropped) tells the table.
    /// </summary>
    private sealed class LoadedService(RestorerTable table, LoadedEntry entry, ICallTarget service) : CapabilityServer
    {
        public LoadedEntry Entry { get; } = entry;

        public ICallTarget Service { get; } = service;

        protected override IReadOnlyList<(ulong InterfaceId, ushort MethodId)> StreamingMethods =>
            Service is CapabilityServer server ? server.StreamingMethodKeys : [];

        protected override async Task DispatchAsync(ulong interfaceId, ushort methodId, MessageReader parameters, MessageBuilder results, CancellationToken cancellationToken)
        {
            if (Service is CapabilityServer server)
            {
                await server.InvokeAsync(interfaceId, methodId, parameters, results, cancellationToken).ConfigureAwait(false);
                return;
            }

            var request = new MessageBuilder();
            request.SetRoot(parameters.Root);
            var answer = await Service.CallAsync(interfaceId, methodId, request, cancellationToken).ConfigureAwait(false);
            results.SetRoot(answer.Root);
        }

        protected override ValueTask OnReleasedAsync() => table.ReleasedAsync(this);
    }
}
