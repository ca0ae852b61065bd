namespace Capnp.Native.CodeGen;

/// <summary>
/// Finds the imported schemas whose types a requested file's generated code refers to but that are not compiled with
/// it: the driver compiles them too, as the C# compiler would otherwise fail in generated code (CS0400, the type is not
/// found). Imports used only for annotations (<c>/csharp.capnp</c>, <c>/capnp/c++.capnp</c>) are never found.
/// </summary>
internal static class UsedImports
{
    /// <summary>/capnp/stream.capnp: its StreamResult is handled by the runtime, never referenced by generated code.</summary>
    private const ulong StreamFileId = 0x86c366a91393f3f8;

    /// <summary>
    /// Each (requested file, imported file node) where the requested file's code uses a type declared in a file that is
    /// neither requested nor accepted by <paramref name="compiledElsewhere"/>.
    /// </summary>
    public static IEnumerable<(RequestedFileModel File, NodeModel Imported)> NotRequested(RequestModel req, Func<NodeModel, bool> compiledElsewhere)
    {
        var requested = req.RequestedFiles.Select(f => f.Id).ToHashSet();
        foreach (var rf in req.RequestedFiles)
        {
            var used = new HashSet<ulong>();
            foreach (var n in req.Nodes.Values.Where(n => FileOf(req, n.Id) == rf.Id))
                CollectNode(req, n, used);
            var files = used.Select(id => FileOf(req, id)).Where(f => f != 0 && f != StreamFileId && !requested.Contains(f)).Distinct();
            foreach (var f in files.OrderBy(f => f))
                if (req.Nodes.TryGetValue(f, out var file) && !compiledElsewhere(file))
                    yield return (rf, file);
        }
    }

    /// <summary>The file node a node is declared in; 0 for nodes outside any file (method parameter structs).</summary>
    private static ulong FileOf(RequestModel req, ulong id)
    {
        for (int depth = 0; depth < 1000 && req.Nodes.TryGetValue(id, out var n); depth++)
        {
            if (n.Kind == NodeKind.File) return n.Id;
            if (n.ScopeId == 0) return 0;
            id = n.ScopeId;
        }
        return 0;
    }

    private static void CollectNode(RequestModel req, NodeModel n, HashSet<ulong> used)
    {
        switch (n.Kind)
        {
            case NodeKind.Struct:
                foreach (var f in n.Fields.Where(f => !f.IsGroup)) CollectType(f.Type, used);
                break;
            case NodeKind.Const:
                CollectType(n.ConstType, used);
                break;
            case NodeKind.Interface:
                foreach (var (id, brand) in n.Superclasses) { used.Add(id); CollectBrand(brand, used); }
                foreach (var m in n.Methods)
                {
                    foreach (var (id, brand) in new[] { (m.ParamStructType, m.ParamBrand), (m.ResultStructType, m.ResultBrand) })
                    {
                        CollectBrand(brand, used);
                        // The compiler's own parameter structs belong to no file: their fields are this file's code.
                        if (req.Nodes.TryGetValue(id, out var s) && s.ScopeId == 0) CollectNode(req, s, used);
                        else used.Add(id);
                    }
                }
                break;
        }
    }

    private static void CollectType(TypeModel t, HashSet<ulong> used)
    {
        switch (t.Kind)
        {
            case TypeKind.Struct or TypeKind.Enum or TypeKind.Interface:
                used.Add(t.TypeId);
                CollectBrand(t.Brand, used);
                break;
            case TypeKind.List when t.ElementType != null:
                CollectType(t.ElementType, used);
                break;
        }
    }

    private static void CollectBrand(BrandModel brand, HashSet<ulong> used)
    {
        foreach (var scope in brand.Scopes)
            foreach (var binding in scope.Bindings)
                if (binding != null) CollectType(binding, used);
    }
}
