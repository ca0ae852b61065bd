using System.Runtime.InteropServices;

namespace Capnp.Native.Interop;

/// <summary>
/// Owns one native <c>capnp_loop</c>. Releasing it stops the loop, fails whatever is pending with
/// CAPNP_STATUS_DISPOSED and joins the loop thread; the SafeHandle guarantees that this happens
/// exactly once and never while a P/Invoke is using the handle.
/// </summary>
internal sealed unsafe class LoopHandle : SafeHandle
{
    public LoopHandle() : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    public capnp_loop* Pointer => (capnp_loop*)handle;

    /// <summary>Takes ownership of a pointer returned by capnp_loop_create.</summary>
    public static LoopHandle FromCreated(capnp_loop* loop)
    {
        var owner = new LoopHandle();
        owner.SetHandle((IntPtr)loop);
        return owner;
    }

    protected override bool ReleaseHandle()
    {
        NativeMethods.capnp_loop_release((capnp_loop*)handle);
        return true;
    }
}
