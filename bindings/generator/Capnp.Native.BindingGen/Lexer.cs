using System.Text;

namespace Capnp.Native.BindingGen;

public enum TokenKind
{
    Identifier,
    Number,
    String,
    Punct,
    /// <summary>A <c>/** ... */</c> comment documenting the declaration that follows.</summary>
    DocComment,
    /// <summary>A <c>/**&lt; ... */</c> comment documenting the declaration or member just before it.</summary>
    TrailingDocComment,
    /// <summary>A whole preprocessor line; its tokens (after the '#') are in <see cref="Token.Children"/>.</summary>
    Directive,
    EndOfFile,
}

public sealed record Token(TokenKind Kind, string Text, int Line, int Column)
{
    public IReadOnlyList<Token> Children { get; init; } = Array.Empty<Token>();

    /// <summary>For a directive: a trailing doc comment on the same line (<c>#define X 1 /**&lt; doc */</c>).</summary>
    public string? TrailingDoc { get; init; }

    public int EndColumn => Column + Text.Length;

    public bool Is(TokenKind kind, string text) => Kind == kind && Text == text;

    public bool IsPunct(string text) => Kind == TokenKind.Punct && Text == text;

    public bool IsIdent(string text) => Kind == TokenKind.Identifier && Text == text;

    public string Describe() => Kind switch
    {
        TokenKind.EndOfFile => "end of file",
        TokenKind.Directive => $"preprocessor directive '#{(Children.Count > 0 ? Children[0].Text : "")}'",
        TokenKind.DocComment or TokenKind.TrailingDocComment => "doc comment",
        TokenKind.String => $"string {Text}",
        _ => $"'{Text}'",
    };
}

/// <summary>
/// Splits a C header into tokens. Preprocessor lines become single <see cref="TokenKind.Directive"/>
/// tokens; ordinary comments are dropped; <c>/** */</c> comments are kept as doc tokens.
/// </summary>
public sealed class Lexer
{
    private readonly string _file;
    private readonly string _src;
    private int _pos;
    private int _line = 1;
    private int _col = 1;

    private Lexer(string file, string source)
    {
        _file = file;
        _src = source.Replace("\r\n", "\n");
    }

    public static List<Token> Tokenize(string file, string source) => new Lexer(file, source).Run();

    private char Cur => _pos < _src.Length ? _src[_pos] : '\0';
    private char Peek(int n) => _pos + n < _src.Length ? _src[_pos + n] : '\0';

    private void Advance()
    {
        if (_src[_pos] == '\n') { _line++; _col = 1; }
        else { _col++; }
        _pos++;
    }

    private HeaderParseException Error(int line, int col, string detail) => new(_file, line, col, detail);

    private List<Token> Run()
    {
        var tokens = new List<Token>();
        bool atLineStart = true;
        while (true)
        {
            char c = Cur;
            if (c == '\0') break;
            if (c == '\n') { Advance(); atLineStart = true; continue; }
            if (c is ' ' or '\t' or '\f' or '\v' or '\r') { Advance(); continue; }
            if (c == '#')
            {
                if (!atLineStart)
                    throw Error(_line, _col, "'#' is only allowed at the start of a line (preprocessor directive)");
                tokens.Add(LexDirective());
                atLineStart = true;
                continue;
            }
            atLineStart = false;
            if (c == '/' && (Peek(1) == '/' || Peek(1) == '*'))
            {
                var doc = LexComment();
                if (doc != null) tokens.Add(doc);
                continue;
            }
            if (c == '\\' && Peek(1) == '\n') { Advance(); Advance(); continue; }
            tokens.Add(LexSimple());
        }
        tokens.Add(new Token(TokenKind.EndOfFile, "", _line, _col));
        return tokens;
    }

    private Token LexDirective()
    {
        int line = _line, col = _col;
        Advance(); // '#'
        var children = new List<Token>();
        string? trailingDoc = null;
        while (true)
        {
            char c = Cur;
            if (c == '\0' || c == '\n') break;
            if (c is ' ' or '\t' or '\f' or '\v' or '\r') { Advance(); continue; }
            if (c == '\\' && Peek(1) == '\n') { Advance(); Advance(); continue; }
            if (c == '/' && (Peek(1) == '/' || Peek(1) == '*'))
            {
                var doc = LexComment();
                if (doc is { Kind: TokenKind.TrailingDocComment }) trailingDoc = doc.Text;
                else if (doc is { Kind: TokenKind.DocComment })
                    throw Error(doc.Line, doc.Column, "a '/**' doc comment cannot stand inside a preprocessor line; put it on the line before, or use '/**<' to document this line");
                continue;
            }
            if (c == '#') throw Error(_line, _col, "'#' and '##' operators are not supported in the header");
            children.Add(LexSimple());
        }
        return new Token(TokenKind.Directive, "#", line, col) { Children = children, TrailingDoc = trailingDoc };
    }

    /// <summary>Consumes a comment; returns a doc token for <c>/** */</c> and <c>/**&lt; */</c>, else null.</summary>
    private Token? LexComment()
    {
        int line = _line, col = _col;
        if (Peek(1) == '/')
        {
            while (Cur != '\n' && Cur != '\0') Advance();
            return null;
        }
        int start = _pos;
        Advance(); Advance(); // "/*"
        while (true)
        {
            if (Cur == '\0') throw Error(line, col, "unterminated comment");
            if (Cur == '*' && Peek(1) == '/') { Advance(); Advance(); break; }
            Advance();
        }
        string text = _src.Substring(start, _pos - start);
        // "/**/" is empty, "/***..." is a banner: both ordinary comments.
        if (text.Length < 5 || text[2] != '*' || text[3] == '*' || text[3] == '/') return null;
        bool trailing = text[3] == '<';
        string body = text.Substring(trailing ? 4 : 3, text.Length - (trailing ? 4 : 3) - 2);
        return new Token(trailing ? TokenKind.TrailingDocComment : TokenKind.DocComment, body, line, col);
    }

    private Token LexSimple()
    {
        int line = _line, col = _col;
        char c = Cur;
        if (char.IsAsciiLetter(c) || c == '_')
        {
            int s = _pos;
            while (char.IsAsciiLetterOrDigit(Cur) || Cur == '_') Advance();
            return new Token(TokenKind.Identifier, _src.Substring(s, _pos - s), line, col);
        }
        if (char.IsAsciiDigit(c))
        {
            int s = _pos;
            while (char.IsAsciiLetterOrDigit(Cur) || Cur == '_' || Cur == '.') Advance();
            return new Token(TokenKind.Number, _src.Substring(s, _pos - s), line, col);
        }
        if (c == '"')
        {
            int s = _pos;
            Advance();
            while (Cur != '"')
            {
                if (Cur == '\0' || Cur == '\n') throw Error(line, col, "unterminated string literal");
                if (Cur == '\\') Advance();
                Advance();
            }
            Advance();
            return new Token(TokenKind.String, _src.Substring(s, _pos - s), line, col);
        }
        if (c == '.' && Peek(1) == '.' && Peek(2) == '.')
        {
            Advance(); Advance(); Advance();
            return new Token(TokenKind.Punct, "...", line, col);
        }
        if ("{}()[];,*=-+~|&<>.:!/%^?".Contains(c))
        {
            Advance();
            return new Token(TokenKind.Punct, c.ToString(), line, col);
        }
        if (c == '\'') throw Error(line, col, "character literals are not supported in the header");
        throw Error(line, col, $"unexpected character '{Escape(c)}'");
    }

    private static string Escape(char c) => c < ' ' || c > '~' ? $"\\u{(int)c:X4}" : c.ToString();
}
