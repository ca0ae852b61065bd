using System.Text;
using Capnp.Native;

namespace Capnp.Native.Tests.Vat;

public class CapFileTests : IDisposable
{
    private const string Uri = "capnp://sha-256:3Tj5y5Q2qpqN3Sbh0GRPxgORZw98_NtrU2nLI0-Tn6g@127.0.0.1:7000/bWFpbg";
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Theory]
    [InlineData(Uri)]
    [InlineData("capnp://insecure@[::1]:7000")]
    [InlineData("capnp://insecure@/tmp/vat.sock/")]
    [InlineData("capnp://insecure@/tmp/vat.sock/bWFpbg")]
    public void Saves_the_uri_and_a_newline_owner_only_and_loads_it_back(string uri)
    {
        var path = _folder.File("echo.cap");
        var sturdyRef = SturdyRef.Parse(uri);

        CapFile.Save(path, sturdyRef);

        Assert.Equal(uri + "\n", File.ReadAllText(path));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.Equal(sturdyRef, CapFile.Load(path));
        Assert.Single(Directory.GetFileSystemEntries(_folder.Path));
    }

    [Fact]
    public void Saving_replaces_an_existing_file_and_its_wider_mode()
    {
        var path = _folder.File("echo.cap");
        File.WriteAllText(path, "old contents that are longer than the new URI, to catch a partial overwrite ..................................................");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        CapFile.Save(path, SturdyRef.Parse(Uri));

        Assert.Equal(Uri + "\n", File.ReadAllText(path));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
    }

    [Theory]
    [InlineData(Uri)]
    [InlineData("  \n" + Uri + "\r\n\t \n")]
    [InlineData("\uFEFF" + Uri + "\n")]
    public void Loading_ignores_surrounding_whitespace(string contents)
    {
        var path = _folder.File("echo.cap");
        File.WriteAllText(path, contents);
        Assert.Equal(SturdyRef.Parse(Uri), CapFile.Load(path));
    }

    [Theory]
    [InlineData("", SturdyRefProblem.Empty)]
    [InlineData(" \n ", SturdyRefProblem.Empty)]
    [InlineData("bWFpbg\n", SturdyRefProblem.MissingScheme)]
    [InlineData("https://example.org/bWFpbg\n", SturdyRefProblem.UnknownScheme)]
    [InlineData("capnp://insecure@localhost/bWFpbg\n", SturdyRefProblem.MissingPort)]
    [InlineData(Uri + "\n" + Uri + "\n", SturdyRefProblem.BadServiceId)]
    public void Bad_content_is_a_typed_error_naming_the_file_but_not_the_secret(string contents, SturdyRefProblem problem)
    {
        var path = _folder.File("bad.cap");
        File.WriteAllText(path, contents);

        var error = Assert.Throws<CapFileException>(() => CapFile.Load(path));

        Assert.Equal(problem, error.UriProblem);
        Assert.Equal(path, error.Path);
        Assert.Contains(path, error.Message);
        Assert.DoesNotContain("bWFpbg", error.Message);
        Assert.Equal(problem, Assert.IsType<SturdyRefFormatException>(error.InnerException).Problem);
    }

    [Fact]
    public void A_missing_or_non_text_file_is_a_typed_error()
    {
        var missing = Assert.Throws<CapFileException>(() => CapFile.Load(_folder.File("missing.cap")));
        Assert.Null(missing.UriProblem);
        Assert.IsType<FileNotFoundException>(missing.InnerException);

        var binary = _folder.File("binary.cap");
        File.WriteAllBytes(binary, [0xff, 0xfe, 0xfd]);
        Assert.Null(Assert.Throws<CapFileException>(() => CapFile.Load(binary)).UriProblem);
    }

    [Fact]
    public void Saving_into_a_missing_folder_fails_and_writes_nothing()
    {
        var path = Path.Combine(_folder.Path, "no-such-folder", "echo.cap");
        Assert.ThrowsAny<IOException>(() => CapFile.Save(path, SturdyRef.Parse(Uri)));
        Assert.Empty(Directory.GetFileSystemEntries(_folder.Path));
    }

    [Fact]
    public void A_failed_save_leaves_no_temporary_file()
    {
        var path = _folder.File("occupied.cap");
        Directory.CreateDirectory(path);
        File.WriteAllText(Path.Combine(path, "inside"), "x");

        Assert.ThrowsAny<IOException>(() => CapFile.Save(path, SturdyRef.Parse(Uri)));

        Assert.Equal([path], Directory.GetFileSystemEntries(_folder.Path));
        Assert.Equal("x", File.ReadAllText(Path.Combine(path, "inside")));
    }

    [Fact]
    public void LoadUriOrFile_takes_either()
    {
        var path = _folder.File("echo.cap");
        CapFile.Save(path, SturdyRef.Parse(Uri));
        Assert.Equal(SturdyRef.Parse(Uri), CapFile.LoadUriOrFile(path));
        Assert.Equal(SturdyRef.Parse(Uri), CapFile.LoadUriOrFile(Uri));
        Assert.Equal(SturdyRefProblem.UnknownScheme,
            Assert.Throws<SturdyRefFormatException>(() => CapFile.LoadUriOrFile("http://x@y:1/")).Problem);
        Assert.Throws<CapFileException>(() => CapFile.LoadUriOrFile(_folder.File("nope.cap")));
    }
}
