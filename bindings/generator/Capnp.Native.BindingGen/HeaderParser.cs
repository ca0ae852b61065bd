using System.Numerics;

namespace Capnp.Native.BindingGen;

/// <summary>
/// Recursive-descent parser for the strict C subset that <c>capnp_native.h</c> is written in.
/// Anything outside the subset is rejected with a located <see cref="HeaderParseException"/>:
/// the generator never guesses.
/// </summary>
public sealed class HeaderParser
{
    /// <summary>The macro that marks an exported function. Every function must start with it.</summary>
    public const string ExportMacro = "CAPNP_NATIVE_API";

    private static readonly Dictionary<string, PrimitiveType> Primitives = new PrimitiveType[]
    {
        new("int8_t", "sbyte", true), new("uint8_t", "byte", true),
        new("int16_t", "short", true), new("uint16_t", "ushort", true),
        new("int32_t", "int", true), new("uint32_t", "uint", true),
        new("int64_t", "long", true), new("uint64_t", "ulong", true),
        new("size_t", "nuint", false), new("intptr_t", "nint", false), new("uintptr_t", "nuint", false),
        new("char", "byte", true), new("float", "float", true), new("double", "double", true),
    }.ToDictionary(p => p.CName);

    private static readonly HashSet<string> AllowedIncludes = new() { "stddef.h", "stdint.h" };

    private static readonly HashSet<string> NonFixedWidthWords = new() { "int", "unsigned", "signed", "short", "long" };

    private const string AllowedDirectives =
        "the include guard, #include <stddef.h> / <stdint.h>, '#ifdef __cplusplus' around 'extern \"C\" {' and '}', " +
        "#define of integer constants, #define of attribute macros such as " + ExportMacro +
        " (optionally inside #if/#ifdef/#ifndef blocks that only define attribute macros)";

    private readonly string _file;
    private readonly List<Token> _t;
    private int _i;

    private readonly List<Declaration> _decls = new();
    private readonly Dictionary<string, TypeDeclaration> _types = new();
    private readonly Dictionary<string, TypeDeclaration> _structTags = new();
    private readonly Dictionary<string, EnumDeclaration> _enumTags = new();
    private readonly HashSet<string> _attributeMacros = new();
    private readonly Dictionary<string, int> _names = new(); // every global identifier → line of its declaration

    private string? _pendingDoc;
    private Action<string>? _trailingDocTarget;

    private string? _guard;
    private bool _guardClosed;
    private enum ExternState { NotSeen, Open, Closed }
    private ExternState _extern = ExternState.NotSeen;

    private HeaderParser(string file, List<Token> tokens)
    {
        _file = file;
        _t = tokens;
    }

    /// <param name="file">Path used in error messages.</param>
    /// <param name="source">Header text.</param>
    /// <param name="sourceName">Path written into the generated banner; defaults to the file name.</param>
    public static HeaderModel Parse(string file, string source, string? sourceName = null)
    {
        var parser = new HeaderParser(file, Lexer.Tokenize(file, source));
        parser.Run();
        return new HeaderModel(sourceName ?? Path.GetFileName(file), parser._decls);
    }

    // ---------------------------------------------------------------- driver

    private Token Cur => _t[_i];
    private Token Next => _i + 1 < _t.Count ? _t[_i + 1] : _t[^1];

    private HeaderParseException Error(Token at, string detail) => new(_file, at.Line, at.Column, detail);

    private void Run()
    {
        while (true)
        {
            var t = Cur;
            switch (t.Kind)
            {
                case TokenKind.EndOfFile:
                    Finish(t);
                    return;
                case TokenKind.DocComment:
                    _pendingDoc = DocText.Clean(t.Text);
                    _i++;
                    continue;
                case TokenKind.TrailingDocComment:
                    AttachTrailing(t);
                    _i++;
                    continue;
                case TokenKind.Directive:
                    Directive(t);
                    continue;
            }

            if (_guard == null)
                throw Error(t, $"expected the include guard ('#ifndef NAME' then '#define NAME') before any declaration, found {t.Describe()}");
            if (_guardClosed)
                throw Error(t, $"nothing may follow the include guard's closing #endif, found {t.Describe()}");

            if (t.IsIdent("typedef")) Typedef();
            else if (t.IsIdent("extern"))
                throw Error(t, "'extern \"C\" {' and its '}' must each be wrapped in '#ifdef __cplusplus' ... '#endif' so the header stays valid C");
            else if (t.IsPunct("}"))
                throw Error(t, "unexpected '}' (the extern \"C\" block must be closed inside '#ifdef __cplusplus' ... '#endif')");
            else Function();
        }
    }

