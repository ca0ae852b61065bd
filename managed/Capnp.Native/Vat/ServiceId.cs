using System.Security.Cryptography;

namespace Capnp.Native;

/// <summary>
/// Service IDs: the secret bytes that name a service inside a vat and grant access to it
/// (the last part of a <c>capnp://</c> URI). Treat them like passwords: never log them.
/// </summary>
public static class ServiceId
{
    /// <summary>The length of a <see cref="Random"/> ID in bytes.</summary>
    public const int RandomLength = 20;

    /// <summary>A new unguessable ID: <see cref="RandomLength"/> bytes from a cryptographically secure generator.</summary>
    public static byte[] Random() => RandomNumberGenerator.GetBytes(RandomLength);

    /// <summary>The ID as written in a <c>capnp://</c> URI: base64url without padding ("main" → <c>bWFpbg</c>).</summary>
    public static string ToBase64Url(ReadOnlySpan<byte> serviceId) => Base64UrlText.Encode(serviceId);
}
