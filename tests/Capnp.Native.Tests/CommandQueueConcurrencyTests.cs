namespace Capnp.Native.Tests;

public sealed class CommandQueueConcurrencyTests
{
    private const int Producers = 8;
    private const int CommandsPerProducer = 12_500;

    [Fact]
    public async Task EightThreadsPostOneHundredThousandCommandsEachCompletesOnceInOrderPerProducer()
    {
        await using var loop = EventLoop.Start();
        var before = NativeCounters.Read();

        // Completion payloads are read on the loop thread, in the order the loop ran the commands.
        var executionOrder = Enumerable.Range(0, Producers).Select(_ => new List<int>(CommandsPerProducer)).ToArray();
        var start = new Barrier(Producers);

        var producers = Enumerable.Range(0, Producers).Select(producer => Task.Factory.StartNew(() =>
        {
            start.SignalAndWait();
            var tasks = new Task<int>[CommandsPerProducer];
            for (var sequence = 0; sequence < CommandsPerProducer; sequence++)
            {
                tasks[sequence] = TestHooks.EchoSequenceAsync(loop, producer, sequence, executionOrder[producer]);
            }

            return tasks;
        }, TaskCreationOptions.LongRunning)).ToArray();

        var all = (await Task.WhenAll(producers)).SelectMany(t => t).ToArray();
        var results = await Task.WhenAll(all).WaitAsync(TimeSpan.FromMinutes(2));

        Assert.Equal(Producers * CommandsPerProducer, results.Length);
        for (var producer = 0; producer < Producers; producer++)
        {
            Assert.Equal(Enumerable.Range(0, CommandsPerProducer), executionOrder[producer]);
        }

        var after = NativeCounters.Read();
        Assert.Equal(Producers * CommandsPerProducer, after.commands_executed - before.commands_executed);
        // Batching: a producer wakes the loop only when no wake-up is pending.
        Assert.True(after.wakeups - before.wakeups <= Producers * CommandsPerProducer);
        Assert.Equal(0, loop.LiveCallbackTargets);
    }
}
