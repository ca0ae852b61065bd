using System.Buffers;
using System.Buffers.Binary;

namespace Capnp.Native.Serialization;

/// <summary>The Cap'n Proto packing compression (zero-byte elision), see capnproto.org/encoding.html#packing.</summary>
public static class Packing
{
    /// <summary>Packs whole words.</summary>
    public static void Pack(ReadOnlySpan<byte> words, IBufferWriter<byte> output)
    {
        if ((words.Length & 7) != 0) throw new ArgumentException("Input must be a whole number of words.", nameof(words));
        int n = words.Length / 8;
        int i = 0;
        while (i < n)
        {
            var w = words.Slice(i * 8, 8);
            ulong v = BinaryPrimitives.ReadUInt64LittleEndian(w);
            if (v == 0)
            {
                int run = 0;
                while (run < 255 && i + 1 + run < n && BinaryPrimitives.ReadUInt64LittleEndian(words.Slice((i + 1 + run) * 8)) == 0) run++;
                var o = output.GetSpan(2); o[0] = 0; o[1] = (byte)run; output.Advance(2);
                i += 1 + run;
                continue;
            }
            var dst = output.GetSpan(10);
            byte tag = 0; int k = 1;
            for (int b = 0; b < 8; b++) if (w[b] != 0) { tag |= (byte)(1 << b); dst[k++] = w[b]; }
            dst[0] = tag;
            output.Advance(k);
            i++;
            if (tag == 0xFF)
            {
                // Count following words that have at least 2 zero bytes... C++ emits uncompressed words while they have few zeros.
                int start = i;
                while (i < n && i - start < 255)
                {
                    var x = words.Slice(i * 8, 8);
                    int zeros = 0;
                    for (int b = 0; b < 8; b++) if (x[b] == 0) zeros++;
                    if (zeros >= 2) break;
                    i++;
                }
                int cnt = i - start;
                var o = output.GetSpan(1 + cnt * 8);
                o[0] = (byte)cnt;
                words.Slice(start * 8, cnt * 8).CopyTo(o.Slice(1));
                output.Advance(1 + cnt * 8);
            }
        }
    }

    /// <summary>Packs whole words into a new array.</summary>
    public static byte[] Pack(ReadOnlySpan<byte> words)
    {
        var w = new ArrayBufferWriter<byte>(Math.Max(16, words.Length / 2));
        Pack(words, w);
        return w.WrittenSpan.ToArray();
    }

    /// <summary>Unpacks a packed byte stream completely. <paramref name="maxOutputBytes"/> bounds the output.</summary>
    public static void Unpack(ReadOnlySpan<byte> packed, IBufferWriter<byte> output, long maxOutputBytes = long.MaxValue)
    {
        int pos = 0;
        long produced = 0;
        while (pos < packed.Length)
        {
            int used = UnpackWord(packed, pos, output, ref produced, maxOutputBytes);
            pos += used;
        }
    }

    /// <summary>Unpacks a packed byte stream into a new array.</summary>
    public static byte[] Unpack(ReadOnlySpan<byte> packed, long maxOutputBytes = 64L * 1024 * 1024)
    {
        var w = new ArrayBufferWriter<byte>(Math.Max(16, packed.Length * 2));
        Unpack(packed, w, maxOutputBytes);
        return w.WrittenSpan.ToArray();
    }

    private static int UnpackWord(ReadOnlySpan<byte> packed, int pos, IBufferWriter<byte> output, ref long produced, long max)
    {
        int start = pos;
        byte tag = packed[pos++];
        int nz = System.Numerics.BitOperations.PopCount(tag);
        if (pos + nz > packed.Length) throw new CapnpFormatException("Packed input is truncated.");
        Grow(ref produced, 8, max);
        var o = output.GetSpan(8);
        for (int b = 0; b < 8; b++) o[b] = (tag & (1 << b)) != 0 ? packed[pos++] : (byte)0;
        output.Advance(8);
        if (tag == 0)
        {
            if (pos >= packed.Length) throw new CapnpFormatException("Packed input is truncated.");
            int run = packed[pos++];
            Grow(ref produced, run * 8L, max);
            var z = output.GetSpan(run * 8).Slice(0, run * 8); z.Clear(); output.Advance(run * 8);
        }
        else if (tag == 0xFF)
        {
            if (pos >= packed.Length) throw new CapnpFormatException("Packed input is truncated.");
            int cnt = packed[pos++];
            if (pos + cnt * 8 > packed.Length) throw new CapnpFormatException("Packed input is truncated.");
            Grow(ref produced, cnt * 8L, max);
            output.Write(packed.Slice(pos, cnt * 8));
            pos += cnt * 8;
        }
        return pos - start;
    }

    private static void Grow(ref long produced, long n, long max)
    {
        produced += n;
        if (produced > max) throw new CapnpLimitExceededException("Unpacked data exceeds the size limit.");
    }

    /// <summary>
    /// Unpacks one packed, stream-framed message from the start of <paramref name="packed"/> and returns it framed
    /// (unpacked). The message size is checked against the traversal limit before it is expanded.
    /// </summary>
    public static byte[] UnpackMessage(ReadOnlySpan<byte> packed, out int packedBytesConsumed, ReaderOptions options = default)
    {
        var w = new ArrayBufferWriter<byte>(64);
        long produced = 0;
        int pos = 0;
        long limitBytes = 8;
        // first word: segment count
        while (produced < 8)
        {
            if (pos >= packed.Length) throw new CapnpFormatException("Packed message is truncated.");
            pos += UnpackWord(packed, pos, w, ref produced, long.MaxValue);
        }
        uint countMinusOne = BinaryPrimitives.ReadUInt32LittleEndian(w.WrittenSpan);
        if (countMinusOne >= Wire.MaxSegments) throw new CapnpLimitExceededException("Message has too many segments.");
        int count = (int)countMinusOne + 1;
        long headerBytes = ((4 + count * 4) + 7) & ~7;
        while (produced < headerBytes)
        {
            if (pos >= packed.Length) throw new CapnpFormatException("Packed message is truncated.");
            pos += UnpackWord(packed, pos, w, ref produced, long.MaxValue);
        }
        long total = 0;
        for (int i = 0; i < count; i++) total += BinaryPrimitives.ReadUInt32LittleEndian(w.WrittenSpan.Slice(4 + 4 * i));
        if (total > options.EffectiveTraversalLimit)
            throw new CapnpLimitExceededException("Message is too large for the traversal limit.");
        limitBytes = headerBytes + total * 8;
        while (produced < limitBytes)
        {
            if (pos >= packed.Length) throw new CapnpFormatException("Packed message is truncated.");
            pos += UnpackWord(packed, pos, w, ref produced, limitBytes);
        }
        packedBytesConsumed = pos;
        return w.WrittenSpan.ToArray();
    }
}
