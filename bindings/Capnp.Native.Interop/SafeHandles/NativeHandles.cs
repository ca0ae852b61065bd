using System.Runtime.InteropServices;

namespace Capnp.Native.Interop;

/// <summary>
/// Base of the SafeHandles for the shim's released-by-function handles: each owns exactly one
/// native object and releases it exactly once, never while a P/Invoke is using it. The native
/// release functions only queue the destruction onto the object's loop, so they are safe from
/// the finalizer thread.
/// </summary>
internal abstract unsafe class NativeHandle<T> : SafeHandle where T : unmanaged
{
    /// <summary>Takes ownership of a pointer the shim returned.</summary>
    protected NativeHandle(T* pointer) : base(IntPtr.Zero, ownsHandle: true)
    {
        SetHandle((IntPtr)pointer);
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    public T* Pointer => (T*)handle;
}

/// <summary>Owns one <c>capnp_cap</c> reference.</summary>
internal sealed unsafe class CapHandle : NativeHandle<capnp_cap>
{
    public CapHandle(capnp_cap* cap) : base(cap)
    {
    }

    protected override bool ReleaseHandle()
    {
        NativeMethods.capnp_cap_release((capnp_cap*)handle);
        return true;
    }
}

/// <summary>Owns one <c>capnp_pipeline</c>.</summary>
internal sealed unsafe class PipelineHandle : NativeHandle<capnp_pipeline>
{
    public PipelineHandle(capnp_pipeline* pipeline) : base(pipeline)
    {
    }

    protected override bool ReleaseHandle()
    {
        NativeMethods.capnp_pipeline_release((capnp_pipeline*)handle);
        return true;
    }
}

/// <summary>
/// Owns one received <c>capnp_message</c> (plain memory, freed directly). Readers over it keep it
/// reachable, so it is freed only once no reader can touch it; its size counts towards the
/// memory pressure the collector hears of (<see cref="NativeMemoryPressure"/>), so that large
/// results left to the finalizer are still collected promptly.
/// </summary>
internal sealed unsafe class MessageHandle : NativeHandle<capnp_message>
{
    private readonly long size;
    private readonly long reportedPressure;

    public MessageHandle(capnp_message* message, long sizeInBytes) : base(message)
    {
        size = sizeInBytes;
        reportedPressure = NativeMemoryPressure.Add(size);
    }

    protected override bool ReleaseHandle()
    {
        NativeMethods.capnp_message_release((capnp_message*)handle);
        NativeMemoryPressure.Remove(size, reportedPressure);
        return true;
    }
}

/// <summary>Owns one <c>capnp_connection</c>; releasing it closes the connection.</summary>
internal sealed unsafe class ConnectionHandle : NativeHandle<capnp_connection>
{
    public ConnectionHandle(capnp_connection* connection) : base(connection)
    {
    }

    protected override bool ReleaseHandle()
    {
        NativeMethods.capnp_connection_release((capnp_connection*)handle);
        return true;
    }
}

/// <summary>Owns one <c>capnp_listener</c>; releasing it stops listening.</summary>
internal sealed unsafe class ListenerHandle : NativeHandle<capnp_listener>
{
    public ListenerHandle(capnp_listener* listener) : base(listener)
    {
    }

    protected override bool ReleaseHandle()
    {
        NativeMethods.capnp_listener_release((capnp_listener*)handle);
        return true;
    }
}

/// <summary>Owns one <c>capnp_tls_identity</c> reference (listeners and connections keep their own).</summary>
internal sealed unsafe class TlsIdentityHandle : NativeHandle<capnp_tls_identity>
{
    public TlsIdentityHandle(capnp_tls_identity* identity) : base(identity)
    {
    }

    protected override bool ReleaseHandle()
    {
        NativeMethods.capnp_tls_identity_release((capnp_tls_identity*)handle);
        return true;
    }
}
