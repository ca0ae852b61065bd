using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Capnp.Native;

/// <summary>
/// An offline reference to a service in a vat: where the vat is (<see cref="Address"/>), how to
/// authenticate it (<see cref="Digest"/>), and the secret ID of the service
/// (<see cref="ServiceId"/>). Its text form is a <c>capnp://</c> URI, interchangeable with the
/// OCaml capnp-rpc vats:
/// <list type="bullet">
/// <item>TCP: <c>capnp://sha-256:DIGEST@HOST:PORT/ID</c>, with no <c>/</c> when the ID is empty and IPv6 hosts in brackets;</item>
/// <item>unix: <c>capnp://sha-256:DIGEST@/ABSOLUTE/SOCKET/PATH/ID</c>, split at the last <c>/</c>, ending in <c>/</c> when the ID is empty;</item>
/// <item>authentication: <c>insecure</c> or <c>sha-256:</c> and the key fingerprint in base64url without padding;</item>
/// <item>ID: the raw service-ID bytes in base64url without padding (<c>main</c> → <c>bWFpbg</c>); empty means the vat's bootstrap service.</item>
/// </list>
/// The service ID grants access to the service: <see cref="ToString"/> returns the whole URI
/// (what cap files and users need) and must not be logged; <see cref="ToRedactedString"/> hides
/// the ID and is the form for logs and error messages. Immutable; equal when address, digest and
/// ID are equal.
/// </summary>
[DebuggerDisplay("{ToRedactedString(),nq}")]
public sealed class SturdyRef : IEquatable<SturdyRef>
{
    /// <summary>The URI scheme, <c>capnp</c>.</summary>
    public const string Scheme = "capnp";

    private const string Redacted = "<redacted>";

    private readonly byte[] _serviceId;

    /// <summary>A sturdy ref to the service <paramref name="serviceId"/> (copied) of the vat at <paramref name="address"/>.</summary>
    /// <exception cref="ArgumentException">A TCP address with port 0 (which no client can connect to).</exception>
    public SturdyRef(VatAddress address, PeerDigest digest, ReadOnlySpan<byte> serviceId)
    {
        ArgumentNullException.ThrowIfNull(address);
        ArgumentNullException.ThrowIfNull(digest);
        if (address.Kind == VatAddressKind.Tcp && address.Port == 0)
            throw new ArgumentException("A sturdy ref needs a TCP port from 1 to 65535.", nameof(address));
        Address = address;
        Digest = digest;
        _serviceId = serviceId.ToArray();
    }

    /// <summary>Where the vat is reached.</summary>
    public VatAddress Address { get; }

    /// <summary>The fingerprint of the vat's public key, or <see cref="PeerDigest.Insecure"/>.</summary>
    public PeerDigest Digest { get; }

    /// <summary>The secret service ID (empty for the vat's bootstrap service).</summary>
    public ReadOnlyMemory<byte> ServiceId => _serviceId;

    /// <summary>A sturdy ref to another service of the same vat.</summary>
    public SturdyRef WithServiceId(ReadOnlySpan<byte> serviceId) => new(Address, Digest, serviceId);

    /// <summary>Parses a <c>capnp://</c> URI.</summary>
    /// <exception cref="SturdyRefFormatException">The text is not a valid URI; <see cref="SturdyRefFormatException.Problem"/> says why.</exception>
    public static SturdyRef Parse(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        if (string.IsNullOrWhiteSpace(uri))
            throw Error(SturdyRefProblem.Empty, "The capnp:// URI is empty.");
        var separator = uri.IndexOf("://", StringComparison.Ordinal);
        if (separator <= 0 || !IsSchemeName(uri.AsSpan(0, separator)))
            throw Error(SturdyRefProblem.MissingScheme, "A sturdy ref is a URI starting with capnp://.");
        if (!uri.AsSpan(0, separator).Equals(Scheme, StringComparison.OrdinalIgnoreCase))
            throw Error(SturdyRefProblem.UnknownScheme, $"Unknown URI scheme '{uri[..separator]}' (expected capnp://).");
        var rest = uri.AsSpan(separator + 3);
        if (rest.IndexOfAny('?', '#') >= 0)
            throw Error(SturdyRefProblem.QueryOrFragment, "A capnp:// URI has no query or fragment.");

        var slash = rest.IndexOf('/');
        var authority = slash < 0 ? rest : rest[..slash];
        var path = slash < 0 ? [] : rest[slash..];
        var at = authority.LastIndexOf('@');
        if (at < 0)
            throw Error(SturdyRefProblem.MissingAuthentication,
                "The URI has no authentication (capnp://insecure@... or capnp://sha-256:DIGEST@...).");
        var digest = PeerDigest.Parse(authority[..at]);
        var hostAndPort = authority[(at + 1)..];

        VatAddress address;
        ReadOnlySpan<char> id;
        if (hostAndPort.IsEmpty)
        {
            if (path.IsEmpty)
                throw Error(SturdyRefProblem.MissingAddress, "The URI has no HOST:PORT or socket path after '@'.");
            var last = path.LastIndexOf('/');
            if (last == 0)
                throw Error(SturdyRefProblem.MissingSocketPath,
                    "A unix URI needs a socket path before the service ID (capnp://AUTH@/PATH/ID).");
            address = VatAddress.Unix(PercentDecode(path[..last]));
            id = path[(last + 1)..];
        }
        else
        {
            string host;
            int port;
            try
            {
                (host, port) = VatAddress.SplitHostAndPort(hostAndPort);
            }
            catch (VatAddressFormatException e)
            {
                throw Error(e.Problem switch
                {
                    VatAddressProblem.MissingPort => SturdyRefProblem.MissingPort,
                    VatAddressProblem.BadPort => SturdyRefProblem.BadPort,
                    VatAddressProblem.EmptyHost => SturdyRefProblem.PortWithoutHost, // ":7000"
                    VatAddressProblem.UnbracketedIPv6 => SturdyRefProblem.UnbracketedIPv6,
                    _ => SturdyRefProblem.BadHost,
                }, e.Message, e);
            }
            if (port == 0)
                throw Error(SturdyRefProblem.BadPort, "A sturdy ref needs a port from 1 to 65535.");
            address = VatAddress.Tcp(host, port);
            id = path.IsEmpty ? [] : path[1..];
        }
        if (!Base64UrlText.TryDecode(id, out var serviceId))
            throw Error(SturdyRefProblem.BadServiceId, "The service ID is not base64url without padding.");
        return new SturdyRef(address, digest, serviceId);
    }

