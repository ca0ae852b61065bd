using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;

namespace Capnp.Native.Serialization;

/// <summary>
/// Cap'n Proto's text format (schema-language struct literals), exactly as the C++ implementation (0.9.2) prints
/// it: <see cref="Format(StructReader, StructSchema)"/> is C++ <c>kj::str(reader)</c> / <c>capnp decode --short</c>,
/// <see cref="FormatPretty(StructReader, StructSchema)"/> is <c>prettyPrint(reader)</c> / <c>capnp decode</c>.
/// Generated readers and builders use it for <c>ToString()</c>.
/// </summary>
/// <remarks>
/// Fields print in schema order: every non-pointer field (Void too) and group, pointers when not null, and the
/// active union member (a null pointer member only when its discriminant is not 0). Text and Data are C-escaped (Data escapes bytes above
/// 0x7f in octal); floats use C++'s shortest of 15 (float: 6) or 17 (float: 8) significant digits; unknown enum
/// values print as <c>(n)</c>; capabilities as <c>&lt;external capability&gt;</c>, AnyPointer as
/// <c>&lt;opaque pointer&gt;</c>. Reading is charged against the message's traversal and nesting limits, so hostile
/// input gives <see cref="CapnpFormatException"/> (or <see cref="CapnpLimitExceededException"/>), never a hang.
/// </remarks>
public static class TextFormat
{
    /// <summary>The one-line text form of <paramref name="reader"/> (what C++ <c>kj::str()</c> gives).</summary>
    /// <exception cref="CapnpFormatException">The message is malformed or exceeds its reader's limits.</exception>
    public static string Format(StructReader reader, StructSchema schema)
        => PrintStruct(reader, schema ?? throw new ArgumentNullException(nameof(schema)), null, new Indent(0), Mode.Bare).ToString();

    /// <summary>The pretty (indented, multi-line) text form, byte for byte what <c>capnp decode</c> prints (without the trailing newline).</summary>
    /// <exception cref="CapnpFormatException">The message is malformed or exceeds its reader's limits.</exception>
    public static string FormatPretty(StructReader reader, StructSchema schema)
        => PrintStruct(reader, schema ?? throw new ArgumentNullException(nameof(schema)), null, new Indent(1), Mode.Bare).ToString();

    /// <summary>The one-line text form of a generated reader.</summary>
    public static string Format<T>(T reader) where T : struct, IStructReader<T>, IStructSchemaProvider
        => Format(reader.Raw, T.StructSchema);

    /// <summary>The pretty text form of a generated reader.</summary>
    public static string FormatPretty<T>(T reader) where T : struct, IStructReader<T>, IStructSchemaProvider
        => FormatPretty(reader.Raw, T.StructSchema);

    private enum Mode { Bare, Prefixed }

    // A printed value and its size in UTF-8 bytes (C++ decides line breaks on byte counts).
    private readonly struct Piece
    {
        public readonly string Text;
        public readonly int Bytes;
        public Piece(string text) { Text = text; Bytes = Encoding.UTF8.GetByteCount(text); }
        public override string ToString() => Text;
    }

    private readonly struct Indent
    {
        private const int MaxInlineValueSize = 24;
        private const int MaxInlineRecordSize = 64;
        private readonly int _amount;
        public Indent(int amount) => _amount = amount;
        public Indent Next() => new(_amount == 0 ? 0 : _amount + 1);

        public string Delimit(List<Piece> items, Mode mode, bool record)
        {
            if (_amount == 0 || CanPrintAllInline(items, record)) return string.Join(", ", items);
            var delim = ",\n" + new string(' ', _amount * 2);
            // Not on its own line: start the items on a new line; otherwise they follow the bracket after a space.
            return (mode == Mode.Bare ? " " : delim[1..]) + string.Join(delim, items) + " ";
        }

        private static bool CanPrintAllInline(List<Piece> items, bool record)
        {
            int total = 0;
            foreach (var item in items)
            {
                if (item.Bytes > MaxInlineValueSize || item.Text.Contains('\n')) return false;
                if (record && (total += item.Bytes) > MaxInlineRecordSize) return false;
            }
            return true;
        }
    }

