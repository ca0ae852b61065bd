using Capnp.Native.Interop;

namespace Capnp.Native.Tests;

/// <summary>Reads the shim's live-object counters through its test hook.</summary>
internal static unsafe class NativeCounters
{
    public static capnp_counters Read()
    {
        NativeRuntime.EnsureInitialized();
        capnp_counters counters;
        Assert.Equal(0, NativeMethods.capnp_counters_read(&counters));
        return counters;
    }

    public static long CurrentThreadId()
    {
        long id;
        Assert.Equal(0, NativeMethods.capnp_test_current_thread_id(&id));
        return id;
    }

    public static long LoopThreadId(EventLoop loop)
    {
        var handle = loop.LiveHandle;
        var added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            long id;
            Assert.Equal(0, NativeMethods.capnp_test_loop_thread_id(handle.Pointer, &id));
            return id;
        }
        finally
        {
            handle.DangerousRelease();
        }
    }
}
