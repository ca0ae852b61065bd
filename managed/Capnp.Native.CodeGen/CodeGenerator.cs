using System.Globalization;
using System.Text;

namespace Capnp.Native.CodeGen;

/// <summary>Emits one C# file per requested schema file from a <see cref="RequestModel"/>.</summary>
internal sealed partial class CodeGenerator
{
    public const ulong CSharpNamespaceAnnotation = 0xf02e310ad701ff1f;
    public const ulong CSharpNameAnnotation = 0xea35908b0d8be827;

    private const string Ser = "global::Capnp.Native.Serialization";
    private const string Rpc = "global::Capnp.Native.Rpc";

    private readonly RequestModel _req;
    // C# placement of each node: its container node (0 = namespace level) and its C# name.
    private readonly Dictionary<ulong, ulong> _parent = new();
    private readonly Dictionary<ulong, string> _csName = new();
    private readonly Dictionary<ulong, ulong> _fileOf = new();
    // Per-method param/result structs synthesized by the compiler (scopeId 0).
    private readonly HashSet<ulong> _placed = new();

    public CodeGenerator(RequestModel req)
    {
        _req = req;
        AssignNames();
    }

    // ---------------------------------------------------------------- naming

    private NodeModel Node(ulong id) => _req.Nodes.TryGetValue(id, out var n)
        ? n : throw new InvalidOperationException($"Schema node 0x{id:x16} is missing from the request.");

    private static string? NameAnnotation(List<AnnotationModel> anns)
        => anns.FirstOrDefault(a => a.Id == CSharpNameAnnotation)?.Value.Text;

    private void AssignNames()
    {
        foreach (var file in _req.Nodes.Values.Where(n => n.Kind == NodeKind.File))
        {
            var used = new HashSet<string>(StringComparer.Ordinal) { FileConstantsClass(file) };
            PlaceChildren(file, 0, used, file.Id);
        }
    }

    private void PlaceChildren(NodeModel scope, ulong container, HashSet<string> used, ulong fileId)
    {
        foreach (var (name, id) in scope.NestedNodes)
        {
            if (!_req.Nodes.TryGetValue(id, out var child)) continue;
            var wanted = NameAnnotation(child.Annotations) ?? Names.Pascal(name);
            Place(child, container, wanted, used, fileId);
        }
        if (scope.Kind == NodeKind.Struct)
        {
            foreach (var f in scope.Fields.Where(f => f.IsGroup))
            {
                if (!_req.Nodes.TryGetValue(f.GroupTypeId, out var g)) continue;
                var wanted = NameAnnotation(f.Annotations) ?? Names.Pascal(f.Name);
                Place(g, scope.Id, wanted, used, fileId);
            }
        }
        if (scope.Kind == NodeKind.Interface)
        {
            foreach (var m in scope.Methods)
            {
                var mName = NameAnnotation(m.Annotations) ?? Names.Pascal(m.Name);
                foreach (var (sid, suffix) in new[] { (m.ParamStructType, "Params"), (m.ResultStructType, "Results") })
                {
                    if (_req.Nodes.TryGetValue(sid, out var s) && s.ScopeId == 0 && !_placed.Contains(sid))
                        Place(s, scope.Id, mName + suffix, used, fileId);
                }
            }
        }
    }

    private void Place(NodeModel node, ulong container, string wanted, HashSet<string> used, ulong fileId)
    {
        if (!_placed.Add(node.Id)) return;
        _parent[node.Id] = container;
        _csName[node.Id] = Names.Unique(wanted, used);
        _fileOf[node.Id] = fileId;
        // Members of the node's own static class.
        var inner = new HashSet<string>(StringComparer.Ordinal) { _csName[node.Id] };
        foreach (var r in ReservedContainerNames(node)) inner.Add(r);
        PlaceChildren(node, node.Id, inner, fileId);
    }