    private void Finish(Token eof)
    {
        if (_guard == null)
            throw Error(eof, "expected the include guard ('#ifndef NAME' then '#define NAME'), found end of file");
        if (_extern == ExternState.Open)
            throw Error(eof, "the extern \"C\" block is never closed ('#ifdef __cplusplus' '}' '#endif')");
        if (!_guardClosed)
            throw Error(eof, $"expected '#endif' closing the include guard {_guard}, found end of file");
    }

    private string? TakeDoc()
    {
        var d = _pendingDoc;
        _pendingDoc = null;
        return d;
    }

    private void AttachTrailing(Token t)
    {
        if (_trailingDocTarget == null)
            throw Error(t, "a '/**<' doc comment must follow the declaration or member it documents");
        var doc = DocText.Clean(t.Text);
        if (doc != null) _trailingDocTarget(doc);
        _trailingDocTarget = null;
    }

    private static string AppendDoc(string? existing, string added) => existing == null ? added : existing + "\n" + added;

    private void Register(Token at, string name, string what)
    {
        if (_names.TryGetValue(name, out int line))
            throw Error(at, $"{what} '{name}' is already declared at line {line}");
        if (Primitives.ContainsKey(name) || name is "bool" or "_Bool" or "void")
            throw Error(at, $"'{name}' is a built-in type name and cannot be declared");
        _names[name] = at.Line;
    }

    private Token Expect(string punct, string context)
    {
        var t = Cur;
        if (!t.IsPunct(punct))
        {
            if (punct == ";" && _i > 0)
            {
                // Report a missing semicolon where it belongs: right after the previous token.
                var prev = _t[_i - 1];
                throw new HeaderParseException(_file, prev.Line, prev.EndColumn,
                    $"expected ';' {context}, found {t.Describe()}");
            }
            throw Error(t, $"expected '{punct}' {context}, found {t.Describe()}");
        }
        _i++;
        return t;
    }

    private Token ExpectIdent(string context)
    {
        var t = Cur;
        if (t.Kind != TokenKind.Identifier)
            throw Error(t, $"expected {context}, found {t.Describe()}");
        _i++;
        return t;
    }

    // ---------------------------------------------------------------- preprocessor

    private void Directive(Token d)
    {
        _trailingDocTarget = null;
        var c = d.Children;
        if (c.Count == 0) throw Error(d, "empty preprocessor directive");
        var name = c[0];

        if (_guard == null)
        {
            if (!name.IsIdent("ifndef"))
                throw Error(d, $"expected the include guard '#ifndef NAME' as the first directive, found '#{name.Text}'");
            IncludeGuard(d);
            return;
        }
        if (_guardClosed)
            throw Error(d, $"nothing may follow the include guard's closing #endif, found '#{name.Text}'");

        switch (name.Text)
        {
            case "include":
                _pendingDoc = null;
                Include(d);
                _i++;
                return;
            case "define":
                Define(d, insideConditional: false);
                _i++;
                return;
            case "ifdef" when c.Count == 2 && c[1].IsIdent("__cplusplus"):
                _pendingDoc = null;
                CplusplusBlock(d);
                return;
            case "if" or "ifdef" or "ifndef":
                _pendingDoc = null;
                ConditionalBlock(d);
                return;
            case "endif":
                if (c.Count != 1) throw Error(c[1], $"unexpected {c[1].Describe()} after #endif");
                if (_extern == ExternState.Open)
                    throw Error(d, "the include guard is closed while the extern \"C\" block is still open");
                _guardClosed = true;
                _pendingDoc = null;
                _i++;
                return;
            case "else" or "elif":
                throw Error(d, $"'#{name.Text}' without a matching '#if'");
            default:
                throw Error(d, $"unsupported preprocessor directive '#{name.Text}'; allowed: {AllowedDirectives}");
        }
    }

    private void IncludeGuard(Token d)
    {
        var c = d.Children;
        if (c.Count != 2 || c[1].Kind != TokenKind.Identifier)
            throw Error(d, "expected '#ifndef NAME' (include guard)");
        var def = Next;
        if (def.Kind != TokenKind.Directive || def.Children.Count != 2 || !def.Children[0].IsIdent("define")
            || def.Children[1].Text != c[1].Text)
            throw Error(def, $"expected '#define {c[1].Text}' right after '#ifndef {c[1].Text}' (include guard), found {def.Describe()}");
        _guard = c[1].Text;
        _pendingDoc = null;
        _i += 2;
    }

