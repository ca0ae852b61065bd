namespace Capnp.Native.Serialization;

/// <summary>
/// Value equality of structs, defined by canonicalization: two structs are equal when their canonical forms
/// (<see cref="Canonicalizer.Canonicalize(StructReader)"/>) are byte for byte equal. So segment layout, far pointers,
/// object order and trailing zero words (or null pointers) do not matter, while every field value does, including
/// unknown fields written by a newer schema. A null struct equals an all-default one. Capabilities compare by their
/// cap-table index. Generated readers use this for <c>Equals</c>, <c>GetHashCode</c>, <c>==</c> and <c>!=</c>.
/// </summary>
/// <remarks>Each call canonicalizes (allocates and copies) both values; hostile input is bounded by the readers' limits.</remarks>
public static class CanonicalEquality
{
    /// <summary>True when <paramref name="left"/> and <paramref name="right"/> have the same canonical form.</summary>
    /// <exception cref="CapnpFormatException">A message is malformed or exceeds its reader's limits.</exception>
    public static bool AreEqual(StructReader left, StructReader right)
        => Canonical(left).AsSpan().SequenceEqual(Canonical(right));

    // A null struct reads as all defaults, so it compares as the empty struct (whose pointer is not null).
    private static readonly byte[] EmptyStruct = CanonicalEmptyStruct();

    private static byte[] CanonicalEmptyStruct()
    {
        using var mb = new MessageBuilder();
        return Canonicalizer.Canonicalize(mb.InitRoot(0, 0).AsReader());
    }

    private static byte[] Canonical(StructReader value) => value.IsNull ? EmptyStruct : Canonicalizer.Canonicalize(value);

    /// <summary>A hash of the canonical form, consistent with <see cref="AreEqual"/>.</summary>
    /// <exception cref="CapnpFormatException">The message is malformed or exceeds its reader's limits.</exception>
    public static int GetHashCode(StructReader value)
    {
        var h = new HashCode();
        h.AddBytes(Canonical(value));
        return h.ToHashCode();
    }
}
