namespace Capnp.Native.CodeGen;

internal sealed partial class CodeGenerator
{
    private sealed class FieldInfo
    {
        public required FieldModel Field;
        public required string Prop;      // property / method stem
        public required string Has;       // HasXxx
        public required string Init;      // InitXxx
        public required string Set;       // SetXxx (void union members, struct copy)
        public required string Default;   // __DefaultXxx (pointer defaults)
        public required string Disown;    // reserved
        public string Get = "";           // GetXxx() (capability fields: each call makes a new reference to dispose)
        public string Utf8 = "";          // XxxUtf8 (Text fields: the UTF-8 bytes, without allocating)
        public string WhichMember = "";
    }

    private List<FieldInfo> FieldNames(NodeModel n)
    {
        var used = new HashSet<string>(StringComparer.Ordinal)
        {
            "Reader", "Builder", "Raw", "Create", "AsReader", "Which",
            "Equals", "GetHashCode", "GetType", "ToString", "MemberwiseClone", "Finalize",
        };
        var list = new List<FieldInfo>();
        foreach (var f in n.Fields.OrderBy(f => f.CodeOrder))
        {
            var p = Names.Unique(NameAnnotation(f.Annotations) ?? Names.Pascal(f.Name), used);
            list.Add(new FieldInfo { Field = f, Prop = p, Has = "", Init = "", Set = "", Default = "", Disown = "" });
        }
        // Members of the generated Promise (awaitable and disposable) that a GetXxx() must not hide.
        used.UnionWith(["GetAwaiter", "AsTask", "Dispose"]);
        foreach (var fi in list)
        {
            if (!fi.Field.IsGroup && IsCapabilityField(fi.Field)) fi.Get = Names.Unique("Get" + fi.Prop, used);
            fi.Has = Names.Unique("Has" + fi.Prop, used);
            fi.Init = Names.Unique("Init" + fi.Prop, used);
            fi.Set = Names.Unique("Set" + fi.Prop, used);
            fi.Default = "__Default" + fi.Prop;
            if (!fi.Field.IsGroup && fi.Field.Type.Kind == TypeKind.Text) fi.Utf8 = Names.Unique(fi.Prop + "Utf8", used);
        }
        return list;
    }

    /// <summary>An interface field, or an AnyPointer constrained to capabilities.</summary>
    private static bool IsCapabilityField(FieldModel f)
        => f.Type.Kind == TypeKind.Interface || (f.Type.Kind == TypeKind.AnyPointer && f.Type.AnyKind == AnyPointerKind.Capability);

    private List<(string Name, FieldModel Field)> WhichMembers(NodeModel n)
    {
        var used = new HashSet<string>(StringComparer.Ordinal) { "value__" };
        return n.Fields.Where(f => f.InUnion).OrderBy(f => f.DiscriminantValue)
            .Select(f => (Names.Unique(NameAnnotation(f.Annotations) ?? Names.Pascal(f.Name), used), f)).ToList();
    }

    private string TypeParamList(NodeModel n) => n.Parameters.Count == 0 ? ""
        : "<" + string.Join(", ", Enumerable.Range(0, n.Parameters.Count).Select(i => ParamName(n, i))) + ">";

