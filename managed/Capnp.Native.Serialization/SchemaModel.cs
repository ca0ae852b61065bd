using System.ComponentModel;

namespace Capnp.Native.Serialization;

/// <summary>Kind of a Cap'n Proto type, as in schema.capnp's <c>Type</c> union.</summary>
public enum SchemaTypeKind : byte
{
    /// <summary>Void.</summary>
    Void,
    /// <summary>Bool.</summary>
    Bool,
    /// <summary>Int8.</summary>
    Int8,
    /// <summary>Int16.</summary>
    Int16,
    /// <summary>Int32.</summary>
    Int32,
    /// <summary>Int64.</summary>
    Int64,
    /// <summary>UInt8.</summary>
    UInt8,
    /// <summary>UInt16.</summary>
    UInt16,
    /// <summary>UInt32.</summary>
    UInt32,
    /// <summary>UInt64.</summary>
    UInt64,
    /// <summary>Float32.</summary>
    Float32,
    /// <summary>Float64.</summary>
    Float64,
    /// <summary>Text.</summary>
    Text,
    /// <summary>Data.</summary>
    Data,
    /// <summary>List(T); see <see cref="TypeSchema.ElementType"/>.</summary>
    List,
    /// <summary>An enum; see <see cref="TypeSchema.Enum"/>.</summary>
    Enum,
    /// <summary>A struct; see <see cref="TypeSchema.Struct"/>.</summary>
    Struct,
    /// <summary>An interface (a capability).</summary>
    Interface,
    /// <summary>AnyPointer (including unbound generic parameters).</summary>
    AnyPointer,
}

/// <summary>
/// The type of a field or list element, as far as the text format, JSON and canonical equality need it. Instances are
/// built by generated code (<c>capnpc-csharp</c>); struct types are resolved lazily so that recursive schemas work.
/// </summary>
public sealed class TypeSchema
{
    private readonly SchemaTypeKind _kind;
    private readonly Func<StructSchema>? _struct;
    private readonly Func<StructSchema?>? _parameter;
    private StructSchema? _resolved;
    private bool _parameterResolved;

    private TypeSchema(SchemaTypeKind kind, TypeSchema? element, EnumSchema? enumSchema, Func<StructSchema>? structSchema, Func<StructSchema?>? parameter)
    {
        _kind = kind; ElementType = element; Enum = enumSchema; _struct = structSchema; _parameter = parameter;
    }

    /// <summary>The kind of type. A generic parameter bound to a generated struct reports <see cref="SchemaTypeKind.Struct"/>.</summary>
    public SchemaTypeKind Kind => _parameter is not null && ResolveParameter() is not null ? SchemaTypeKind.Struct : _kind;
    /// <summary>Element type of a list; null otherwise.</summary>
    public TypeSchema? ElementType { get; }
    /// <summary>The enum of an enum type; null otherwise.</summary>
    public EnumSchema? Enum { get; }
    /// <summary>The struct of a struct type (resolved on first use); null otherwise.</summary>
    public StructSchema? Struct => _struct is not null ? (_resolved ??= _struct()) : _parameter is not null ? ResolveParameter() : null;

    // A generic parameter is a C# type argument: a generated Reader (which provides its schema), or
    // StructReaderWrapper (bound to something that is not a struct, or unbound), which stays AnyPointer.
    private StructSchema? ResolveParameter()
    {
        if (!_parameterResolved)
        {
            _resolved = _parameter!();
            _parameterResolved = true;
        }
        return _resolved;
    }

    /// <summary>Placeholder type of group fields.</summary>
    internal static readonly TypeSchema GroupPlaceholder = Make(SchemaTypeKind.Struct);

    private static TypeSchema Make(SchemaTypeKind k) => new(k, null, null, null, null);

