using System.Buffers;
using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Capnp.Native.Serialization;

if (args.Length > 0 && args[0] == "--compare")
{
    // Quick side-by-side with the C++ baseline (cpp/build.sh builds it): same operations, Stopwatch loops.
    Compare.Run(args.Skip(1).FirstOrDefault());
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
    public void Cleanup() => ((IDisposable)_native).Dispose();

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
    public long ReadAllFields() => ReadAll(_root);

    /// <summary>One Int64 field read.</summary>
    [Benchmark]
    public long ReadOneField() => _root.ReadInt64(0);

    /// <summary>Parse the framing of a message and get the root (no field access).</summary>
    [Benchmark]
    public int ParseFramed() => MessageReader.FromFramed(_framed).Root.PointerCount;

    /// <summary>Read a 1 MiB Data field from a message in native memory: returns a slice, no copy.</summary>
    [Benchmark]
    public int Read1MiBDataNative()
    {
        var d = _bigNative.Root.ReadData(0);
        return d.Length + d.Span[d.Length - 1];
    }

    /// <summary>Parse + read a 1 MiB Data field from a managed array.</summary>
    [Benchmark]
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

/// <summary>Stopwatch loops over the same operations as the C++ baseline, printed next to it with the ratio.</summary>
public static class Compare
{
    private static double Time(Func<long> f, long iters)
    {
        long sink = 0;
        for (long i = 0; i < iters / 10; i++) sink += f();
        var sw = System.Diagnostics.Stopwatch.StartNew();
        for (long i = 0; i < iters; i++) sink += f();
        sw.Stop();
        GC.KeepAlive(sink);
        return sw.Elapsed.TotalMilliseconds * 1e6 / iters;
    }

    public static void Run(string? baselinePath)
    {
        var b = new SerializationBench();
        b.Setup();
        Dictionary<string, double> ours = null!;
        for (int pass = 0; pass < 2; pass++) // first pass warms up tiered JIT; the second is reported
        ours = new Dictionary<string, double>
        {
            ["BuildSerializeRead"] = Time(b.BuildSerializeRead, 200_000),
            ["BuildPackedRead"] = Time(b.BuildPackedRead, 100_000),
            ["ReadAllFields"] = Time(b.ReadAllFields, 1_000_000),
            ["ReadOneField"] = Time(b.ReadOneField, 20_000_000),
            ["ParseFramed"] = Time(() => b.ParseFramed(), 2_000_000),
            ["Read1MiBDataNative"] = Time(() => b.Read1MiBDataNative(), 2_000_000),
            ["ParseAndRead1MiBData"] = Time(() => b.ParseAndRead1MiBData(), 2_000_000),
        };
        b.Cleanup();
        var cpp = new Dictionary<string, double>();
        baselinePath ??= Path.Combine(AppContext.BaseDirectory, "../../../cpp/serialization-baseline");
        if (File.Exists(baselinePath))
        {
            var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(baselinePath) { RedirectStandardOutput = true })!;
            foreach (var line in p.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                var parts = line.Split(' ');
                cpp[parts[0]] = double.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
            }
            p.WaitForExit();
        }
        else Console.WriteLine($"(C++ baseline not found at {baselinePath}; run cpp/build.sh)");
        Console.WriteLine($"{"operation",-22} {"C# ns/op",12} {"C++ ns/op",12} {"C#/C++",8}");
        foreach (var (name, ns) in ours)
        {
            string c = cpp.TryGetValue(name, out var cns) ? cns.ToString("F1") : "-";
            string r = cpp.TryGetValue(name, out var cns2) ? (ns / cns2).ToString("F2") : "-";
            Console.WriteLine($"{name,-22} {ns,12:F1} {c,12} {r,8}");
        }
    }
}