    private void EmitStruct(CodeWriter w, NodeModel n)
    {
        var self = TypeName(n.Id, null, n.Id);
        var fields = FieldNames(n);
        var which = WhichMembers(n);
        bool hasUnion = n.DiscriminantCount > 0;

        EmitDoc(w, n.Id, n.IsGroup ? $"Group <c>{XmlText(QualifiedName(n))}</c>." : $"Cap'n Proto struct <c>{XmlText(QualifiedName(n))}</c> (id 0x{n.Id:x16}).");
        w.Line($"public static partial class {_csName[n.Id]}{TypeParamList(n)}");
        w.Open();
        w.Line($"/// <summary>The schema node id.</summary>");
        w.Line($"public const ulong TypeId = 0x{n.Id:x16}UL;");
        w.Line();

        if (hasUnion)
        {
            w.Line("/// <summary>Which member of the unnamed union is set.</summary>");
            w.Line("public enum Which : ushort");
            w.Open();
            foreach (var (name, f) in which) w.Line($"{name} = {f.DiscriminantValue},");
            w.Close();
            w.Line();
        }

        // Pointer default values (encoded single-segment messages, or raw bytes for Data).
        foreach (var fi in fields)
        {
            var f = fi.Field;
            if (f.IsGroup || !f.Type.IsPointer) continue;
            if (f.Type.Kind is TypeKind.Struct or TypeKind.List or TypeKind.AnyPointer && f.Default.PointerMessage is { } pm)
                w.Line($"internal static global::System.ReadOnlySpan<byte> {fi.Default} => {Names.ByteArray(pm)};");
            else if (f.Type.Kind == TypeKind.Data && f.Default.Data is { Length: > 0 } d)
                w.Line($"internal static global::System.ReadOnlySpan<byte> {fi.Default} => {Names.ByteArray(d)};");
        }

        EmitReader(w, n, self, fields, hasUnion);
        w.Line();
        EmitBuilder(w, n, self, fields, hasUnion);
        w.Line();
        EmitSchemaMembers(w, n); // ToString, equality and the schema: CodeGenerator.Schema.cs
        if (HasCapabilityFields(n.Id))
        {
            w.Line();
            EmitPipeline(w, n, fields);
        }
        if (IsResultStruct(n))
        {
            w.Line();
            EmitPromise(w, n, self, fields);
        }

        EmitNestedMembers(w, n);
        w.Close();
        w.Line();
    }

    private const string UnionReadRemark = "/// <remarks>Union member: reads as its default value while another member is set (check <c>Which</c>).</remarks>";

    private static bool HasDefaultBytes(FieldModel f) => f.Type.Kind switch
    {
        TypeKind.Struct or TypeKind.List or TypeKind.AnyPointer => f.Default.PointerMessage != null,
        TypeKind.Data => f.Default.Data is { Length: > 0 },
        _ => false,
    };

    private string DefaultArg(FieldInfo fi) => HasDefaultBytes(fi.Field) ? ", " + fi.Default : "";

    private static string ScalarDefaultArg(FieldModel f)
    {
        if (f.Default.Bits == 0) return "";
        var t = f.Type.Kind == TypeKind.Enum ? new TypeModel { Kind = TypeKind.UInt16 } : f.Type;
        // Write the default with the same bit pattern the schema stores.
        return ", " + ScalarLiteral(t, f.Default.Bits);
    }

    // ---------------------------------------------------------------- reader

