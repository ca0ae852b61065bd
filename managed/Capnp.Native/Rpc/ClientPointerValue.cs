using Capnp.Native.Serialization;

namespace Capnp.Native.Rpc.Generated;

/// <summary>
/// Lets a generated capability client be the value of a generic parameter (<c>Box(Calc)</c> →
/// <c>Box&lt;Calc.Client&gt;</c>): generated code registers one per interface with
/// <see cref="PointerValue{T}.Register"/>. Reading gives a new reference (dispose it); writing stores a reference of the
/// message's own.
/// </summary>
/// <typeparam name="T">The generated client.</typeparam>
public sealed class ClientPointerValue<T> : IPointerValue<T?> where T : CapabilityClient, ICapabilityClient<T>
{
    /// <summary>The one instance generated code registers.</summary>
    public static readonly ClientPointerValue<T> Instance = new();

    private ClientPointerValue()
    {
    }

    /// <inheritdoc/>
    public T? Read(AnyPointerReader pointer) => CapabilityClient.FromCapTable<T>(pointer);

    /// <inheritdoc/>
    public void Write(AnyPointerBuilder pointer, T? value) => CapabilityClient.WriteToCapTable(pointer, value);
}