    private static IEnumerable<string> ReservedContainerNames(NodeModel node) => node.Kind switch
    {
        NodeKind.Struct => new[] { "Reader", "Builder", "TypeId", "Which", "Promise", "Pipeline" },
        NodeKind.Interface => new[] { "Client", "Server", "InterfaceId", "TypeId" },
        _ => Array.Empty<string>(),
    };

    private string FileConstantsClass(NodeModel file)
        => NameAnnotation(file.Annotations) ?? Names.NamespaceFromFile(file.DisplayName) + "Constants";

    private string NamespaceOf(ulong fileId)
    {
        var file = Node(fileId);
        var ns = file.Annotations.FirstOrDefault(a => a.Id == CSharpNamespaceAnnotation)?.Value.Text;
        return string.IsNullOrEmpty(ns) ? Names.NamespaceFromFile(file.DisplayName) : ns;
    }

    /// <summary>Chain of placed nodes from the outermost container down to <paramref name="id"/>.</summary>
    private List<ulong> Chain(ulong id)
    {
        var chain = new List<ulong>();
        for (ulong cur = id; cur != 0; cur = _parent[cur])
        {
            if (!_parent.ContainsKey(cur)) throw new InvalidOperationException($"Node 0x{cur:x16} has no C# placement.");
            chain.Add(cur);
        }
        chain.Reverse();
        return chain;
    }

    /// <summary>Scopes (node ids) whose generic parameters are visible inside <paramref name="id"/>.</summary>
    private IEnumerable<ulong> GenericScopes(ulong id) => Chain(id).Where(n => Node(n).Parameters.Count > 0);

    /// <summary>
    /// Fully qualified C# name of a placed node's static class, with type arguments resolved from
    /// <paramref name="brand"/>; <paramref name="context"/> is the node whose code is being emitted
    /// (its own generic parameters stay open).
    /// </summary>
    private string TypeName(ulong id, BrandModel? brand, ulong context)
    {
        var sb = new StringBuilder("global::").Append(NamespaceOf(_fileOf[id]));
        foreach (var n in Chain(id))
        {
            sb.Append('.').Append(_csName[n]);
            var node = Node(n);
            if (node.Parameters.Count == 0) continue;
            var args = new List<string>();
            var scope = brand?.Scopes.FirstOrDefault(s => s.ScopeId == n);
            for (int i = 0; i < node.Parameters.Count; i++)
            {
                if (scope != null && !scope.Inherit && i < scope.Bindings.Count)
                    args.Add(GenericArgument(scope.Bindings[i], context));
                else if (context != 0 && Chain(context).Contains(n))
                    args.Add(ParamName(node, i));
                else
                    args.Add(AnyPointerValue);
            }
            sb.Append('<').Append(string.Join(", ", args)).Append('>');
        }
        return sb.ToString();
    }

    // An unbound generic parameter is AnyPointer, as in C++.
    private const string AnyPointerValue = "global::Capnp.Native.Serialization.AnyPointerReader";

    private static string ParamName(NodeModel n, int i) => Names.Pascal(n.Parameters[i]);

    /// <summary>
    /// The C# type argument for a brand binding: the type a reader gives for a field of that type (a struct's Reader,
    /// string, ReadOnlyMemory&lt;byte&gt;, a typed list reader, a client); AnyPointerReader when unbound or AnyPointer.
    /// </summary>
    private string GenericArgument(TypeModel? t, ulong context)
    {
        if (t == null) return AnyPointerValue;
        switch (t.Kind)
        {
            case TypeKind.Struct: return TypeName(t.TypeId, t.Brand, context) + ".Reader";
            case TypeKind.Text: return "string";
            case TypeKind.Data: return "global::System.ReadOnlyMemory<byte>";
            case TypeKind.List: return ListReaderType(t.ElementType!, context);
            case TypeKind.Interface: return TypeName(t.TypeId, t.Brand, context) + ".Client";
            case TypeKind.AnyPointer when t.AnyKind == AnyPointerKind.Parameter && context != 0:
            {
                var scopeNode = Node(t.ParameterScopeId);
                if (_parent.ContainsKey(scopeNode.Id) && Chain(context).Contains(scopeNode.Id))
                    return ParamName(scopeNode, t.ParameterIndex);
                return AnyPointerValue;
            }
            default: return AnyPointerValue;
        }
    }

