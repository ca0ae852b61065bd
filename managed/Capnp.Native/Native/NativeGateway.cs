using System.Runtime.InteropServices;
using System.Text;
using Capnp.Native.Interop;

namespace Capnp.Native;

/// <summary>
/// The one internal gateway from the RPC layer to the native library: every call of the shim
/// made on behalf of capabilities, calls, servers, connections and listeners goes through here,
/// with safe signatures (SafeHandles, spans, strings) and the status→exception mapping of
/// <see cref="NativeStatus"/>. Handles are held (SafeHandle reference) for the duration of each
/// native call, so a concurrent dispose cannot release them while the shim reads them.
/// </summary>
internal static unsafe partial class NativeGateway
{
    /// <summary>Holds a SafeHandle for the duration of a native call.</summary>
    private ref struct Held
    {
        private readonly SafeHandle? handle;
        private bool added;

        public Held(SafeHandle? handle)
        {
            this.handle = handle;
            handle?.DangerousAddRef(ref added);
        }

        public readonly void Dispose()
        {
            if (added)
            {
                handle!.DangerousRelease();
            }
        }
    }

    /// <summary>Runs <paramref name="call"/> with <paramref name="text"/> encoded as UTF-8 and pinned.</summary>
    private static int WithUtf8(string text, Utf8Call call)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        fixed (byte* pointer = bytes)
        {
            return call(pointer, (nuint)bytes.Length);
        }
    }

    private delegate int Utf8Call(byte* text, nuint length);
}
