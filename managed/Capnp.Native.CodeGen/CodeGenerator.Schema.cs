namespace Capnp.Native.CodeGen;

// Per-struct schema metadata (a StructSchema built from the CodeGeneratorRequest) and the reader/builder members that
// interpret it in the runtime: ToString() in Cap'n Proto's text format, canonical value equality of readers, and the
// IStructSchemaProvider that JsonCodec and TextFormat use. Kept apart from the struct/list emitters on purpose: those
// only call EmitSchemaMembers.
internal sealed partial class CodeGenerator
{
    private const string EditorHidden = "[global::System.ComponentModel.EditorBrowsable(global::System.ComponentModel.EditorBrowsableState.Never)]";

    /// <summary>Emits <c>__Schema</c> and the partial Reader/Builder declarations that use it, inside the struct's static class.</summary>
    private void EmitSchemaMembers(CodeWriter w, NodeModel n)
    {
        w.Line("/// <summary>The schema of this struct, for the text format, JSON and canonical equality.</summary>");
        w.Line(EditorHidden);
        w.Line($"public static readonly {Ser}.StructSchema __Schema = new {Ser}.StructSchema(0x{n.Id:x16}UL, {Names.StringLiteral(n.ShortName)}, {n.DataWordCount}, {n.PointerCount}, {n.DiscriminantCount}, {n.DiscriminantOffset}U, new {Ser}.FieldSchema[]");
        w.Open();
        foreach (var f in n.Fields) w.Line(FieldSchemaExpression(f, n.Id) + ",");
        // $Json.discriminator on the struct (its unnamed union); only then, so other structs are unchanged.
        var disc = JsonDiscriminatorExpression(n.Annotations);
        w.Close(disc == null ? ");" : $") {{ JsonDiscriminator = {disc} }};");
        w.Line();

        w.Line($"public readonly partial struct Reader : {Ser}.IStructSchemaProvider, {Ser}.IStructSchemaSource{(n.IsGroup ? "" : ", global::System.IEquatable<Reader>")}");
        w.Open();
        w.Line("/// <summary>The struct's schema.</summary>");
        w.Line($"static {Ser}.StructSchema {Ser}.IStructSchemaProvider.StructSchema => __Schema;");
        w.Line("/// <summary>The struct's schema.</summary>");
        w.Line($"{Ser}.StructSchema {Ser}.IStructSchemaSource.StructSchema => __Schema;");
        w.Line("/// <summary>The value in Cap'n Proto's text format, as C++ prints it (<c>capnp decode --short</c>).</summary>");
        w.Line($"public override string ToString() => {Ser}.TextFormat.Format(_raw, __Schema);");
        if (!n.IsGroup)
        {
            // Groups are views of part of a struct, so only whole structs get value equality.
            w.Line("/// <summary>True when both values have the same canonical encoding (see <see cref=\"global::Capnp.Native.Serialization.CanonicalEquality\"/>).</summary>");
            w.Line($"public bool Equals(Reader other) => {Ser}.CanonicalEquality.AreEqual(_raw, other._raw);");
            w.Line("/// <inheritdoc/>");
            w.Line("public override bool Equals(object? obj) => obj is Reader other && Equals(other);");
            w.Line("/// <summary>A hash of the canonical encoding: equal values have equal hashes.</summary>");
            w.Line($"public override int GetHashCode() => {Ser}.CanonicalEquality.GetHashCode(_raw);");
            w.Line("/// <summary>Canonical value equality.</summary>");
            w.Line("public static bool operator ==(Reader left, Reader right) => left.Equals(right);");
            w.Line("/// <summary>Canonical value inequality.</summary>");
            w.Line("public static bool operator !=(Reader left, Reader right) => !left.Equals(right);");
        }
        w.Close();
        w.Line();
        w.Line($"public readonly partial struct Builder : {Ser}.IStructSchemaProvider");
        w.Open();
        w.Line("/// <summary>The struct's schema.</summary>");
        w.Line($"static {Ser}.StructSchema {Ser}.IStructSchemaProvider.StructSchema => __Schema;");
        w.Line("/// <summary>The current value in Cap'n Proto's text format (as the reader prints it).</summary>");
        w.Line($"public override string ToString() => {Ser}.TextFormat.Format(_raw.AsReader(), __Schema);");
        w.Close();
        w.Line();
    }

    // Annotations of /capnp/compat/json.capnp that JsonCodec applies.
    private const ulong JsonNameAnnotation = 0xfa5b1fd61c2e7c3d;
    private const ulong JsonBase64Annotation = 0xd7d879450a253e4b;
    private const ulong JsonHexAnnotation = 0xf061e22f0ae5c7b5;
    private const ulong JsonFlattenAnnotation = 0x82d3e852af0336bf;
    private const ulong JsonDiscriminatorAnnotation = 0xcfa794e8d19a0162;

    // Text fields of a struct-typed annotation value (FlattenOptions, DiscriminatorOptions); null when unset.
    private static string? AnnotationText(AnnotationModel a, int pointer)
    {
        if (a.Value.PointerMessage is not { } message) return null;
        var root = Capnp.Native.Serialization.MessageReader.FromSingleSegment(message).Root;
        return root.HasText(pointer) ? root.ReadText(pointer) : null;
    }

