using System.Net;
using System.Net.Sockets;
using Capnp.Native;

namespace Capnp.Native.Tests.Vat;

public class VatAddressTests
{
    [Theory]
    [InlineData("tcp:127.0.0.1:7000", "127.0.0.1", 7000, false)]
    [InlineData("tcp:localhost:0", "localhost", 0, false)]
    [InlineData("tcp:0.0.0.0:65535", "0.0.0.0", 65535, false)]
    [InlineData("tcp:[::1]:7000", "::1", 7000, true)]
    [InlineData("tcp:[fe80::1:2]:1", "fe80::1:2", 1, true)]
    [InlineData("tcp:example.org:443", "example.org", 443, false)]
    public void Tcp_addresses_round_trip(string text, string host, int port, bool ipv6)
    {
        var address = VatAddress.Parse(text);
        Assert.Equal(VatAddressKind.Tcp, address.Kind);
        Assert.Equal(host, address.Host);
        Assert.Equal(port, address.Port);
        Assert.Equal(ipv6, address.IsIPv6);
        Assert.Null(address.Path);
        Assert.Equal(text, address.ToString());
        Assert.Equal(address, VatAddress.Parse(address.ToString()));
    }

    [Fact]
    public void Absolute_unix_path_is_kept_as_written()
    {
        var address = VatAddress.Parse("unix:/run/vat dir/../echo.sock");
        Assert.Equal(VatAddressKind.Unix, address.Kind);
        Assert.Equal("/run/vat dir/../echo.sock", address.Path);
        Assert.Null(address.Host);
        Assert.Equal("unix:/run/vat dir/../echo.sock", address.ToString());
    }

    [Fact]
    public void Relative_unix_path_is_made_absolute_against_the_current_directory()
    {
        var address = VatAddress.Parse("unix:sockets/echo.sock");
        Assert.Equal(Path.Combine(Environment.CurrentDirectory, "sockets", "echo.sock"), address.Path);
        Assert.True(Path.IsPathRooted(address.Path));
        Assert.Equal("unix:" + address.Path, address.ToString());
    }

    [Theory]
    [InlineData("", VatAddressProblem.Empty)]
    [InlineData("   ", VatAddressProblem.Empty)]
    [InlineData("udp:host:7000", VatAddressProblem.UnknownScheme)]
    [InlineData("127.0.0.1:7000", VatAddressProblem.UnknownScheme)]
    [InlineData("TCP:host:7000", VatAddressProblem.UnknownScheme)]
    [InlineData("tcp:host", VatAddressProblem.MissingPort)]
    [InlineData("tcp:host:", VatAddressProblem.MissingPort)]
    [InlineData("tcp:[::1]", VatAddressProblem.MissingPort)]
    [InlineData("tcp:[::1]:", VatAddressProblem.MissingPort)]
    [InlineData("tcp:host:http", VatAddressProblem.BadPort)]
    [InlineData("tcp:host:65536", VatAddressProblem.BadPort)]
    [InlineData("tcp:host:-1", VatAddressProblem.BadPort)]
    [InlineData("tcp:host:+80", VatAddressProblem.BadPort)]
    [InlineData("tcp:host:0000000000080", VatAddressProblem.BadPort)]
    [InlineData("tcp::7000", VatAddressProblem.EmptyHost)]
    [InlineData("tcp:[]:7000", VatAddressProblem.EmptyHost)]
    [InlineData("tcp:::1:7000", VatAddressProblem.UnbracketedIPv6)]
    [InlineData("tcp:fe80::1:7000", VatAddressProblem.UnbracketedIPv6)]
    [InlineData("tcp:[::1:7000", VatAddressProblem.BadHost)]
    [InlineData("tcp:[::1]7000", VatAddressProblem.BadHost)]
    [InlineData("tcp:[127.0.0.1]:7000", VatAddressProblem.BadHost)]
    [InlineData("tcp:[localhost]:7000", VatAddressProblem.BadHost)]
    [InlineData("tcp:bad host:7000", VatAddressProblem.BadHost)]
    [InlineData("tcp:a/b:7000", VatAddressProblem.BadHost)]
    [InlineData("unix:", VatAddressProblem.BadPath)]
    [InlineData("unix:/tmp/a\0b", VatAddressProblem.BadPath)]
    public void Bad_addresses_name_their_problem(string text, VatAddressProblem problem)
    {
        var error = Assert.Throws<VatAddressFormatException>(() => VatAddress.Parse(text));
        Assert.Equal(problem, error.Problem);
        Assert.IsAssignableFrom<FormatException>(error);
        Assert.False(VatAddress.TryParse(text, out var address));
        Assert.Null(address);
    }

    [Fact]
    public void TryParse_accepts_good_and_refuses_null()
    {
        Assert.True(VatAddress.TryParse("tcp:[::1]:9", out var address));
        Assert.Equal(VatAddress.Tcp("::1", 9), address);
        Assert.False(VatAddress.TryParse(null, out _));
    }

