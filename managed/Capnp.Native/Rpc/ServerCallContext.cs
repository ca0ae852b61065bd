namespace Capnp.Native.Rpc;

/// <summary>Where an incoming call came from, as far as the vat can tell.</summary>
public enum CallOrigin
{
    /// <summary>
    /// Not known: a call made in this process, or one the vat could not trace to a connection.
    /// Treat it as coming from nobody in particular, never as trusted.
    /// </summary>
    Unknown = 0,

    /// <summary>A peer that presented no key: a plain (insecure) connection, or a TLS client without a certificate.</summary>
    AnonymousPeer = 1,

    /// <summary>A TLS peer that proved it holds the key of <see cref="ServerCallContext.PeerDigest"/>.</summary>
    AuthenticatedPeer = 2,
}

/// <summary>
/// What a server method knows about the call it is running for, read through
/// <see cref="Current"/> from anywhere in the method (it flows across <c>await</c>). The peer's
/// digest is its TLS key fingerprint, the same one its own sturdy refs carry
/// (<c>capnp://sha-256:…@…</c>), so a service can decide per caller:
/// <code>
/// if (ServerCallContext.Current?.PeerDigest != adminDigest) throw new RpcFailedException("not allowed");
/// </code>
/// </summary>
public sealed class ServerCallContext
{
    private static readonly AsyncLocal<ServerCallContext?> CurrentCall = new();

    /// <summary>The context of a call whose origin is not known.</summary>
    internal static ServerCallContext UnknownOrigin { get; } = new(CallOrigin.Unknown, null);

    /// <summary>The context of a call from a peer without a key.</summary>
    internal static ServerCallContext FromAnonymousPeer { get; } = new(CallOrigin.AnonymousPeer, null);

    internal ServerCallContext(CallOrigin origin, PeerDigest? peerDigest)
    {
        Origin = origin;
        PeerDigest = peerDigest;
    }

    /// <summary>The call the current server method runs for; null outside server methods.</summary>
    public static ServerCallContext? Current => CurrentCall.Value;

    /// <summary>Where the call came from.</summary>
    public CallOrigin Origin { get; }

    /// <summary>The calling peer's key fingerprint when <see cref="Origin"/> is <see cref="CallOrigin.AuthenticatedPeer"/>; otherwise null.</summary>
    public PeerDigest? PeerDigest { get; }

    /// <summary>Makes <paramref name="context"/> current for the method started next, returning the previous one.</summary>
    internal static ServerCallContext? Enter(ServerCallContext? context)
    {
        var previous = CurrentCall.Value;
        CurrentCall.Value = context;
        return previous;
    }

    /// <inheritdoc/>
    public override string ToString() => Origin switch
    {
        CallOrigin.AuthenticatedPeer => $"call from {PeerDigest}",
        CallOrigin.AnonymousPeer => "call from an anonymous peer",
        _ => "call of unknown origin",
    };
}