    /// <summary>If the type is a generic parameter open in <paramref name="context"/>, its C# name.</summary>
    private string? OpenParameter(TypeModel t, ulong context)
    {
        if (t.Kind != TypeKind.AnyPointer || t.AnyKind != AnyPointerKind.Parameter) return null;
        if (!_req.Nodes.TryGetValue(t.ParameterScopeId, out var scope) || !_parent.ContainsKey(scope.Id)) return null;
        if (!Chain(context).Contains(scope.Id)) return null;
        return ParamName(scope, t.ParameterIndex);
    }

    // ---------------------------------------------------------------- files

    public IEnumerable<(string FileName, string Content)> GenerateAll()
    {
        foreach (var rf in _req.RequestedFiles)
            yield return (OutputFileName(rf.Filename), GenerateFile(rf));
    }

    /// <summary>
    /// The generated file's path relative to the output directory: the schema's name as capnp reports it (relative to
    /// the working directory or <c>--src-prefix</c>, else its absolute path without the root), mirrored as the C++
    /// plugin does, so <c>a/x.capnp</c> and <c>b/x.capnp</c> give two files instead of one overwriting the other.
    /// </summary>
    /// <exception cref="InvalidOperationException">The name would leave the output directory.</exception>
    public static string OutputFileName(string schemaFile)
    {
        var relative = schemaFile.Replace('\\', '/').TrimStart('/');
        if (relative.Length == 0 || relative.Split('/').Any(part => part is ".." or "") || Path.IsPathRooted(relative))
            throw new InvalidOperationException($"Schema file name '{schemaFile}' does not give an output path inside the output directory.");
        return relative.Replace('/', Path.DirectorySeparatorChar) + ".cs";
    }

    public string GenerateFile(RequestedFileModel rf)
    {
        var file = Node(rf.Id);
        var w = new CodeWriter();
        w.Line("// <auto-generated>");
        w.Line($"//   Generated by capnpc-csharp from {Path.GetFileName(rf.Filename)}. Do not edit.");
        w.Line("// </auto-generated>");
        w.Line("#nullable enable");
        w.Line("#pragma warning disable CS0108, CS0109, CS1591, CS8618, CS8981, CA2255");
        w.Line();
        w.Line($"namespace {NamespaceOf(file.Id)}");
        w.Open();
        var consts = file.NestedNodes.Select(n => _req.Nodes.GetValueOrDefault(n.Id)).Where(n => n?.Kind == NodeKind.Const).ToList();
        if (consts.Count > 0)
        {
            w.Line($"/// <summary>Constants declared at the top level of {Path.GetFileName(rf.Filename)}.</summary>");
            w.Line($"public static partial class {FileConstantsClass(file)}");
            w.Open();
            foreach (var c in consts) EmitConst(w, c!, 0);
            w.Close();
        }
        foreach (var (_, id) in file.NestedNodes)
        {
            if (!_req.Nodes.TryGetValue(id, out var n) || n.Kind == NodeKind.Const) continue;
            EmitNode(w, n);
        }
        EmitClientRegistrations(w, file);
        w.Close();
        return w.ToString();
    }

