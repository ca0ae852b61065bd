// capnp-native-bench: the C# counterpart of bench/cpp's bench-server and bench-client, with the
// same command lines and output lines so that one driver (bench/run) parses both.
//
//   capnp-native-bench server [--transport T] --listen [tcp:]HOST:PORT [--max-seconds N] [--once] [--methods-on-pool]
//                             [--rusage-out FILE] [--exit-on-stdin-eof]
//       prints "LISTENING <port>"; with --once exits when its first connection closes (later ones
//       are served meanwhile); always
//       exits after --max-seconds (default 3600); with --exit-on-stdin-eof also when stdin closes;
//       --rusage-out writes "server_cpu_us=... process_cpu_us=... peak_rss_kb=... gc0=..." at
//       exit (server_cpu_us counts from the first accepted connection: no runtime start-up).
//   capnp-native-bench client [--transport T] --connect [tcp:]HOST:PORT
//                             --scenario latency|throughput|bulk [--seconds N] [--inflight N]
//                             [--payload BYTES] [--max-calls N] [--verbose] [--callers-on-pool]
//                             [--server-pid PID]
//       the calling code runs on the event loop thread (EventLoop.RunAsync, what
//       Vat.RunOnEventLoopAsync offers: awaits resume without a thread hop); --callers-on-pool
//       runs it on the thread pool instead, as code that does not opt in does.
//       prints one line: scenario=... transport=... <figures> client_cpu_us_per_call=...
//       total_calls=... peak_rss_kb=... (with --verbose also GC counts and allocated bytes);
//       with --server-pid (a server on this machine) also server_cpu_us_per_call=..., the
//       server's CPU over the same measured window and calls as the client's figure.
//   capnp-native-bench client --connect [tcp:]HOST:PORT --scenario bystander [--seconds N]
//                             [--attackers N] [--attack-mib N]
//       the latency of this client's pings while N other connections (default 8) each send
//       well-formed messages of N MiB (default 60) as fast as the server reads them: prints
//       max_us p99_us median_us (#14: one peer's large messages must not stall the others).
//   capnp-native-bench server ... --loops N
//       serves through a Vat whose N event loops share the listening socket (plain TCP).
//   capnp-native-bench client --connect [tcp:]HOST:PORT --scenario connections [--connections 8]
//       [--inflight 16] [--seconds N]: aggregate calls_per_s over several connections at once.
//   capnp-native-bench client --scenario loop-latency|loop-throughput [--seconds N] [--verbose]
//       round trips through the event loop alone (no network): the thread hand-off cost.
//
// --transport is accepted for command-line compatibility with bench/cpp; the native shim always
// uses its own buffered transport (CoalescingMessageStream), reported as transport=native.

using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime;
using Capnp.Native;
using Capnp.Native.Bench.Shared;
using Capnp.Native.Rpc;
using BenchIface = Bench.Bench;

namespace Capnp.Native.Bench;

