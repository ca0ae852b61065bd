using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Capnp.Native.Serialization;

if (args.Length > 0 && args[0] == "--compare")
{
    // Side-by-side with the C++ baseline (cpp/build.sh builds it): same operations, Stopwatch loops.
    Compare.Run(args[1..]);
    return;
}

// Default: a short in-process run (a couple of minutes on a busy machine). Pass --job etc. to override.
var config = DefaultConfig.Instance
    .AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance).WithWarmupCount(2).WithIterationCount(5))
    .WithOptions(ConfigOptions.DisableOptimizationsValidator);
BenchmarkSwitcher.FromAssembly(typeof(SerializationBench).Assembly).Run(args, config);

/// <summary>A "typical" RPC-sized message: a person-like record with a few scalars, two texts and a list of 8 small structs.</summary>
[MemoryDiagnoser]
public class SerializationBench
{
    // Layout: data words 3 (id Int64 @0, age Int32 @2, score Float64 @2 -> word 2... kept simple), pointers 3 (name, email, phones)
    private const ushort DataWords = 3, Pointers = 3;
    private const ushort PhoneData = 1, PhonePointers = 1;
    private byte[] _framed = null!;
    private MessageReader _reader = null!;
    private StructReader _root;
    private byte[] _bigFramed = null!;
    private MessageReader _bigNative = null!;
    private NativeMemoryManager _native = null!;
    private readonly ArrayBufferWriter<byte> _out = new(4096);

    [GlobalSetup]
    public void Setup()
    {
        using var mb = new MessageBuilder();
        Build(mb);
        _framed = mb.ToFramedArray();
        // Long-lived readers are read millions of times here: lift the traversal limit (it is per message, like C++).
        var unlimited = new ReaderOptions { TraversalLimitInWords = long.MaxValue };
        _reader = MessageReader.FromFramed(_framed, unlimited);
        _root = _reader.Root;

        using var big = new MessageBuilder(new BuilderOptions { FirstSegmentWords = 140_000 });
        var r = big.InitRoot(0, 1);
        var data = r.InitData(0, 1 << 20);
        new Random(1).NextBytes(data.Span);
        _bigFramed = big.ToFramedArray();
        _native = new NativeMemoryManager(_bigFramed);
        _bigNative = MessageReader.FromFramed(_native.Memory, unlimited);
    }

    [GlobalCleanup]
    public void Cleanup() => ((IDisposable?)_native)?.Dispose(); // null for the list rows, which have their own setup

    // Issue #12: a 1,000-element List(Inner{Int64, enum}) through generated code (cpp/bench.capnp), as in the C++ baseline.
    public const int ListCount = 1000;
    private static readonly BuilderOptions s_listOptions = new() { FirstSegmentWords = 4096 };
    private MessageReader _listReader = null!;

    private static ListOfStructsBuilder<Bench.Inner.Builder> BuildList(MessageBuilder mb)
    {
        var items = mb.InitRoot<Bench.Outer.Builder>().InitItems(ListCount);
        for (int i = 0; i < ListCount; i++)
        {
            var it = items[i];
            it.Value = i;
            it.Kind = (Bench.Kind)(i & 3);
        }
        return items;
    }

    // BuildList1000 with the element's fields set through the indexer (items[i].Value = i), no local.
    private static ListOfStructsBuilder<Bench.Inner.Builder> BuildListDirect(MessageBuilder mb)
    {
        var items = mb.InitRoot<Bench.Outer.Builder>().InitItems(ListCount);
        for (int i = 0; i < ListCount; i++)
        {
            items[i].Value = i;
            items[i].Kind = (Bench.Kind)(i & 3);
        }
        return items;
    }

    [GlobalSetup(Targets = [nameof(BuildList1000), nameof(ReadList1000)])]
    public void SetupList()
    {
        using var mb = new MessageBuilder(s_listOptions);
        BuildList(mb);
        _listReader = MessageReader.FromFramed(mb.ToFramedArray(), new ReaderOptions { TraversalLimitInWords = long.MaxValue });
    }

    /// <summary>Build a message holding a 1,000-element List(Inner) (the builder included, as C++'s MallocMessageBuilder).</summary>
    [Benchmark]
    [MethodImpl(MethodImplOptions.NoInlining)] // see Compare.Time
    public long BuildList1000()
    {
        using var mb = new MessageBuilder(s_listOptions);
        return BuildList(mb)[ListCount - 1].Value;
    }

