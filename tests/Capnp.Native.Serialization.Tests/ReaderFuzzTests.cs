using System.Buffers.Binary;

namespace Capnp.Native.Serialization.Tests;

/// <summary>
/// A deterministic mutation fuzzer over the reader (SharpFuzz's coverage-guided mode needs its
/// instrumentation tool and the libfuzzer-dotnet driver, which this project does not build): real
/// messages from the capnp tool and hand-made hostile ones are mutated with fixed seeds for a
/// bounded number of rounds, and every mutant is read the ways a program reads (framed and packed,
/// a generic deep walk, the typed fields of TestAll). Whatever the bytes, reading must end in a
/// result or a <see cref="CapnpFormatException"/>; anything else fails with the seed, round and
/// bytes to reproduce it. CAPNP_FUZZ_ROUNDS (default 20,000 per seed) runs longer.
/// </summary>
public class ReaderFuzzTests
{
    private static readonly int Rounds =
        int.TryParse(Environment.GetEnvironmentVariable("CAPNP_FUZZ_ROUNDS"), out var r) && r > 0 ? r : 20_000;

    private static readonly ReaderOptions SmallLimits = new() { TraversalLimitInWords = 4096, NestingLimit = 16 };

    public static TheoryData<string> Seeds() => ["all", "all-5-word-segments", "hostile"];

    [Theory]
    [MemberData(nameof(Seeds))]
    public void MutatedMessagesEndInAResultOrAFormatException(string seed)
    {
        var messages = SeedMessages(seed);
        var random = new Random(HashCode(seed));
        int rejected = 0, read = 0;
        for (int round = 0; round < Rounds; round++)
        {
            var original = messages[round % messages.Count];
            var mutant = Mutate(original, random);
            var packed = round % 4 == 0 ? Packing.Pack(Pad(mutant)) : null;
            try
            {
                if (ReadEverything(mutant)) read++; else rejected++;
                if (packed is not null) ReadPacked(Mutate(packed, random));
            }
            catch (Exception e)
            {
                Assert.Fail($"seed {seed}, round {round}: {e.GetType().Name}: {e.Message}\n"
                            + $"input: {Convert.ToHexString(mutant)}\n{e}");
            }
        }

        // The mutants are neither all rejected nor all read, so both paths were exercised.
        Assert.True(rejected > 0, $"no mutant of {seed} was rejected");
        Assert.True(read > 0, $"no mutant of {seed} was read");
    }

    // True when the message was read, false when it was rejected with a CapnpFormatException.
    private static bool ReadEverything(byte[] framed)
    {
        try
        {
            var message = MessageReader.FromFramed(framed, SmallLimits);
            Walker.Walk(message.RootPointer);
            ReadTyped(MessageReader.FromFramed(framed, SmallLimits).Root);
            return true;
        }
        catch (CapnpFormatException)
        {
            return false;
        }
    }

    private static void ReadPacked(byte[] packed)
    {
        try
        {
            var message = MessageReader.FromPacked(packed, SmallLimits);
            Walker.Walk(message.RootPointer);
        }
        catch (CapnpFormatException)
        {
        }
    }

    // The fields of TestAll as a generated reader reads them.
    private static void ReadTyped(StructReader s)
    {
        _ = s.ReadBool(TestAll.Bool);
        _ = s.ReadInt64(TestAll.Int64);
        _ = s.ReadFloat64(TestAll.Float64);
        _ = s.ReadEnum<TestEnum>(TestAll.Enum);
        _ = s.ReadText(TestAll.Text);
        _ = s.ReadData(TestAll.Data);
        _ = s.ReadStruct(TestAll.Struct).ReadText(0);
        foreach (var i in new[] { TestAll.VoidList, TestAll.BoolList, TestAll.Int32List, TestAll.TextList,
                                   TestAll.DataList, TestAll.StructList, TestAll.NestedList, TestAll.Any })
        {
            Walker.Walk(s.ReadAnyPointer(i));
        }

        var texts = s.ReadList(TestAll.TextList);
        for (int i = 0; i < Math.Min(texts.Count, 64); i++) _ = texts.AsTextList()[i];
        var structs = s.ReadList(TestAll.StructList);
        for (int i = 0; i < Math.Min(structs.Count, 64); i++) _ = structs.GetStruct(i).ReadText(0);
        if (s.Which(TestAll.UnionDisc) == 1) _ = s.ReadText(TestAll.UnionText);
    }

