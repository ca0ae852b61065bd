using System.Globalization;
using System.Text;

namespace Capnp.Native.Serialization;

/// <summary>Malformed JSON, or JSON that does not fit the schema (wrong value kind, out of range, unknown enumerant).</summary>
public sealed class JsonCodecException : CapnpFormatException
{
    /// <summary>Creates the exception with a message.</summary>
    public JsonCodecException(string message) : base(message) { }
    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public JsonCodecException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>Options of <see cref="JsonCodec"/>.</summary>
public sealed record class JsonOptions
{
    /// <summary>Default options: compact output, nesting depth 64, unknown fields ignored.</summary>
    public static JsonOptions Default { get; } = new();
    /// <summary>Pretty output, as <c>capnp convert binary:json</c> prints it (compact is <c>--short</c>, and C++ <c>JsonCodec</c>'s default).</summary>
    public bool Pretty { get; init; }
    /// <summary>Deepest array/object nesting accepted when decoding (C++: <c>setMaxNestingDepth</c>, default 64).</summary>
    public int MaxNestingDepth { get; init; } = 64;
    /// <summary>Reject object members that name no field (C++: <c>setRejectUnknownFields</c>); otherwise they are ignored.</summary>
    public bool RejectUnknownFields { get; init; }
}

/// <summary>
/// JSON encoding of Cap'n Proto values compatible with C++'s <c>capnp/compat/json.h</c> <c>JsonCodec</c> as
/// <c>capnp convert</c> uses it (0.9.2, <c>handleByAnnotation</c>): objects with the schema's field names;
/// every non-pointer field (Void as <c>null</c>) and group, pointers when not null, then the active union member
/// last; Int64/UInt64 as decimal strings, other integers as numbers; Float32/Float64 as numbers with C++'s digits, or
/// the strings <c>"NaN"</c>, <c>"Infinity"</c>, <c>"-Infinity"</c>; Data as an array of byte numbers; enums by name
/// (a value the schema does not know as its number); capabilities and AnyPointer cannot be encoded
/// (<see cref="NotSupportedException"/>, as C++ fails).
/// <para>
/// Annotations of <c>/capnp/compat/json.capnp</c> are applied as C++ applies them: <c>$Json.name</c> renames
/// fields, groups, union members and enumerants (<see cref="FieldSchema.JsonName"/>,
/// <see cref="EnumSchema.JsonNames"/>); <c>$Json.base64</c> and <c>$Json.hex</c> write a Data field as a padded
/// Base64 or lowercase hexadecimal string (<see cref="FieldSchema.JsonData"/>; not the elements of a List(Data),
/// as in C++); <c>$Json.flatten</c> (with its prefix) writes a struct or group field's members, prefixed, into
/// the parent object (<see cref="FieldSchema.JsonFlattenPrefix"/>); <c>$Json.discriminator</c> on a struct or a
/// named union adds a tag member naming the active member (the union's name by default when it is flattened; no tag
/// when unnamed), leaves Void members out, and with <c>valueName</c> writes the active member under that name
/// (<see cref="JsonDiscriminator"/>). Decoding follows C++'s: members of a discriminated union that come before its
/// tag are retried once the tag is known, and are ignored if it never comes. <c>$Json.notification</c> concerns
/// JSON-RPC, not values.
/// </para>
/// </summary>
/// <remarks>
/// Decoding follows C++ too: integers from numbers or strings (decimal, or hexadecimal after 0x, as kj parses them;
/// range checked, no fractions), floats from
/// numbers, strings (<c>"NaN"</c>, <c>"Infinity"</c>, ...) or <c>null</c> (NaN); Data from byte arrays; enums from
/// names (and, unlike C++, from numbers, so unknown values round-trip); Base64 and hex strings of annotated Data
/// fields (padding may be left out; unlike C++, which skips them, characters that are not Base64 or hex and
/// odd-length hex are errors); unknown members are ignored unless
/// <see cref="JsonOptions.RejectUnknownFields"/>; setting a union member sets the discriminant. Malformed JSON or
/// values that do not fit the schema throw <see cref="JsonCodecException"/>. Encoding reads under the message's
/// traversal and nesting limits.
/// </remarks>
public static class JsonCodec
{
    // ------------------------------------------------------------------ public API

    /// <summary>Encodes a struct as JSON text.</summary>
    /// <exception cref="NotSupportedException">The value holds a set capability or AnyPointer field.</exception>
    /// <exception cref="CapnpFormatException">The message is malformed or exceeds its reader's limits.</exception>
    public static string Encode(StructReader reader, StructSchema schema, JsonOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(schema);
        var node = EncodeStruct(reader, schema, null);
        bool multiline = false;
        return Render(node, 0, ref multiline, false, (options ?? JsonOptions.Default).Pretty);
    }

    /// <summary>Encodes a generated reader as JSON text.</summary>
    public static string Encode<T>(T reader, JsonOptions? options = null) where T : struct, IStructReader<T>, IStructSchemaProvider
        => Encode(reader.Raw, T.StructSchema, options);

    /// <summary>Decodes JSON text into <paramref name="builder"/> (fields named in the JSON are set; others are left as they are).</summary>
    /// <exception cref="JsonCodecException">The JSON is malformed or does not fit the schema.</exception>
    public static void Decode(string json, StructBuilder builder, StructSchema schema, JsonOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(schema);
        if (builder.IsNull) throw new ArgumentException("The builder is null.", nameof(builder));
        options ??= JsonOptions.Default;
        var root = new JsonParser(json, options.MaxNestingDepth).ParseDocument();
        new Decoder(options).DecodeObject(root, builder, schema, null, "");
    }

    /// <summary>Decodes JSON text into a generated builder.</summary>
    /// <exception cref="JsonCodecException">The JSON is malformed or does not fit the schema.</exception>
    public static void Decode<T>(string json, T builder, JsonOptions? options = null) where T : IStructBuilder<T>, IStructSchemaProvider
        => Decode(json, builder.Raw, T.StructSchema, options);