    /// <summary>
    /// Registers each (non-generic) interface's client with PointerValue, so a generic parameter bound to the interface
    /// (<c>Box(Calc)</c> → <c>Box&lt;Calc.Client&gt;</c>) reads and writes capabilities. A module initializer, because
    /// generic code reaching PointerValue&lt;Calc.Client&gt; never touches Calc itself.
    /// </summary>
    private void EmitClientRegistrations(CodeWriter w, NodeModel file)
    {
        var clients = _req.Nodes.Values
            .Where(n => n.Kind == NodeKind.Interface && _fileOf.GetValueOrDefault(n.Id) == file.Id && !GenericScopes(n.Id).Any())
            .OrderBy(n => n.Id)
            .Select(n => TypeName(n.Id, null, 0) + ".Client")
            .ToList();
        if (clients.Count == 0) return;
        w.Line("/// <summary>Registers this file's capability clients as values of generic parameters.</summary>");
        w.Line($"internal static class __CapnpClients_{file.Id:x16}");
        w.Open();
        w.Line("[global::System.Runtime.CompilerServices.ModuleInitializer]");
        w.Line("internal static void Register()");
        w.Open();
        // PointerValue<Client?>: the codec reads null capabilities as null (IPointerValue<T?>);
        // the same runtime type as PointerValue<Client>, without a nullability warning.
        foreach (var c in clients)
            w.Line($"{Ser}.PointerValue<{c}?>.Register({Rpc}.Generated.ClientPointerValue<{c}>.Instance);");
        w.Close();
        w.Close();
    }

    private void EmitNode(CodeWriter w, NodeModel n)
    {
        switch (n.Kind)
        {
            case NodeKind.Struct: EmitStruct(w, n); break;
            case NodeKind.Enum: EmitEnum(w, n); break;
            case NodeKind.Interface: EmitInterface(w, n); break;
            case NodeKind.Const: break; // emitted by the container
            case NodeKind.Annotation: break; // nothing to generate
        }
    }

    private void EmitDoc(CodeWriter w, ulong id, string fallback)
    {
        var doc = _req.DocComments.GetValueOrDefault(id);
        if (string.IsNullOrWhiteSpace(doc))
        {
            w.Line($"/// <summary>{fallback}</summary>"); // our own text: already XML
            return;
        }
        w.Line("/// <summary>");
        foreach (var line in doc.Trim().Split('\n'))
            w.Line("/// " + XmlText(line.TrimEnd()));
        w.Line("/// </summary>");
    }

    /// <summary>Writes the schema doc comment of member <paramref name="index"/> of node <paramref name="id"/>, if any.</summary>
    private void EmitMemberDoc(CodeWriter w, ulong id, int index, string? fallback = null)
    {
        bool fromSchema = _req.MemberDocComments.TryGetValue(id, out var docs) && index >= 0 && index < docs.Count && docs[index].Trim().Length > 0;
        if (!fromSchema)
        {
            if (fallback != null) w.Line($"/// <summary>{fallback}</summary>");
            return;
        }
        var lines = docs![index].Trim().Split('\n');
        if (lines.Length == 1) { w.Line($"/// <summary>{XmlText(lines[0].TrimEnd())}</summary>"); return; }
        w.Line("/// <summary>");
        foreach (var line in lines) w.Line("/// " + XmlText(line.TrimEnd()));
        w.Line("/// </summary>");
    }

    private static string XmlText(string s) => s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");

    /// <summary>Schema-qualified name without directories: dir/foo.capnp:Outer.Inner → foo.capnp:Outer.Inner.</summary>
    private static string QualifiedName(NodeModel n)
    {
        int colon = n.DisplayName.IndexOf(':');
        var path = colon < 0 ? n.DisplayName : n.DisplayName[..colon];
        return Path.GetFileName(path) + (colon < 0 ? "" : n.DisplayName[colon..]);
    }

    /// <summary>Nested nodes (structs, enums, interfaces, constants, groups, params) placed in this node's class.</summary>
    private void EmitNestedMembers(CodeWriter w, NodeModel n)
    {
        foreach (var (_, id) in n.NestedNodes)
        {
            if (!_req.Nodes.TryGetValue(id, out var c)) continue;
            if (c.Kind == NodeKind.Const) EmitConst(w, c, n.Id);
            else EmitNode(w, c);
        }
        foreach (var child in _req.Nodes.Values.Where(c => _parent.GetValueOrDefault(c.Id) == n.Id && !n.NestedNodes.Any(x => x.Id == c.Id)).OrderBy(c => c.Id == 0 ? 0 : GroupOrder(n, c)))
            EmitNode(w, child);
    }

