using System.Text;
using Capnp.Native;

namespace Capnp.Native.Tests.Vat;

public class SturdyRefTests
{
    // The seed tutorial's URI, as printed by an OCaml vat.
    private const string SeedUri =
        "capnp://sha-256:3Tj5y5Q2qpqN3Sbh0GRPxgORZw98_NtrU2nLI0-Tn6g@127.0.0.1:7000/eBIndzZyoVDxaJdZ8uh_xBx5V1lfXWTJCDX-qEkgNZ4";
    private const string Digest = "sha-256:3Tj5y5Q2qpqN3Sbh0GRPxgORZw98_NtrU2nLI0-Tn6g";
    private static readonly PeerDigest SeedDigest = PeerDigest.Parse(Digest);

    [Fact]
    public void Service_id_is_base64url_without_padding()
    {
        Assert.Equal("bWFpbg", ServiceId.ToBase64Url("main"u8));
        Assert.Equal("", ServiceId.ToBase64Url([]));
        Assert.Equal("-_8", ServiceId.ToBase64Url([0xfb, 0xff]));
    }

    [Fact]
    public void The_seed_tutorials_uri_round_trips()
    {
        var sturdyRef = SturdyRef.Parse(SeedUri);
        Assert.Equal(VatAddress.Tcp("127.0.0.1", 7000), sturdyRef.Address);
        Assert.False(sturdyRef.Digest.IsInsecure);
        Assert.Equal(32, sturdyRef.Digest.Sha256.Length);
        Assert.Equal(Convert.FromBase64String("eBIndzZyoVDxaJdZ8uh/xBx5V1lfXWTJCDX+qEkgNZ4="), sturdyRef.ServiceId.ToArray());
        Assert.Equal(SeedUri, sturdyRef.ToString());
    }

    public static TheoryData<string, string, string, string> RoundTrips => new()
    {
        // uri, address, digest, service ID as UTF-8
        { "capnp://insecure@127.0.0.1:7000/bWFpbg", "tcp:127.0.0.1:7000", "insecure", "main" },
        { $"capnp://{Digest}@localhost:7000/bWFpbg", "tcp:localhost:7000", Digest, "main" },
        { "capnp://insecure@[::1]:7000/bWFpbg", "tcp:[::1]:7000", "insecure", "main" },
        { $"capnp://{Digest}@[fe80::1:2]:65535/bWFpbg", "tcp:[fe80::1:2]:65535", Digest, "main" },
        { "capnp://insecure@127.0.0.1:7000", "tcp:127.0.0.1:7000", "insecure", "" },
        { $"capnp://{Digest}@[::1]:1", "tcp:[::1]:1", Digest, "" },
        { "capnp://insecure@/tmp/vat/echo.sock/bWFpbg", "unix:/tmp/vat/echo.sock", "insecure", "main" },
        { $"capnp://{Digest}@/echo.sock/bWFpbg", "unix:/echo.sock", Digest, "main" },
        { "capnp://insecure@/tmp/vat/echo.sock/", "unix:/tmp/vat/echo.sock", "insecure", "" },
        { "capnp://insecure@/tmp/my%20vats/50%25/%C3%A9t%C3%A9%3F%23.sock/bWFpbg", "unix:/tmp/my vats/50%/été?#.sock", "insecure", "main" },
    };

    [Theory]
    [MemberData(nameof(RoundTrips))]
    public void Uris_round_trip_through_parse_and_format(string uri, string address, string digest, string id)
    {
        var parsed = SturdyRef.Parse(uri);
        Assert.Equal(VatAddress.Parse(address), parsed.Address);
        Assert.Equal(PeerDigest.Parse(digest), parsed.Digest);
        Assert.Equal(id, Encoding.UTF8.GetString(parsed.ServiceId.Span));
        Assert.Equal(uri, parsed.ToString());

        var built = new SturdyRef(VatAddress.Parse(address), PeerDigest.Parse(digest), Encoding.UTF8.GetBytes(id));
        Assert.Equal(uri, built.ToString());
        Assert.Equal(parsed, built);
        Assert.Equal(parsed.GetHashCode(), built.GetHashCode());
        Assert.True(SturdyRef.TryParse(uri, out var tried));
        Assert.Equal(parsed, tried);
    }

    [Fact]
    public void Tcp_uri_with_empty_id_has_no_trailing_slash_and_unix_uri_ends_in_one()
    {
        Assert.Equal("capnp://insecure@example.org:7000",
            new SturdyRef(VatAddress.Parse("tcp:example.org:7000"), PeerDigest.Insecure, []).ToString());
        Assert.Equal("capnp://insecure@/run/v.sock/",
            new SturdyRef(VatAddress.Parse("unix:/run/v.sock"), PeerDigest.Insecure, []).ToString());
    }