    /// <summary>Makes <paramref name="message"/>'s root a <typeparamref name="T"/> decoded from JSON text.</summary>
    /// <exception cref="JsonCodecException">The JSON is malformed or does not fit the schema.</exception>
    public static T DecodeRoot<T>(string json, MessageBuilder message, JsonOptions? options = null) where T : IStructBuilder<T>, IStructSchemaProvider
    {
        ArgumentNullException.ThrowIfNull(message);
        var root = message.InitRoot<T>();
        Decode(json, root, options);
        return root;
    }

    // ------------------------------------------------------------------ JSON values

    internal enum JsonKind : byte { Null, Bool, Number, String, Array, Object }

    internal sealed class JsonValue
    {
        public JsonKind Kind;
        public bool Bool;
        public double Number;
        public string? String;
        public List<JsonValue>? Items;
        public List<KeyValuePair<string, JsonValue>>? Members;

        public static readonly JsonValue Null = new() { Kind = JsonKind.Null };
        public static JsonValue Of(bool b) => new() { Kind = JsonKind.Bool, Bool = b };
        public static JsonValue Of(double d) => new() { Kind = JsonKind.Number, Number = d };
        public static JsonValue Of(string s) => new() { Kind = JsonKind.String, String = s };
    }

    // ------------------------------------------------------------------ encoding

    // disc: $Json.discriminator of a named union (from its group field), else the struct's own.
    private static JsonValue EncodeStruct(StructReader s, StructSchema schema, BrandContext? brand, JsonDiscriminator? disc = null)
    {
        TextFormat.EnsureStack();
        var members = new List<KeyValuePair<string, JsonValue>>();
        Gather(s, schema, brand, disc ?? schema.JsonDiscriminator, null, "", members, 0);
        return new JsonValue { Kind = JsonKind.Object, Members = members };
    }

    // C++ AnnotatedHandler::gatherForEncode: members of flattened structs and groups join their parent's object.
    // declName is the name of a flattened named union, its discriminator's default tag name.
    private static void Gather(StructReader s, StructSchema schema, BrandContext? brand, JsonDiscriminator? disc, string? declName,
        string prefix, List<KeyValuePair<string, JsonValue>> members, int depth)
    {
        if (depth > 64) throw new CapnpLimitExceededException("JSON flattening is nested too deeply.");
        string? tag = disc is null ? null : disc.Name ?? declName;
        foreach (var f in schema.Fields)
        {
            if (f.InUnion || !DynamicAccess.IsNonNull(s, f)) continue;
            if (f.JsonFlattenPrefix is { } p) GatherFlattened(s, f, brand, prefix + p, members, depth);
            else members.Add(new(prefix + f.JsonName, EncodeField(s, f, brand)));
        }
        // capnp convert's JsonCodec (handleByAnnotation) writes the active union member last, even when it is null.
        if (DynamicAccess.ActiveUnionMember(s, schema) is { } which)
        {
            if (tag != null) members.Add(new(prefix + tag, JsonValue.Of(which.JsonName)));
            if (which.JsonFlattenPrefix is { } p) GatherFlattened(s, which, brand, prefix + p, members, depth);
            else if (tag != null && !which.IsGroup && BrandContext.Resolve(which.Type, brand).Kind == SchemaTypeKind.Void) { } // the tag says it all
            else members.Add(new(prefix + (disc?.ValueName ?? which.JsonName), EncodeField(s, which, brand)));
        }
    }

    private static void GatherFlattened(StructReader s, FieldSchema f, BrandContext? brand, string prefix, List<KeyValuePair<string, JsonValue>> members, int depth)
    {
        if (f.IsGroup)
        {
            Gather(s, f.GroupSchema!, brand, f.JsonDiscriminator, f.Name, prefix, members, depth + 1);
            return;
        }
        var t = BrandContext.Resolve(f.Type, brand);
        var st = t.Struct!;
        Gather(s.ReadStruct((int)f.Offset, f.DefaultPointer), st, BrandContext.Enter(t, brand), st.JsonDiscriminator, null, prefix, members, depth + 1);
    }

    private static JsonValue EncodeField(StructReader s, FieldSchema f, BrandContext? brand)
    {
        if (f.IsGroup) return EncodeStruct(s, f.GroupSchema!, brand, f.JsonDiscriminator);
        var t = BrandContext.Resolve(f.Type, brand);
        int off = (int)f.Offset;
        return t.Kind switch
        {
            SchemaTypeKind.Text => JsonValue.Of(Encoding.UTF8.GetString(DynamicAccess.ReadTextBytes(s, f))),
            SchemaTypeKind.Data => f.JsonData switch
            {
                // kj::encodeBase64 (padded, no line breaks) and kj::encodeHex (lowercase), as C++'s handlers write them.
                JsonDataEncoding.Base64 => JsonValue.Of(Convert.ToBase64String(s.ReadData(off, f.DefaultPointer).Span)),
                JsonDataEncoding.Hex => JsonValue.Of(Convert.ToHexStringLower(s.ReadData(off, f.DefaultPointer).Span)),
                _ => Bytes(s.ReadData(off, f.DefaultPointer).Span),
            },
            SchemaTypeKind.Struct => EncodeStruct(s.ReadStruct(off, f.DefaultPointer), t.Struct!, BrandContext.Enter(t, brand)),
            SchemaTypeKind.List => EncodeList(s.ReadList(off, f.DefaultPointer), t.ElementType!, brand),
            SchemaTypeKind.Interface => throw new NotSupportedException($"Field '{f.Name}': capabilities have no JSON encoding."),
            SchemaTypeKind.AnyPointer => throw new NotSupportedException($"Field '{f.Name}': AnyPointer has no JSON encoding."),
            _ => Scalar(t, DynamicAccess.ReadBits(s, f)),
        };
    }