    private void Include(Token d)
    {
        var c = d.Children;
        if (c.Count >= 2 && c[1].Kind == TokenKind.String)
            throw Error(c[1], $"#include {c[1].Text}: only <stddef.h> and <stdint.h> may be included; a quoted include would hide declarations from the generator");
        if (c.Count < 3 || !c[1].IsPunct("<") || !c[^1].IsPunct(">"))
            throw Error(d, "expected '#include <stddef.h>' or '#include <stdint.h>'");
        var header = string.Concat(c.Skip(2).Take(c.Count - 3).Select(x => x.Text));
        if (!AllowedIncludes.Contains(header))
            throw Error(c[1], $"#include <{header}> is not supported; only <stddef.h> and <stdint.h> may be included");
    }

    private void Define(Token d, bool insideConditional)
    {
        var c = d.Children;
        if (c.Count < 2 || c[1].Kind != TokenKind.Identifier)
            throw Error(d, "expected a macro name after #define");
        var nameTok = c[1];
        if (c.Count > 2 && c[2].IsPunct("(") && c[2].Line == nameTok.Line && c[2].Column == nameTok.EndColumn)
            throw Error(c[2], $"function-like macro '{nameTok.Text}(...)' is not supported");
        var body = c.Skip(2).ToList();

        if (body.Count == 0 || body[0].IsIdent("__attribute__") || body[0].IsIdent("__declspec"))
        {
            CheckBalanced(body, d);
            if (!_attributeMacros.Contains(nameTok.Text)) // re-definition in another #if branch is fine
            {
                Register(nameTok, nameTok.Text, "macro");
                _attributeMacros.Add(nameTok.Text);
            }
            _pendingDoc = null;
            return;
        }

        var value = TryIntegerExpression(body);
        if (value == null)
            throw Error(body[0], $"unsupported #define {nameTok.Text}: expected an integer constant (e.g. 1, -1, 0x10, (42u)) " +
                                 "or an attribute macro whose body starts with __attribute__ or __declspec (or is empty)");
        if (insideConditional)
            throw Error(nameTok, $"integer constant {nameTok.Text} cannot be defined inside an #if block: the generator does not evaluate conditions");
        var (csType, literal) = ConstantType(value.Value, body[0]);
        Register(nameTok, nameTok.Text, "constant");
        var decl = new ConstantDeclaration(nameTok.Text, d.Line, csType, literal) { Doc = TakeDoc() };
        if (d.TrailingDoc != null && DocText.Clean(d.TrailingDoc) is { } td) decl.Doc = AppendDoc(decl.Doc, td);
        _decls.Add(decl);
        _trailingDocTarget = null;
    }

    private void CheckBalanced(List<Token> body, Token d)
    {
        int depth = 0;
        foreach (var t in body)
        {
            if (t.IsPunct("(")) depth++;
            else if (t.IsPunct(")") && --depth < 0) throw Error(t, "unbalanced ')' in macro body");
        }
        if (depth != 0) throw Error(d, "unbalanced '(' in macro body");
    }

    private void CplusplusBlock(Token ifdef)
    {
        _i++;
        var t = Cur;
        if (t.IsIdent("extern"))
        {
            _i++;
            if (!Cur.Is(TokenKind.String, "\"C\"")) throw Error(Cur, $"expected \"C\" after extern, found {Cur.Describe()}");
            _i++;
            Expect("{", "after extern \"C\"");
            if (_extern != ExternState.NotSeen) throw Error(t, "only one extern \"C\" block is allowed");
            _extern = ExternState.Open;
        }
        else if (t.IsPunct("}"))
        {
            if (_extern != ExternState.Open) throw Error(t, "'}' closes an extern \"C\" block that is not open");
            _i++;
            _extern = ExternState.Closed;
        }
        else
        {
            throw Error(t, $"expected 'extern \"C\" {{' or '}}' inside '#ifdef __cplusplus', found {t.Describe()}");
        }
        var end = Cur;
        if (end.Kind != TokenKind.Directive || end.Children.Count != 1 || !end.Children[0].IsIdent("endif"))
            throw Error(end, $"expected '#endif' closing the '#ifdef __cplusplus' of line {ifdef.Line}, found {end.Describe()}");
        _i++;
    }

