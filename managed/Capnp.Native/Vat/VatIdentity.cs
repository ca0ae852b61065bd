using System.Diagnostics;
using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Text;

namespace Capnp.Native;

/// <summary>
/// A vat's cryptographic identity: its secret key. Peers authenticate the vat by the
/// fingerprint of the matching public key (<see cref="Digest"/>), which <c>capnp://</c> URIs
/// carry; the key also derives stable service IDs (<see cref="DerivedServiceId"/>).
/// <para>
/// Keys are RSA (PKCS#8 <c>PRIVATE KEY</c> or PKCS#1 <c>RSA PRIVATE KEY</c>, at least 2048 bits)
/// or EC (PKCS#8 or SEC1 <c>EC PRIVATE KEY</c>) in PEM; new keys are RSA-2048 written as PKCS#8,
/// as the OCaml capnp-rpc vats do. The key is never shown: <see cref="ToString"/> gives the
/// algorithm and the public fingerprint only.
/// </para>
/// </summary>
[DebuggerDisplay("{ToString(),nq}")]
public sealed class VatIdentity
{
    private const int NewKeyBits = 2048;
    private const int MinimumRsaBits = 2048;
    private const string RsaOid = "1.2.840.113549.1.1.1";
    private const string EcOid = "1.2.840.10045.2.1";

    private readonly byte[] _pem;
    private readonly byte[] _serviceIdKey;
    private readonly byte[] _subjectPublicKeyInfo;
    private readonly string _algorithm;

    private VatIdentity(byte[] pem, byte[] subjectPublicKeyInfo, string algorithm, string? keyFilePath)
    {
        _pem = pem;
        _serviceIdKey = SHA256.HashData(pem);
        _subjectPublicKeyInfo = subjectPublicKeyInfo;
        _algorithm = algorithm;
        KeyFilePath = keyFilePath;
        Digest = PeerDigest.FromSubjectPublicKeyInfo(subjectPublicKeyInfo);
    }

    /// <summary>
    /// The fingerprint peers check: SHA-256 over the DER SubjectPublicKeyInfo of the public key
    /// (equal to <c>openssl pkey -pubout -outform DER | sha256sum</c>).
    /// </summary>
    public PeerDigest Digest { get; }

    /// <summary>The file the key was loaded from or created in; null for an ephemeral key or one given as PEM.</summary>
    public string? KeyFilePath { get; }

    /// <summary>The public key as DER SubjectPublicKeyInfo (not secret).</summary>
    public byte[] ExportSubjectPublicKeyInfo() => (byte[])_subjectPublicKeyInfo.Clone();

    /// <summary>
    /// The secret key's PEM bytes, exactly as stored (for the native TLS layer only). Never log
    /// them or put them in an exception.
    /// </summary>
    internal ReadOnlySpan<byte> PrivateKeyPem => _pem;

    /// <summary>
    /// A service ID derived from the key and <paramref name="name"/>: HMAC-SHA256 keyed with the
    /// SHA-256 of the key file's exact bytes, over the UTF-8 name (32 bytes). It stays the same as
    /// long as the key file does, so a service keeps its <c>capnp://</c> URI across restarts;
    /// anyone who knows the key file can compute it.
    /// </summary>
    public byte[] DerivedServiceId(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return HMACSHA256.HashData(_serviceIdKey, Encoding.UTF8.GetBytes(name));
    }

    /// <summary>A new RSA-2048 key that lives only in memory: the vat gets a new fingerprint each run.</summary>
    public static VatIdentity CreateEphemeral() => FromNewKey(keyFilePath: null);

    /// <summary>An identity from PEM text (see the class remarks for the accepted formats).</summary>
    /// <exception cref="VatIdentityException">The text is not a usable private key.</exception>
    public static VatIdentity FromPem(string pem)
    {
        ArgumentNullException.ThrowIfNull(pem);
        return FromPem(Encoding.UTF8.GetBytes(pem));
    }

    /// <summary>An identity from PEM bytes, as a key file holds them (see the class remarks for the accepted formats).</summary>
    /// <exception cref="VatIdentityException">The bytes are not a usable private key.</exception>
    public static VatIdentity FromPem(ReadOnlySpan<byte> pem) => Decode(pem.ToArray(), keyFilePath: null);