    private static Piece PrintStruct(StructReader s, StructSchema schema, BrandContext? brand, Indent indent, Mode mode)
    {
        EnsureStack();
        var items = new List<Piece>();
        var which = DynamicAccess.ActiveUnionMember(s, schema);
        int whichIndex = -1;
        string? unionValue = null;
        if (which is not null)
        {
            // A non-default union member prints even when its value is the default.
            if (which.DiscriminantValue != 0 || DynamicAccess.IsNonNull(s, which))
            {
                unionValue = which.Name + " = " + PrintField(s, which, brand, indent.Next()).Text;
                whichIndex = IndexOf(schema, which);
            }
        }
        for (int i = 0; i < schema.Fields.Count; i++)
        {
            var f = schema.Fields[i];
            if (f.InUnion) continue;
            if (unionValue is not null && whichIndex < i) { items.Add(new Piece(unionValue)); unionValue = null; }
            if (DynamicAccess.IsNonNull(s, f))
                items.Add(new Piece(f.Name + " = " + PrintField(s, f, brand, indent.Next()).Text));
        }
        if (unionValue is not null) items.Add(new Piece(unionValue));
        return new Piece("(" + indent.Delimit(items, mode, record: true) + ")");
    }

    private static int IndexOf(StructSchema schema, FieldSchema f)
    {
        for (int i = 0; i < schema.Fields.Count; i++) if (ReferenceEquals(schema.Fields[i], f)) return i;
        return -1;
    }

    private static Piece PrintField(StructReader s, FieldSchema f, BrandContext? brand, Indent indent)
    {
        if (f.IsGroup) return PrintStruct(s, f.GroupSchema!, brand, indent, Mode.Prefixed); // a group shares its struct's brand
        var t = BrandContext.Resolve(f.Type, brand);
        switch (t.Kind)
        {
            case SchemaTypeKind.Text: return new Piece(Quote(DynamicAccess.ReadTextBytes(s, f), binary: false));
            case SchemaTypeKind.Data: return new Piece(Quote(s.ReadData((int)f.Offset, f.DefaultPointer).Span, binary: true));
            case SchemaTypeKind.Struct: return PrintStruct(s.ReadStruct((int)f.Offset, f.DefaultPointer), t.Struct!, BrandContext.Enter(t, brand), indent, Mode.Prefixed);
            case SchemaTypeKind.List: return PrintList(s.ReadList((int)f.Offset, f.DefaultPointer), t.ElementType!, brand, indent, Mode.Prefixed);
            case SchemaTypeKind.Interface: return new Piece("<external capability>");
            case SchemaTypeKind.AnyPointer: return new Piece("<opaque pointer>");
            default: return new Piece(Scalar(t, DynamicAccess.ReadBits(s, f)));
        }
    }

