namespace Capnp.Native;

/// <summary>
/// A Cap'n Proto exception: raised by the engine, by a remote vat, or by a C# server. The
/// subclass and <see cref="Type"/> say which of the four Cap'n Proto types it is; the same type
/// and message arrive at the other side of a call.
/// </summary>
public class RpcException : Exception
{
    /// <summary>Creates an exception of the given type.</summary>
    public RpcException(RpcExceptionType type, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Type = type;
    }

    /// <summary>The Cap'n Proto exception type.</summary>
    public RpcExceptionType Type { get; }

    /// <summary>Creates the subclass that matches <paramref name="type"/>.</summary>
    public static RpcException Create(RpcExceptionType type, string message) => type switch
    {
        RpcExceptionType.Overloaded => new RpcOverloadedException(message),
        RpcExceptionType.Disconnected => new RpcDisconnectedException(message),
        RpcExceptionType.Unimplemented => new RpcUnimplementedException(message),
        _ => new RpcFailedException(message),
    };
}

/// <summary>The generic Cap'n Proto failure (type <see cref="RpcExceptionType.Failed"/>).</summary>
public sealed class RpcFailedException(string message, Exception? innerException = null)
    : RpcException(RpcExceptionType.Failed, message, innerException);

/// <summary>A temporary lack of resources (type <see cref="RpcExceptionType.Overloaded"/>).</summary>
public sealed class RpcOverloadedException(string message, Exception? innerException = null)
    : RpcException(RpcExceptionType.Overloaded, message, innerException);

/// <summary>The connection was lost (type <see cref="RpcExceptionType.Disconnected"/>).</summary>
public sealed class RpcDisconnectedException(string message, Exception? innerException = null)
    : RpcException(RpcExceptionType.Disconnected, message, innerException);

/// <summary>The method or interface is not implemented (type <see cref="RpcExceptionType.Unimplemented"/>).</summary>
public sealed class RpcUnimplementedException(string message, Exception? innerException = null)
    : RpcException(RpcExceptionType.Unimplemented, message, innerException);

/// <summary>
/// The event loop's native thread failed (an exception escaped the Cap'n Proto event loop): the
/// loop has failed all its pending work with this exception and refuses new work. Its
/// connections are gone; <see cref="EventLoop.Completion"/> faults with it.
/// </summary>
public sealed class EventLoopFailedException(string message, Exception? innerException = null)
    : RpcException(RpcExceptionType.Failed, message, innerException);

/// <summary>
/// TLS authentication failed: the server's key is not the one its sturdy ref names (a different
/// vat, or someone in between), or a client without a certificate met a vat that requires one.
/// </summary>
public sealed class PeerAuthenticationException(string message, Exception? innerException = null)
    : RpcException(RpcExceptionType.Failed, message, innerException);
