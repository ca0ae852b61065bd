namespace Capnp.Native.CodeGen;

internal sealed partial class CodeGenerator
{
    /// <summary>The C# reader type of a pointer-typed value (for lists: the typed list reader).</summary>
    private string ReaderType(TypeModel t, ulong context) => t.Kind switch
    {
        TypeKind.Text => "string",
        TypeKind.Data => "global::System.ReadOnlyMemory<byte>",
        TypeKind.Struct => TypeName(t.TypeId, t.Brand, context) + ".Reader",
        TypeKind.List => ListReaderType(t.ElementType!, context),
        TypeKind.AnyPointer => $"{Ser}.AnyPointerReader",
        TypeKind.Interface => TypeName(t.TypeId, t.Brand, context) + ".Client",
        _ => ScalarType(t),
    };

    private string ListReaderType(TypeModel e, ulong context) => e.Kind switch
    {
        TypeKind.Void => $"{Ser}.ListReader",
        TypeKind.Bool => $"{Ser}.ListOfBitsReader",
        TypeKind.Enum => $"{Ser}.ListOfEnumsReader<{TypeName(e.TypeId, e.Brand, context)}>",
        TypeKind.Text => $"{Ser}.ListOfTextReader",
        TypeKind.Data => $"{Ser}.ListOfDataReader",
        TypeKind.Struct => $"{Ser}.ListOfStructsReader<{TypeName(e.TypeId, e.Brand, context)}.Reader>",
        TypeKind.List => e.ElementType!.Kind == TypeKind.Void ? $"{Ser}.ListOfListsReader" : $"{Ser}.ListOfListsReader<{ListReaderType(e.ElementType!, context)}>",
        TypeKind.Interface => $"{Ser}.ListOfCapabilitiesReader",
        TypeKind.AnyPointer => $"{Ser}.ListOfPointersReader",
        _ => $"{Ser}.ListOfPrimitivesReader<{ScalarType(e)}>",
    };

    private string ListReaderFromList(TypeModel t, string listExpr, ulong context)
    {
        var e = t.ElementType!;
        return e.Kind switch
        {
            TypeKind.Void => listExpr,
            TypeKind.Bool => $"{listExpr}.AsBits()",
            TypeKind.Enum => $"{listExpr}.AsEnums<{TypeName(e.TypeId, e.Brand, context)}>()",
            TypeKind.Text => $"{listExpr}.AsTextList()",
            TypeKind.Data => $"{listExpr}.AsDataList()",
            TypeKind.Struct => $"{listExpr}.AsStructs<{TypeName(e.TypeId, e.Brand, context)}.Reader>()",
            TypeKind.List => e.ElementType!.Kind == TypeKind.Void ? $"{listExpr}.AsLists()" : $"{listExpr}.AsLists<{ListReaderType(e.ElementType!, context)}>()",
            TypeKind.Interface => $"{listExpr}.AsCapabilities()",
            TypeKind.AnyPointer => $"{listExpr}.AsPointers()",
            _ => $"{listExpr}.AsPrimitives<{ScalarType(e)}>()",
        };
    }

    private string ListReaderFromAnyPointer(TypeModel t, string anyExpr, ulong context)
        => ListReaderFromList(t, anyExpr + ".AsList()", context);

    private static string ElementSizeOf(TypeModel e) => e.Kind switch
    {
        TypeKind.Void => "Void",
        TypeKind.Bool => "Bit",
        TypeKind.Int8 or TypeKind.UInt8 => "Byte",
        TypeKind.Int16 or TypeKind.UInt16 or TypeKind.Enum => "TwoBytes",
        TypeKind.Int32 or TypeKind.UInt32 or TypeKind.Float32 => "FourBytes",
        TypeKind.Int64 or TypeKind.UInt64 or TypeKind.Float64 => "EightBytes",
        _ => "Pointer",
    };

