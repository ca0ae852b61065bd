namespace Capnp.Native.CodeGen;

internal sealed partial class CodeGenerator
{
    /// <summary>The interface and all its (transitive) superclasses, each once, the interface first.</summary>
    private List<NodeModel> InterfaceClosure(NodeModel n)
    {
        var result = new List<NodeModel>();
        var seen = new HashSet<ulong>();
        void Walk(NodeModel i)
        {
            if (!seen.Add(i.Id)) return;
            result.Add(i);
            foreach (var (id, _) in i.Superclasses)
                if (_req.Nodes.TryGetValue(id, out var s)) Walk(s);
        }
        Walk(n);
        return result;
    }

    /// <summary>Transitive superclasses with the brand they were extended with (first occurrence wins).</summary>
    private List<(NodeModel Node, BrandModel Brand)> SuperclassClosure(NodeModel n)
    {
        var result = new List<(NodeModel, BrandModel)>();
        var seen = new HashSet<ulong> { n.Id };
        var queue = new Queue<NodeModel>();
        queue.Enqueue(n);
        while (queue.Count > 0)
        {
            foreach (var (id, brand) in queue.Dequeue().Superclasses)
            {
                if (!seen.Add(id) || !_req.Nodes.TryGetValue(id, out var s)) continue;
                result.Add((s, brand));
                queue.Enqueue(s);
            }
        }
        return result;
    }

    /// <summary>The id of <c>StreamResult</c> (capnp/stream.capnp): the results of every <c>-> stream</c> method.</summary>
    private const ulong StreamResultTypeId = 0x995f9a3377c0b16eUL;

    private sealed class MethodInfo
    {
        /// <summary>Declared <c>-> stream</c>: flow-controlled, no results.</summary>
        public bool IsStreaming;
        public required NodeModel Owner;
        public required MethodModel Method;
        public required ushort Ordinal;
        public required string Name;
        public required string Params;   // static class of the params struct
        public required string Results;
        public required NodeModel ParamNode;
        public required NodeModel ResultNode;
    }

    private List<MethodInfo> Methods(NodeModel iface, ulong context, HashSet<string> used)
    {
        var list = new List<MethodInfo>();
        foreach (var owner in InterfaceClosure(iface))
        {
            for (int i = 0; i < owner.Methods.Count; i++)
            {
                var m = owner.Methods[i];
                // Clients and servers both name the method XxxAsync.
                var name = NameAnnotation(m.Annotations) ?? Names.Pascal(m.Name);
                while (used.Contains(name + "Async")) name += "_";
                used.Add(name + "Async");
                list.Add(new MethodInfo
                {
                    Owner = owner, Method = m, Ordinal = (ushort)i, Name = name,
                    IsStreaming = m.ResultStructType == StreamResultTypeId,
                    Params = TypeName(m.ParamStructType, m.ParamBrand, context),
                    Results = TypeName(m.ResultStructType, m.ResultBrand, context),
                    ParamNode = Node(m.ParamStructType), ResultNode = Node(m.ResultStructType),
                });
            }
        }
        return list;
    }

    /// <summary>C# parameter type for a flattened method parameter, or null when the field cannot be flattened.</summary>
    private string? FlatParamType(FieldModel f, ulong context)
    {
        if (f.IsGroup || f.InUnion) return null;
        var t = f.Type;
        return t.Kind switch
        {
            TypeKind.Void => null,
            TypeKind.Enum => TypeName(t.TypeId, t.Brand, context),
            TypeKind.Text => "string?",
            TypeKind.Data => "global::System.ReadOnlyMemory<byte>",
            TypeKind.Struct => TypeName(t.TypeId, t.Brand, context) + ".Reader",
            TypeKind.List => ListReaderType(t.ElementType!, context),
            TypeKind.Interface => TypeName(t.TypeId, t.Brand, context) + ".Client?",
            TypeKind.AnyPointer => OpenParameter(t, context),
            _ => ScalarType(t),
        };
    }

