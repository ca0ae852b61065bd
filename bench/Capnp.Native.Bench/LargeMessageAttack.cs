using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Capnp.Native.Bench;

/// <summary>
/// The large-message attack of issue #14: several connections each sending well-formed RPC
/// messages of tens of MiB to a server as fast as it reads them, while a bystander's calls are
/// timed. Each message is a Bootstrap carried with one large unused segment (the server reads it
/// all before it can handle the Bootstrap), followed by a Finish for it; whatever the server
/// sends back is read and dropped, so the attackers are peers the server must keep serving.
/// </summary>
internal sealed class LargeMessageAttack : IAsyncDisposable
{
    private readonly CancellationTokenSource stop = new();
    private readonly List<Task> attackers = [];
    private long messagesSent;

    private LargeMessageAttack()
    {
    }

    /// <summary>Large messages the attackers have sent in full so far.</summary>
    public long MessagesSent => Interlocked.Read(ref messagesSent);

    /// <summary>Starts <paramref name="connections"/> attackers against <paramref name="server"/>, each sending messages of about <paramref name="messageBytes"/>.</summary>
    public static LargeMessageAttack Start(IPEndPoint server, int connections, int messageBytes)
    {
        var attack = new LargeMessageAttack();
        // Only ever read: one buffer serves every attacker.
        var padding = new byte[messageBytes / 8 * 8];
        for (var i = 0; i < connections; i++)
        {
            attack.attackers.Add(Task.Run(() => attack.AttackAsync(server, padding)));
        }

        return attack;
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        foreach (var attacker in attackers)
        {
            try
            {
                await attacker;
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or IOException)
            {
                // Stopped mid-write, or the server dropped the connection.
            }
        }

        stop.Dispose();
    }

    private async Task AttackAsync(IPEndPoint server, byte[] padding)
    {
        while (!stop.IsCancellationRequested)
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync(server, stop.Token);
            var drain = DrainAsync(socket, stop.Token);
            try
            {
                for (uint question = 0; !stop.IsCancellationRequested; question++)
                {
                    await socket.SendAsync(BootstrapHeader(question, padding.Length), stop.Token);
                    await socket.SendAsync(padding, stop.Token);
                    await socket.SendAsync(Finish(question), stop.Token);
                    Interlocked.Increment(ref messagesSent);
                }
            }
            catch (SocketException)
            {
                // The server closed this connection: open another.
            }
            finally
            {
                socket.Close();
                try
                {
                    await drain;
                }
                catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                }
            }
        }
    }

    private static async Task DrainAsync(Socket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[64 * 1024];
        while (await socket.ReceiveAsync(buffer, cancellationToken) > 0)
        {
        }
    }

    // Frame: two segments. Segment 0 (5 words): the root pointer to a Message (1 data word,
    // 1 pointer), its union tag 8 (bootstrap) and pointer to a Bootstrap (1 data word,
    // 1 pointer) holding the question ID and a null object ID. Segment 1: padding, referenced
    // by nothing; the bytes follow the header.
    private static byte[] BootstrapHeader(uint question, int paddingBytes)
    {
        var frame = new byte[16 + 5 * 8];
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(0), 1); // segment count - 1
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(4), 5);
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(8), (uint)(paddingBytes / 8));
        var words = frame.AsSpan(16);
        BinaryPrimitives.WriteUInt64LittleEndian(words[0..], StructPointer(0, 1, 1));
        BinaryPrimitives.WriteUInt16LittleEndian(words[8..], 8);
        BinaryPrimitives.WriteUInt64LittleEndian(words[16..], StructPointer(0, 1, 1));
        BinaryPrimitives.WriteUInt32LittleEndian(words[24..], question);
        return frame;
    }

    // One segment: a Message with union tag 4 (finish) and a Finish (1 data word) for the
    // question; releaseResultCaps keeps its default (true), so the bootstrap capability goes.
    private static byte[] Finish(uint question)
    {
        var frame = new byte[8 + 4 * 8];
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(0), 0);
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(4), 4);
        var words = frame.AsSpan(8);
        BinaryPrimitives.WriteUInt64LittleEndian(words[0..], StructPointer(0, 1, 1));
        BinaryPrimitives.WriteUInt16LittleEndian(words[8..], 4);
        BinaryPrimitives.WriteUInt64LittleEndian(words[16..], StructPointer(0, 1, 0));
        BinaryPrimitives.WriteUInt32LittleEndian(words[24..], question);
        return frame;
    }

    private static ulong StructPointer(int offsetWords, ushort dataWords, ushort pointers)
        => ((ulong)(uint)(offsetWords << 2)) | ((ulong)dataWords << 32) | ((ulong)pointers << 48);
}