    private static int GroupOrder(NodeModel parent, NodeModel child)
    {
        int i = parent.Fields.FindIndex(f => f.IsGroup && f.GroupTypeId == child.Id);
        if (i >= 0) return i;
        i = parent.Methods.FindIndex(m => m.ParamStructType == child.Id || m.ResultStructType == child.Id);
        return 1000 + (i >= 0 ? i * 2 + (parent.Methods[i].ResultStructType == child.Id ? 1 : 0) : 0);
    }

    // ---------------------------------------------------------------- enums

    private void EmitEnum(CodeWriter w, NodeModel n)
    {
        EmitDoc(w, n.Id, $"Cap'n Proto enum <c>{XmlText(QualifiedName(n))}</c> (id 0x{n.Id:x16}).");
        w.Line($"public enum {_csName[n.Id]} : ushort");
        w.Open();
        var used = new HashSet<string>(StringComparer.Ordinal) { "value__" };
        for (int i = 0; i < n.Enumerants.Count; i++)
        {
            var e = n.Enumerants[i];
            EmitMemberDoc(w, n.Id, i);
            w.Line($"{Names.Unique(NameAnnotation(e.Annotations) ?? Names.Pascal(e.Name), used)} = {i},");
        }
        w.Close();
    }

    // ---------------------------------------------------------------- constants

    private void EmitConst(CodeWriter w, NodeModel c, ulong context)
    {
        var name = NameAnnotation(c.Annotations) ?? Names.Pascal(c.ShortName);
        if (_csName.TryGetValue(c.Id, out var placed)) name = placed;
        var t = c.ConstType; var v = c.ConstValue;
        w.Line($"/// <summary>Constant <c>{XmlText(QualifiedName(c))}</c>.</summary>");
        switch (t.Kind)
        {
            case TypeKind.Void:
            case TypeKind.Interface:
                w.Line($"// (constant of type {t.Kind} has no C# representation)");
                break;
            case TypeKind.Float32:
            case TypeKind.Float64:
            {
                var lit = ScalarLiteral(t, v.Bits);
                bool isConst = !lit.Contains("BitConverter");
                w.Line($"public {(isConst ? "const" : "static readonly")} {ScalarType(t)} {name} = {lit};");
                break;
            }
            case TypeKind.Bool: case TypeKind.Int8: case TypeKind.Int16: case TypeKind.Int32: case TypeKind.Int64:
            case TypeKind.UInt8: case TypeKind.UInt16: case TypeKind.UInt32: case TypeKind.UInt64:
                w.Line($"public const {ScalarType(t)} {name} = {ScalarLiteral(t, v.Bits)};");
                break;
            case TypeKind.Enum:
                w.Line($"public const {TypeName(t.TypeId, t.Brand, context)} {name} = ({TypeName(t.TypeId, t.Brand, context)}){(ushort)v.Bits};");
                break;
            case TypeKind.Text:
                w.Line($"public const string {name} = {Names.StringLiteral(v.Text ?? "")};");
                break;
            case TypeKind.Data:
                w.Line($"public static global::System.ReadOnlySpan<byte> {name} => {Names.ByteArray(v.Data ?? Array.Empty<byte>())};");
                break;
            default:
            {
                // Struct, list and AnyPointer constants: a reader over an embedded single-segment message.
                var bytes = v.PointerMessage ?? new byte[8];
                w.Line($"private static readonly {Ser}.MessageReader __{name}Message = {Ser}.MessageReader.FromSingleSegment({Names.ByteArray(bytes)});");
                string expr = t.Kind switch
                {
                    TypeKind.Struct => $"{TypeName(t.TypeId, t.Brand, context)}.Reader.Create(__{name}Message.Root)",
                    TypeKind.List => ListReaderFromAnyPointer(t, $"__{name}Message.RootPointer", context),
                    _ => $"__{name}Message.RootPointer",
                };
                w.Line($"public static {ReaderType(t, context)} {name} => {expr};");
                break;
            }
        }
    }

