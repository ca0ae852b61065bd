using System.CommandLine;
using Capnp.Native;

namespace Capnp.Native.CommandLine.Tests;

public sealed class VatCommandLineOptionsTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("capnp-cli-tests-").FullName;
    private readonly VatCommandLineOptions _options = new();
    private readonly RootCommand _command = new("test program");

    public VatCommandLineOptionsTests() => _options.AddTo(_command);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string KeyFile => Path.Combine(_folder, "key.pem");

    private ParseResult Parse(params string[] args) => _command.Parse(args);

    private VatOptions Bind(params string[] args)
    {
        var result = Parse(args);
        Assert.Empty(result.Errors);
        return _options.GetVatOptions(result);
    }

    [Fact]
    public void Binds_key_file_and_listen_address_and_leaves_the_public_address_to_the_vat()
    {
        var options = Bind("--capnp-secret-key-file", KeyFile, "--capnp-listen-address", "tcp:127.0.0.1:7000");

        Assert.NotNull(options.Identity);
        Assert.Equal(KeyFile, options.Identity.KeyFilePath);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(KeyFile));
        Assert.Equal(VatAddress.Parse("tcp:127.0.0.1:7000"), options.ListenAddress);
        // Without --capnp-public-address the vat publishes its bound listen address.
        Assert.Null(options.PublicAddress);
        Assert.False(options.DisableTls);

        // The second run loads the key the first one created.
        var again = Bind("--capnp-secret-key-file", KeyFile, "--capnp-listen-address", "tcp:127.0.0.1:7000");
        Assert.Equal(options.Identity.Digest, again.Identity!.Digest);
    }

    [Fact]
    public void Binds_every_option()
    {
        var options = Bind("--capnp-secret-key-file", KeyFile, "--capnp-listen-address", "tcp:[::]:7000",
            "--capnp-public-address", "tcp:vat.example.org:443", "--capnp-disable-tls");
        Assert.Equal(VatAddress.Parse("tcp:[::]:7000"), options.ListenAddress);
        Assert.Equal(VatAddress.Parse("tcp:vat.example.org:443"), options.PublicAddress);
        Assert.True(options.DisableTls);
    }

    [Fact]
    public void Empty_key_file_means_an_ephemeral_key()
    {
        var options = Bind("--capnp-secret-key-file", "", "--capnp-listen-address", "unix:/tmp/vat.sock");
        Assert.Null(options.Identity);
        Assert.Empty(Directory.GetFileSystemEntries(_folder));
    }

    [Fact]
    public void Relative_unix_listen_address_is_made_absolute()
    {
        var options = Bind("--capnp-secret-key-file", "", "--capnp-listen-address", "unix:vat.sock");
        Assert.Equal(Path.Combine(Environment.CurrentDirectory, "vat.sock"), options.ListenAddress!.Path);
    }

    [Theory]
    [InlineData("tcp:localhost", "no port")]
    [InlineData("tcp:::1:7000", "brackets")]
    [InlineData("tcp:host:99999", "port")]
    [InlineData("udp:host:1", "tcp: or unix:")]
    public void Bad_addresses_are_command_line_errors_naming_the_option_and_problem(string address, string expected)
    {
        var listen = Parse("--capnp-secret-key-file", "", "--capnp-listen-address", address);
        var error = Assert.Single(listen.Errors);
        Assert.Contains("--capnp-listen-address", error.Message);
        Assert.Contains(expected, error.Message);

        var publicAddress = Parse("--capnp-secret-key-file", "", "--capnp-listen-address", "tcp:h:1", "--capnp-public-address", address);
        Assert.Contains("--capnp-public-address", Assert.Single(publicAddress.Errors).Message);
    }

    [Fact]
    public void Key_file_and_listen_address_are_required_unless_made_optional()
    {
        var errors = Parse().Errors.Select(e => e.Message).ToList();
        Assert.Equal(2, errors.Count);
        Assert.Contains(errors, m => m.Contains("--capnp-secret-key-file"));
        Assert.Contains(errors, m => m.Contains("--capnp-listen-address"));

        _options.SecretKeyFile.Required = false;
        _options.ListenAddress.Required = false;
        var clientOnly = Bind();
        Assert.Null(clientOnly.Identity);
        Assert.Null(clientOnly.ListenAddress);
        Assert.Null(clientOnly.PublicAddress);
    }

    [Fact]
    public void A_bad_key_file_is_a_typed_error_and_stays_untouched()
    {
        File.WriteAllText(KeyFile, "not a key");
        var result = Parse("--capnp-secret-key-file", KeyFile, "--capnp-listen-address", "tcp:127.0.0.1:7000");
        var error = Assert.Throws<VatIdentityException>(() => _options.GetVatOptions(result));
        Assert.Equal(VatIdentityProblem.NotPem, error.Problem);
        Assert.Equal("not a key", File.ReadAllText(KeyFile));
    }

    [Fact]
    public void Runs_in_a_programs_action_and_shows_in_its_help()
    {
        VatOptions? bound = null;
        _command.SetAction(result => { bound = _options.GetVatOptions(result); });
        var exitCode = Parse("--capnp-secret-key-file", "", "--capnp-listen-address", "tcp:localhost:0").Invoke();
        Assert.Equal(0, exitCode);
        Assert.Equal(VatAddress.Parse("tcp:localhost:0"), bound!.ListenAddress);

        var output = new StringWriter();
        var help = Parse("--help").Invoke(new InvocationConfiguration { Output = output });
        Assert.Equal(0, help);
        foreach (var option in _options.All)
            Assert.Contains(option.Name, output.ToString());
        Assert.Contains("--capnp-secret-key-file <PATH>", output.ToString());

        var error = new StringWriter();
        var failed = Parse("--capnp-secret-key-file", "", "--capnp-listen-address", "tcp:nowhere").Invoke(
            new InvocationConfiguration { Output = new StringWriter(), Error = error });
        Assert.NotEqual(0, failed);
        Assert.Contains("--capnp-listen-address", error.ToString());
    }
}
