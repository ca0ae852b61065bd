namespace Capnp.Native.Persistence.Tests;

/// <summary>The suite on <see cref="FileServiceStore"/>, plus its hostile-name checks.</summary>
public sealed class FileStoreTests : ServiceStoreSuite
{
    private readonly string root = Path.Combine(Path.GetTempPath(), "capnp-store-tests-" + Guid.NewGuid().ToString("N"));

    protected override string Kind => Stores.File;

    protected override string Location => Path.Combine(root, "store");

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        Directory.Delete(root, recursive: true);
    }

    public override Task InitializeAsync()
    {
        Directory.CreateDirectory(root);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task FilesAreNamedByDigestPrivateAndNothingIsWrittenOutsideTheFolder()
    {
        var store = (FileServiceStore)await OpenAsync();
        var digest = ServiceDigest.Of("x"u8);
        await store.SaveAsync(digest, "data"u8.ToArray());

        Assert.Equal([digest.ToString()], Directory.GetFiles(store.Folder).Select(Path.GetFileName));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(store.GetPath(digest)));

        // Hostile digests cannot even be made: the text form refuses anything but 43 base64url characters.
        foreach (var hostile in new[] { "../../outside", "/etc/passwd", "..", new string('.', 43), "a/" + new string('A', 41) })
            Assert.Throws<FormatException>(() => ServiceDigest.Parse(hostile));
        await Assert.ThrowsAsync<ArgumentNullException>(() => store.LoadAsync(null!).AsTask());

        // A symbolic link planted under an entry's name is replaced by a save, never written through, and never loaded.
        var outside = Path.Combine(root, "outside");
        await File.WriteAllTextAsync(outside, "untouched");
        var planted = ServiceDigest.Of("planted"u8);
        File.CreateSymbolicLink(store.GetPath(planted), outside);
        await Assert.ThrowsAsync<ServiceStoreException>(() => store.LoadAsync(planted).AsTask());
        await store.SaveAsync(planted, "inside"u8.ToArray());
        Assert.Equal("untouched", await File.ReadAllTextAsync(outside));
        Assert.Equal("inside"u8.ToArray(), await store.LoadAsync(planted));
        Assert.Null(new FileInfo(store.GetPath(planted)).LinkTarget);

        // No temporary files are left behind, and nothing else appeared beside the folder.
        Assert.All(Directory.GetFiles(store.Folder), f => Assert.False(Path.GetFileName(f).StartsWith('.')));
        Assert.Equal(["outside", "store"], Directory.GetFileSystemEntries(root).Select(Path.GetFileName).Order());
    }
}
