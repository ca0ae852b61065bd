using System.Runtime.InteropServices;
using Capnp.Native.Rpc;
using Capnp.Native.Rpc.Generated;
using Capnp.Native.Serialization;
using Interop;

namespace Capnp.Native.Tests.Rpc;

/// <summary>
/// Calls made on the loop thread (code started with <see cref="EventLoop.RunAsync{T}"/>, resumed
/// inside the delivery of an answer) keep E-order with each other and with the capabilities made
/// just before them, and a call that cannot start fails its task (and what is pipelined on it)
/// exactly as it does from another thread, never the caller's statement.
/// </summary>
public sealed class CallsFromTheLoopThreadTests
{
    [Fact]
    public async Task CallsFromTheLoopKeepTheirOrderBesideCapabilitiesMadeJustBefore()
    {
        await using var pair = await RpcPair.StartAsync();
        var (increments, replies) = await pair.ClientLoop.RunAsync(async () =>
        {
            // After this await the code runs inside the delivery of an answer.
            await pair.TestService.EchoAsync("warm-up");
            using var counter = pair.TestService.GetCounterAsync().GetCounter();
            var incrementTasks = new List<Task<uint>>();
            var replyTasks = new List<Task<string?>>();
            for (var i = 0; i < 20; i++)
            {
                incrementTasks.Add(Increment(counter));
                if (i % 3 == 0)
                {
                    // A new server's capability waits for its fill command: the calls after it,
                    // the increment below included, must still run after it, in order.
                    using var callback = Callback.Client.Create(new PrefixCallback($"{i}:"));
                    replyTasks.Add(CallBack(pair.TestService, callback, "v"));
                }

                incrementTasks.Add(Increment(counter));
            }

            return (await Task.WhenAll(incrementTasks), await Task.WhenAll(replyTasks));
        }, CancellationToken.None).WaitAsync(RpcPair.Bound);

        Assert.Equal(Enumerable.Range(1, 40).Select(i => (uint)i), increments);
        Assert.Equal(Enumerable.Range(0, 20).Where(i => i % 3 == 0).Select(i => $"{i}:v"), replies);

        static async Task<uint> Increment(Counter.Client counter) => (await counter.IncrementAsync()).Value;
        static async Task<string?> CallBack(TestService.Client service, Callback.Client callback, string value)
            => (await service.CallBackAsync(callback, value)).Reply;
    }

    [Fact]
    public async Task StreamingCallsFromTheLoopAllArrive()
    {
        await using var pair = await RpcPair.StartAsync();
        var chunk = new byte[3000];
        var streamed = await pair.ClientLoop.RunAsync(async () =>
        {
            await pair.TestService.EchoAsync("warm-up");
            for (var i = 0; i < 100; i++)
            {
                await pair.TestService.StreamAsync(chunk);
            }

            return (await pair.TestService.GetStreamedBytesAsync()).Bytes;
        }, CancellationToken.None).WaitAsync(RpcPair.Bound);

        Assert.Equal(100UL * 3000, streamed);
    }

    [Fact]
    public async Task ACallThatCannotStartFailsItsTaskAndItsPipelineAsAPostedOneDoes()
    {
        await using var pair = await RpcPair.StartAsync();
        var target = (IPipeliningCallTarget)pair.TestService.Target;

        // From the thread pool the call is posted; its failure is the reference.
        using (var posted = CorruptedParameters())
        {
            var postedError = await Assert.ThrowsAnyAsync<RpcException>(
                () => target.CallAsync(TestService.InterfaceId, 0, posted, default).WaitAsync(RpcPair.Bound));

            var (callError, pipelinedError, thrownAtOnce, echoAfter) = await pair.ClientLoop.RunAsync(async () =>
            {
                await pair.TestService.EchoAsync("warm-up");
                using var parameters = CorruptedParameters();
                PromisedAnswer? answer = null;
                Exception? thrown = null;
                try
                {
                    answer = target.Call(TestService.InterfaceId, 5, parameters, default);
                }
                catch (Exception e)
                {
                    thrown = e;
                }

                Exception? failure = null, pipelinedFailure = null;
                if (answer is not null)
                {
                    var counter = answer.GetPipelinedCapability(new ushort[] { 0 });
                    using var empty = new MessageBuilder();
                    empty.InitRoot(0, 0);
                    var increment = counter.CallAsync(Counter.InterfaceId, 0, empty, default);
                    failure = await Record(answer.Result);
                    pipelinedFailure = await Record(increment);
                    counter.Release();
                }

                // The connection is unharmed.
                return (failure, pipelinedFailure, thrown, (await pair.TestService.EchoAsync("after")).Text);
            }, CancellationToken.None).WaitAsync(RpcPair.Bound);

            Assert.Null(thrownAtOnce);
            Assert.Equal(postedError.GetType(), callError?.GetType());
            Assert.Equal(postedError.Message, callError!.Message);
            Assert.Equal(postedError.GetType(), pipelinedError?.GetType());
            Assert.Contains(postedError.Message, pipelinedError!.Message);
            Assert.Equal("after", echoAfter);
        }

        static async Task<Exception?> Record(Task task)
        {
            try
            {
                await task;
                return null;
            }
            catch (Exception e)
            {
                return e;
            }
        }
    }

    /// <summary>Parameters whose root pointer points far past the end of their only segment.</summary>
    private static MessageBuilder CorruptedParameters()
    {
        var builder = new MessageBuilder();
        builder.InitRoot(0, 0);
        var segment = MemoryMarshal.AsMemory(builder.GetSegments()[0]).Span;
        // A struct pointer: offset 1000 words, one data word, no pointers.
        var rootPointer = (1000UL << 2) | (1UL << 32);
        MemoryMarshal.Write(segment, in rootPointer);
        return builder;
    }
}