    private void EmitInterface(CodeWriter w, NodeModel n)
    {
        var self = TypeName(n.Id, null, n.Id);
        EmitDoc(w, n.Id, $"Cap'n Proto interface <c>{XmlText(QualifiedName(n))}</c> (id 0x{n.Id:x16}).");
        w.Line($"public static partial class {_csName[n.Id]}{TypeParamList(n)}");
        w.Open();
        w.Line("/// <summary>The interface id.</summary>");
        w.Line($"public const ulong InterfaceId = 0x{n.Id:x16}UL;");
        w.Line("/// <summary>The schema node id (same as <see cref=\"InterfaceId\"/>).</summary>");
        w.Line($"public const ulong TypeId = 0x{n.Id:x16}UL;");
        w.Line();

        // ------------------------------------------------ client
        // One name per method on both sides (the client's XxxAsync calls the server's XxxAsync),
        // free of the members of both base classes.
        var reserved = new HashSet<string>(StringComparer.Ordinal)
        {
            "Client", "Target", "Dispose", "DisposeAsync", "WhenBrokenAsync", "InvokeMethod", "InvokeStreamingMethod", "FromCapTable", "WriteToCapTable", "Create",
            "Server", "DispatchAsync", "StreamingMethods", "Unimplemented", "OnReleasedAsync", "InterfaceIds",
            "Equals", "GetHashCode", "GetType", "ToString",
        };
        var methods = Methods(n, n.Id, reserved);
        w.Line($"/// <summary>Client proxy for <c>{n.ShortName}</c>: calls go to the wrapped call target.</summary>");
        w.Line($"public sealed partial class Client : {Rpc}.CapabilityClient, {Rpc}.ICapabilityClient<Client>");
        w.Open();
        w.Line($"/// <summary>Wraps a call target (a remote capability, or a local server).</summary>");
        w.Line($"public Client({Rpc}.ICallTarget target) : base(target) {{ }}");
        w.Line($"/// <summary>Wraps a call target.</summary>");
        w.Line($"public static Client Create({Rpc}.ICallTarget target) => new Client(target);");
        if (GenericScopes(n.Id).Any())
        {
            // A generic interface's clients cannot be listed in the file's module initializer (one
            // per binding): each binding registers itself here, which PointerValue runs on first use.
            w.Line($"static Client() => {Ser}.PointerValue<Client?>.Register({Rpc}.Generated.ClientPointerValue<Client>.Instance);");
        }
        foreach (var (sup, brand) in SuperclassClosure(n))
        {
            var st = TypeName(sup.Id, brand, n.Id);
            w.Line($"/// <summary>Views this capability as its superclass <c>{sup.ShortName}</c>.</summary>");
            w.Line($"public static implicit operator {st}.Client({self}.Client client) => new {st}.Client(client.Target);");
        }
        foreach (var mi in methods)
        {
            var pNames = FieldNames(mi.ParamNode);
            var flat = pNames.Select(fi => (fi, type: FlatParamType(fi.Field, n.Id))).ToList();
            bool canFlatten = mi.ParamNode.DiscriminantCount == 0
                && flat.All(x => x.type != null || (x.fi.Field.Type.Kind == TypeKind.Void && !x.fi.Field.IsGroup));
            // Results without capabilities need no pipeline in the engine.
            string pipelined = HasCapabilityFields(mi.ResultNode.Id) ? "" : ", pipelined: false";
            string call = $"InvokeMethod(0x{mi.Owner.Id:x16}UL, {mi.Ordinal}, __message, cancellationToken{pipelined})";
            string stream = $"InvokeStreamingMethod(0x{mi.Owner.Id:x16}UL, {mi.Ordinal}, __message, cancellationToken)";

            if (mi.IsStreaming)
            {
                EmitMemberDoc(w, mi.Owner.Id, mi.Ordinal, $"Streams <c>{mi.Owner.ShortName}.{mi.Method.Name}</c>: completes when flow control allows the next call; a failure surfaces on a later call.");
                w.Line($"public global::System.Threading.Tasks.Task {mi.Name}Async(global::System.Action<{mi.Params}.Builder> build, global::System.Threading.CancellationToken cancellationToken = default)");
                w.Open();
                w.Line($"var __message = new {Ser}.MessageBuilder();");
                w.Line($"build(__message.InitRoot<{mi.Params}.Builder>());");
                w.Line($"return {stream};");
                w.Close();
            }
            else
            {
                EmitMemberDoc(w, mi.Owner.Id, mi.Ordinal, CallDoc(mi));
                w.Line($"public {mi.Results}.Promise {mi.Name}Async(global::System.Action<{mi.Params}.Builder> build, global::System.Threading.CancellationToken cancellationToken = default)");
                w.Open();
                w.Line($"var __message = new {Ser}.MessageBuilder();");
                w.Line($"build(__message.InitRoot<{mi.Params}.Builder>());");
                w.Line($"return new {mi.Results}.Promise({call});");
                w.Close();
            }
            if (canFlatten)
            {
                var ps = flat.Where(x => x.type != null).ToList();
                var used = new HashSet<string>(StringComparer.Ordinal) { "cancellationToken", "__message", "__p", "build" };
                var argNames = ps.Select(x => Names.Unique(Names.Camel(x.fi.Field.Name), used)).ToList();
                var sig = string.Concat(ps.Select((x, i) => $"{x.type} {argNames[i]}, "));
                if (mi.IsStreaming)
                {
                    EmitMemberDoc(w, mi.Owner.Id, mi.Ordinal, $"Streams <c>{mi.Owner.ShortName}.{mi.Method.Name}</c>: completes when flow control allows the next call.");
                    w.Line($"public global::System.Threading.Tasks.Task {mi.Name}Async({sig}global::System.Threading.CancellationToken cancellationToken = default)");
                }
                else
                {
                    EmitMemberDoc(w, mi.Owner.Id, mi.Ordinal, CallDoc(mi));
                    w.Line($"public {mi.Results}.Promise {mi.Name}Async({sig}global::System.Threading.CancellationToken cancellationToken = default)");
                }
                w.Open();
                w.Line($"var __message = new {Ser}.MessageBuilder();");
                w.Line($"var __p = __message.InitRoot<{mi.Params}.Builder>();");
                for (int i = 0; i < ps.Count; i++)
                {
                    var fi = ps[i].fi; var a = argNames[i];
                    switch (fi.Field.Type.Kind)
                    {
                        case TypeKind.Struct:
                        case TypeKind.List:
                            w.Line($"if (!{a}.Raw.IsNull) __p.{fi.Set}({a});");
                            break;
                        case TypeKind.AnyPointer: // a generic parameter: written as its binding (struct, text, list, client...)
                            w.Line($"__p.{fi.Set}({a});");
                            break;
                        case TypeKind.Text:
                            w.Line($"if ({a} != null) __p.{fi.Prop} = {a};");
                            break;
                        case TypeKind.Data:
                            w.Line($"if (!{a}.IsEmpty) __p.{fi.Prop} = {a};");
                            break;
                        default:
                            w.Line($"__p.{fi.Prop} = {a};");
                            break;
                    }
                }
                w.Line(mi.IsStreaming ? $"return {stream};" : $"return new {mi.Results}.Promise({call});");
                w.Close();
            }
        }
        w.Close();
        w.Line();

        // ------------------------------------------------ server
        var smethods = methods;
        w.Line($"/// <summary>Base class for C# implementations of <c>{n.ShortName}</c>.</summary>");
        w.Line($"public abstract partial class Server : {Rpc}.CapabilityServer");
        w.Open();
        foreach (var mi in smethods)
        {
            if (mi.IsStreaming)
            {
                w.Line($"/// <summary>Implements the streaming method <c>{mi.Owner.ShortName}.{mi.Method.Name}</c>: read <paramref name=\"parameters\"/>; throwing fails the stream.</summary>");
                w.Line($"public abstract global::System.Threading.Tasks.Task {mi.Name}Async({mi.Params}.Reader parameters, global::System.Threading.CancellationToken cancellationToken);");
                continue;
            }

            w.Line($"/// <summary>Implements <c>{mi.Owner.ShortName}.{mi.Method.Name}</c>: read <paramref name=\"parameters\"/>, fill <paramref name=\"results\"/>.</summary>");
            w.Line($"public abstract global::System.Threading.Tasks.Task {mi.Name}Async({mi.Params}.Reader parameters, {mi.Results}.Builder results, global::System.Threading.CancellationToken cancellationToken);");
        }
        var streaming = smethods.Where(m => m.IsStreaming).ToList();
        if (streaming.Count > 0)
        {
            w.Line("private static readonly (ulong InterfaceId, ushort MethodId)[] __streamingMethods =");
            w.Line($"    {{ {string.Join(", ", streaming.Select(m => $"(0x{m.Owner.Id:x16}UL, {m.Ordinal})"))} }};");
            w.Line("/// <inheritdoc/>");
            w.Line("protected override global::System.Collections.Generic.IReadOnlyList<(ulong InterfaceId, ushort MethodId)> StreamingMethods => __streamingMethods;");
        }
        w.Line("/// <inheritdoc/>");
        w.Line($"protected override global::System.Threading.Tasks.Task DispatchAsync(ulong interfaceId, ushort methodId, {Ser}.MessageReader parameters, {Ser}.MessageBuilder results, global::System.Threading.CancellationToken cancellationToken)");
        w.Open();
        // An interface without methods (nor inherited ones) answers every call Unimplemented: no
        // switch, which would be empty (CS1522 in its users' builds).
        if (smethods.Count > 0)
        {
            w.Line("switch (interfaceId)");
            w.Open();
        }
        foreach (var g in smethods.GroupBy(m => m.Owner.Id))
        {
            w.Line($"case 0x{g.Key:x16}UL:");
            w.Line("    switch (methodId)");
            w.Line("    {");
            foreach (var mi in g)
            {
                w.Line(mi.IsStreaming
                    ? $"        case {mi.Ordinal}: return {mi.Name}Async(parameters.GetRoot<{mi.Params}.Reader>(), cancellationToken);"
                    : $"        case {mi.Ordinal}: return {mi.Name}Async(parameters.GetRoot<{mi.Params}.Reader>(), results.InitRoot<{mi.Results}.Builder>(), cancellationToken);");
            }
            w.Line("    }");
            w.Line("    break;");
        }
        if (smethods.Count > 0) w.Close();
        w.Line($"throw {Rpc}.CapabilityServer.Unimplemented(interfaceId, methodId);");
        w.Close();
        w.Close();
        w.Line();

        EmitNestedMembers(w, n);
        w.Close();
        w.Line();
    }