    private void EmitReader(CodeWriter w, NodeModel n, string self, List<FieldInfo> fields, bool hasUnion)
    {
        w.Line($"/// <summary>Reads a <c>{n.ShortName}</c>.</summary>");
        w.Line($"public readonly partial struct Reader : {Ser}.IStructReader<Reader>");
        w.Open();
        w.Line($"private readonly {Ser}.StructReader _raw;");
        w.Line($"private Reader({Ser}.StructReader raw) {{ _raw = raw; }}");
        w.Line("/// <summary>Wraps a raw struct reader.</summary>");
        w.Line($"public static Reader Create({Ser}.StructReader reader) => new Reader(reader);");
        w.Line("/// <summary>The underlying raw struct reader.</summary>");
        w.Line($"public {Ser}.StructReader Raw => _raw;");
        if (hasUnion)
        {
            w.Line("/// <summary>Which member of the union is set.</summary>");
            w.Line($"public {self}.Which Which => ({self}.Which)_raw.Which({n.DiscriminantOffset});");
            w.Line($"private {Ser}.StructReader __Active(ushort which) => _raw.Which({n.DiscriminantOffset}) == which ? _raw : default;");
        }
        foreach (var fi in fields)
        {
            var f = fi.Field;
            // A union member reads as its default value while another member is set (never another member's bits).
            var source = f.InUnion ? $"__Active({f.DiscriminantValue})" : "_raw";
            if (f.IsGroup || f.Type.Kind != TypeKind.Void) EmitMemberDoc(w, n.Id, n.Fields.IndexOf(f));
            if (f.InUnion && (f.IsGroup || f.Type.Kind != TypeKind.Void)) w.Line(UnionReadRemark);
            if (f.IsGroup)
            {
                var g = TypeName(f.GroupTypeId, null, n.Id);
                w.Line($"public {g}.Reader {fi.Prop} => {g}.Reader.Create({source});");
                continue;
            }
            var t = f.Type;
            int off = (int)f.Offset;
            switch (t.Kind)
            {
                case TypeKind.Void:
                    break;
                case TypeKind.Bool: case TypeKind.Int8: case TypeKind.Int16: case TypeKind.Int32: case TypeKind.Int64:
                case TypeKind.UInt8: case TypeKind.UInt16: case TypeKind.UInt32: case TypeKind.UInt64:
                case TypeKind.Float32: case TypeKind.Float64:
                    w.Line($"public {ScalarType(t)} {fi.Prop} => {source}.Read{RuntimeSuffix(t.Kind)}({off}{ScalarDefaultArg(f)});");
                    break;
                case TypeKind.Enum:
                {
                    var et = TypeName(t.TypeId, t.Brand, n.Id);
                    w.Line($"public {et} {fi.Prop} => ({et}){source}.ReadUInt16({off}{ScalarDefaultArg(f)});");
                    break;
                }
                case TypeKind.Text:
                    w.Line($"public string {fi.Prop} => {source}.ReadText({off}{(f.Default.Text is { Length: > 0 } dt ? ", " + Names.StringLiteral(dt) : "")});");
                    // The same text as UTF-8 bytes read in place (no string allocated); the default when unset.
                    w.Line($"/// <summary>{fi.Prop} as UTF-8 bytes (without the NUL), read in place without allocating.</summary>");
                    w.Line(f.Default.Text is { Length: > 0 } du
                        ? $"public global::System.ReadOnlySpan<byte> {fi.Utf8} => {source}.HasPointer({off}) ? {source}.ReadTextBytes({off}) : {Names.StringLiteral(du)}u8;"
                        : $"public global::System.ReadOnlySpan<byte> {fi.Utf8} => {source}.ReadTextBytes({off});");
                    w.Line($"public bool {fi.Has} => {source}.HasPointer({off});");
                    break;
                case TypeKind.Data:
                    w.Line($"public global::System.ReadOnlyMemory<byte> {fi.Prop} => {source}.ReadData({off}{DefaultArg(fi)});");
                    w.Line($"public bool {fi.Has} => {source}.HasPointer({off});");
                    break;
                case TypeKind.Struct:
                {
                    var st = TypeName(t.TypeId, t.Brand, n.Id);
                    w.Line($"public {st}.Reader {fi.Prop} => {st}.Reader.Create({source}.ReadStruct({off}{DefaultArg(fi)}));");
                    w.Line($"public bool {fi.Has} => {source}.HasPointer({off});");
                    break;
                }
                case TypeKind.List:
                    w.Line($"public {ReaderType(t, n.Id)} {fi.Prop} => {ListReaderFromList(t, $"{source}.ReadList({off}{DefaultArg(fi)})", n.Id)};");
                    w.Line($"public bool {fi.Has} => {source}.HasPointer({off});");
                    break;
                case TypeKind.Interface:
                {
                    var it = TypeName(t.TypeId, t.Brand, n.Id);
                    // A method, not a property: each read makes a new reference the caller disposes.
                    w.Line($"public {it}.Client? {fi.Get}() => {Rpc}.CapabilityClient.FromCapTable<{it}.Client>({source}, {off});");
                    w.Line($"public bool {fi.Has} => {source}.HasPointer({off});");
                    break;
                }
                case TypeKind.AnyPointer:
                {
                    var open = OpenParameter(t, n.Id);
                    if (open != null)
                        w.Line($"public {open} {fi.Prop} => {Ser}.PointerValue<{open}>.Read({source}.ReadAnyPointer({off}));");
                    else if (t.AnyKind == AnyPointerKind.Capability)
                    {
                        w.Line($"public {Rpc}.BareClient? {fi.Get}() => {Rpc}.CapabilityClient.FromCapTable<{Rpc}.BareClient>({source}, {off});");
                        w.Line($"public bool {fi.Has} => {source}.HasPointer({off});");
                        break;
                    }
                    else
                        w.Line($"public {Ser}.AnyPointerReader {fi.Prop} => {source}.ReadAnyPointer({off});");
                    w.Line($"public bool {fi.Has} => {source}.HasPointer({off});");
                    break;
                }
            }
        }
        w.Close();
    }