    private static JsonValue Bytes(ReadOnlySpan<byte> bytes)
    {
        var items = new List<JsonValue>(bytes.Length);
        foreach (var b in bytes) items.Add(JsonValue.Of(b));
        return new JsonValue { Kind = JsonKind.Array, Items = items };
    }

    private static JsonValue EncodeList(ListReader list, TypeSchema element, BrandContext? brand)
    {
        TextFormat.EnsureStack();
        element = BrandContext.Resolve(element, brand);
        int n = list.Count;
        var items = new List<JsonValue>(Math.Min(n, 1024));
        switch (element.Kind)
        {
            case SchemaTypeKind.Void: for (int i = 0; i < n; i++) items.Add(JsonValue.Null); break;
            case SchemaTypeKind.Bool: { var l = list.AsBits(); for (int i = 0; i < n; i++) items.Add(JsonValue.Of(l[i])); break; }
            case SchemaTypeKind.Int8: case SchemaTypeKind.UInt8: { var l = list.AsPrimitives<byte>(); for (int i = 0; i < n; i++) items.Add(Scalar(element, l[i])); break; }
            case SchemaTypeKind.Int16: case SchemaTypeKind.UInt16: case SchemaTypeKind.Enum: { var l = list.AsPrimitives<ushort>(); for (int i = 0; i < n; i++) items.Add(Scalar(element, l[i])); break; }
            case SchemaTypeKind.Int32: case SchemaTypeKind.UInt32: case SchemaTypeKind.Float32: { var l = list.AsPrimitives<uint>(); for (int i = 0; i < n; i++) items.Add(Scalar(element, l[i])); break; }
            case SchemaTypeKind.Int64: case SchemaTypeKind.UInt64: case SchemaTypeKind.Float64: { var l = list.AsPrimitives<ulong>(); for (int i = 0; i < n; i++) items.Add(Scalar(element, l[i])); break; }
            case SchemaTypeKind.Text: { var l = list.AsTextList(); for (int i = 0; i < n; i++) items.Add(JsonValue.Of(Encoding.UTF8.GetString(l.GetBytes(i)))); break; }
            case SchemaTypeKind.Data: { var l = list.AsDataList(); for (int i = 0; i < n; i++) items.Add(Bytes(l[i].Span)); break; }
            case SchemaTypeKind.List: { var l = list.AsLists(); for (int i = 0; i < n; i++) items.Add(EncodeList(l[i], element.ElementType!, brand)); break; }
            case SchemaTypeKind.Struct: { var l = list.AsStructs(); var st = element.Struct!; var inner = BrandContext.Enter(element, brand); for (int i = 0; i < n; i++) items.Add(EncodeStruct(l[i].Raw, st, inner)); break; }
            case SchemaTypeKind.Interface: if (n > 0) throw new NotSupportedException("Capabilities have no JSON encoding."); break;
            default: if (n > 0) throw new NotSupportedException("AnyPointer has no JSON encoding."); break;
        }
        return new JsonValue { Kind = JsonKind.Array, Items = items };
    }

    private static JsonValue Scalar(TypeSchema t, ulong bits)
    {
        switch (t.Kind)
        {
            case SchemaTypeKind.Void: return JsonValue.Null;
            case SchemaTypeKind.Bool: return JsonValue.Of((bits & 1) != 0);
            case SchemaTypeKind.Int8: return JsonValue.Of((sbyte)bits);
            case SchemaTypeKind.Int16: return JsonValue.Of((short)bits);
            case SchemaTypeKind.Int32: return JsonValue.Of((int)bits);
            case SchemaTypeKind.UInt8: return JsonValue.Of((byte)bits);
            case SchemaTypeKind.UInt16: return JsonValue.Of((ushort)bits);
            case SchemaTypeKind.UInt32: return JsonValue.Of((uint)bits);
            // Beyond 2^53 a JSON number loses precision, so 64-bit integers are strings.
            case SchemaTypeKind.Int64: return JsonValue.Of(((long)bits).ToString(CultureInfo.InvariantCulture));
            case SchemaTypeKind.UInt64: return JsonValue.Of(bits.ToString(CultureInfo.InvariantCulture));
            case SchemaTypeKind.Float32: return Float(BitConverter.Int32BitsToSingle((int)(uint)bits));
            case SchemaTypeKind.Float64: return Float(BitConverter.Int64BitsToDouble((long)bits));
            case SchemaTypeKind.Enum:
            {
                ushort v = (ushort)bits;
                return v < t.Enum!.JsonNames.Count ? JsonValue.Of(t.Enum.JsonNames[v]) : JsonValue.Of(v);
            }
            default: throw new ArgumentOutOfRangeException(nameof(t), t.Kind, "not a scalar type");
        }
    }

    // JSON has no NaN or infinities: C++ writes them as strings.
    private static JsonValue Float(double d)
        => double.IsNaN(d) ? JsonValue.Of("NaN") : double.IsPositiveInfinity(d) ? JsonValue.Of("Infinity")
            : double.IsNegativeInfinity(d) ? JsonValue.Of("-Infinity") : JsonValue.Of(d);

    // ------------------------------------------------------------------ rendering (C++ JsonCodec::Impl::encodeRaw)

