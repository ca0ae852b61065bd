using Capnp.Native.Serialization;
using S = Schema;

namespace Capnp.Native.CodeGen;

/// <summary>Copies a CodeGeneratorRequest, read with the runtime through the bootstrap readers, into the model.</summary>
internal static class SchemaLoader
{
    public static RequestModel Load(MessageReader message)
    {
        var req = message.GetRoot<S.CodeGeneratorRequest.Reader>();
        var model = new RequestModel();
        foreach (var n in req.Nodes)
        {
            var node = LoadNode(n);
            model.Nodes[node.Id] = node;
        }
        foreach (var rf in req.RequestedFiles)
        {
            var f = new RequestedFileModel { Id = rf.Id, Filename = rf.Filename };
            foreach (var imp in rf.Imports) f.Imports.Add((imp.Id, imp.Name));
            model.RequestedFiles.Add(f);
        }
        foreach (var si in req.SourceInfo)
        {
            if (si.DocComment.Length > 0) model.DocComments[si.Id] = si.DocComment;
            var members = new List<string>();
            foreach (var m in si.Members) members.Add(m.DocComment);
            if (members.Any(d => d.Length > 0)) model.MemberDocComments[si.Id] = members;
        }
        return model;
    }

    private static NodeModel LoadNode(S.Node.Reader n)
    {
        var m = new NodeModel
        {
            Id = n.Id,
            DisplayName = n.DisplayName,
            DisplayNamePrefixLength = (int)n.DisplayNamePrefixLength,
            ScopeId = n.ScopeId,
            IsGeneric = n.IsGeneric,
        };
        foreach (var p in n.Parameters) m.Parameters.Add(p.Name);
        foreach (var nn in n.NestedNodes) m.NestedNodes.Add((nn.Name, nn.Id));
        m.Annotations = Annotations(n.Annotations);
        switch (n.Which)
        {
            case S.Node.Which.File:
                m.Kind = NodeKind.File;
                break;
            case S.Node.Which.Struct:
            {
                var s = n.Struct;
                m.Kind = NodeKind.Struct;
                m.DataWordCount = s.DataWordCount;
                m.PointerCount = s.PointerCount;
                m.IsGroup = s.IsGroup;
                m.DiscriminantCount = s.DiscriminantCount;
                m.DiscriminantOffset = s.DiscriminantOffset;
                foreach (var f in s.Fields) m.Fields.Add(LoadField(f));
                break;
            }
            case S.Node.Which.Enum:
                m.Kind = NodeKind.Enum;
                foreach (var e in n.Enum.Enumerants)
                    m.Enumerants.Add(new EnumerantModel { Name = e.Name, CodeOrder = e.CodeOrder, Annotations = Annotations(e.Annotations) });
                break;
            case S.Node.Which.Interface:
                m.Kind = NodeKind.Interface;
                foreach (var meth in n.Interface.Methods)
                {
                    m.Methods.Add(new MethodModel
                    {
                        Name = meth.Name,
                        CodeOrder = meth.CodeOrder,
                        ParamStructType = meth.ParamStructType,
                        ParamBrand = LoadBrand(meth.ParamBrand),
                        ResultStructType = meth.ResultStructType,
                        ResultBrand = LoadBrand(meth.ResultBrand),
                        Annotations = Annotations(meth.Annotations),
                        ImplicitParameterCount = meth.ImplicitParameters.Count,
                    });
                }
                foreach (var sc in n.Interface.Superclasses) m.Superclasses.Add((sc.Id, LoadBrand(sc.Brand)));
                break;
            case S.Node.Which.Const:
                m.Kind = NodeKind.Const;
                m.ConstType = LoadType(n.Const.Type);
                m.ConstValue = LoadValue(n.Const.Value);
                break;
            case S.Node.Which.Annotation:
                m.Kind = NodeKind.Annotation;
                break;
            default:
                throw new CapnpFormatException($"Unknown node kind {(ushort)n.Which} for {m.DisplayName}.");
        }
        return m;
    }

