namespace Capnp.Native;

/// <summary>Why a vat's secret key could not be loaded or created.</summary>
public enum VatIdentityProblem
{
    /// <summary>The key file is empty.</summary>
    Empty,
    /// <summary>The data holds no PEM block.</summary>
    NotPem,
    /// <summary>The PEM holds no private key (only e.g. a public key or a certificate).</summary>
    NotAPrivateKey,
    /// <summary>The private key is encrypted with a passphrase, which a vat cannot ask for.</summary>
    EncryptedKey,
    /// <summary>The key is neither RSA nor EC (e.g. Ed25519, DSA or an OpenSSH key).</summary>
    UnsupportedKeyType,
    /// <summary>The PEM block does not hold a valid key of the type its label names.</summary>
    MalformedKey,
    /// <summary>The PEM holds more than one private key.</summary>
    MultipleKeys,
    /// <summary>An RSA key shorter than 2048 bits, which TLS peers refuse.</summary>
    WeakKey,
    /// <summary>The key file exists but cannot be read (it is left untouched).</summary>
    Unreadable,
    /// <summary>The key file does not exist (<see cref="VatIdentity.Load"/> never creates one).</summary>
    Missing,
    /// <summary>The key file is missing and cannot be created (e.g. its folder does not exist).</summary>
    CannotCreate,
}

/// <summary>
/// A vat's secret key could not be loaded or created. The message names the problem and the
/// file, never the key's contents.
/// </summary>
public sealed class VatIdentityException : Exception
{
    /// <summary>Creates the exception for <paramref name="problem"/>.</summary>
    public VatIdentityException(VatIdentityProblem problem, string message, string? path = null, Exception? innerException = null)
        : base(path is null ? message : $"Secret key file '{path}': {message}", innerException)
    {
        Problem = problem;
        Path = path;
    }

    /// <summary>What is wrong.</summary>
    public VatIdentityProblem Problem { get; }

    /// <summary>The key file, or null when the key was not read from a file.</summary>
    public string? Path { get; }
}
