using System.Text;

namespace Capnp.Native.CodeGen;

/// <summary>Turns Cap'n Proto identifiers into C# identifiers.</summary>
internal static class Names
{
    private static readonly HashSet<string> Keywords = new(StringComparer.Ordinal)
    {
        "abstract", "as", "base", "bool", "break", "byte", "case", "catch", "char", "checked", "class",
        "const", "continue", "decimal", "default", "delegate", "do", "double", "else", "enum", "event",
        "explicit", "extern", "false", "finally", "fixed", "float", "for", "foreach", "goto", "if",
        "implicit", "in", "int", "interface", "internal", "is", "lock", "long", "namespace", "new", "null",
        "object", "operator", "out", "override", "params", "private", "protected", "public", "readonly",
        "ref", "return", "sbyte", "sealed", "short", "sizeof", "stackalloc", "static", "string", "struct",
        "switch", "this", "throw", "true", "try", "typeof", "uint", "ulong", "unchecked", "unsafe", "ushort",
        "using", "virtual", "void", "volatile", "while",
    };

    /// <summary>fooBar / foo_bar / FOO_BAR → FooBar (an all-caps word keeps its caps).</summary>
    public static string Pascal(string name)
    {
        var sb = new StringBuilder(name.Length);
        bool upperNext = true;
        foreach (char c in name)
        {
            if (!char.IsLetterOrDigit(c)) { upperNext = true; continue; }
            sb.Append(upperNext ? char.ToUpperInvariant(c) : c);
            upperNext = false;
        }
        if (sb.Length == 0) sb.Append('_');
        if (char.IsDigit(sb[0])) sb.Insert(0, '_');
        return sb.ToString();
    }

    /// <summary>fooBar → fooBar, escaped with @ when it is a C# keyword (for parameters/locals).</summary>
    public static string Camel(string name)
    {
        var p = Pascal(name);
        var c = char.ToLowerInvariant(p[0]) + p[1..];
        return Keywords.Contains(c) ? "@" + c : c;
    }

    /// <summary>Namespace derived from a schema file name: dir/foo_bar.capnp → FooBar.</summary>
    public static string NamespaceFromFile(string filename)
    {
        var name = Path.GetFileName(filename);
        if (name.EndsWith(".capnp", StringComparison.Ordinal)) name = name[..^6];
        return Pascal(name);
    }

    /// <summary>Picks <paramref name="wanted"/> or a suffixed variant not in <paramref name="used"/>, and records it.</summary>
    public static string Unique(string wanted, HashSet<string> used)
    {
        var n = wanted;
        while (!used.Add(n)) n += "_";
        return n;
    }

    public static string StringLiteral(string s)
    {
        var sb = new StringBuilder("\"");
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\0': sb.Append("\\0"); break;
                default:
                    if (c < 0x20 || c == 0x7f || char.IsSurrogate(c)) sb.Append("\\u").Append(((int)c).ToString("x4"));
                    else sb.Append(c);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }

    public static string ByteArray(ReadOnlySpan<byte> bytes)
    {
        var sb = new StringBuilder("new byte[] { ");
        for (int i = 0; i < bytes.Length; i++)
        {
            if (i > 0) sb.Append(", ");
            sb.Append("0x").Append(bytes[i].ToString("x2"));
        }
        return sb.Append(" }").ToString();
    }
}