    private static Piece PrintList(ListReader list, TypeSchema element, BrandContext? brand, Indent indent, Mode mode)
    {
        EnsureStack();
        element = BrandContext.Resolve(element, brand);
        var items = new List<Piece>(Math.Min(list.Count, 1024));
        var next = indent.Next();
        int n = list.Count;
        switch (element.Kind)
        {
            case SchemaTypeKind.Void: for (int i = 0; i < n; i++) items.Add(new Piece("void")); break;
            case SchemaTypeKind.Bool: { var l = list.AsBits(); for (int i = 0; i < n; i++) items.Add(new Piece(l[i] ? "true" : "false")); break; }
            case SchemaTypeKind.Int8: case SchemaTypeKind.UInt8: { var l = list.AsPrimitives<byte>(); for (int i = 0; i < n; i++) items.Add(new Piece(Scalar(element, l[i]))); break; }
            case SchemaTypeKind.Int16: case SchemaTypeKind.UInt16: case SchemaTypeKind.Enum: { var l = list.AsPrimitives<ushort>(); for (int i = 0; i < n; i++) items.Add(new Piece(Scalar(element, l[i]))); break; }
            case SchemaTypeKind.Int32: case SchemaTypeKind.UInt32: case SchemaTypeKind.Float32: { var l = list.AsPrimitives<uint>(); for (int i = 0; i < n; i++) items.Add(new Piece(Scalar(element, l[i]))); break; }
            case SchemaTypeKind.Int64: case SchemaTypeKind.UInt64: case SchemaTypeKind.Float64: { var l = list.AsPrimitives<ulong>(); for (int i = 0; i < n; i++) items.Add(new Piece(Scalar(element, l[i]))); break; }
            case SchemaTypeKind.Text: { var l = list.AsTextList(); for (int i = 0; i < n; i++) items.Add(new Piece(Quote(l.GetBytes(i), binary: false))); break; }
            case SchemaTypeKind.Data: { var l = list.AsDataList(); for (int i = 0; i < n; i++) items.Add(new Piece(Quote(l[i].Span, binary: true))); break; }
            case SchemaTypeKind.List: { var l = list.AsLists(); for (int i = 0; i < n; i++) items.Add(PrintList(l[i], element.ElementType!, brand, next, Mode.Bare)); break; }
            case SchemaTypeKind.Struct: { var l = list.AsStructs(); var st = element.Struct!; var inner = BrandContext.Enter(element, brand); for (int i = 0; i < n; i++) items.Add(PrintStruct(l[i].Raw, st, inner, next, Mode.Bare)); break; }
            case SchemaTypeKind.Interface: { list.AsPointers(); for (int i = 0; i < n; i++) items.Add(new Piece("<external capability>")); break; }
            default: { list.AsPointers(); for (int i = 0; i < n; i++) items.Add(new Piece("<opaque pointer>")); break; }
        }
        return new Piece("[" + indent.Delimit(items, mode, record: false) + "]");
    }

    /// <summary>A scalar (or enum) from its raw bits, as C++ prints it.</summary>
    internal static string Scalar(TypeSchema t, ulong bits)
    {
        var ci = CultureInfo.InvariantCulture;
        return t.Kind switch
        {
            SchemaTypeKind.Void => "void",
            SchemaTypeKind.Bool => (bits & 1) != 0 ? "true" : "false",
            SchemaTypeKind.Int8 => ((sbyte)bits).ToString(ci),
            SchemaTypeKind.Int16 => ((short)bits).ToString(ci),
            SchemaTypeKind.Int32 => ((int)bits).ToString(ci),
            SchemaTypeKind.Int64 => ((long)bits).ToString(ci),
            SchemaTypeKind.UInt8 => ((byte)bits).ToString(ci),
            SchemaTypeKind.UInt16 => ((ushort)bits).ToString(ci),
            SchemaTypeKind.UInt32 => ((uint)bits).ToString(ci),
            SchemaTypeKind.UInt64 => bits.ToString(ci),
            SchemaTypeKind.Float32 => KjNumbers.Float(BitConverter.Int32BitsToSingle((int)(uint)bits)),
            SchemaTypeKind.Float64 => KjNumbers.Double(BitConverter.Int64BitsToDouble((long)bits)),
            SchemaTypeKind.Enum => (ushort)bits < t.Enum!.Enumerants.Count ? t.Enum.Enumerants[(ushort)bits] : "(" + ((ushort)bits).ToString(ci) + ")",
            _ => throw new ArgumentOutOfRangeException(nameof(t), t.Kind, "not a scalar type"),
        };
    }