    /// <summary>An #if/#ifdef/#ifndef block whose branches only define attribute macros (e.g. per-compiler export attributes).</summary>
    private void ConditionalBlock(Token start)
    {
        _i++;
        int depth = 1;
        while (true)
        {
            var t = Cur;
            switch (t.Kind)
            {
                case TokenKind.EndOfFile:
                    throw Error(start, "this #if block is never closed with #endif");
                case TokenKind.DocComment or TokenKind.TrailingDocComment:
                    _i++;
                    continue;
                case TokenKind.Directive:
                    var n = t.Children.Count > 0 ? t.Children[0].Text : "";
                    switch (n)
                    {
                        case "if" or "ifdef" or "ifndef": depth++; break;
                        case "else" or "elif" or "error": break;
                        case "endif":
                            if (--depth == 0) { _i++; return; }
                            break;
                        case "define": Define(t, insideConditional: true); break;
                        default:
                            throw Error(t, $"'#{n}' is not supported inside #if blocks; they may only #define attribute macros such as {ExportMacro}");
                    }
                    _i++;
                    continue;
                default:
                    throw Error(t, $"declarations inside #if blocks are not supported (found {t.Describe()}); such blocks may only #define attribute macros such as {ExportMacro}");
            }
        }
    }

    // ---------------------------------------------------------------- integers

    private readonly record struct IntegerValue(BigInteger Value, bool Unsigned, bool Long, string Digits);

    private IntegerValue? TryIntegerExpression(List<Token> body)
    {
        int s = 0, e = body.Count;
        while (e - s >= 3 && body[s].IsPunct("(") && body[e - 1].IsPunct(")")) { s++; e--; }
        bool negative = false;
        if (e - s == 2 && body[s].IsPunct("-")) { negative = true; s++; }
        if (e - s != 1 || body[s].Kind != TokenKind.Number) return null;
        var v = IntegerLiteral(body[s]);
        return negative ? v with { Value = -v.Value, Digits = "-" + v.Digits } : v;
    }

    private IntegerValue IntegerLiteral(Token t)
    {
        var text = t.Text;
        int end = text.Length;
        while (end > 0 && text[end - 1] is 'u' or 'U' or 'l' or 'L') end--;
        var suffix = text[end..].ToLowerInvariant();
        if (suffix is not ("" or "u" or "l" or "ul" or "lu" or "ll" or "ull" or "llu"))
            throw Error(t, $"invalid integer suffix in '{text}'");
        var digits = text[..end];
        BigInteger value;
        if (digits.StartsWith("0x") || digits.StartsWith("0X"))
        {
            var hex = digits[2..];
            if (hex.Length == 0 || !hex.All(char.IsAsciiHexDigit)) throw Error(t, $"expected an integer literal, found '{text}'");
            value = BigInteger.Parse("0" + hex, System.Globalization.NumberStyles.AllowHexSpecifier);
            digits = "0x" + hex;
        }
        else
        {
            if (digits.Length == 0 || !digits.All(char.IsAsciiDigit)) throw Error(t, $"expected an integer literal, found '{text}'");
            if (digits.Length > 1 && digits[0] == '0')
                throw Error(t, $"octal literal '{text}' is not supported; write it in decimal or 0x hex");
            value = BigInteger.Parse(digits);
        }
        return new IntegerValue(value, suffix.Contains('u'), suffix.Contains('l'), digits);
    }

    private (string CSharpType, string Literal) ConstantType(IntegerValue v, Token at)
    {
        var x = v.Value;
        string type;
        if (x.Sign < 0)
        {
            if (v.Unsigned) throw Error(at, "a negated unsigned constant is not supported");
            type = x >= int.MinValue ? "int" : x >= long.MinValue ? "long" : throw Error(at, "integer constant is out of the 64-bit range");
        }
        else if (x > ulong.MaxValue) throw Error(at, "integer constant is out of the 64-bit range");
        else if (v.Unsigned) type = x <= uint.MaxValue && !v.Long ? "uint" : "ulong";
        else if (v.Long) type = x <= long.MaxValue ? "long" : "ulong";
        else type = x <= int.MaxValue ? "int" : x <= uint.MaxValue ? "uint" : x <= long.MaxValue ? "long" : "ulong";
        return (type, v.Digits);
    }

    // ---------------------------------------------------------------- types

