using Capnp.Native.Interop;
using Capnp.Native.Rpc.Generated;
using Capnp.Native.Serialization;

namespace Capnp.Native.Rpc;

/// <summary>
/// A reference to a capability held by the C++ engine: remote, a promise, or one of our servers
/// exported through an event loop. Calls go through the engine, in E-order, with promise
/// pipelining. Dispose it when done; an undisposed reference that was used through a client is
/// reported to <see cref="LeakTracker"/> (naming the client type) and released by its finalizer.
/// </summary>
internal sealed class NativeCapability : IPipeliningCallTarget, IDisposable, IDescribedTarget, IBreakableTarget, ICapabilityReference
{
    private readonly object watchGate = new();
    private Type? clientType;
    private int disposed;

    // Cancelled on Dispose, ending the breakage watches (each holds the capability natively).
    private CancellationTokenSource? watches;

    internal NativeCapability(EventLoop loop, CapHandle handle)
    {
        Loop = loop;
        Handle = handle;
    }

    /// <summary>Releases a reference nobody disposed (and reports it if it was used through a client).</summary>
    ~NativeCapability()
    {
        if (Volatile.Read(ref disposed) == 0)
        {
            // A capability nobody took out of a message is the message's to drop, not a leak.
            if (clientType is not null)
            {
                LeakTracker.Report($"a capability reference ({clientType.FullName}) was not disposed; released by the finalizer");
            }

            Handle.Dispose();
        }
    }

    /// <summary>The event loop the reference lives on.</summary>
    public EventLoop Loop { get; }

    /// <summary>The native reference (for the gateway and for messages carrying it).</summary>
    internal CapHandle Handle { get; }

    /// <summary>The native reference, or <see cref="ObjectDisposedException"/> once this reference is disposed.</summary>
    internal CapHandle LiveHandle
    {
        get
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);
            return Handle;
        }
    }

    /// <inheritdoc/>
    public void DescribeAs(Type clientType) => this.clientType ??= clientType;

    /// <inheritdoc/>
    public Task<MessageReader> CallAsync(ulong interfaceId, ushort methodId, MessageBuilder parameters, CancellationToken cancellationToken)
        => Call(interfaceId, methodId, parameters, cancellationToken).Result;

    /// <inheritdoc/>
    public PromisedAnswer Call(ulong interfaceId, ushort methodId, MessageBuilder parameters, CancellationToken cancellationToken, bool pipelined = true)
    {
        var call = new OutgoingCall(this, parameters, cancellationToken);
        call.Send(interfaceId, methodId, streaming: false, pipelined);
        return new NativeAnswer(call);
    }

    /// <inheritdoc/>
    public Task StreamAsync(ulong interfaceId, ushort methodId, MessageBuilder parameters, CancellationToken cancellationToken)
    {
        var call = new OutgoingCall(this, parameters, cancellationToken);
        call.Send(interfaceId, methodId, streaming: true, pipelined: false);
        return call.Task;
    }

    /// <summary>A second, independent reference to the same capability.</summary>
    public NativeCapability Duplicate() => new(Loop, NativeGateway.Duplicate(LiveHandle));

    /// <inheritdoc/>
    object ICapabilityReference.DuplicateReference() => Duplicate();

    /// <summary>
    /// Completes when the capability has resolved to its final target (a promise capability
    /// resolving, e.g. a bootstrap); fails with the reason if it is broken.
    /// </summary>
    public Task WhenResolvedAsync(CancellationToken cancellationToken = default)
        => NativeGateway.WhenResolvedAsync(Loop, LiveHandle, cancellationToken);

    /// <summary>Resolves a promise capability's resolver (consuming it) to this capability.</summary>
    internal void Resolve(NativeResolver resolver) => NativeGateway.Resolve(resolver, LiveHandle);

    /// <inheritdoc/>
    public Task<RpcException> WhenBrokenAsync(CancellationToken cancellationToken = default)
    {
        CancellationTokenSource watch;
        lock (watchGate)
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);
            watches ??= new CancellationTokenSource();
            watch = CancellationTokenSource.CreateLinkedTokenSource(watches.Token, cancellationToken);
        }

        try
        {
            var watching = NativeGateway.WhenBrokenAsync(Loop, LiveHandle, watch.Token);
            return BreakageWatch.ReasonAsync(watching, watch);
        }
        catch
        {
            watch.Dispose();
            throw;
        }
    }

    /// <summary>Releases this reference (the capability lives on while other references exist).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) == 0)
        {
            lock (watchGate)
            {
                watches?.Cancel();
                watches?.Dispose();
            }

            Handle.Dispose();
            GC.SuppressFinalize(this);
        }
    }
}
