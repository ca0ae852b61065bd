namespace Capnp.Native.Rpc;

/// <summary>Turns a native breakage watch (which only ever fails, with the reason) into the reason.</summary>
internal static class BreakageWatch
{
    public static async Task<RpcException> ReasonAsync(Task watching, IDisposable cancellation)
    {
        using (cancellation)
        {
            try
            {
                await watching.ConfigureAwait(false);
            }
            catch (RpcException reason)
            {
                return reason;
            }
        }

        throw new InvalidOperationException("The capability watch ended without a reason.");
    }
}