    private CType ParseType(string context)
    {
        while (Cur.IsIdent("const")) _i++;
        var t = Cur;
        if (t.Kind != TokenKind.Identifier)
            throw Error(t, $"expected a type {context}, found {t.Describe()}");
        _i++;
        BaseType baseType;
        int depth = 0;
        switch (t.Text)
        {
            case "void":
                baseType = VoidType.Instance;
                break;
            case "bool" or "_Bool":
                throw Error(t, $"'{t.Text}' is not allowed at the ABI: it is not blittable (size and marshalling differ); use uint8_t or int32_t");
            case "struct":
            {
                var tag = ExpectIdent("a struct tag after 'struct'");
                if (!_structTags.TryGetValue(tag.Text, out var sd))
                    throw Error(tag, $"unknown struct tag '{tag.Text}' (declare it with a typedef first)");
                baseType = new NamedType(sd);
                break;
            }
            case "enum":
            {
                var tag = ExpectIdent("an enum tag after 'enum'");
                if (!_enumTags.TryGetValue(tag.Text, out var ed))
                    throw Error(tag, $"unknown enum tag '{tag.Text}' (declare it with a typedef first)");
                baseType = new NamedType(ed);
                break;
            }
            case "union":
                throw Error(t, "unions are not supported");
            case "volatile" or "restrict" or "static" or "inline" or "extern" or "register":
                throw Error(t, $"'{t.Text}' is not supported in the header");
            case "wchar_t":
                throw Error(t, "'wchar_t' is not supported; strings cross the ABI as UTF-8 (const char* + size_t length)");
            default:
                if (NonFixedWidthWords.Contains(t.Text))
                    throw Error(t, $"'{t.Text}' is not a fixed-width type; use int8_t..int64_t, uint8_t..uint64_t, size_t or intptr_t");
                if (Primitives.TryGetValue(t.Text, out var prim))
                {
                    baseType = prim;
                }
                else if (_types.TryGetValue(t.Text, out var td))
                {
                    if (td is AliasDeclaration alias)
                    {
                        baseType = alias.Target.Base;
                        depth = alias.Target.PointerDepth;
                    }
                    else baseType = new NamedType(td);
                }
                else if (_attributeMacros.Contains(t.Text))
                    throw Error(t, $"attribute macro '{t.Text}' is only allowed before a function's return type or after its parameter list");
                else
                    throw Error(t, $"unknown type '{t.Text}' {context} (types must be fixed-width integers, size_t, intptr_t, char, void or typedefs declared earlier in the header)");
                break;
        }
        while (true)
        {
            if (Cur.IsIdent("const")) { _i++; continue; }
            if (Cur.IsPunct("*")) { depth++; _i++; continue; }
            if (Cur.IsIdent("volatile") || Cur.IsIdent("restrict"))
                throw Error(Cur, $"'{Cur.Text}' is not supported in the header");
            break;
        }
        return new CType(baseType, depth);
    }

    private enum Use { Parameter, Return, Field, Alias }

    private void Validate(CType type, Token at, Use use, string what)
    {
        if (type.PointerDepth > 0) return;
        switch (type.Base)
        {
            case VoidType when use != Use.Return:
                throw Error(at, $"{what} cannot be 'void' (only a return type may be void; use void* for untyped pointers)");
            case NamedType { Declaration: OpaqueStructDeclaration o }:
                throw Error(at, $"{what}: opaque type '{o.Name}' can only be used through a pointer ({o.Name}*)");
            case NamedType { Declaration: StructDeclaration s } when use is Use.Parameter or Use.Return or Use.Alias:
                throw Error(at, $"{what}: struct '{s.Name}' passed by value is not supported; pass a pointer ({s.Name}* or const {s.Name}*)");
            case NamedType { Declaration: StructDeclaration { IsComplete: false } s }:
                throw Error(at, $"{what}: struct '{s.Name}' is incomplete here and cannot be embedded by value");
        }
    }

    // ---------------------------------------------------------------- declarations

