using System.Globalization;

namespace Capnp.Native.Bench.Shared;

/// <summary>
/// The CPU time another process on this machine has used so far, read from /proc/PID/stat.
/// The bench clients sample their server's figure at the start and the end of the measured
/// window (<c>--server-pid</c>), so the server's CPU per call counts the same calls as the
/// client's: warm-up and JIT tier-up excluded on both sides, as bench/run's figures promise.
/// </summary>
internal static class ServerCpu
{
    // USER_HZ, the unit of /proc/PID/stat's times: 100 on Linux, part of its user-space ABI.
    private const double TicksPerSecond = 100;

    /// <summary>The process's user + system CPU time (all its threads, living and ended), or null when unreadable.</summary>
    public static TimeSpan? Read(int pid)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }

        // The command name (field 2) is in parentheses and may hold spaces: count from the last ')'.
        // After it: state (3), ppid, pgrp, session, tty_nr, tpgid, flags, minflt, cminflt, majflt,
        // cmajflt, utime (14), stime (15).
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        if (fields.Length < 13
            || !long.TryParse(fields[11], NumberStyles.None, CultureInfo.InvariantCulture, out var userTicks)
            || !long.TryParse(fields[12], NumberStyles.None, CultureInfo.InvariantCulture, out var systemTicks))
        {
            return null;
        }

        return TimeSpan.FromSeconds((userTicks + systemTicks) / TicksPerSecond);
    }
}