    [Fact]
    public void Unix_uri_is_split_at_the_last_slash()
    {
        var sturdyRef = SturdyRef.Parse("capnp://insecure@/a/b/c/bWFpbg");
        Assert.Equal("/a/b/c", sturdyRef.Address.Path);
        Assert.Equal("main"u8.ToArray(), sturdyRef.ServiceId.ToArray());
    }

    [Fact]
    public void Accepts_a_tcp_uri_with_a_lone_slash_and_an_upper_case_scheme_and_formats_them_canonically()
    {
        var slash = SturdyRef.Parse("capnp://insecure@localhost:7000/");
        Assert.Equal("capnp://insecure@localhost:7000", slash.ToString());
        Assert.True(slash.ServiceId.IsEmpty);
        Assert.Equal(SturdyRef.Parse("capnp://insecure@localhost:7000/bWFpbg"), SturdyRef.Parse("CAPNP://insecure@localhost:7000/bWFpbg"));
    }

    public static TheoryData<string, SturdyRefProblem> BadUris => new()
    {
        { "", SturdyRefProblem.Empty },
        { " \n", SturdyRefProblem.Empty },
        { "insecure@localhost:7000/bWFpbg", SturdyRefProblem.MissingScheme },
        { "://insecure@localhost:7000/bWFpbg", SturdyRefProblem.MissingScheme },
        { "capnp:insecure@localhost:7000/bWFpbg", SturdyRefProblem.MissingScheme },
        { "1capnp://insecure@localhost:7000/bWFpbg", SturdyRefProblem.MissingScheme },
        { "http://insecure@localhost:7000/bWFpbg", SturdyRefProblem.UnknownScheme },
        { "capnps://insecure@localhost:7000/bWFpbg", SturdyRefProblem.UnknownScheme },
        { "capnp://localhost:7000/bWFpbg", SturdyRefProblem.MissingAuthentication },
        { "capnp://@localhost:7000/bWFpbg", SturdyRefProblem.MissingAuthentication },
        { "capnp:///tmp/sock/bWFpbg", SturdyRefProblem.MissingAuthentication },
        { "capnp://3Tj5y5Q2qpqN3Sbh0GRPxgORZw98_NtrU2nLI0-Tn6g@localhost:7000/bWFpbg", SturdyRefProblem.MissingHashType },
        { "capnp://:3Tj5y5Q2qpqN3Sbh0GRPxgORZw98_NtrU2nLI0-Tn6g@localhost:7000/bWFpbg", SturdyRefProblem.MissingHashType },
        { "capnp://sha-1:3Tj5y5Q2qpqN3Sbh0GRPxgORZw98_NtrU2nLI0-Tn6g@localhost:7000/bWFpbg", SturdyRefProblem.UnknownHashType },
        { "capnp://SHA-256:3Tj5y5Q2qpqN3Sbh0GRPxgORZw98_NtrU2nLI0-Tn6g@localhost:7000/bWFpbg", SturdyRefProblem.UnknownHashType },
        { "capnp://sha-256@localhost:7000/bWFpbg", SturdyRefProblem.MissingDigest },
        { "capnp://sha-256:@localhost:7000/bWFpbg", SturdyRefProblem.MissingDigest },
        { "capnp://sha-256:3Tj5y5Q2qpqN3Sbh0GRPxgORZw98/NtrU2nLI0-Tn6g@localhost:7000/bWFpbg", SturdyRefProblem.MissingAuthentication },
        { "capnp://sha-256:3Tj5y5Q2qpqN3Sbh0GRPxgORZw98+NtrU2nLI0-Tn6g@localhost:7000/bWFpbg", SturdyRefProblem.BadBase64 },
        { "capnp://sha-256:3Tj5y5Q2qpqN3Sbh0GRPxgORZw98_NtrU2nLI0-Tn6g=@localhost:7000/bWFpbg", SturdyRefProblem.BadBase64 },
        { "capnp://sha-256:3Tj5y5Q2qpqN3Sbh0GRPxgORZw98_NtrU2nLI0-Tn6h@localhost:7000/bWFpbg", SturdyRefProblem.BadBase64 },
        { "capnp://sha-256:3Tj5y5Q2qpqN3Sbh0GRPxgORZw98_NtrU2nLI0-Tn6@localhost:7000/bWFpbg", SturdyRefProblem.BadBase64 },
        { "capnp://sha-256:3Tj5y5Q2qpqN3Sbh0GRPxgORZw98_NtrU2nLI0-T@localhost:7000/bWFpbg", SturdyRefProblem.BadDigestLength },
        { "capnp://sha-256:AAAA@localhost:7000/bWFpbg", SturdyRefProblem.BadDigestLength },
        { "capnp://insecure:3Tj5y5Q2qpqN3Sbh0GRPxgORZw98_NtrU2nLI0-Tn6g@localhost:7000/bWFpbg", SturdyRefProblem.InsecureWithDigest },
        { "capnp://insecure:@localhost:7000/bWFpbg", SturdyRefProblem.InsecureWithDigest },
        { "capnp://insecure@", SturdyRefProblem.MissingAddress },
        { "capnp://insecure@localhost/bWFpbg", SturdyRefProblem.MissingPort },
        { "capnp://insecure@localhost:/bWFpbg", SturdyRefProblem.MissingPort },
        { "capnp://insecure@localhost", SturdyRefProblem.MissingPort },
        { "capnp://insecure@[::1]/bWFpbg", SturdyRefProblem.MissingPort },
        { "capnp://insecure@:7000/bWFpbg", SturdyRefProblem.PortWithoutHost },
        { "capnp://insecure@:7000", SturdyRefProblem.PortWithoutHost },
        { "capnp://insecure@localhost:0/bWFpbg", SturdyRefProblem.BadPort },
        { "capnp://insecure@localhost:65536/bWFpbg", SturdyRefProblem.BadPort },
        { "capnp://insecure@localhost:x7/bWFpbg", SturdyRefProblem.BadPort },
        { "capnp://insecure@bad_host!:7000/bWFpbg", SturdyRefProblem.BadHost },
        { "capnp://insecure@[::1:7000/bWFpbg", SturdyRefProblem.BadHost },
        { "capnp://insecure@[localhost]:7000/bWFpbg", SturdyRefProblem.BadHost },
        { "capnp://insecure@::1:7000/bWFpbg", SturdyRefProblem.UnbracketedIPv6 },
        { "capnp://insecure@/bWFpbg", SturdyRefProblem.MissingSocketPath },
        { "capnp://insecure@/", SturdyRefProblem.MissingSocketPath },
        { "capnp://insecure@/tmp/a%2/bWFpbg", SturdyRefProblem.BadPercentEncoding },
        { "capnp://insecure@/tmp/a%zz/bWFpbg", SturdyRefProblem.BadPercentEncoding },
        { "capnp://insecure@/tmp/a%FF/bWFpbg", SturdyRefProblem.BadPercentEncoding },
        { "capnp://insecure@localhost:7000/bWFpbg=", SturdyRefProblem.BadServiceId },
        { "capnp://insecure@localhost:7000/bWFpbh", SturdyRefProblem.BadServiceId },
        { "capnp://insecure@localhost:7000/b", SturdyRefProblem.BadServiceId },
        { "capnp://insecure@localhost:7000/bWFp+g", SturdyRefProblem.BadServiceId },
        { "capnp://insecure@localhost:7000/a/bWFpbg", SturdyRefProblem.BadServiceId },
        { "capnp://insecure@/tmp/sock/bWFp bg", SturdyRefProblem.BadServiceId },
        { "capnp://insecure@localhost:7000/bWFpbg?x=1", SturdyRefProblem.QueryOrFragment },
        { "capnp://insecure@localhost:7000/bWFpbg#top", SturdyRefProblem.QueryOrFragment },
    };