    // ---------------------------------------------------------------- scalar helpers

    private static string ScalarType(TypeModel t) => t.Kind switch
    {
        TypeKind.Bool => "bool",
        TypeKind.Int8 => "sbyte", TypeKind.Int16 => "short", TypeKind.Int32 => "int", TypeKind.Int64 => "long",
        TypeKind.UInt8 => "byte", TypeKind.UInt16 => "ushort", TypeKind.UInt32 => "uint", TypeKind.UInt64 => "ulong",
        TypeKind.Float32 => "float", TypeKind.Float64 => "double",
        _ => throw new ArgumentOutOfRangeException(nameof(t), t.Kind, "not a scalar"),
    };

    private static string RuntimeSuffix(TypeKind k) => k switch
    {
        TypeKind.Bool => "Bool",
        TypeKind.Int8 => "Int8", TypeKind.Int16 => "Int16", TypeKind.Int32 => "Int32", TypeKind.Int64 => "Int64",
        TypeKind.UInt8 => "UInt8", TypeKind.UInt16 => "UInt16", TypeKind.UInt32 => "UInt32", TypeKind.UInt64 => "UInt64",
        TypeKind.Float32 => "Float32", TypeKind.Float64 => "Float64", TypeKind.Enum => "UInt16",
        _ => throw new ArgumentOutOfRangeException(nameof(k), k, "not a scalar"),
    };

    private static string ScalarLiteral(TypeModel t, ulong bits)
    {
        var ci = CultureInfo.InvariantCulture;
        switch (t.Kind)
        {
            case TypeKind.Bool: return (bits & 1) != 0 ? "true" : "false";
            case TypeKind.Int8: return ((sbyte)bits).ToString(ci);
            case TypeKind.Int16: return ((short)bits).ToString(ci);
            case TypeKind.Int32: return (int)bits == int.MinValue ? "int.MinValue" : ((int)bits).ToString(ci);
            case TypeKind.Int64: return (long)bits == long.MinValue ? "long.MinValue" : ((long)bits).ToString(ci) + "L";
            case TypeKind.UInt8: return ((byte)bits).ToString(ci);
            case TypeKind.UInt16: case TypeKind.Enum: return ((ushort)bits).ToString(ci);
            case TypeKind.UInt32: return ((uint)bits).ToString(ci) + "U";
            case TypeKind.UInt64: return bits.ToString(ci) + "UL";
            case TypeKind.Float32:
            {
                float f = BitConverter.Int32BitsToSingle((int)(uint)bits);
                if (float.IsFinite(f) && BitConverter.SingleToInt32Bits(f) != unchecked((int)0x80000000))
                    return f.ToString("R", ci) + "F";
                return $"global::System.BitConverter.Int32BitsToSingle(unchecked((int)0x{(uint)bits:x8}))";
            }
            case TypeKind.Float64:
            {
                double d = BitConverter.Int64BitsToDouble((long)bits);
                if (double.IsFinite(d) && bits != 0x8000000000000000UL) return d.ToString("R", ci) + "D";
                return $"global::System.BitConverter.Int64BitsToDouble(unchecked((long)0x{bits:x16}UL))";
            }
            default: throw new ArgumentOutOfRangeException(nameof(t), t.Kind, "not a scalar");
        }
    }
}

internal sealed class CodeWriter
{
    private readonly StringBuilder _sb = new();
    private int _indent;

    public void Line(string text = "")
    {
        if (text.Length > 0) _sb.Append(' ', _indent * 4).Append(text);
        _sb.Append('\n');
    }

    public void Open() { Line("{"); _indent++; }
    public void Close(string suffix = "") { _indent--; Line("}" + suffix); }
    public override string ToString() => _sb.ToString();
}