    /// <summary>Void.</summary>
    public static readonly TypeSchema Void = Make(SchemaTypeKind.Void);
    /// <summary>Bool.</summary>
    public static readonly TypeSchema Bool = Make(SchemaTypeKind.Bool);
    /// <summary>Int8.</summary>
    public static readonly TypeSchema Int8 = Make(SchemaTypeKind.Int8);
    /// <summary>Int16.</summary>
    public static readonly TypeSchema Int16 = Make(SchemaTypeKind.Int16);
    /// <summary>Int32.</summary>
    public static readonly TypeSchema Int32 = Make(SchemaTypeKind.Int32);
    /// <summary>Int64.</summary>
    public static readonly TypeSchema Int64 = Make(SchemaTypeKind.Int64);
    /// <summary>UInt8.</summary>
    public static readonly TypeSchema UInt8 = Make(SchemaTypeKind.UInt8);
    /// <summary>UInt16.</summary>
    public static readonly TypeSchema UInt16 = Make(SchemaTypeKind.UInt16);
    /// <summary>UInt32.</summary>
    public static readonly TypeSchema UInt32 = Make(SchemaTypeKind.UInt32);
    /// <summary>UInt64.</summary>
    public static readonly TypeSchema UInt64 = Make(SchemaTypeKind.UInt64);
    /// <summary>Float32.</summary>
    public static readonly TypeSchema Float32 = Make(SchemaTypeKind.Float32);
    /// <summary>Float64.</summary>
    public static readonly TypeSchema Float64 = Make(SchemaTypeKind.Float64);
    /// <summary>Text.</summary>
    public static readonly TypeSchema Text = Make(SchemaTypeKind.Text);
    /// <summary>Data.</summary>
    public static readonly TypeSchema Data = Make(SchemaTypeKind.Data);
    /// <summary>An interface (capability).</summary>
    public static readonly TypeSchema Interface = Make(SchemaTypeKind.Interface);
    /// <summary>AnyPointer.</summary>
    public static readonly TypeSchema AnyPointer = Make(SchemaTypeKind.AnyPointer);

    /// <summary>List(<paramref name="element"/>).</summary>
    public static TypeSchema ListOf(TypeSchema element)
        => new(SchemaTypeKind.List, element ?? throw new ArgumentNullException(nameof(element)), null, null, null);

    /// <summary>An enum type.</summary>
    public static TypeSchema EnumOf(EnumSchema schema)
        => new(SchemaTypeKind.Enum, null, schema ?? throw new ArgumentNullException(nameof(schema)), null, null);

    /// <summary>
    /// A struct type; <paramref name="schema"/> is called once, on first use (schemas may be recursive).
    /// <paramref name="brand"/> binds generic parameters of the struct (and its enclosing scopes) to types.
    /// </summary>
    public static TypeSchema StructOf(Func<StructSchema> schema, params BrandScope[] brand)
        => new(SchemaTypeKind.Struct, null, null, schema ?? throw new ArgumentNullException(nameof(schema)), null) { Brand = brand ?? Array.Empty<BrandScope>() };

    /// <summary>
    /// Generic parameter <paramref name="index"/> of the struct (or interface) <paramref name="scopeId"/>, whose C#
    /// type argument is <typeparamref name="T"/>: a struct when that is a generated Reader (it implements
    /// <see cref="IStructSchemaSource"/>); otherwise (e.g. <see cref="StructReaderWrapper"/>) the binding of the
    /// enclosing <see cref="StructOf"/> brand, if any, else AnyPointer.
    /// </summary>
    public static TypeSchema Parameter<T>(ulong scopeId, int index)
        => new(SchemaTypeKind.AnyPointer, null, null, null, static () => default(T) is IStructSchemaSource s ? s.StructSchema : null)
        { ParameterScopeId = scopeId, ParameterIndex = index };

    /// <summary>True for a generic parameter (see <see cref="Parameter{T}"/>).</summary>
    public bool IsParameter => _parameter is not null;
    /// <summary>The scope (struct or interface id) of a generic parameter.</summary>
    public ulong ParameterScopeId { get; private init; }
    /// <summary>The index of a generic parameter in its scope.</summary>
    public int ParameterIndex { get; private init; }
    /// <summary>For a struct type: the bindings of generic parameters (schema.capnp's Brand); empty when none.</summary>
    public IReadOnlyList<BrandScope> Brand { get; private init; } = Array.Empty<BrandScope>();

    /// <summary>Size of a value of this type in a struct's data section, in bits (0 for Void; pointers are not data).</summary>
    internal int DataBits => Kind switch
    {
        SchemaTypeKind.Bool => 1,
        SchemaTypeKind.Int8 or SchemaTypeKind.UInt8 => 8,
        SchemaTypeKind.Int16 or SchemaTypeKind.UInt16 or SchemaTypeKind.Enum => 16,
        SchemaTypeKind.Int32 or SchemaTypeKind.UInt32 or SchemaTypeKind.Float32 => 32,
        SchemaTypeKind.Int64 or SchemaTypeKind.UInt64 or SchemaTypeKind.Float64 => 64,
        _ => 0,
    };