    private string ListBuilderType(TypeModel e, ulong context) => e.Kind switch
    {
        TypeKind.Void => $"{Ser}.ListBuilder",
        TypeKind.Bool => $"{Ser}.ListOfBitsBuilder",
        TypeKind.Enum => $"{Ser}.ListOfEnumsBuilder<{TypeName(e.TypeId, e.Brand, context)}>",
        TypeKind.Text => $"{Ser}.ListOfTextBuilder",
        TypeKind.Data => $"{Ser}.ListOfDataBuilder",
        TypeKind.Struct => $"{Ser}.ListOfStructsBuilder<{TypeName(e.TypeId, e.Brand, context)}.Builder>",
        TypeKind.List => e.ElementType!.Kind == TypeKind.Void ? $"{Ser}.ListOfListsBuilder" : $"{Ser}.ListOfListsBuilder<{ListBuilderType(e.ElementType!, context)}>",
        TypeKind.Interface => $"{Ser}.ListOfCapabilitiesBuilder",
        TypeKind.AnyPointer => $"{Ser}.ListOfPointersBuilder",
        _ => $"{Ser}.ListOfPrimitivesBuilder<{ScalarType(e)}>",
    };

    private string ListBuilderFromList(TypeModel e, string listExpr, ulong context) => e.Kind switch
    {
        TypeKind.Void => listExpr,
        TypeKind.Bool => $"{listExpr}.AsBits()",
        TypeKind.Enum => $"{listExpr}.AsEnums<{TypeName(e.TypeId, e.Brand, context)}>()",
        TypeKind.Text => $"{listExpr}.AsTextList()",
        TypeKind.Data => $"{listExpr}.AsDataList()",
        TypeKind.Struct => $"{listExpr}.AsStructs<{TypeName(e.TypeId, e.Brand, context)}.Builder>()",
        TypeKind.List => e.ElementType!.Kind == TypeKind.Void ? $"{listExpr}.AsLists()" : $"{listExpr}.AsLists<{ListBuilderType(e.ElementType!, context)}>()",
        TypeKind.Interface => $"{listExpr}.AsCapabilities()",
        TypeKind.AnyPointer => $"{listExpr}.AsPointers()",
        _ => $"{listExpr}.AsPrimitives<{ScalarType(e)}>()",
    };

    /// <summary>The builder's members of one list field: its init method, getter, setter and has-check.</summary>
    /// <param name="w">Where the code goes.</param>
    /// <param name="n">The struct the field is in.</param>
    /// <param name="fi">The field.</param>
    /// <param name="setWhich">The statement that selects the field's union member (empty when it is in none).</param>
    /// <param name="active">The raw builder for reads (the default struct while another union member is set).</param>
    /// <param name="required">The raw builder for getters handing out builders (throws while another union member is set).</param>
    private void EmitListBuilderMembers(CodeWriter w, NodeModel n, FieldInfo fi, string setWhich, string active, string required)
    {
        var e = fi.Field.Type.ElementType!;
        int off = (int)fi.Field.Offset;
        var lt = ListBuilderType(e, n.Id);
        if (e.Kind == TypeKind.Struct)
        {
            var st = TypeName(e.TypeId, e.Brand, n.Id);
            w.Line($"public {lt} {fi.Init}(int count) {{ {setWhich}return _raw.InitStructList<{st}.Builder>({off}, count); }}");
        }
        else
        {
            w.Line($"public {lt} {fi.Init}(int count) {{ {setWhich}return {ListBuilderFromList(e, $"_raw.InitList({off}, {Ser}.ElementSize.{ElementSizeOf(e)}, count)", n.Id)}; }}");
        }
        // Like C++ getX(): an unset list with a default gets a copy of the default; a struct list written with a
        // smaller (older) element type is upgraded so every field of this schema can be set.
        // ref readonly through a slot (HoldBuilder), so that `s.Ints[0] = 1` compiles. `s.Points[0].X = 1` compiles too:
        // the struct list's indexer returns ref readonly to a slot in the list value (ListOfStructsBuilder<T>; C# indexes a
        // defensive copy of the held list, since that indexer is not a readonly member).
        var list = e.Kind == TypeKind.Struct
            ? $"{required}.GetStructList<{TypeName(e.TypeId, e.Brand, n.Id)}.Builder>({off}{DefaultArg(fi)})"
            : ListBuilderFromList(e, $"{required}.GetList({off}{DefaultArg(fi)})", n.Id);
        w.Line($"public ref readonly {lt} {fi.Prop} => {HoldBuilder(lt, list)};");
        w.Line($"public void {fi.Set}({ListReaderType(e, n.Id)} value) {{ {setWhich}_raw.CopyFrom({off}, {(e.Kind == TypeKind.Void ? "value" : "value.Raw")}); }}");
        w.Line($"public bool {fi.Has} => {active}.HasPointer({off});");
    }
}
