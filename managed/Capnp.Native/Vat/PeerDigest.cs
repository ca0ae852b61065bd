using System.Security.Cryptography;

namespace Capnp.Native;

/// <summary>
/// How a client authenticates the vat it connects to: the SHA-256 fingerprint of the vat's
/// public key (over its DER SubjectPublicKeyInfo, see <see cref="VatIdentity.Digest"/>), or
/// <see cref="Insecure"/> for a plain connection without TLS. Written in a <c>capnp://</c> URI as
/// <c>sha-256:&lt;base64url&gt;</c> or <c>insecure</c>. A fingerprint is public, not a secret.
/// Immutable and equatable.
/// </summary>
public sealed class PeerDigest : IEquatable<PeerDigest>
{
    /// <summary>The length of a SHA-256 fingerprint in bytes.</summary>
    public const int Sha256Length = 32;

    internal const string Sha256Name = "sha-256";
    internal const string InsecureName = "insecure";

    private readonly byte[]? _sha256;

    private PeerDigest(byte[]? sha256) => _sha256 = sha256;

    /// <summary>No authentication and no encryption: a plain connection.</summary>
    public static PeerDigest Insecure { get; } = new(null);

    /// <summary>True for <see cref="Insecure"/>.</summary>
    public bool IsInsecure => _sha256 is null;

    /// <summary>The 32-byte SHA-256 fingerprint; empty for <see cref="Insecure"/>.</summary>
    public ReadOnlyMemory<byte> Sha256 => _sha256;

    /// <summary>A SHA-256 fingerprint (the bytes are copied).</summary>
    /// <exception cref="ArgumentException"><paramref name="fingerprint"/> is not 32 bytes long.</exception>
    public static PeerDigest FromSha256(ReadOnlySpan<byte> fingerprint)
    {
        if (fingerprint.Length != Sha256Length)
            throw new ArgumentException($"A SHA-256 fingerprint is {Sha256Length} bytes, not {fingerprint.Length}.", nameof(fingerprint));
        return new PeerDigest(fingerprint.ToArray());
    }

    /// <summary>The fingerprint of a public key given as DER SubjectPublicKeyInfo (what a TLS peer's certificate holds).</summary>
    public static PeerDigest FromSubjectPublicKeyInfo(ReadOnlySpan<byte> subjectPublicKeyInfoDer) =>
        new(SHA256.HashData(subjectPublicKeyInfoDer));

    /// <summary>True when this is a fingerprint equal to SHA-256 of <paramref name="subjectPublicKeyInfoDer"/>.</summary>
    public bool Matches(ReadOnlySpan<byte> subjectPublicKeyInfoDer)
    {
        if (_sha256 is null)
            return false;
        Span<byte> hash = stackalloc byte[Sha256Length];
        SHA256.HashData(subjectPublicKeyInfoDer, hash);
        return CryptographicOperations.FixedTimeEquals(hash, _sha256);
    }

    /// <summary>The URI form: <c>insecure</c> or <c>sha-256:&lt;base64url without padding&gt;</c>.</summary>
    public override string ToString() => _sha256 is null ? InsecureName : $"{Sha256Name}:{Base64UrlText.Encode(_sha256)}";

    /// <summary>
    /// Parses the URI form (<c>insecure</c> or <c>sha-256:...</c>), as in the user part of a
    /// <c>capnp://</c> URI.
    /// </summary>
    /// <exception cref="SturdyRefFormatException">The text is not a valid digest; the problem says why.</exception>
    public static PeerDigest Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Parse(text.AsSpan());
    }

    internal static PeerDigest Parse(ReadOnlySpan<char> text)
    {
        if (text.IsEmpty)
            throw new SturdyRefFormatException(SturdyRefProblem.MissingAuthentication,
                "The URI has no authentication before '@' (insecure or sha-256:DIGEST).");
        var colon = text.IndexOf(':');
        var hashType = colon < 0 ? text : text[..colon];
        if (hashType.SequenceEqual(InsecureName))
        {
            if (colon >= 0)
                throw new SturdyRefFormatException(SturdyRefProblem.InsecureWithDigest, "'insecure' cannot have a digest.");
            return Insecure;
        }
        if (colon < 0)
        {
            throw hashType.SequenceEqual(Sha256Name)
                ? new SturdyRefFormatException(SturdyRefProblem.MissingDigest, "'sha-256' must be followed by ':DIGEST'.")
                : new SturdyRefFormatException(SturdyRefProblem.MissingHashType,
                    "The authentication has no hash type (insecure or sha-256:DIGEST).");
        }
        if (hashType.IsEmpty)
            throw new SturdyRefFormatException(SturdyRefProblem.MissingHashType, "The digest has no hash type before ':' (sha-256:DIGEST).");
        if (!hashType.SequenceEqual(Sha256Name))
            throw new SturdyRefFormatException(SturdyRefProblem.UnknownHashType,
                $"Unknown hash type '{Abbreviate(hashType)}' (only sha-256 is supported).");
        var digest = text[(colon + 1)..];
        if (digest.IsEmpty)
            throw new SturdyRefFormatException(SturdyRefProblem.MissingDigest, "'sha-256:' is not followed by a digest.");
        if (!Base64UrlText.TryDecode(digest, out var bytes))
            throw new SturdyRefFormatException(SturdyRefProblem.BadBase64, "The digest is not base64url without padding.");
        if (bytes.Length != Sha256Length)
            throw new SturdyRefFormatException(SturdyRefProblem.BadDigestLength,
                $"A sha-256 digest is {Sha256Length} bytes, not {bytes.Length}.");
        return new PeerDigest(bytes);
    }

    /// <inheritdoc />
    public bool Equals(PeerDigest? other) => other is not null
        && (_sha256 is null ? other._sha256 is null : other._sha256 is not null && _sha256.AsSpan().SequenceEqual(other._sha256));

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as PeerDigest);

    /// <inheritdoc />
    public override int GetHashCode() => _sha256 is null ? 0 : BitConverter.ToInt32(_sha256, 0);

    /// <summary>Equality of two digests.</summary>
    public static bool operator ==(PeerDigest? left, PeerDigest? right) => left is null ? right is null : left.Equals(right);

    /// <summary>Inequality of two digests.</summary>
    public static bool operator !=(PeerDigest? left, PeerDigest? right) => !(left == right);

    private static string Abbreviate(ReadOnlySpan<char> text) => text.Length <= 20 ? text.ToString() : text[..20].ToString() + "…";
}
