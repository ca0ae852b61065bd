using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Capnp.Native.Hosting;

/// <summary>
/// Starts the vat with the host and stops it gracefully: when the host begins to stop, new calls
/// to the bootstrap service and new restores are refused; when the host stops this service, it
/// waits for the bootstrap's calls in flight (until the host's shutdown timeout cancels the stop
/// token), lets the loop send their answers, then disposes the vat.
/// </summary>
internal sealed class VatHostedService : IHostedLifecycleService
{
    // Trips through the loop after the last answer (see FlushAsync).
    private static readonly byte[] Ping = [0];

    private readonly VatHost host;
    private readonly VatRegistration registration;
    private readonly IOptions<VatHostOptions> options;
    private readonly IServiceProvider services;
    private readonly ILoggerFactory loggers;
    private readonly ILogger logger;
    private int stopped;

    public VatHostedService(VatHost host, VatRegistration registration, IOptions<VatHostOptions> options, IServiceProvider services)
    {
        this.host = host;
        this.registration = registration;
        this.options = options;
        this.services = services;
        loggers = services.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance;
        logger = loggers.CreateLogger<VatHost>();
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        Vat vat;
        try
        {
            var bootstrap = registration.Bootstrap?.Invoke(services);
            var restorer = registration.Restorer?.Invoke(services);
            var vatOptions = options.Value.ToVatOptions() with
            {
                Bootstrap = bootstrap is null ? null : new HostedServer(bootstrap, host.Gate),
                Restorer = restorer is null ? null : new GatedRestorer(restorer, host.Gate),
                Logger = loggers.CreateLogger<Vat>(),
            };
            vat = await Vat.StartAsync(vatOptions, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception error)
        {
            host.SetNotStarted(error);
            throw;
        }

        host.SetStarted(vat);
    }

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    // The host's first step of stopping: refuse new calls at once, before other services stop.
    public Task StoppingAsync(CancellationToken cancellationToken)
    {
        BeginStop();
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        BeginStop();
        if (Interlocked.Exchange(ref stopped, 1) != 0)
        {
            // The host stops its services once; a second IHost.StopAsync finds the vat disposed.
            return;
        }

        if (!host.IsStarted)
        {
            host.SetNotStarted(new InvalidOperationException("The host stopped before the vat started."));
            return;
        }

        var vat = host.Vat;
        var inFlight = host.Gate.InFlight;
        if (inFlight > 0)
        {
            logger.LogInformation("Vat stopping: refusing new calls, waiting for {Calls} call(s) in flight", inFlight);
        }

        try
        {
            await host.Gate.WhenDrainedAsync(cancellationToken).ConfigureAwait(false);
            await FlushAsync(vat, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning("Vat stopping: the host's shutdown timeout elapsed with {Calls} call(s) in flight; they fail as the vat closes", host.Gate.InFlight);
        }
        catch (Exception error)
        {
            // The loop failed or went: nothing left to flush.
            logger.LogDebug(error, "Vat stopping: flushing the last answers failed");
        }

        await vat.DisposeAsync().ConfigureAwait(false);
        logger.LogInformation("Vat stopped");
    }

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private void BeginStop()
    {
        if (host.BeginStop() is { } error)
        {
            logger.LogError(error, "A callback registered on VatHost.Stopping threw");
        }
    }

    // The dispatcher hands an answer to the loop's command queue before it counts the call as
    // answered, so once the gate drained every answer is queued. The first trip through the loop
    // runs after those commands, the second after the loop's I/O turn that followed them, in which
    // the answers were written to their connections; disposing the vat before that would drop them.
    private static async Task FlushAsync(Vat vat, CancellationToken cancellationToken)
    {
        for (var trip = 0; trip < 2; trip++)
        {
            await vat.Loop.EchoAsync(Ping).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}
