namespace Capnp.Native.Examples.Tests;

/// <summary>A new empty folder for an example to run in (it writes cap files and keys there), deleted afterwards.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder()
    {
        Path = Directory.CreateTempSubdirectory("capnp-example-").FullName;
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A process still writing there; the folder is in /tmp.
        }
    }
}