    /// <summary>Like <see cref="Parse"/>, returning false instead of throwing.</summary>
    public static bool TryParse([NotNullWhen(true)] string? uri, [NotNullWhen(true)] out SturdyRef? sturdyRef)
    {
        sturdyRef = null;
        if (uri is null)
            return false;
        try
        {
            sturdyRef = Parse(uri);
            return true;
        }
        catch (SturdyRefFormatException)
        {
            return false;
        }
    }

    /// <summary>
    /// The full <c>capnp://</c> URI, service ID included: a secret that grants access. Write it to
    /// a cap file or give it to the user; for logs use <see cref="ToRedactedString"/>.
    /// </summary>
    public override string ToString() => Format(ServiceIdText(_serviceId));

    /// <summary>
    /// The URI with the service ID replaced by <c>&lt;redacted&gt;</c> (e.g.
    /// <c>capnp://sha-256:...@host:7000/&lt;redacted&gt;</c>): safe for logs and error messages.
    /// A URI with an empty ID has nothing to hide and is returned whole.
    /// </summary>
    public string ToRedactedString() => Format(_serviceId.Length == 0 ? "" : Redacted);

    private string Format(string id) => Address.Kind == VatAddressKind.Unix
        ? $"{Scheme}://{Digest}@{PercentEncodePath(Address.Path!)}/{id}"
        : string.Create(CultureInfo.InvariantCulture,
            $"{Scheme}://{Digest}@{Address.HostForAddress}:{Address.Port}{(id.Length == 0 ? "" : "/")}{id}");

    private static string ServiceIdText(byte[] id) => Base64UrlText.Encode(id);

    /// <inheritdoc />
    public bool Equals(SturdyRef? other) => other is not null
        && Address.Equals(other.Address)
        && Digest.Equals(other.Digest)
        && CryptographicOperations.FixedTimeEquals(_serviceId, other._serviceId);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as SturdyRef);

    /// <summary>A hash of the address and digest (the secret ID does not take part).</summary>
    public override int GetHashCode() => HashCode.Combine(Address, Digest, _serviceId.Length);

    /// <summary>Equality of two sturdy refs.</summary>
    public static bool operator ==(SturdyRef? left, SturdyRef? right) => left is null ? right is null : left.Equals(right);

    /// <summary>Inequality of two sturdy refs.</summary>
    public static bool operator !=(SturdyRef? left, SturdyRef? right) => !(left == right);

    private static SturdyRefFormatException Error(SturdyRefProblem problem, string message, Exception? inner = null) =>
        new(problem, message, inner);

    private static bool IsSchemeName(ReadOnlySpan<char> text)
    {
        if (!char.IsAsciiLetter(text[0]))
            return false;
        foreach (var c in text)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '+' or '-' or '.'))
                return false;
        }
        return true;
    }

    // RFC 3986 path characters: unreserved, sub-delims, ':', '@' and '/'; everything else
    // (including '%', '?', '#', spaces and non-ASCII) is written as %XX of its UTF-8 bytes.
    private static bool IsPathChar(byte b) =>
        b is >= (byte)'a' and <= (byte)'z' or >= (byte)'A' and <= (byte)'Z' or >= (byte)'0' and <= (byte)'9'
        || "-._~!$&'()*+,;=:@/".Contains((char)b);

    private static string PercentEncodePath(string path)
    {
        var builder = new StringBuilder(path.Length);
        foreach (var b in Encoding.UTF8.GetBytes(path))
        {
            if (IsPathChar(b))
                builder.Append((char)b);
            else
                builder.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
        }
        return builder.ToString();
    }

    private static string PercentDecode(ReadOnlySpan<char> text)
    {
        if (text.IndexOf('%') < 0)
            return text.ToString();
        var bytes = new List<byte>(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] != '%')
            {
                if (text[i] > 0x7f)
                    bytes.AddRange(Encoding.UTF8.GetBytes(text[i].ToString()));
                else
                    bytes.Add((byte)text[i]);
                continue;
            }
            if (i + 2 >= text.Length || !byte.TryParse(text.Slice(i + 1, 2), NumberStyles.AllowHexSpecifier,
                    CultureInfo.InvariantCulture, out var b))
                throw Error(SturdyRefProblem.BadPercentEncoding, "A '%' in the socket path is not followed by two hex digits.");
            bytes.Add(b);
            i += 2;
        }
        try
        {
            return new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(bytes.ToArray());
        }
        catch (DecoderFallbackException e)
        {
            throw Error(SturdyRefProblem.BadPercentEncoding, "The escaped socket path is not UTF-8.", e);
        }
    }
}
