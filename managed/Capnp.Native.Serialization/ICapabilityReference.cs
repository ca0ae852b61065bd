namespace Capnp.Native.Serialization;

/// <summary>
/// A cap-table entry that is a counted reference (e.g. a capability held by the RPC engine).
/// Copying a capability pointer from one message into another stores a new reference, made by
/// <see cref="DuplicateReference"/>, in the destination's cap table, so that each message owns
/// its own; entries that do not implement it are shared as they are.
/// </summary>
public interface ICapabilityReference
{
    /// <summary>A new, independent reference to the same capability.</summary>
    object DuplicateReference();
}
