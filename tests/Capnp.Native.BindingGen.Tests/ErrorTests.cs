using Capnp.Native.BindingGen;

namespace Capnp.Native.BindingGen.Tests;

/// <summary>Unsupported input is rejected with file:line:column and what was expected.</summary>
public class ErrorTests
{
    private const int L = TestHeader.FirstBodyLine;

    private static void AssertError(string body, int bodyLine, int column, string fragment)
    {
        var e = TestHeader.Fail(body);
        Assert.Equal("t.h", e.File);
        Assert.Equal(L + bodyLine, e.Line);
        Assert.Equal(column, e.Column);
        Assert.Contains(fragment, e.Detail);
        Assert.StartsWith($"t.h:{L + bodyLine}:{column}: error: ", e.Message);
    }

    [Fact]
    public void Bool_parameter_is_rejected_as_not_blittable() =>
        AssertError("CAPNP_NATIVE_API int32_t f(bool flag);", 0, 28, "not blittable");

    [Fact]
    public void Underscore_bool_return_is_rejected() =>
        AssertError("CAPNP_NATIVE_API _Bool f(void);", 0, 18, "not blittable");

    [Fact]
    public void Bool_field_is_rejected() =>
        AssertError("typedef struct s {\n  bool b;\n} s;", 1, 3, "not blittable");

    [Fact]
    public void Struct_by_value_parameter_is_rejected() =>
        AssertError("typedef struct pt { int32_t x; } pt;\nCAPNP_NATIVE_API int32_t f(pt p);", 1, 28, "passed by value is not supported");

    [Fact]
    public void Struct_by_value_return_is_rejected() =>
        AssertError("typedef struct pt { int32_t x; } pt;\nCAPNP_NATIVE_API pt f(void);", 1, 18, "passed by value is not supported");

    [Fact]
    public void Opaque_by_value_is_rejected() =>
        AssertError("typedef struct h h;\nCAPNP_NATIVE_API void f(h x);", 1, 25, "only be used through a pointer");

    [Fact]
    public void Unknown_macro_before_a_function_is_rejected() =>
        AssertError("CAPNP_EXPORT int32_t f(void);", 0, 1, "unknown identifier 'CAPNP_EXPORT'");

    [Fact]
    public void Function_without_export_macro_is_rejected() =>
        AssertError("int32_t f(void);", 0, 1, "must start with CAPNP_NATIVE_API");

    [Fact]
    public void Unknown_type_is_rejected() =>
        AssertError("CAPNP_NATIVE_API int32_t f(my_type* p);", 0, 28, "unknown type 'my_type'");

    [Fact]
    public void Missing_semicolon_after_function_is_located_after_the_declaration() =>
        AssertError("CAPNP_NATIVE_API void f(void)\nCAPNP_NATIVE_API void g(void);", 0, 30, "expected ';' after the declaration of function f");

    [Fact]
    public void Missing_semicolon_after_typedef_is_located() =>
        AssertError("typedef struct h h\ntypedef struct k k;", 0, 19, "expected ';'");

    [Fact]
    public void Missing_semicolon_at_end_of_file_is_located() =>
        AssertError("CAPNP_NATIVE_API void f(void)", 0, 30, "expected ';'");

    [Theory]
    [InlineData("int")]
    [InlineData("unsigned")]
    [InlineData("long")]
    [InlineData("short")]
    public void Non_fixed_width_integers_are_rejected(string type) =>
        AssertError($"CAPNP_NATIVE_API void f({type} x);", 0, 25, "not a fixed-width type");

    [Fact]
    public void Empty_parameter_list_is_rejected() =>
        AssertError("CAPNP_NATIVE_API void f();", 0, 25, "write '(void)'");

    [Fact]
    public void Varargs_are_rejected() =>
        AssertError("CAPNP_NATIVE_API void f(int32_t n, ...);", 0, 36, "variadic");

    [Fact]
    public void Unnamed_parameter_is_rejected() =>
        AssertError("CAPNP_NATIVE_API void f(int32_t);", 0, 32, "expected a parameter name");

    [Fact]
    public void Inline_function_pointer_parameter_is_rejected() =>
        AssertError("CAPNP_NATIVE_API void f(void (*cb)(void));", 0, 30, "declare a function pointer typedef");

