using System.Runtime.InteropServices;
using Capnp.Native.Interop;
using Capnp.Native.Serialization;

namespace Capnp.Native;

/// <summary>The events the shim completes a served object's tag with (values from capnp_native.h).</summary>
internal enum NativeEvent
{
    IncomingCall = (int)capnp_status.CAPNP_EVENT_INCOMING_CALL,
    CallCancelled = (int)capnp_status.CAPNP_EVENT_CALL_CANCELLED,
    ServerReleased = (int)capnp_status.CAPNP_EVENT_SERVER_RELEASED,
    Restore = (int)capnp_status.CAPNP_EVENT_RESTORE,
    RestorerReleased = (int)capnp_status.CAPNP_EVENT_RESTORER_RELEASED,
    Log = (int)capnp_status.CAPNP_EVENT_LOG,
}

/// <summary>An incoming call the shim handed over; answered exactly once (<see cref="NativeGateway.ReturnResults"/> or <see cref="NativeGateway.FailCall"/>).</summary>
internal readonly record struct NativeCall(IntPtr Handle);

/// <summary>The resolver of a promise capability; consumed exactly once (<see cref="NativeGateway.Resolve"/> or <see cref="NativeGateway.Reject"/>).</summary>
internal readonly record struct NativeResolver(IntPtr Handle);

/// <summary>
/// One completion the shim delivered to a tag, on the loop thread: a status (or event code) and
/// its payload, which is valid only during the callback. Everything that reads a payload's
/// native layout is here, so the code handling completions sees no pointers.
/// </summary>
internal readonly unsafe ref struct NativeCompletion
{
    private readonly byte* payload;
    private readonly nuint length;

    public NativeCompletion(int status, byte* payload, nuint length)
    {
        Status = status;
        this.payload = payload;
        this.length = length;
    }

    /// <summary>The status, or the event code for served objects.</summary>
    public int Status { get; }

    public bool Succeeded => Status == (int)capnp_status.CAPNP_STATUS_OK;

    public bool Cancelled => Status == (int)capnp_status.CAPNP_STATUS_CANCELLED;

    public NativeEvent Event => (NativeEvent)Status;

    public bool IsEmpty => length == 0;

    public ReadOnlySpan<byte> Payload => new(payload, checked((int)length));

    /// <summary>The exception for a failed completion (the payload holds the message).</summary>
    public Exception ToException() => NativeStatus.ToException(Status, NativeStatus.DecodeMessage(payload, length));

    /// <summary>The payload of a successful call completion: the results, adopted (see <see cref="IncomingMessage.Adopt"/>).</summary>
    public MessageReader AdoptResults(EventLoop loop, out MessageHandle? nativeMemory)
        => IncomingMessage.Adopt(loop, (capnp_message_view*)payload, out nativeMemory);

    /// <summary>The payload of <see cref="NativeEvent.IncomingCall"/>: the call and its adopted parameters.</summary>
    public IncomingCallEvent ReadIncomingCall()
    {
        var call = (capnp_incoming_call*)payload;
        var fingerprint = new ReadOnlySpan<byte>(call->caller_fingerprint, 32);
        return new IncomingCallEvent(new NativeCall((IntPtr)call->call), call->interface_id, call->method_id, (IntPtr)(&call->@params),
                                     call->caller, fingerprint);
    }

    /// <summary>The payload of <see cref="NativeEvent.CallCancelled"/>: which call.</summary>
    public NativeCall ReadCancelledCall() => new(MemoryMarshal.Read<IntPtr>(Payload));

    /// <summary>The payload of <see cref="NativeEvent.Restore"/>: the service ID (copied) and the resolver to answer with.</summary>
    public (byte[] ServiceId, NativeResolver Resolver) ReadRestoreRequest()
    {
        var request = MemoryMarshal.Read<capnp_restore_request>(Payload);
        var serviceId = new ReadOnlySpan<byte>(request.service_id, checked((int)request.service_id_len)).ToArray();
        return (serviceId, new NativeResolver((IntPtr)request.resolver));
    }
}

/// <summary>An incoming call as delivered; its parameters are adopted with <see cref="AdoptParameters"/> during the callback.</summary>
internal readonly unsafe ref struct IncomingCallEvent(NativeCall call, ulong interfaceId, ushort methodId, IntPtr parameters,
                                                      uint caller, ReadOnlySpan<byte> callerFingerprint)
{
    public NativeCall Call { get; } = call;

    public ulong InterfaceId { get; } = interfaceId;

    public ushort MethodId { get; } = methodId;

    /// <summary>Who made the call: 0 not known, 1 a peer without a key, 2 the peer whose key's fingerprint is <see cref="CallerFingerprint"/>.</summary>
    public uint Caller { get; } = caller;

    /// <summary>The SHA-256 fingerprint of the caller's key (meaningful when <see cref="Caller"/> is 2); valid during the callback.</summary>
    public ReadOnlySpan<byte> CallerFingerprint { get; } = callerFingerprint;

    public MessageReader AdoptParameters(EventLoop loop, out MessageHandle? nativeMemory)
        => IncomingMessage.Adopt(loop, (capnp_message_view*)parameters, out nativeMemory);
}