    /// <summary>True for Text, Data, lists, structs, interfaces and AnyPointer.</summary>
    public bool IsPointer => Kind is SchemaTypeKind.Text or SchemaTypeKind.Data or SchemaTypeKind.List or SchemaTypeKind.Struct
        or SchemaTypeKind.Interface or SchemaTypeKind.AnyPointer;
}

/// <summary>Bindings of one generic scope's parameters (null: unbound, i.e. AnyPointer).</summary>
public sealed class BrandScope
{
    /// <summary>Creates a scope binding.</summary>
    public BrandScope(ulong scopeId, IReadOnlyList<TypeSchema?> bindings)
    {
        ScopeId = scopeId; Bindings = bindings ?? throw new ArgumentNullException(nameof(bindings));
    }

    /// <summary>The generic struct or interface whose parameters are bound.</summary>
    public ulong ScopeId { get; }
    /// <summary>One type per parameter; null when unbound.</summary>
    public IReadOnlyList<TypeSchema?> Bindings { get; }
}

/// <summary>An enum's schema: its id, name and enumerant names (in ordinal order, as the schema spells them).</summary>
public sealed class EnumSchema
{
    /// <summary>Creates an enum schema.</summary>
    public EnumSchema(ulong id, string name, IReadOnlyList<string> enumerants)
    {
        Id = id; Name = name ?? throw new ArgumentNullException(nameof(name));
        Enumerants = enumerants ?? throw new ArgumentNullException(nameof(enumerants));
        JsonNames = enumerants;
    }

    /// <summary>
    /// Creates an enum schema whose enumerants have JSON names (<c>$Json.name</c> of
    /// <c>/capnp/compat/json.capnp</c>); <paramref name="jsonNames"/> has one name per enumerant, in ordinal order.
    /// </summary>
    public EnumSchema(ulong id, string name, IReadOnlyList<string> enumerants, IReadOnlyList<string> jsonNames) : this(id, name, enumerants)
    {
        JsonNames = jsonNames ?? throw new ArgumentNullException(nameof(jsonNames));
        if (jsonNames.Count != enumerants.Count) throw new ArgumentException("One JSON name per enumerant is needed.", nameof(jsonNames));
    }

    /// <summary>The schema node id.</summary>
    public ulong Id { get; }
    /// <summary>The enum's name (unqualified).</summary>
    public string Name { get; }
    /// <summary>Enumerant names by value.</summary>
    public IReadOnlyList<string> Enumerants { get; }
    /// <summary>Enumerant names in JSON by value: <c>$Json.name</c> where annotated, else <see cref="Enumerants"/>' name.</summary>
    public IReadOnlyList<string> JsonNames { get; }

    /// <summary>The value of the enumerant called <paramref name="name"/>, or -1.</summary>
    public int IndexOf(string name)
    {
        for (int i = 0; i < Enumerants.Count; i++) if (Enumerants[i] == name) return i;
        return -1;
    }

    /// <summary>The value of the enumerant whose JSON name (see <see cref="JsonNames"/>) is <paramref name="name"/>, or -1.</summary>
    public int IndexOfJsonName(string name)
    {
        for (int i = 0; i < JsonNames.Count; i++) if (JsonNames[i] == name) return i;
        return -1;
    }
}

/// <summary>How a Data field is written in JSON (<c>$Json.base64</c> and <c>$Json.hex</c> of <c>/capnp/compat/json.capnp</c>).</summary>
public enum JsonDataEncoding : byte
{
    /// <summary>An array of byte numbers (no annotation).</summary>
    ByteArray,
    /// <summary>A Base64 string (<c>$Json.base64</c>).</summary>
    Base64,
    /// <summary>A lowercase hexadecimal string (<c>$Json.hex</c>).</summary>
    Hex,
}

/// <summary>
/// <c>$Json.discriminator</c> of <c>/capnp/compat/json.capnp</c> (schema.capnp-free copy of its
/// <c>DiscriminatorOptions</c>): the union's active member is named by a tag member.
/// </summary>
public sealed class JsonDiscriminator
{
    /// <summary>Creates the options.</summary>
    public JsonDiscriminator(string? name = null, string? valueName = null) { Name = name; ValueName = valueName; }
    /// <summary>The tag member's name; null: the union's name where C++ uses it (a flattened named union), else no tag.</summary>
    public string? Name { get; }
    /// <summary>If set, the active member's value is written under this name rather than the member's.</summary>
    public string? ValueName { get; }
}

