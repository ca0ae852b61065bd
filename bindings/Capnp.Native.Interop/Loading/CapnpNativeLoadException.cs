namespace Capnp.Native;

/// <summary>
/// The native library libcapnp_native could not be loaded: it was not found, it failed to load,
/// or it was built for a different ABI version than this managed assembly.
/// </summary>
public sealed class CapnpNativeLoadException : Exception
{
    /// <summary>Creates the exception with a message that says what was tried and how to fix it.</summary>
    public CapnpNativeLoadException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}
