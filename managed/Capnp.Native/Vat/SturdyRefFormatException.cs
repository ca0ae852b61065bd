namespace Capnp.Native;

/// <summary>What is wrong with a <c>capnp://</c> URI given to <see cref="SturdyRef.Parse"/>.</summary>
public enum SturdyRefProblem
{
    /// <summary>The text is empty or only whitespace.</summary>
    Empty,
    /// <summary>The text does not start with a scheme and <c>://</c>.</summary>
    MissingScheme,
    /// <summary>The scheme is not <c>capnp</c>.</summary>
    UnknownScheme,
    /// <summary>There is no <c>insecure@</c> or <c>sha-256:DIGEST@</c> before the address.</summary>
    MissingAuthentication,
    /// <summary>The authentication has no hash type (e.g. <c>:DIGEST@</c>, or a bare digest).</summary>
    MissingHashType,
    /// <summary>The hash type is not <c>sha-256</c>.</summary>
    UnknownHashType,
    /// <summary><c>sha-256</c> is not followed by <c>:DIGEST</c>.</summary>
    MissingDigest,
    /// <summary>The digest is not base64url without padding.</summary>
    BadBase64,
    /// <summary>The digest does not decode to 32 bytes.</summary>
    BadDigestLength,
    /// <summary><c>insecure</c> is followed by a digest.</summary>
    InsecureWithDigest,
    /// <summary>Nothing follows the authentication: neither <c>HOST:PORT</c> nor a socket path.</summary>
    MissingAddress,
    /// <summary>A host without <c>:PORT</c>.</summary>
    MissingPort,
    /// <summary>A <c>:PORT</c> without a host.</summary>
    PortWithoutHost,
    /// <summary>The port is not a decimal number from 1 to 65535.</summary>
    BadPort,
    /// <summary>The host is neither a DNS name, an IPv4 address nor a bracketed IPv6 address.</summary>
    BadHost,
    /// <summary>An IPv6 host is not in brackets.</summary>
    UnbracketedIPv6,
    /// <summary>A unix URI has no socket path before the service ID (<c>capnp://insecure@/ID</c>).</summary>
    MissingSocketPath,
    /// <summary>A <c>%</c> escape in the socket path is not <c>%XX</c>, or the bytes are not UTF-8.</summary>
    BadPercentEncoding,
    /// <summary>The service ID is not base64url without padding (or a TCP URI's path has more than one part).</summary>
    BadServiceId,
    /// <summary>The URI has a <c>?query</c> or a <c>#fragment</c>.</summary>
    QueryOrFragment,
}

/// <summary>
/// A <c>capnp://</c> URI could not be parsed. The message names the problem but never repeats
/// the URI, which may hold a secret service ID.
/// </summary>
public sealed class SturdyRefFormatException : FormatException
{
    /// <summary>Creates the exception for <paramref name="problem"/>.</summary>
    public SturdyRefFormatException(SturdyRefProblem problem, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Problem = problem;
    }

    /// <summary>What is wrong with the URI.</summary>
    public SturdyRefProblem Problem { get; }
}
