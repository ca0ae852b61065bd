using Capnp.Native.Hosting.Tests.Schema;
using Capnp.Native.Persistence;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Capnp.Native.Hosting.Tests;

public sealed class VatHostTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private const string VatCategory = "Capnp.Native.Vat";
    private const string HostingCategory = "Capnp.Native.Hosting.VatHost";

    private sealed record TestHost(IHost Host, CapturingLoggerProvider Logs) : IAsyncDisposable
    {
        public VatHost VatHost => Host.Services.GetRequiredService<VatHost>();

        public CallGates Gates => Host.Services.GetRequiredService<CallGates>();

        public async ValueTask DisposeAsync()
        {
            // A test that failed half-way must not leave a call (and so the host's stop) waiting.
            Gates.Release.TrySetResult();
            await Host.StopAsync().WaitAsync(Bound);
            // The container disposes its singletons (e.g. a SingleRestorer, only IAsyncDisposable).
            await ((IAsyncDisposable)Host).DisposeAsync();
        }
    }

    private static TestHost BuildHost(
        Dictionary<string, string?>? configuration = null,
        Action<IServiceCollection>? addServices = null,
        Action<CapnpVatBuilder>? serve = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(configuration ?? new Dictionary<string, string?> { ["Capnp:ListenAddress"] = "tcp:127.0.0.1:0" });
        var logs = new CapturingLoggerProvider();
        builder.Logging.ClearProviders().AddProvider(logs).SetMinimumLevel(LogLevel.Debug);
        builder.Services.AddSingleton(new Greeting("hello "));
        builder.Services.AddSingleton<CallGates>();
        builder.Services.AddSingleton<EchoService>();
        addServices?.Invoke(builder.Services);
        var vat = builder.Services.AddCapnpVat(builder.Configuration.GetSection("Capnp"));
        (serve ?? (v => v.WithBootstrap<EchoService>()))(vat);
        return new TestHost(builder.Build(), logs);
    }

    [Fact]
    public async Task AHostedVatServesItsBootstrapFromDependencyInjectionOverTlsAndLogsToTheHost()
    {
        await using var test = BuildHost();
        await test.Host.StartAsync().WaitAsync(Bound);
        var vat = await test.VatHost.WhenStartedAsync().WaitAsync(Bound);
        Assert.Same(vat, test.VatHost.Vat);
        var sturdyRef = vat.GetSturdyRef();
        Assert.False(sturdyRef.Digest.IsInsecure);
        Assert.Equal(vat.Identity.Digest, sturdyRef.Digest);

        await using var client = await Vat.StartAsync(new VatOptions()).WaitAsync(Bound);
        using var echo = await client.ConnectAsync<Echo.Client>(sturdyRef).WaitAsync(Bound);
        // The prefix is the Greeting the container injected into the EchoService.
        Assert.Equal("hello world", (await echo.PingAsync("world").AsTask().WaitAsync(Bound)).Reply);
        Assert.Equal(0, test.VatHost.CallsInFlight);

        // The vat's own log, through VatOptions.Logger from the host's ILoggerFactory.
        Assert.True(test.Logs.Logged(VatCategory, LogLevel.Information, $"Vat listening on {vat.ListenAddress} (TLS"), string.Join("\n", test.Logs.Entries));
        await test.Host.StopAsync().WaitAsync(Bound);
        Assert.True(test.Logs.Logged(HostingCategory, LogLevel.Information, "Vat stopped"));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => vat.ConnectAsync<Echo.Client>(sturdyRef));
        // Stopping again does nothing more.
        await test.Host.StopAsync().WaitAsync(Bound);
        Assert.Single(test.Logs.Entries, entry => entry.Category == HostingCategory && entry.Message == "Vat stopped");
    }

    [Fact]
    public async Task ConfigurationSetsTheKeyFileTlsAndPublicAddress()
    {
        var folder = Directory.CreateTempSubdirectory("capnp-hosting-");
        try
        {
            var keyFile = Path.Combine(folder.FullName, "vat.pem");
            await using var test = BuildHost(new Dictionary<string, string?>
            {
                ["Capnp:ListenAddress"] = "tcp:127.0.0.1:0",
                ["Capnp:PublicAddress"] = "tcp:vat.example:7000",
                ["Capnp:SecretKeyFile"] = keyFile,
                ["Capnp:DisableTls"] = "true",
            });
            await test.Host.StartAsync().WaitAsync(Bound);
            var vat = await test.VatHost.WhenStartedAsync().WaitAsync(Bound);

            // The host created the key file; loading it again gives the vat's key.
            Assert.Equal(VatIdentity.LoadOrCreate(keyFile).Digest, vat.Identity.Digest);
            var sturdyRef = vat.GetSturdyRef();
            Assert.Equal(VatAddress.Parse("tcp:vat.example:7000"), sturdyRef.Address);
            Assert.True(sturdyRef.Digest.IsInsecure);
            Assert.True(test.Logs.Logged(VatCategory, LogLevel.Information, "(insecure"));

            await using var client = await Vat.StartAsync(new VatOptions()).WaitAsync(Bound);
            using var echo = await client.ConnectAsync<Echo.Client>(new SturdyRef(vat.ListenAddress!, vat.Digest, default)).WaitAsync(Bound);
            Assert.Equal("hello plain", (await echo.PingAsync("plain").AsTask().WaitAsync(Bound)).Reply);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public void AMalformedConfigurationValueNamesItsKey()
    {
        var section = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Capnp:ListenAddress"] = "127.0.0.1:7000", ["Capnp:DisableTls"] = "yes" })
            .Build().GetSection("Capnp");

        var error = Assert.Throws<InvalidOperationException>(() => new VatHostOptions().BindConfiguration(section));

        Assert.Contains("Capnp:ListenAddress", error.Message);
        Assert.IsType<VatAddressFormatException>(error.InnerException);
    }

    [Fact]
    public async Task StoppingTheHostLetsTheCallInFlightFinishRefusesNewCallsThenClosesTheVat()
    {
        await using var test = BuildHost();
        await test.Host.StartAsync().WaitAsync(Bound);
        var vat = await test.VatHost.WhenStartedAsync().WaitAsync(Bound);
        await using var client = await Vat.StartAsync(new VatOptions()).WaitAsync(Bound);
        using var echo = await client.ConnectAsync<Echo.Client>(vat.GetSturdyRef()).WaitAsync(Bound);
        var slow = echo.PingAsync("slow");
        await test.Gates.Entered.Task.WaitAsync(Bound);
        Assert.Equal(1, test.VatHost.CallsInFlight);

        var stopped = test.Host.StopAsync();
        var stopping = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (test.VatHost.Stopping.Register(() => stopping.TrySetResult()))
        {
            await stopping.Task.WaitAsync(Bound);
        }

        // The vat still serves the call in flight, and refuses a new one.
        var refused = await Assert.ThrowsAsync<RpcDisconnectedException>(() => echo.PingAsync("late").AsTask().WaitAsync(Bound));
        Assert.Contains("shutting down", refused.Message);
        Assert.False(stopped.IsCompleted);
        Assert.False(slow.AsTask().IsCompleted);

        test.Gates.Release.TrySetResult();
        Assert.Equal("hello slow", (await slow.AsTask().WaitAsync(Bound)).Reply);
        await stopped.WaitAsync(Bound);

        // Then the vat is closed: its connection is gone.
        await Assert.ThrowsAsync<RpcDisconnectedException>(() => echo.PingAsync("after").AsTask().WaitAsync(Bound));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => vat.ConnectAsync<Echo.Client>(vat.GetSturdyRef()));
    }

    [Fact]
    public async Task TheHostsShutdownTimeoutBoundsTheWaitForCallsInFlight()
    {
        await using var test = BuildHost(addServices: services => services.Configure<HostOptions>(options => options.ShutdownTimeout = TimeSpan.FromMilliseconds(200)));
        await test.Host.StartAsync().WaitAsync(Bound);
        var vat = await test.VatHost.WhenStartedAsync().WaitAsync(Bound);
        await using var client = await Vat.StartAsync(new VatOptions()).WaitAsync(Bound);
        using var echo = await client.ConnectAsync<Echo.Client>(vat.GetSturdyRef()).WaitAsync(Bound);
        var slow = echo.PingAsync("slow");
        await test.Gates.Entered.Task.WaitAsync(Bound);

        // The call never finishes by itself: the host gives up after its shutdown timeout.
        await test.Host.StopAsync().WaitAsync(Bound);

        await Assert.ThrowsAsync<RpcDisconnectedException>(() => slow.AsTask().WaitAsync(Bound));
        Assert.True(test.Logs.Logged(HostingCategory, LogLevel.Warning, "shutdown timeout elapsed with 1 call(s) in flight"), string.Join("\n", test.Logs.Entries));
    }

    [Fact]
    public async Task TheRestorerComesFromDependencyInjectionAndNewRestoresAreRefusedWhileStopping()
    {
        var serviceId = "echo-service-id"u8.ToArray();
        await using var test = BuildHost(
            addServices: services => services.AddSingleton(provider => new SingleRestorer(serviceId, new EchoService(new Greeting("restored "), provider.GetRequiredService<CallGates>()))),
            serve: vat => vat.WithBootstrap<EchoService>().WithRestorer<SingleRestorer>());
        await test.Host.StartAsync().WaitAsync(Bound);
        var vat = await test.VatHost.WhenStartedAsync().WaitAsync(Bound);

        await using var client = await Vat.StartAsync(new VatOptions()).WaitAsync(Bound);
        using (var restored = await client.ConnectAsync<Echo.Client>(vat.GetSturdyRef(serviceId)).WaitAsync(Bound))
        {
            Assert.Equal("restored id", (await restored.PingAsync("id").AsTask().WaitAsync(Bound)).Reply);
        }

        // A bootstrap call in flight holds the stop open.
        using var echo = await client.ConnectAsync<Echo.Client>(vat.GetSturdyRef()).WaitAsync(Bound);
        var slow = echo.PingAsync("slow");
        await test.Gates.Entered.Task.WaitAsync(Bound);
        var stopped = test.Host.StopAsync();
        var stopping = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (test.VatHost.Stopping.Register(() => stopping.TrySetResult()))
        {
            await stopping.Task.WaitAsync(Bound);
        }

        using (var late = await client.ConnectAsync<Echo.Client>(vat.GetSturdyRef(serviceId)).WaitAsync(Bound))
        {
            var refused = await Assert.ThrowsAsync<RpcDisconnectedException>(() => late.PingAsync("late").AsTask().WaitAsync(Bound));
            Assert.Contains("shutting down", refused.Message);
        }

        test.Gates.Release.TrySetResult();
        Assert.Equal("hello slow", (await slow.AsTask().WaitAsync(Bound)).Reply);
        await stopped.WaitAsync(Bound);
    }

    [Fact]
    public async Task ABootstrapServiceMissingFromTheContainerFailsTheStartAndWhenStartedAsync()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddCapnpVat(options => options.ListenAddress = VatAddress.Parse("tcp:127.0.0.1:0")).WithBootstrap<EchoService>();
        using var host = builder.Build();
        var vatHost = host.Services.GetRequiredService<VatHost>();
        Assert.Throws<InvalidOperationException>(() => vatHost.Vat);
        var waiting = vatHost.WhenStartedAsync();

        await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync().WaitAsync(Bound));

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => waiting.WaitAsync(Bound));
        Assert.Contains(nameof(EchoService), error.Message);
        Assert.False(vatHost.IsStarted);
    }

    [Fact]
    public void OneVatPerServiceCollection()
    {
        var services = new ServiceCollection();
        services.AddCapnpVat();

        Assert.Throws<InvalidOperationException>(() => services.AddCapnpVat());
    }
}