    /// <summary>Inside a struct used as method results: an awaitable promise with pipeline accessors.</summary>
    private void EmitPromise(CodeWriter w, NodeModel n, string self, List<FieldInfo> fields)
    {
        w.Line("/// <summary>An answer that has not arrived yet: await it, or pipeline on its capabilities.</summary>");
        w.Line($"public sealed partial class Promise : {Rpc}.RemoteAnswer<{self}.Reader>");
        w.Open();
        // Kept only where pipeline members use it.
        bool pipelines = HasCapabilityFields(n.Id);
        if (pipelines) w.Line($"private readonly {Rpc}.Generated.PromisedAnswer __answer;");
        w.Line($"/// <summary>Wraps a promised answer (used by the generated client).</summary>");
        w.Line("[global::System.ComponentModel.EditorBrowsable(global::System.ComponentModel.EditorBrowsableState.Never)]");
        w.Line(pipelines
            ? $"public Promise({Rpc}.Generated.PromisedAnswer answer) : base(answer) {{ __answer = answer; }}"
            : $"public Promise({Rpc}.Generated.PromisedAnswer answer) : base(answer) {{ }}");
        if (pipelines) EmitPipelineMembers(w, n, fields, "__answer", off => $"new ushort[] {{ {off} }}");
        w.Close();
    }