    /// <summary>Statements zeroing every field of a group (as C++ initX() does when switching union members).</summary>
    private string GroupClear(ulong groupId)
    {
        var sb = new System.Text.StringBuilder();
        void Walk(NodeModel g)
        {
            if (g.DiscriminantCount > 0) sb.Append($"_raw.WriteUInt16({g.DiscriminantOffset}, 0); ");
            foreach (var f in g.Fields)
            {
                if (f.IsGroup) { if (_req.Nodes.TryGetValue(f.GroupTypeId, out var inner)) Walk(inner); continue; }
                var stmt = f.Type.Kind switch
                {
                    TypeKind.Void => null,
                    TypeKind.Bool => $"_raw.WriteBool({f.Offset}, false); ",
                    TypeKind.Int8 or TypeKind.UInt8 => $"_raw.WriteUInt8({f.Offset}, 0); ",
                    TypeKind.Int16 or TypeKind.UInt16 or TypeKind.Enum => $"_raw.WriteUInt16({f.Offset}, 0); ",
                    TypeKind.Int32 or TypeKind.UInt32 or TypeKind.Float32 => $"_raw.WriteUInt32({f.Offset}, 0); ",
                    TypeKind.Int64 or TypeKind.UInt64 or TypeKind.Float64 => $"_raw.WriteUInt64({f.Offset}, 0); ",
                    _ => $"_raw.ClearPointer({f.Offset}); ",
                };
                sb.Append(stmt);
            }
        }
        if (_req.Nodes.TryGetValue(groupId, out var node)) Walk(node);
        return sb.ToString();
    }

    // ---------------------------------------------------------------- builder

    /// <summary>
    /// The body of a getter that hands out a builder: <c>ref readonly</c> to a per-thread slot holding it, so that
    /// <c>e.Point.X = 1</c> compiles (a builder returned by value is a temporary: CS1612) and still nothing is allocated.
    /// <c>InitX()</c> methods return by value, since a method's result may already be assigned through.
    /// </summary>
    private static string HoldBuilder(string builderType, string value) => $"ref {Ser}.BuilderSlot<{builderType}>.Hold({value})";