    // kj::encodeCEscape: named escapes, octal for control bytes (and for bytes above 0x7f in Data).
    private static string Quote(ReadOnlySpan<byte> bytes, bool binary)
    {
        var outBytes = new List<byte>(bytes.Length + 2) { (byte)'"' };
        foreach (byte b in bytes)
        {
            string? named = b switch
            {
                (byte)'\a' => "\\a", (byte)'\b' => "\\b", (byte)'\f' => "\\f", (byte)'\n' => "\\n", (byte)'\r' => "\\r",
                (byte)'\t' => "\\t", (byte)'\v' => "\\v", (byte)'\'' => "\\'", (byte)'"' => "\\\"", (byte)'\\' => "\\\\",
                _ => null,
            };
            if (named is not null) { foreach (char c in named) outBytes.Add((byte)c); }
            else if (b < 0x20 || b == 0x7f || (binary && b > 0x7f))
            {
                outBytes.Add((byte)'\\');
                outBytes.Add((byte)('0' + b / 64)); outBytes.Add((byte)('0' + b / 8 % 8)); outBytes.Add((byte)('0' + b % 8));
            }
            else outBytes.Add(b);
        }
        outBytes.Add((byte)'"');
        return Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(outBytes));
    }

    // Depth is already bounded by the reader's nesting limit; this keeps a user-raised limit from overflowing the stack.
    internal static void EnsureStack()
    {
        if (!RuntimeHelpers.TryEnsureSufficientExecutionStack())
            throw new CapnpLimitExceededException("Message is nested too deeply to walk on this thread's stack.");
    }
}

/// <summary>Number formatting of the C++ kj library (kj::str of float/double), used by the text format and JSON.</summary>
internal static class KjNumbers
{
    public static string Double(double v)
    {
        if (double.IsPositiveInfinity(v)) return "inf";
        if (double.IsNegativeInfinity(v)) return "-inf";
        if (double.IsNaN(v)) return "nan";
        var s = G(v, 15);
        if (double.Parse(s, CultureInfo.InvariantCulture) != v) s = G(v, 17);
        return s;
    }

    public static string Float(float v)
    {
        if (float.IsPositiveInfinity(v)) return "inf";
        if (float.IsNegativeInfinity(v)) return "-inf";
        if (float.IsNaN(v)) return "nan";
        var s = G(v, 6);
        // kj re-checks floats with safe_strtof, which also fails on ERANGE: glibc reports it for subnormal results.
        if (float.Parse(s, CultureInfo.InvariantCulture) != v || float.IsSubnormal(v)) s = G(v, 8);
        return s;
    }

    // printf("%.*g", p, v) followed by kj's removal of the '+' in the exponent.
    private static string G(double v, int p)
    {
        var ci = CultureInfo.InvariantCulture;
        if (v == 0) return double.IsNegative(v) ? "-0" : "0";
        var e = v.ToString("E" + (p - 1).ToString(ci), ci);
        int ei = e.IndexOf('E');
        int x = int.Parse(e.AsSpan(ei + 1), NumberStyles.AllowLeadingSign, ci);
        if (x < p && x >= -4) return TrimZeros(v.ToString("F" + (p - 1 - x).ToString(ci), ci));
        var mantissa = TrimZeros(e[..ei]);
        return mantissa + "e" + (x < 0 ? "-" : "") + Math.Abs(x).ToString("00", ci);
    }

    private static string TrimZeros(string s)
    {
        if (!s.Contains('.')) return s;
        s = s.TrimEnd('0');
        return s.EndsWith('.') ? s[..^1] : s;
    }
}

/// <summary>Schema-driven reads shared by the text format, JSON and the JSON decoder.</summary>
internal static class DynamicAccess
{
    /// <summary>The union member whose discriminant is set, or null (no union, or a value this schema does not know).</summary>
    public static FieldSchema? ActiveUnionMember(StructReader s, StructSchema schema)
    {
        if (schema.DiscriminantCount == 0) return null;
        ushort d = s.ReadUInt16((int)schema.DiscriminantOffset);
        foreach (var f in schema.Fields) if (f.InUnion && f.DiscriminantValue == d) return f;
        return null;
    }

    /// <summary>C++ <c>has(field, HasMode::NON_NULL)</c> (0.9.2): groups and non-pointer slots always; pointers when not null.</summary>
    public static bool IsNonNull(StructReader s, FieldSchema f)
        => f.IsGroup || !f.Type.IsPointer || s.HasPointer((int)f.Offset);

