// The soak run (#14 "long runs"): calls that create, pass and release capabilities, then
// connections opened and closed, against one server vat. It prints the native object counts and
// the resident memory before and after each phase and exits non-zero if the counts do not return
// to where they started or memory keeps growing.
//
//   capnp-native-soak [--calls N] [--connections N]      defaults: 1,000,000 and 10,000
//   capnp-native-soak --quick                             20,000 calls and 500 connections (CI)

using System.Diagnostics;
using Capnp.Native;
using Soak;

// The settings the soak's memory figures were taken with (see NativeRuntime.TuneAllocatorForThroughput).
NativeRuntime.TuneAllocatorForThroughput();

var calls = 1_000_000;
var connections = 10_000;
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--quick":
            calls = 20_000;
            connections = 500;
            break;
        case "--calls" when i + 1 < args.Length:
            calls = int.Parse(args[++i]);
            break;
        case "--connections" when i + 1 < args.Length:
            connections = int.Parse(args[++i]);
            break;
        default:
            Console.Error.WriteLine("usage: capnp-native-soak [--quick] [--calls N] [--connections N]");
            return 2;
    }
}

var failures = 0;
await using (var server = await Vat.StartAsync(new VatOptions { ListenAddress = VatAddress.Parse("tcp:127.0.0.1:0"), Bootstrap = new SoakService() }))
{
    var baseline = Settle();
    Report("start", baseline);

    // Phase 1: capabilities created on both sides, passed and released, 16 calls in flight.
    await using (var client = await Vat.StartAsync(new VatOptions()))
    {
        using var soak = await client.ConnectAsync<Soak.Soak.Client>(server.GetSturdyRef());
        var warmedUp = 0L;
        var watch = Stopwatch.StartNew();
        const int InFlight = 16;
        var batch = new List<Task>(InFlight);
        for (var i = 0; i < calls; i++)
        {
            batch.Add(RoundTripAsync(soak, i));
            if (batch.Count == InFlight)
            {
                await Task.WhenAll(batch);
                batch.Clear();
            }

            if (i == calls / 10)
            {
                // Memory after the warm-up is the reference: the rest must not grow it.
                warmedUp = ResidentBytes();
            }
        }

        await Task.WhenAll(batch);
        var afterCalls = ResidentBytes();
        Console.WriteLine($"{calls:N0} rounds (each: a capability sent, returned and released; one made by the server, ticked and released) in {watch.Elapsed.TotalSeconds:N1} s; RSS {Mib(warmedUp)} after 10% -> {Mib(afterCalls)} at the end");
        failures += Check("RSS stays flat over the calls", afterCalls <= warmedUp * 1.25 + 16 * 1024 * 1024);
    }

    var afterPhase1 = Settle();
    Report("after the calls", afterPhase1);
    failures += CheckCounts(baseline, afterPhase1);

    // Phase 2: connections opened and closed (plain, one loop), each used for one call.
    await using (var loop = EventLoop.Start())
    await using (var plain = await Vat.StartAsync(new VatOptions { ListenAddress = VatAddress.Parse("tcp:127.0.0.1:0"), DisableTls = true, Bootstrap = new SoakService() }))
    {
        var address = plain.ListenAddress!.ToString();
        var watch = Stopwatch.StartNew();
        long warmedUp = 0;
        for (var i = 0; i < connections; i++)
        {
            await using var connection = await loop.ConnectAsync(address);
            using var soak = connection.GetBootstrap<Soak.Soak.Client>();
            if ((await soak.EchoAsync("x")).Text != "x")
            {
                failures++;
            }

            if (i == connections / 10)
            {
                warmedUp = ResidentBytes();
            }
        }

        var afterConnections = ResidentBytes();
        Console.WriteLine($"{connections:N0} connections opened, used and closed in {watch.Elapsed.TotalSeconds:N1} s; RSS {Mib(warmedUp)} after 10% -> {Mib(afterConnections)} at the end");
        failures += Check("RSS stays flat over the connections", afterConnections <= warmedUp * 1.25 + 16 * 1024 * 1024);
    }

    var end = Settle();
    Report("end", end);
    failures += CheckCounts(baseline, end);
}

Console.WriteLine(failures == 0 ? "soak: PASS" : $"soak: FAIL ({failures})");
return failures == 0 ? 0 : 1;

static async Task RoundTripAsync(Soak.Soak.Client soak, int i)
{
    using (var mine = Ticker.Client.Create(new TickerService()))
    using (var echoAnswer = soak.EchoCapAsync(mine))
    using (var echoed = (await echoAnswer).GetTicker())
    {
        await echoed!.TickAsync();
    }

    using var newAnswer = soak.NewTickerAsync();
    using var theirs = (await newAnswer).GetTicker();
    await theirs!.TickAsync();
}

// Lets released references and finalizers settle, then reads the counts (bounded).
static NativeObjectCounts Settle()
{
    var counts = NativeRuntime.GetLiveObjectCounts();
    for (var round = 0; round < 50; round++)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Thread.Sleep(20); // a bench, not a test: releases travel to their loop threads meanwhile
        var again = NativeRuntime.GetLiveObjectCounts();
        if (again == counts && round > 2)
        {
            break;
        }

        counts = again;
    }

    return counts;
}

static int CheckCounts(NativeObjectCounts expected, NativeObjectCounts actual)
    => Check("native object counts return to the start", expected with { Loops = actual.Loops, Connections = actual.Connections } == actual
                                                         && actual.Loops <= expected.Loops + 1 && actual.Connections <= expected.Connections);

static int Check(string what, bool ok)
{
    Console.WriteLine($"  {(ok ? "ok  " : "FAIL")} {what}");
    return ok ? 0 : 1;
}

static void Report(string when, NativeObjectCounts counts)
    => Console.WriteLine($"[{when}] loops {counts.Loops}, connections {counts.Connections}, capabilities {counts.Capabilities}, servers {counts.Servers}, calls {counts.Calls}, messages {counts.Messages}, pending operations {counts.PendingOperations}; RSS {Mib(ResidentBytes())}");

static long ResidentBytes()
{
    var fields = File.ReadAllText("/proc/self/statm").Split(' ');
    return long.Parse(fields[1]) * Environment.SystemPageSize;
}

static string Mib(long bytes) => $"{bytes / (1024.0 * 1024):N1} MiB";

internal sealed class SoakService : Soak.Soak.Server
{
    public override Task EchoCapAsync(Soak.Soak.EchoCapParams.Reader parameters, Soak.Soak.EchoCapResults.Builder results, CancellationToken cancellationToken)
    {
        using var ticker = parameters.GetTicker();
        results.Ticker = ticker;
        return Task.CompletedTask;
    }

    public override Task NewTickerAsync(Soak.Soak.NewTickerParams.Reader parameters, Soak.Soak.NewTickerResults.Builder results, CancellationToken cancellationToken)
    {
        using var ticker = Ticker.Client.Create(new TickerService());
        results.Ticker = ticker;
        return Task.CompletedTask;
    }

    public override Task EchoAsync(Soak.Soak.EchoParams.Reader parameters, Soak.Soak.EchoResults.Builder results, CancellationToken cancellationToken)
    {
        results.Text = parameters.Text;
        return Task.CompletedTask;
    }
}

internal sealed class TickerService : Ticker.Server
{
    private ulong count;

    public override Task TickAsync(Ticker.TickParams.Reader parameters, Ticker.TickResults.Builder results, CancellationToken cancellationToken)
    {
        results.Count = Interlocked.Increment(ref count);
        return Task.CompletedTask;
    }
}
