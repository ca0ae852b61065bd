using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Capnp.Native;

/// <summary>How a vat is reached: over TCP or over a unix-domain socket.</summary>
public enum VatAddressKind
{
    /// <summary>A TCP host (DNS name, IPv4 or IPv6 address) and port.</summary>
    Tcp,
    /// <summary>The absolute path of a unix-domain socket.</summary>
    Unix,
}

/// <summary>
/// A network address of a vat: where it listens, or where clients connect (its public address).
/// The text form, accepted by <see cref="Parse"/> and produced by <see cref="ToString"/>, is
/// <c>tcp:HOST:PORT</c> (an IPv6 host in brackets: <c>tcp:[::1]:7000</c>) or <c>unix:PATH</c>;
/// it is also the form the native layer takes. Immutable; equal when kind, host (compared
/// ignoring case), port and path are equal.
/// </summary>
public sealed class VatAddress : IEquatable<VatAddress>
{
    private VatAddress(VatAddressKind kind, string? host, int port, string? path)
    {
        Kind = kind;
        Host = host;
        Port = port;
        Path = path;
    }

    /// <summary>TCP or unix.</summary>
    public VatAddressKind Kind { get; }

    /// <summary>The TCP host without brackets (<c>::1</c>, <c>127.0.0.1</c>, <c>localhost</c>); null for a unix address.</summary>
    public string? Host { get; }

    /// <summary>The TCP port (0 asks the system for a free port when listening); 0 for a unix address.</summary>
    public int Port { get; }

    /// <summary>The absolute socket path of a unix address; null for a TCP address.</summary>
    public string? Path { get; }

    /// <summary>True when <see cref="Host"/> is an IPv6 address (written in brackets).</summary>
    public bool IsIPv6 => Host is not null && Host.Contains(':');

    /// <summary>A TCP address.</summary>
    /// <param name="host">A DNS name, an IPv4 address, or an IPv6 address with or without brackets.</param>
    /// <param name="port">0 to 65535.</param>
    /// <exception cref="VatAddressFormatException">The host or port is not valid.</exception>
    public static VatAddress Tcp(string host, int port)
    {
        ArgumentNullException.ThrowIfNull(host);
        if (host.StartsWith('[') && host.EndsWith(']'))
            return new VatAddress(VatAddressKind.Tcp, CheckHost(host[1..^1], bracketed: true), CheckPort(port), null);
        if (host.Contains(':'))
            return new VatAddress(VatAddressKind.Tcp, CheckHost(host, bracketed: true), CheckPort(port), null);
        return new VatAddress(VatAddressKind.Tcp, CheckHost(host, bracketed: false), CheckPort(port), null);
    }

