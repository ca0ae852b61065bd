using System.Net.Sockets;
using System.Runtime.InteropServices;
using Capnp.Native.Rpc;

namespace Capnp.Native.Tests.Rpc;

/// <summary>A unix listener replaces a stale socket file, never a live socket or another file, and removes its own.</summary>
public sealed partial class UnixSocketFileTests : IDisposable
{
    private const uint SocketFileMode = 0xC000 | 0x180; // S_IFSOCK | 0600

    private readonly string folder = Directory.CreateTempSubdirectory("capnp-unix-").FullName;

    private string SocketPath => Path.Combine(folder, "vat.sock");

    [Fact]
    public async Task AStaleSocketFileIsReplacedAndTheListenerRemovesItsOwnOnDispose()
    {
        // What a vat that died leaves: a socket file nobody accepts on.
        Assert.Equal(0, MakeNode(SocketPath, SocketFileMode, 0));
        Assert.True(File.Exists(SocketPath));
        await using var pair = await RpcPair.StartAsync($"unix:{SocketPath}");
        Assert.Equal("served", (await pair.TestService.EchoAsync("served").AsTask().WaitAsync(RpcPair.Bound)).Text);

        await pair.Listener.DisposeAsync();
        // Releases run on the loop in order with commands: once an echo is back, the listener is gone.
        await pair.ServerLoop.EchoAsync(new byte[] { 1 }).WaitAsync(RpcPair.Bound);

        Assert.False(File.Exists(SocketPath));
    }

    [Fact]
    public async Task ALiveSocketIsNotTaken()
    {
        using var live = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        live.Bind(new UnixDomainSocketEndPoint(SocketPath));
        live.Listen();
        await using var loop = EventLoop.Start();

        var error = await Assert.ThrowsAsync<RpcFailedException>(() => loop.ListenAsync($"unix:{SocketPath}").WaitAsync(RpcPair.Bound));

        Assert.Contains("another process is listening", error.Message);
        Assert.True(File.Exists(SocketPath));
    }

    [Fact]
    public async Task AFileThatIsNotASocketIsNeverRemoved()
    {
        File.WriteAllText(SocketPath, "precious");
        await using var loop = EventLoop.Start();

        var error = await Assert.ThrowsAsync<RpcFailedException>(() => loop.ListenAsync($"unix:{SocketPath}").WaitAsync(RpcPair.Bound));

        Assert.Contains("is not a socket", error.Message);
        Assert.Equal("precious", File.ReadAllText(SocketPath));
    }

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [LibraryImport("libc", EntryPoint = "mknod", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MakeNode(string path, uint mode, ulong device);
}
