using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;

namespace Capnp.Native.Persistence;

/// <summary>
/// The SHA-256 digest of a secret service ID: how restorers and stores find a service without
/// keeping or comparing the ID itself. A store that leaks (an old backup, a log) reveals digests,
/// which grant nothing; and a lookup whose time depends on how much of a guessed ID matched
/// teaches the guesser only about the digest. Equality is constant-time
/// (<see cref="CryptographicOperations.FixedTimeEquals"/>). Immutable; its text form
/// (<see cref="ToString"/>) is base64url without padding, 43 characters, safe to log and to use as
/// a file name.
/// </summary>
public sealed class ServiceDigest : IEquatable<ServiceDigest>
{
    /// <summary>The length of a digest in bytes (SHA-256).</summary>
    public const int Length = 32;

    /// <summary>The length of a digest's text form (<see cref="ToString"/>).</summary>
    public const int TextLength = 43;

    private readonly byte[] bytes;

    private ServiceDigest(byte[] bytes) => this.bytes = bytes;

    /// <summary>The digest of <paramref name="serviceId"/>.</summary>
    public static ServiceDigest Of(ReadOnlySpan<byte> serviceId) => new(SHA256.HashData(serviceId));

    /// <summary>A digest from its <see cref="Length"/> bytes (e.g. as a database stored them).</summary>
    /// <exception cref="ArgumentException"><paramref name="digest"/> is not <see cref="Length"/> bytes long.</exception>
    public static ServiceDigest FromBytes(ReadOnlySpan<byte> digest)
    {
        if (digest.Length != Length)
            throw new ArgumentException($"A service digest is {Length} bytes, not {digest.Length}.", nameof(digest));
        return new ServiceDigest(digest.ToArray());
    }

    /// <summary>Parses the text form: exactly <see cref="TextLength"/> base64url characters, no padding.</summary>
    /// <exception cref="FormatException">The text is not a digest's text form (anything else, e.g. a path, is refused).</exception>
    public static ServiceDigest Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return TryParse(text, out var digest)
            ? digest
            : throw new FormatException($"A service digest is {TextLength} base64url characters without padding.");
    }

    /// <summary>Like <see cref="Parse"/>, returning false instead of throwing.</summary>
    public static bool TryParse([NotNullWhen(true)] string? text, [NotNullWhen(true)] out ServiceDigest? digest)
    {
        digest = null;
        if (text is null || text.Length != TextLength || !Base64UrlText.TryDecode(text, out var decoded) || decoded.Length != Length)
            return false;
        digest = new ServiceDigest(decoded);
        return true;
    }

    /// <summary>The digest's bytes.</summary>
    public ReadOnlySpan<byte> Bytes => bytes;

    /// <summary>The digest's bytes, as a new array.</summary>
    public byte[] ToArray() => (byte[])bytes.Clone();

    /// <summary>Whether this is the digest of <paramref name="serviceId"/> (computed and compared in constant time for a given length).</summary>
    public bool Matches(ReadOnlySpan<byte> serviceId)
    {
        Span<byte> other = stackalloc byte[Length];
        SHA256.HashData(serviceId, other);
        return CryptographicOperations.FixedTimeEquals(bytes, other);
    }

    /// <summary>The text form: base64url without padding (43 characters from <c>A–Z a–z 0–9 - _</c>).</summary>
    public override string ToString() => Base64UrlText.Encode(bytes);

    /// <inheritdoc />
    public bool Equals(ServiceDigest? other) => other is not null && CryptographicOperations.FixedTimeEquals(bytes, other.bytes);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as ServiceDigest);

    /// <inheritdoc />
    public override int GetHashCode() => BinaryPrimitives.ReadInt32LittleEndian(bytes);

    /// <summary>Equality of two digests (constant-time).</summary>
    public static bool operator ==(ServiceDigest? left, ServiceDigest? right) => left is null ? right is null : left.Equals(right);

    /// <summary>Inequality of two digests.</summary>
    public static bool operator !=(ServiceDigest? left, ServiceDigest? right) => !(left == right);
}
