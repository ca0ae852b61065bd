using System.Net;
using System.Net.Sockets;
using Capnp.Native.Tests.Rpc;
using Interop;

namespace Capnp.Native.Tests.Vat;

/// <summary>The <c>[ connecting to ADDRESS ]</c> indicator for slow connects.</summary>
public sealed class ConnectProgressTests
{
    [Fact]
    public async Task ASlowConnectShowsTheIndicatorAndErasesItAfter()
    {
        // A peer that accepts and never answers the TLS handshake: the connect takes the whole
        // handshake timeout, well past the indicator's half second.
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var port = ((IPEndPoint)silent.LocalEndpoint).Port;
        var progress = new StringWriter();
        await using var client = await Native.Vat.StartAsync(new VatOptions { ConnectProgress = progress, HandshakeTimeout = TimeSpan.FromSeconds(2) });
        var target = new SturdyRef(VatAddress.Parse($"tcp:127.0.0.1:{port}"), VatIdentity.CreateEphemeral().Digest, default);

        await Assert.ThrowsAnyAsync<RpcException>(() => client.ConnectAsync<TestService.Client>(target).WaitAsync(RpcPair.Bound));

        var indicator = $"[ connecting to tcp:127.0.0.1:{port} ]";
        Assert.Equal(indicator + "\r" + new string(' ', indicator.Length) + "\r", progress.ToString());
    }
}
