using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Capnp.Native.Persistence;

/// <summary>
/// A <see cref="IServiceStore"/> that keeps one file per service in a folder (the seed's
/// <c>File_store</c>): the file name is the digest's base64url text (43 characters from
/// <c>A–Z a–z 0–9 - _</c>, so never a path), files are created with mode 0600, and a save writes a
/// temporary file in the same folder, flushes it to disk, renames it over the entry and flushes
/// the folder, so a crash leaves the old entry or the new one. Nothing is written outside the
/// folder: a symbolic link planted under an entry's name is replaced, never followed, and loading
/// one fails. Suits one process; for several, prefer SQLite or PostgreSQL.
/// </summary>
public sealed partial class FileServiceStore : IServiceStore
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Opens (creating it with mode 0700 when missing) the store in <paramref name="folder"/>.</summary>
    /// <exception cref="ServiceStoreException">The folder cannot be created, or the path is not a folder.</exception>
    public FileServiceStore(string folder)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        Folder = Path.GetFullPath(folder);
        try
        {
            if (File.Exists(Folder))
                throw new ServiceStoreException($"Service store '{Folder}' is a file, not a folder.");
            if (!Directory.Exists(Folder))
            {
                if (OperatingSystem.IsWindows())
                    Directory.CreateDirectory(Folder);
                else
                    Directory.CreateDirectory(Folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ServiceStoreException($"Service store '{Folder}' cannot be created: {e.Message}", e);
        }
    }

    /// <summary>The store's folder (absolute).</summary>
    public string Folder { get; }

    /// <summary>The file that holds <paramref name="digest"/>'s entry (whether or not it exists).</summary>
    public string GetPath(ServiceDigest digest)
    {
        ArgumentNullException.ThrowIfNull(digest);
        return PathOf(digest.ToString());
    }

    private string PathOf(string name)
    {
        // ServiceDigest only ever formats to 43 base64url characters; check anyway, so that no
        // name can reach outside the folder whatever produced it.
        if (name.Length != ServiceDigest.TextLength || !ServiceDigest.TryParse(name, out _))
            throw new ArgumentException("A service digest's file name is 43 base64url characters.", nameof(name));
        var path = Path.Join(Folder, name);
        if (!string.Equals(Path.GetDirectoryName(path), Folder.TrimEnd(Path.DirectorySeparatorChar), StringComparison.Ordinal))
            throw new ArgumentException("A service digest's file name must stay inside the store's folder.", nameof(name));
        return path;
    }

    /// <inheritdoc />
    public async ValueTask SaveAsync(ServiceDigest digest, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        var path = GetPath(digest);
        var temporary = Path.Join(Folder, $".{digest}.{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8))}.tmp");
        try
        {
            var options = new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                Share = FileShare.None,
                Options = FileOptions.Asynchronous,
            };
            if (!OperatingSystem.IsWindows())
                options.UnixCreateMode = OwnerOnly;
            await using (var stream = new FileStream(temporary, options))
            {
                await stream.WriteAsync(data, cancellationToken).ConfigureAwait(false);
                stream.Flush(flushToDisk: true);
            }

            // rename(2) replaces the name atomically; a symbolic link there is replaced, not followed.
            File.Move(temporary, path, overwrite: true);
            SyncFolder();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ServiceStoreException($"Service store '{Folder}': cannot save {digest}: {e.Message}", e);
        }
        finally
        {
            if (File.Exists(temporary))
                File.Delete(temporary);
        }
    }

    /// <inheritdoc />
    public async ValueTask<byte[]?> LoadAsync(ServiceDigest digest, CancellationToken cancellationToken = default)
    {
        var path = GetPath(digest);
        try
        {
            var info = new FileInfo(path);
            if (info.LinkTarget is not null)
                throw new ServiceStoreException($"Service store '{Folder}': the entry {digest} is a symbolic link, which this store never writes.");
            if (!info.Exists)
                return null;
            return await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ServiceStoreException($"Service store '{Folder}': cannot load {digest}: {e.Message}", e);
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> RemoveAsync(ServiceDigest digest, CancellationToken cancellationToken = default)
    {
        var path = GetPath(digest);
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists && info.LinkTarget is null)
                return ValueTask.FromResult(false);
            File.Delete(path);
            SyncFolder();
            return ValueTask.FromResult(true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ServiceStoreException($"Service store '{Folder}': cannot remove {digest}: {e.Message}", e);
        }
    }

    // Makes the rename or unlink itself durable (the folder's entry), not only the file's bytes.
    private void SyncFolder()
    {
        if (!OperatingSystem.IsLinux())
            return;
        var fd = Open(Folder, OReadOnly | OCloseOnExec);
        if (fd < 0)
            throw new IOException($"open('{Folder}') failed: errno {Marshal.GetLastPInvokeError()}");
        try
        {
            if (Fsync(fd) != 0)
                throw new IOException($"fsync('{Folder}') failed: errno {Marshal.GetLastPInvokeError()}");
        }
        finally
        {
            _ = Close(fd);
        }
    }

    private const int OReadOnly = 0;
    private const int OCloseOnExec = 0x80000; // Linux, every architecture .NET runs on

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