    /// <summary>BuildList1000 written <c>items[i].Value = i</c> (the element through the indexer's reference, no
    /// local); compared with C++'s BuildList1000.</summary>
    [Benchmark]
    [MethodImpl(MethodImplOptions.NoInlining)] // see Compare.Time
    public long BuildList1000Direct()
    {
        using var mb = new MessageBuilder(s_listOptions);
        return BuildListDirect(mb)[ListCount - 1].Value;
    }

    /// <summary>Read every element of a parsed 1,000-element List(Inner).</summary>
    [Benchmark]
    [MethodImpl(MethodImplOptions.NoInlining)] // see Compare.Time
    public long ReadList1000()
    {
        long sum = 0;
        foreach (var it in _listReader.GetRoot<Bench.Outer.Reader>().Items) sum += it.Value + (long)it.Kind;
        return sum;
    }

    private static void Build(MessageBuilder mb)
    {
        var p = mb.InitRoot(DataWords, Pointers);
        p.WriteInt64(0, 123456789);
        p.WriteInt32(2, 42);
        p.WriteFloat64(2, 98.6);
        p.WriteText(0, "Alice Example");
        p.WriteText(1, "alice@example.com");
        var phones = p.InitStructList(2, 8, PhoneData, PhonePointers);
        for (int i = 0; i < 8; i++)
        {
            var ph = phones.GetStruct(i);
            ph.WriteUInt16(0, (ushort)i);
            ph.WriteText(0, "555-0100");
        }
    }

    private static long ReadAll(StructReader p)
    {
        long sum = p.ReadInt64(0) + p.ReadInt32(2) + (long)p.ReadFloat64(2);
        sum += p.ReadTextBytes(0).Length + p.ReadTextBytes(1).Length;
        foreach (var ph in p.ReadList(2).AsStructs())
            sum += ph.Raw.ReadUInt16(0) + ph.Raw.ReadTextBytes(0).Length;
        return sum;
    }

    /// <summary>Build the message, write it framed to a buffer, parse it back and read every field.</summary>
    [Benchmark]
    [MethodImpl(MethodImplOptions.NoInlining)] // see Compare.Time
    public long BuildSerializeRead()
    {
        _out.ResetWrittenCount();
        using (var mb = new MessageBuilder(new BuilderOptions { FirstSegmentWords = 128 }))
        {
            Build(mb);
            mb.WriteTo(_out);
        }
        var m = MessageReader.FromFramed(_out.WrittenMemory);
        return ReadAll(m.Root);
    }

    /// <summary>Same, packed.</summary>
    [Benchmark]
    [MethodImpl(MethodImplOptions.NoInlining)] // see Compare.Time
    public long BuildPackedRead()
    {
        _out.ResetWrittenCount();
        using (var mb = new MessageBuilder(new BuilderOptions { FirstSegmentWords = 128 }))
        {
            Build(mb);
            mb.WritePackedTo(_out);
        }
        return ReadAll(MessageReader.FromPacked(_out.WrittenSpan).Root);
    }

    /// <summary>Read every field of an already parsed message (texts as UTF-8 spans).</summary>
    [Benchmark]
    [MethodImpl(MethodImplOptions.NoInlining)] // see Compare.Time
    public long ReadAllFields() => ReadAll(_root);

    /// <summary>One Int64 field read.</summary>
    [Benchmark]
    public long ReadOneField() => _root.ReadInt64(0);

    /// <summary>Parse the framing of a message and get the root (no field access).</summary>
    [Benchmark]
    [MethodImpl(MethodImplOptions.NoInlining)] // see Compare.Time
    public int ParseFramed() => MessageReader.FromFramed(_framed).Root.PointerCount;

    /// <summary>Read a 1 MiB Data field from a message in native memory: returns a slice, no copy.</summary>
    [Benchmark]
    [MethodImpl(MethodImplOptions.NoInlining)] // see Compare.Time
    public int Read1MiBDataNative()
    {
        var d = _bigNative.Root.ReadData(0);
        return d.Length + d.Span[d.Length - 1];
    }

