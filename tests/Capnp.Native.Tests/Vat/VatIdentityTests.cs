using System.Security.Cryptography;
using System.Text;
using Capnp.Native;

namespace Capnp.Native.Tests.Vat;

public class VatIdentityTests : IDisposable
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private static string OpenSslFingerprint(string keyFile)
    {
        var output = TempFolder.Shell($"openssl pkey -in '{keyFile}' -pubout -outform DER | sha256sum");
        return output.Split(' ')[0];
    }

    private static string Hex(ReadOnlyMemory<byte> bytes) => Convert.ToHexStringLower(bytes.Span);

    [Fact]
    public void LoadOrCreate_creates_an_owner_only_pkcs8_rsa_2048_key_and_loads_it_back()
    {
        var path = _folder.File("secret-key.pem");
        var created = VatIdentity.LoadOrCreate(path);

        Assert.Equal(OwnerOnly, File.GetUnixFileMode(path));
        var bytes = File.ReadAllBytes(path);
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----\n", Encoding.ASCII.GetString(bytes));
        Assert.Contains("Private-Key: (2048 bit", TempFolder.Shell($"openssl pkey -in '{path}' -noout -text"));
        Assert.Equal(path, created.KeyFilePath);
        Assert.Equal(bytes, created.PrivateKeyPem.ToArray());
        Assert.Single(Directory.GetFileSystemEntries(_folder.Path)); // no temporary file left behind

        var loaded = VatIdentity.LoadOrCreate(path);
        Assert.Equal(created.Digest, loaded.Digest);
        Assert.Equal(bytes, File.ReadAllBytes(path));
        Assert.Equal(created.Digest, VatIdentity.Load(path).Digest);
    }

    [Fact]
    public void Relative_path_is_resolved_against_the_current_directory()
    {
        var relative = Path.GetRelativePath(Environment.CurrentDirectory, _folder.File("relative.pem"));
        var identity = VatIdentity.LoadOrCreate(relative);
        Assert.Equal(_folder.File("relative.pem"), identity.KeyFilePath);
        Assert.True(File.Exists(_folder.File("relative.pem")));
    }

    [Fact]
    public void Fingerprint_of_a_created_key_equals_openssls()
    {
        var path = _folder.File("key.pem");
        var identity = VatIdentity.LoadOrCreate(path);
        Assert.Equal(OpenSslFingerprint(path), Hex(identity.Digest.Sha256));
        Assert.True(identity.Digest.Matches(identity.ExportSubjectPublicKeyInfo()));
    }

    [Theory]
    [InlineData("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out KEY", "RSA-2048")]
    [InlineData("openssl genrsa -traditional -out KEY 3072", "RSA-3072")]
    [InlineData("openssl ecparam -name prime256v1 -genkey -out KEY", "EC")]
    [InlineData("openssl ecparam -name secp384r1 -genkey -noout -out KEY", "EC")]
    [InlineData("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out KEY", "EC")]
    public void Loads_openssl_keys_and_their_fingerprint_equals_openssls(string generate, string algorithm)
    {
        var path = _folder.File("key.pem");
        TempFolder.Shell(generate.Replace("KEY", $"'{path}'"));
        var before = File.ReadAllBytes(path);

        var identity = VatIdentity.LoadOrCreate(path);

        Assert.Equal(OpenSslFingerprint(path), Hex(identity.Digest.Sha256));
        Assert.Contains(algorithm, identity.ToString());
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal(identity.Digest, VatIdentity.FromPem(Encoding.ASCII.GetString(before)).Digest);
    }

    [Fact]
    public void Pkcs1_header_is_what_the_traditional_generator_writes()
    {
        // Guards the theory above: the PKCS#1 and SEC1 cases really are those formats.
        var rsa = _folder.File("rsa.pem");
        TempFolder.Shell($"openssl genrsa -traditional -out '{rsa}' 2048");
        Assert.StartsWith("-----BEGIN RSA PRIVATE KEY-----", File.ReadAllText(rsa));
        var ec = _folder.File("ec.pem");
        TempFolder.Shell($"openssl ecparam -name prime256v1 -genkey -out '{ec}'");
        Assert.Contains("-----BEGIN EC PARAMETERS-----", File.ReadAllText(ec));
        Assert.Contains("-----BEGIN EC PRIVATE KEY-----", File.ReadAllText(ec));
    }

    [Fact]
    public void Derived_service_id_is_hmac_sha256_keyed_with_the_sha256_of_the_key_files_bytes()
    {
        var path = _folder.File("key.pem");
        var identity = VatIdentity.LoadOrCreate(path);

        var fileHash = TempFolder.Shell($"sha256sum '{path}'").Split(' ')[0];
        var expected = TempFolder.Shell(
            $"printf %s main | openssl dgst -sha256 -mac HMAC -macopt hexkey:{fileHash} -binary | od -An -v -tx1 | tr -d ' \\n'").Trim();

        var id = identity.DerivedServiceId("main");
        Assert.Equal(32, id.Length);
        Assert.Equal(expected, Convert.ToHexStringLower(id));
        Assert.Equal(id, VatIdentity.LoadOrCreate(path).DerivedServiceId("main"));
        Assert.NotEqual(id, identity.DerivedServiceId("Main"));
        Assert.NotEqual(id, VatIdentity.CreateEphemeral().DerivedServiceId("main"));
        Assert.Equal(HMACSHA256.HashData(SHA256.HashData(File.ReadAllBytes(path)), "été"u8),
            identity.DerivedServiceId("été"));
    }

    [Fact]
    public void Derived_service_id_depends_on_the_files_bytes_not_only_on_the_key()
    {
        var pkcs8 = _folder.File("pkcs8.pem");
        var pkcs1 = _folder.File("pkcs1.pem");
        TempFolder.Shell($"openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out '{pkcs8}'");
        TempFolder.Shell($"openssl pkey -in '{pkcs8}' -traditional -out '{pkcs1}'");
        var a = VatIdentity.Load(pkcs8);
        var b = VatIdentity.Load(pkcs1);
        Assert.Equal(a.Digest, b.Digest);
        Assert.NotEqual(a.DerivedServiceId("main"), b.DerivedServiceId("main"));
    }

    [Fact]
    public void Random_service_ids_are_20_fresh_bytes()
    {
        var a = ServiceId.Random();
        var b = ServiceId.Random();
        Assert.Equal(ServiceId.RandomLength, a.Length);
        Assert.Equal(20, b.Length);
        Assert.NotEqual(a, b);
    }

    [Fact]
    public void Ephemeral_identities_are_new_pkcs8_rsa_keys()
    {
        var a = VatIdentity.CreateEphemeral();
        var b = VatIdentity.CreateEphemeral();
        Assert.NotEqual(a.Digest, b.Digest);
        Assert.Null(a.KeyFilePath);
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----", Encoding.ASCII.GetString(a.PrivateKeyPem));
        Assert.Equal(a.Digest, VatIdentity.FromPem(a.PrivateKeyPem).Digest);
        Assert.Equal("VatIdentity(RSA-2048, " + a.Digest + ")", a.ToString());
    }

    [Fact]
    public void ToString_never_shows_the_key()
    {
        var identity = VatIdentity.LoadOrCreate(_folder.File("key.pem"));
        var pem = Encoding.ASCII.GetString(identity.PrivateKeyPem);
        var text = identity.ToString();
        Assert.DoesNotContain("PRIVATE", text);
        foreach (var line in pem.Split('\n').Where(l => l.Length > 0 && !l.StartsWith("-----")))
            Assert.DoesNotContain(line[..16], text);
    }

    [Fact]
    public void Concurrent_creators_all_get_the_one_key_that_was_written()
    {
        var path = _folder.File("shared.pem");
        var identities = Enumerable.Range(0, 4)
            .Select(_ => Task.Run(() => VatIdentity.LoadOrCreate(path)))
            .Select(t => t.GetAwaiter().GetResult())
            .ToList();
        var onDisk = VatIdentity.Load(path);
        Assert.All(identities, identity => Assert.Equal(onDisk.Digest, identity.Digest));
        Assert.Single(Directory.GetFileSystemEntries(_folder.Path));
    }

    public static TheoryData<string, VatIdentityProblem> BadKeys()
    {
        using var weak = RSA.Create(1024);
        using var rsa = RSA.Create(2048);
        var pkcs8 = rsa.ExportPkcs8PrivateKeyPem();
        return new()
        {
            { "", VatIdentityProblem.Empty },
            { "hello, world\n", VatIdentityProblem.NotPem },
            { "-----BEGIN PRIVATE KEY-----\nnot base64 at all!\n-----END PRIVATE KEY-----\n", VatIdentityProblem.NotPem },
            { rsa.ExportSubjectPublicKeyInfoPem(), VatIdentityProblem.NotAPrivateKey },
            { rsa.ExportEncryptedPkcs8PrivateKeyPem("secret", new PbeParameters(PbeEncryptionAlgorithm.Aes128Cbc, HashAlgorithmName.SHA256, 1000)),
                VatIdentityProblem.EncryptedKey },
            { "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\nAAAA\n-----END RSA PRIVATE KEY-----\n",
                VatIdentityProblem.EncryptedKey },
            { "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n", VatIdentityProblem.UnsupportedKeyType },
            { "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", VatIdentityProblem.MalformedKey },
            { "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n", VatIdentityProblem.MalformedKey },
            { "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n", VatIdentityProblem.MalformedKey },
            { pkcs8 + "\n" + pkcs8, VatIdentityProblem.MultipleKeys },
            { weak.ExportRSAPrivateKeyPem(), VatIdentityProblem.WeakKey },
        };
    }

    [Theory]
    [MemberData(nameof(BadKeys))]
    public void Bad_key_files_name_their_problem_and_are_never_overwritten(string contents, VatIdentityProblem problem)
    {
        var path = _folder.File("bad.pem");
        File.WriteAllText(path, contents);

        var error = Assert.Throws<VatIdentityException>(() => VatIdentity.LoadOrCreate(path));
        Assert.Equal(problem, error.Problem);
        Assert.Equal(path, error.Path);
        Assert.Contains(path, error.Message);
        Assert.Equal(contents, File.ReadAllText(path));

        Assert.Equal(problem, Assert.Throws<VatIdentityException>(() => VatIdentity.FromPem(contents)).Problem);
    }

    [Fact]
    public void Ed25519_key_is_an_unsupported_key_type()
    {
        var path = _folder.File("ed.pem");
        TempFolder.Shell($"openssl genpkey -algorithm ed25519 -out '{path}'");
        var before = File.ReadAllBytes(path);
        var error = Assert.Throws<VatIdentityException>(() => VatIdentity.LoadOrCreate(path));
        Assert.Equal(VatIdentityProblem.UnsupportedKeyType, error.Problem);
        Assert.Contains("1.3.101.112", error.Message);
        Assert.Equal(before, File.ReadAllBytes(path));
    }

    [Fact]
    public void Binary_garbage_is_not_pem()
    {
        var path = _folder.File("garbage.pem");
        File.WriteAllBytes(path, [0xff, 0xfe, 0x00, 0x80, 0x2d, 0x2d]);
        Assert.Equal(VatIdentityProblem.NotPem, Assert.Throws<VatIdentityException>(() => VatIdentity.LoadOrCreate(path)).Problem);
    }

    [Fact]
    public void Error_messages_never_include_the_key()
    {
        using var weak = RSA.Create(1024);
        var pem = weak.ExportRSAPrivateKeyPem();
        var error = Assert.Throws<VatIdentityException>(() => VatIdentity.FromPem(pem));
        var body = pem.Split('\n')[1];
        Assert.DoesNotContain(body[..16], error.ToString());
    }

    [Fact]
    public void An_unreadable_existing_path_is_reported_and_left_alone()
    {
        var path = _folder.File("a-folder.pem");
        Directory.CreateDirectory(path);
        File.WriteAllText(Path.Combine(path, "inside"), "x");

        var error = Assert.Throws<VatIdentityException>(() => VatIdentity.LoadOrCreate(path));

        Assert.Equal(VatIdentityProblem.Unreadable, error.Problem);
        Assert.True(Directory.Exists(path));
        Assert.Equal("x", File.ReadAllText(Path.Combine(path, "inside")));
        Assert.Single(Directory.GetFileSystemEntries(_folder.Path));
    }

    [Fact]
    public void A_key_in_a_missing_folder_cannot_be_created()
    {
        var path = Path.Combine(_folder.Path, "no-such-folder", "key.pem");
        var error = Assert.Throws<VatIdentityException>(() => VatIdentity.LoadOrCreate(path));
        Assert.Equal(VatIdentityProblem.CannotCreate, error.Problem);
        Assert.False(Directory.Exists(Path.GetDirectoryName(path)));
    }

    [Fact]
    public void Load_never_creates()
    {
        var path = _folder.File("missing.pem");
        Assert.Equal(VatIdentityProblem.Missing, Assert.Throws<VatIdentityException>(() => VatIdentity.Load(path)).Problem);
        Assert.False(File.Exists(path));
    }
}