/// <summary>A field of a struct or group: a slot (with offset, type and default) or a group.</summary>
public sealed class FieldSchema
{
    /// <summary>Means "not a union member" in <see cref="DiscriminantValue"/>.</summary>
    public const ushort NoDiscriminant = 0xffff;

    private readonly Func<StructSchema>? _group;
    private StructSchema? _groupResolved;

    private FieldSchema(string name, ushort discriminant, uint offset, TypeSchema? type, ulong defaultBits, byte[]? defaultPointer, Func<StructSchema>? group)
    {
        Name = name ?? throw new ArgumentNullException(nameof(name));
        DiscriminantValue = discriminant; Offset = offset; Type = type ?? TypeSchema.GroupPlaceholder; DefaultBits = defaultBits;
        DefaultPointer = defaultPointer; _group = group;
    }

    /// <summary>
    /// A slot field. <paramref name="offset"/> is schema.capnp's <c>slot.offset</c> (units of the type's size; bits for
    /// Bool; pointer index for pointer types). <paramref name="defaultBits"/> holds a scalar default's raw bits (XORed
    /// on the wire); <paramref name="defaultPointer"/> a pointer default: the UTF-8 bytes of Text, the bytes of Data,
    /// or a single-segment message (root pointer first) for structs, lists and AnyPointer.
    /// </summary>
    public static FieldSchema Slot(string name, ushort discriminantValue, uint offset, TypeSchema type, ulong defaultBits = 0, byte[]? defaultPointer = null)
        => new(name, discriminantValue, offset, type ?? throw new ArgumentNullException(nameof(type)), defaultBits, defaultPointer, null);

    /// <summary>A group field; <paramref name="group"/> gives the group's schema on first use.</summary>
    public static FieldSchema Group(string name, ushort discriminantValue, Func<StructSchema> group)
        => new(name, discriminantValue, 0, null, 0, null, group ?? throw new ArgumentNullException(nameof(group)));

    /// <summary>
    /// A copy of this field with the JSON annotations of <c>/capnp/compat/json.capnp</c> applied (generated code calls
    /// it only for annotated fields): <paramref name="name"/> is <c>$Json.name</c> (null: the schema name),
    /// <paramref name="data"/> is <c>$Json.base64</c> or <c>$Json.hex</c> (Data fields only).
    /// </summary>
    /// <remarks>
    /// <paramref name="flattenPrefix"/> is <c>$Json.flatten</c>'s prefix (<c>""</c> without one; null: not flattened;
    /// struct and group fields only); <paramref name="discriminator"/> is <c>$Json.discriminator</c> on a named union
    /// (groups only).
    /// </remarks>
    public FieldSchema WithJson(string? name = null, JsonDataEncoding data = JsonDataEncoding.ByteArray, string? flattenPrefix = null, JsonDiscriminator? discriminator = null)
    {
        if (data != JsonDataEncoding.ByteArray && (IsGroup || Type.Kind != SchemaTypeKind.Data))
            throw new ArgumentException($"Field '{Name}': only Data fields can be Base64 or hex in JSON.", nameof(data));
        if (flattenPrefix != null && !IsGroup && Type.Kind != SchemaTypeKind.Struct)
            throw new ArgumentException($"Field '{Name}': only structs and groups can be flattened in JSON.", nameof(flattenPrefix));
        if (discriminator != null && !IsGroup)
            throw new ArgumentException($"Field '{Name}': only unions can have a JSON discriminator.", nameof(discriminator));
        return new FieldSchema(Name, DiscriminantValue, Offset, IsGroup ? null : Type, DefaultBits, DefaultPointer, _group)
        {
            JsonName = name ?? JsonName, JsonData = data, JsonFlattenPrefix = flattenPrefix, JsonDiscriminator = discriminator,
        };
    }