    private static string Render(JsonValue v, int indent, ref bool multiline, bool hasPrefix, bool pretty)
    {
        switch (v.Kind)
        {
            case JsonKind.Null: return "null";
            case JsonKind.Bool: return v.Bool ? "true" : "false";
            case JsonKind.Number: return KjNumbers.Double(v.Number);
            case JsonKind.String: return Quote(v.String!);
            case JsonKind.Array:
            {
                int sub = indent + (v.Items!.Count > 1 ? 1 : 0);
                bool childMultiline = false;
                var parts = new List<string>(v.Items.Count);
                foreach (var item in v.Items) parts.Add(Render(item, sub, ref childMultiline, false, pretty));
                return "[" + RenderList(parts, childMultiline, indent, ref multiline, hasPrefix, pretty) + "]";
            }
            default:
            {
                int sub = indent + (v.Members!.Count > 1 ? 1 : 0);
                bool childMultiline = false;
                var parts = new List<string>(v.Members.Count);
                string colon = pretty ? ": " : ":";
                foreach (var (name, value) in v.Members) parts.Add(Quote(name) + colon + Render(value, sub, ref childMultiline, true, pretty));
                return "{" + RenderList(parts, childMultiline, indent, ref multiline, hasPrefix, pretty) + "}";
            }
        }
    }

    private static string RenderList(List<string> parts, bool hasMultilineElement, int indent, ref bool multiline, bool hasPrefix, bool pretty)
    {
        if (!pretty) return string.Join(",", parts);
        int maxChildSize = 0;
        foreach (var p in parts) maxChildSize = Math.Max(maxChildSize, Encoding.UTF8.GetByteCount(p));
        if (parts.Count > 1 && (hasMultilineElement || maxChildSize > 50))
        {
            // Each element on its own line; after a "name": prefix the first one moves to the next line too.
            var indentSpace = new string(' ', (indent + 1) * 2);
            multiline = true;
            return (hasPrefix ? "\n" + indentSpace : " ") + string.Join(",\n" + indentSpace, parts) + " ";
        }
        return string.Join(", ", parts);
    }

    private static string Quote(string s)
    {
        var sb = new StringBuilder(s.Length + 2).Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (c < 0x20) sb.Append("\\u00").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }

    // ------------------------------------------------------------------ parsing

