using System.Text;
using Capnp.Native.Interop;

namespace Capnp.Native;

/// <summary>
/// The one table from native status codes to managed exceptions, used for synchronous failures
/// (read from the calling thread's error record) and asynchronous ones (message in the payload).
/// </summary>
internal static unsafe class NativeStatus
{
    /// <summary>Throws the exception for a failed synchronous call; does nothing on OK.</summary>
    public static void ThrowIfFailed(int status)
    {
        if (status != (int)capnp_status.CAPNP_STATUS_OK)
        {
            throw ToException(status, LastErrorMessage());
        }
    }

    // The engine prefixes failures that crossed a connection; callers get the message as thrown.
    private const string RemotePrefix = "remote exception: ";

    /// <summary>Maps a status and its message to the exception a caller should see.</summary>
    public static Exception ToException(int status, string message)
    {
        while (message.StartsWith(RemotePrefix, StringComparison.Ordinal))
        {
            message = message[RemotePrefix.Length..];
        }

        return Map(status, message);
    }

    private static Exception Map(int status, string message) => (capnp_status)status switch
    {
        capnp_status.CAPNP_STATUS_FAILED => RpcException.Create(RpcExceptionType.Failed, message),
        capnp_status.CAPNP_STATUS_OVERLOADED => RpcException.Create(RpcExceptionType.Overloaded, message),
        capnp_status.CAPNP_STATUS_DISCONNECTED => RpcException.Create(RpcExceptionType.Disconnected, message),
        capnp_status.CAPNP_STATUS_UNIMPLEMENTED => RpcException.Create(RpcExceptionType.Unimplemented, message),
        capnp_status.CAPNP_STATUS_INVALID_ARGUMENT => new ArgumentException(message),
        capnp_status.CAPNP_STATUS_DISPOSED => new ObjectDisposedException(nameof(EventLoop), message),
        capnp_status.CAPNP_STATUS_NOT_INITIALIZED => new InvalidOperationException(message),
        capnp_status.CAPNP_STATUS_LOOP_FAILED => new EventLoopFailedException(message),
        capnp_status.CAPNP_STATUS_AUTHENTICATION_FAILED => new PeerAuthenticationException(message),
        _ => new RpcFailedException($"unknown native status {status}: {message}"),
    };

    public static string DecodeMessage(byte* payload, nuint length) =>
        length == 0 ? string.Empty : Encoding.UTF8.GetString(payload, checked((int)length));

    private static string LastErrorMessage()
    {
        int kind;
        byte* message;
        nuint length;
        return NativeMethods.capnp_last_error(&kind, &message, &length) == (int)capnp_status.CAPNP_STATUS_OK
            ? DecodeMessage(message, length)
            : "(no error record)";
    }
}
