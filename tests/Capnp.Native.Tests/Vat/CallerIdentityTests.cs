using Capnp.Native.Rpc;
using Capnp.Native.Tests.Rpc;
using Interop;

namespace Capnp.Native.Tests.Vat;

/// <summary>Server code learns who called through <see cref="ServerCallContext.Current"/>.</summary>
public sealed class CallerIdentityTests
{
    [Fact]
    public async Task ACallOverTlsCarriesTheCallingVatsKeyFingerprint()
    {
        var service = new TestServiceImpl();
        await using var server = await VatTests.StartServerAsync(new VatOptions { Bootstrap = service });
        await using var client = await Native.Vat.StartAsync(new VatOptions { Identity = VatIdentity.CreateEphemeral() });
        using var remote = await client.ConnectAsync<TestService.Client>(server.GetSturdyRef()).WaitAsync(RpcPair.Bound);

        await remote.EchoAsync("who").AsTask().WaitAsync(RpcPair.Bound);

        var context = Assert.IsType<ServerCallContext>(service.LastEchoContext);
        Assert.Equal(CallOrigin.AuthenticatedPeer, context.Origin);
        Assert.Equal(client.Identity.Digest, context.PeerDigest);
    }

    [Fact]
    public async Task TwoClientsWithDifferentKeysAreToldApart()
    {
        var service = new TestServiceImpl();
        await using var server = await VatTests.StartServerAsync(new VatOptions { Bootstrap = service });
        await using var alice = await Native.Vat.StartAsync(new VatOptions());
        await using var bob = await Native.Vat.StartAsync(new VatOptions());
        using var fromAlice = await alice.ConnectAsync<TestService.Client>(server.GetSturdyRef()).WaitAsync(RpcPair.Bound);
        using var fromBob = await bob.ConnectAsync<TestService.Client>(server.GetSturdyRef()).WaitAsync(RpcPair.Bound);

        for (var round = 0; round < 3; round++)
        {
            await fromAlice.EchoAsync("a").AsTask().WaitAsync(RpcPair.Bound);
            Assert.Equal(alice.Identity.Digest, service.LastEchoContext?.PeerDigest);
            await fromBob.EchoAsync("b").AsTask().WaitAsync(RpcPair.Bound);
            Assert.Equal(bob.Identity.Digest, service.LastEchoContext?.PeerDigest);
        }
    }

    [Fact]
    public async Task ACallOverAPlainConnectionComesFromAnAnonymousPeer()
    {
        var service = new TestServiceImpl();
        await using var server = await VatTests.StartServerAsync(new VatOptions { Bootstrap = service, DisableTls = true });
        await using var client = await Native.Vat.StartAsync(new VatOptions { DisableTls = true });
        using var remote = await client.ConnectAsync<TestService.Client>(server.GetSturdyRef()).WaitAsync(RpcPair.Bound);

        await remote.EchoAsync("who").AsTask().WaitAsync(RpcPair.Bound);

        Assert.Equal(CallOrigin.AnonymousPeer, service.LastEchoContext?.Origin);
        Assert.Null(service.LastEchoContext?.PeerDigest);
    }

    [Fact]
    public async Task ACallMadeInThisProcessHasNoPeer()
    {
        var service = new TestServiceImpl();
        await using var server = await VatTests.StartServerAsync(new VatOptions { Bootstrap = service });
        // The vat's own sturdy ref resolves locally: the call goes through the engine, not a connection.
        using var local = await server.ConnectAsync<TestService.Client>(server.GetSturdyRef()).WaitAsync(RpcPair.Bound);

        await local.EchoAsync("self").AsTask().WaitAsync(RpcPair.Bound);

        Assert.Equal(CallOrigin.Unknown, service.LastEchoContext?.Origin);
        Assert.Null(service.LastEchoContext?.PeerDigest);
    }

    [Fact]
    public async Task AServerCallingAnotherInProcessDoesNotPassItsCallersIdentityOn()
    {
        var inner = new TestServiceImpl();
        var forwarding = new ForwardingService(TestService.Client.Create(inner));
        await using var server = await VatTests.StartServerAsync(new VatOptions { Bootstrap = forwarding });
        await using var client = await Native.Vat.StartAsync(new VatOptions());
        using var remote = await client.ConnectAsync<TestService.Client>(server.GetSturdyRef()).WaitAsync(RpcPair.Bound);

        await remote.EchoAsync("via").AsTask().WaitAsync(RpcPair.Bound);

        Assert.Equal(client.Identity.Digest, forwarding.LastEchoContext?.PeerDigest);
        // The forwarding server made the inner call: it comes from nobody in particular.
        Assert.Equal(CallOrigin.Unknown, inner.LastEchoContext?.Origin);
    }

    /// <summary>The test service, whose Echo also calls another server in process.</summary>
    private sealed class ForwardingService(TestService.Client target) : TestServiceImpl
    {
        public override async Task EchoAsync(TestService.EchoParams.Reader parameters, TestService.EchoResults.Builder results, CancellationToken cancellationToken)
        {
            await base.EchoAsync(parameters, results, cancellationToken);
            await target.EchoAsync(parameters.Text, cancellationToken);
        }
    }
}
