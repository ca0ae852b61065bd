using Microsoft.Extensions.Configuration;

namespace Capnp.Native.Hosting;

/// <summary>
/// How a hosted vat (<see cref="Microsoft.Extensions.DependencyInjection.CapnpVatServiceCollectionExtensions.AddCapnpVat(Microsoft.Extensions.DependencyInjection.IServiceCollection, Action{VatHostOptions}?)"/>)
/// is known, serves and stops. The first four properties are the seed's vat options and bind from
/// configuration (<see cref="BindConfiguration"/>); the others map to the <see cref="VatOptions"/>
/// of the same names.
/// </summary>
public sealed class VatHostOptions
{
    /// <summary>Where the vat accepts connections (e.g. <c>tcp:0.0.0.0:7000</c>); null for a vat that only makes connections.</summary>
    public VatAddress? ListenAddress { get; set; }

    /// <summary>The address in the vat's sturdy refs, when clients reach it elsewhere than <see cref="ListenAddress"/>.</summary>
    public VatAddress? PublicAddress { get; set; }

    /// <summary>
    /// The file of the vat's secret key, created (mode 0600) on first start and loaded afterwards
    /// (<see cref="VatIdentity.LoadOrCreate"/>), so that sturdy refs survive restarts. Null, with
    /// no <see cref="Identity"/>: an ephemeral key each start.
    /// </summary>
    public string? SecretKeyFile { get; set; }

    /// <summary>Serve without TLS (insecure sturdy refs); see <see cref="VatOptions.DisableTls"/>.</summary>
    public bool DisableTls { get; set; }

    /// <summary>The vat's key, given in memory; set this or <see cref="SecretKeyFile"/>, not both.</summary>
    public VatIdentity? Identity { get; set; }

    /// <summary>See <see cref="VatOptions.RequireClientCertificate"/>.</summary>
    public bool RequireClientCertificate { get; set; }

    /// <summary>See <see cref="VatOptions.MaxConnections"/>.</summary>
    public int? MaxConnections { get; set; }

    /// <summary>See <see cref="VatOptions.MaxOutstandingQuestionsPerConnection"/>.</summary>
    public int? MaxOutstandingQuestionsPerConnection { get; set; }

    /// <summary>See <see cref="VatOptions.MaxUnwrittenBytesPerConnection"/>.</summary>
    public long? MaxUnwrittenBytesPerConnection { get; set; }

    /// <summary>See <see cref="VatOptions.HandshakeTimeout"/>.</summary>
    public TimeSpan? HandshakeTimeout { get; set; }

    /// <summary>
    /// Sets the properties that <paramref name="section"/> has (keys <c>ListenAddress</c>,
    /// <c>PublicAddress</c>, <c>SecretKeyFile</c>, <c>DisableTls</c>,
    /// <c>RequireClientCertificate</c>, <c>MaxConnections</c>); keys it lacks leave theirs as they
    /// are. Reads the keys by name (no reflection), so it is trimming and AOT safe.
    /// </summary>
    /// <exception cref="InvalidOperationException">A value is malformed (the message names the key; an address's inner exception is a <see cref="VatAddressFormatException"/>).</exception>
    public void BindConfiguration(IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(section);
        if (section[nameof(ListenAddress)] is { Length: > 0 } listen)
        {
            ListenAddress = ParseAddress(section, nameof(ListenAddress), listen);
        }

        if (section[nameof(PublicAddress)] is { Length: > 0 } published)
        {
            PublicAddress = ParseAddress(section, nameof(PublicAddress), published);
        }

        if (section[nameof(SecretKeyFile)] is { Length: > 0 } keyFile)
        {
            SecretKeyFile = keyFile;
        }

        if (section[nameof(DisableTls)] is { Length: > 0 } disableTls)
        {
            DisableTls = ParseBool(section, nameof(DisableTls), disableTls);
        }

        if (section[nameof(RequireClientCertificate)] is { Length: > 0 } require)
        {
            RequireClientCertificate = ParseBool(section, nameof(RequireClientCertificate), require);
        }

        if (section[nameof(MaxConnections)] is { Length: > 0 } max)
        {
            MaxConnections = int.TryParse(max, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var value)
                ? value
                : throw Malformed(section, nameof(MaxConnections), "an integer", null);
        }
    }

    /// <summary>The <see cref="VatOptions"/> these options give (loading or creating the key file).</summary>
    internal VatOptions ToVatOptions()
    {
        if (Identity is not null && !string.IsNullOrEmpty(SecretKeyFile))
        {
            throw new InvalidOperationException("Set either VatHostOptions.Identity or VatHostOptions.SecretKeyFile, not both.");
        }

        return new VatOptions
        {
            Identity = Identity ?? (string.IsNullOrEmpty(SecretKeyFile) ? null : VatIdentity.LoadOrCreate(SecretKeyFile)),
            ListenAddress = ListenAddress,
            PublicAddress = PublicAddress,
            DisableTls = DisableTls,
            RequireClientCertificate = RequireClientCertificate,
            MaxConnections = MaxConnections,
            MaxOutstandingQuestionsPerConnection = MaxOutstandingQuestionsPerConnection,
            MaxUnwrittenBytesPerConnection = MaxUnwrittenBytesPerConnection,
            HandshakeTimeout = HandshakeTimeout,
        };
    }

    private static VatAddress ParseAddress(IConfiguration section, string key, string text)
    {
        try
        {
            return VatAddress.Parse(text);
        }
        catch (VatAddressFormatException error)
        {
            throw Malformed(section, key, "a vat address (tcp:HOST:PORT or unix:PATH)", error);
        }
    }

    private static bool ParseBool(IConfiguration section, string key, string text)
        => bool.TryParse(text, out var value) ? value : throw Malformed(section, key, "true or false", null);

    private static InvalidOperationException Malformed(IConfiguration section, string key, string expected, Exception? inner)
    {
        var path = section is IConfigurationSection named ? $"{named.Path}:{key}" : key;
        return new InvalidOperationException($"The configuration value {path} must be {expected}.", inner);
    }
}
