namespace Capnp.Native;

/// <summary>The <c>[ connecting to ADDRESS ]</c> indicator of <see cref="VatOptions.ConnectProgress"/>.</summary>
internal static class ConnectProgress
{
    /// <summary>How long a connect may take before the indicator shows.</summary>
    internal static readonly TimeSpan Threshold = TimeSpan.FromMilliseconds(500);

    /// <summary>Awaits <paramref name="connecting"/>, showing the indicator on <paramref name="writer"/> while it takes longer than <see cref="Threshold"/>.</summary>
    internal static async Task<T> ShowWhileSlowAsync<T>(TextWriter writer, string address, Task<T> connecting)
    {
        using (var slow = new CancellationTokenSource())
        {
            var first = await Task.WhenAny(connecting, Task.Delay(Threshold, slow.Token)).ConfigureAwait(false);
            if (first == connecting)
            {
                await slow.CancelAsync().ConfigureAwait(false);
                return await connecting.ConfigureAwait(false);
            }
        }

        var indicator = $"[ connecting to {address} ]";
        writer.Write(indicator);
        writer.Flush();
        try
        {
            return await connecting.ConfigureAwait(false);
        }
        finally
        {
            // Back to the start of the line, blank it, and back again.
            writer.Write('\r' + new string(' ', indicator.Length) + '\r');
            writer.Flush();
        }
    }
}