    private void Typedef()
    {
        var doc = TakeDoc();
        var typedefTok = Cur;
        _i++;
        TypeDeclaration decl;
        if (Cur.IsIdent("struct"))
        {
            _i++;
            Token? tag = Cur.Kind == TokenKind.Identifier ? Cur : null;
            if (tag != null) _i++;
            if (Cur.IsPunct("{")) decl = StructBody(tag);
            else
            {
                if (tag == null) throw Error(Cur, $"expected a struct tag or '{{' after 'typedef struct', found {Cur.Describe()}");
                if (Cur.IsPunct("*"))
                    throw Error(Cur, $"pointer typedefs are not supported; declare 'typedef struct {tag.Text} {tag.Text};' and use {tag.Text}*");
                var name = ExpectIdent("the typedef name of an opaque struct");
                Expect(";", $"after 'typedef struct {tag.Text} {name.Text}'");
                if (_structTags.ContainsKey(tag.Text)) throw Error(tag, $"struct tag '{tag.Text}' is already declared");
                Register(name, name.Text, "type");
                var o = new OpaqueStructDeclaration(name.Text, typedefTok.Line);
                decl = o;
                _structTags[tag.Text] = o; // 'struct tag*' names the same opaque type
            }
        }
        else if (Cur.IsIdent("enum"))
        {
            _i++;
            Token? tag = Cur.Kind == TokenKind.Identifier ? Cur : null;
            if (tag != null) _i++;
            if (!Cur.IsPunct("{"))
                throw Error(Cur, $"expected '{{' after 'typedef enum{(tag != null ? " " + tag.Text : "")}': enums must be defined with explicit values, found {Cur.Describe()}");
            decl = EnumBody(tag);
        }
        else if (Cur.IsIdent("union"))
        {
            throw Error(Cur, "unions are not supported");
        }
        else
        {
            var typeTok = Cur;
            var type = ParseType("in typedef");
            if (Cur.IsPunct("("))
            {
                _i++;
                if (!Cur.IsPunct("*"))
                    throw Error(Cur, $"expected '*' in a function pointer typedef 'typedef ret (*name)(params);' (function types are not supported), found {Cur.Describe()}");
                _i++;
                var name = ExpectIdent("the function pointer typedef name");
                Expect(")", "after the function pointer typedef name");
                Expect("(", $"before the parameters of function pointer type {name.Text}");
                var ps = Parameters(name.Text, namesRequired: false);
                Validate(type, typeTok, Use.Return, $"return type of function pointer type {name.Text}");
                Expect(";", $"after the declaration of function pointer type {name.Text}");
                Register(name, name.Text, "type");
                decl = new FunctionPointerDeclaration(name.Text, typedefTok.Line, type, ps);
            }
            else
            {
                var name = ExpectIdent("a typedef name");
                if (Cur.IsPunct("[")) throw Error(Cur, "array typedefs are not supported");
                Expect(";", $"after 'typedef ... {name.Text}'");
                Validate(type, typeTok, Use.Alias, $"typedef {name.Text}");
                if (type.Base is NamedType { Declaration: FunctionPointerDeclaration } && type.PointerDepth == 0)
                    throw Error(typeTok, $"typedef {name.Text}: aliases of function pointer typedefs are not supported");
                Register(name, name.Text, "type");
                decl = new AliasDeclaration(name.Text, typedefTok.Line, type);
            }
        }
        decl.Doc = doc;
        _types[decl.Name] = decl;
        if (decl is not AliasDeclaration) _decls.Add(decl);
        _trailingDocTarget = d => decl.Doc = AppendDoc(decl.Doc, d);
    }

    /// <summary>Finds the typedef name after the matching '}' so that the struct can refer to itself by tag.</summary>
    private Token LookAheadTypedefName(Token open)
    {
        int depth = 0;
        for (int j = _i; j < _t.Count; j++)
        {
            var t = _t[j];
            if (t.IsPunct("{")) depth++;
            else if (t.IsPunct("}") && --depth == 0)
            {
                var n = _t[j + 1];
                if (n.Kind != TokenKind.Identifier)
                    throw Error(n, $"expected the typedef name after '}}', found {n.Describe()}");
                return n;
            }
            else if (t.Kind is TokenKind.EndOfFile or TokenKind.Directive) break;
        }
        throw Error(open, "this '{' is never closed by '}' before the next directive");
    }

    private StructDeclaration StructBody(Token? tag)
    {
        var open = Cur;
        var nameTok = LookAheadTypedefName(open);
        if (tag != null && _structTags.ContainsKey(tag.Text)) throw Error(tag, $"struct tag '{tag.Text}' is already declared");
        var sd = new StructDeclaration(nameTok.Text, nameTok.Line);
        if (tag != null) _structTags[tag.Text] = sd;
        _i++; // '{'
        string? memberDoc = null;
        var fieldNames = new HashSet<string>();
        Action<string>? trailing = null;
        while (!Cur.IsPunct("}"))
        {
            var t = Cur;
            if (t.Kind == TokenKind.DocComment) { memberDoc = DocText.Clean(t.Text); _i++; continue; }
            if (t.Kind == TokenKind.TrailingDocComment)
            {
                if (trailing == null) throw Error(t, "a '/**<' doc comment must follow the field it documents");
                if (DocText.Clean(t.Text) is { } d) trailing(d);
                trailing = null;
                _i++;
                continue;
            }
            var type = ParseType("for a struct field");
            if (Cur.IsPunct("(")) throw Error(Cur, "inline function pointer fields are not supported; declare a function pointer typedef and use it");
            var name = ExpectIdent("a field name");
            int? length = null;
            if (Cur.IsPunct("["))
            {
                _i++;
                var lenTok = Cur;
                if (lenTok.Kind != TokenKind.Number) throw Error(lenTok, $"expected an integer array length, found {lenTok.Describe()}");
                var v = IntegerLiteral(lenTok);
                if (v.Value <= 0 || v.Value > 1 << 20) throw Error(lenTok, "array length must be between 1 and 1048576");
                length = (int)v.Value;
                _i++;
                Expect("]", "after the array length");
                if (type.PointerDepth != 0 || type.Base is not PrimitiveType { FixedBufferElement: true })
                    throw Error(t, $"field {name.Text}: arrays are only supported with int8_t..uint64_t, char, float or double elements (C# fixed buffers)");
            }
            if (Cur.IsPunct(",")) throw Error(Cur, "declare one field per declaration (comma-separated declarators are not supported)");
            if (Cur.IsPunct(":")) throw Error(Cur, "bit-fields are not supported");
            Expect(";", $"after field {name.Text}");
            Validate(type, t, Use.Field, $"field {name.Text}");
            if (!fieldNames.Add(name.Text)) throw Error(name, $"duplicate field '{name.Text}'");
            var f = new StructField(name.Text, type, length) { Doc = memberDoc };
            memberDoc = null;
            sd.Fields.Add(f);
            trailing = d => f.Doc = AppendDoc(f.Doc, d);
        }
        var close = Cur;
        if (sd.Fields.Count == 0) throw Error(close, $"struct {nameTok.Text} has no fields (empty structs are not valid C); use an opaque 'typedef struct x x;'");
        _i++; // '}'
        if (Cur.Kind == TokenKind.TrailingDocComment && trailing != null)
        {
            if (DocText.Clean(Cur.Text) is { } d) trailing(d);
            _i++;
        }
        var name2 = ExpectIdent("the typedef name after '}'");
        Expect(";", $"after 'typedef struct {{ ... }} {name2.Text}'");
        Register(name2, name2.Text, "type");
        sd.IsComplete = true;
        return sd;
    }

