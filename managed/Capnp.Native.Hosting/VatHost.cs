namespace Capnp.Native.Hosting;

/// <summary>
/// The hosted vat, for the rest of the application: a singleton in dependency injection
/// (registered by <c>AddCapnpVat</c>) that gives the <see cref="Native.Vat"/> once the host has
/// started it, e.g. for <see cref="Native.Vat.GetSturdyRef"/>, and tells when the host begins to
/// stop it.
/// </summary>
/// <remarks>
/// Lifetime: the host starts the vat in its start phase (the listener is bound when
/// <c>IHost.StartAsync</c> completes). When the host stops, the vat refuses new calls to its
/// bootstrap service and new restores with <see cref="RpcDisconnectedException"/>
/// (<see cref="Stopping"/> fires), waits until the bootstrap's calls in flight have been answered
/// (at most until the host's shutdown timeout), then is disposed: its connections close.
/// </remarks>
public sealed class VatHost
{
    private readonly TaskCompletionSource<Vat> started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource stopping = new();
    private int stopBegun;

    internal VatHost()
    {
    }

    /// <summary>The vat, once started.</summary>
    /// <exception cref="InvalidOperationException">The host has not started the vat (yet, or it failed to start).</exception>
    public Vat Vat => started.Task.IsCompletedSuccessfully
        ? started.Task.Result
        : throw new InvalidOperationException("The vat has not been started: start the host first, or await VatHost.WhenStartedAsync.");

    /// <summary>Whether the host has started the vat (it may have stopped it since).</summary>
    public bool IsStarted => started.Task.IsCompletedSuccessfully;

    /// <summary>
    /// Fires when the host begins to stop the vat: from then on new calls to the bootstrap
    /// service and new restores are refused. Calls in flight may use it to finish early.
    /// </summary>
    public CancellationToken Stopping => stopping.Token;

    /// <summary>Calls to the bootstrap service that peers made and that have not been answered yet.</summary>
    public int CallsInFlight => Gate.InFlight;

    internal CallGate Gate { get; } = new();

    /// <summary>
    /// The vat, once the host has started it. After the host stopped, it is the disposed vat.
    /// </summary>
    /// <exception cref="InvalidOperationException">The vat failed to start (the inner exception says why), or the host stopped before starting it.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled first.</exception>
    public async Task<Vat> WhenStartedAsync(CancellationToken cancellationToken = default)
        => await started.Task.WaitAsync(cancellationToken).ConfigureAwait(false);

    internal void SetStarted(Vat vat) => started.TrySetResult(vat);

    internal void SetNotStarted(Exception reason)
        => started.TrySetException(reason as InvalidOperationException ?? new InvalidOperationException("The vat failed to start: " + reason.Message, reason));

    /// <summary>Closes the gate, then fires <see cref="Stopping"/> (once); a callback's exception is returned, not thrown.</summary>
    internal Exception? BeginStop()
    {
        if (Interlocked.Exchange(ref stopBegun, 1) != 0)
        {
            return null;
        }

        Gate.Close();
        try
        {
            stopping.Cancel();
            return null;
        }
        catch (AggregateException error)
        {
            return error;
        }
    }
}