    private static List<byte[]> SeedMessages(string seed) => seed switch
    {
        "all" => [CapnpTool.Encode("TestAll", ConformanceTests.AllText)],
        "all-5-word-segments" => [CapnpTool.Encode("TestAll", ConformanceTests.AllText, segmentSize: 5)],
        _ => HostileSeeds(),
    };

    // Cyclic, far and out-of-bounds pointers, many segments, and a list claiming 2^29 elements.
    private static List<byte[]> HostileSeeds()
    {
        static ulong StructPtr(int off, ushort dw, ushort pc) => (uint)(off << 2) | ((ulong)dw << 32) | ((ulong)pc << 48);
        static ulong Far(int word, int seg) => (uint)((word << 3) | 2) | ((ulong)(uint)seg << 32);
        return
        [
            Framed([StructPtr(0, 0, 1), StructPtr(-1, 0, 1)]),
            Framed([Far(0, 1)], [Far(0, 0)]),
            Framed([StructPtr(0, 1, 1), 7ul, StructPtr(100000, 1, 0)]),
            Framed([StructPtr(0, 0, 1), 1ul | ((ulong)((0x3fffffffu << 3) | 7u) << 32)]),
            Framed([StructPtr(0, 1, 0), 1ul], [2ul], [3ul], [4ul], [5ul], [6ul]),
        ];
    }

    private static byte[] Framed(params ulong[][] segments)
    {
        int header = ((4 + 4 * segments.Length) + 7) & ~7;
        var bytes = new byte[header + segments.Sum(s => s.Length) * 8];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, (uint)(segments.Length - 1));
        for (int i = 0; i < segments.Length; i++) BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4 + 4 * i), (uint)segments[i].Length);
        int pos = header;
        foreach (var s in segments)
        {
            foreach (var w in s)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(pos), w);
                pos += 8;
            }
        }

        return bytes;
    }

    // One to four mutations: bit flips, interesting bytes, random pointer words (aligned, so they
    // land on pointers), segment table edits, truncation, duplication and insertion.
    private static byte[] Mutate(byte[] input, Random random)
    {
        var bytes = new List<byte>(input);
        int count = 1 + random.Next(4);
        for (int m = 0; m < count && bytes.Count > 0; m++)
        {
            int at = random.Next(bytes.Count);
            switch (random.Next(8))
            {
                case 0:
                    bytes[at] ^= (byte)(1 << random.Next(8));
                    break;
                case 1:
                    bytes[at] = new byte[] { 0, 1, 0x7f, 0x80, 0xfe, 0xff }[random.Next(6)];
                    break;
                case 2:
                case 3:
                {
                    int word = at & ~7;
                    if (word + 8 > bytes.Count) break;
                    ulong value = RandomPointer(random);
                    for (int i = 0; i < 8; i++) bytes[word + i] = (byte)(value >> (8 * i));
                    break;
                }
                case 4:
                {
                    // A segment table entry (the count or a size).
                    int entry = 4 * random.Next(Math.Min(4, bytes.Count / 4));
                    uint value = new uint[] { 0, 1, 2, 0xffffffff, 0x7fffffff, 512, (uint)random.Next(64) }[random.Next(7)];
                    for (int i = 0; i < 4 && entry + i < bytes.Count; i++) bytes[entry + i] = (byte)(value >> (8 * i));
                    break;
                }
                case 5:
                    bytes.RemoveRange(at, bytes.Count - at);
                    break;
                case 6:
                {
                    int length = Math.Min(1 + random.Next(32), bytes.Count - at);
                    bytes.InsertRange(random.Next(bytes.Count), bytes.GetRange(at, length));
                    break;
                }
                default:
                    bytes.Insert(at, (byte)random.Next(256));
                    break;
            }
        }

        return [.. bytes];
    }

    private static ulong RandomPointer(Random random)
    {
        uint kind = (uint)random.Next(4);
        int offset = random.Next(3) switch { 0 => random.Next(-4, 8), 1 => -1, _ => random.Next() >> random.Next(31) };
        uint low = (uint)(offset << 2) | kind;
        uint high = random.Next(3) == 0 ? 0xffffffffu : (uint)random.Next() >> random.Next(31);
        return low | ((ulong)high << 32);
    }

    private static byte[] Pad(byte[] bytes)
    {
        var padded = new byte[(bytes.Length + 7) & ~7];
        bytes.CopyTo(padded, 0);
        return padded;
    }

    private static int HashCode(string text)
    {
        int hash = 17;
        foreach (char c in text) hash = hash * 31 + c;
        return hash;
    }
}
