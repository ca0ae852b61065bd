using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;

namespace Capnp.Native.Rpc;

/// <summary>
/// Counts the native exports of each server, and runs its release hook when the last one is
/// released by the engine (every reference anywhere dropped).
/// </summary>
internal static class ServerExports
{
    private static readonly ConditionalWeakTable<CapabilityServer, StrongBox<int>> Counts = new();

    public static void Exported(CapabilityServer server)
    {
        var count = Counts.GetOrCreateValue(server);
        Interlocked.Increment(ref count.Value);
    }

    /// <summary>Whether the engine holds at least one export of <paramref name="server"/> now.</summary>
    public static bool IsExported(CapabilityServer server) => Counts.TryGetValue(server, out var count) && Volatile.Read(ref count.Value) > 0;

    /// <summary>Runs a server's release hook, logging a failure to <paramref name="logger"/> (the vat's).</summary>
    public static async Task RunReleaseHookAsync(CapabilityServer server, ILogger logger)
    {
        try
        {
            await server.RunReleaseHookAsync().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            logger.LogError(e, "The release hook of {Server} failed", server.GetType());
        }
    }

    /// <summary>Called on the loop thread: the hook itself runs on the thread pool.</summary>
    public static void Released(CapabilityServer server, ILogger logger)
    {
        if (Counts.TryGetValue(server, out var count) && Interlocked.Decrement(ref count.Value) == 0)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static s => RunReleaseHook(s.server, s.logger), (server, logger), preferLocal: false);
        }
    }

    private static async void RunReleaseHook(CapabilityServer server, ILogger logger) => await RunReleaseHookAsync(server, logger).ConfigureAwait(false);
}