    /// <summary>The field's name as written in the schema.</summary>
    public string Name { get; }
    /// <summary>The field's name in JSON: <c>$Json.name</c> where annotated, else <see cref="Name"/>.</summary>
    public string JsonName { get => _jsonName ?? Name; private init => _jsonName = value; }
    private readonly string? _jsonName;
    /// <summary>How a Data field is written in JSON (<c>$Json.base64</c>, <c>$Json.hex</c>, or neither).</summary>
    public JsonDataEncoding JsonData { get; private init; }
    /// <summary><c>$Json.flatten</c>: the prefix of the struct's or group's members in its parent object (<c>""</c> for none); null when not flattened.</summary>
    public string? JsonFlattenPrefix { get; private init; }
    /// <summary><c>$Json.discriminator</c> on a named union (a group field); null otherwise.</summary>
    public JsonDiscriminator? JsonDiscriminator { get; private init; }
    /// <summary>The union discriminant value, or <see cref="NoDiscriminant"/>.</summary>
    public ushort DiscriminantValue { get; }
    /// <summary>True when the field is a member of its struct's (or group's) unnamed union.</summary>
    public bool InUnion => DiscriminantValue != NoDiscriminant;
    /// <summary>slot.offset (unused for groups).</summary>
    public uint Offset { get; }
    /// <summary>The slot's type (for a group: a placeholder; use <see cref="GroupSchema"/>).</summary>
    public TypeSchema Type { get; }
    /// <summary>Raw bits of a scalar default.</summary>
    public ulong DefaultBits { get; }
    /// <summary>A pointer default (see <see cref="Slot"/>), or null.</summary>
    public byte[]? DefaultPointer { get; }
    /// <summary>True for a group.</summary>
    public bool IsGroup => _group is not null;
    /// <summary>The group's schema (a struct schema over the same data); null for slots.</summary>
    public StructSchema? GroupSchema => _group is null ? null : _groupResolved ??= _group();
}

/// <summary>
/// A struct's (or group's) schema: enough of schema.capnp's <c>Node.struct</c> to walk a message without generated
/// code. Generated code exposes it through <see cref="IStructSchemaProvider"/>.
/// </summary>
public sealed class StructSchema
{
    /// <summary>Creates a struct schema. <paramref name="fields"/> must be in schema order (ordinal order).</summary>
    public StructSchema(ulong id, string name, ushort dataWords, ushort pointerCount, ushort discriminantCount, uint discriminantOffset, IReadOnlyList<FieldSchema> fields)
    {
        Id = id; Name = name ?? throw new ArgumentNullException(nameof(name));
        DataWords = dataWords; PointerCount = pointerCount; DiscriminantCount = discriminantCount;
        DiscriminantOffset = discriminantOffset; Fields = fields ?? throw new ArgumentNullException(nameof(fields));
    }

    /// <summary>The schema node id.</summary>
    public ulong Id { get; }
    /// <summary>The struct's name (unqualified, as in the schema's display name).</summary>
    public string Name { get; }
    /// <summary>Data section size in words.</summary>
    public ushort DataWords { get; }
    /// <summary>Pointer section size.</summary>
    public ushort PointerCount { get; }
    /// <summary>Number of members of the unnamed union (0: no union).</summary>
    public ushort DiscriminantCount { get; }
    /// <summary>Offset of the discriminant, in 16-bit units.</summary>
    public uint DiscriminantOffset { get; }
    /// <summary>Fields in schema order (index order, which is ordinal order).</summary>
    public IReadOnlyList<FieldSchema> Fields { get; }
    /// <summary><c>$Json.discriminator</c> on the struct (for its unnamed union); null when not annotated.</summary>
    public JsonDiscriminator? JsonDiscriminator { get; init; }

    private int _hasFlattened = -1;
    /// <summary>True when some field is <c>$Json.flatten</c>ed.</summary>
    internal bool HasFlattenedFields
    {
        get
        {
            if (_hasFlattened < 0)
            {
                int r = 0;
                foreach (var f in Fields) if (f.JsonFlattenPrefix != null) r = 1;
                _hasFlattened = r;
            }
            return _hasFlattened == 1;
        }
    }

    /// <summary>The field called <paramref name="name"/>, or null.</summary>
    public FieldSchema? FindField(string name)
    {
        foreach (var f in Fields) if (f.Name == name) return f;
        return null;
    }

    /// <summary>The field whose JSON name (<see cref="FieldSchema.JsonName"/>) is <paramref name="name"/>, or null.</summary>
    public FieldSchema? FindJsonField(string name)
    {
        foreach (var f in Fields) if (f.JsonName == name) return f;
        return null;
    }
}

/// <summary>
/// Implemented by generated readers and builders: the schema of their struct, used by <see cref="TextFormat"/>,
/// <see cref="JsonCodec"/> and canonical equality.
/// </summary>
public interface IStructSchemaProvider
{
    /// <summary>The struct's schema.</summary>
    static abstract StructSchema StructSchema { get; }
}

/// <summary>
/// Implemented (explicitly) by generated readers: the schema of their struct, reachable from a value whose type is
/// only known as a generic parameter.
/// </summary>
public interface IStructSchemaSource
{
    /// <summary>The struct's schema.</summary>
    StructSchema StructSchema { get; }
}
