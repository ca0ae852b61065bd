using System.Buffers.Text;
using System.Text;
using Capnp.Native.Persistence;
using Capnp.Native.Tests.Rpc;
using Interop;

namespace Capnp.Native.Tests.Vat;

/// <summary>Secrets (service IDs, sturdy refs, keys) never reach the logs, even at debug level.</summary>
public sealed class SecretsInLogsTests
{
    [Fact]
    public async Task AWholeSessionLoggedAtDebugLevelShowsNoServiceIdSturdyRefOrKey()
    {
        var serverLog = new VatLoggingTests.CapturingLogger();
        var clientLog = new VatLoggingTests.CapturingLogger();
        var identity = VatIdentity.CreateEphemeral();
        var serviceId = identity.DerivedServiceId("secret service");
        await using var restorer = new SingleRestorer(serviceId, new TestServiceImpl());
        var sturdyRef = default(SturdyRef);
        await using (var server = await Native.Vat.StartAsync(new VatOptions
        {
            Identity = identity,
            ListenAddress = VatAddress.Parse("tcp:127.0.0.1:0"),
            Restorer = restorer,
            Logger = serverLog,
        }))
        {
            sturdyRef = server.GetSturdyRef(serviceId);
            await using var client = await Native.Vat.StartAsync(new VatOptions { Logger = clientLog });
            using (var service = await client.ConnectAsync<TestService.Client>(sturdyRef).WaitAsync(RpcPair.Bound))
            {
                Assert.Equal("a", (await service.EchoAsync("a").AsTask().WaitAsync(RpcPair.Bound)).Text);
            }

            // A wrong ID (one byte off) is refused; its text must not be logged either.
            var wrongId = (byte[])serviceId.Clone();
            wrongId[0] ^= 1;
            using var wrong = await client.ConnectAsync<TestService.Client>(server.GetSturdyRef(wrongId)).WaitAsync(RpcPair.Bound);
            await Assert.ThrowsAsync<RpcFailedException>(() => wrong.EchoAsync("b").AsTask().WaitAsync(RpcPair.Bound));
        }

        var entries = serverLog.Entries.Concat(clientLog.Entries).Select(e => e.Text).ToList();
        Assert.NotEmpty(entries); // the session was logged (connections at debug level)
        var secrets = new[]
        {
            Base64Url.EncodeToString(serviceId),
            sturdyRef!.ToString(),
            Convert.ToBase64String(serviceId),
            Encoding.ASCII.GetString(identity.PrivateKeyPem).Split('\n')[1], // a line of the key
        };
        foreach (var secret in secrets)
        {
            Assert.DoesNotContain(entries, text => text.Contains(secret, StringComparison.Ordinal));
        }
    }
}
