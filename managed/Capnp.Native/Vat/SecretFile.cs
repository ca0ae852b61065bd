using System.Security.Cryptography;

namespace Capnp.Native;

/// <summary>
/// Writes files that hold secrets (keys, cap files): created with mode 0600 from the first
/// byte (never world-readable, even briefly), written to a temporary file beside the target,
/// flushed to disk, then renamed into place, so a reader sees either no file or the whole file.
/// </summary>
internal static class SecretFile
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>
    /// Writes <paramref name="contents"/> to <paramref name="path"/> atomically. With
    /// <paramref name="replace"/> false an existing file is never replaced: the method returns
    /// false and leaves both the file and the directory as they were.
    /// </summary>
    public static bool WriteAtomically(string path, ReadOnlySpan<byte> contents, bool replace)
    {
        var fullPath = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(fullPath) ?? throw new IOException($"'{fullPath}' has no parent folder.");
        var temporary = Path.Combine(directory,
            $".{Path.GetFileName(fullPath)}.{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8))}.tmp");
        try
        {
            var options = new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                Share = FileShare.None,
            };
            if (!OperatingSystem.IsWindows())
                options.UnixCreateMode = OwnerOnly;
            using (var stream = new FileStream(temporary, options))
            {
                // The umask can only remove bits from 0600; set it exactly anyway.
                if (!OperatingSystem.IsWindows())
                    File.SetUnixFileMode(stream.SafeFileHandle, OwnerOnly);
                stream.Write(contents);
                stream.Flush(flushToDisk: true);
            }
            if (replace)
            {
                File.Move(temporary, fullPath, overwrite: true);
            }
            else
            {
                try
                {
                    // Without overwrite this fails when the target exists, also when it appeared
                    // after any check we could have made.
                    File.Move(temporary, fullPath, overwrite: false);
                }
                catch (IOException) when (File.Exists(fullPath) || Directory.Exists(fullPath))
                {
                    return false;
                }
            }
            return true;
        }
        finally
        {
            if (File.Exists(temporary))
                File.Delete(temporary);
        }
    }
}