    /// <summary>Parse + read a 1 MiB Data field from a managed array.</summary>
    [Benchmark]
    [MethodImpl(MethodImplOptions.NoInlining)] // see Compare.Time
    public int ParseAndRead1MiBData()
    {
        var d = MessageReader.FromFramed(_bigFramed).Root.ReadData(0);
        return d.Length + d.Span[0];
    }
}

/// <summary>Exposes unmanaged memory as Memory&lt;byte&gt;, like messages handed over by the native shim.</summary>
public sealed unsafe class NativeMemoryManager : MemoryManager<byte>
{
    private readonly byte* _ptr;
    private readonly int _length;
    public NativeMemoryManager(byte[] content)
    {
        _length = content.Length;
        _ptr = (byte*)NativeMemory.AlignedAlloc((nuint)_length, 8);
        content.CopyTo(new Span<byte>(_ptr, _length));
    }
    public override Span<byte> GetSpan() => new(_ptr, _length);
    public override MemoryHandle Pin(int elementIndex = 0) => new(_ptr + elementIndex);
    public override void Unpin() { }
    protected override void Dispose(bool disposing) => NativeMemory.AlignedFree(_ptr);
}

/// <summary>
/// Stopwatch loops over the same operations as the C++ baseline (cpp/baseline.c++), printed next to it with the ratio.
/// Each repetition measures each row in C# and then in C++ (the baseline run for that operation alone), so each ratio
/// compares figures of the same moment (the machine is shared); the table shows medians and ranges over the repetitions.
/// </summary>
public static class Compare
{
    private sealed record Row(string Name, long Iterations, Func<long, long> Loop, string? CppName = null)
    {
        /// <summary>The C++ operation this row is compared with (its own name unless it is another form of one).</summary>
        public string Cpp => CppName ?? Name;
    }

    // The operation runs inside the loop of the lambda, as the C++ lambda is inlined into its loop: a delegate call
    // per operation would cost more than reading one field. The loop runs in chunks so that the lambda is called
    // often enough to be compiled at tier 1 (a single long call would run on-stack-replacement code, which inlines
    // less). Operations longer than a few nanoseconds are NoInlining methods, compiled on their own as an
    // application's would be, rather than inlined into the harness (where the inlining budget of the harness runs
    // out before their inner loops). Allocated bytes are counted around the measured loop.
    private const int Chunks = 100;

    private static (double Ns, double Bytes) Time(Row row)
    {
        long chunk = Math.Max(1, row.Iterations / Chunks);
        for (int c = 0; c < Chunks / 10; c++) GC.KeepAlive(row.Loop(chunk));
        var sw = new System.Diagnostics.Stopwatch(); // before the count: the stopwatch is the harness's allocation
        long sink = 0;
        long alloc0 = GC.GetAllocatedBytesForCurrentThread();
        sw.Start();
        for (int c = 0; c < Chunks; c++) sink += row.Loop(chunk);
        sw.Stop();
        long alloc1 = GC.GetAllocatedBytesForCurrentThread();
        GC.KeepAlive(sink);
        long iterations = chunk * Chunks;
        return (sw.Elapsed.TotalMilliseconds * 1e6 / iterations, (double)(alloc1 - alloc0) / iterations);
    }

    private static Row[] Rows(SerializationBench b) =>
    [
        new("BuildSerializeRead", 200_000, n => { long s = 0; for (long i = 0; i < n; i++) s += b.BuildSerializeRead(); return s; }),
        new("BuildPackedRead", 100_000, n => { long s = 0; for (long i = 0; i < n; i++) s += b.BuildPackedRead(); return s; }),
        new("ReadAllFields", 1_000_000, n => { long s = 0; for (long i = 0; i < n; i++) s += b.ReadAllFields(); return s; }),
        new("ReadOneField", 20_000_000, n => { long s = 0; for (long i = 0; i < n; i++) s += b.ReadOneField(); return s; }),
        new("BuildList1000", 100_000, n => { long s = 0; for (long i = 0; i < n; i++) s += b.BuildList1000(); return s; }),
        new("BuildList1000Direct", 100_000, n => { long s = 0; for (long i = 0; i < n; i++) s += b.BuildList1000Direct(); return s; }, "BuildList1000"),
        new("ReadList1000", 200_000, n => { long s = 0; for (long i = 0; i < n; i++) s += b.ReadList1000(); return s; }),
        new("ParseFramed", 2_000_000, n => { long s = 0; for (long i = 0; i < n; i++) s += b.ParseFramed(); return s; }),
        new("Read1MiBDataNative", 2_000_000, n => { long s = 0; for (long i = 0; i < n; i++) s += b.Read1MiBDataNative(); return s; }),
        new("ParseAndRead1MiBData", 2_000_000, n => { long s = 0; for (long i = 0; i < n; i++) s += b.ParseAndRead1MiBData(); return s; }),
    ];

