using System.Buffers;
using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace Capnp.Native.Serialization;

/// <summary>The Cap'n Proto packing compression (zero-byte elision), see capnproto.org/encoding.html#packing.</summary>
public static class Packing
{
    /// <summary>Upper bound of the packed size of <paramref name="unpackedBytes"/> bytes of words.</summary>
    public static int MaxPackedSize(int unpackedBytes) => unpackedBytes + unpackedBytes / 8 + unpackedBytes / (8 * 255) + 16;

    /// <summary>Packs whole words into <paramref name="output"/>.</summary>
    public static void Pack(ReadOnlySpan<byte> words, IBufferWriter<byte> output)
    {
        if ((words.Length & 7) != 0) throw new ArgumentException("Input must be a whole number of words.", nameof(words));
        var dst = output.GetSpan(MaxPackedSize(words.Length));
        output.Advance(Pack(words, dst));
    }

    /// <summary>Packs whole words into <paramref name="dst"/> (at least <see cref="MaxPackedSize"/> bytes); returns the packed length.</summary>
    public static int Pack(ReadOnlySpan<byte> words, Span<byte> dst)
    {
        if ((words.Length & 7) != 0) throw new ArgumentException("Input must be a whole number of words.", nameof(words));
        int n = words.Length / 8;
        int i = 0, k = 0;
        while (i < n)
        {
            ulong v = BinaryPrimitives.ReadUInt64LittleEndian(words.Slice(i * 8));
            if (v == 0)
            {
                int run = 0;
                while (run < 255 && i + 1 + run < n && BinaryPrimitives.ReadUInt64LittleEndian(words.Slice((i + 1 + run) * 8)) == 0) run++;
                dst[k++] = 0; dst[k++] = (byte)run;
                i += 1 + run;
                continue;
            }
            int tagPos = k++;
            int tag = NonZeroBytes(v);
            if (dst.Length - k >= 8)
            {
                // The kept bytes are gathered and stored as one word (the 8 bytes from k are within dst, checked
                // above); the position advances past the kept ones only. No branch depends on which bytes are zero,
                // which is data-dependent and would mispredict.
                ulong kept = Bmi2.X64.IsSupported ? Bmi2.X64.ParallelBitExtract(v, ByteMask(tag)) : Gather(v, tag);
                Unsafe.WriteUnaligned(ref Unsafe.Add(ref MemoryMarshal.GetReference(dst), k), kept);
                k += BitOperations.PopCount((uint)tag);
            }
            else
            {
                // Near the end of a destination smaller than MaxPackedSize: only the bytes kept are stored.
                for (int b = 0; b < 8; b++)
                {
                    byte x = (byte)(v >> (b * 8));
                    if (x != 0) dst[k++] = x;
                }
            }
            dst[tagPos] = (byte)tag;
            i++;
            if (tag == 0xFF)
            {
                // Following words go uncompressed while they have at most one zero byte (as C++ does).
                int start = i;
                while (i < n && i - start < 255)
                {
                    ulong x = BinaryPrimitives.ReadUInt64LittleEndian(words.Slice(i * 8));
                    if (BitOperations.PopCount((uint)NonZeroBytes(x)) <= 6) break; // two zero bytes or more
                    i++;
                }
                int cnt = i - start;
                dst[k++] = (byte)cnt;
                words.Slice(start * 8, cnt * 8).CopyTo(dst.Slice(k));
                k += cnt * 8;
            }
        }
        return k;
    }

    /// <summary>Bit b set when byte b of <paramref name="v"/> is not zero.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int NonZeroBytes(ulong v)
    {
        const ulong Low7 = 0x7F7F7F7F7F7F7F7Ful;
        ulong high = (((v & Low7) + Low7) | v) & ~Low7; // the high bit of each byte: set when the byte is not zero
        return (int)(((high >> 7) * 0x0102040810204080ul) >> 56);
    }