    private readonly Dictionary<ulong, bool> _hasCaps = new();

    /// <summary>Whether a struct has capability fields, directly or in (non-union) struct fields: it then gets a Pipeline.</summary>
    private bool HasCapabilityFields(ulong id)
    {
        if (_hasCaps.TryGetValue(id, out var known)) return known;
        _hasCaps[id] = false; // cycle guard
        if (!_req.Nodes.TryGetValue(id, out var n) || n.Kind != NodeKind.Struct) return false;
        bool result = false;
        foreach (var f in n.Fields)
        {
            if (f.IsGroup || f.InUnion) continue;
            if (f.Type.Kind == TypeKind.Interface) result = true;
            else if (f.Type.Kind == TypeKind.Struct && HasCapabilityFields(f.Type.TypeId)) result = true;
        }
        return _hasCaps[id] = result;
    }

    /// <summary>Pipeline accessors (capability and struct fields) shared by Promise and Pipeline.</summary>
    private void EmitPipelineMembers(CodeWriter w, NodeModel n, List<FieldInfo> fields, string answer, Func<ushort, string> path)
    {
        foreach (var fi in fields)
        {
            var f = fi.Field;
            if (f.IsGroup || f.InUnion) continue;
            if (f.Type.Kind == TypeKind.Interface)
            {
                var it = TypeName(f.Type.TypeId, f.Type.Brand, n.Id);
                // A method, not a property: each call makes a new reference the caller disposes.
                w.Line($"/// <summary>Pipelined capability <c>{f.Name}</c>: usable before the answer arrives; each call returns a new reference to dispose.</summary>");
                w.Line($"public {it}.Client {fi.Get}() => new {it}.Client({answer}.GetPipelinedCapability({path((ushort)f.Offset)}));");
            }
            else if (f.Type.Kind == TypeKind.Struct && HasCapabilityFields(f.Type.TypeId))
            {
                var st = TypeName(f.Type.TypeId, f.Type.Brand, n.Id);
                w.Line($"/// <summary>Pipelined view of struct field <c>{f.Name}</c>.</summary>");
                w.Line($"public {st}.Pipeline {fi.Prop} => new {st}.Pipeline({answer}, {path((ushort)f.Offset)});");
            }
        }
    }

