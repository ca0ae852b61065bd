namespace Capnp.Native;

/// <summary>
/// Who a vat is and where it is reached: the options the seed's command line configures
/// (<c>--capnp-secret-key-file</c>, <c>--capnp-listen-address</c>, <c>--capnp-public-address</c>,
/// <c>--capnp-disable-tls</c>; the <c>Capnp.Native.CommandLine</c> assembly binds them to this record).
/// </summary>
public sealed record VatNetworkOptions
{
    /// <summary>The vat's secret key; null for a new ephemeral key each run (<see cref="VatIdentity.CreateEphemeral"/>).</summary>
    public VatIdentity? Identity { get; init; }

    /// <summary>Where the vat accepts connections; null for a vat that only makes connections.</summary>
    public VatAddress? ListenAddress { get; init; }

    /// <summary>
    /// The address written in the vat's <c>capnp://</c> URIs, for when clients must connect
    /// somewhere else than <see cref="ListenAddress"/> (e.g. listen on <c>0.0.0.0</c>, publish a
    /// host name); null means the listen address (see <see cref="EffectivePublicAddress"/>).
    /// </summary>
    public VatAddress? PublicAddress { get; init; }

    /// <summary>
    /// Serve and connect without TLS: connections are neither encrypted nor authenticated and the
    /// vat's URIs say <c>insecure@</c>. Only for peers that cannot speak TLS, on trusted networks.
    /// </summary>
    public bool DisableTls { get; init; }

    /// <summary>The address clients are told to connect to: <see cref="PublicAddress"/>, or else <see cref="ListenAddress"/>.</summary>
    public VatAddress? EffectivePublicAddress => PublicAddress ?? ListenAddress;
}