    [Theory]
    [MemberData(nameof(BadUris))]
    public void Bad_uris_name_their_problem(string uri, SturdyRefProblem problem)
    {
        var error = Assert.Throws<SturdyRefFormatException>(() => SturdyRef.Parse(uri));
        Assert.Equal(problem, error.Problem);
        Assert.IsAssignableFrom<FormatException>(error);
        Assert.DoesNotContain("bWFp", error.Message);
        Assert.False(SturdyRef.TryParse(uri, out var sturdyRef));
        Assert.Null(sturdyRef);
    }

    [Fact]
    public void Every_problem_has_a_bad_uri_test()
    {
        var tested = BadUris.Select(row => (SturdyRefProblem)row[1]).ToHashSet();
        var untested = Enum.GetValues<SturdyRefProblem>().Where(p => !tested.Contains(p)).ToList();
        Assert.True(untested.Count == 0, "untested: " + string.Join(", ", untested));
    }

    [Fact]
    public void TryParse_refuses_null()
    {
        Assert.False(SturdyRef.TryParse(null, out var sturdyRef));
        Assert.Null(sturdyRef);
        Assert.Throws<ArgumentNullException>(() => SturdyRef.Parse(null!));
    }

    [Fact]
    public void Redacted_string_hides_the_service_id_and_keeps_the_rest()
    {
        var sturdyRef = SturdyRef.Parse(SeedUri);
        var redacted = sturdyRef.ToRedactedString();
        Assert.Equal($"capnp://{Digest}@127.0.0.1:7000/<redacted>", redacted);
        Assert.DoesNotContain("eBIndzZyoVDxaJdZ8uh_xBx5V1lfXWTJCDX-qEkgNZ4", redacted);
        Assert.Contains("eBIndzZyoVDxaJdZ8uh_xBx5V1lfXWTJCDX-qEkgNZ4", sturdyRef.ToString());

        Assert.Equal("capnp://insecure@/run/v.sock/<redacted>", SturdyRef.Parse("capnp://insecure@/run/v.sock/bWFpbg").ToRedactedString());
        Assert.Equal("capnp://insecure@[::1]:7000", SturdyRef.Parse("capnp://insecure@[::1]:7000").ToRedactedString());
    }