    [Fact]
    public void Enum_member_without_value_is_rejected() =>
        AssertError("typedef enum e {\n  E_A\n} e;", 2, 1, "needs an explicit value");

    [Fact]
    public void Enum_value_outside_int32_is_rejected() =>
        AssertError("typedef enum e { E_A = 0x80000000 } e;", 0, 24, "does not fit in int32");

    [Fact]
    public void Function_like_macro_is_rejected() =>
        AssertError("#define MAX(a, b) ((a) > (b) ? (a) : (b))", 0, 12, "function-like macro");

    [Fact]
    public void String_define_is_rejected() =>
        AssertError("#define NAME \"capnp\"", 0, 14, "expected an integer constant");

    [Fact]
    public void Expression_define_is_rejected() =>
        AssertError("#define FLAG (1 << 4)", 0, 14, "expected an integer constant");

    [Fact]
    public void Octal_define_is_rejected() =>
        AssertError("#define MODE 0755", 0, 14, "octal");

    [Fact]
    public void Pragma_is_rejected() =>
        AssertError("#pragma pack(1)", 0, 1, "unsupported preprocessor directive '#pragma'");

    [Fact]
    public void Undef_is_rejected() =>
        AssertError("#undef CAPNP_NATIVE_API", 0, 1, "unsupported preprocessor directive '#undef'");

    [Fact]
    public void Quoted_include_is_rejected() =>
        AssertError("#include \"other.h\"", 0, 10, "only <stddef.h> and <stdint.h>");

    [Fact]
    public void Other_system_include_is_rejected() =>
        AssertError("#include <stdbool.h>", 0, 10, "#include <stdbool.h> is not supported");

    [Fact]
    public void Declarations_inside_conditional_blocks_are_rejected() =>
        AssertError("#ifdef FEATURE\nCAPNP_NATIVE_API void f(void);\n#endif", 1, 1, "declarations inside #if blocks are not supported");

    [Fact]
    public void Integer_constants_inside_conditional_blocks_are_rejected() =>
        AssertError("#ifdef FEATURE\n#define N 1\n#else\n#define N 2\n#endif", 1, 9, "cannot be defined inside an #if block");

    [Fact]
    public void Duplicate_function_is_rejected() =>
        AssertError("CAPNP_NATIVE_API void f(void);\nCAPNP_NATIVE_API void f(void);", 1, 23, "already declared at line 9");

    [Fact]
    public void Unions_are_rejected() =>
        AssertError("typedef union u { int32_t a; } u;", 0, 9, "unions are not supported");

    [Fact]
    public void Bit_fields_are_rejected() =>
        AssertError("typedef struct s { uint32_t a : 3; } s;", 0, 31, "bit-fields");

    [Fact]
    public void Unterminated_comment_is_rejected() =>
        AssertError("/* never closed\nCAPNP_NATIVE_API void f(void);", 0, 1, "unterminated comment");

    [Fact]
    public void Unexpected_character_is_rejected() =>
        AssertError("CAPNP_NATIVE_API void f(int32_t x) @;", 0, 36, "unexpected character '@'");

    [Fact]
    public void Void_parameter_by_value_is_rejected() =>
        AssertError("CAPNP_NATIVE_API void f(int32_t a, void b);", 0, 36, "cannot be 'void'");

    [Fact]
    public void Export_macro_used_before_its_define_is_rejected()
    {
        var e = TestHeader.FailRaw("#ifndef T_H\n#define T_H\n#ifdef __cplusplus\nextern \"C\" {\n#endif\nCAPNP_NATIVE_API void f(void);\n#ifdef __cplusplus\n}\n#endif\n#endif\n");
        Assert.Equal(6, e.Line);
        Assert.Contains("used before it is #defined", e.Detail);
    }

    [Fact]
    public void Function_outside_extern_c_block_is_rejected()
    {
        var e = TestHeader.FailRaw("#ifndef T_H\n#define T_H\n#define CAPNP_NATIVE_API\nCAPNP_NATIVE_API void f(void);\n#endif\n");
        Assert.Equal(4, e.Line);
        Assert.Contains("inside the extern \"C\" block", e.Detail);
    }

