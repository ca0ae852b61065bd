namespace Capnp.Native;

/// <summary>The Cap'n Proto exception types, as carried by every <see cref="RpcException"/>.</summary>
public enum RpcExceptionType
{
    /// <summary>Something went wrong; the generic failure.</summary>
    Failed = 1,

    /// <summary>The request was rejected because of a temporary lack of resources; retry later.</summary>
    Overloaded = 2,

    /// <summary>The connection to the capability's vat was lost.</summary>
    Disconnected = 3,

    /// <summary>The method or interface is not implemented by the receiver.</summary>
    Unimplemented = 4,
}