internal static partial class Program
{
    private static int Main(string[] args)
    {
        if (args.Length == 0)
        {
            return Usage();
        }

        // Measured with the allocator settings the bench's C++ processes get (GLIBC_TUNABLES in bench/run).
        NativeRuntime.TuneAllocatorForThroughput();
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
            Console.Error.WriteLine($"capnp-native-bench: {e.Message}");
            return Usage();
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"capnp-native-bench: {e}");
            return 1;
        }
    }

    private static int Usage()
    {
        Console.Error.WriteLine(
            "usage: capnp-native-bench server --listen [tcp:]HOST:PORT [--max-seconds N] [--once] [--rusage-out FILE] [--exit-on-stdin-eof]\n" +
            "       capnp-native-bench client --connect [tcp:]HOST:PORT --scenario latency|throughput|bulk " +
            "[--seconds N] [--inflight N] [--payload BYTES] [--max-calls N] [--verbose]\n" +
            "       capnp-native-bench client --connect [tcp:]HOST:PORT --scenario bystander [--seconds N] [--attackers N] [--attack-mib N]");
        return 2;
    }

    private sealed class UsageException(string message) : Exception(message);

    private static string ToAddress(string hostPort)
        => hostPort.StartsWith("tcp:", StringComparison.Ordinal) || hostPort.StartsWith("unix:", StringComparison.Ordinal)
            ? hostPort
            : "tcp:" + hostPort;

    private static double ParseDouble(string s) => double.Parse(s, CultureInfo.InvariantCulture);

    private static string F(double v) => v.ToString("0.###", CultureInfo.InvariantCulture);

    // ---------------------------------------------------------------- server

    // Its methods run on the event loop thread, as the C++ baseline's do (RunsOnEventLoopThread);
    // `server --methods-on-pool` runs them on the thread pool instead, the library's default.
    private sealed class BenchImpl(bool runsOnEventLoopThread) : BenchIface.Server
    {
        protected override bool RunsOnEventLoopThread => runsOnEventLoopThread;

        public override Task PingAsync(BenchIface.PingParams.Reader parameters, BenchIface.PingResults.Builder results, CancellationToken cancellationToken)
            => Task.CompletedTask;

        public override Task EchoAsync(BenchIface.EchoParams.Reader parameters, BenchIface.EchoResults.Builder results, CancellationToken cancellationToken)
        {
            results.Data = parameters.Data;
            return Task.CompletedTask;
        }
    }

    private static async Task<int> ServerMain(string[] args)
    {
        var listen = "127.0.0.1:0";
        var maxSeconds = 3600.0;
        var once = false;
        string? rusageOut = null;
        var stdinLifetime = false;
        var methodsOnPool = false;
        var loops = 0;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--transport" when i + 1 < args.Length: i++; break;
                case "--listen" when i + 1 < args.Length: listen = args[++i]; break;
                case "--max-seconds" when i + 1 < args.Length: maxSeconds = ParseDouble(args[++i]); break;
                case "--once": once = true; break;
                case "--rusage-out" when i + 1 < args.Length: rusageOut = args[++i]; break;
                case "--exit-on-stdin-eof": stdinLifetime = true; break;
                case "--methods-on-pool": methodsOnPool = true; break;
                case "--loops" when i + 1 < args.Length: loops = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                default: throw new UsageException($"unknown server argument '{args[i]}'");
            }
        }

        if (loops > 0)
        {
            // A vat serving on several event loops (#15): the connections scenario's server.
            await ServeWithVatAsync(listen, loops, StopSignals(maxSeconds, stdinLifetime), once, new BenchImpl(!methodsOnPool));
        }
        else
        await using (var loop = EventLoop.Start())
        {
            var listener = await loop.ListenAsync(ToAddress(listen), new BenchImpl(!methodsOnPool));
            var connections = new List<RpcConnection>();
            try
            {
                var address = listener.Address;
                Console.Out.Write($"LISTENING {address[(address.LastIndexOf(':') + 1)..]}\n");
                Console.Out.Flush();

                var stop = StopSignals(maxSeconds, stdinLifetime);
                stop.Add(once ? ServeOnce(listener, connections) : AcceptLoop(listener, connections));
                var finished = await Task.WhenAny(stop);
                if (finished.IsFaulted && finished.Exception!.InnerException is not RpcDisconnectedException)
                {
                    Console.Error.WriteLine($"capnp-native-bench server: {finished.Exception.InnerException}");
                }
            }
            finally
            {
                lock (connections)
                {
                    foreach (var connection in connections)
                    {
                        connection.Dispose();
                    }
                }

                listener.Dispose();
            }
        }

        if (rusageOut is not null)
        {
            var total = Environment.CpuUsage.TotalTime;
            var cpu = (total - cpuAtFirstAccept).TotalMicroseconds;
            File.WriteAllText(rusageOut, string.Create(CultureInfo.InvariantCulture,
                $"server_cpu_us={cpu:0} process_cpu_us={total.TotalMicroseconds:0} peak_rss_kb={PeakRssKb()} gc0={GC.CollectionCount(0)} gc1={GC.CollectionCount(1)} gc2={GC.CollectionCount(2)} allocated_bytes={GC.GetTotalAllocatedBytes()}\n"));
        }

        return 0;
    }

    // What ends a server: its time bound, and with --exit-on-stdin-eof its standard input closing.
    private static List<Task> StopSignals(double maxSeconds, bool stdinLifetime)
    {
        var stop = new List<Task> { Task.Delay(TimeSpan.FromSeconds(maxSeconds)) };
        if (stdinLifetime)
        {
            stop.Add(Task.Run(() =>
            {
                using var stdin = Console.OpenStandardInput();
                var buffer = new byte[256];
                while (stdin.Read(buffer, 0, buffer.Length) > 0)
                {
                }
            }));
        }

        return stop;
    }

    // CPU time of the process when the first connection was accepted: the server's figure leaves
    // out the runtime's start-up (JIT of the start-up path), which the C++ server does not have.
    private static TimeSpan cpuAtFirstAccept;
    private static int accepted;

    private static void Accepted()
    {
        if (Interlocked.Exchange(ref accepted, 1) == 0)
        {
            cpuAtFirstAccept = Environment.CpuUsage.TotalTime;
        }
    }

    private static async Task ServeOnce(RpcListener listener, List<RpcConnection> connections)
    {
        var connection = await listener.AcceptAsync();
        Accepted();
        lock (connections)
        {
            connections.Add(connection);
        }

        // Later peers are served too (the bystander scenario's attackers); the first one's leaving
        // ends the run, and the accept loop with the listener.
        _ = AcceptLoop(listener, connections).ContinueWith(
            static loop => _ = loop.Exception, TaskContinuationOptions.OnlyOnFaulted);
        try
        {
            await connection.Disconnected;
        }
        catch (RpcException)
        {
            // A peer that goes away abruptly is the end of the benchmark, not a failure.
        }
    }

    private static async Task AcceptLoop(RpcListener listener, List<RpcConnection> connections)
    {
        while (true)
        {
            var connection = await listener.AcceptAsync();
            Accepted();
            lock (connections)
            {
                connections.Add(connection);
            }

            _ = connection.Disconnected.ContinueWith(
                _ =>
                {
                    lock (connections)
                    {
                        connections.Remove(connection);
                    }

                    connection.Dispose();
                },
                TaskScheduler.Default);
        }
    }

    // ---------------------------------------------------------------- client

    private sealed class Run(BenchIface.Client bench, EventLoop loop, bool callersOnLoop)
    {
        public long Calls;
        public long TotalCalls;
        public long MaxCalls = long.MaxValue;
        public long DeadlineTicks;
        public List<double> LatenciesUs = new(1 << 16);
        public ReadOnlyMemory<byte> Payload;

        /// <summary>Starts calling code where the run's mode says: on the loop thread, or on the thread pool.</summary>
        public Task Start(Func<Task> work)
            => callersOnLoop ? loop.RunAsync(async () => { await work(); return true; }, CancellationToken.None) : Task.Run(work);

        private bool Done() => Stopwatch.GetTimestamp() >= DeadlineTicks || Volatile.Read(ref Calls) >= MaxCalls;

        public void SetDeadline(double seconds)
            => DeadlineTicks = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);

        public async Task LatencyLoop()
        {
            while (!Done())
            {
                var start = Stopwatch.GetTimestamp();
                await bench.PingAsync();
                LatenciesUs.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
                Calls++;
                TotalCalls++;
            }
        }

        private async Task PingLoop()
        {
            while (!Done())
            {
                await bench.PingAsync();
                Interlocked.Increment(ref Calls);
                Interlocked.Increment(ref TotalCalls);
            }
        }

        private async Task EchoLoop()
        {
            var payload = Payload;
            while (!Done())
            {
                // Disposing the answer frees the 1 MiB result now, not when the GC finds it.
                using var answer = bench.EchoAsync(payload);
                var results = await answer;
                var data = results.Data.Span;
                var sent = payload.Span;
                if (data.Length != sent.Length || (data.Length > 0 && (data[0] != sent[0] || data[^1] != sent[^1])))
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
                // Started on the loop or the thread pool, so none runs inline on this thread.
                workers[i] = echo ? Start(EchoLoop) : Start(PingLoop);
            }

            await Task.WhenAll(workers);
            return (Calls, Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
    }

    /// <summary>
    /// Runs warm-up rounds (connection set-up, caches, and tiered compilation promoting the hot
    /// methods) until a whole round compiled no method, for at most the measured duration (at
    /// least 1 s, at most 4 s): the measured window then holds no JIT work, as the C++ side has
    /// none. Both processes tier up on the same calls.
    /// </summary>
    private static async Task WarmUpAsync(double measuredSeconds, Func<double, Task> round)
    {
        const double RoundSeconds = 0.25;
        var maxRounds = (int)Math.Ceiling(Math.Clamp(measuredSeconds, 1, 4) / RoundSeconds);
        var compiled = JitInfo.GetCompiledMethodCount();
        for (var i = 0; i < maxRounds; i++)
        {
            await round(RoundSeconds);
            var now = JitInfo.GetCompiledMethodCount();
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
        var attackers = 8;
        var attackMib = 60;
        var connections = 8;
        var callersOnLoop = true;
        var serverPid = 0;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--transport" when i + 1 < args.Length: i++; break;
                case "--connect" when i + 1 < args.Length: connect = args[++i]; break;
                case "--scenario" when i + 1 < args.Length: scenario = args[++i]; break;
                case "--seconds" when i + 1 < args.Length: seconds = ParseDouble(args[++i]); break;
                case "--inflight" when i + 1 < args.Length: inflightArg = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--payload" when i + 1 < args.Length: payloadBytes = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--max-calls" when i + 1 < args.Length: maxCalls = long.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--verbose": verbose = true; break;
                case "--server-pid" when i + 1 < args.Length: serverPid = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--callers-on-pool": callersOnLoop = false; break;
                case "--attackers" when i + 1 < args.Length: attackers = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--attack-mib" when i + 1 < args.Length: attackMib = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--connections" when i + 1 < args.Length: connections = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                default: throw new UsageException($"unknown client argument '{args[i]}'");
            }
        }

        if (scenario == "connections")
        {
            return await ConnectionsMainAsync(connect, connections, inflightArg > 0 ? inflightArg : 16, seconds);
        }

        if (scenario.StartsWith("loop-", StringComparison.Ordinal))
        {
            return await LoopMain(scenario, seconds, inflightArg, verbose);
        }

        if (connect is null || seconds <= 0 || seconds > 3600 || payloadBytes < 0)
        {
            throw new UsageException("--connect is required; 0 < seconds <= 3600");
        }

        await using var loop = EventLoop.Start();
        using var connection = await loop.ConnectAsync(ToAddress(connect));
        using var bench = connection.GetBootstrap<BenchIface.Client>();
        var run = new Run(bench, loop, callersOnLoop);

        string figures;
        TimeSpan cpuStart;
        TimeSpan? serverCpuStart;
        int gc0, gc1, gc2;
        long allocatedStart;
        if (scenario is "latency" or "bystander")
        {
            await WarmUpAsync(seconds, roundSeconds =>
            {
                run.SetDeadline(roundSeconds);
                return run.Start(run.LatencyLoop);
            });
            run.LatenciesUs.Clear();
            run.Calls = 0;
            run.MaxCalls = maxCalls;
            (gc0, gc1, gc2, allocatedStart) = GcSnapshot();
            cpuStart = Environment.CpuUsage.TotalTime;
            serverCpuStart = serverPid > 0 ? ServerCpu.Read(serverPid) : null;
            var attackFigures = "";
            if (scenario == "bystander")
            {
                // Latency of a well-behaved client while other peers send large messages (#14).
                var server = (IPEndPoint)VatAddress.Parse(ToAddress(connect)).ToEndPoint();
                await using var attack = LargeMessageAttack.Start(server, attackers, attackMib * 1024 * 1024);
                run.SetDeadline(seconds);
                await run.Start(run.LatencyLoop);
                attackFigures = $" attackers={attackers} attack_mib={attackMib} attack_messages={attack.MessagesSent}";
            }
            else
            {
                run.SetDeadline(seconds);
                await run.Start(run.LatencyLoop);
            }

            var v = run.LatenciesUs;
            if (v.Count == 0)
            {
                throw new InvalidOperationException("no calls completed");
            }

            v.Sort();
            var median = v[v.Count / 2];
            var p99 = v[Math.Min(v.Count - 1, (int)(v.Count * 0.99))];
            figures = $"median_us={F(median)} p99_us={F(p99)} max_us={F(v[^1])} calls={v.Count}{attackFigures}";
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

                run.Payload = payload;
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
            throw new UsageException($"unknown scenario '{scenario}' (expected latency, throughput, bulk or bystander)");
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
            $"scenario={scenario} transport=native {figures} client_cpu_us_per_call={cpuUsPerCall:0.00} total_calls={run.TotalCalls} peak_rss_kb={PeakRssKb()}{extra}\n"));
        Console.Out.Flush();
        return 0;
    }

    /// <summary>
    /// loop-latency / loop-throughput: round trips through the event loop alone (EventLoop.EchoAsync
    /// with an empty buffer: post a command, run it on the loop thread, complete a task whose
    /// continuation runs on the thread pool). No network, no RPC: the cost of the thread hand-offs
    /// that every RPC call pays twice per process (caller to loop, loop to thread pool).
    /// </summary>
    private static async Task<int> LoopMain(string scenario, double seconds, int inflightArg, bool verbose)
    {
        await using var loop = EventLoop.Start();
        var inflight = scenario == "loop-latency" ? 1 : (inflightArg > 0 ? inflightArg : 64);
        long calls = 0;
        var latencies = new List<double>(1 << 16);

        async Task Worker(long deadline, bool record)
        {
            while (Stopwatch.GetTimestamp() < deadline)
            {
                var start = Stopwatch.GetTimestamp();
                await loop.EchoAsync(ReadOnlyMemory<byte>.Empty);
                if (record)
                {
                    latencies.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
                }

                Interlocked.Increment(ref calls);
            }
        }

        async Task<double> RunFor(double s)
        {
            calls = 0;
            latencies.Clear();
            var start = Stopwatch.GetTimestamp();
            var deadline = start + (long)(s * Stopwatch.Frequency);
            var workers = new Task[inflight];
            for (var i = 0; i < inflight; i++)
            {
                workers[i] = Task.Run(() => Worker(deadline, inflight == 1));
            }

            await Task.WhenAll(workers);
            return Stopwatch.GetElapsedTime(start).TotalSeconds;
        }

        await RunFor(0.5);  // warm-up and JIT tier-up
        var (gc0, gc1, gc2, allocatedStart) = GcSnapshot();
        var cpuStart = Environment.CpuUsage.TotalTime;
        var elapsed = await RunFor(seconds);
        var cpuUsPerCall = (Environment.CpuUsage.TotalTime - cpuStart).TotalMicroseconds / Math.Max(calls, 1);
        string figures;
        if (inflight == 1)
        {
            latencies.Sort();
            figures = $"median_us={F(latencies[latencies.Count / 2])} p99_us={F(latencies[Math.Min(latencies.Count - 1, (int)(latencies.Count * 0.99))])} calls={calls}";
        }
        else
        {
            figures = $"calls_per_s={F(calls / elapsed)} calls={calls} inflight={inflight}";
        }

        var (e0, e1, e2, allocated) = GcSnapshot();
        var extra = verbose
            ? $" gc0={e0 - gc0} gc1={e1 - gc1} gc2={e2 - gc2} alloc_bytes_per_call={F((allocated - allocatedStart) / (double)Math.Max(calls, 1))}"
            : "";
        Console.Out.Write(string.Create(CultureInfo.InvariantCulture,
            $"scenario={scenario} transport=none {figures} client_cpu_us_per_call={cpuUsPerCall:0.00} total_calls={calls} peak_rss_kb={PeakRssKb()}{extra}\n"));
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