    /// <summary>For structs with capability fields: a view of a promised struct for pipelining.</summary>
    private void EmitPipeline(CodeWriter w, NodeModel n, List<FieldInfo> fields)
    {
        w.Line("/// <summary>A struct inside a promised answer: its capabilities can be called before the answer arrives.</summary>");
        w.Line("public readonly partial struct Pipeline");
        w.Open();
        w.Line($"private readonly {Rpc}.Generated.PromisedAnswer _answer;");
        w.Line("private readonly ushort[] _path;");
        w.Line("/// <summary>The struct at <paramref name=\"path\"/> (pointer indices) in <paramref name=\"answer\"/> (used by generated code).</summary>");
        w.Line("[global::System.ComponentModel.EditorBrowsable(global::System.ComponentModel.EditorBrowsableState.Never)]");
        w.Line($"public Pipeline({Rpc}.Generated.PromisedAnswer answer, ushort[] path) {{ _answer = answer; _path = path; }}");
        EmitPipelineMembers(w, n, fields, "_answer", off => $"{Rpc}.Generated.PromisedAnswer.Extend(_path, {off})");
        w.Close();
    }

    private static string CallDoc(MethodInfo mi)
        => $"Calls <c>{mi.Owner.ShortName}.{mi.Method.Name}</c>. The returned promise is awaitable, offers the pipelined capabilities of the results before they arrive, and frees the results when disposed.";

    private bool IsResultStruct(NodeModel n)
        => _req.Nodes.Values.Any(i => i.Kind == NodeKind.Interface && i.Methods.Any(m => m.ResultStructType == n.Id));
}
