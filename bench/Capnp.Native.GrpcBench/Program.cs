// capnp-native-grpcbench: the scenarios of capnp-native-bench over gRPC .NET, with the same
// command lines and output lines, so that bench/run measures it as the pairing grpc-grpc beside
// our C#/C# pair, in the same run and under the same rules.
//
//   capnp-native-grpcbench server --listen HOST:PORT [--max-seconds N] [--once] [--rusage-out FILE]
//       Grpc.AspNetCore on Kestrel, HTTP/2 without TLS (h2c, prior knowledge) on HOST:PORT
//       (port 0: any); prints "LISTENING <port>"; with --once exits when the connections it
//       accepted have all closed (the client's process ends or disposes its channel), which is
//       what --once means for the Cap'n Proto servers; always exits after --max-seconds (default
//       3600); --rusage-out writes "server_cpu_us=... process_cpu_us=... peak_rss_kb=... gc0=..."
//       at exit (server_cpu_us counts from the first accepted connection: no runtime or ASP.NET
//       Core start-up, as for capnp-native-bench).
//   capnp-native-grpcbench client --connect HOST:PORT --scenario latency|throughput|bulk
//                                 [--seconds N] [--inflight N] [--payload BYTES] [--max-calls N] [--verbose]
//                                 [--server-pid PID]
//       Grpc.Net.Client; prints one line: scenario=... transport=grpc-h2c <figures>
//       client_cpu_us_per_call=... total_calls=... peak_rss_kb=... (with --server-pid also
//       server_cpu_us_per_call=..., as capnp-native-bench's)
//
// The scenarios are capnp-native-bench's: latency = unary Ping, 1 in flight (median and p99 µs);
// throughput = Ping, 64 in flight (calls/s); bulk = Echo of 1 MiB bytes, 4 in flight (MB/s of
// payload one way, as ours). --transport is accepted and ignored, for command-line compatibility.
//
// Configuration, chosen to be fair to gRPC: stock Grpc.AspNetCore / Kestrel / Grpc.Net.Client
// defaults (flow-control windows, stream limits, message size limits, the channel's own
// SocketsHttpHandler) except what the benchmark needs: HTTP/2 only and no TLS on the endpoint,
// no logging provider at all (nothing is written per call or per connection), Release build,
// and the runtime settings of capnp-native-bench (workstation non-concurrent GC, tiered PGO).

using System.Diagnostics;
using System.Globalization;
using System.Net;
using Capnp.Native.Bench.Shared;
using Capnp.Native.GrpcBench.Proto;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using BenchProto = Capnp.Native.GrpcBench.Proto.Bench;

namespace Capnp.Native.GrpcBench;