    /// <summary>Rows that only read an already parsed message: they must not allocate.</summary>
    private static readonly HashSet<string> s_readRows = ["ReadAllFields", "ReadOneField", "ReadList1000", "Read1MiBDataNative"];

    /// <summary><c>--compare [baseline-path] [--reps N] [--only Row1,Row2]</c>.</summary>
    public static void Run(string[] args)
    {
        int reps = 5;
        string? baselinePath = null;
        string[]? only = null; // a subset of the rows, e.g. to profile one of them
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--reps" && i + 1 < args.Length) reps = int.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture);
            else if (args[i] == "--only" && i + 1 < args.Length) only = args[++i].Split(',');
            else baselinePath = args[i];
        }
        baselinePath ??= Path.Combine(AppContext.BaseDirectory, "../../../cpp/serialization-baseline");
        bool haveCpp = File.Exists(baselinePath);
        if (!haveCpp) Console.WriteLine($"(C++ baseline not found at {baselinePath}; run cpp/build.sh)");

        var b = new SerializationBench();
        b.Setup();
        b.SetupList();
        var rows = Rows(b).Where(r => only is null || only.Contains(r.Name)).ToArray();
        foreach (var row in rows) Time(row); // warm-up pass: tiered JIT reaches its final code before anything is reported

        var ours = rows.ToDictionary(r => r.Name, _ => new List<double>());
        var cpp = rows.ToDictionary(r => r.Name, _ => new List<double>());
        var ratios = rows.ToDictionary(r => r.Name, _ => new List<double>());
        var bytes = rows.ToDictionary(r => r.Name, _ => 0.0);
        for (int rep = 0; rep < reps; rep++)
        {
            foreach (var row in rows)
            {
                var (ns, allocated) = Time(row);
                ours[row.Name].Add(ns);
                bytes[row.Name] = Math.Max(bytes[row.Name], allocated);
                if (!haveCpp) continue;
                // C++ right after ours, the same operation only: the two figures of a ratio are a second apart.
                foreach (var (name, cppNs) in RunBaseline(baselinePath, row.Cpp))
                {
                    if (name != row.Cpp) continue;
                    cpp[row.Name].Add(cppNs);
                    ratios[row.Name].Add(ns / cppNs);
                }
            }
        }
        b.Cleanup();

        Console.WriteLine($"{reps} repetitions; medians, [min-max]; ratio = C#/C++ per repetition; B/op = most bytes allocated per operation in any repetition");
        Console.WriteLine($"{"operation",-22} {"C# ns/op",10} {"C# range",17} {"C++ ns/op",10} {"C++ range",17} {"C#/C++",7} {"ratio range",12} {"B/op",8}");
        foreach (var row in rows)
        {
            var o = ours[row.Name]; var c = cpp[row.Name]; var r = ratios[row.Name];
            string cs = c.Count > 0 ? Median(c).ToString("F1") : "-";
            string crange = c.Count > 0 ? $"{c.Min():F1}-{c.Max():F1}" : "-";
            string rs = r.Count > 0 ? Median(r).ToString("F2") : "-";
            string rrange = r.Count > 0 ? $"{r.Min():F2}-{r.Max():F2}" : "-";
            string mark = s_readRows.Contains(row.Name) && bytes[row.Name] > 0 ? " (read path allocates!)" : "";
            Console.WriteLine($"{row.Name,-22} {Median(o),10:F1} {$"{o.Min():F1}-{o.Max():F1}",17} {cs,10} {crange,17} {rs,7} {rrange,12} {bytes[row.Name],8:0.###}{mark}");
        }
    }

    private static double Median(List<double> xs)
    {
        var s = xs.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    private static IEnumerable<(string Name, double Ns)> RunBaseline(string path, string operation)
    {
        var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(path, ["1", operation]) { RedirectStandardOutput = true })!;
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split(' ');
            yield return (parts[0], double.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
        }
    }
}