    [Fact]
    public void Equality_compares_address_digest_and_id()
    {
        var address = VatAddress.Parse("tcp:localhost:7000");
        var reference = new SturdyRef(address, SeedDigest, "main"u8);
        Assert.Equal(reference, new SturdyRef(VatAddress.Parse("tcp:LOCALHOST:7000"), PeerDigest.Parse(Digest), "main"u8));
        Assert.NotEqual(reference, new SturdyRef(VatAddress.Parse("tcp:localhost:7001"), SeedDigest, "main"u8));
        Assert.NotEqual(reference, new SturdyRef(address, PeerDigest.Insecure, "main"u8));
        Assert.NotEqual(reference, new SturdyRef(address, SeedDigest, "mains"u8));
        Assert.NotEqual(reference, new SturdyRef(address, SeedDigest, "mbin"u8));
        Assert.NotEqual(reference, new SturdyRef(address, SeedDigest, []));
        Assert.True(reference == new SturdyRef(address, SeedDigest, "main"u8));
        Assert.True(reference != reference.WithServiceId("other"u8));
        Assert.False(reference.Equals(null));
    }

    [Fact]
    public void Is_immutable_the_id_is_copied()
    {
        var id = "main"u8.ToArray();
        var sturdyRef = new SturdyRef(VatAddress.Parse("tcp:localhost:7000"), PeerDigest.Insecure, id);
        id[0] = (byte)'X';
        Assert.Equal("main"u8.ToArray(), sturdyRef.ServiceId.ToArray());

        var other = sturdyRef.WithServiceId("x"u8);
        Assert.Equal("main"u8.ToArray(), sturdyRef.ServiceId.ToArray());
        Assert.Equal(sturdyRef.Address, other.Address);
        Assert.Equal(sturdyRef.Digest, other.Digest);
    }

    [Fact]
    public void A_tcp_sturdy_ref_needs_a_real_port()
    {
        Assert.Throws<ArgumentException>(() => new SturdyRef(VatAddress.Parse("tcp:localhost:0"), PeerDigest.Insecure, []));
    }

    [Fact]
    public void Digest_parses_formats_and_compares()
    {
        Assert.Same(PeerDigest.Insecure, PeerDigest.Parse("insecure"));
        Assert.True(PeerDigest.Insecure.IsInsecure);
        Assert.True(PeerDigest.Insecure.Sha256.IsEmpty);
        Assert.Equal("insecure", PeerDigest.Insecure.ToString());
        Assert.Equal(Digest, SeedDigest.ToString());
        var bytes = SeedDigest.Sha256.ToArray();
        Assert.Equal(SeedDigest, PeerDigest.FromSha256(bytes));
        Assert.Equal(SeedDigest.GetHashCode(), PeerDigest.FromSha256(bytes).GetHashCode());
        Assert.NotEqual(PeerDigest.Insecure, SeedDigest);
        Assert.NotEqual(SeedDigest, PeerDigest.Insecure);
        bytes[31] ^= 1;
        Assert.NotEqual(SeedDigest, PeerDigest.FromSha256(bytes));
        Assert.Throws<ArgumentException>(() => PeerDigest.FromSha256(new byte[31]));
    }

    [Fact]
    public void Digest_of_a_public_key_matches_only_that_key()
    {
        var key = "not really DER, any bytes hash"u8.ToArray();
        var digest = PeerDigest.FromSubjectPublicKeyInfo(key);
        Assert.Equal(System.Security.Cryptography.SHA256.HashData(key), digest.Sha256.ToArray());
        Assert.True(digest.Matches(key));
        Assert.False(digest.Matches("other key"u8));
        Assert.False(PeerDigest.Insecure.Matches(key));
    }
}