    /// <summary>The stored bits of a scalar slot (not XORed with the default).</summary>
    public static ulong RawBits(StructReader s, FieldSchema f)
    {
        int off = (int)f.Offset;
        return f.Type.DataBits switch
        {
            1 => s.ReadBool(off) ? 1UL : 0,
            8 => s.ReadUInt8(off),
            16 => s.ReadUInt16(off),
            32 => s.ReadUInt32(off),
            64 => s.ReadUInt64(off),
            _ => 0,
        };
    }

    /// <summary>The value bits of a scalar slot (stored bits XOR the default).</summary>
    public static ulong ReadBits(StructReader s, FieldSchema f) => RawBits(s, f) ^ f.DefaultBits;

    /// <summary>Text bytes of a slot; its default when the pointer is null.</summary>
    public static ReadOnlySpan<byte> ReadTextBytes(StructReader s, FieldSchema f)
        => !s.HasPointer((int)f.Offset) && f.DefaultPointer is { } d ? d : s.ReadTextBytes((int)f.Offset);
}

/// <summary>
/// The generic bindings in force while walking a message: the brands of the struct types entered, innermost first,
/// each already resolved against the scopes outside it.
/// </summary>
internal sealed class BrandContext
{
    private readonly IReadOnlyList<BrandScope> _scopes;
    private readonly BrandContext? _outer;

    private BrandContext(IReadOnlyList<BrandScope> scopes, BrandContext? outer) { _scopes = scopes; _outer = outer; }

    /// <summary>The context inside a value of struct type <paramref name="structType"/>.</summary>
    public static BrandContext? Enter(TypeSchema structType, BrandContext? current)
        => structType.Brand.Count == 0 ? current : new BrandContext(ResolveScopes(structType.Brand, current), current);

    private static IReadOnlyList<BrandScope> ResolveScopes(IReadOnlyList<BrandScope> scopes, BrandContext? ctx)
    {
        BrandScope[]? copy = null;
        for (int i = 0; i < scopes.Count; i++)
        {
            var sc = scopes[i];
            TypeSchema?[]? bindings = null;
            for (int j = 0; j < sc.Bindings.Count; j++)
            {
                var b = sc.Bindings[j];
                var r = b is null ? null : Resolve(b, ctx);
                if (!ReferenceEquals(r, b)) { bindings ??= sc.Bindings.ToArray(); bindings[j] = r; }
            }
            if (bindings is not null) { copy ??= scopes.ToArray(); copy[i] = new BrandScope(sc.ScopeId, bindings); }
        }
        return copy ?? scopes;
    }

    /// <summary>
    /// <paramref name="t"/> with generic parameters replaced by their bindings in <paramref name="ctx"/>; a parameter
    /// without one stays as it is (a struct when its C# type argument is a generated reader, else AnyPointer).
    /// </summary>
    public static TypeSchema Resolve(TypeSchema t, BrandContext? ctx)
    {
        if (t.IsParameter)
        {
            // The brand comes first: it also carries the bindings of the bound type's own parameters
            // (Wrap(Wrap(Data))), which its C# type argument (Wrap<StructReaderWrapper>.Reader) has lost.
            for (var c = ctx; c is not null; c = c._outer)
                foreach (var sc in c._scopes)
                    if (sc.ScopeId == t.ParameterScopeId)
                        return t.ParameterIndex < sc.Bindings.Count && sc.Bindings[t.ParameterIndex] is { } bound ? bound : t;
            return t;
        }
        if (ctx is null) return t;
        if (t.Kind == SchemaTypeKind.List)
        {
            var e = Resolve(t.ElementType!, ctx);
            return ReferenceEquals(e, t.ElementType) ? t : TypeSchema.ListOf(e);
        }
        if (t.Kind == SchemaTypeKind.Struct && t.Brand.Count > 0)
        {
            var scopes = ResolveScopes(t.Brand, ctx);
            if (ReferenceEquals(scopes, t.Brand)) return t;
            var st = t.Struct!;
            return TypeSchema.StructOf(() => st, scopes.ToArray());
        }
        return t;
    }
}