    private EnumDeclaration EnumBody(Token? tag)
    {
        _i++; // '{'
        var members = new List<EnumMember>();
        string? memberDoc = null;
        EnumMember? last = null;
        while (!Cur.IsPunct("}"))
        {
            var t = Cur;
            if (t.Kind == TokenKind.DocComment) { memberDoc = DocText.Clean(t.Text); _i++; continue; }
            if (t.Kind == TokenKind.TrailingDocComment)
            {
                if (last == null) throw Error(t, "a '/**<' doc comment must follow the enum member it documents");
                if (DocText.Clean(t.Text) is { } d) last.Doc = AppendDoc(last.Doc, d);
                _i++;
                continue;
            }
            var name = ExpectIdent("an enum member name");
            if (!Cur.IsPunct("="))
                throw Error(Cur, $"enum member {name.Text} needs an explicit value ('{name.Text} = N'): enum values are frozen ABI");
            _i++;
            var valueTokens = new List<Token>();
            int depth = 0;
            while (!(depth == 0 && (Cur.IsPunct(",") || Cur.IsPunct("}"))))
            {
                if (Cur.Kind is TokenKind.EndOfFile or TokenKind.Directive or TokenKind.DocComment or TokenKind.TrailingDocComment
                    || Cur.IsPunct(";"))
                    throw Error(Cur, $"expected ',' or '}}' after the value of enum member {name.Text}, found {Cur.Describe()}");
                if (Cur.IsPunct("(")) depth++;
                if (Cur.IsPunct(")")) depth--;
                valueTokens.Add(Cur);
                _i++;
            }
            if (valueTokens.Count == 0) throw Error(Cur, $"expected a value for enum member {name.Text}");
            var v = TryIntegerExpression(valueTokens)
                    ?? throw Error(valueTokens[0], $"enum member {name.Text}: expected an integer literal value (e.g. 0, -1, 0x10)");
            if (v.Value < int.MinValue || v.Value > int.MaxValue)
                throw Error(valueTokens[0], $"enum member {name.Text}: value {v.Digits} does not fit in int32 (C enums are int-sized)");
            Register(name, name.Text, "enum member");
            last = new EnumMember(name.Text, v.Digits) { Doc = memberDoc };
            memberDoc = null;
            members.Add(last);
            if (Cur.IsPunct(",")) _i++;
        }
        if (members.Count == 0) throw Error(Cur, "an enum needs at least one member");
        _i++; // '}'
        var nameTok = ExpectIdent("the typedef name after '}'");
        Expect(";", $"after 'typedef enum {{ ... }} {nameTok.Text}'");
        Register(nameTok, nameTok.Text, "type");
        var ed = new EnumDeclaration(nameTok.Text, nameTok.Line, members);
        if (tag != null)
        {
            if (_enumTags.ContainsKey(tag.Text)) throw Error(tag, $"enum tag '{tag.Text}' is already declared");
            _enumTags[tag.Text] = ed;
        }
        return ed;
    }

