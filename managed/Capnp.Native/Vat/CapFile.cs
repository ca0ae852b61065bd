using System.Text;

namespace Capnp.Native;

/// <summary>
/// Cap files: a sturdy ref's <c>capnp://</c> URI stored in a file, as the OCaml capnp-rpc vats
/// write them (the URI and a newline). The URI holds a secret service ID, so files are created
/// with mode 0600 and written atomically (temporary file, flush to disk, rename): a reader sees
/// the old file or the new one, never a part.
/// </summary>
public static class CapFile
{
    /// <summary>Writes <paramref name="sturdyRef"/>'s URI and a newline to <paramref name="path"/>, replacing any file there.</summary>
    /// <exception cref="IOException">The file cannot be written (e.g. its folder does not exist).</exception>
    /// <exception cref="UnauthorizedAccessException">The folder is not writable.</exception>
    public static void Save(string path, SturdyRef sturdyRef)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(sturdyRef);
        SecretFile.WriteAtomically(path, Encoding.UTF8.GetBytes(sturdyRef + "\n"), replace: true);
    }

    /// <summary>Reads the sturdy ref in <paramref name="path"/>; whitespace around the URI is ignored.</summary>
    /// <exception cref="CapFileException">The file cannot be read or does not hold a valid <c>capnp://</c> URI.</exception>
    public static SturdyRef Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string text;
        try
        {
            // Strict UTF-8, no encoding detection (a UTF-16 byte order mark must not turn bytes into text).
            var bytes = File.ReadAllBytes(path).AsSpan();
            if (bytes.StartsWith("\uFEFF"u8))
                bytes = bytes[3..];
            text = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or DecoderFallbackException)
        {
            throw new CapFileException(path, null, e is DecoderFallbackException ? "it is not UTF-8 text." : $"cannot read it ({e.Message}).", e);
        }
        try
        {
            return SturdyRef.Parse(text.Trim());
        }
        catch (SturdyRefFormatException e)
        {
            throw new CapFileException(path, e.Problem, e.Message, e);
        }
    }

    /// <summary>
    /// Writes the sturdy ref of <paramref name="vat"/>'s service <paramref name="serviceId"/> to
    /// the cap file <paramref name="path"/> (the seed's <c>Cap_file.save_service</c>) and returns it.
    /// </summary>
    /// <exception cref="InvalidOperationException">The vat has no address (it does not listen and has no public address).</exception>
    /// <exception cref="IOException">The file cannot be written.</exception>
    public static async Task<SturdyRef> SaveServiceAsync(Vat vat, ReadOnlyMemory<byte> serviceId, string path, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(vat);
        ArgumentException.ThrowIfNullOrEmpty(path);
        var sturdyRef = vat.GetSturdyRef(serviceId.Span);
        // Writing a few bytes and flushing them to disk blocks: keep it off the caller's thread.
        await Task.Run(() => Save(path, sturdyRef), cancellationToken).ConfigureAwait(false);
        return sturdyRef;
    }

    /// <summary>
    /// Loads the sturdy ref in <paramref name="uriOrPath"/> (a cap file, or a <c>capnp://</c> URI)
    /// and connects <paramref name="vat"/> to the service it names (the seed's <c>Cap_file.load</c>
    /// followed by connecting): the client is yours to dispose.
    /// </summary>
    /// <exception cref="CapFileException">The cap file cannot be read or holds no valid URI.</exception>
    /// <exception cref="SturdyRefFormatException">The text looks like a URI but is not a valid one.</exception>
    public static async Task<TClient> LoadAsync<TClient>(Vat vat, string uriOrPath, CancellationToken cancellationToken = default)
        where TClient : Rpc.CapabilityClient, Rpc.ICapabilityClient<TClient>
    {
        ArgumentNullException.ThrowIfNull(vat);
        var sturdyRef = LoadUriOrFile(uriOrPath);
        return await vat.ConnectAsync<TClient>(sturdyRef, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// A sturdy ref given either as a <c>capnp://</c> URI or as the path of a cap file: text
    /// containing <c>://</c> is parsed as a URI, anything else is read as a cap file.
    /// </summary>
    /// <exception cref="SturdyRefFormatException">The text looks like a URI but is not a valid one.</exception>
    /// <exception cref="CapFileException">The cap file cannot be read or holds no valid URI.</exception>
    public static SturdyRef LoadUriOrFile(string uriOrPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(uriOrPath);
        return uriOrPath.Contains("://", StringComparison.Ordinal) ? SturdyRef.Parse(uriOrPath.Trim()) : Load(uriOrPath);
    }
}

/// <summary>
/// A cap file could not be read, or does not hold a valid <c>capnp://</c> URI. The message names
/// the file and the problem, never the file's contents.
/// </summary>
public sealed class CapFileException : Exception
{
    /// <summary>Creates the exception.</summary>
    public CapFileException(string path, SturdyRefProblem? uriProblem, string message, Exception? innerException = null)
        : base($"Cap file '{path}': {message}", innerException)
    {
        Path = path;
        UriProblem = uriProblem;
    }

    /// <summary>The cap file.</summary>
    public string Path { get; }

    /// <summary>What is wrong with the URI in the file; null when the file could not be read as text.</summary>
    public SturdyRefProblem? UriProblem { get; }
}