    private static FieldModel LoadField(S.Field.Reader f)
    {
        var m = new FieldModel
        {
            Name = f.Name,
            CodeOrder = f.CodeOrder,
            Annotations = Annotations(f.Annotations),
            DiscriminantValue = f.DiscriminantValue,
        };
        switch (f.Which)
        {
            case S.Field.Which.Slot:
                m.Offset = f.Slot.Offset;
                m.Type = LoadType(f.Slot.Type);
                m.Default = LoadValue(f.Slot.DefaultValue);
                m.HadExplicitDefault = f.Slot.HadExplicitDefault;
                break;
            case S.Field.Which.Group:
                m.IsGroup = true;
                m.GroupTypeId = f.Group.TypeId;
                break;
            default:
                throw new CapnpFormatException($"Unknown field kind {(ushort)f.Which} for {m.Name}.");
        }
        return m;
    }

    private static List<AnnotationModel> Annotations(ListOfStructsReader<S.Annotation.Reader> list)
    {
        var result = new List<AnnotationModel>();
        foreach (var a in list) result.Add(new AnnotationModel { Id = a.Id, Value = LoadValue(a.Value) });
        return result;
    }

    private static BrandModel LoadBrand(S.Brand.Reader b)
    {
        var m = new BrandModel();
        foreach (var sc in b.Scopes)
        {
            var s = new BrandScopeModel { ScopeId = sc.ScopeId, Inherit = sc.Which == S.Brand.Scope.Which.Inherit };
            if (!s.Inherit)
                foreach (var binding in sc.Bind)
                    s.Bindings.Add(binding.Which == S.Brand.Binding.Which.Type ? LoadType(binding.Type) : null);
            m.Scopes.Add(s);
        }
        return m;
    }

    private static TypeModel LoadType(S.Type.Reader t)
    {
        var m = new TypeModel();
        switch (t.Which)
        {
            case S.Type.Which.Void: m.Kind = TypeKind.Void; break;
            case S.Type.Which.Bool: m.Kind = TypeKind.Bool; break;
            case S.Type.Which.Int8: m.Kind = TypeKind.Int8; break;
            case S.Type.Which.Int16: m.Kind = TypeKind.Int16; break;
            case S.Type.Which.Int32: m.Kind = TypeKind.Int32; break;
            case S.Type.Which.Int64: m.Kind = TypeKind.Int64; break;
            case S.Type.Which.Uint8: m.Kind = TypeKind.UInt8; break;
            case S.Type.Which.Uint16: m.Kind = TypeKind.UInt16; break;
            case S.Type.Which.Uint32: m.Kind = TypeKind.UInt32; break;
            case S.Type.Which.Uint64: m.Kind = TypeKind.UInt64; break;
            case S.Type.Which.Float32: m.Kind = TypeKind.Float32; break;
            case S.Type.Which.Float64: m.Kind = TypeKind.Float64; break;
            case S.Type.Which.Text: m.Kind = TypeKind.Text; break;
            case S.Type.Which.Data: m.Kind = TypeKind.Data; break;
            case S.Type.Which.List:
                m.Kind = TypeKind.List;
                m.ElementType = LoadType(t.List.ElementType);
                break;
            case S.Type.Which.Enum:
                m.Kind = TypeKind.Enum;
                m.TypeId = t.Enum.TypeId;
                m.Brand = LoadBrand(t.Enum.Brand);
                break;
            case S.Type.Which.Struct:
                m.Kind = TypeKind.Struct;
                m.TypeId = t.Struct.TypeId;
                m.Brand = LoadBrand(t.Struct.Brand);
                break;
            case S.Type.Which.Interface:
                m.Kind = TypeKind.Interface;
                m.TypeId = t.Interface.TypeId;
                m.Brand = LoadBrand(t.Interface.Brand);
                break;
            case S.Type.Which.AnyPointer:
            {
                m.Kind = TypeKind.AnyPointer;
                var ap = t.AnyPointer;
                switch (ap.Which)
                {
                    case S.Type.AnyPointer.Which.Unconstrained:
                        m.AnyKind = ap.Unconstrained.Which switch
                        {
                            S.Type.AnyPointer.Unconstrained.Which.Struct => AnyPointerKind.Struct,
                            S.Type.AnyPointer.Unconstrained.Which.List => AnyPointerKind.List,
                            S.Type.AnyPointer.Unconstrained.Which.Capability => AnyPointerKind.Capability,
                            _ => AnyPointerKind.AnyKind,
                        };
                        break;
                    case S.Type.AnyPointer.Which.Parameter:
                        m.AnyKind = AnyPointerKind.Parameter;
                        m.ParameterScopeId = ap.Parameter.ScopeId;
                        m.ParameterIndex = ap.Parameter.ParameterIndex;
                        break;
                    case S.Type.AnyPointer.Which.ImplicitMethodParameter:
                        m.AnyKind = AnyPointerKind.ImplicitMethodParameter;
                        m.ParameterIndex = ap.ImplicitMethodParameter.ParameterIndex;
                        break;
                }
                break;
            }
            default:
                throw new CapnpFormatException($"Unknown type kind {(ushort)t.Which}.");
        }
        return m;
    }