internal static class Program
{
    private static int Main(string[] args)
    {
        if (args.Length == 0)
        {
            return Usage();
        }

        try
        {
            return args[0] switch
            {
                "server" => ServerMain(args.AsSpan(1).ToArray()).GetAwaiter().GetResult(),
                "client" => ClientMain(args.AsSpan(1).ToArray()).GetAwaiter().GetResult(),
                _ => Usage(),
            };
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"capnp-native-grpcbench: {e.Message}");
            return Usage();
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"capnp-native-grpcbench: {e}");
            return 1;
        }
    }

    private static int Usage()
    {
        Console.Error.WriteLine(
            "usage: capnp-native-grpcbench server --listen HOST:PORT [--max-seconds N] [--once] [--rusage-out FILE]\n" +
            "       capnp-native-grpcbench client --connect HOST:PORT --scenario latency|throughput|bulk " +
            "[--seconds N] [--inflight N] [--payload BYTES] [--max-calls N] [--verbose]");
        return 2;
    }

    private sealed class UsageException(string message) : Exception(message);

    /// <summary>
    /// The HTTP/2 receive window of a stream on both ends (--http2-window; 0: the libraries'
    /// defaults, Kestrel 768 KiB per stream and 1 MiB per connection, SocketsHttpHandler 64 KiB
    /// growing dynamically). 2 MiB holds a whole 1 MiB echo with its framing.
    /// </summary>
    private const int DefaultWindow = 2 * 1024 * 1024;

    private static double ParseDouble(string s) => double.Parse(s, CultureInfo.InvariantCulture);

    private static string F(double v) => v.ToString("0.###", CultureInfo.InvariantCulture);

    /// <summary>HOST:PORT, with an optional "tcp:" prefix as the other benchmarks accept.</summary>
    private static (string Host, int Port) ParseHostPort(string hostPort)
    {
        if (hostPort.StartsWith("tcp:", StringComparison.Ordinal))
        {
            hostPort = hostPort[4..];
        }

        var colon = hostPort.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(hostPort.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port))
        {
            throw new UsageException($"expected HOST:PORT, got '{hostPort}'");
        }

        return (hostPort[..colon], port);
    }

    // ---------------------------------------------------------------- server

    private sealed class BenchService : BenchProto.BenchBase
    {
        // One completed task for every ping, as capnp-native-bench returns Task.CompletedTask:
        // neither server allocates for an empty answer.
        private static readonly Task<Empty> PingReply = Task.FromResult(new Empty());

        public override Task<Empty> Ping(Empty request, ServerCallContext context) => PingReply;

        // The request's bytes go back as they are (a ByteString is immutable: no copy), as
        // capnp-native-bench's server sets its result to the parameter's Data.
        public override Task<EchoMessage> Echo(EchoMessage request, ServerCallContext context)
            => Task.FromResult(new EchoMessage { Data = request.Data });
    }

    /// <summary>
    /// Counts the server's open connections (a Kestrel connection middleware sees each one from
    /// accept to close): --once ends the server when the count falls back to zero. The client
    /// keeps one HTTP/2 connection for all its calls (64 streams are within Kestrel's default of
    /// 100 per connection); counting rather than waiting for the first connection also holds if
    /// the channel opened a second one.
    /// </summary>
    private sealed class ConnectionTracker
    {
        private readonly object _gate = new();
        private int _open;
        private bool _any;

        public TaskCompletionSource AllClosed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        // CPU time of the process when the first connection was accepted: the server's figure
        // leaves out the runtime's and ASP.NET Core's start-up, which the C++ server does not have.
        public TimeSpan CpuAtFirstAccept { get; private set; }

        public void Opened()
        {
            lock (_gate)
            {
                if (!_any)
                {
                    _any = true;
                    CpuAtFirstAccept = Environment.CpuUsage.TotalTime;
                }

                _open++;
            }
        }

        public void Closed()
        {
            lock (_gate)
            {
                if (--_open == 0)
                {
                    AllClosed.TrySetResult();
                }
            }
        }
    }

    private static async Task<int> ServerMain(string[] args)
    {
        var listen = "127.0.0.1:0";
        var maxSeconds = 3600.0;
        var once = false;
        string? rusageOut = null;
        var window = DefaultWindow;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--transport" when i + 1 < args.Length: i++; break;
                case "--http2-window" when i + 1 < args.Length: window = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--listen" when i + 1 < args.Length: listen = args[++i]; break;
                case "--max-seconds" when i + 1 < args.Length: maxSeconds = ParseDouble(args[++i]); break;
                case "--once": once = true; break;
                case "--rusage-out" when i + 1 < args.Length: rusageOut = args[++i]; break;
                default: throw new UsageException($"unknown server argument '{args[i]}'");
            }
        }

        var (host, port) = ParseHostPort(listen);
        var address = host == "localhost" ? IPAddress.Loopback : IPAddress.Parse(host);
        var tracker = new ConnectionTracker();

        // The slim builder: Kestrel without HTTPS configuration, no IIS or hosting-startup
        // discovery. Its console logger is removed: the benchmark logs nothing, in the hot path or
        // elsewhere.
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(5));
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            if (window > 0)
            {
                // Microsoft's gRPC performance guidance for messages larger than Kestrel's
                // default stream window (768 KiB): raise the stream window, and the connection
                // window to at least as much (here room for the bulk scenario's 4 calls).
                kestrel.Limits.Http2.InitialStreamWindowSize = window;
                kestrel.Limits.Http2.InitialConnectionWindowSize = (int)Math.Min(int.MaxValue, 4L * window);
            }

            kestrel.Listen(address, port, endpoint =>
            {
                // h2c with prior knowledge: what Grpc.Net.Client speaks to an http:// address.
                endpoint.Protocols = HttpProtocols.Http2;
                endpoint.Use(next => async connection =>
                {
                    tracker.Opened();
                    try
                    {
                        await next(connection);
                    }
                    finally
                    {
                        tracker.Closed();
                    }
                });
            });
        });
        builder.Services.AddGrpc();

        await using var app = builder.Build();
        app.MapGrpcService<BenchService>();
        await app.StartAsync();

        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Console.Out.Write($"LISTENING {new Uri(bound).Port}\n");
        Console.Out.Flush();

        var stop = new List<Task> { Task.Delay(TimeSpan.FromSeconds(maxSeconds)) };
        if (once)
        {
            stop.Add(tracker.AllClosed.Task);
        }

        await Task.WhenAny(stop);
        await app.StopAsync();

        if (rusageOut is not null)
        {
            var total = Environment.CpuUsage.TotalTime;
            var cpu = (total - tracker.CpuAtFirstAccept).TotalMicroseconds;
            File.WriteAllText(rusageOut, string.Create(CultureInfo.InvariantCulture,
                $"server_cpu_us={cpu:0} process_cpu_us={total.TotalMicroseconds:0} peak_rss_kb={PeakRssKb()} gc0={GC.CollectionCount(0)} gc1={GC.CollectionCount(1)} gc2={GC.CollectionCount(2)} allocated_bytes={GC.GetTotalAllocatedBytes()}\n"));
        }

        return 0;
    }

    // ---------------------------------------------------------------- client

    private sealed class Run(BenchProto.BenchClient bench)
    {
        private static readonly Empty PingRequest = new();

        public long Calls;
        public long TotalCalls;
        public long MaxCalls = long.MaxValue;
        public long DeadlineTicks;
        public List<double> LatenciesUs = new(1 << 16);
        public ByteString Payload = ByteString.Empty;

        private bool Done() => Stopwatch.GetTimestamp() >= DeadlineTicks || Volatile.Read(ref Calls) >= MaxCalls;

        public void SetDeadline(double seconds)
            => DeadlineTicks = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);

        public async Task LatencyLoop()
        {
            while (!Done())
            {
                var start = Stopwatch.GetTimestamp();
                await bench.PingAsync(PingRequest);
                LatenciesUs.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
                Calls++;
                TotalCalls++;
            }
        }

        private async Task PingLoop()
        {
            while (!Done())
            {
                await bench.PingAsync(PingRequest);
                Interlocked.Increment(ref Calls);
                Interlocked.Increment(ref TotalCalls);
            }
        }

        private async Task EchoLoop()
        {
            // The same bytes for every call, without a copy per call (capnp-native-bench passes
            // the same ReadOnlyMemory each time); one request object per worker.
            var request = new EchoMessage { Data = Payload };
            var sent = Payload.Span;
            var first = sent.Length > 0 ? sent[0] : (byte)0;
            var last = sent.Length > 0 ? sent[^1] : (byte)0;
            while (!Done())
            {
                var reply = await bench.EchoAsync(request);
                var data = reply.Data.Span;
                if (data.Length != Payload.Length || (data.Length > 0 && (data[0] != first || data[^1] != last)))
                {
                    throw new InvalidOperationException("echo returned different data");
                }

                Interlocked.Increment(ref Calls);
                Interlocked.Increment(ref TotalCalls);
            }
        }

        public async Task<(long Calls, double Elapsed)> RunConcurrent(int inflight, bool echo, double seconds)
        {
            Calls = 0;
            var start = Stopwatch.GetTimestamp();
            SetDeadline(seconds);
            var workers = new Task[inflight];
            for (var i = 0; i < inflight; i++)
            {
                // Start every worker from the thread pool so none runs inline on this thread.
                workers[i] = echo ? Task.Run(EchoLoop) : Task.Run(PingLoop);
            }

            await Task.WhenAll(workers);
            return (Calls, Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
    }

    /// <summary>
    /// capnp-native-bench's warm-up: rounds of 0.25 s of the scenario's own load until a whole
    /// round compiled no method, for at most the measured duration (between 1 and 4 s), so that no
    /// tiered JIT compilation falls in the measured window. It also opens the HTTP/2 connection
    /// and lets its flow-control windows grow before the measurement.
    /// </summary>
    private static async Task WarmUpAsync(double measuredSeconds, Func<double, Task> round)
    {
        const double RoundSeconds = 0.25;
        var maxRounds = (int)Math.Ceiling(Math.Clamp(measuredSeconds, 1, 4) / RoundSeconds);
        var compiled = System.Runtime.JitInfo.GetCompiledMethodCount();
        for (var i = 0; i < maxRounds; i++)
        {
            await round(RoundSeconds);
            var now = System.Runtime.JitInfo.GetCompiledMethodCount();
            if (i > 0 && now == compiled)
            {
                return;
            }

            compiled = now;
        }
    }

    private static async Task<int> ClientMain(string[] args)
    {
        string? connect = null;
        var scenario = "latency";
        var seconds = 5.0;
        var inflightArg = -1;
        var payloadBytes = 1024 * 1024;
        var maxCalls = 100_000_000L;
        var verbose = false;
        var serverPid = 0;
        var window = DefaultWindow;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--transport" when i + 1 < args.Length: i++; break;
                case "--http2-window" when i + 1 < args.Length: window = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--connect" when i + 1 < args.Length: connect = args[++i]; break;
                case "--scenario" when i + 1 < args.Length: scenario = args[++i]; break;
                case "--seconds" when i + 1 < args.Length: seconds = ParseDouble(args[++i]); break;
                case "--inflight" when i + 1 < args.Length: inflightArg = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--payload" when i + 1 < args.Length: payloadBytes = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--max-calls" when i + 1 < args.Length: maxCalls = long.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--verbose": verbose = true; break;
                case "--server-pid" when i + 1 < args.Length: serverPid = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                default: throw new UsageException($"unknown client argument '{args[i]}'");
            }
        }

        if (connect is null || seconds <= 0 || seconds > 3600 || payloadBytes < 0)
        {
            throw new UsageException("--connect is required; 0 < seconds <= 3600");
        }

        var (host, port) = ParseHostPort(connect);
        // An http:// address: HTTP/2 with prior knowledge, no TLS. With --http2-window 0 the
        // channel makes its own handler; otherwise ours: several connections allowed when one's
        // stream limit is reached (as GrpcChannel configures its own), SocketsHttpHandler's
        // defaults otherwise, and a stream receive window of the given size, so that a 1 MiB
        // answer does not wait for the window's dynamic growth from 64 KiB.
        var options = new GrpcChannelOptions();
        if (window > 0)
        {
            options.HttpHandler = new SocketsHttpHandler
            {
                EnableMultipleHttp2Connections = true,
                InitialHttp2StreamWindowSize = window,
            };
            options.DisposeHttpClient = true;
        }

        using var channel = GrpcChannel.ForAddress($"http://{host}:{port}", options);
        var run = new Run(new BenchProto.BenchClient(channel));

        string figures;
        TimeSpan cpuStart;
        TimeSpan? serverCpuStart;
        int gc0, gc1, gc2;
        long allocatedStart;
        if (scenario == "latency")
        {
            await WarmUpAsync(seconds, roundSeconds =>
            {
                run.SetDeadline(roundSeconds);
                return run.LatencyLoop();
            });
            run.LatenciesUs.Clear();
            run.Calls = 0;
            run.MaxCalls = maxCalls;
            (gc0, gc1, gc2, allocatedStart) = GcSnapshot();
            cpuStart = Environment.CpuUsage.TotalTime;
            serverCpuStart = serverPid > 0 ? ServerCpu.Read(serverPid) : null;
            run.SetDeadline(seconds);
            await run.LatencyLoop();
            var v = run.LatenciesUs;
            if (v.Count == 0)
            {
                throw new InvalidOperationException("no calls completed");
            }

            v.Sort();
            var median = v[v.Count / 2];
            var p99 = v[Math.Min(v.Count - 1, (int)(v.Count * 0.99))];
            figures = $"median_us={F(median)} p99_us={F(p99)} calls={v.Count}";
        }
        else if (scenario is "throughput" or "bulk")
        {
            var echo = scenario == "bulk";
            var inflight = inflightArg > 0 ? inflightArg : (echo ? 4 : 64);
            if (echo)
            {
                var payload = new byte[payloadBytes];
                for (var i = 0; i < payload.Length; i++)
                {
                    payload[i] = unchecked((byte)(i * 131 + 7));
                }

                // Wraps the array without copying it; the array is never written again.
                run.Payload = UnsafeByteOperations.UnsafeWrap(payload);
            }

            await WarmUpAsync(seconds, roundSeconds => run.RunConcurrent(inflight, echo, roundSeconds));
            run.MaxCalls = maxCalls;
            (gc0, gc1, gc2, allocatedStart) = GcSnapshot();
            cpuStart = Environment.CpuUsage.TotalTime;
            serverCpuStart = serverPid > 0 ? ServerCpu.Read(serverPid) : null;
            var (calls, elapsed) = await run.RunConcurrent(inflight, echo, seconds);
            figures = echo
                ? $"mb_per_s={F(calls * (double)payloadBytes / 1e6 / elapsed)} calls={calls} payload_bytes={payloadBytes} inflight={inflight}"
                : $"calls_per_s={F(calls / elapsed)} calls={calls} inflight={inflight}";
        }
        else
        {
            throw new UsageException($"unknown scenario '{scenario}' (expected latency, throughput or bulk)");
        }

        var cpuUsPerCall = (Environment.CpuUsage.TotalTime - cpuStart).TotalMicroseconds / Math.Max(run.Calls, 1);
        var extra = "";
        if (serverCpuStart is { } serverStart && ServerCpu.Read(serverPid) is { } serverEnd)
        {
            extra = string.Create(CultureInfo.InvariantCulture,
                $" server_cpu_us_per_call={(serverEnd - serverStart).TotalMicroseconds / Math.Max(run.Calls, 1):0.00}");
        }

        if (verbose)
        {
            var (e0, e1, e2, allocated) = GcSnapshot();
            extra += $" gc0={e0 - gc0} gc1={e1 - gc1} gc2={e2 - gc2} alloc_bytes_per_call={F((allocated - allocatedStart) / (double)Math.Max(run.Calls, 1))}" +
                    $" threads={Process.GetCurrentProcess().Threads.Count} pool_threads={ThreadPool.ThreadCount}" +
                    $" pool_completed={ThreadPool.CompletedWorkItemCount}";
        }

        Console.Out.Write(string.Create(CultureInfo.InvariantCulture,
            $"scenario={scenario} transport=grpc-h2c {figures} client_cpu_us_per_call={cpuUsPerCall:0.00} total_calls={run.TotalCalls} peak_rss_kb={PeakRssKb()}{extra}\n"));
        Console.Out.Flush();
        // Disposing the channel (end of scope) closes its connection: the server's --once ends.
        return 0;
    }

    private static (int, int, int, long) GcSnapshot()
        => (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2), GC.GetTotalAllocatedBytes(precise: true));

    /// <summary>Peak resident set (VmHWM), as getrusage's ru_maxrss reports for the C++ programs.</summary>
    private static long PeakRssKb()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    return long.Parse(line.AsSpan(6).Trim().ToString().Split(' ')[0], CultureInfo.InvariantCulture);
                }
            }
        }
        catch (IOException)
        {
        }

        return Process.GetCurrentProcess().PeakWorkingSet64 / 1024;
    }
}
