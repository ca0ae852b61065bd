using Capnp.Native.Rpc;
using Interop;

namespace Capnp.Native.Tests.Rpc;

/// <summary>
/// Large blobs of outgoing parameters and results are sent from the managed segments, by
/// reference (the shim lends them to the engine's message): they arrive intact, and the segments
/// are released once, when nothing reads them any more — also after cancellation, a lost
/// connection, or a stopped loop.
/// </summary>
public sealed class ReferencedBlobTests
{
    // Above the shim's 64 KiB threshold for sending a blob by reference.
    private const int LargeLength = 100_000;

    private static string Large(int seed) => string.Create(LargeLength, seed, static (span, s) =>
    {
        for (var i = 0; i < span.Length; i++)
        {
            span[i] = (char)('a' + ((i + s) % 26));
        }
    });

    private static long SentByReference() => NativeCounters.Read().blobs_sent_by_reference;

    [Fact]
    public async Task LargeParametersAndResultsAreSentByReferenceAndArriveIntact()
    {
        await using var pair = await RpcPair.StartAsync();
        var text = Large(0);
        var before = SentByReference();

        using var answer = pair.TestService.EchoAsync(text);
        Assert.Equal(text, (await answer.AsTask().WaitAsync(RpcPair.Bound)).Text);

        // The client's parameters and the server's results.
        Assert.Equal(before + 2, SentByReference());
    }

    [Fact]
    public async Task BlobsBelowTheThresholdAreCopied()
    {
        await using var pair = await RpcPair.StartAsync();
        var text = new string('s', 60 * 1024);
        var before = SentByReference();

        Assert.Equal(text, (await pair.TestService.EchoAsync(text).AsTask().WaitAsync(RpcPair.Bound)).Text);

        Assert.Equal(before, SentByReference());
    }

    [Fact]
    public async Task ConcurrentLargeCallsGetTheirOwnBytesBackAndReleaseEveryLease()
    {
        await using var pair = await RpcPair.StartAsync();
        var targets = await SettledCallbackTargetsAsync(pair);

        // Segments come from a shared pool: one released too early would be refilled by another
        // call while still being written, and some echo would carry foreign bytes.
        for (var round = 0; round < 4; round++)
        {
            var answers = Enumerable.Range(0, 32).Select(i => pair.TestService.EchoAsync(Large(round * 32 + i))).ToArray();
            for (var i = 0; i < answers.Length; i++)
            {
                using var answer = answers[i];
                Assert.Equal(Large(round * 32 + i), (await answer.AsTask().WaitAsync(RpcPair.Bound)).Text);
            }
        }

        Assert.Equal(targets, await SettledCallbackTargetsAsync(pair));
    }

    [Fact]
    public async Task CancelledLargeCallsReleaseTheirLeasesAndLeaveOtherCallsIntact()
    {
        await using var pair = await RpcPair.StartAsync();
        var targets = await SettledCallbackTargetsAsync(pair);

        var cancellations = Enumerable.Range(0, 32).Select(_ => new CancellationTokenSource()).ToArray();
        var answers = Enumerable.Range(0, 32).Select(i => pair.TestService.EchoAsync(Large(i), cancellations[i].Token)).ToArray();
        for (var i = 1; i < cancellations.Length; i += 2)
        {
            // Right after sending: some Call messages are still waiting to be written.
            cancellations[i].Cancel();
        }

        for (var i = 0; i < answers.Length; i++)
        {
            using var answer = answers[i];
            if (i % 2 == 0)
            {
                Assert.Equal(Large(i), (await answer.AsTask().WaitAsync(RpcPair.Bound)).Text);
            }
            else
            {
                // Cancelled, or answered before the cancellation reached the engine: then intact.
                try
                {
                    Assert.Equal(Large(i), (await answer.AsTask().WaitAsync(RpcPair.Bound)).Text);
                }
                catch (OperationCanceledException)
                {
                }
            }
        }

        Assert.Equal(targets, await SettledCallbackTargetsAsync(pair));
        foreach (var cancellation in cancellations)
        {
            cancellation.Dispose();
        }
    }

    [Fact]
    public async Task DisposingTheConnectionWithLargeCallsInFlightReleasesEveryLease()
    {
        await using var pair = await RpcPair.StartAsync();
        var clientTargets = (await SettledCallbackTargetsAsync(pair)).Client;

        var answers = Enumerable.Range(0, 16).Select(i => pair.TestService.EchoAsync(Large(i))).ToArray();
        pair.ClientConnection.Dispose();

        foreach (var answer in answers)
        {
            using (answer)
            {
                // Answered before the connection went, or failed by its loss: never hanging.
                await Task.WhenAny(answer.AsTask()).WaitAsync(RpcPair.Bound);
            }
        }

        await pair.ClientLoop.EchoAsync(ReadOnlyMemory<byte>.Empty).WaitAsync(RpcPair.Bound);
        Assert.True(pair.ClientLoop.LiveCallbackTargets <= clientTargets, $"{pair.ClientLoop.LiveCallbackTargets} > {clientTargets}");
    }

    [Fact]
    public async Task StoppingTheLoopWithLargeCallsInFlightReleasesEveryLease()
    {
        await using var pair = await RpcPair.StartAsync();

        var answers = Enumerable.Range(0, 16).Select(i => pair.TestService.EchoAsync(Large(i))).ToArray();
        await pair.ClientLoop.DisposeAsync();

        foreach (var answer in answers)
        {
            using (answer)
            {
                await Task.WhenAny(answer.AsTask()).WaitAsync(RpcPair.Bound);
            }
        }

        Assert.Equal(0, pair.ClientLoop.LiveCallbackTargets);
    }

    [Fact]
    public async Task LargeStreamedChunksAreSentByReferenceAndCountedExactly()
    {
        await using var pair = await RpcPair.StartAsync();
        var chunk = new byte[128 * 1024];
        var before = SentByReference();

        for (var i = 0; i < 20; i++)
        {
            chunk.AsSpan().Fill((byte)i);
            await pair.TestService.StreamAsync(chunk).WaitAsync(RpcPair.Bound);
        }

        Assert.Equal(20UL * 128 * 1024, (await pair.TestService.GetStreamedBytesAsync().AsTask().WaitAsync(RpcPair.Bound)).Bytes);
        Assert.Equal(before + 20, SentByReference());
    }

    // The callbacks each loop still has registered (lent messages among them), once every earlier
    // answer's Finish has reached the server (the call below follows it on the same connection),
    // so that every lease of the server's results has ended too.
    private static async Task<(long Client, long Server)> SettledCallbackTargetsAsync(RpcPair pair)
    {
        Assert.Equal(3, (await pair.TestService.AddAsync(1, 2).AsTask().WaitAsync(RpcPair.Bound)).Sum);
        return (pair.ClientLoop.LiveCallbackTargets, pair.ServerLoop.LiveCallbackTargets);
    }
}