    private List<Parameter> Parameters(string owner, bool namesRequired)
    {
        var ps = new List<Parameter>();
        if (Cur.IsPunct(")"))
            throw Error(Cur, $"'()' means 'unspecified parameters' in C; write '(void)' for {owner}");
        if (Cur.IsIdent("void") && Next.IsPunct(")"))
        {
            _i += 2;
            return ps;
        }
        while (true)
        {
            var t = Cur;
            if (t.IsPunct("...")) throw Error(t, $"variadic parameters are not supported ({owner})");
            var type = ParseType($"for a parameter of {owner}");
            if (Cur.IsPunct("("))
                throw Error(Cur, $"inline function pointer parameters are not supported ({owner}); declare a function pointer typedef and use it");
            string name;
            if (Cur.Kind == TokenKind.Identifier)
            {
                var nameTok = Cur;
                _i++;
                name = nameTok.Text;
                if (ps.Any(p => p.Name == name)) throw Error(nameTok, $"duplicate parameter name '{name}' in {owner}");
            }
            else if (namesRequired)
                throw Error(Cur, $"expected a parameter name in {owner}, found {Cur.Describe()} (parameters must be named: the names appear in the C# declarations)");
            else name = "";
            if (Cur.IsPunct("["))
                throw Error(Cur, $"array parameters are not supported ({owner}); use a pointer");
            Validate(type, t, Use.Parameter, $"parameter {(name.Length > 0 ? name : "#" + (ps.Count + 1))} of {owner}");
            ps.Add(new Parameter(name, type));
            if (Cur.IsPunct(",")) { _i++; continue; }
            if (Cur.IsPunct(")")) { _i++; return ps; }
            throw Error(Cur, $"expected ',' or ')' in the parameters of {owner}, found {Cur.Describe()}");
        }
    }

    private void Function()
    {
        var doc = TakeDoc();
        var start = Cur;
        bool exported = false;
        while (Cur.Kind == TokenKind.Identifier && _attributeMacros.Contains(Cur.Text))
        {
            if (Cur.Text == ExportMacro) exported = true;
            _i++;
        }
        if (!exported)
        {
            if (start.Kind == TokenKind.Identifier && start.Text is "struct" or "enum" or "union")
                throw Error(start, $"only typedef'd {start.Text}s are supported: write 'typedef {start.Text} tag {{ ... }} name;' (or 'typedef struct tag name;' for an opaque handle)");
            if (start.Kind == TokenKind.Identifier && start.Text == ExportMacro)
                throw Error(start, $"macro {ExportMacro} is used before it is #defined");
            if (start.Kind == TokenKind.Identifier && start.Text is "static" or "inline" or "extern")
                throw Error(start, $"'{start.Text}' declarations are not supported; functions are declared as '{ExportMacro} ret name(params);'");
            if (start.Kind == TokenKind.Identifier && !Primitives.ContainsKey(start.Text) && !_types.ContainsKey(start.Text)
                && start.Text is not ("void" or "const" or "struct" or "enum") && !_attributeMacros.Contains(start.Text))
                throw Error(start, $"unknown identifier '{start.Text}': expected 'typedef', a function declaration starting with {ExportMacro}, " +
                                   "or a preprocessor directive (macros must be #defined in the header before use)");
            throw Error(start, $"function declarations must start with {ExportMacro} (the export attribute), found {start.Describe()}");
        }
        if (_extern != ExternState.Open)
            throw Error(start, "function declarations must be inside the extern \"C\" block ('#ifdef __cplusplus' 'extern \"C\" {' '#endif'), " +
                               "or C++ callers would see mangled names");
        var retTok = Cur;
        var ret = ParseType("as a return type");
        var name = ExpectIdent("a function name");
        if (!Cur.IsPunct("("))
            throw Error(Cur, $"expected '(' after function name {name.Text} (only function declarations may start with {ExportMacro}), found {Cur.Describe()}");
        _i++;
        var ps = Parameters($"function {name.Text}", namesRequired: true);
        // Attribute macros may follow the parameter list, but never the export macro: that starts the next declaration.
        while (Cur.Kind == TokenKind.Identifier && _attributeMacros.Contains(Cur.Text) && Cur.Text != ExportMacro) _i++;
        if (Cur.IsIdent("__attribute__"))
            throw Error(Cur, "write attributes through a #define'd attribute macro, not inline __attribute__");
        Expect(";", $"after the declaration of function {name.Text}");
        Validate(ret, retTok, Use.Return, $"return type of function {name.Text}");
        Register(name, name.Text, "function");
        var f = new FunctionDeclaration(name.Text, start.Line, ret, ps) { Doc = doc };
        _decls.Add(f);
        _trailingDocTarget = d => f.Doc = AppendDoc(f.Doc, d);
    }
}