    private static ValueModel LoadValue(S.Value.Reader v)
    {
        var m = new ValueModel();
        switch (v.Which)
        {
            case S.Value.Which.Void: m.Kind = TypeKind.Void; break;
            case S.Value.Which.Bool: m.Kind = TypeKind.Bool; m.Bits = v.Bool ? 1UL : 0UL; break;
            case S.Value.Which.Int8: m.Kind = TypeKind.Int8; m.Bits = (ulong)(long)v.Int8; break;
            case S.Value.Which.Int16: m.Kind = TypeKind.Int16; m.Bits = (ulong)(long)v.Int16; break;
            case S.Value.Which.Int32: m.Kind = TypeKind.Int32; m.Bits = (ulong)(long)v.Int32; break;
            case S.Value.Which.Int64: m.Kind = TypeKind.Int64; m.Bits = (ulong)v.Int64; break;
            case S.Value.Which.Uint8: m.Kind = TypeKind.UInt8; m.Bits = v.Uint8; break;
            case S.Value.Which.Uint16: m.Kind = TypeKind.UInt16; m.Bits = v.Uint16; break;
            case S.Value.Which.Uint32: m.Kind = TypeKind.UInt32; m.Bits = v.Uint32; break;
            case S.Value.Which.Uint64: m.Kind = TypeKind.UInt64; m.Bits = v.Uint64; break;
            case S.Value.Which.Float32: m.Kind = TypeKind.Float32; m.Bits = (uint)BitConverter.SingleToInt32Bits(v.Float32); break;
            case S.Value.Which.Float64: m.Kind = TypeKind.Float64; m.Bits = (ulong)BitConverter.DoubleToInt64Bits(v.Float64); break;
            case S.Value.Which.Text: m.Kind = TypeKind.Text; m.Text = v.HasText ? v.Text : null; break;
            case S.Value.Which.Data: m.Kind = TypeKind.Data; m.Data = v.HasData ? v.Data.ToArray() : null; break;
            case S.Value.Which.Enum: m.Kind = TypeKind.Enum; m.Bits = v.Enum; break;
            case S.Value.Which.Interface: m.Kind = TypeKind.Interface; break;
            case S.Value.Which.List: m.Kind = TypeKind.List; m.PointerMessage = PointerMessage(v.List); break;
            case S.Value.Which.Struct: m.Kind = TypeKind.Struct; m.PointerMessage = PointerMessage(v.Struct); break;
            case S.Value.Which.AnyPointer: m.Kind = TypeKind.AnyPointer; m.PointerMessage = PointerMessage(v.AnyPointer); break;
        }
        return m;
    }

    /// <summary>Copies a pointer's target into a fresh single-segment message: root pointer word + content.</summary>
    internal static byte[]? PointerMessage(AnyPointerReader p)
    {
        if (p.IsNull) return null;
        using var mb = new MessageBuilder(new BuilderOptions { FirstSegmentWords = 1 << 16, Strategy = AllocationStrategy.FixedSize });
        mb.Root.Set(p);
        var segs = mb.GetSegments();
        if (segs.Count != 1) throw new CapnpFormatException("Default value does not fit in one segment.");
        return segs[0].ToArray();
    }
}