    /// <summary>Loads the key in <paramref name="path"/>; never creates or changes the file.</summary>
    /// <exception cref="VatIdentityException">The file is missing, unreadable or not a usable private key.</exception>
    public static VatIdentity Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var fullPath = Path.GetFullPath(path);
        return TryRead(fullPath, out var bytes)
            ? Decode(bytes, fullPath)
            : throw new VatIdentityException(VatIdentityProblem.Missing, "the file does not exist.", fullPath);
    }

    /// <summary>
    /// Loads the key in <paramref name="path"/>, or, when there is no such file, creates a new
    /// RSA-2048 key there as PKCS#8 PEM. The file is created with mode 0600 (owner read/write)
    /// from its first byte, written to a temporary file, flushed and renamed into place, so no
    /// one else can read it and no reader sees half a key. An existing file is never replaced,
    /// even when it is not a usable key; when two processes create the key at once, both end up
    /// with the one that was written first.
    /// </summary>
    /// <exception cref="VatIdentityException">The file exists but is unreadable or not a usable key, or it cannot be created.</exception>
    public static VatIdentity LoadOrCreate(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var fullPath = Path.GetFullPath(path);
        while (true)
        {
            if (TryRead(fullPath, out var bytes))
                return Decode(bytes, fullPath);
            var pem = NewKeyPem(out var key);
            using (key)
            {
                bool created;
                try
                {
                    created = SecretFile.WriteAtomically(fullPath, pem, replace: false);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new VatIdentityException(VatIdentityProblem.CannotCreate, $"cannot create it ({e.Message}).", fullPath, e);
                }
                if (created)
                    return new VatIdentity(pem, key.ExportSubjectPublicKeyInfo(), $"RSA-{NewKeyBits}", fullPath);
            }
            // Another process created the file first: load theirs.
        }
    }

    /// <summary>The key algorithm and the public fingerprint, e.g. <c>VatIdentity(RSA-2048, sha-256:...)</c>; never the key.</summary>
    public override string ToString() => $"VatIdentity({_algorithm}, {Digest})";

    private static VatIdentity FromNewKey(string? keyFilePath)
    {
        var pem = NewKeyPem(out var key);
        using (key)
            return new VatIdentity(pem, key.ExportSubjectPublicKeyInfo(), $"RSA-{NewKeyBits}", keyFilePath);
    }

    private static byte[] NewKeyPem(out RSA key)
    {
        key = RSA.Create(NewKeyBits);
        var chars = PemEncoding.Write("PRIVATE KEY", key.ExportPkcs8PrivateKey());
        try
        {
            var pem = new byte[chars.Length + 1];
            Encoding.ASCII.GetBytes(chars, pem);
            pem[^1] = (byte)'\n';
            return pem;
        }
        finally
        {
            Array.Clear(chars);
        }
    }

    // False when the file does not exist; throws when it exists but cannot be read.
    private static bool TryRead(string fullPath, out byte[] bytes)
    {
        try
        {
            bytes = File.ReadAllBytes(fullPath);
            return true;
        }
        catch (FileNotFoundException)
        {
            bytes = [];
            return false;
        }
        catch (DirectoryNotFoundException e)
        {
            throw new VatIdentityException(VatIdentityProblem.CannotCreate, "its folder does not exist.", fullPath, e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new VatIdentityException(VatIdentityProblem.Unreadable, $"cannot read it ({e.Message}).", fullPath, e);
        }
    }

    private static VatIdentity Decode(byte[] pem, string? keyFilePath)
    {
        if (pem.Length == 0)
            throw new VatIdentityException(VatIdentityProblem.Empty, "the key is empty.", keyFilePath);
        var text = Encoding.UTF8.GetString(pem);
        var (label, der) = FindPrivateKey(text, keyFilePath);
        try
        {
            return label switch
            {
                "RSA PRIVATE KEY" => FromRsa(pem, keyFilePath, rsa => rsa.ImportRSAPrivateKey(der, out _)),
                "EC PRIVATE KEY" => FromEc(pem, keyFilePath, ec => ec.ImportECPrivateKey(der, out _)),
                _ => Pkcs8AlgorithmOid(der, keyFilePath) switch
                {
                    RsaOid => FromRsa(pem, keyFilePath, rsa => rsa.ImportPkcs8PrivateKey(der, out _)),
                    EcOid => FromEc(pem, keyFilePath, ec => ec.ImportPkcs8PrivateKey(der, out _)),
                    var oid => throw new VatIdentityException(VatIdentityProblem.UnsupportedKeyType,
                        $"the key's algorithm (OID {oid}) is not supported; use RSA or EC.", keyFilePath),
                },
            };
        }
        catch (CryptographicException e)
        {
            throw new VatIdentityException(VatIdentityProblem.MalformedKey, $"the {label} block is not a valid key.", keyFilePath, e);
        }
        finally
        {
            Array.Clear(der);
        }
    }

    private static (string Label, byte[] Der) FindPrivateKey(string text, string? keyFilePath)
    {
        string? found = null;
        byte[]? der = null;
        var anyBlock = false;
        var rest = text.AsSpan();
        while (PemEncoding.TryFind(rest, out var fields))
        {
            anyBlock = true;
            var label = rest[fields.Label].ToString();
            switch (label)
            {
                case "PRIVATE KEY" or "RSA PRIVATE KEY" or "EC PRIVATE KEY":
                    if (found is not null)
                        throw new VatIdentityException(VatIdentityProblem.MultipleKeys, "it holds more than one private key.", keyFilePath);
                    found = label;
                    der = new byte[fields.DecodedDataLength];
                    if (!Convert.TryFromBase64Chars(rest[fields.Base64Data], der, out _))
                        throw new VatIdentityException(VatIdentityProblem.MalformedKey, $"the {label} block is not base64.", keyFilePath);
                    break;
                case "ENCRYPTED PRIVATE KEY":
                    throw new VatIdentityException(VatIdentityProblem.EncryptedKey,
                        "the key is encrypted with a passphrase; store it unencrypted (mode 0600).", keyFilePath);
                case "OPENSSH PRIVATE KEY" or "DSA PRIVATE KEY":
                    throw new VatIdentityException(VatIdentityProblem.UnsupportedKeyType,
                        $"{label} keys are not supported; use an RSA or EC key in PEM (PKCS#8, PKCS#1 or SEC1).", keyFilePath);
            }
            rest = rest[fields.Location.End..];
        }
        if (found is not null)
            return (found, der!);
        // Legacy OpenSSL encryption puts headers in the block, which is then no strict PEM.
        if (text.Contains("Proc-Type: 4,ENCRYPTED", StringComparison.Ordinal))
            throw new VatIdentityException(VatIdentityProblem.EncryptedKey,
                "the key is encrypted with a passphrase; store it unencrypted (mode 0600).", keyFilePath);
        throw anyBlock
            ? new VatIdentityException(VatIdentityProblem.NotAPrivateKey, "it holds no private key.", keyFilePath)
            : new VatIdentityException(VatIdentityProblem.NotPem, "it is not a PEM private key.", keyFilePath);
    }

    private static string Pkcs8AlgorithmOid(byte[] der, string? keyFilePath)
    {
        try
        {
            var info = new AsnReader(der, AsnEncodingRules.DER).ReadSequence();
            info.ReadInteger();
            return info.ReadSequence().ReadObjectIdentifier();
        }
        catch (AsnContentException e)
        {
            throw new VatIdentityException(VatIdentityProblem.MalformedKey, "the PRIVATE KEY block is not PKCS#8.", keyFilePath, e);
        }
    }

    private static VatIdentity FromRsa(byte[] pem, string? keyFilePath, Action<RSA> import)
    {
        using var rsa = RSA.Create();
        import(rsa);
        if (rsa.KeySize < MinimumRsaBits)
            throw new VatIdentityException(VatIdentityProblem.WeakKey,
                $"the RSA key has {rsa.KeySize} bits; TLS peers need at least {MinimumRsaBits}.", keyFilePath);
        return new VatIdentity(pem, rsa.ExportSubjectPublicKeyInfo(), $"RSA-{rsa.KeySize}", keyFilePath);
    }

    private static VatIdentity FromEc(byte[] pem, string? keyFilePath, Action<ECDsa> import)
    {
        using var ec = ECDsa.Create();
        import(ec);
        var curve = ec.ExportParameters(includePrivateParameters: false).Curve;
        var name = curve.IsNamed ? curve.Oid.FriendlyName ?? curve.Oid.Value : "explicit curve";
        return new VatIdentity(pem, ec.ExportSubjectPublicKeyInfo(), $"EC {name}", keyFilePath);
    }
}
