namespace Capnp.Native.BindingGen;

/// <summary>A header construct outside the supported grammar, located by file, line and column.</summary>
public sealed class HeaderParseException : Exception
{
    public HeaderParseException(string file, int line, int column, string detail)
        : base($"{file}:{line}:{column}: error: {detail}")
    {
        File = file;
        Line = line;
        Column = column;
        Detail = detail;
    }

    public string File { get; }
    public int Line { get; }
    public int Column { get; }
    public string Detail { get; }
}