    /// <summary>A unix-domain socket address; a relative path is made absolute against the current directory.</summary>
    /// <exception cref="VatAddressFormatException">The path is empty or contains a NUL character.</exception>
    public static VatAddress Unix(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.Length == 0 || path.Contains('\0'))
            throw new VatAddressFormatException(VatAddressProblem.BadPath, "A unix address needs a non-empty path without NUL characters.");
        return new VatAddress(VatAddressKind.Unix, null, 0,
            System.IO.Path.IsPathRooted(path) ? path : System.IO.Path.GetFullPath(path));
    }

    /// <summary>Parses <c>tcp:HOST:PORT</c>, <c>tcp:[V6]:PORT</c> or <c>unix:PATH</c> (a relative path is made absolute).</summary>
    /// <exception cref="VatAddressFormatException">The text is not a valid address; <see cref="VatAddressFormatException.Problem"/> says why.</exception>
    public static VatAddress Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (string.IsNullOrWhiteSpace(text))
            throw new VatAddressFormatException(VatAddressProblem.Empty, "The vat address is empty.");
        if (text.StartsWith("unix:", StringComparison.Ordinal))
            return Unix(text[5..]);
        if (!text.StartsWith("tcp:", StringComparison.Ordinal))
            throw new VatAddressFormatException(VatAddressProblem.UnknownScheme,
                $"A vat address starts with tcp: or unix: (got '{Abbreviate(text)}').");
        var (host, port) = SplitHostAndPort(text.AsSpan(4));
        return new VatAddress(VatAddressKind.Tcp, host, port, null);
    }

    /// <summary>Like <see cref="Parse"/>, returning false instead of throwing.</summary>
    public static bool TryParse(string? text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out VatAddress? address)
    {
        address = null;
        if (text is null)
            return false;
        try
        {
            address = Parse(text);
            return true;
        }
        catch (VatAddressFormatException)
        {
            return false;
        }
    }

    /// <summary>
    /// Splits <c>HOST:PORT</c> or <c>[V6]:PORT</c> (the part after <c>tcp:</c>, or the host part of
    /// a <c>capnp://</c> URI) and checks both halves.
    /// </summary>
    internal static (string Host, int Port) SplitHostAndPort(ReadOnlySpan<char> text)
    {
        string host;
        ReadOnlySpan<char> rest;
        if (text.StartsWith("["))
        {
            var close = text.IndexOf(']');
            if (close < 0)
                throw new VatAddressFormatException(VatAddressProblem.BadHost, "An IPv6 host has '[' but no ']'.");
            host = CheckHost(text[1..close].ToString(), bracketed: true);
            rest = text[(close + 1)..];
            if (rest.IsEmpty)
                throw new VatAddressFormatException(VatAddressProblem.MissingPort, "The address has no port (HOST:PORT).");
            if (rest[0] != ':')
                throw new VatAddressFormatException(VatAddressProblem.BadHost, "Only ':PORT' may follow a bracketed IPv6 host.");
            rest = rest[1..];
        }
        else
        {
            var colon = text.LastIndexOf(':');
            if (colon < 0)
                throw new VatAddressFormatException(VatAddressProblem.MissingPort, "The address has no port (HOST:PORT).");
            var hostText = text[..colon];
            if (hostText.Contains(':'))
                throw new VatAddressFormatException(VatAddressProblem.UnbracketedIPv6,
                    "An IPv6 host must be in brackets, e.g. tcp:[::1]:7000.");
            host = CheckHost(hostText.ToString(), bracketed: false);
            rest = text[(colon + 1)..];
        }
        if (rest.IsEmpty)
            throw new VatAddressFormatException(VatAddressProblem.MissingPort, "The address has no port after ':'.");
        return (host, ParsePort(rest));
    }

    private static int ParsePort(ReadOnlySpan<char> text)
    {
        foreach (var c in text)
        {
            if (c is < '0' or > '9')
                throw new VatAddressFormatException(VatAddressProblem.BadPort, "The port must be a decimal number from 0 to 65535.");
        }
        if (text.Length > 5 || !int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port))
            throw new VatAddressFormatException(VatAddressProblem.BadPort, "The port must be a decimal number from 0 to 65535.");
        return CheckPort(port);
    }

    private static int CheckPort(int port) => port is >= 0 and <= IPEndPoint.MaxPort
        ? port
        : throw new VatAddressFormatException(VatAddressProblem.BadPort, "The port must be a decimal number from 0 to 65535.");

    private static string CheckHost(string host, bool bracketed)
    {
        if (host.Length == 0)
            throw new VatAddressFormatException(VatAddressProblem.EmptyHost, "The address has no host before ':PORT'.");
        if (bracketed)
        {
            if (!IPAddress.TryParse(host, out var ip) || ip.AddressFamily != AddressFamily.InterNetworkV6)
                throw new VatAddressFormatException(VatAddressProblem.BadHost, "Only an IPv6 address may be in brackets.");
            return host;
        }
        if (host.Contains(':'))
            throw new VatAddressFormatException(VatAddressProblem.UnbracketedIPv6, "An IPv6 host must be in brackets, e.g. tcp:[::1]:7000.");
        var kind = Uri.CheckHostName(host);
        if (kind is not (UriHostNameType.Dns or UriHostNameType.IPv4))
            throw new VatAddressFormatException(VatAddressProblem.BadHost,
                "The host must be a DNS name, an IPv4 address or a bracketed IPv6 address.");
        return host;
    }

    /// <summary>The TCP host as written in an address or URI: in brackets when it is IPv6.</summary>
    internal string? HostForAddress => IsIPv6 ? $"[{Host}]" : Host;

    /// <summary>
    /// The endpoint to give a socket: an <see cref="IPEndPoint"/> when the host is an IP address,
    /// a <see cref="DnsEndPoint"/> for a name, a <see cref="UnixDomainSocketEndPoint"/> for a unix address.
    /// </summary>
    public EndPoint ToEndPoint() => Kind switch
    {
        VatAddressKind.Unix => new UnixDomainSocketEndPoint(Path!),
        _ when IPAddress.TryParse(Host, out var ip) => new IPEndPoint(ip, Port),
        _ => new DnsEndPoint(Host!, Port),
    };

    /// <summary>The address of an <see cref="IPEndPoint"/>, <see cref="DnsEndPoint"/> or (path-based) <see cref="UnixDomainSocketEndPoint"/>.</summary>
    /// <exception cref="VatAddressFormatException">The endpoint is of another kind, or an abstract or unnamed unix socket.</exception>
    public static VatAddress FromEndPoint(EndPoint endPoint)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        switch (endPoint)
        {
            case IPEndPoint ip:
                return new VatAddress(VatAddressKind.Tcp,
                    (ip.Address.IsIPv4MappedToIPv6 ? ip.Address.MapToIPv4() : ip.Address).ToString(), ip.Port, null);
            case DnsEndPoint dns:
                return Tcp(dns.Host, dns.Port);
            case UnixDomainSocketEndPoint unix:
                var path = unix.ToString();
                if (path.Length == 0 || path[0] == '\0' || path[0] == '@')
                    throw new VatAddressFormatException(VatAddressProblem.UnsupportedEndPoint,
                        "Only unix sockets with a path in the file system are supported (not abstract or unnamed ones).");
                return Unix(path);
            default:
                throw new VatAddressFormatException(VatAddressProblem.UnsupportedEndPoint,
                    $"A vat address is TCP or unix; {endPoint.GetType().Name} is neither.");
        }
    }

    /// <summary>The text form, also the one the native layer takes: <c>tcp:HOST:PORT</c> (IPv6 in brackets) or <c>unix:PATH</c>.</summary>
    public override string ToString() => Kind == VatAddressKind.Unix
        ? $"unix:{Path}"
        : string.Create(CultureInfo.InvariantCulture, $"tcp:{HostForAddress}:{Port}");

    /// <inheritdoc />
    public bool Equals(VatAddress? other) => other is not null
        && Kind == other.Kind
        && Port == other.Port
        && string.Equals(Host, other.Host, StringComparison.OrdinalIgnoreCase)
        && string.Equals(Path, other.Path, StringComparison.Ordinal);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as VatAddress);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Kind, Port,
        Host is null ? 0 : StringComparer.OrdinalIgnoreCase.GetHashCode(Host), Path);

    /// <summary>Equality of two addresses (both null counts as equal).</summary>
    public static bool operator ==(VatAddress? left, VatAddress? right) => left is null ? right is null : left.Equals(right);

    /// <summary>Inequality of two addresses.</summary>
    public static bool operator !=(VatAddress? left, VatAddress? right) => !(left == right);

    private static string Abbreviate(string text) => text.Length <= 40 ? text : text[..40] + "…";
}
