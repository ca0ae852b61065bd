namespace Capnp.Native.Serialization;

/// <summary>
/// Produces the canonical form of a struct (capnproto.org/encoding.html#canonicalization): one segment, no far pointers,
/// objects in pre-order, struct sections truncated (trailing zero data words and trailing null pointers dropped;
/// struct-list elements use the largest truncated size among elements). Output has no segment table, like
/// <c>capnp convert binary:canonical</c>.
/// </summary>
public static class Canonicalizer
{
    /// <summary>Returns the canonical single-segment words of <paramref name="root"/> (root pointer first).</summary>
    public static byte[] Canonicalize(StructReader root)
    {
        // One traversal of the (possibly hostile) source, charged against its limits. If the copy did not fit in one
        // segment, copy that trusted intermediate again into a segment of its total size (which always suffices:
        // the intermediate is already truncated and only adds landing pads).
        long guess = 64;
        var m = root.MessageReader;
        if (m is not null) { guess = 1; for (int i = 0; i < m.SegmentCount; i++) guess += m.GetSegment(i).Length / 8; }
        int words = (int)Math.Min(guess + 1, (1 << 29) - 1);
        using var b = new MessageBuilder(new BuilderOptions { FirstSegmentWords = words });
        Copier.CopyStruct(b, 0, 0, root, canonical: true);
        if (b.SegmentCount == 1) return b.GetSegments()[0].ToArray();
        long total = b.SizeInWords;
        if (total >= (1 << 29) - 1) throw new CapnpLimitExceededException("Canonical form is too large for one segment.");
        using var one = new MessageBuilder(new BuilderOptions { FirstSegmentWords = (int)total, Strategy = AllocationStrategy.FixedSize });
        Copier.CopyStruct(one, 0, 0, b.Root.AsReader().AsStruct(), canonical: true);
        if (one.SegmentCount != 1) throw new InvalidOperationException("Canonicalization did not fit in one segment.");
        return one.GetSegments()[0].ToArray();
    }

    /// <summary>Canonicalizes a generated reader.</summary>
    public static byte[] Canonicalize<T>(T root) where T : struct, IStructReader<T> => Canonicalize(root.Raw);

    /// <summary>True when <paramref name="segment"/> (a single segment, root pointer first) is already canonical.</summary>
    public static bool IsCanonical(ReadOnlyMemory<byte> segment)
    {
        var r = MessageReader.FromSingleSegment(segment);
        return segment.Span.SequenceEqual(Canonicalize(r.Root));
    }
}