    /// <summary>0xFF in byte b for each bit b of <paramref name="tag"/> (with BMI2 only).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong ByteMask(int tag) => Bmi2.X64.ParallelBitDeposit((ulong)tag, 0x0101010101010101ul) * 0xFF;

    // Without BMI2: the bytes of v selected by tag, packed towards the low end (what pext does).
    private static ulong Gather(ulong v, int tag)
    {
        ulong r = 0;
        int shift = 0;
        for (int b = 0; b < 8; b++)
        {
            int bit = (tag >> b) & 1;
            r |= ((v >> (b * 8)) & (ulong)(-bit & 0xFF)) << shift;
            shift += bit * 8;
        }
        return r;
    }

    // Without BMI2: the low bytes of v spread to the bytes selected by tag (what pdep does with the byte mask).
    private static ulong Scatter(ulong v, int tag)
    {
        ulong r = 0;
        int shift = 0;
        for (int b = 0; b < 8; b++)
        {
            int bit = (tag >> b) & 1;
            r |= ((v >> shift) & (ulong)(-bit & 0xFF)) << (b * 8);
            shift += bit * 8;
        }
        return r;
    }

    /// <summary>Packs whole words into a new array.</summary>
    public static byte[] Pack(ReadOnlySpan<byte> words)
    {
        var buf = ArrayPool<byte>.Shared.Rent(MaxPackedSize(words.Length));
        try { return buf.AsSpan(0, Pack(words, buf.AsSpan())).ToArray(); }
        finally { ArrayPool<byte>.Shared.Return(buf); }
    }

    /// <summary>Unpacks a whole packed byte stream. <paramref name="maxOutputBytes"/> bounds the output (zero runs amplify 1024x).</summary>
    public static void Unpack(ReadOnlySpan<byte> packed, IBufferWriter<byte> output, long maxOutputBytes = long.MaxValue)
    {
        int pos = 0;
        long produced = 0;
        Span<byte> word = stackalloc byte[8];
        while (pos < packed.Length)
        {
            byte tag = packed[pos++];
            int nz = BitOperations.PopCount(tag);
            if (pos + nz > packed.Length) throw new CapnpFormatException("Packed input is truncated.");
            Grow(ref produced, 8, maxOutputBytes);
            for (int b = 0; b < 8; b++) word[b] = (tag & (1 << b)) != 0 ? packed[pos++] : (byte)0;
            output.Write(word);
            if (tag == 0 || tag == 0xFF)
            {
                if (pos >= packed.Length) throw new CapnpFormatException("Packed input is truncated.");
                int cnt = packed[pos++];
                Grow(ref produced, cnt * 8L, maxOutputBytes);
                if (tag == 0)
                {
                    var z = output.GetSpan(cnt * 8).Slice(0, cnt * 8); z.Clear(); output.Advance(cnt * 8);
                }
                else
                {
                    if (pos + cnt * 8 > packed.Length) throw new CapnpFormatException("Packed input is truncated.");
                    output.Write(packed.Slice(pos, cnt * 8));
                    pos += cnt * 8;
                }
            }
        }
    }

    /// <summary>Unpacks a packed byte stream into a new array (at most <paramref name="maxOutputBytes"/> bytes).</summary>
    public static byte[] Unpack(ReadOnlySpan<byte> packed, long maxOutputBytes = 64L * 1024 * 1024)
    {
        var w = new ArrayBufferWriter<byte>(Math.Max(16, packed.Length * 2));
        Unpack(packed, w, maxOutputBytes);
        return w.WrittenSpan.ToArray();
    }

    private static void Grow(ref long produced, long n, long max)
    {
        produced += n;
        if (produced > max) throw new CapnpLimitExceededException("Unpacked data exceeds the size limit.");
    }

