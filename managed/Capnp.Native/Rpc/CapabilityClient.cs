using System.ComponentModel;
using Capnp.Native.Rpc.Generated;
using Capnp.Native.Serialization;

namespace Capnp.Native.Rpc;

/// <summary>Implemented by generated client proxies.</summary>
public interface ICapabilityClient<TSelf> where TSelf : CapabilityClient, ICapabilityClient<TSelf>
{
    /// <summary>Wraps a call target.</summary>
    static abstract TSelf Create(ICallTarget target);
}

/// <summary>
/// Base class of generated client proxies: a typed view of a call target. Disposing the client
/// releases the capability reference it wraps.
/// </summary>
public abstract class CapabilityClient : IDisposable
{
    /// <summary>Wraps <paramref name="target"/>.</summary>
    protected CapabilityClient(ICallTarget target)
    {
        Target = target ?? throw new ArgumentNullException(nameof(target));
        if (target is IDescribedTarget described)
        {
            described.DescribeAs(GetType());
        }
    }

    /// <summary>Where calls go.</summary>
    public ICallTarget Target { get; }

    /// <summary>Releases the capability.</summary>
    public void Dispose() => Target.Release();

    /// <summary>
    /// Completes with the reason once the capability is broken (its connection lost, or a
    /// promise of it rejected): calls on it then fail with that exception. An in-process object
    /// never breaks, so the task completes only by cancellation. Cancelled when
    /// <paramref name="cancellationToken"/> is, or when this client is disposed.
    /// </summary>
    public Task<RpcException> WhenBrokenAsync(CancellationToken cancellationToken = default)
        => Target is IBreakableTarget breakable ? breakable.WhenBrokenAsync(cancellationToken) : NeverBrokenAsync(cancellationToken);

    internal static async Task<RpcException> NeverBrokenAsync(CancellationToken cancellationToken)
    {
        await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
        throw new InvalidOperationException("An infinite delay ended.");
    }

    /// <summary>
    /// Reads a capability field (generated readers call it): looks its index up in the message's
    /// cap table. As in C++, the caller gets a reference of its own (dispose it); the message
    /// keeps its own.
    /// </summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public static T? FromCapTable<T>(StructReader reader, int pointerIndex) where T : CapabilityClient, ICapabilityClient<T>
        => FromCapTable<T>(reader.ReadCapabilityIndex(pointerIndex), reader.MessageReader?.CapTable);

    /// <summary>
    /// Writes a capability field (generated builders call it): appends a reference to the client's capability to the message's
    /// cap table, which owns it (the caller keeps and still disposes its own).
    /// </summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public static void WriteToCapTable(StructBuilder builder, int pointerIndex, CapabilityClient? client)
    {
        if (client is null)
        {
            builder.ClearPointer(pointerIndex);
            return;
        }

        builder.WriteCapabilityIndex(pointerIndex, AddToCapTable(builder.MessageBuilder.CapTable, client));
    }

    /// <summary>
    /// Reads a capability held in a pointer whose schema type is a generic parameter (<c>Box(Calc).value</c>); the caller
    /// gets a reference of its own, as with <see cref="FromCapTable{T}(StructReader, int)"/>.
    /// </summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public static T? FromCapTable<T>(AnyPointerReader pointer) where T : CapabilityClient, ICapabilityClient<T>
        => FromCapTable<T>(pointer.AsCapabilityIndex(), pointer.Message?.CapTable);

    /// <summary>Writes a capability to a pointer whose schema type is a generic parameter; the message's cap table gets its own reference.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public static void WriteToCapTable(AnyPointerBuilder pointer, CapabilityClient? client)
    {
        if (client is null)
        {
            pointer.Clear();
            return;
        }

        pointer.SetCapabilityIndex(AddToCapTable(pointer.Message.CapTable, client));
    }

    // A client of the cap-table entry at index, with a reference of its own; null for a null or dangling index.
    private static T? FromCapTable<T>(uint? index, IReadOnlyList<object?>? table) where T : CapabilityClient, ICapabilityClient<T>
    {
        if (index is not uint capIndex || table is null || capIndex >= table.Count)
        {
            return null;
        }

        return table[(int)capIndex] switch
        {
            CapabilityClient client => T.Create(NewReference(client.Target)),
            ICallTarget target => T.Create(NewReference(target)),
            _ => null,
        };
    }

    // Appends a reference of the message's own and returns its index.
    private static uint AddToCapTable(IList<object?> table, CapabilityClient client)
    {
        table.Add(NewReference(client.Target));
        return (uint)(table.Count - 1);
    }

    // Counted references (engine capabilities) get a new reference per holder; managed targets
    // are shared. The same rule as copying a capability between messages.
    internal static ICallTarget NewReference(ICallTarget target)
        => target is ICapabilityReference counted ? (ICallTarget)counted.DuplicateReference() : target;

    /// <summary>
    /// Sends a call (generated methods use it); pipelines through the target when it supports it.
    /// Generated code passes <paramref name="pipelined"/> false when the results hold no capability.
    /// </summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected PromisedAnswer InvokeMethod(ulong interfaceId, ushort methodId, MessageBuilder parameters, CancellationToken cancellationToken, bool pipelined = true)
        => Target is IPipeliningCallTarget pipelining
            ? pipelining.Call(interfaceId, methodId, parameters, cancellationToken, pipelined)
            : new PromisedAnswer(Target.CallAsync(interfaceId, methodId, parameters, cancellationToken));

    /// <summary>Sends a call to a streaming method (flow-controlled; see <see cref="ICallTarget.StreamAsync"/>).</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected Task InvokeStreamingMethod(ulong interfaceId, ushort methodId, MessageBuilder parameters, CancellationToken cancellationToken)
        => Target.StreamAsync(interfaceId, methodId, parameters, cancellationToken);
}

/// <summary>A capability of unknown interface (AnyPointer capability fields, bootstrap before casting).</summary>
public sealed class BareClient : CapabilityClient, ICapabilityClient<BareClient>
{
    /// <summary>Wraps a call target.</summary>
    public BareClient(ICallTarget target) : base(target)
    {
    }

    /// <inheritdoc/>
    public static BareClient Create(ICallTarget target) => new(target);
}

/// <summary>A call target that wants to know the client type it is used as (for leak reports).</summary>
internal interface IDescribedTarget
{
    /// <summary>Records the client type wrapping this target.</summary>
    void DescribeAs(Type clientType);
}

/// <summary>Operations on every generated client.</summary>
public static class CapabilityClientExtensions
{
    /// <summary>
    /// A new reference to the same capability, released independently of
    /// <paramref name="client"/>: give it to code that disposes what it gets (e.g. return it from
    /// <see cref="IRestorer.RestoreAsync"/> while keeping yours). For a server object called in
    /// process it is a new client of the same object.
    /// </summary>
    public static TClient Duplicate<TClient>(this TClient client) where TClient : CapabilityClient, ICapabilityClient<TClient>
    {
        ArgumentNullException.ThrowIfNull(client);
        return TClient.Create(CapabilityClient.NewReference(client.Target));
    }
}
