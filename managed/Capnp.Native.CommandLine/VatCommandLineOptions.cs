using System.CommandLine;
using System.CommandLine.Parsing;

namespace Capnp.Native;

/// <summary>
/// The vat options of the seed's command line, for any program to add to its own
/// System.CommandLine command and bind to <see cref="VatOptions"/>:
/// <list type="bullet">
/// <item><c>--capnp-secret-key-file PATH</c>: the vat's secret key, created (mode 0600) when missing; <c>""</c> for an ephemeral key;</item>
/// <item><c>--capnp-listen-address tcp:HOST:PORT | tcp:[V6]:PORT | unix:PATH</c>: where to accept connections (a relative unix path is made absolute);</item>
/// <item><c>--capnp-public-address ADDRESS</c>: the address put in the vat's URIs (defaults to the listen address);</item>
/// <item><c>--capnp-disable-tls</c>: serve plain connections, publishing <c>insecure@</c> URIs.</item>
/// </list>
/// As in the seed, the key file and the listen address are required; set
/// <see cref="Option.Required"/> to false on <see cref="SecretKeyFile"/> or
/// <see cref="ListenAddress"/> to make them optional (absent means an ephemeral key, or no listener).
/// </summary>
/// <example>
/// <code>
/// var vatOptions = new VatCommandLineOptions();
/// var root = new RootCommand("Echo server");
/// vatOptions.AddTo(root);
/// root.SetAction(parseResult =>
/// {
///     VatOptions options = vatOptions.GetVatOptions(parseResult) with { Bootstrap = new EchoImpl() };
///     // ... await Vat.StartAsync(options)
/// });
/// return root.Parse(args).Invoke();
/// </code>
/// </example>
public sealed class VatCommandLineOptions
{
    /// <summary>Creates the four options.</summary>
    public VatCommandLineOptions()
    {
        SecretKeyFile = new Option<string>("--capnp-secret-key-file")
        {
            Description = "File holding the vat's secret key, created (mode 0600) if missing; \"\" for an ephemeral key.",
            HelpName = "PATH",
            Required = true,
        };
        ListenAddress = AddressOption("--capnp-listen-address",
            "Address to accept connections on: tcp:HOST:PORT, tcp:[IPV6]:PORT or unix:PATH.");
        ListenAddress.Required = true;
        PublicAddress = AddressOption("--capnp-public-address",
            "Address clients are told to connect to, in the vat's capnp:// URIs (default: the listen address).");
        DisableTls = new Option<bool>("--capnp-disable-tls")
        {
            Description = "Serve plain connections without TLS (URIs say insecure@); only for peers that cannot speak TLS.",
        };
    }

    /// <summary><c>--capnp-secret-key-file PATH</c>.</summary>
    public Option<string> SecretKeyFile { get; }

    /// <summary><c>--capnp-listen-address ADDRESS</c>.</summary>
    public Option<VatAddress> ListenAddress { get; }

    /// <summary><c>--capnp-public-address ADDRESS</c>.</summary>
    public Option<VatAddress> PublicAddress { get; }

    /// <summary><c>--capnp-disable-tls</c>.</summary>
    public Option<bool> DisableTls { get; }

    /// <summary>The four options, in the order they are listed in help.</summary>
    public IReadOnlyList<Option> All => [SecretKeyFile, ListenAddress, PublicAddress, DisableTls];

    /// <summary>Adds the four options to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        ArgumentNullException.ThrowIfNull(command);
        foreach (var option in All)
            command.Options.Add(option);
    }

    /// <summary>
    /// Binds a parse result (without errors, as in a command's action) to the vat's options:
    /// loads the secret key file, or creates it (mode 0600) when missing; without a public
    /// address, the vat publishes its bound listen address. When standard error is a terminal,
    /// slow connects show <c>[ connecting to ADDRESS ]</c> there (<see cref="VatOptions.ConnectProgress"/>).
    /// </summary>
    /// <exception cref="VatIdentityException">The key file exists but is not a usable key, or cannot be created.</exception>
    public VatOptions GetVatOptions(ParseResult parseResult)
    {
        ArgumentNullException.ThrowIfNull(parseResult);
        var keyFile = parseResult.GetValue(SecretKeyFile);
        return new VatOptions
        {
            Identity = string.IsNullOrEmpty(keyFile) ? null : VatIdentity.LoadOrCreate(keyFile),
            ListenAddress = parseResult.GetValue(ListenAddress),
            PublicAddress = parseResult.GetValue(PublicAddress),
            DisableTls = parseResult.GetValue(DisableTls),
            ConnectProgress = Console.IsErrorRedirected ? null : Console.Error,
        };
    }

    private static Option<VatAddress> AddressOption(string name, string description) => new(name)
    {
        Description = description,
        HelpName = "ADDRESS",
        CustomParser = ParseAddress,
    };

    private static VatAddress? ParseAddress(ArgumentResult result)
    {
        var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
        try
        {
            return VatAddress.Parse(text);
        }
        catch (VatAddressFormatException e)
        {
            var name = (result.Parent as OptionResult)?.Option.Name ?? "address";
            result.AddError($"{name}: {e.Message}");
            return null;
        }
    }
}