    // "new JsonDiscriminator(...)" for a $Json.discriminator, or null.
    private static string? JsonDiscriminatorExpression(List<AnnotationModel> anns)
    {
        var d = anns.LastOrDefault(a => a.Id == JsonDiscriminatorAnnotation);
        if (d == null) return null;
        var name = AnnotationText(d, 0);
        var valueName = AnnotationText(d, 1);
        return $"new {Ser}.JsonDiscriminator({(name == null ? "null" : Names.StringLiteral(name))}, {(valueName == null ? "null" : Names.StringLiteral(valueName))})";
    }

    private static string? JsonName(List<AnnotationModel> anns)
        => anns.LastOrDefault(a => a.Id == JsonNameAnnotation)?.Value.Text;

    private string FieldSchemaExpression(FieldModel f, ulong context) => FieldSchemaCore(f, context) + JsonFieldSuffix(f);

    // ".WithJson(...)" for a field with JSON annotations; nothing otherwise, so unannotated schemas are unchanged.
    private static string JsonFieldSuffix(FieldModel f)
    {
        var args = new List<string>();
        if (JsonName(f.Annotations) is { } jsonName) args.Add($"name: {Names.StringLiteral(jsonName)}");
        // C++ applies the annotations in order; the last Data encoding wins.
        var data = f.Annotations.LastOrDefault(a => a.Id is JsonBase64Annotation or JsonHexAnnotation);
        if (data != null) args.Add($"data: {Ser}.JsonDataEncoding.{(data.Id == JsonBase64Annotation ? "Base64" : "Hex")}");
        if (f.Annotations.LastOrDefault(a => a.Id == JsonFlattenAnnotation) is { } flatten)
            args.Add($"flattenPrefix: {Names.StringLiteral(AnnotationText(flatten, 0) ?? "")}");
        if (JsonDiscriminatorExpression(f.Annotations) is { } disc) args.Add($"discriminator: {disc}");
        return args.Count == 0 ? "" : $".WithJson({string.Join(", ", args)})";
    }

    private string FieldSchemaCore(FieldModel f, ulong context)
    {
        var name = Names.StringLiteral(f.Name);
        if (f.IsGroup)
            return $"{Ser}.FieldSchema.Group({name}, {f.DiscriminantValue}, static () => {TypeName(f.GroupTypeId, null, context)}.__Schema!)";
        var args = $"{name}, {f.DiscriminantValue}, {f.Offset}U, {TypeSchemaExpression(f.Type, context)}";
        if (f.Default.Bits != 0 && !f.Type.IsPointer) args += $", 0x{f.Default.Bits:x}UL";
        byte[]? pointerDefault = f.Type.Kind switch
        {
            TypeKind.Text => f.Default.Text is { Length: > 0 } t ? System.Text.Encoding.UTF8.GetBytes(t) : null,
            TypeKind.Data => f.Default.Data is { Length: > 0 } d ? d : null,
            TypeKind.Struct or TypeKind.List or TypeKind.AnyPointer => f.Default.PointerMessage,
            _ => null,
        };
        if (pointerDefault != null) args += $", defaultPointer: {Names.ByteArray(pointerDefault)}";
        return $"{Ser}.FieldSchema.Slot({args})";
    }

    private string TypeSchemaExpression(TypeModel t, ulong context)
    {
        const string T = Ser + ".TypeSchema";
        switch (t.Kind)
        {
            case TypeKind.List:
                return $"{T}.ListOf({TypeSchemaExpression(t.ElementType!, context)})";
            case TypeKind.Enum:
            {
                var e = Node(t.TypeId);
                var names = string.Join(", ", e.Enumerants.Select(x => Names.StringLiteral(x.Name)));
                // JSON names only when some enumerant has $Json.name, so unannotated enums are unchanged.
                var json = e.Enumerants.Any(x => JsonName(x.Annotations) != null)
                    ? $", new string[] {{ {string.Join(", ", e.Enumerants.Select(x => Names.StringLiteral(JsonName(x.Annotations) ?? x.Name)))} }}"
                    : "";
                return $"{T}.EnumOf(new {Ser}.EnumSchema(0x{e.Id:x16}UL, {Names.StringLiteral(e.ShortName)}, new string[] {{ {names} }}{json}))";
            }
            case TypeKind.Struct:
            {
                // The brand travels with the reference: C# type arguments only carry struct bindings, so a binding
                // such as Box(Text) is spelled out here for the runtime to resolve parameters with.
                var scopes = t.Brand.Scopes.Where(sc => !sc.Inherit && sc.Bindings.Count > 0)
                    .Select(sc => $"new {Ser}.BrandScope(0x{sc.ScopeId:x16}UL, new {T}?[] {{ {string.Join(", ", sc.Bindings.Select(b => b == null ? "null" : TypeSchemaExpression(b, context)))} }})")
                    .ToList();
                var brand = scopes.Count == 0 ? "" : ", " + string.Join(", ", scopes);
                return $"{T}.StructOf(static () => {TypeName(t.TypeId, t.Brand, context)}.__Schema!{brand})";
            }
            case TypeKind.AnyPointer:
            {
                if (t.AnyKind != AnyPointerKind.Parameter) return $"{T}.AnyPointer";
                // A parameter open here is a C# type argument (a bound struct is that struct); otherwise the brand of
                // the reference that led to this struct binds it at run time.
                var open = OpenParameter(t, context) ?? AnyPointerValue;
                return $"{T}.Parameter<{open}>(0x{t.ParameterScopeId:x16}UL, {t.ParameterIndex})";
            }
            default:
                return $"{T}.{t.Kind}";
        }
    }
}
