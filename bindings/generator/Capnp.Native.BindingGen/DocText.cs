namespace Capnp.Native.BindingGen;

/// <summary>Turns the inside of a <c>/** ... */</c> comment into plain lines.</summary>
public static class DocText
{
    /// <returns>The comment's lines with the decorative leading '*' removed, or null when it is empty.</returns>
    public static string? Clean(string raw)
    {
        var lines = raw.Replace("\r\n", "\n").Split('\n').Select(l =>
        {
            var t = l.Trim();
            if (t.StartsWith('*')) t = t[1..].TrimStart();
            return t;
        }).ToList();
        while (lines.Count > 0 && lines[0].Length == 0) lines.RemoveAt(0);
        while (lines.Count > 0 && lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
        return lines.Count == 0 ? null : string.Join("\n", lines);
    }

    public static string EscapeXml(string s) => s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");
}
