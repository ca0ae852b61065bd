// The several-loops scenario of #15: a server vat with N event loops (server --loops N) and a
// client that keeps 8 connections × 16 calls in flight (client --scenario connections).

using System.Diagnostics;
using System.Globalization;
using Capnp.Native;
using Capnp.Native.Rpc;
using BenchIface = Bench.Bench;

namespace Capnp.Native.Bench;

internal static partial class Program
{
    // Serves through a Vat (plain TCP, the vat's own listener on `loops` loops) until a stop
    // signal, or with --once until every connection is gone after the first one came.
    private static async Task ServeWithVatAsync(string listen, int loops, List<Task> stop, bool once, CapabilityServer bootstrap)
    {
        await using var vat = await Vat.StartAsync(new VatOptions
        {
            ListenAddress = VatAddress.Parse(ToAddress(listen)),
            DisableTls = true,
            Bootstrap = bootstrap,
            EventLoops = loops,
            IdleTimeout = Timeout.InfiniteTimeSpan,
        });
        var address = vat.ListenAddress!;
        Console.Out.Write($"LISTENING {address.Port}\n");
        Console.Out.Flush();
        if (once)
        {
            stop.Add(UntilServedAndIdleAsync(vat));
        }

        await Task.WhenAny(stop);
    }

    // Polls the listeners' statistics (a benchmark harness, not a test): the first accepted
    // connection starts the server's CPU count; the last one leaving ends the run.
    private static async Task UntilServedAndIdleAsync(Vat vat)
    {
        var seen = false;
        while (true)
        {
            await Task.Delay(20);
            var statistics = await Task.WhenAll(vat.Listeners.Select(l => l.ReadStatisticsAsync()));
            var open = statistics.Sum(s => s.Connections);
            if (!seen && statistics.Sum(s => s.Accepted) > 0)
            {
                seen = true;
                Accepted();
            }

            if (seen && open == 0)
            {
                return;
            }
        }
    }

    // Aggregate calls/s over `connections` connections with `inflight` pings in flight on each,
    // the connections spread over one client loop per core so the client is not the bottleneck.
    private static async Task<int> ConnectionsMainAsync(string? connect, int connections, int inflight, double seconds)
    {
        if (connect is null || connections <= 0 || seconds <= 0)
        {
            throw new UsageException("--connect is required; --connections and --seconds must be positive");
        }

        var loops = Enumerable.Range(0, Math.Min(connections, Environment.ProcessorCount)).Select(_ => EventLoop.Start()).ToArray();
        var opened = new List<RpcConnection>();
        var runs = new List<Run>();
        try
        {
            for (var i = 0; i < connections; i++)
            {
                var loop = loops[i % loops.Length];
                var connection = await loop.ConnectAsync(ToAddress(connect));
                opened.Add(connection);
                runs.Add(new Run(connection.GetBootstrap<BenchIface.Client>(), loop, callersOnLoop: true));
            }

            await WarmUpAsync(seconds, roundSeconds => Task.WhenAll(runs.Select(run => run.RunConcurrent(inflight, false, roundSeconds))));
            var cpuStart = Environment.CpuUsage.TotalTime;
            var start = Stopwatch.GetTimestamp();
            var counts = await Task.WhenAll(runs.Select(run => run.RunConcurrent(inflight, false, seconds)));
            var elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
            var calls = counts.Sum(c => c.Calls);
            var cpuUsPerCall = (Environment.CpuUsage.TotalTime - cpuStart).TotalMicroseconds / Math.Max(calls, 1);
            var slowest = counts.Min(c => c.Calls / c.Elapsed);
            Console.Out.Write(string.Create(CultureInfo.InvariantCulture,
                $"scenario=connections transport=native calls_per_s={F(calls / elapsed)} slowest_connection_calls_per_s={F(slowest)} connections={connections} inflight={inflight} client_cpu_us_per_call={cpuUsPerCall:0.00} total_calls={runs.Sum(r => r.TotalCalls)} peak_rss_kb={PeakRssKb()}\n"));
            Console.Out.Flush();
            return 0;
        }
        finally
        {
            foreach (var connection in opened)
            {
                connection.Dispose();
            }

            foreach (var loop in loops)
            {
                await loop.DisposeAsync();
            }
        }
    }
}
