using System.Text;
using Capnp.Native.Interop;

namespace Capnp.Native.Tests;

/// <summary>Managed wrappers over the shim's exported test hooks.</summary>
internal static unsafe class TestHooks
{
    public static void ThrowInShim(int kind, string message)
    {
        NativeRuntime.EnsureInitialized();
        var bytes = Encoding.UTF8.GetBytes(message);
        fixed (byte* text = bytes)
        {
            NativeStatus.ThrowIfFailed(NativeMethods.capnp_test_throw(kind, text, (nuint)bytes.Length));
        }
    }

    public static bool AllocationIsMapped(long size)
    {
        NativeRuntime.EnsureInitialized();
        int mapped;
        NativeStatus.ThrowIfFailed(NativeMethods.capnp_test_allocation_is_mapped((nuint)size, &mapped));
        return mapped != 0;
    }

    public static Task<bool> ThrowOnLoopAsync(EventLoop loop, int kind, string message)
    {
        var bytes = Encoding.UTF8.GetBytes(message);
        return loop.PostAsync(
            (pointer, tag) =>
            {
                fixed (byte* text = bytes)
                {
                    return NativeMethods.capnp_test_throw_on_loop(pointer, tag, kind, text, (nuint)bytes.Length);
                }
            },
            static _ => true);
    }

    public static Task<bool> HoldAsync(EventLoop loop) =>
        loop.PostAsync(static (pointer, tag) => NativeMethods.capnp_test_hold(pointer, tag), static _ => true);

    /// <summary>Makes an exception escape the loop's KJ event loop; the task fails as the loop dies.</summary>
    public static Task<bool> FailLoopThreadAsync(EventLoop loop) =>
        loop.PostAsync(static (pointer, tag) => NativeMethods.capnp_test_fail_loop_thread(pointer, tag), static _ => true);

    /// <summary>Echoes (producer, sequence); the loop thread appends the sequence to <paramref name="executionOrder"/>.</summary>
    public static Task<int> EchoSequenceAsync(EventLoop loop, int producer, int sequence, List<int> executionOrder)
    {
        var payload = stackalloc int[] { producer, sequence };
        var data = new ReadOnlySpan<byte>(payload, sizeof(int) * 2).ToArray();
        return loop.PostAsync(
            (pointer, tag) =>
            {
                fixed (byte* bytes = data)
                {
                    return NativeMethods.capnp_test_echo(pointer, tag, bytes, (nuint)data.Length);
                }
            },
            echoed =>
            {
                var echoedSequence = BitConverter.ToInt32(echoed[4..]);
                executionOrder.Add(echoedSequence); // one loop thread: no lock needed
                return echoedSequence;
            });
    }

    public static void ReleaseNullLoopAndEchoOnNull()
    {
        NativeMethods.capnp_loop_release(null); // a no-op by contract
        NativeStatus.ThrowIfFailed(NativeMethods.capnp_test_echo(null, 0, null, 0));
    }
}
