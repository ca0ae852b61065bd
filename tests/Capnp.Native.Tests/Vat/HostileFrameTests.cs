using System.Buffers.Binary;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Capnp.Native.Serialization;
using Capnp.Native.Tests.Rpc;
using Interop;

namespace Capnp.Native.Tests.Vat;

/// <summary>
/// Malformed frames and protocol abuse, each on a connection of its own to a C# vat, while a
/// well-behaved client of the same vat keeps being served: the vat closes the abusive connection
/// and nothing else.
/// </summary>
public sealed class HostileFrameTests
{
    public static TheoryData<string> Abuses => [.. HostileFrames.Keys];

    private static readonly Dictionary<string, Func<byte[]>> HostileFrames = new()
    {
        ["random bytes"] = () =>
        {
            var bytes = new byte[64 * 1024];
            new Random(1234).NextBytes(bytes);
            return bytes;
        },
        ["2^32 segments"] = () => [0xFF, 0xFF, 0xFF, 0xFF, 1, 0, 0, 0],
        ["a segment of 2^32 - 1 words"] = () => [0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF],
        ["a root pointer past its segment"] = () => Frame(
            // One segment of one word: a struct pointer 1000 words ahead, with 1 data word.
            BitConverter.GetBytes((1000UL << 2) | (1UL << 32))),
        ["a pointer cycle"] = () => Frame(
            // The root is a struct (no data, one pointer) whose pointer points back at that same
            // struct: a message nested in itself forever, as an "unimplemented" Message reads it.
            [.. BitConverter.GetBytes(1UL << 48), .. BitConverter.GetBytes(unchecked((ulong)(uint)(-1 << 2)) | (1UL << 48))]),
        ["Finish for a question never asked"] = () => Rpc(m => m.InitFinish().QuestionId = 99),
        ["Return for a question never asked"] = () => Rpc(m => m.InitReturn().AnswerId = 77),
        ["releasing more than it holds"] = () => Rpc(m =>
        {
            var release = m.InitRelease();
            release.Id = 0;
            release.ReferenceCount = 1000;
        }),
        ["Disembargo for nothing"] = () => Rpc(m => m.InitDisembargo().InitTarget().ImportedCap = 5),
        ["a call to an import that does not exist"] = () => Rpc(m =>
        {
            var call = m.InitCall();
            call.QuestionId = 1;
            call.InitTarget().ImportedCap = 42;
            call.InitParams();
        }),
    };

    [Theory]
    [MemberData(nameof(Abuses))]
    public async Task TheVatClosesTheAbusiveConnectionAndKeepsServingTheOthers(string abuse)
    {
        await using var server = await VatTests.StartServerAsync(new VatOptions { DisableTls = true });
        await using var bystander = await Native.Vat.StartAsync(new VatOptions());
        using var polite = await bystander.ConnectAsync<TestService.Client>(server.GetSturdyRef()).WaitAsync(RpcPair.Bound);
        Assert.Equal("before", (await polite.EchoAsync("before").AsTask().WaitAsync(RpcPair.Bound)).Text);

        using (var attacker = new Socket(SocketType.Stream, ProtocolType.Tcp))
        {
            await attacker.ConnectAsync(server.ListenAddress!.ToEndPoint());
            await attacker.SendAsync(HostileFrames[abuse]());
            await ReadUntilClosedAsync(attacker);
        }

        Assert.Equal("after", (await polite.EchoAsync("after").AsTask().WaitAsync(RpcPair.Bound)).Text);
        await ServingListenerTests.WaitUntilServingNoneAsync(server, expected: 1);
    }

    [Theory]
    [MemberData(nameof(Abuses))]
    public async Task OverTlsTheVatClosesTheAbusiveConnectionAndKeepsServingTheOthers(string abuse)
    {
        await using var server = await VatTests.StartServerAsync();
        await using var bystander = await Native.Vat.StartAsync(new VatOptions());
        using var polite = await bystander.ConnectAsync<TestService.Client>(server.GetSturdyRef()).WaitAsync(RpcPair.Bound);
        Assert.Equal("before", (await polite.EchoAsync("before").AsTask().WaitAsync(RpcPair.Bound)).Text);

        // An anonymous TLS client (no certificate) that checks the server's key as our vats do,
        // then sends the hostile bytes inside the session.
        using (var attacker = new TcpClient())
        {
            await attacker.ConnectAsync((System.Net.IPEndPoint)server.ListenAddress!.ToEndPoint());
            await using var tls = new SslStream(attacker.GetStream(), leaveInnerStreamOpen: false,
                (_, certificate, _, _) => certificate is X509Certificate2 presented
                    && server.Digest.Matches(presented.PublicKey.ExportSubjectPublicKeyInfo()));
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "capnp" }).WaitAsync(RpcPair.Bound);
            await tls.WriteAsync(HostileFrames[abuse]());
            await ReadUntilClosedAsync(tls);
        }

        Assert.Equal("after", (await polite.EchoAsync("after").AsTask().WaitAsync(RpcPair.Bound)).Text);
        await ServingListenerTests.WaitUntilServingNoneAsync(server, expected: 1);
    }

    private static async Task ReadUntilClosedAsync(Stream stream)
    {
        var buffer = new byte[4096];
        using var bound = new CancellationTokenSource(RpcPair.Bound);
        try
        {
            while (await stream.ReadAsync(buffer, bound.Token) > 0)
            {
            }
        }
        catch (IOException)
        {
            // A reset, or the TLS session ended without close_notify: closed either way.
        }
    }

    // The vat must end the connection: read (bounded) until end-of-stream or a reset.
    private static async Task ReadUntilClosedAsync(Socket socket)
    {
        var buffer = new byte[4096];
        using var bound = new CancellationTokenSource(RpcPair.Bound);
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, bound.Token) > 0)
            {
            }
        }
        catch (SocketException error) when (error.SocketErrorCode == SocketError.ConnectionReset)
        {
        }
    }

    // A one-segment message of these words, framed.
    private static byte[] Frame(byte[] segment)
    {
        var framed = new byte[8 + segment.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(framed, 0);
        BinaryPrimitives.WriteUInt32LittleEndian(framed.AsSpan(4), (uint)(segment.Length / 8));
        segment.CopyTo(framed, 8);
        return framed;
    }

    private static byte[] Rpc(Action<global::Rpc.Message.Builder> fill)
    {
        using var message = new MessageBuilder();
        fill(message.InitRoot<global::Rpc.Message.Builder>());
        return message.ToFramedArray();
    }
}