    /// <summary>
    /// Unpacks one packed, stream-framed message from the start of <paramref name="packed"/> and returns it framed
    /// (unpacked). The size announced by the segment table is checked against the traversal limit before any
    /// expansion, so zero-run amplification cannot allocate unbounded memory.
    /// </summary>
    [SkipLocalsInit] // the 4 KiB scratch is written before it is read: zeroing it would cost more than unpacking a small message
    public static byte[] UnpackMessage(ReadOnlySpan<byte> packed, out int packedBytesConsumed, ReaderOptions options = default)
    {
        // Runs may cross the header/segment boundary (C++ packs the stream contiguously), so unpack the header
        // into a scratch buffer with room for one maximal run past it.
        int pos = 0;
        Span<byte> scratch = stackalloc byte[8 + Wire.MaxSegments * 4 + 8 + 256 * 8];
        int produced = UnpackAtLeast(packed, ref pos, scratch, 8);
        uint countMinusOne = BinaryPrimitives.ReadUInt32LittleEndian(scratch);
        if (countMinusOne >= Wire.MaxSegments) throw new CapnpLimitExceededException("Message has too many segments.");
        int count = (int)countMinusOne + 1;
        int headerBytes = ((4 + count * 4) + 7) & ~7;
        if (produced < headerBytes) produced += UnpackAtLeast(packed, ref pos, scratch.Slice(produced), headerBytes - produced);
        long total = 0;
        for (int i = 0; i < count; i++) total += BinaryPrimitives.ReadUInt32LittleEndian(scratch.Slice(4 + 4 * i));
        if (total > options.EffectiveTraversalLimit || headerBytes + total * 8 > Array.MaxLength)
            throw new CapnpLimitExceededException("Message is too large for the traversal limit.");
        var result = new byte[headerBytes + total * 8];
        if (produced > result.Length) throw new CapnpFormatException("Packed run extends past the end of the message.");
        scratch.Slice(0, produced).CopyTo(result);
        UnpackAtLeast(packed, ref pos, result.AsSpan(produced), result.Length - produced);
        packedBytesConsumed = pos;
        return result;
    }

    /// <summary>
    /// Unpacks whole tag groups into <paramref name="dest"/> until at least <paramref name="minBytes"/> were
    /// produced; returns the count. A run that would not fit in <paramref name="dest"/> is a format error (with
    /// <paramref name="minBytes"/> = <c>dest.Length</c>, exactly that many bytes are produced).
    /// </summary>
    private static int UnpackAtLeast(ReadOnlySpan<byte> packed, ref int pos, Span<byte> dest, int minBytes)
    {
        int o = 0;
        while (o < minBytes)
        {
            if (pos >= packed.Length) throw new CapnpFormatException("Packed message is truncated.");
            byte tag = packed[pos++];
            if (pos + BitOperations.PopCount(tag) > packed.Length) throw new CapnpFormatException("Packed message is truncated.");
            if (packed.Length - pos >= 8)
            {
                // The 8 bytes from pos are within the input (checked above): one load, the tag's bytes spread to
                // their places (the others zero), and the position advanced past the bytes taken.
                ulong next = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref MemoryMarshal.GetReference(packed), pos));
                ulong word = Bmi2.X64.IsSupported ? Bmi2.X64.ParallelBitDeposit(next, ByteMask(tag)) : Scatter(next, tag);
                pos += BitOperations.PopCount(tag);
                BinaryPrimitives.WriteUInt64LittleEndian(dest.Slice(o, 8), word);
            }
            else
            {
                for (int b = 0; b < 8; b++) dest[o + b] = (tag & (1 << b)) != 0 ? packed[pos++] : (byte)0;
            }
            o += 8;
            if (tag == 0 || tag == 0xFF)
            {
                if (pos >= packed.Length) throw new CapnpFormatException("Packed message is truncated.");
                int bytes = packed[pos++] * 8;
                if (o + bytes > dest.Length) throw new CapnpFormatException("Packed run extends past the end of the message.");
                if (tag == 0) dest.Slice(o, bytes).Clear();
                else
                {
                    if (pos + bytes > packed.Length) throw new CapnpFormatException("Packed message is truncated.");
                    packed.Slice(pos, bytes).CopyTo(dest.Slice(o));
                    pos += bytes;
                }
                o += bytes;
            }
        }
        return o;
    }
}
