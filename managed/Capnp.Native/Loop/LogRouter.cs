using System.Runtime.InteropServices;
using Capnp.Native.Interop;
using Microsoft.Extensions.Logging;

namespace Capnp.Native;

/// <summary>
/// Receives what the engine and the shim log on a loop's thread (CAPNP_EVENT_LOG) and writes it to
/// an <see cref="ILogger"/> on the thread pool (a logger is user code: it never runs on the loop
/// thread), at most <see cref="MessagesPerWindow"/> messages per <see cref="Window"/>, so a peer
/// that provokes errors cannot flood the log; the count of suppressed messages is reported.
/// </summary>
internal sealed class LogRouter(EventLoop owner, ILogger logger) : CallbackTarget(owner)
{
    public const int MessagesPerWindow = 20;

    /// <summary>Debug lines (the table traces of a vat logging at debug level) have a budget of their own, so they never crowd out errors.</summary>
    public const int DebugMessagesPerWindow = 1000;

    public static readonly TimeSpan Window = TimeSpan.FromSeconds(10);

    private readonly Budget messages = new(MessagesPerWindow);
    private readonly Budget debugMessages = new(DebugMessagesPerWindow);

    protected override unsafe void OnCallback(NativeCompletion completion)
    {
        if (completion.Event != NativeEvent.Log)
        {
            // The last completion: the loop stopped (or refused the routing).
            Unregister();
            return;
        }

        var message = MemoryMarshal.Read<capnp_log_message>(completion.Payload);
        var level = LevelOf(message.severity);
        if (!logger.IsEnabled(level) || !(level == LogLevel.Debug ? debugMessages : messages).Admit(out var dropped))
        {
            return;
        }

        var text = NativeStatus.DecodeMessage(message.text, message.text_len);
        ThreadPool.UnsafeQueueUserWorkItem(static state =>
        {
            var (logger, level, text, dropped) = state;
            if (dropped > 0)
            {
                logger.Log(level, "Cap'n Proto engine: {Message} ({Suppressed} earlier messages suppressed)", text, dropped);
            }
            else
            {
                logger.Log(level, "Cap'n Proto engine: {Message}", text);
            }
        }, (logger, level, text, dropped), preferLocal: false);
    }

    // KJ's severities: INFO, WARNING, ERROR, FATAL, DBG. Errors on a loop thread are a peer's
    // misbehaviour or a lost connection far more often than a fault of this process.
    private static LogLevel LevelOf(int severity) => severity switch
    {
        0 => LogLevel.Information,
        1 or 2 => LogLevel.Warning,
        3 => LogLevel.Error,
        _ => LogLevel.Debug,
    };

    // The rate limit of one kind of message. Loop thread only (one caller at a time).
    private sealed class Budget(int messagesPerWindow)
    {
        private long windowStart = Environment.TickCount64;
        private int inWindow;
        private int suppressed;

        public bool Admit(out int dropped)
        {
            var now = Environment.TickCount64;
            if (now - windowStart >= (long)Window.TotalMilliseconds)
            {
                windowStart = now;
                inWindow = 0;
            }

            if (inWindow >= messagesPerWindow)
            {
                suppressed++;
                dropped = 0;
                return false;
            }

            inWindow++;
            dropped = suppressed;
            suppressed = 0;
            return true;
        }
    }
}
