namespace Capnp.Native.CodeGen;

// A plain in-memory copy of the parts of the CodeGeneratorRequest the emitter needs.
// The loader (SchemaLoader) fills it from the bootstrap readers, so the emitter never
// touches wire-format readers and the bootstrap can be swapped freely.

internal enum NodeKind { File, Struct, Enum, Interface, Const, Annotation }

internal enum TypeKind
{
    Void, Bool, Int8, Int16, Int32, Int64, UInt8, UInt16, UInt32, UInt64, Float32, Float64,
    Text, Data, List, Enum, Struct, Interface, AnyPointer,
}

internal enum AnyPointerKind { AnyKind, Struct, List, Capability, Parameter, ImplicitMethodParameter }

internal sealed class AnnotationModel
{
    public ulong Id;
    public ValueModel Value = new();
}

internal sealed class BrandScopeModel
{
    public ulong ScopeId;
    public bool Inherit;
    /// <summary>One entry per parameter; null = unbound.</summary>
    public List<TypeModel?> Bindings = new();
}

internal sealed class BrandModel
{
    public List<BrandScopeModel> Scopes = new();
}

internal sealed class TypeModel
{
    public TypeKind Kind;
    public TypeModel? ElementType;
    public ulong TypeId;
    public BrandModel Brand = new();
    public AnyPointerKind AnyKind;
    public ulong ParameterScopeId;
    public int ParameterIndex;

    public bool IsPointer => Kind is TypeKind.Text or TypeKind.Data or TypeKind.List or TypeKind.Struct
        or TypeKind.Interface or TypeKind.AnyPointer;
}

internal sealed class ValueModel
{
    public TypeKind Kind = TypeKind.Void;
    /// <summary>Raw little-endian bits of a scalar value (bool, ints, floats, enum).</summary>
    public ulong Bits;
    public string? Text;
    public byte[]? Data;
    /// <summary>For list/struct/anyPointer values: an encoded single-segment message
    /// (root pointer word + content), or null when the pointer is null.</summary>
    public byte[]? PointerMessage;
}

internal sealed class FieldModel
{
    public string Name = "";
    public ushort CodeOrder;
    public List<AnnotationModel> Annotations = new();
    public ushort DiscriminantValue = 0xffff;
    public bool IsGroup;
    // slot
    public uint Offset;
    public TypeModel Type = new();
    public ValueModel Default = new();
    public bool HadExplicitDefault;
    // group
    public ulong GroupTypeId;

    public bool InUnion => DiscriminantValue != 0xffff;
}

internal sealed class EnumerantModel
{
    public string Name = "";
    public ushort CodeOrder;
    public List<AnnotationModel> Annotations = new();
}

internal sealed class MethodModel
{
    public string Name = "";
    public ushort CodeOrder;
    public ulong ParamStructType;
    public BrandModel ParamBrand = new();
    public ulong ResultStructType;
    public BrandModel ResultBrand = new();
    public List<AnnotationModel> Annotations = new();
    public int ImplicitParameterCount;
}

internal sealed class NodeModel
{
    public ulong Id;
    public string DisplayName = "";
    public int DisplayNamePrefixLength;
    public ulong ScopeId;
    public List<string> Parameters = new();
    public bool IsGeneric;
    public List<(string Name, ulong Id)> NestedNodes = new();
    public List<AnnotationModel> Annotations = new();
    public NodeKind Kind;

    // struct
    public ushort DataWordCount;
    public ushort PointerCount;
    public bool IsGroup;
    public ushort DiscriminantCount;
    public uint DiscriminantOffset;
    public List<FieldModel> Fields = new();
    // enum
    public List<EnumerantModel> Enumerants = new();
    // interface
    public List<MethodModel> Methods = new();
    public List<(ulong Id, BrandModel Brand)> Superclasses = new();
    // const
    public TypeModel ConstType = new();
    public ValueModel ConstValue = new();

    public string ShortName => DisplayName[DisplayNamePrefixLength..];
}

internal sealed class RequestedFileModel
{
    public ulong Id;
    public string Filename = "";
    public List<(ulong Id, string Name)> Imports = new();
}

internal sealed class RequestModel
{
    public Dictionary<ulong, NodeModel> Nodes = new();
    public List<RequestedFileModel> RequestedFiles = new();
    public Dictionary<ulong, string> DocComments = new();
    /// <summary>Per node: doc comments of its members (fields, enumerants, methods) by index.</summary>
    public Dictionary<ulong, List<string>> MemberDocComments = new();
}
