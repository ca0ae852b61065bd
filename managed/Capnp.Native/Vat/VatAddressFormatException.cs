namespace Capnp.Native;

/// <summary>What is wrong with a vat address given to <see cref="VatAddress.Parse"/>.</summary>
public enum VatAddressProblem
{
    /// <summary>The text is empty or only whitespace.</summary>
    Empty,
    /// <summary>The text does not start with <c>tcp:</c> or <c>unix:</c>.</summary>
    UnknownScheme,
    /// <summary>A TCP address has no <c>:PORT</c> after its host.</summary>
    MissingPort,
    /// <summary>The port is not a decimal number from 0 to 65535.</summary>
    BadPort,
    /// <summary>A TCP address has nothing before <c>:PORT</c>.</summary>
    EmptyHost,
    /// <summary>An IPv6 host is not in brackets (write <c>tcp:[::1]:7000</c>).</summary>
    UnbracketedIPv6,
    /// <summary>The host is neither a DNS name, an IPv4 address nor a bracketed IPv6 address.</summary>
    BadHost,
    /// <summary>A unix address has an empty path, or a path with a NUL character.</summary>
    BadPath,
    /// <summary>An endpoint of a kind a vat cannot listen on or connect to.</summary>
    UnsupportedEndPoint,
}

/// <summary>A vat address (<c>tcp:HOST:PORT</c>, <c>tcp:[V6]:PORT</c> or <c>unix:PATH</c>) could not be parsed.</summary>
public sealed class VatAddressFormatException : FormatException
{
    /// <summary>Creates the exception for <paramref name="problem"/>.</summary>
    public VatAddressFormatException(VatAddressProblem problem, string message)
        : base(message)
    {
        Problem = problem;
    }

    /// <summary>What is wrong with the address.</summary>
    public VatAddressProblem Problem { get; }
}