    [Fact]
    public void Missing_include_guard_is_rejected()
    {
        var e = TestHeader.FailRaw("#include <stdint.h>\n");
        Assert.Equal(1, e.Line);
        Assert.Contains("include guard", e.Detail);
    }

    [Fact]
    public void Pragma_once_instead_of_guard_is_rejected()
    {
        var e = TestHeader.FailRaw("/** banner */\n#pragma once\n");
        Assert.Equal(2, e.Line);
        Assert.Contains("expected the include guard", e.Detail);
    }

    [Fact]
    public void Unclosed_include_guard_is_rejected()
    {
        var e = TestHeader.FailRaw("#ifndef T_H\n#define T_H\n#include <stdint.h>\n");
        Assert.Equal(4, e.Line);
        Assert.Contains("expected '#endif' closing the include guard T_H", e.Detail);
    }

    [Fact]
    public void Unclosed_extern_c_block_is_rejected()
    {
        var e = TestHeader.FailRaw("#ifndef T_H\n#define T_H\n#ifdef __cplusplus\nextern \"C\" {\n#endif\n#endif\n");
        Assert.Equal(6, e.Line);
        Assert.Contains("extern \"C\" block is still open", e.Detail);
    }

    [Fact]
    public void Declarations_after_the_guard_are_rejected()
    {
        var e = TestHeader.FailRaw(TestHeader.Wrap("") + "typedef struct late late;\n");
        Assert.Equal(14, e.Line);
        Assert.Contains("nothing may follow the include guard", e.Detail);
    }

    [Fact]
    public void Bare_extern_c_is_rejected()
    {
        var e = TestHeader.FailRaw("#ifndef T_H\n#define T_H\nextern \"C\" {\n}\n#endif\n");
        Assert.Equal(3, e.Line);
        Assert.Contains("#ifdef __cplusplus", e.Detail);
    }

    [Theory]
    [InlineData("1uu")]
    [InlineData("1lul")]
    [InlineData("1f")]
    public void Invalid_integer_suffix_is_rejected(string literal) =>
        AssertError($"#define N {literal}", 0, 11, literal == "1f" ? "expected an integer literal" : "invalid integer suffix");

    [Fact]
    public void Float_define_is_rejected() =>
        AssertError("#define N 1.5", 0, 11, "expected an integer literal");

    [Fact]
    public void Untypedefd_struct_definition_is_rejected() =>
        AssertError("struct s { int32_t a; };", 0, 1, "only typedef'd structs are supported");

    [Fact]
    public void Pointer_typedef_of_struct_is_rejected() =>
        AssertError("typedef struct h* h_ptr;", 0, 17, "pointer typedefs are not supported");

    [Fact]
    public void Empty_struct_is_rejected() =>
        AssertError("typedef struct s { } s;", 0, 20, "has no fields");

    [Fact]
    public void Duplicate_field_is_rejected() =>
        AssertError("typedef struct s { int32_t a; int64_t a; } s;", 0, 39, "duplicate field 'a'");

    [Fact]
    public void Comma_separated_fields_are_rejected() =>
        AssertError("typedef struct s { int32_t a, b; } s;", 0, 29, "one field per declaration");

    [Fact]
    public void Array_parameter_is_rejected() =>
        AssertError("CAPNP_NATIVE_API void f(const uint8_t key[32]);", 0, 42, "use a pointer");

    [Fact]
    public void Array_of_pointers_field_is_rejected() =>
        AssertError("typedef struct s { void* p[4]; } s;", 0, 20, "arrays are only supported");

    [Fact]
    public void Trailing_doc_without_a_declaration_is_rejected() =>
        AssertError("/**< dangling */", 0, 1, "must follow the declaration");

    [Fact]
    public void Unknown_struct_tag_is_rejected() =>
        AssertError("CAPNP_NATIVE_API void f(struct nope* p);", 0, 32, "unknown struct tag 'nope'");

    [Fact]
    public void Inline_attribute_is_rejected() =>
        AssertError("CAPNP_NATIVE_API void f(void) __attribute__((cold));", 0, 31, "attribute macro");
}