    private ref struct JsonParser
    {
        private readonly ReadOnlySpan<char> _s;
        private readonly int _maxDepth;
        private int _pos;
        private int _depth;

        public JsonParser(string s, int maxDepth) { _s = s; _maxDepth = maxDepth > 0 ? maxDepth : 64; _pos = 0; _depth = 0; }

        public JsonValue ParseDocument()
        {
            var v = ParseValue();
            SkipWhitespace();
            // C++ stops at a NUL as at the end of input.
            if (_pos < _s.Length && _s[_pos] != '\0') throw Error("Input remains after the JSON value");
            return v;
        }

        private readonly JsonCodecException Error(string what) => new($"{what} at offset {_pos} of the JSON input.");

        private void SkipWhitespace()
        {
            while (_pos < _s.Length && _s[_pos] is ' ' or '\n' or '\r' or '\t') _pos++;
        }

        private readonly char Peek() => _pos < _s.Length ? _s[_pos] : throw Error("JSON message ends prematurely");

        private void Expect(char c)
        {
            if (Peek() != c) throw Error($"Expected '{c}'");
            _pos++;
        }

        private void ExpectWord(string word)
        {
            if (!_s[_pos..].StartsWith(word, StringComparison.Ordinal)) throw Error("Unexpected input");
            _pos += word.Length;
        }

        private JsonValue ParseValue()
        {
            SkipWhitespace();
            JsonValue v;
            switch (Peek())
            {
                case 'n': ExpectWord("null"); v = JsonValue.Null; break;
                case 't': ExpectWord("true"); v = JsonValue.Of(true); break;
                case 'f': ExpectWord("false"); v = JsonValue.Of(false); break;
                case '"': v = JsonValue.Of(ParseString()); break;
                case '[': v = ParseArray(); break;
                case '{': v = ParseObject(); break;
                case '-': case >= '0' and <= '9': v = ParseNumber(); break;
                default: throw Error("Unexpected input");
            }
            SkipWhitespace();
            return v;
        }

        private void Enter()
        {
            if (++_depth > _maxDepth) throw Error("JSON message nested too deeply");
        }

        private JsonValue ParseArray()
        {
            Expect('['); Enter();
            var items = new List<JsonValue>();
            SkipWhitespace();
            while (Peek() != ']')
            {
                if (items.Count > 0) { Expect(','); }
                items.Add(ParseValue());
                SkipWhitespace();
            }
            _pos++; _depth--;
            return new JsonValue { Kind = JsonKind.Array, Items = items };
        }

        private JsonValue ParseObject()
        {
            Expect('{'); Enter();
            var members = new List<KeyValuePair<string, JsonValue>>();
            SkipWhitespace();
            while (Peek() != '}')
            {
                if (members.Count > 0) { Expect(','); SkipWhitespace(); }
                if (Peek() != '"') throw Error("Expected a member name");
                var name = ParseString();
                SkipWhitespace();
                Expect(':');
                members.Add(new(name, ParseValue()));
                SkipWhitespace();
            }
            _pos++; _depth--;
            return new JsonValue { Kind = JsonKind.Object, Members = members };
        }

        private string ParseString()
        {
            Expect('"');
            var sb = new StringBuilder();
            while (true)
            {
                char c = Peek();
                _pos++;
                if (c == '"') return sb.ToString();
                if (c != '\\') { sb.Append(c); continue; }
                char e = Peek();
                _pos++;
                switch (e)
                {
                    case '"': sb.Append('"'); break;
                    case '\\': sb.Append('\\'); break;
                    case '/': sb.Append('/'); break;
                    case 'b': sb.Append('\b'); break;
                    case 'f': sb.Append('\f'); break;
                    case 'n': sb.Append('\n'); break;
                    case 'r': sb.Append('\r'); break;
                    case 't': sb.Append('\t'); break;
                    case 'u':
                        if (_pos + 4 > _s.Length || !int.TryParse(_s.Slice(_pos, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int code))
                            throw Error("Invalid unicode escape");
                        sb.Append((char)code);
                        _pos += 4;
                        break;
                    default: throw Error("Invalid escape in JSON string");
                }
            }
        }

        private JsonValue ParseNumber()
        {
            int start = _pos;
            if (_s[_pos] == '-') _pos++;
            if (_pos < _s.Length && _s[_pos] == '0') _pos++;
            else
            {
                if (_pos >= _s.Length || _s[_pos] is < '1' or > '9') throw Error("Expected a number");
                while (_pos < _s.Length && char.IsAsciiDigit(_s[_pos])) _pos++;
            }
            if (_pos < _s.Length && _s[_pos] == '.') { _pos++; while (_pos < _s.Length && char.IsAsciiDigit(_s[_pos])) _pos++; }
            if (_pos < _s.Length && _s[_pos] is 'e' or 'E')
            {
                _pos++;
                if (_pos < _s.Length && _s[_pos] is '+' or '-') _pos++;
                while (_pos < _s.Length && char.IsAsciiDigit(_s[_pos])) _pos++;
            }
            if (!double.TryParse(_s[start.._pos], NumberStyles.Float, CultureInfo.InvariantCulture, out double d))
                throw Error("Invalid number");
            return JsonValue.Of(d);
        }
    }

    // ------------------------------------------------------------------ decoding into builders

    private sealed class Decoder
    {
        private readonly JsonOptions _options;
        public Decoder(JsonOptions options) => _options = options;

        private static JsonCodecException Mismatch(string path, string expected, JsonValue got)
            => new($"{(path.Length == 0 ? "Root" : "'" + path + "'")}: expected {expected}, got JSON {got.Kind.ToString().ToLowerInvariant()}.");

        public void DecodeObject(JsonValue v, StructBuilder b, StructSchema schema, BrandContext? brand, string path, JsonDiscriminator? disc = null)
        {
            TextFormat.EnsureStack();
            if (v.Kind != JsonKind.Object) throw Mismatch(path, "an object", v);
            disc ??= schema.JsonDiscriminator;
            if (disc != null || schema.HasFlattenedFields)
            {
                DecodeAnnotatedObject(v, b, new Layout(schema, brand, disc, null, 0), path);
                return;
            }
            foreach (var (name, value) in v.Members!)
            {
                var f = schema.FindJsonField(name);
                if (f is null)
                {
                    if (_options.RejectUnknownFields) throw new JsonCodecException($"Unknown field '{Join(path, name)}' of {schema.Name}.");
                    continue;
                }
                DecodeField(f, value, b, schema, brand, Join(path, name));
            }
        }

        private static string Join(string path, string name) => path.Length == 0 ? name : path + "." + name;

        // ---- $Json.flatten and $Json.discriminator (C++ AnnotatedHandler::decode/decodeField)

        private enum NameKind : byte { Normal, Flattened, UnionTag, FlattenedFromUnion, UnionValue }

        private readonly record struct NameInfo(NameKind Kind, FieldSchema? Field, int PrefixLength);

        /// <summary>The JSON member names of a struct or group, with its flattened members' names (C++ fieldsByName).</summary>
        private sealed class Layout
        {
            public readonly StructSchema Schema;
            public readonly BrandContext? Brand;
            public readonly Dictionary<string, NameInfo> Names = new();
            public readonly Dictionary<string, FieldSchema> TagValues = new();
            public readonly Dictionary<FieldSchema, Layout> Children = new(ReferenceEqualityComparer.Instance);

            public Layout(StructSchema schema, BrandContext? brand, JsonDiscriminator? disc, string? declName, int depth)
            {
                if (depth > 64) throw new JsonCodecException($"JSON flattening of {schema.Name} is nested too deeply.");
                Schema = schema; Brand = brand;
                if (disc != null)
                {
                    if ((disc.Name ?? declName) is { } tag) Names[tag] = new(NameKind.UnionTag, null, 0);
                    if (disc.ValueName is { } valueName) Names[valueName] = new(NameKind.UnionValue, null, 0);
                }
                foreach (var f in schema.Fields)
                {
                    if (f.JsonFlattenPrefix is { } prefix)
                    {
                        Layout child;
                        if (f.IsGroup) child = new Layout(f.GroupSchema!, brand, f.JsonDiscriminator, f.Name, depth + 1);
                        else
                        {
                            var t = BrandContext.Resolve(f.Type, brand);
                            child = new Layout(t.Struct!, BrandContext.Enter(t, brand), t.Struct!.JsonDiscriminator, null, depth + 1);
                        }
                        Children[f] = child;
                        var kind = f.InUnion ? NameKind.FlattenedFromUnion : NameKind.Flattened;
                        foreach (var name in child.Names.Keys)
                        {
                            if (Names.TryGetValue(prefix + name, out var existing))
                            {
                                if (existing.Kind != NameKind.FlattenedFromUnion || kind != NameKind.FlattenedFromUnion)
                                    throw new JsonCodecException($"{schema.Name}: flattened members named '{prefix + name}' are not mutually exclusive.");
                            }
                            else Names[prefix + name] = new(kind, f, prefix.Length);
                        }
                    }
                    else if (!(f.InUnion && disc?.ValueName != null)) Names.TryAdd(f.JsonName, new(NameKind.Normal, f, 0));
                    if (f.InUnion) TagValues.TryAdd(f.JsonName, f);
                }
            }
        }

        private void DecodeAnnotatedObject(JsonValue v, StructBuilder b, Layout layout, string path)
        {
            // Members of a flattened union may come before its tag: they are retried until no more progress is made.
            var unionsSeen = new HashSet<string>();
            var retries = new List<KeyValuePair<string, JsonValue>>();
            foreach (var m in v.Members!)
                if (!DecodeMember(layout, m.Key, m.Key, m.Value, b, "", unionsSeen, path)) retries.Add(m);
            while (retries.Count > 0)
            {
                var again = new List<KeyValuePair<string, JsonValue>>();
                foreach (var m in retries)
                    if (!DecodeMember(layout, m.Key, m.Key, m.Value, b, "", unionsSeen, path)) again.Add(m);
                if (again.Count == retries.Count) break; // no progress: the rest is ignored, as in C++
                retries = again;
            }
        }

        // key identifies the (flattened) struct or group whose union a tag selects, as C++ uses the discriminant's address.
        private bool DecodeMember(Layout layout, string fullName, string name, JsonValue value, StructBuilder b, string key, HashSet<string> unionsSeen, string path)
        {
            if (!layout.Names.TryGetValue(name, out var info))
            {
                if (_options.RejectUnknownFields) throw new JsonCodecException($"Unknown field '{Join(path, fullName)}' of {layout.Schema.Name}.");
                return true;
            }
            switch (info.Kind)
            {
                case NameKind.Normal:
                    DecodeField(info.Field!, value, b, layout.Schema, layout.Brand, Join(path, fullName));
                    return true;
                case NameKind.Flattened:
                    return DecodeFlattened(layout, info.Field!, fullName, name.Substring(info.PrefixLength), value, b, key, unionsSeen, path);
                case NameKind.UnionTag:
                {
                    if (value.Kind != JsonKind.String) throw Mismatch(Join(path, fullName), "a string", value);
                    if (layout.TagValues.TryGetValue(value.String!, out var member))
                    {
                        ClearMember(member, b, layout.Schema);
                        unionsSeen.Add(key);
                    }
                    return true;
                }
                case NameKind.FlattenedFromUnion:
                {
                    if (!unionsSeen.Contains(key)) return false;
                    var variant = ActiveMember(b, layout, fullName, path);
                    if (variant.JsonFlattenPrefix is null) throw new JsonCodecException($"'{Join(path, fullName)}': the active member of {layout.Schema.Name}'s union is not flattened.");
                    return DecodeFlattened(layout, variant, fullName, name.Substring(info.PrefixLength), value, b, key, unionsSeen, path);
                }
                default: // UnionValue
                {
                    if (!unionsSeen.Contains(key)) return false;
                    DecodeField(ActiveMember(b, layout, fullName, path), value, b, layout.Schema, layout.Brand, Join(path, fullName));
                    return true;
                }
            }
        }

        private bool DecodeFlattened(Layout layout, FieldSchema f, string fullName, string name, JsonValue value, StructBuilder b, string key, HashSet<string> unionsSeen, string path)
        {
            var child = layout.Children[f];
            var target = f.IsGroup ? b : b.GetStruct((int)f.Offset, child.Schema.DataWords, child.Schema.PointerCount, f.DefaultPointer);
            return DecodeMember(child, fullName, name, value, target, key + "/" + f.Name, unionsSeen, path);
        }

        private static FieldSchema ActiveMember(StructBuilder b, Layout layout, string fullName, string path)
            => DynamicAccess.ActiveUnionMember(b.AsReader(), layout.Schema)
                ?? throw new JsonCodecException($"'{Join(path, fullName)}': {layout.Schema.Name}'s union has an unknown member active.");

        // C++ DynamicStruct::Builder::clear: makes the member active, zeroed (a group: each of its members, and its
        // union set to its first member, zeroed).
        private static void ClearMember(FieldSchema f, StructBuilder b, StructSchema owner)
        {
            if (f.InUnion) b.SetWhich((int)owner.DiscriminantOffset, f.DiscriminantValue);
            if (f.IsGroup)
            {
                var g = f.GroupSchema!;
                foreach (var member in g.Fields)
                    if (!member.InUnion || member.DiscriminantValue == 0) ClearMember(member, b, g);
            }
            else if (f.Type.IsPointer) b.ClearPointer((int)f.Offset);
            else WriteBits(b, f, 0);
        }

        private void DecodeField(FieldSchema f, JsonValue v, StructBuilder b, StructSchema owner, BrandContext? brand, string path)
        {
            if (f.InUnion) b.SetWhich((int)owner.DiscriminantOffset, f.DiscriminantValue);
            if (f.IsGroup) { DecodeObject(v, b, f.GroupSchema!, brand, path, f.JsonDiscriminator); return; }
            var t = BrandContext.Resolve(f.Type, brand);
            int off = (int)f.Offset;
            switch (t.Kind)
            {
                case SchemaTypeKind.Void: return;
                case SchemaTypeKind.Text:
                    if (v.Kind != JsonKind.String) throw Mismatch(path, "a string", v);
                    b.WriteText(off, v.String);
                    return;
                case SchemaTypeKind.Data:
                    b.WriteData(off, f.JsonData == JsonDataEncoding.ByteArray ? DataBytes(v, path) : EncodedBytes(v, f.JsonData, path));
                    return;
                case SchemaTypeKind.Struct:
                {
                    var st = t.Struct!;
                    if (v.Kind != JsonKind.Object) throw Mismatch(path, "an object", v);
                    DecodeObject(v, b.InitStruct(off, st.DataWords, st.PointerCount), st, BrandContext.Enter(t, brand), path);
                    return;
                }
                case SchemaTypeKind.List:
                    if (v.Kind != JsonKind.Array) throw Mismatch(path, "an array", v);
                    DecodeList(v.Items!, t.ElementType!, b.GetAnyPointer(off), brand, path);
                    return;
                case SchemaTypeKind.Interface: throw new JsonCodecException($"'{path}': capabilities cannot be decoded from JSON.");
                case SchemaTypeKind.AnyPointer: throw new JsonCodecException($"'{path}': AnyPointer cannot be decoded from JSON.");
                default:
                    WriteBits(b, f, ScalarBits(t, v, path) ^ f.DefaultBits);
                    return;
            }
        }

        private static void WriteBits(StructBuilder b, FieldSchema f, ulong bits)
        {
            int off = (int)f.Offset;
            switch (f.Type.DataBits)
            {
                case 1: b.WriteBool(off, bits != 0); break;
                case 8: b.WriteUInt8(off, (byte)bits); break;
                case 16: b.WriteUInt16(off, (ushort)bits); break;
                case 32: b.WriteUInt32(off, (uint)bits); break;
                case 64: b.WriteUInt64(off, bits); break;
            }
        }

        private static byte[] DataBytes(JsonValue v, string path)
        {
            if (v.Kind != JsonKind.Array) throw Mismatch(path, "an array of bytes", v);
            var bytes = new byte[v.Items!.Count];
            for (int i = 0; i < bytes.Length; i++)
            {
                var x = v.Items[i];
                if (x.Kind != JsonKind.Number || x.Number != Math.Floor(x.Number) || x.Number is < 0 or > 255)
                    throw new JsonCodecException($"'{path}': number in byte array is not an integer in [0, 255].");
                bytes[i] = (byte)x.Number;
            }
            return bytes;
        }

        // $Json.base64 / $Json.hex. Padding may be left out, as kj::decodeBase64 allows; characters outside the
        // alphabet (which kj skips) and odd-length hex are rejected.
        private static byte[] EncodedBytes(JsonValue v, JsonDataEncoding encoding, string path)
        {
            if (v.Kind != JsonKind.String) throw Mismatch(path, encoding == JsonDataEncoding.Base64 ? "a Base64 string" : "a hex string", v);
            var text = v.String!;
            try
            {
                if (encoding == JsonDataEncoding.Hex) return Convert.FromHexString(text);
                var trimmed = string.Concat(text.Where(c => c is not (' ' or '\t' or '\r' or '\n'))).TrimEnd('=');
                int rest = trimmed.Length % 4;
                if (rest == 1) throw new FormatException();
                return Convert.FromBase64String(rest == 0 ? trimmed : trimmed + new string('=', 4 - rest));
            }
            catch (FormatException e)
            {
                throw new JsonCodecException($"'{path}': \"{text}\" is not {(encoding == JsonDataEncoding.Base64 ? "Base64" : "hexadecimal")}.", e);
            }
        }

        private void DecodeList(List<JsonValue> items, TypeSchema element, AnyPointerBuilder target, BrandContext? brand, string path)
        {
            TextFormat.EnsureStack();
            element = BrandContext.Resolve(element, brand);
            int n = items.Count;
            switch (element.Kind)
            {
                case SchemaTypeKind.Struct:
                {
                    var st = element.Struct!;
                    var list = target.InitStructList(n, st.DataWords, st.PointerCount);
                    var inner = BrandContext.Enter(element, brand);
                    for (int i = 0; i < n; i++)
                    {
                        if (items[i].Kind != JsonKind.Object) throw Mismatch($"{path}[{i}]", "an object", items[i]);
                        DecodeObject(items[i], list.GetStruct(i), st, inner, $"{path}[{i}]");
                    }
                    return;
                }
                case SchemaTypeKind.Text: case SchemaTypeKind.Data: case SchemaTypeKind.List:
                {
                    var list = target.InitList(ElementSize.Pointer, n);
                    for (int i = 0; i < n; i++)
                    {
                        var p = list.GetPointer(i);
                        var item = items[i];
                        string at = $"{path}[{i}]";
                        if (element.Kind == SchemaTypeKind.Text)
                        {
                            if (item.Kind != JsonKind.String) throw Mismatch(at, "a string", item);
                            p.SetText(item.String);
                        }
                        else if (element.Kind == SchemaTypeKind.Data) p.SetData(DataBytes(item, at));
                        else
                        {
                            if (item.Kind != JsonKind.Array) throw Mismatch(at, "an array", item);
                            DecodeList(item.Items!, element.ElementType!, p, brand, at);
                        }
                    }
                    return;
                }
                case SchemaTypeKind.Interface: case SchemaTypeKind.AnyPointer:
                    throw new JsonCodecException($"'{path}': lists of capabilities or AnyPointer cannot be decoded from JSON.");
                default:
                {
                    var size = element.Kind switch
                    {
                        SchemaTypeKind.Void => ElementSize.Void,
                        SchemaTypeKind.Bool => ElementSize.Bit,
                        _ => element.DataBits switch { 8 => ElementSize.Byte, 16 => ElementSize.TwoBytes, 32 => ElementSize.FourBytes, _ => ElementSize.EightBytes },
                    };
                    var list = target.InitList(size, n);
                    for (int i = 0; i < n; i++)
                    {
                        ulong bits = ScalarBits(element, items[i], $"{path}[{i}]");
                        switch (size)
                        {
                            case ElementSize.Bit: list.SetBool(i, bits != 0); break;
                            case ElementSize.Byte: list.Set(i, (byte)bits); break;
                            case ElementSize.TwoBytes: list.Set(i, (ushort)bits); break;
                            case ElementSize.FourBytes: list.Set(i, (uint)bits); break;
                            case ElementSize.EightBytes: list.Set(i, bits); break;
                        }
                    }
                    return;
                }
            }
        }

        /// <summary>The bits of a scalar value of type <paramref name="t"/> given as JSON.</summary>
        private static ulong ScalarBits(TypeSchema t, JsonValue v, string path)
        {
            switch (t.Kind)
            {
                case SchemaTypeKind.Void: return 0;
                case SchemaTypeKind.Bool:
                    if (v.Kind != JsonKind.Bool) throw Mismatch(path, "a boolean", v);
                    return v.Bool ? 1UL : 0;
                case SchemaTypeKind.Int8: return (byte)(sbyte)Signed(v, path, sbyte.MinValue, sbyte.MaxValue);
                case SchemaTypeKind.Int16: return (ushort)(short)Signed(v, path, short.MinValue, short.MaxValue);
                case SchemaTypeKind.Int32: return (uint)(int)Signed(v, path, int.MinValue, int.MaxValue);
                case SchemaTypeKind.Int64: return (ulong)Signed(v, path, long.MinValue, long.MaxValue);
                case SchemaTypeKind.UInt8: return Unsigned(v, path, byte.MaxValue);
                case SchemaTypeKind.UInt16: return Unsigned(v, path, ushort.MaxValue);
                case SchemaTypeKind.UInt32: return Unsigned(v, path, uint.MaxValue);
                case SchemaTypeKind.UInt64: return Unsigned(v, path, ulong.MaxValue);
                case SchemaTypeKind.Float32: return (uint)BitConverter.SingleToInt32Bits((float)FloatValue(v, path));
                case SchemaTypeKind.Float64: return (ulong)BitConverter.DoubleToInt64Bits(FloatValue(v, path));
                case SchemaTypeKind.Enum:
                    if (v.Kind == JsonKind.String)
                    {
                        int i = t.Enum!.IndexOfJsonName(v.String!);
                        if (i < 0) throw new JsonCodecException($"'{path}': '{v.String}' is not an enumerant of {t.Enum.Name}.");
                        return (ulong)i;
                    }
                    if (v.Kind == JsonKind.Number) return Unsigned(v, path, ushort.MaxValue);
                    throw Mismatch(path, "an enumerant name", v);
                default: throw new JsonCodecException($"'{path}': not a scalar field.");
            }
        }

        // C++ converts JSON numbers (doubles) to integers only when exact and in range; strings parse as decimal.
        private static long Signed(JsonValue v, string path, long min, long max)
        {
            long r;
            if (v.Kind == JsonKind.String)
            {
                if (!TryParseC(v.String!, out bool negative, out ulong magnitude) || magnitude > (negative ? 1UL << 63 : long.MaxValue))
                    throw new JsonCodecException($"'{path}': \"{v.String}\" is not an integer in range.");
                r = negative ? (long)(0 - magnitude) : (long)magnitude;
            }
            else if (v.Kind == JsonKind.Number)
            {
                double d = v.Number;
                if (d != Math.Floor(d) || d < -9.2233720368547758e18 || d >= 9.2233720368547758e18) throw new JsonCodecException($"'{path}': {KjNumbers.Double(d)} is not an integer in range.");
                r = (long)d;
            }
            else throw Mismatch(path, "an integer", v);
            if (r < min || r > max) throw new JsonCodecException($"'{path}': {r} is out of range [{min}, {max}].");
            return r;
        }

        private static ulong Unsigned(JsonValue v, string path, ulong max)
        {
            ulong r;
            if (v.Kind == JsonKind.String)
            {
                if (!TryParseC(v.String!, out bool negative, out r) || negative)
                    throw new JsonCodecException($"'{path}': \"{v.String}\" is not an unsigned integer in range.");
            }
            else if (v.Kind == JsonKind.Number)
            {
                double d = v.Number;
                if (d != Math.Floor(d) || d < 0 || d >= 1.8446744073709552e19) throw new JsonCodecException($"'{path}': {KjNumbers.Double(d)} is not an unsigned integer in range.");
                r = (ulong)d;
            }
            else throw Mismatch(path, "an unsigned integer", v);
            if (r > max) throw new JsonCodecException($"'{path}': {r} is out of range [0, {max}].");
            return r;
        }

        // C++'s kj::nan() (a positive quiet NaN); .NET's double.NaN has the sign bit set, which would change the bits.
        private static readonly double QuietNaN = BitConverter.Int64BitsToDouble(0x7ff8000000000000);

        /// <summary>
        /// Integers in strings as kj's parseAs does (strtoll/strtoull): leading white space, a sign, and hexadecimal
        /// when the text starts with 0x (or -0x); the whole text must be the number. False on bad syntax or overflow.
        /// </summary>
        private static bool TryParseC(string s, out bool negative, out ulong magnitude)
        {
            bool hex = s.StartsWith("0x", StringComparison.OrdinalIgnoreCase) || s.StartsWith("-0x", StringComparison.OrdinalIgnoreCase);
            int i = 0;
            while (i < s.Length && s[i] is ' ' or '\t' or '\n' or '\v' or '\f' or '\r') i++;
            negative = false;
            if (i < s.Length && s[i] is '+' or '-') { negative = s[i] == '-'; i++; }
            if (hex && i + 1 < s.Length && s[i] == '0' && s[i + 1] is 'x' or 'X') i += 2;
            int start = i;
            magnitude = 0;
            uint radix = hex ? 16u : 10u;
            for (; i < s.Length; i++)
            {
                uint d = s[i] switch { >= '0' and <= '9' => (uint)(s[i] - '0'), >= 'a' and <= 'f' => (uint)(s[i] - 'a' + 10), >= 'A' and <= 'F' => (uint)(s[i] - 'A' + 10), _ => 99 };
                if (d >= radix) return false;
                if (magnitude > (ulong.MaxValue - d) / radix) return false;
                magnitude = magnitude * radix + d;
            }
            return i > start;
        }

        private static double FloatValue(JsonValue v, string path)
        {
            switch (v.Kind)
            {
                case JsonKind.Null: return QuietNaN;
                case JsonKind.Number: return v.Number;
                case JsonKind.String:
                    // strtod skips leading white space only; the rest must be the number.
                    var s = v.String!.TrimStart(' ', '\t', '\n', '\v', '\f', '\r');
                    // strtod's spellings, as C++ parses them.
                    switch (s.ToLowerInvariant())
                    {
                        case "nan": case "+nan": return QuietNaN;
                        case "-nan": return -QuietNaN;
                        case "infinity": case "inf": case "+infinity": case "+inf": return double.PositiveInfinity;
                        case "-infinity": case "-inf": return double.NegativeInfinity;
                    }
                    if (double.TryParse(s, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out double d)) return d;
                    throw new JsonCodecException($"'{path}': \"{v.String}\" is not a number.");
                default: throw Mismatch(path, "a number", v);
            }
        }
    }
}