    [Fact]
    public void Tcp_factory_takes_IPv6_with_or_without_brackets_and_checks_its_input()
    {
        Assert.Equal("tcp:[::1]:7000", VatAddress.Tcp("::1", 7000).ToString());
        Assert.Equal("tcp:[::1]:7000", VatAddress.Tcp("[::1]", 7000).ToString());
        Assert.Equal(VatAddressProblem.BadPort, Assert.Throws<VatAddressFormatException>(() => VatAddress.Tcp("h", 70000)).Problem);
        Assert.Equal(VatAddressProblem.EmptyHost, Assert.Throws<VatAddressFormatException>(() => VatAddress.Tcp("", 1)).Problem);
        Assert.Equal(VatAddressProblem.BadHost, Assert.Throws<VatAddressFormatException>(() => VatAddress.Tcp("no:such:v6:z", 1)).Problem);
    }

    [Fact]
    public void Equality_compares_kind_host_ignoring_case_port_and_path()
    {
        Assert.Equal(VatAddress.Parse("tcp:LocalHost:7000"), VatAddress.Parse("tcp:localhost:7000"));
        Assert.Equal(VatAddress.Parse("tcp:LocalHost:7000").GetHashCode(), VatAddress.Parse("tcp:localhost:7000").GetHashCode());
        Assert.True(VatAddress.Parse("unix:/a") == VatAddress.Unix("/a"));
        Assert.NotEqual(VatAddress.Parse("tcp:localhost:7000"), VatAddress.Parse("tcp:localhost:7001"));
        Assert.NotEqual(VatAddress.Parse("tcp:localhost:7000"), VatAddress.Parse("tcp:127.0.0.1:7000"));
        Assert.NotEqual(VatAddress.Parse("unix:/a"), VatAddress.Parse("unix:/A"));
        Assert.True(VatAddress.Parse("unix:/a") != VatAddress.Parse("tcp:a:1"));
        Assert.False(VatAddress.Unix("/a").Equals(null));
    }

    [Fact]
    public void Converts_to_endpoints()
    {
        var v4 = Assert.IsType<IPEndPoint>(VatAddress.Parse("tcp:127.0.0.1:7000").ToEndPoint());
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 7000), v4);
        var v6 = Assert.IsType<IPEndPoint>(VatAddress.Parse("tcp:[::1]:7001").ToEndPoint());
        Assert.Equal(new IPEndPoint(IPAddress.IPv6Loopback, 7001), v6);
        var dns = Assert.IsType<DnsEndPoint>(VatAddress.Parse("tcp:localhost:7002").ToEndPoint());
        Assert.Equal(("localhost", 7002), (dns.Host, dns.Port));
        var unix = Assert.IsType<UnixDomainSocketEndPoint>(VatAddress.Parse("unix:/tmp/v.sock").ToEndPoint());
        Assert.Equal("/tmp/v.sock", unix.ToString());
    }

    [Fact]
    public void Converts_from_endpoints()
    {
        Assert.Equal("tcp:127.0.0.1:7000", VatAddress.FromEndPoint(new IPEndPoint(IPAddress.Loopback, 7000)).ToString());
        Assert.Equal("tcp:[::1]:7000", VatAddress.FromEndPoint(new IPEndPoint(IPAddress.IPv6Loopback, 7000)).ToString());
        Assert.Equal("tcp:127.0.0.1:7000",
            VatAddress.FromEndPoint(new IPEndPoint(IPAddress.Loopback.MapToIPv6(), 7000)).ToString());
        Assert.Equal("tcp:localhost:80", VatAddress.FromEndPoint(new DnsEndPoint("localhost", 80)).ToString());
        Assert.Equal("unix:/tmp/v.sock", VatAddress.FromEndPoint(new UnixDomainSocketEndPoint("/tmp/v.sock")).ToString());
        Assert.Equal("unix:" + Path.GetFullPath("v.sock"), VatAddress.FromEndPoint(new UnixDomainSocketEndPoint("v.sock")).ToString());
        foreach (var text in new[] { "tcp:127.0.0.1:1", "tcp:[::1]:2", "tcp:localhost:3", "unix:/tmp/x" })
        {
            var address = VatAddress.Parse(text);
            Assert.Equal(address, VatAddress.FromEndPoint(address.ToEndPoint()));
        }
    }

    [Fact]
    public void Refuses_endpoints_a_vat_cannot_use()
    {
        var abstractSocket = new UnixDomainSocketEndPoint("\0abstract");
        Assert.Equal(VatAddressProblem.UnsupportedEndPoint,
            Assert.Throws<VatAddressFormatException>(() => VatAddress.FromEndPoint(abstractSocket)).Problem);
        Assert.Equal(VatAddressProblem.UnsupportedEndPoint,
            Assert.Throws<VatAddressFormatException>(() => VatAddress.FromEndPoint(new OtherEndPoint())).Problem);
    }

    private sealed class OtherEndPoint : EndPoint;
}
