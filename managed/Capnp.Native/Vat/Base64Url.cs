using System.Buffers.Text;

namespace Capnp.Native;

/// <summary>
/// Strict base64url without padding (RFC 4648 §5), as <c>capnp://</c> URIs carry digests and
/// service IDs. Unlike <see cref="System.Buffers.Text.Base64Url"/> it refuses padding, whitespace
/// and non-canonical trailing bits, so every accepted text formats back to itself.
/// </summary>
internal static class Base64UrlText
{
    public static string Encode(ReadOnlySpan<byte> bytes) => Base64Url.EncodeToString(bytes);

    public static bool TryDecode(ReadOnlySpan<char> text, out byte[] bytes)
    {
        bytes = [];
        if (text.Length % 4 == 1)
            return false;
        foreach (var c in text)
        {
            if (!(c is >= 'A' and <= 'Z' or >= 'a' and <= 'z' or >= '0' and <= '9' or '-' or '_'))
                return false;
        }
        var decoded = new byte[Base64Url.GetMaxDecodedLength(text.Length)];
        if (Base64Url.DecodeFromChars(text, decoded, out var consumed, out var written) != System.Buffers.OperationStatus.Done
            || consumed != text.Length)
            return false;
        decoded = decoded[..written];
        // Non-zero bits after the last whole byte would decode to the same bytes as another text.
        if (!text.SequenceEqual(Encode(decoded)))
            return false;
        bytes = decoded;
        return true;
    }
}
