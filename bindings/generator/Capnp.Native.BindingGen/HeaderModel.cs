namespace Capnp.Native.BindingGen;

/// <summary>The base of a C type, before pointers are applied.</summary>
public abstract record BaseType;

public sealed record VoidType : BaseType
{
    public static readonly VoidType Instance = new();
}

/// <summary>A fixed-width scalar; <see cref="CSharpName"/> is its blittable C# equivalent.</summary>
public sealed record PrimitiveType(string CName, string CSharpName, bool FixedBufferElement) : BaseType;

/// <summary>A typedef name declared in the header (opaque handle, enum, struct or function pointer).</summary>
public sealed record NamedType(TypeDeclaration Declaration) : BaseType;

/// <summary>A C type: a base plus pointer depth. Qualifiers such as <c>const</c> do not change the C# type.</summary>
public sealed record CType(BaseType Base, int PointerDepth)
{
    public bool IsVoid => Base is VoidType && PointerDepth == 0;
}

public sealed record Parameter(string Name, CType Type);

/// <summary>A declaration of the header, in header order.</summary>
public abstract record Declaration(string Name, int Line)
{
    public string? Doc { get; set; }
}

/// <summary><c>#define NAME integer</c>.</summary>
public sealed record ConstantDeclaration(string Name, int Line, string CSharpType, string Literal) : Declaration(Name, Line);

/// <summary>An exported function.</summary>
public sealed record FunctionDeclaration(string Name, int Line, CType ReturnType, IReadOnlyList<Parameter> Parameters)
    : Declaration(Name, Line);

public abstract record TypeDeclaration(string Name, int Line) : Declaration(Name, Line);

/// <summary><c>typedef struct x x;</c> with no body: only usable through pointers.</summary>
public sealed record OpaqueStructDeclaration(string Name, int Line) : TypeDeclaration(Name, Line);

public sealed record EnumMember(string Name, string Literal)
{
    public string? Doc { get; set; }
}

public sealed record EnumDeclaration(string Name, int Line, IReadOnlyList<EnumMember> Members) : TypeDeclaration(Name, Line);

public sealed record StructField(string Name, CType Type, int? ArrayLength)
{
    public string? Doc { get; set; }
}

public sealed record StructDeclaration(string Name, int Line) : TypeDeclaration(Name, Line)
{
    public List<StructField> Fields { get; } = new();
    public bool IsComplete { get; set; }
}

/// <summary><c>typedef ret (*name)(params);</c>, expanded in C# to <c>delegate* unmanaged&lt;...&gt;</c>.</summary>
public sealed record FunctionPointerDeclaration(string Name, int Line, CType ReturnType, IReadOnlyList<Parameter> Parameters)
    : TypeDeclaration(Name, Line);

/// <summary><c>typedef uint64_t name;</c>: an alias, replaced by its target everywhere.</summary>
public sealed record AliasDeclaration(string Name, int Line, CType Target) : TypeDeclaration(Name, Line);

public sealed class HeaderModel
{
    public HeaderModel(string sourceName, IReadOnlyList<Declaration> declarations)
    {
        SourceName = sourceName;
        Declarations = declarations;
    }

    /// <summary>The header path as written into the generated file's banner.</summary>
    public string SourceName { get; }

    public IReadOnlyList<Declaration> Declarations { get; }
}