    private void EmitBuilder(CodeWriter w, NodeModel n, string self, List<FieldInfo> fields, bool hasUnion)
    {
        w.Line($"/// <summary>Builds a <c>{n.ShortName}</c>.</summary>");
        // A struct, so that navigating a message (e.g. each element of a struct list) allocates nothing: as a class it
        // cost 40 bytes and about 30 ns per element (BuildList1000 at 14x C++). A readonly one, so that its setters can
        // be called through the `ref readonly` that getters return (HoldBuilder): `e.Point.X = 1` compiles.
        w.Line($"public readonly partial struct Builder : {Ser}.IStructBuilder<Builder>");
        w.Open();
        w.Line($"private readonly {Ser}.StructBuilder _raw;");
        w.Line($"private Builder({Ser}.StructBuilder raw) {{ _raw = raw; }}");
        w.Line("/// <summary>Wraps a raw struct builder.</summary>");
        w.Line($"public static Builder Create({Ser}.StructBuilder builder) => new Builder(builder);");
        // A field may be called DataWords/PointerCount: then implement the interface members explicitly.
        bool explicitSizes = fields.Any(f => f.Prop is "DataWords" or "PointerCount" || f.Has is "DataWords" or "PointerCount" || f.Init is "DataWords" or "PointerCount" || f.Set is "DataWords" or "PointerCount");
        w.Line("/// <summary>Data section size in words.</summary>");
        w.Line(explicitSizes ? $"static ushort {Ser}.IStructBuilder<Builder>.DataWords => {n.DataWordCount};" : $"public static ushort DataWords => {n.DataWordCount};");
        w.Line("/// <summary>Pointer section size.</summary>");
        w.Line(explicitSizes ? $"static ushort {Ser}.IStructBuilder<Builder>.PointerCount => {n.PointerCount};" : $"public static ushort PointerCount => {n.PointerCount};");
        w.Line("/// <summary>The underlying raw struct builder.</summary>");
        w.Line($"public {Ser}.StructBuilder Raw => _raw;");
        w.Line("/// <summary>A reader over the same data.</summary>");
        w.Line($"public {self}.Reader AsReader() => {self}.Reader.Create(_raw.AsReader());");
        if (hasUnion)
        {
            w.Line("/// <summary>Which member of the union is set.</summary>");
            w.Line($"public {self}.Which Which => ({self}.Which)_raw.ReadUInt16({n.DiscriminantOffset});");
            w.Line($"private {Ser}.StructBuilder __Active(ushort which) => _raw.ReadUInt16({n.DiscriminantOffset}) == which ? _raw : default;");
            w.Line($"private {Ser}.StructBuilder __Require(ushort which, string member, string init) => _raw.ReadUInt16({n.DiscriminantOffset}) == which ? _raw");
            w.Line($"    : throw new global::System.InvalidOperationException($\"{{member}} is not the active union member (Which is {{Which}}): call {{init}}() to switch to it.\");");
        }
        foreach (var fi in fields)
        {
            var f = fi.Field;
            if (f.IsGroup || f.Type.Kind != TypeKind.Void || f.InUnion) EmitMemberDoc(w, n.Id, n.Fields.IndexOf(f));
            string setWhich = f.InUnion ? $"_raw.SetWhich({n.DiscriminantOffset}, {f.DiscriminantValue}); " : "";
            // Getters of union members: values read as their defaults while another member is set; getters that hand out
            // a builder into the member's pointer or group (which another member may be using) throw instead.
            string active = f.InUnion ? $"__Active({f.DiscriminantValue})" : "_raw";
            string required = f.InUnion ? $"__Require({f.DiscriminantValue}, \"{fi.Prop}\", \"{fi.Init}\")" : "_raw";
            if (f.InUnion && (f.IsGroup || f.Type.Kind != TypeKind.Void))
                w.Line(f.IsGroup || f.Type.Kind is TypeKind.Struct or TypeKind.List ? $"/// <remarks>Union member: the getter throws <see cref=\"global::System.InvalidOperationException\"/> while another member is set; <c>{fi.Init}</c> switches to this one.</remarks>" : UnionReadRemark);
            if (f.IsGroup)
            {
                var g = TypeName(f.GroupTypeId, null, n.Id);
                w.Line($"public ref readonly {g}.Builder {fi.Prop} => {HoldBuilder($"{g}.Builder", $"{g}.Builder.Create({required})")};");
                if (f.InUnion)
                    w.Line($"public {g}.Builder {fi.Init}() {{ {setWhich}{GroupClear(f.GroupTypeId)}return {g}.Builder.Create(_raw); }}");
                continue;
            }
            var t = f.Type;
            int off = (int)f.Offset;
            switch (t.Kind)
            {
                case TypeKind.Void:
                    if (f.InUnion) w.Line($"public void {fi.Set}() {{ {setWhich}}}");
                    break;
                case TypeKind.Bool: case TypeKind.Int8: case TypeKind.Int16: case TypeKind.Int32: case TypeKind.Int64:
                case TypeKind.UInt8: case TypeKind.UInt16: case TypeKind.UInt32: case TypeKind.UInt64:
                case TypeKind.Float32: case TypeKind.Float64:
                {
                    var s = RuntimeSuffix(t.Kind); var d = ScalarDefaultArg(f);
                    w.Line($"public {ScalarType(t)} {fi.Prop} {{ get => {active}.Read{s}({off}{d}); set {{ {setWhich}_raw.Write{s}({off}, value{d}); }} }}");
                    break;
                }
                case TypeKind.Enum:
                {
                    var et = TypeName(t.TypeId, t.Brand, n.Id); var d = ScalarDefaultArg(f);
                    w.Line($"public {et} {fi.Prop} {{ get => ({et}){active}.ReadUInt16({off}{d}); set {{ {setWhich}_raw.WriteUInt16({off}, (ushort)value{d}); }} }}");
                    break;
                }
                case TypeKind.Text:
                {
                    // Unset: the schema default (as C++ getX() gives), or null when there is none.
                    var textDefault = f.Default.Text is { Length: > 0 } dt ? Names.StringLiteral(dt) : "null";
                    w.Line($"public string? {fi.Prop} {{ get => {active}.HasPointer({off}) ? {active}.ReadText({off}) : {textDefault}; set {{ {setWhich}_raw.WriteText({off}, value); }} }}");
                }
                    w.Line($"public bool {fi.Has} => {active}.HasPointer({off});");
                    break;
                case TypeKind.Data:
                    w.Line($"public global::System.ReadOnlyMemory<byte> {fi.Prop} {{ get => {active}.ReadData({off}{DefaultArg(fi)}); set {{ {setWhich}_raw.WriteData({off}, value.Span); }} }}");
                    w.Line($"public bool {fi.Has} => {active}.HasPointer({off});");
                    break;
                case TypeKind.Struct:
                {
                    var st = TypeName(t.TypeId, t.Brand, n.Id);
                    // Unset: the default is copied into the message first, as C++ getX() does.
                    w.Line($"public ref readonly {st}.Builder {fi.Prop} => {HoldBuilder($"{st}.Builder", $"{required}.GetStruct<{st}.Builder>({off}{DefaultArg(fi)})")};");
                    w.Line($"public {st}.Builder {fi.Init}() {{ {setWhich}return _raw.InitStruct<{st}.Builder>({off}); }}");
                    w.Line($"public void {fi.Set}({st}.Reader value) {{ {setWhich}_raw.CopyFrom({off}, value.Raw); }}");
                    w.Line($"public bool {fi.Has} => {active}.HasPointer({off});");
                    break;
                }
                case TypeKind.List:
                    EmitListBuilderMembers(w, n, fi, setWhich, active, required);
                    break;
                case TypeKind.Interface:
                {
                    var it = TypeName(t.TypeId, t.Brand, n.Id);
                    w.Line($"public {it}.Client? {fi.Prop} {{ set {{ {setWhich}{Rpc}.CapabilityClient.WriteToCapTable(_raw, {off}, value); }} }}");
                    w.Line($"public bool {fi.Has} => {active}.HasPointer({off});");
                    break;
                }
                case TypeKind.AnyPointer:
                {
                    var open = OpenParameter(t, n.Id);
                    if (open != null)
                    {
                        w.Line($"public TBuilder {fi.Init}<TBuilder>() where TBuilder : {Ser}.IStructBuilder<TBuilder> {{ {setWhich}return _raw.InitStruct<TBuilder>({off}); }}");
                        w.Line($"public TList {fi.Init}<TList>(int count) where TList : struct, {Ser}.IListBuilder<TList> {{ {setWhich}return TList.Init(_raw.GetAnyPointer({off}), count); }}");
                        // The value as its binding's type: Box(Text) sets a string, Box(Point) copies a Point.Reader.
                        w.Line($"public void {fi.Set}({open} value) {{ {setWhich}{Ser}.PointerValue<{open}>.Write(_raw.GetAnyPointer({off}), value); }}");
                    }
                    if (t.AnyKind == AnyPointerKind.Capability)
                        w.Line($"public {Rpc}.CapabilityClient? {fi.Prop} {{ set {{ {setWhich}{Rpc}.CapabilityClient.WriteToCapTable(_raw, {off}, value); }} }}");
                    else
                        w.Line($"public {Ser}.AnyPointerBuilder {fi.Prop} {{ get {{ {setWhich}return _raw.GetAnyPointer({off}); }} }}");
                    w.Line($"public bool {fi.Has} => {active}.HasPointer({off});");
                    break;
                }
            }
        }
        w.Close();
    }
}
